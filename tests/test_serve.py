"""The serving file: BI readers never block a run, and always read one consistent snapshot.

Readers are separate processes, as BI tools are: one opens the serving file for every query,
the other holds one connection for the whole test. While they query in a loop, a daily run
and a cart run write the warehouse and publish the serving file twice.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from orchestration.serve import MANIFEST, publish_snapshot
from tests.conftest import BASE_END, BaseRun, point_settings_at
from tests.runs import reload_definitions, run_day
from tests.test_cart_abandonment import _checkout, _land

NOW = dt.datetime(2025, 1, 31, 12, tzinfo=dt.UTC)

# A reader: queries two tables and the manifest in one statement until told to stop; any
# error, or counts that disagree with the manifest written with them, is recorded.
READER = """
import duckdb, json, sys, time
from pathlib import Path
path, stop, out, mode = sys.argv[1:5]
held = duckdb.connect(path, read_only=True) if mode == "hold" else None
errors, queries, snapshots = [], 0, set()
query = '''
    select m.served_at,
        m.row_count = (select count(*) from marts.customer_lifecycle),
        v.row_count = (select count(*) from audiences.aud_vip)
    from served_tables m, served_tables v
    where m.table_name = 'marts.customer_lifecycle' and v.table_name = 'audiences.aud_vip'
'''
while not Path(stop).exists():
    try:
        con = held or duckdb.connect(path, read_only=True)
        served_at, lifecycle_agrees, vip_agrees = con.execute(query).fetchall()[0]
        if not (lifecycle_agrees and vip_agrees):
            errors.append(f"counts differ from the manifest of {served_at}")
        snapshots.add(str(served_at))
        queries += 1
        if con is not held:
            con.close()
    except Exception as error:
        errors.append(repr(error))
    time.sleep(0.1)  # hundreds of queries per run, not a core's worth of them
Path(out).write_text(json.dumps(
    {"errors": errors, "queries": queries, "snapshots": sorted(snapshots)}
))
"""


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    for schema in ("marts", "audiences", "staging"):
        con.execute(f"create schema {schema}")
    con.execute("create table marts.customer_lifecycle as select range as id from range(3)")
    con.execute("create table audiences.aud_vip as select range as id from range(2)")
    con.execute("create table staging.not_served as select 1 as id")
    return con


def test_a_reader_keeps_its_snapshot_and_the_next_one_opens_the_new(tmp_path: Path) -> None:
    serving, parquet = tmp_path / "serving.duckdb", tmp_path / "parquet"
    con = _warehouse(tmp_path / "warehouse.duckdb")
    first = publish_snapshot(con, serving, parquet, dt.date(2025, 1, 30), NOW)
    assert first.row_counts == {"audiences.aud_vip": 2, "marts.customer_lifecycle": 3}
    assert first.parquet_files == 2
    reader = duckdb.connect(str(serving), read_only=True)
    con.execute("insert into marts.customer_lifecycle select range from range(3, 5)")
    publish_snapshot(con, serving, parquet, dt.date(2025, 1, 31), NOW + dt.timedelta(days=1))
    # The open reader still reads the first snapshot, whole; once closed, the next connection
    # reads the second (within one process DuckDB shares a file's open database between its
    # connections: the other test's readers are processes of their own).
    manifest = f"select row_count, run_date from {MANIFEST} where table_name = ?"
    lifecycle = "marts.customer_lifecycle"
    assert reader.execute("select count(*) from marts.customer_lifecycle").fetchall() == [(3,)]
    assert reader.execute(manifest, [lifecycle]).fetchall() == [(3, dt.date(2025, 1, 30))]
    reader.close()
    with duckdb.connect(str(serving), read_only=True) as again:
        assert again.execute(manifest, [lifecycle]).fetchall() == [(5, dt.date(2025, 1, 31))]
        assert again.execute(
            "select count(*) from information_schema.tables where table_schema = 'staging'"
        ).fetchall() == [(0,)]
    rows = con.execute(
        f"select count(*) from '{parquet / 'marts' / 'customer_lifecycle.parquet'}'"
    ).fetchall()
    assert rows == [(5,)]
    assert not list(tmp_path.rglob("*.tmp"))  # every file written aside was renamed


def test_bi_readers_never_fail_or_block_a_daily_and_a_cart_run(
    base_run: BaseRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = base_run.copy(tmp_path)
    point_settings_at(monkeypatch, data)
    serving = data / "serving.duckdb"
    assert serving.exists()  # the shared run published it
    stop = tmp_path / "stop"
    readers = {
        mode: subprocess.Popen(
            [sys.executable, "-c", READER, str(serving), str(stop), str(tmp_path / mode), mode]
        )
        for mode in ("reconnect", "hold")
    }
    time.sleep(1.0)  # both readers are in their loop before the runs start
    module = reload_definitions()
    with DagsterInstance.ephemeral() as instance:
        daily = run_day(module, instance, BASE_END + dt.timedelta(days=1), readouts=False)
        today = dt.datetime.now(dt.UTC)
        checkout = _checkout("reader-test@example.com", "Ada", "tok-0001", today, False)
        _land(data / "landing", today.date(), "checkouts_live_001.jsonl", [checkout])
        cart = module.defs.resolve_job_def("cart_abandonment").execute_in_process(
            instance=instance, partition_key=today.date().isoformat(), raise_on_error=False
        )
    time.sleep(0.5)
    stop.touch()
    for process in readers.values():
        assert process.wait(timeout=60) == 0
    assert daily.success and cart.success
    seen = {mode: json.loads((tmp_path / mode).read_text()) for mode in readers}
    for mode, report in seen.items():
        assert report["errors"] == [], mode
        assert report["queries"] > 20, mode
    # The held connection kept the snapshot it opened; new connections saw each run's.
    assert len(seen["hold"]["snapshots"]) == 1
    assert len(seen["reconnect"]["snapshots"]) == 3
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute(f"select count(distinct served_at) from {MANIFEST}").fetchall() == [(1,)]
