"""The same dbt models build on PostgreSQL and give the same marts as on DuckDB."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import pytest

from orchestration.publish.entries import record_entries
from orchestration.sample import SampleSummary
from tests.conftest import AUDIENCES
from tests.engines import ENTRY_DAY, MARTS, assert_same_rows, dbt_build, load_raw
from tests.postgres import PostgresServer, copy_schema, find_pg_bin, start_server, stop_server


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
    load_raw(path, small_shop)
    return path


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
    dbt_build("duckdb", duck_env, tmp_path / "duck", *before_publish)
    dbt_build("postgres", postgres.env(), tmp_path / "pg", *before_publish)
    # Again: the incremental stage history takes its incremental path, and nothing changes
    # (only it and its tests: the other models are tables, rebuilt the same way every time).
    dbt_build("postgres", postgres.env(), tmp_path / "pg", "--select", "customer_lifecycle_history")
    # What publishing records (the audience spells), then the read-outs built from it.
    with duckdb.connect(str(raw_warehouse)) as con:
        assert sum(e for e, _ in record_entries(con, AUDIENCES, ENTRY_DAY).values()) > 0
    copy_schema(raw_warehouse, postgres, tmp_path / "csv", "publish")
    readouts = ("--select", "tag:readout")
    dbt_build("duckdb", duck_env, tmp_path / "duck", *readouts)
    dbt_build("postgres", postgres.env(), tmp_path / "pg", *readouts)
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
            expected = duck.execute(sql).fetchall()
            with pg.cursor() as cur:
                cur.execute(sql)
                actual = cur.fetchall()
            assert_same_rows(actual, expected, table)
            compared[table] = len(expected)
    assert all(compared[m] for m in MARTS)
    assert sum(compared[f"audiences.{a}"] > 0 for a in AUDIENCES) >= 6
    assert compared["audiences.dropped_members"] > 0
