"""The DuckDB warehouse file, opened by one writer at a time.

DuckDB allows a single read-write process per file (not even a reader may open it meanwhile),
so a connection is opened per step and closed at its end, and a step that finds the file
locked by another process waits for it, up to a configured timeout, instead of failing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from pydantic import Field

_LOCK_MESSAGE = "Could not set lock on file"
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
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        path = Path(self.path)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_seconds
        delay = 0.1
        while True:
            try:
                con = duckdb.connect(str(path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if _LOCK_MESSAGE not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise WarehouseLockedError(
                        f"the warehouse {path} stayed locked by another process for "
                        f"{self.lock_timeout_seconds:.0f}s; stop that process (a dbt run, a BI "
                        "tool, a second Dagster run) or raise "
                        "LIFECYCLE_WAREHOUSE_LOCK_TIMEOUT_SECONDS"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        try:
            if self.memory_limit:
                con.execute(f"set memory_limit = '{self.memory_limit}'")
            if self.threads:
                con.execute(f"set threads = {int(self.threads)}")
            yield con
        finally:
            con.close()
