"""The serving file: what BI tools read, published whole after each run.

DuckDB lets one process write a file and nobody else open it meanwhile: a BI tool holding the
warehouse open would stop the pipeline, and a run would stop the BI tool. So readers never
open the warehouse. After each daily and cart run the pipeline copies the marts and the
audiences into a new DuckDB file beside the serving file and renames it into place. A reader
that has the old file open keeps reading it, consistent to the end (a rename leaves an open
file alone); its next connection opens the new one. The pipeline never opens the serving file
itself. The same tables are written as Parquet files for tools that read Parquet, each
replaced by a rename: each file is whole, but while a run replaces them two files may come
from two runs. The DuckDB file is the consistent snapshot; its `served_tables` says what is
in it, with row counts, the run date and when it was served.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.warehouse_schema import AUDIENCE_SCHEMA, MARTS_SCHEMA

SERVED_SCHEMAS = (MARTS_SCHEMA, AUDIENCE_SCHEMA)
MANIFEST = "served_tables"  # in the serving file's main schema


@dataclass(frozen=True)
class Snapshot:
    path: Path
    row_counts: dict[str, int]  # schema.table -> rows
    parquet_files: int
    seconds: float


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def served_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(schema, table) of every table of the served schemas in the warehouse."""
    marks = ", ".join("?" for _ in SERVED_SCHEMAS)
    return con.execute(
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in ({marks}) and table_type = 'BASE TABLE' order by all",
        list(SERVED_SCHEMAS),
    ).fetchall()


def publish_snapshot(
    con: duckdb.DuckDBPyConnection,
    serving_path: Path,
    parquet_dir: Path | None,
    run_date: dt.date,
    now: dt.datetime,
) -> Snapshot:
    """Copy the served tables into a new file beside `serving_path`, rename it into place,
    then write each table's Parquet file under `parquet_dir` (schema/table.parquet)."""
    started = time.perf_counter()
    tables = served_tables(con)
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    aside = serving_path.with_name(f".{serving_path.name}.{os.getpid()}.tmp")
    aside.unlink(missing_ok=True)
    con.execute(f"attach {_quoted(aside)} as serving")
    counts: dict[str, int] = {}
    try:
        for schema, table in tables:
            con.execute(f"create schema if not exists serving.{schema}")
            con.execute(f"create table serving.{schema}.{table} as select * from {schema}.{table}")
            counts[f"{schema}.{table}"] = con.execute(
                f"select count(*) from serving.{schema}.{table}"
            ).fetchall()[0][0]
        con.execute(
            f"create table serving.main.{MANIFEST} (table_name varchar, row_count bigint, "
            "run_date date, served_at timestamp)"
        )
        served_at = now.astimezone(dt.UTC).replace(tzinfo=None)
        con.executemany(
            f"insert into serving.main.{MANIFEST} values (?, ?, ?, ?)",
            [(name, rows, run_date, served_at) for name, rows in counts.items()],
        )
    finally:
        con.execute("detach serving")
    aside.replace(serving_path)
    files = 0
    if parquet_dir is not None:
        for schema, table in tables:
            target = parquet_dir / schema / f"{table}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            con.execute(f"copy {schema}.{table} to {_quoted(partial)} (format parquet)")
            partial.replace(target)
            files += 1
    return Snapshot(serving_path, counts, files, time.perf_counter() - started)
