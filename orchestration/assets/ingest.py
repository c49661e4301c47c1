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
    PartitionsDefinition,
    multi_asset,
)

from orchestration.assets.ingest_metadata import (
    add_day_metadata,
    day_metadata,
    loads_by_day,
    raw_schemas,
    rows_by_day,
    table_metadata,
    zone_metadata,
)
from orchestration.ingest import SOURCES, LoadResult, SourceSpec, load_days
from orchestration.ingest.consent import consent_table
from orchestration.quality_thresholds import QualityThresholds
from orchestration.resources import DuckDBWarehouse, LandingZone, RawZone
from orchestration.resources.warehouse import WAREHOUSE_POOL
from orchestration.warehouse_schema import QUARANTINE_SCHEMA, RAW_SCHEMA


def raw_asset_key(table: str) -> AssetKey:
    return AssetKey([RAW_SCHEMA, table])


def consent_asset_key(source: str) -> AssetKey | None:
    """The asset of a source's consent signals (`raw.<source>_consent`), if it has any."""
    table = consent_table(source)
    return AssetKey(table.split(".")) if table else None


def _rule_summary(result: LoadResult) -> str:
    return ", ".join(f"{rule}: {n}" for rule, n in result.quarantined_by_rule.items())


def build_ingest_asset(spec: SourceSpec, partitions_def: PartitionsDefinition) -> AssetsDefinition:
    schemas = raw_schemas(spec)
    specs = [
        AssetSpec(
            key=raw_asset_key(table.name),
            description=f"{table.description} Source: {spec.description}",
            group_name="ingest",
            kinds={"duckdb"},
            metadata={
                "landing_folder": spec.name,
                "natural_key": spec.key,
                "dagster/table_name": f"{RAW_SCHEMA}.{table.name}",
                "dagster/column_schema": schemas[table.name],
            },
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
                metadata={"landing_folder": spec.name, "dagster/table_name": signals},
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
        raw_zone: RawZone,
        quality: QualityThresholds,
    ):
        days = [dt.date.fromisoformat(k) for k in context.partition_keys]
        files = {day: landing.files(spec.name, day, spec.suffixes) for day in days}
        skipped_by_day = {day: landing.skipped(spec.name, day, spec.suffixes) for day in days}
        skipped = [s for day in days for s in skipped_by_day[day]]
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
                lake=raw_zone.lake,
            )
            rate = result.rows_read / result.seconds if result.seconds else 0.0
            context.log.info(
                f"{spec.name}: {result.rows_read:,} rows read from {len(result.files):,} files "
                f"in {result.seconds:.1f} s ({rate:,.0f} rows/s)"
            )
            if raw_zone.lake is not None and result.days_with_files:
                context.log.info(
                    f"{spec.name}: {len(result.days_with_files):,} days written to the raw zone "
                    f"as Parquet in {result.zone_seconds:.1f} s"
                )
            if result.rows_quarantined:
                # A few bad rows are normal in any export (the sample shop writes 0.2% on
                # purpose): within the tolerance they are set aside as expected; above it, the
                # quality gate judges the days, and the warning says so.
                share = result.rows_quarantined / max(result.rows_read, 1)
                within = share <= quality.quarantine_tolerance
                log = context.log.info if within else context.log.warning
                log(
                    f"{spec.name}: {result.rows_quarantined:,} rows quarantined ({share:.2%} of "
                    f"those read, {'within' if within else 'above'} the "
                    f"{quality.quarantine_tolerance:.2%} tolerance: {_rule_summary(result)}) "
                    f"in {QUARANTINE_SCHEMA}.{spec.name}"
                )
            if len(result.days_with_files) < len(days):
                context.log.info(
                    f"{spec.name}: {len(days) - len(result.days_with_files)} of {len(days)} "
                    "days had no landing files; their rows are unchanged"
                )
            loads = loads_by_day(con, spec.name, context.run.run_id)
            root = Path(landing.root)
            for table in spec.tables:
                key = raw_asset_key(table.name)
                rows = rows_by_day(con, f"{RAW_SCHEMA}.{table.name}", days)
                add_day_metadata(context, key, {
                    day: day_metadata(
                        rows.get(day, 0), files[day], skipped_by_day[day], loads.get(day), root
                    )
                    for day in days
                })  # fmt: skip
                yield MaterializeResult(
                    asset_key=key,
                    metadata={
                        **table_metadata(con, f"{RAW_SCHEMA}.{table.name}"),
                        "folders_never_read": ", ".join(stray) or "(none)",
                        **zone_metadata(raw_zone.lake, table.name, result),
                    },
                )
            if signals_key:
                rows = rows_by_day(con, signals, days)
                add_day_metadata(
                    context,
                    signals_key,
                    {day: {"dagster/row_count": rows.get(day, 0)} for day in days},
                )
                yield MaterializeResult(
                    asset_key=signals_key, metadata=table_metadata(con, signals)
                )

    return _ingest


def build_ingest_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    return [build_ingest_asset(spec, partitions_def) for spec in SOURCES]
