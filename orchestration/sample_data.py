"""Command line for the sample shop: `lifecycle-sample-data --customers 5000 --days 730 ...`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from orchestration.sample import SampleParams, SampleSummary, generate_sample_shop
from orchestration.sample.params import SampleParamsError
from orchestration.settings import Settings

__all__ = ["SampleParams", "SampleSummary", "generate_sample_shop", "main"]


def _parser(settings: Settings) -> argparse.ArgumentParser:
    defaults = SampleParams()
    p = argparse.ArgumentParser(
        prog="lifecycle-sample-data",
        description="Write a seeded, realistic sample shop as daily landing files.",
    )
    p.add_argument("--out", type=Path, default=settings.landing_dir, help="landing folder")
    p.add_argument("--customers", type=int, default=defaults.customers, help="buyers")
    p.add_argument("--days", type=int, default=defaults.days)
    p.add_argument("--start-date", type=dt.date.fromisoformat, default=defaults.start_date)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--timezone", default=settings.timezone, help="the shop's IANA time zone")
    p.add_argument("--currency", default=defaults.currency)
    p.add_argument("--prospect-share", type=float, default=defaults.prospect_share)
    p.add_argument("--orders-per-customer", type=float, default=defaults.orders_per_customer)
    p.add_argument("--bad-row-share", type=float, default=defaults.bad_row_share)
    p.add_argument("--compress", action="store_true", help="write zstd-compressed files")
    p.add_argument(
        "--bad-day",
        type=dt.date.fromisoformat,
        help="a day whose exports are broken (30%% malformed rows): its quality gate fails",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser(Settings.from_env()).parse_args(argv)
    try:
        params = SampleParams(
            customers=args.customers,
            days=args.days,
            start_date=args.start_date,
            seed=args.seed,
            timezone=args.timezone,
            currency=args.currency,
            prospect_share=args.prospect_share,
            orders_per_customer=args.orders_per_customer,
            bad_row_share=args.bad_row_share,
            compress=args.compress,
            bad_day=args.bad_day,
        )
    except SampleParamsError as exc:
        print(f"lifecycle-sample-data: {exc}", file=sys.stderr)
        return 2
    summary = generate_sample_shop(params, args.out)
    lines = ", ".join(f"{k} {v:,}" for k, v in summary.lines.items())
    print(
        f"sample shop in {summary.landing_dir}: {summary.first_day} to {summary.last_day}, "
        f"{lines} lines, {summary.seconds}s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
