"""The quality gate of each raw table as a blocking Dagster asset check.

dagster-ge does not support Great Expectations 1.x, so the checks are written directly: each
validates the run's partitions (`orchestration.quality.raw_gate`) and fails with ERROR
severity when a blocking rule broke, so Dagster skips everything downstream in the same run.
The metadata lists each failure with its observed value and masked sample rows; the audience
gates (`assets/audience_gates.py`) report the same way.
"""

import json

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    AssetSpec,
    MetadataValue,
    asset_check,
)

from orchestration.assets.ingest import raw_asset_key
from orchestration.ingest import SOURCES, SourceSpec, ensure_raw_tables
from orchestration.ingest.quarantine import PARTITION_LOADS, ensure_quarantine_tables
from orchestration.partitions import run_partition_range
from orchestration.quality.raw_gate import run_gate
from orchestration.quality.report import GateReport
from orchestration.quality_thresholds import QualityThresholds
from orchestration.resources import DuckDBWarehouse
from orchestration.resources.warehouse import WAREHOUSE_POOL
from orchestration.shop_time import shop_today
from orchestration.warehouse_schema import RAW_SCHEMA

GATE_CHECK_NAME = "quality_gate"
MAX_LISTED_FAILURES = 20


def _failures_markdown(report: GateReport) -> str:
    lines = ["| severity | rule | what | observed | sample rows |", "|---|---|---|---|---|"]
    for failure in report.failures[:MAX_LISTED_FAILURES]:
        samples = "<br>".join(json.dumps(s, default=str) for s in failure.samples)
        cells = [failure.severity, failure.rule, failure.message, str(failure.observed), samples]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if len(report.failures) > MAX_LISTED_FAILURES:
        lines.append(f"\n... and {len(report.failures) - MAX_LISTED_FAILURES} more")
    return "\n".join(lines)


def gate_check_result(report: GateReport) -> AssetCheckResult:
    """A gate's report as a check result: ERROR if a blocking rule broke, else WARN or pass."""
    span = f"{report.start}" if report.start == report.end else f"{report.start}..{report.end}"
    metadata = {
        "partitions": span,
        "rows_validated": report.rows_validated,
        "expectations_evaluated": report.expectations_evaluated,
        "quarantined_rows": report.quarantined_rows,
        "max_quarantine_share": round(report.max_quarantine_share, 4),
        "failed_rules": len(report.failures),
        "validation_seconds": report.seconds,
        "great_expectations_seconds": round(report.gx_seconds, 3),
    }
    if report.failures:
        metadata["failures"] = MetadataValue.md(_failures_markdown(report))
        description = " ".join(f.message for f in report.failures[:3])
    else:
        relation = report.table if "." in report.table else f"{RAW_SCHEMA}.{report.table}"
        description = f"{relation} {span}: every rule passed."
    return AssetCheckResult(
        passed=not report.failures,
        severity=AssetCheckSeverity.WARN
        if report.failures and not report.blocking
        else AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )


def build_gate_check(spec: SourceSpec, shop_timezone: str) -> AssetChecksDefinition:
    """The gate of a source's main raw table (line items follow their parent's gate)."""
    table = spec.tables[0].name

    @asset_check(
        asset=raw_asset_key(table),
        name=GATE_CHECK_NAME,
        blocking=True,
        pool=WAREHOUSE_POOL,
        description=f"expectations/raw_{table}.json, quarantine share, volume and freshness "
        "of the run's partitions; a failure blocks everything downstream.",
    )
    def _gate(
        context: AssetCheckExecutionContext,
        warehouse: DuckDBWarehouse,
        quality: QualityThresholds,
    ) -> AssetCheckResult:
        with warehouse.connect() as con:
            ensure_raw_tables(con, spec)
            ensure_quarantine_tables(con, spec.name)
            span = run_partition_range(context.run.tags)
            if span is None:  # launched without a partition: the newest landed day
                newest = con.execute(
                    f"select max(partition_date) from {PARTITION_LOADS} where source = ?",
                    [spec.name],
                ).fetchall()[0][0]
                newest = newest or shop_today(shop_timezone)
                span = (newest, newest)
            report = run_gate(
                con,
                table,
                span[0],
                span[1],
                quality,
                context.run.run_id,
                shop_timezone,
                open_day=shop_today(shop_timezone),
            )
        for failure in report.failures:
            context.log.warning(f"{RAW_SCHEMA}.{table} [{failure.rule}] {failure.message}")
        context.log.info(
            f"{RAW_SCHEMA}.{table}: gate over {report.start}..{report.end} "
            f"{'failed' if report.blocking else 'passed'}: {report.rows_validated:,} rows, "
            f"{report.expectations_evaluated:,} expectations in {report.seconds:.1f} s "
            f"(Great Expectations {report.gx_seconds:.1f} s)"
        )
        return gate_check_result(report)

    return _gate


# The gates' verdicts as the lineage shows them: a view the checks keep up to date (never
# materialized by a run) that dbt's staging models read as the source quality.held_partitions.
HELD_PARTITIONS_SPEC = AssetSpec(
    key=AssetKey(["quality", "held_partitions"]),
    deps=[raw_asset_key(spec.tables[0].name) for spec in SOURCES],
    group_name="ingest",
    kinds={"duckdb"},
    description="Landing days whose latest quality gate failed (written by each raw table's "
    "quality_gate check): staging leaves them out until a run passes them.",
)


def build_gate_checks(shop_timezone: str) -> list[AssetChecksDefinition]:
    return [build_gate_check(spec, shop_timezone) for spec in SOURCES]
