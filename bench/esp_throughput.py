"""Benchmark: a first sync of a big audience to each ESP emulator at that ESP's rate limit,
then a sync of 1,000 changed members; written to bench/results/esp_throughput.json.

Each emulator enforces the ESP's published steady limit (where there is one) and the client
paces itself to it, as it does against the real API, so the time of the first sync sits
beside the floor the limit allows (calls / rate). The calls per 1,000 changed members come
from the second sync (half leave, half join). Targets are read from the report, never
asserted in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import duckdb

from esp_emulators.klaviyo import KlaviyoEmulator
from esp_emulators.mailchimp import MailchimpEmulator
from esp_emulators.sendgrid import SendGridEmulator
from orchestration.publish.engine import SyncSettings, sync_audience
from orchestration.publish.http import RetryPolicy
from orchestration.publish.klaviyo import STEADY_PER_MINUTE as KLAVIYO_STEADY
from orchestration.publish.klaviyo import KlaviyoAdapter, klaviyo_client
from orchestration.publish.mailchimp import MailchimpAdapter, mailchimp_client
from orchestration.publish.sendgrid import SendGridAdapter, sendgrid_client
from orchestration.settings import PROJECT_ROOT

AUDIENCE = "aud_bench"
KEYS = {"klaviyo": "pk_bench_key", "mailchimp": "benchkey-us1", "sendgrid": "SG.bench"}
# The published steady limit of the endpoints each adapter uses (calls a minute); Mailchimp
# publishes a limit of 10 simultaneous connections instead, SendGrid none for these endpoints.
PUBLISHED_PER_MINUTE = {"klaviyo": float(KLAVIYO_STEADY), "mailchimp": 0.0, "sendgrid": 0.0}


def _warehouse(path: Path, members: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema audiences")
        con.execute("create schema marts")
        con.execute(
            "create table marts.suppressions (email varchar, reason varchar, asm_group_id integer)"
        )
        con.execute(
            f"""
            create table audiences.{AUDIENCE} as
            select '{AUDIENCE}' as audience, 'm' || i || '@example.com' as email,
                i::bigint as customer_id, 'Name' || (i % 100) as first_name,
                'active' as lifecycle_stage, 'Loyal' as rfm_segment, i % 5 = 0 as is_vip,
                'Brand' || (i % 7) as favourite_brand, 'Category' || (i % 5) as favourite_category,
                (i % 9)::bigint as order_count, date '2025-01-01' as last_order_date,
                date '2024-01-01' as first_order_date, 'bench' as reason, false as is_holdout,
                date '2025-01-31' as run_date
            from range({members}) t(i)
            """
        )


def _change_1000(path: Path, members: int) -> None:
    """500 members leave, 500 join."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            f"delete from audiences.{AUDIENCE} where email in "
            "(select 'm' || i || '@example.com' from range(500) t(i))"
        )
        con.execute(
            f"""
            insert into audiences.{AUDIENCE}
            select audience, 'n' || substr(email, 2) as email, customer_id, first_name,
                lifecycle_stage, rfm_segment, is_vip, favourite_brand, favourite_category,
                order_count, last_order_date, first_order_date, reason, is_holdout, run_date
            from audiences.{AUDIENCE} limit 500
            """
        )


def _setup(esp: str, rate: float):
    policy = RetryPolicy(deadline_seconds=600, requests_per_minute=rate)
    if esp == "klaviyo":
        server = KlaviyoEmulator(KEYS[esp], steady_per_minute=rate).start()
        client = klaviyo_client(KEYS[esp], server.base_url, policy)
        return server, KlaviyoAdapter(client, poll_seconds=0.5)
    if esp == "mailchimp":
        server = MailchimpEmulator(KEYS[esp], steady_per_minute=rate).start()
        client = mailchimp_client(KEYS[esp], f"{server.base_url}/3.0", policy)
        return server, MailchimpAdapter(client, list_id=server.list_id)
    server = SendGridEmulator(KEYS[esp], steady_per_minute=rate).start()
    client = sendgrid_client(KEYS[esp], server.base_url, policy)
    return server, SendGridAdapter(client, poll_seconds=0.5)


def run_one(esp: str, members: int, workdir: Path) -> dict:
    path = workdir / f"{esp}.duckdb"
    path.unlink(missing_ok=True)
    _warehouse(path, members)
    rate = PUBLISHED_PER_MINUTE[esp]
    server, adapter = _setup(esp, rate)
    settings = SyncSettings(list_name="Bench", max_change_share=1.0, min_change_rows=100)
    try:
        started = time.perf_counter()
        with duckdb.connect(str(path)) as con:
            first = sync_audience(con, AUDIENCE, adapter, "first", settings)
        first_seconds = time.perf_counter() - started
        first_calls = adapter.client.calls
        _change_1000(path, members)
        with duckdb.connect(str(path)) as con:
            second = sync_audience(con, AUDIENCE, adapter, "second", settings)
        change_calls = adapter.client.calls - first_calls
    finally:
        server.stop()
    return {
        "members": members,
        "first_sync_seconds": round(first_seconds, 1),
        "first_sync_calls": first_calls,
        "first_sync_batches": first.batches,
        "first_sync_confirmed": first.confirmed,
        "published_steady_per_minute": rate or None,
        "floor_seconds_at_that_rate": round(first_calls / rate * 60, 1) if rate else None,
        "calls_per_1000_changed_members": change_calls,
        "changed": {"adds": second.adds, "removes": second.removes},
        "retries": adapter.client.retries,
        "throttled_by_emulator": server.faulted.get("steady_limit", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--esp", choices=sorted(KEYS), action="append")
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "data" / "bench")
    parser.add_argument(
        "--out", type=Path, default=PROJECT_ROOT / "bench" / "results" / "esp_throughput.json"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "esps": {},
    }
    for esp in args.esp or sorted(KEYS):
        print(f"{esp}: first sync of {args.members:,} members ...", flush=True)
        report["esps"][esp] = result = run_one(esp, args.members, args.workdir)
        print(f"  {json.dumps(result)}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"report: {args.out}")


if __name__ == "__main__":
    main()
