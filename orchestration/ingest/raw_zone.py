"""The raw zone: each landed day of each raw table as Hive-partitioned Parquet, for engines
other than DuckDB (Spark, Trino, a notebook) to read.

DuckDB stays the reader of the landing files and the judge of their rows; once a load has
committed a day to the warehouse, that day's rows are written here, at
`<lake>/raw/<table>/_partition_date=YYYY-MM-DD/data_0.parquet` (the layout an object store
takes as is: `s3://bucket/lake/raw/...`). A day is written aside, under `<lake>/raw/.staging`,
then renamed into place over the old one, so a re-run replaces it and a reader sees the old
day or the new one, never half of one (for the moment between the two renames, no folder).
A day whose load left no rows has no folder. Quarantine and the gates' verdicts stay in the
warehouse.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.warehouse_schema import RAW_SCHEMA

PARTITION_COLUMN = "_partition_date"


@dataclass(frozen=True)
class ZoneWrite:
    """What one write did: the days replaced per table, and how long it took."""

    tables: tuple[str, ...]
    days: int
    rows: int
    seconds: float


def table_folder(lake: Path, table: str) -> Path:
    return lake / RAW_SCHEMA / table


def day_folder(lake: Path, table: str, day: dt.date) -> Path:
    return table_folder(lake, table) / f"{PARTITION_COLUMN}={day.isoformat()}"


def write_days(
    con: duckdb.DuckDBPyConnection, lake: Path, tables: list[str], days: list[dt.date]
) -> ZoneWrite:
    """Replace `days` of each raw table in the zone with the warehouse's rows of those days
    (committed: call after the load's transaction)."""
    started = time.perf_counter()
    if not days:
        return ZoneWrite(tuple(tables), 0, 0, 0.0)
    staging = lake / RAW_SCHEMA / ".staging" / uuid.uuid4().hex
    con.execute("create or replace temp table zone_days (day date)")
    con.executemany("insert into zone_days values (?)", [(d,) for d in sorted(set(days))])
    rows = 0
    try:
        for table in tables:
            aside = staging / table
            aside.mkdir(parents=True)
            written = con.execute(
                f"""
                copy (
                    select * from {RAW_SCHEMA}.{table}
                    where {PARTITION_COLUMN} in (select day from zone_days)
                ) to '{_literal(aside)}'
                (format parquet, partition_by ({PARTITION_COLUMN}), compression zstd,
                 overwrite_or_ignore true)
                """
            ).fetchall()
            rows += written[0][0] if written else 0
            for day in sorted(set(days)):
                _swap(aside / day_folder(Path(), table, day).name, day_folder(lake, table, day))
    finally:
        con.execute("drop table if exists zone_days")
        shutil.rmtree(staging, ignore_errors=True)
    return ZoneWrite(tuple(tables), len(set(days)), rows, round(time.perf_counter() - started, 3))


def _swap(new: Path, final: Path) -> None:
    """Put `new` (a day written aside, or nothing) where `final` is."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = new.parent.parent / f".old-{uuid.uuid4().hex}"
        final.rename(old)
    if new.exists():
        new.rename(final)
    if old is not None:
        shutil.rmtree(old)


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")
