"""What an ingestion run records on each raw partition: that day's facts, not the run's.

A backfill covers hundreds of days in one run; Dagster gives every partition of the run the
step's metadata. So the step's own metadata holds only what is true of the table (its name
and size after the run), each day gets its rows, files, quarantine and load from the
warehouse's record of that day (`quality.partition_loads`, written by the same load), and
the described column schema is on the asset's definition.
"""

import datetime as dt
import json
from pathlib import Path

import duckdb
from dagster import AssetKey, MetadataValue, TableColumn, TableSchema

from orchestration.ingest import LoadResult, SourceSpec, ensure_raw_tables
from orchestration.ingest.columns import column_description
from orchestration.ingest.quarantine import PARTITION_LOADS
from orchestration.ingest.raw_zone import table_folder
from orchestration.warehouse_schema import RAW_SCHEMA


def raw_schemas(spec: SourceSpec) -> dict[str, TableSchema]:
    """The source's raw tables' columns, typed and described, from the shape every load
    starts from (an in-memory table per raw table): stated once on the asset's definition,
    not on each of a backfill's hundreds of partition events."""
    con = duckdb.connect()
    try:
        ensure_raw_tables(con, spec)
        found = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = ? order by table_name, ordinal_position",
            [RAW_SCHEMA],
        ).fetchall()
    finally:
        con.close()
    columns: dict[str, list[TableColumn]] = {}
    for table, name, kind in found:
        described = TableColumn(name=name, type=kind, description=column_description(table, name))
        columns.setdefault(table, []).append(described)
    return {table: TableSchema(columns=cols) for table, cols in columns.items()}


def table_metadata(con, table: str) -> dict:
    """The table's size after the run, the same for every partition it covers (its name and
    columns are on the asset's definition)."""
    total = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    return {"table_rows_after_run": total}


def zone_metadata(lake: Path | None, table: str, result: LoadResult) -> dict:
    """Where the raw zone holds the table, and what writing this run's days cost (for every
    table of the source together)."""
    if lake is None:
        return {}
    return {
        "raw_zone": MetadataValue.path(str(table_folder(lake, table))),
        "raw_zone_seconds": result.zone_seconds,
    }


def rows_by_day(con, table: str, days: list[dt.date]) -> dict[dt.date, int]:
    """Rows the table holds for each of the days (one grouped scan of the range)."""
    found = con.execute(
        f"select _partition_date, count(*) from {table} "
        "where _partition_date between ? and ? group by 1",
        [min(days), max(days)],
    ).fetchall()
    return dict(found)


def loads_by_day(con, source: str, batch_id: str) -> dict[dt.date, tuple[int, int, dict]]:
    """Rows read, rows quarantined and quarantine by rule of each day this run loaded."""
    found = con.execute(
        f"select partition_date, sum(rows_read), sum(rows_quarantined), "
        f"  list(quarantined_by_rule) from {PARTITION_LOADS} "
        "where source = ? and _batch_id = ? group by 1",
        [source, batch_id],
    ).fetchall()
    loads = {}
    for day, read, quarantined, by_rule in found:
        rules: dict[str, int] = {}
        for part in by_rule:
            for rule, n in json.loads(part or "{}").items():
                rules[rule] = rules.get(rule, 0) + n
        loads[day] = (int(read), int(quarantined), rules)
    return loads


def day_metadata(
    rows: int,
    files: list[Path],
    skipped: list[str],
    load: tuple[int, int, dict] | None,
    landing_root: Path,
) -> dict:
    """One raw partition's metadata: its rows in the table, and what its load read."""
    metadata: dict = {"dagster/row_count": rows, "files": len(files)}
    if files:
        metadata["file_names"] = MetadataValue.md(
            "\n".join(f"- `{f.relative_to(landing_root).as_posix()}`" for f in files)
        )
    if skipped:
        metadata["files_not_loaded"] = MetadataValue.md("\n".join(f"- `{s}`" for s in skipped))
    if load is None:
        metadata["load"] = "no landing files for this day: its rows are unchanged"
        return metadata
    read, quarantined, rules = load
    metadata["rows_read"] = read
    metadata["rows_quarantined"] = quarantined
    if rules:
        metadata["quarantined_by_rule"] = ", ".join(
            f"{rule}: {n}" for rule, n in sorted(rules.items(), key=lambda kv: -kv[1])
        )
    return metadata


def add_day_metadata(context, key: AssetKey, per_day: dict[dt.date, dict]) -> None:
    """Attach each day's metadata to its partition of `key` in this run."""
    for day, metadata in per_day.items():
        context.add_asset_metadata(metadata, asset_key=key, partition_key=day.isoformat())
