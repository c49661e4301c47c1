"""The same dbt models build on PostgreSQL and give the same marts as on DuckDB."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import duckdb
import pytest

from orchestration.dbt_project import DBT_EXECUTABLE, dbt_project
from orchestration.ingest import SOURCES, load_days
from orchestration.publish.entries import record_entries
from orchestration.quality_thresholds import QualityThresholds
from orchestration.resources import LandingZone
from orchestration.sample import SampleSummary
from tests.conftest import AUDIENCES, SMALL
from tests.postgres import PostgresServer, copy_schema, find_pg_bin, start_server, stop_server

RUN_DATE = SMALL.end_date.isoformat()
RUN_AT = f"{SMALL.end_date + dt.timedelta(days=1)} 00:00:00"  # the end of the run date, UTC
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


@pytest.fixture(scope="module")
def postgres() -> PostgresServer:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        message = "PostgreSQL is not installed (Debian: apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Not under pytest's temporary folder: the server may run as another user, who needs access.
    root = Path(tempfile.mkdtemp(prefix="lifecycle-pg-"))
    server, data = start_server(root, bin_dir)
    yield server
    stop_server(bin_dir, data)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def raw_warehouse(tmp_path_factory: pytest.TempPathFactory, small_shop: SampleSummary) -> Path:
    """A DuckDB warehouse with the small shop's raw tables, loaded without Dagster."""
    path = tmp_path_factory.mktemp("duck") / "warehouse.duckdb"
    zone = LandingZone(root=str(small_shop.landing_dir))
    days = [SMALL.start_date + dt.timedelta(days=i) for i in range(SMALL.days)]
    with duckdb.connect(str(path)) as con:
        for spec in SOURCES:
            files = {d: zone.files(spec.name, d, spec.suffixes) for d in days}
            load_days(con, spec, files, small_shop.landing_dir, "portability", QualityThresholds())
    return path


def _dbt_build(target: str, env: dict[str, str], target_path: Path, *select: str) -> None:
    done = subprocess.run(
        [
            # dbt's unit tests run once, in test_dbt_models.py (an incremental model's unit test
            # needs the model built first).
            DBT_EXECUTABLE, "build", "--target", target, "--exclude-resource-type", "unit_test",
            *select,
            "--project-dir", str(dbt_project.project_dir),
            "--profiles-dir", str(dbt_project.profiles_dir),
            "--target-path", str(target_path),
            "--vars", json.dumps({"run_date": RUN_DATE, "run_at": RUN_AT}),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:]
    assert "ERROR=0" in done.stdout


def _normalized(rows: list[tuple]) -> list[tuple]:
    """Decimals and floats compared at 6 places; everything else as is."""
    return [
        tuple(round(float(v), 6) if isinstance(v, float | decimal.Decimal) else v for v in row)
        for row in rows
    ]


@pytest.mark.slow
def test_marts_are_identical_on_postgres_and_duckdb(
    postgres: PostgresServer, raw_warehouse: Path, tmp_path: Path
) -> None:
    copied = copy_schema(raw_warehouse, postgres, tmp_path / "csv", "raw")
    assert copied["orders"] > 0 and copied["email_events"] > 0
    assert copied["email_events_consent"] > 0 and copied["contacts_consent"] > 0
    # The consent test reads the quarantined rows too.
    assert sum(copy_schema(raw_warehouse, postgres, tmp_path / "csv", "quarantine").values())
    duck_env = {"LIFECYCLE_WAREHOUSE_PATH": str(raw_warehouse)}
    before_publish = ("--exclude", "tag:readout")
    _dbt_build("duckdb", duck_env, tmp_path / "duck", *before_publish)
    _dbt_build("postgres", postgres.env(), tmp_path / "pg", *before_publish)
    # Again: the incremental stage history takes its incremental path, and nothing changes
    # (only it and its tests: the other models are tables, rebuilt the same way every time).
    _dbt_build(
        "postgres", postgres.env(), tmp_path / "pg", "--select", "customer_lifecycle_history"
    )
    # What publishing records (the audience spells), then the read-outs built from it.
    with duckdb.connect(str(raw_warehouse)) as con:
        assert sum(e for e, _ in record_entries(con, AUDIENCES, ENTRY_DAY).values()) > 0
    copy_schema(raw_warehouse, postgres, tmp_path / "csv", "publish")
    readouts = ("--select", "tag:readout")
    _dbt_build("duckdb", duck_env, tmp_path / "duck", *readouts)
    _dbt_build("postgres", postgres.env(), tmp_path / "pg", *readouts)
    with duckdb.connect(str(raw_warehouse), read_only=True) as duck, postgres.connect() as pg:
        # Audiences too, holdout flags included: the hash behind them is a dispatched macro.
        # And whom they left out and why: written by a post-hook on either engine.
        tables = {
            **MARTS,
            **{f"audiences.{a}": "email" for a in AUDIENCES},
            "audiences.dropped_members": "audience, email",
        }
        compared = {}
        for table, order in tables.items():
            sql = f"select * from {table} order by {order}"
            expected = _normalized(duck.execute(sql).fetchall())
            with pg.cursor() as cur:
                cur.execute(sql)
                actual = _normalized(cur.fetchall())
            assert actual == expected, table
            compared[table] = len(expected)
    assert all(compared[m] for m in MARTS)
    assert sum(compared[f"audiences.{a}"] > 0 for a in AUDIENCES) >= 6
    assert compared["audiences.dropped_members"] > 0
