"""The `lifecycle` command: run the pipeline end to end, or open the Dagster UI on it.

`lifecycle demo` generates the sample shop if the landing folder has none, then runs the
daily refresh over every landing day in one run (ingestion backfills in a single run), with
its records in DAGSTER_HOME so that the Dagster UI shows them afterwards. Dagster, dbt and
the project's modules are imported by the command that needs them, so `--help` and a
mistyped option answer at once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.sample.params import SampleParams, SampleParamsError

if TYPE_CHECKING:
    from orchestration.settings import Settings

# A run over a range of days records, by default, one "planned" event per asset and day
# before its first step: 5,900 events and 100 s for a two-year backfill on the default SQLite
# storage. With this, one event per asset names the whole range; the price is that the days
# of a failed range run show as missing rather than failed (the run itself shows as failed).
PLANNED_EVENTS_VARIABLE = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


def prepare_dagster_home() -> Path:
    """Use DAGSTER_HOME, or the project's `.dagster`, with the project's instance settings,
    and hand it to Dagster (which reads it from this process's environment)."""
    from orchestration.settings import PROJECT_ROOT, Settings

    home = Settings.from_env().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault(PLANNED_EVENTS_VARIABLE, "true")
    return home


def landing_days(settings: Settings) -> tuple[dt.date, dt.date] | None:
    """The first and last day the landing folder has files for, or None."""
    from orchestration.resources.landing import landing_day_range

    return landing_day_range(settings.landing_dir)


def run_daily_refresh(first: dt.date, last: dt.date) -> bool:
    """Materialize the whole graph for the partitions first..last in one run of the code
    location's daily_refresh job, executed in this process (orchestration/runs.py)."""
    from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

    from orchestration.dbt_project import prepare_manifest
    from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG

    started = time.monotonic()
    print("parsing the dbt project ...", flush=True)
    prepare_manifest()
    print("loading the code location's definitions ...", flush=True)
    from orchestration.definitions import partitions
    from orchestration.jobs import DAILY_JOB_NAME
    from orchestration.runs import execute_job_as_location_run

    keys = partitions.get_partition_keys()
    start = max(first.isoformat(), keys[0])
    end = min(last.isoformat(), keys[-1])
    if start > end:
        print(
            f"lifecycle: no partition between {first} and {last}: the partitions start on "
            f"{keys[0]} (LIFECYCLE_PARTITIONS_START) and end on {keys[-1]}",
            file=sys.stderr,
        )
        return False
    print(f"running daily_refresh over {start}..{end}", flush=True)
    with DagsterInstance.get() as instance:
        run_id = execute_job_as_location_run(
            instance,
            DAILY_JOB_NAME,
            tags={RANGE_START_TAG: start, RANGE_END_TAG: end},
            # Step and dbt progress on the console; Dagster's per-event debug lines stay in
            # the run's records (the UI shows them).
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
        success = instance.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS
        events = [
            r.event_log_entry.dagster_event
            for r in instance.get_records_for_run(
                run_id,
                of_type={
                    DagsterEventType.ASSET_MATERIALIZATION,
                    DagsterEventType.ASSET_CHECK_EVALUATION,
                },
            ).records
        ]
    partitions: dict[str, int] = {}
    rows: dict[str, str] = {}
    for event in events:
        if event.event_type != DagsterEventType.ASSET_MATERIALIZATION:
            continue
        mat = event.step_materialization_data.materialization
        key = mat.asset_key.to_user_string()
        partitions[key] = partitions.get(key, 0) + 1
        # A raw partition's row count is its day's; the table's is stated beside it.
        count = mat.metadata.get("table_rows_after_run") or mat.metadata.get("dagster/row_count")
        rows[key] = f"{count.value:,} rows" if count is not None else ""
    for key, n in sorted(partitions.items()):
        runs = f"{n} partitions" if n > 1 else ""
        print(f"  {key:<40} {runs:>15} {rows[key]:>16}")
    for event in events:
        if event.event_type != DagsterEventType.ASSET_CHECK_EVALUATION:
            continue
        check = event.asset_check_evaluation_data
        if not check.passed:
            print(
                f"  check {check.asset_key.to_user_string()} {check.check_name} failed "
                f"({check.severity.value}): {check.description}"
            )
    status = "succeeded" if success else "FAILED"
    minutes, seconds = divmod(round(time.monotonic() - started), 60)
    print(f"daily_refresh {start}..{end} {status} in {minutes} min {seconds} s (run {run_id})")
    print(f"in the Dagster UI (`lifecycle dev`): http://localhost:3000/runs/{run_id}")
    return success


def _demo(args: argparse.Namespace) -> int:
    from orchestration.sample import generate_sample_shop
    from orchestration.settings import Settings
    from orchestration.shop_time import shop_today

    settings = Settings.from_env()
    prepare_dagster_home()
    days = None if args.fresh or args.bad_day else landing_days(settings)
    if days is None:
        # The sample ends yesterday: every daily partition but today's, the open day, is
        # materialized by the demo's run.
        today = shop_today(settings.timezone)
        bad_day = args.bad_day
        if isinstance(bad_day, int):
            bad_day = today - dt.timedelta(days=bad_day)
        try:
            params = SampleParams(
                customers=args.customers,
                days=args.days,
                start_date=today - dt.timedelta(days=args.days),
                timezone=settings.timezone,
                bad_day=bad_day,
            )
        except SampleParamsError as exc:
            print(f"lifecycle demo: {exc}", file=sys.stderr)
            return 2
        print(f"generating the sample shop ({params.customers:,} customers) ...")
        summary = generate_sample_shop(params, settings.landing_dir)
        days = (summary.first_day, summary.last_day)
    first, last = days
    print(f"warehouse: {settings.warehouse_path}")
    ok = run_daily_refresh(first, last)
    if ok:
        print(
            f"\nwarehouse: {settings.warehouse_path}\nlanding:   {settings.landing_dir}\n"
            f"Dagster UI: .venv/bin/lifecycle dev  (records in {settings.dagster_home})"
        )
    return 0 if ok else 1


def landing_problem(settings: Settings) -> str | None:
    """Why the landing folder cannot be run on (missing, or no landing day in it), or None."""
    folder = settings.landing_dir
    if not folder.is_dir():
        return (
            f"the landing folder {folder} does not exist; set LIFECYCLE_LANDING_DIR to the "
            "folder that holds orders/, checkouts/, email_events/ and contacts/ "
            "(or run `lifecycle demo` to generate the sample shop there)"
        )
    if landing_days(settings) is None:
        return (
            f"the landing folder {folder} (LIFECYCLE_LANDING_DIR) has no landing day: "
            "expected files in <source>/day=YYYY-MM-DD/ folders, e.g. orders/day=2025-06-30/"
        )
    return None


def _run(args: argparse.Namespace) -> int:
    from orchestration.settings import Settings

    if args.start > args.end:
        print(f"lifecycle run: --start {args.start} is after --end {args.end}", file=sys.stderr)
        return 2
    problem = landing_problem(Settings.from_env())
    if problem:
        print(f"lifecycle run: {problem}", file=sys.stderr)
        return 2
    prepare_dagster_home()
    return 0 if run_daily_refresh(args.start, args.end) else 1


def _bench(args: argparse.Namespace) -> int:
    from orchestration.bench.pipeline import RESULTS_DIR, run_bench
    from orchestration.settings import Settings

    workdir = args.workdir or Settings.from_env().data_dir / "bench"
    ok = True
    for scale in args.scale:
        report = run_bench(scale, workdir, fresh=args.fresh)
        ok = ok and report["full_rebuild"]["succeeded"] and report["new_day"].get("succeeded")
        print(f"bench {scale}: {RESULTS_DIR / f'pipeline_{scale}.md'}")
    return 0 if ok else 1


def _dev(args: argparse.Namespace) -> int:
    from orchestration.settings import PROJECT_ROOT

    prepare_dagster_home()
    bin_dir = Path(sys.executable).parent
    cmd = [str(bin_dir / "dagster"), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml")]
    # `dagster dev` re-parses the dbt project with the `dbt` found on PATH: the virtualenv's.
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.call([*cmd, "-p", str(args.port)], cwd=PROJECT_ROOT, env=env)


def _clv_fit(args: argparse.Namespace) -> int:
    from orchestration.clv.fit_command import fit_file

    try:
        report = fit_file(
            args.transactions, args.customer_column, args.date_column, args.calibration_end,
            args.observation_end, args.date_format, args.time_unit, args.amount_column,
        )  # fmt: skip
    except ValueError as error:
        print(f"lifecycle clv fit: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


def _sql(args: argparse.Namespace) -> int:
    """A query on the serving file, read-only: what a BI tool sees."""
    import duckdb

    from orchestration.settings import Settings

    path = Settings.from_env().serving_path
    if not path.exists():
        print(
            f"lifecycle sql: no serving file at {path} yet (LIFECYCLE_SERVING_PATH); "
            "run `lifecycle demo` or the daily_refresh job first",
            file=sys.stderr,
        )
        return 2
    with duckdb.connect(str(path), read_only=True) as con:
        try:
            result = con.sql(args.query)
        except duckdb.Error as error:
            print(f"lifecycle sql: {error}", file=sys.stderr)
            return 2
        if result is not None:
            result.show(max_rows=args.max_rows)
    return 0


def _report(args: argparse.Namespace) -> int:
    """The marketer's page from the warehouse (read-only: it waits while a run writes)."""
    from orchestration.resources.build import build_resources
    from orchestration.serve.report import write_report
    from orchestration.settings import Settings

    settings = Settings.from_env()
    if not settings.warehouse_path.exists():
        print(
            f"lifecycle report: no warehouse at {settings.warehouse_path} yet "
            "(LIFECYCLE_WAREHOUSE_PATH); run `lifecycle demo` first",
            file=sys.stderr,
        )
        return 2
    warehouse = build_resources(settings)["warehouse"]
    with warehouse.connect(read_only=True) as con:
        day = args.date or con.execute("select max(run_date) from marts.customer_rfm").fetchone()[0]
        page, _ = write_report(con, day, settings.reports_dir)
    print(page)
    return 0


def _date(text: str) -> dt.date:
    """An option's date, or a message saying the format."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2025-06-30"
        ) from None


def _day_or_days_ago(text: str) -> dt.date | int:
    """A date, or a whole number of days before today (resolved in the shop's time zone)."""
    return int(text) if text.isdigit() else _date(text)


def _count(text: str) -> int:
    try:
        return int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, e.g. 5000") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lifecycle", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="generate the sample shop if needed, run everything")
    defaults = SampleParams()
    demo.add_argument(
        "--customers", type=_count, default=defaults.customers, metavar="N",
        help=f"customers of a generated sample shop (default {defaults.customers:,})",
    )  # fmt: skip
    demo.add_argument(
        "--days", type=_count, default=defaults.days, metavar="N",
        help=f"days of history of a generated sample shop (default {defaults.days})",
    )  # fmt: skip
    demo.add_argument("--fresh", action="store_true", help="regenerate the sample shop first")
    demo.add_argument(
        "--bad-day",
        type=_day_or_days_ago,
        metavar="YYYY-MM-DD|N",
        help="regenerate the shop (its days end yesterday) with this day's exports broken, "
        "given as a date or as N days ago: its quality gate fails",
    )
    demo.set_defaults(handler=_demo)
    run = sub.add_parser("run", help="run the daily refresh over a range of days")
    run.add_argument(
        "--start", type=_date, required=True, metavar="YYYY-MM-DD", help="the first day to run"
    )
    run.add_argument(
        "--end", type=_date, required=True, metavar="YYYY-MM-DD",
        help="the last day to run (the run date of the marts and audiences)",
    )  # fmt: skip
    run.set_defaults(handler=_run)
    bench = sub.add_parser(
        "bench", help="time a full rebuild and a new day of a sample shop, stage by stage"
    )
    bench.add_argument(
        "--scale", nargs="+", choices=["small", "medium", "large"], default=["small"],
        help="5k, 100k or 1M customers (several may be given)",
    )  # fmt: skip
    bench.add_argument(
        "--workdir", type=Path, help="where shops and runs go (default: $LIFECYCLE_DATA_DIR/bench)"
    )
    bench.add_argument("--fresh", action="store_true", help="regenerate the sample shops")
    bench.set_defaults(handler=_bench)
    clv = sub.add_parser("clv", help="the purchase and drop-out model (BG/NBD)")
    fit = clv.add_subparsers(dest="clv_command", required=True).add_parser(
        "fit", help="fit BG/NBD on a file of transactions; print JSON"
    )
    fit.add_argument("--transactions", type=Path, required=True, help="CSV, or text by position")
    fit.add_argument("--customer-column", required=True, help="a name, or a position from 1")
    fit.add_argument("--date-column", required=True, help="a name, or a position from 1")
    fit.add_argument("--amount-column", help="the spend: also fits Gamma-Gamma to it")
    fit.add_argument("--date-format", help="strptime format, e.g. %%Y%%m%%d (default ISO)")
    fit.add_argument("--time-unit", choices=["days", "weeks"], default="weeks")
    fit.add_argument(
        "--calibration-end", type=_date, required=True, metavar="YYYY-MM-DD",
        help="the last day the model is fitted on",
    )  # fmt: skip
    fit.add_argument(
        "--observation-end", type=_date, metavar="YYYY-MM-DD",
        help="the last day of the holdout the fit is checked against (optional)",
    )  # fmt: skip
    fit.set_defaults(handler=_clv_fit)
    sql = sub.add_parser("sql", help="query the serving file (read-only), as a BI tool would")
    sql.add_argument(
        "query",
        help='e.g. "select lifecycle_stage, count(*) from marts.customer_lifecycle group by all"',
    )
    sql.add_argument(
        "--max-rows", type=_count, default=40, metavar="N", help="rows shown at most (default 40)"
    )
    sql.set_defaults(handler=_sql)
    report = sub.add_parser(
        "report", help="write the marketer's HTML report of a run date; print its path"
    )
    report.add_argument(
        "--date", type=_date, metavar="YYYY-MM-DD",
        help="the run date (default: the marts' latest)",
    )  # fmt: skip
    report.set_defaults(handler=_report)
    dev = sub.add_parser("dev", help="open the Dagster UI on this project")
    dev.add_argument(
        "--port", type=_count, default=3000, metavar="N", help="the UI's port (default 3000)"
    )
    dev.set_defaults(handler=_dev)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
