"""One daily-partitioned Dagster asset per landing source, made from its `SourceSpec`."""

import datetime as dt
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    TableColumn,
    TableSchema,
    multi_asset,
)

from orchestration.ingest import SOURCES, LoadResult, SourceSpec, load_days
from orchestration.ingest.consent import consent_table
from orchestration.quality_thresholds import QualityThresholds
from orchestration.resources import DuckDBWarehouse, LandingZone
from orchestration.resources.warehouse import WAREHOUSE_POOL
from orchestration.warehouse_schema import QUARANTINE_SCHEMA, RAW_SCHEMA


def raw_asset_key(table: str) -> AssetKey:
    return AssetKey([RAW_SCHEMA, table])


def consent_asset_key(source: str) -> AssetKey | None:
    """The asset of a source's consent signals (`raw.<source>_consent`), if it has any."""
    table = consent_table(source)
    return AssetKey(table.split(".")) if table else None


def _column_schema(con, table: str) -> TableSchema:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [RAW_SCHEMA, table],
    ).fetchall()
    return TableSchema(columns=[TableColumn(name=n, type=t) for n, t in rows])


def _metadata(result: LoadResult, table: str, total_rows: int, schema: TableSchema) -> dict:
    return {
        # A run may cover many partitions; each gets this metadata, so counts are stated for
        # the table and for the run, never as if they were one partition's.
        "dagster/row_count": total_rows,
        "rows_written_in_run": result.rows_written.get(table, 0),
        "dagster/column_schema": schema,
        "dagster/table_name": f"{RAW_SCHEMA}.{table}",
        "days_in_run": len(result.days),
        "days_loaded": len(result.days_with_files),
        "days_without_files": len(result.days) - len(result.days_with_files),
        "files": len(result.files),
        "empty_files": result.empty_files,
        "rows_read": result.rows_read,
        "duplicates_dropped": result.duplicates_dropped,
        "rows_quarantined": result.rows_quarantined,
        "quarantined_by_rule": _rule_summary(result) or "(none)",
        "load_seconds": result.seconds,
        "last_files": MetadataValue.md(
            "\n".join(f"- `{f}`" for f in result.files[-5:]) or "(none)"
        ),
    }


def _rule_summary(result: LoadResult) -> str:
    return ", ".join(f"{rule}: {n}" for rule, n in result.quarantined_by_rule.items())


def build_ingest_asset(spec: SourceSpec, partitions_def: PartitionsDefinition) -> AssetsDefinition:
    specs = [
        AssetSpec(
            key=raw_asset_key(table.name),
            description=f"{table.description} Source: {spec.description}",
            group_name="ingest",
            kinds={"duckdb"},
            metadata={"landing_folder": spec.name, "natural_key": spec.key},
        )
        for table in spec.tables
    ]
    signals = consent_table(spec.name)
    signals_key = consent_asset_key(spec.name)
    if signals_key:
        # Its own asset, with no gate: the suppression-only sync reads it when a gate holds
        # the source's rows.
        specs.append(
            AssetSpec(
                key=signals_key,
                description=f"Consent signals of every landed {spec.name} row, good or "
                "quarantined, append-only (unsubscribes, complaints, hard bounces, opt-ins).",
                group_name="ingest",
                kinds={"duckdb"},
                metadata={"landing_folder": spec.name},
            )
        )

    @multi_asset(
        name=f"ingest_{spec.name}",
        specs=specs,
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def _ingest(
        context: AssetExecutionContext,
        warehouse: DuckDBWarehouse,
        landing: LandingZone,
        quality: QualityThresholds,
    ):
        days = [dt.date.fromisoformat(k) for k in context.partition_keys]
        files = {day: landing.files(spec.name, day, spec.suffixes) for day in days}
        skipped = [s for day in days for s in landing.skipped(spec.name, day, spec.suffixes)]
        stray = landing.stray_folders(spec.name)
        if skipped:
            context.log.warning(f"{spec.name}: not loaded: {'; '.join(skipped)}")
        if stray:
            context.log.warning(
                f"{spec.name}: folders never read (not day=YYYY-MM-DD): {', '.join(stray)}"
            )
        with warehouse.connect() as con:
            context.log.info(
                f"{spec.name}: reading {sum(len(f) for f in files.values()):,} files "
                f"of {len(days)} days"
            )
            result = load_days(
                con,
                spec,
                files,
                Path(landing.root),
                context.run.run_id,
                quality,
                max_batch_bytes=landing.batch_megabytes * 2**20,
                progress=context.log.info,
            )
            rate = result.rows_read / result.seconds if result.seconds else 0.0
            context.log.info(
                f"{spec.name}: {result.rows_read:,} rows read from {len(result.files):,} files "
                f"in {result.seconds:.1f} s ({rate:,.0f} rows/s)"
            )
            if result.rows_quarantined:
                context.log.warning(
                    f"{spec.name}: {result.rows_quarantined} rows quarantined "
                    f"({_rule_summary(result)}) in {QUARANTINE_SCHEMA}.{spec.name}"
                )
            if len(result.days_with_files) < len(days):
                context.log.info(
                    f"{spec.name}: {len(days) - len(result.days_with_files)} of {len(days)} "
                    "days had no landing files; their rows are unchanged"
                )
            for table in spec.tables:
                total = con.execute(f"select count(*) from {RAW_SCHEMA}.{table.name}").fetchall()
                yield MaterializeResult(
                    asset_key=raw_asset_key(table.name),
                    metadata={
                        **_metadata(
                            result, table.name, total[0][0], _column_schema(con, table.name)
                        ),
                        "files_not_loaded": MetadataValue.md(
                            "\n".join(f"- `{s}`" for s in skipped) or "(none)"
                        ),
                        "folders_never_read": ", ".join(stray) or "(none)",
                    },
                )
            if signals_key:
                total = con.execute(f"select count(*) from {signals}").fetchall()[0][0]
                yield MaterializeResult(
                    asset_key=signals_key,
                    metadata={
                        "dagster/row_count": total,
                        "dagster/table_name": signals,
                        "signals_recorded_in_run": result.consent_signals,
                    },
                )

    return _ingest


def build_ingest_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    return [build_ingest_asset(spec, partitions_def) for spec in SOURCES]
