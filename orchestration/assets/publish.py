"""One publish asset per audience, generated from the dbt manifest.

Each depends on its audience model, whose blocking `audience_gate` must pass first, and syncs
it to the configured target with the engine in `orchestration.publish.engine`. A sync the
circuit breaker refuses fails the asset with the reason; nothing is sent.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    asset,
)

from orchestration.assets.audiences import AudienceSpec, audience_specs
from orchestration.assets.ingest import WAREHOUSE_POOL
from orchestration.publish.engine import CircuitBreakerOpen, SyncReport, SyncSettings, sync_audience
from orchestration.resources import DuckDBWarehouse
from orchestration.resources.publish import PublishTarget


def _metadata(report: SyncReport) -> dict:
    return {
        "dagster/row_count": report.previous + report.adds - report.removes
        if not report.dry_run
        else report.previous,
        "target": report.target,
        "desired_members": report.desired,
        "adds": report.adds,
        "removes": report.removes,
        "updates": report.updates,
        "batches": report.batches,
        "resumed_batches": report.resumed_batches,
        "confirmed": report.confirmed,
        "failed_members": report.failed,
        "dry_run": report.dry_run,
        "sync_seconds": report.seconds,
    }


def build_publish_asset(spec: AudienceSpec) -> AssetsDefinition:
    @asset(
        key=AssetKey(["publish", spec.name]),
        deps=[spec.key],
        group_name="publish",
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        description=f"Syncs {spec.name} to the target's list '{spec.list_name}': adds, removes "
        "and attribute updates since the last confirmed state.",
        metadata={f"audience_{k}": str(v) for k, v in spec.settings.items()},
    )
    def _publish(
        context: AssetExecutionContext,
        warehouse: DuckDBWarehouse,
        publish_target: PublishTarget,
    ) -> MaterializeResult:
        settings = SyncSettings(
            list_name=spec.list_name,
            max_change_share=float(spec.settings.get("max_change_share", 0.5)),
            asm_group_id=spec.settings.get("asm_group_id"),
            dry_run=publish_target.dry_run,
            force=publish_target.force,
        )
        adapter = publish_target.adapter()
        with warehouse.connect() as con:
            try:
                report = sync_audience(con, spec.name, adapter, context.run.run_id, settings)
            except CircuitBreakerOpen as exc:
                raise Failure(description=str(exc)) from exc
        context.log.info(
            f"{spec.name} -> {report.target}: +{report.adds} -{report.removes} "
            f"~{report.updates} in {report.batches} batches"
            + (" (dry run: nothing sent)" if report.dry_run else "")
        )
        return MaterializeResult(metadata=_metadata(report))

    return _publish


def build_publish_assets() -> list[AssetsDefinition]:
    return [build_publish_asset(spec) for spec in audience_specs()]
