"""The warehouse resource waits for another writer instead of failing, up to its timeout."""

from __future__ import annotations

import logging
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


def test_a_waiting_step_says_which_process_holds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    holder = _hold_lock(path, 2.5)
    lines: list[str] = []
    log = logging.getLogger("test_warehouse_wait")
    log.addHandler(_ListHandler(lines))
    log.setLevel(logging.INFO)
    DuckDBWarehouse(path=str(path), lock_timeout_seconds=30).wait_until_free(log)
    holder.wait()
    assert lines, "no line while waiting"
    assert all(f"waiting for the warehouse, held by PID {holder.pid}" in line for line in lines)
    # One line every WAIT_REPORT_SECONDS, not one per attempt.
    assert len(lines) == 1


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
