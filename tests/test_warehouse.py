"""The warehouse resource waits for another writer instead of failing, up to its timeout."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration.resources import DuckDBWarehouse, WarehouseLockedError

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    """Another process that holds the file read-write for `seconds`."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_locked_warehouse_fails_after_the_timeout_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    holder = _hold_lock(path, 5)
    try:
        with (
            pytest.raises(WarehouseLockedError, match="LIFECYCLE_WAREHOUSE_LOCK_TIMEOUT_SECONDS"),
            DuckDBWarehouse(path=str(path), lock_timeout_seconds=0.5).connect(),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_a_step_waits_for_the_other_writer_to_finish(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    holder = _hold_lock(path, 1.5)
    started = time.monotonic()
    with DuckDBWarehouse(path=str(path), lock_timeout_seconds=30).connect() as con:
        assert con.execute("select 42").fetchall() == [(42,)]
    assert time.monotonic() - started >= 1.0
    holder.wait()
