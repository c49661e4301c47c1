"""The DuckDB warehouse file, opened by one writer at a time.

DuckDB allows a single read-write process per file (not even a reader may open it meanwhile),
so a connection is opened per step and closed at its end, and a step that finds the file
locked by another process waits for it, up to a configured timeout, instead of failing. While
it waits it says so every few seconds, naming the process that holds the file, so a run that
seems stuck shows what it waits for (BI tools read the serving file, never this one).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from pydantic import Field

_LOCK_MESSAGE = "Could not set lock on file"
_HOLDER = re.compile(r"\(PID (\d+)\)")
# How often a waiting step says it is still waiting.
WAIT_REPORT_SECONDS = 5.0


def lock_holder(message: str) -> str:
    """'PID 1234' from DuckDB's lock error, or 'another process' when it names none."""
    found = _HOLDER.search(message)
    return f"PID {found.group(1)}" if found else "another process"


# Every step that writes the warehouse file runs in this pool (limit 1): DuckDB has one writer.
WAREHOUSE_POOL = "duckdb_warehouse"


class WarehouseLockedError(RuntimeError):
    """Another process held the warehouse file for longer than the lock timeout."""


class DuckDBWarehouse(ConfigurableResource):
    """The warehouse: one DuckDB file that the pipeline alone writes."""

    path: str = Field(description="Path of the DuckDB warehouse file (LIFECYCLE_WAREHOUSE_PATH).")
    lock_timeout_seconds: float = Field(
        default=300.0,
        description="How long a step waits for another process to release the file.",
    )
    memory_limit: str = Field(
        default="",
        description="DuckDB's memory_limit for the pipeline's and dbt's connections, e.g. "
        "'8GB' or '25%' of the machine's memory (LIFECYCLE_DUCKDB_MEMORY_LIMIT); empty for "
        "DuckDB's default.",
    )
    threads: int = Field(
        default=0,
        description="DuckDB's threads for the pipeline's and dbt's connections "
        "(LIFECYCLE_DUCKDB_THREADS); 0 for DuckDB's default (one per core).",
    )

    @contextmanager
    def connect(
        self, read_only: bool = False, log: logging.Logger | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, once no other process holds the file (waiting up to the timeout;
        `log`, by default Dagster's logger of the step, hears every few seconds)."""
        con = self._open(read_only, log)
        try:
            if self.memory_limit:
                con.execute(f"set memory_limit = '{self.memory_limit}'")
            if self.threads:
                con.execute(f"set threads = {int(self.threads)}")
            yield con
        finally:
            con.close()

    def wait_until_free(self, log: logging.Logger | None = None) -> None:
        """Return once the file could be opened for writing (for a process of our own, such
        as dbt, that opens it itself); waits and reports like `connect`."""
        self._open(read_only=False, log=log).close()

    def _open(self, read_only: bool, log: logging.Logger | None) -> duckdb.DuckDBPyConnection:
        path = Path(self.path)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        deadline = started + self.lock_timeout_seconds
        next_report = started
        delay = 0.1
        while True:
            try:
                return duckdb.connect(str(path), read_only=read_only)
            except duckdb.IOException as exc:
                if _LOCK_MESSAGE not in str(exc):
                    raise
                now = time.monotonic()
                holder = lock_holder(str(exc))
                if now >= deadline:
                    raise WarehouseLockedError(
                        f"the warehouse {path} stayed locked by {holder} for "
                        f"{self.lock_timeout_seconds:.0f}s; stop that process (a dbt run, a BI "
                        "tool, a second Dagster run; BI tools should read the serving file) "
                        "or raise LIFECYCLE_WAREHOUSE_LOCK_TIMEOUT_SECONDS"
                    ) from exc
                if now >= next_report:
                    (log or _step_logger()).info(
                        f"waiting for the warehouse, held by {holder} "
                        f"({now - started:.0f} s of {self.lock_timeout_seconds:.0f} s)"
                    )
                    next_report = now + WAIT_REPORT_SECONDS
                time.sleep(min(delay, max(deadline - now, 0.0)))
                delay = min(delay * 2, 2.0)


def _step_logger() -> logging.Logger:
    """Dagster's logger: the run's log within a step, the console outside one."""
    from dagster import get_dagster_logger

    return get_dagster_logger()
