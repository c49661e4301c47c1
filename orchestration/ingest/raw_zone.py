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
from pathlib import Path

import duckdb

from orchestration.warehouse_schema import RAW_SCHEMA

PARTITION_COLUMN = "_partition_date"


def table_folder(lake: Path, table: str) -> Path:
    return lake / RAW_SCHEMA / table


def _partition(day: dt.date) -> str:
    return f"{PARTITION_COLUMN}={day.isoformat()}"


def day_folder(lake: Path, table: str, day: dt.date) -> Path:
    return table_folder(lake, table) / _partition(day)


def write_days(
    con: duckdb.DuckDBPyConnection, lake: Path, tables: list[str], days: list[dt.date]
) -> float:
    """Replace `days` of each raw table in the zone with the warehouse's rows of those days
    (committed: call after the load's transaction); the seconds it took."""
    started = time.perf_counter()
    days = sorted(set(days))
    if not days:
        return 0.0
    staging = lake / RAW_SCHEMA / ".staging" / uuid.uuid4().hex
    con.execute("create or replace temp table zone_days (day date)")
    con.executemany("insert into zone_days values (?)", [(d,) for d in days])
    try:
        for table in tables:
            aside = staging / table
            aside.mkdir(parents=True)
            con.execute(
                f"""
                copy (
                    select * from {RAW_SCHEMA}.{table}
                    where {PARTITION_COLUMN} in (select day from zone_days)
                ) to '{sql_literal(aside)}'
                (format parquet, partition_by ({PARTITION_COLUMN}), compression zstd,
                 overwrite_or_ignore true)
                """
            )
            for day in days:
                swap_folder(aside / _partition(day), day_folder(lake, table, day), staging)
    finally:
        con.execute("drop table if exists zone_days")
        shutil.rmtree(staging, ignore_errors=True)
    return round(time.perf_counter() - started, 3)


def swap_folder(new: Path, final: Path, staging: Path) -> None:
    """Put `new` (a folder written aside, or nothing) where `final` is; the old one goes to
    `staging` and is removed."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = staging / f".old-{uuid.uuid4().hex}"
        final.rename(old)
    if new.exists():
        new.rename(final)
    if old is not None:
        shutil.rmtree(old)


def sql_literal(path: Path) -> str:
    return str(path).replace("'", "''")
