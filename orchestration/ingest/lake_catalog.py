"""The lake's catalog: what an engine other than DuckDB needs besides the raw zone.

dbt on Spark reads its sources from the lake, not from the DuckDB file. The raw zone holds
the landed rows (raw_zone.py); the tables the Python steps keep in the warehouse (the gates'
holds, quarantine, the publish history, the churn model's fits) are copied here whole, at
`<lake>/warehouse/<schema>/<table>/data_0.parquet`, each written aside and renamed into
place. `<lake>/catalog/` lists every table the lake holds, so that dbt registers those and
drops the rest (macros/lake_tables.sql): a table the warehouse does not have yet (no sync, no
fitted model) is absent on Spark too, as it is on DuckDB, rather than empty.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import duckdb

from orchestration.ingest.raw_zone import (
    PARTITION_COLUMN,
    sql_literal,
    swap_folder,
    table_folder,
)
from orchestration.warehouse_schema import (
    PREDICTIONS_SCHEMA,
    PUBLISH_SCHEMA,
    QUALITY_SCHEMA,
    QUARANTINE_SCHEMA,
    RAW_SCHEMA,
)

# The warehouse's tables that dbt models read (their dbt sources), written by Python steps.
WAREHOUSE_TABLES = (
    (QUALITY_SCHEMA, "held_partitions"),
    (QUARANTINE_SCHEMA, "email_events"),
    (QUARANTINE_SCHEMA, "contacts"),
    (PUBLISH_SCHEMA, "audience_entries"),
    (PUBLISH_SCHEMA, "member_failures"),
    (PREDICTIONS_SCHEMA, "clv_fits"),
    (PREDICTIONS_SCHEMA, "clv_expected_orders"),
)
CATALOG = "catalog"


def warehouse_folder(lake: Path, schema: str, table: str) -> Path:
    return lake / "warehouse" / schema / table


def export_catalog(con: duckdb.DuckDBPyConnection, lake: Path) -> dict[str, str]:
    """Copy the warehouse's tables to the lake and write the catalog; {table: location}."""
    listed = con.execute("select table_schema || '.' || table_name from information_schema.tables")
    present = {name for (name,) in listed.fetchall()}
    entries: list[tuple[str, str, str, bool]] = []
    for schema, table in WAREHOUSE_TABLES:
        folder = warehouse_folder(lake, schema, table)
        if f"{schema}.{table}" in present:
            _replace(con, f"select * from {schema}.{table}", folder)
            entries.append((schema, table, str(folder.resolve()), False))
        elif folder.exists():
            shutil.rmtree(folder)
    raw = lake / RAW_SCHEMA
    for folder in sorted(raw.iterdir()) if raw.exists() else []:
        if not folder.name.startswith(".") and any(folder.glob(f"{PARTITION_COLUMN}=*")):
            folder = table_folder(lake, folder.name)
            entries.append((RAW_SCHEMA, folder.name, str(folder.resolve()), True))
    con.execute(
        "create or replace temp table lake_catalog (table_schema varchar, table_name varchar, "
        "location varchar, partitioned boolean)"
    )
    con.executemany("insert into lake_catalog values (?, ?, ?, ?)", entries)
    _replace(con, "select * from lake_catalog order by all", lake / CATALOG)
    con.execute("drop table lake_catalog")
    return {f"{schema}.{table}": location for schema, table, location, _ in entries}


def _replace(con: duckdb.DuckDBPyConnection, query: str, folder: Path) -> None:
    """Write `query` to `folder`/data_0.parquet aside, then swap the folder into place."""
    staging = folder.parent / f".staging-{uuid.uuid4().hex}"
    aside = staging / folder.name
    aside.mkdir(parents=True)
    try:
        con.execute(
            f"copy ({query}) to '{sql_literal(aside / 'data_0.parquet')}' "
            "(format parquet, compression zstd)"
        )
        swap_folder(aside, folder, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
