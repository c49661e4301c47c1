"""What the engine equality tests share: the small shop's raw tables loaded without Dagster,
a `dbt build` on a target, and rows compared across engines."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import os
import subprocess
from pathlib import Path

import duckdb

from orchestration.dbt_project import DBT_EXECUTABLE, dbt_project
from orchestration.ingest import SOURCES, load_days
from orchestration.quality_thresholds import QualityThresholds
from orchestration.resources import LandingZone
from orchestration.sample import SampleSummary
from tests.conftest import SMALL

RUN_DATE = SMALL.end_date
MARTS = {
    "marts.customer_rfm": "email",
    "marts.customer_lifecycle": "email",
    "marts.customer_lifecycle_history": "email, valid_from",
    "marts.customer_churn": "email",
    "marts.email_engagement": "email",
    "marts.suppressions": "suppression_key",
    "marts.retention_metrics_monthly": "month_start",
    "marts.holdout_results": "audience, entry_month",
}
# The audiences' members are recorded as having entered this long before the run date, so
# that the holdout read-out has orders to count.
ENTRY_DAY = SMALL.end_date - dt.timedelta(days=20)


def load_raw(path: Path, shop: SampleSummary, lake: Path | None = None) -> None:
    """Every day of the small shop into a DuckDB warehouse at `path` (and the raw zone)."""
    zone = LandingZone(root=str(shop.landing_dir))
    days = [SMALL.start_date + dt.timedelta(days=i) for i in range(SMALL.days)]
    with duckdb.connect(str(path)) as con:
        for spec in SOURCES:
            files = {d: zone.files(spec.name, d, spec.suffixes) for d in days}
            load_days(con, spec, files, shop.landing_dir, "engines", QualityThresholds(), lake=lake)


def dbt_build(
    target: str,
    env: dict[str, str],
    target_path: Path,
    *select: str,
    run_date: dt.date = RUN_DATE,
    data_tests: bool = True,
) -> str:
    """`dbt build` as of the end of `run_date` (UTC), with or without the data tests; its
    output."""
    run_at = f"{run_date + dt.timedelta(days=1)} 00:00:00"
    done = subprocess.run(
        [
            # dbt's unit tests run once, in test_dbt_models.py (an incremental model's unit test
            # needs the model built first).
            DBT_EXECUTABLE, "build", "--target", target,
            "--exclude-resource-type", "unit_test", *([] if data_tests else ["test"]),
            *select,
            "--project-dir", str(dbt_project.project_dir),
            "--profiles-dir", str(dbt_project.profiles_dir),
            "--target-path", str(target_path),
            "--vars", json.dumps({"run_date": run_date.isoformat(), "run_at": run_at}),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )  # fmt: skip
    # dbt's summary of what failed (Spark's errors carry long Java stack traces).
    summary = done.stdout[done.stdout.find("Completed with") :]
    assert done.returncode == 0, f"dbt build --target {target}: {summary[:4000]}"
    assert "ERROR=0" in done.stdout
    return done.stdout


def assert_same_rows(actual: list[tuple], expected: list[tuple], table: str) -> None:
    """The same rows in the same order: numbers within 1e-6 (engines round decimal
    arithmetic at different places), moments compared as UTC, everything else exactly."""
    assert len(actual) == len(expected), f"{table}: {len(actual)} rows, expected {len(expected)}"
    for number, (got, want) in enumerate(zip(actual, expected, strict=True)):
        same = len(got) == len(want) and all(map(_same, got, want))
        assert same, f"{table}, row {number}: {got} != {want}"


def _same(got: object, want: object) -> bool:
    if isinstance(got, float | decimal.Decimal) and isinstance(want, float | decimal.Decimal):
        return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-6)
    return _utc(got) == _utc(want)


def _utc(v: object) -> object:
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(dt.UTC).replace(tzinfo=None)
    return v
