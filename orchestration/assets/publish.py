"""One publish asset per audience, generated from the dbt manifest.

Each depends on its audience model, whose blocking `audience_gate` must pass first, and on
the frequency cap across audiences (`publish/frequency_caps`) unless the audience is left out
of it (`frequency_capped: false`, the cart-abandonment steps, which the 15-minute job
publishes on their own), and syncs it to the configured target with the engine in
`orchestration.publish.engine`. A sync the circuit breaker refuses fails the asset with the
reason; nothing is sent.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    asset,
)

from orchestration.assets.audiences import AudienceSpec
from orchestration.assets.dbt import run_date_of
from orchestration.assets.ingest import consent_asset_key
from orchestration.assets.publish_checks import publish_check_results, publish_check_specs
from orchestration.ingest import SOURCES
from orchestration.publish.caps import CAPPED_TABLE, compute_caps
from orchestration.publish.engine import CircuitBreakerOpen, SyncReport, SyncSettings, sync_audience
from orchestration.publish.entries import ENTRIES_TABLE, record_entries
from orchestration.publish.opt_out_removal import OptOutAudience, remove_opted_out
from orchestration.resources import DuckDBWarehouse
from orchestration.resources.publish import PublishTarget
from orchestration.resources.warehouse import WAREHOUSE_POOL
from orchestration.shop_time import day_end


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
        "as_of": report.as_of.isoformat() if report.as_of else "",
        "skipped": report.skipped or "",
        **(report.funnel.metadata() if report.funnel else {}),
    }


CAPS_KEY = AssetKey(["publish", "frequency_caps"])
# What the targets refused or reported as not mailable, as the lineage shows it: a table every
# sync appends to (never materialized on its own) that marts.suppressions reads as the source
# publish.member_failures, so an ESP's unsubscribe reaches the next day's suppressions.
MEMBER_FAILURES_SPEC = AssetSpec(
    key=AssetKey(["publish", "member_failures"]),
    # What the ESP reports back is an input, like a landing file: marts.suppressions reads
    # what earlier syncs recorded. In the ingest group the lineage reads in flow order; in
    # publish's, the marts would be drawn after publishing.
    group_name="ingest",
    kinds={"duckdb"},
    description="Members an ESP refused or reported as not mailable (esp_status: "
    "unsubscribed, cleaned, complained, suppressed), per batch: written by every publish "
    "asset, read by marts.suppressions on the next build.",
)


def build_caps_asset(specs: list[AudienceSpec], shop_timezone: str) -> AssetsDefinition:
    """The cap reads every capped audience's table, yet depends only on the models they all
    select from: those come out of the same dbt step as the audiences, so the cap still runs
    after them, and an audience that fails its blocking gate holds back its own publish
    alone, not every capped one."""
    capped = [s for s in specs if s.frequency_capped]
    priorities = [(s.name, int(s.settings.get("priority", 0))) for s in capped]
    shared_parents = frozenset.intersection(*(s.parents for s in capped)) if capped else ()

    @asset(
        key=CAPS_KEY,
        deps=sorted(shared_parents, key=lambda k: k.to_user_string()),
        group_name="publish",
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        description="Frequency cap across audiences: at most N at once, highest priority "
        "first, and at most N entries in the window before the end of the run date (the "
        "publish_target resource's "
        "frequency_cap_audiences and frequency_cap_window_days). "
        f"Reads {', '.join(s.name for s in capped)}.",
    )
    def frequency_caps(
        context: AssetExecutionContext,
        warehouse: DuckDBWarehouse,
        publish_target: PublishTarget,
    ) -> MaterializeResult:
        cap = publish_target.frequency_cap_audiences
        window = publish_target.frequency_cap_window_days
        run_date = run_date_of(context, shop_timezone)
        window_end = day_end(run_date, shop_timezone)
        with warehouse.connect() as con:
            lost = compute_caps(
                con, priorities, publish_target.target, cap, window, window_end, run_date
            )
        context.log.info(f"frequency cap holds back {sum(lost.values())} memberships")
        return MaterializeResult(
            metadata={
                "dagster/row_count": sum(lost.values()),
                "cap_audiences": cap,
                "cap_window_days": window,
                "cap_window_end": window_end.isoformat(),
                **{f"capped: {name}": lost.get(name, 0) for name, _ in priorities},
            }
        )

    return frequency_caps


def sync_settings(spec: AudienceSpec, target: PublishTarget) -> SyncSettings:
    """How an audience is synced: its meta.audience settings, else the target's defaults."""
    return SyncSettings(
        list_name=spec.list_name,
        max_change_share=float(spec.settings.get("max_change_share", target.max_change_share)),
        min_change_rows=int(spec.settings.get("min_change_rows", target.min_change_rows)),
        asm_group_id=spec.settings.get("asm_group_id"),
        dry_run=target.dry_run,
        force=target.force,
        capped_table=CAPPED_TABLE if spec.frequency_capped else None,
        extra_attributes=tuple(spec.settings.get("attributes", {})),
    )


# A publish asset is the ESP list of its audience: `publish/list_aud_vip`, so the lineage
# never shows two assets both labelled `aud_vip`.
LIST_PREFIX = "list_"


def publish_key(audience: str) -> AssetKey:
    """The key of the asset that syncs `audience` to the target's list."""
    return AssetKey(["publish", f"{LIST_PREFIX}{audience}"])


def published_audience(key: AssetKey) -> str | None:
    """The audience a publish asset syncs, or None for another asset."""
    if key.path[0] != "publish" or not key.path[-1].startswith(LIST_PREFIX):
        return None
    return key.path[-1].removeprefix(LIST_PREFIX)


def build_publish_asset(spec: AudienceSpec) -> AssetsDefinition:
    @asset(
        key=publish_key(spec.name),
        check_specs=publish_check_specs(publish_key(spec.name)),
        deps=[spec.key, CAPS_KEY] if spec.frequency_capped else [spec.key],
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
        settings = sync_settings(spec, publish_target)
        adapter = publish_target.adapter()
        with warehouse.connect() as con:
            try:
                report = sync_audience(con, spec.name, adapter, context.run.run_id, settings)
            except CircuitBreakerOpen as exc:
                raise Failure(description=str(exc)) from exc
            checks = publish_check_results(con, report, publish_target.max_failed_share)
        if report.skipped:
            context.log.info(report.skipped)
            return MaterializeResult(metadata=_metadata(report), check_results=checks)
        context.log.info(
            f"{spec.name} -> {report.target}: +{report.adds} -{report.removes} "
            f"~{report.updates} in {report.batches} batches"
            + (" (dry run: nothing sent)" if report.dry_run else "")
        )
        if report.funnel:
            context.log.info(f"{spec.name} funnel: {report.funnel.summary()}")
        return MaterializeResult(metadata=_metadata(report), check_results=checks)

    return _publish


ENTRIES_KEY = AssetKey(["publish", "audience_entries"])


def build_entries_asset(specs: list[AudienceSpec], shop_timezone: str) -> AssetsDefinition:
    capped = any(s.frequency_capped for s in specs)

    @asset(
        key=ENTRIES_KEY,
        # After the cap: whether it held a member back on entry is part of the spell.
        deps=[s.key for s in specs] + ([CAPS_KEY] if capped else []),
        group_name="publish",
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        description="Who entered and left each audience when, holdout included "
        "(publish.audience_entries): the cohorts of the holdout read-out.",
    )
    def audience_entries(
        context: AssetExecutionContext, warehouse: DuckDBWarehouse
    ) -> MaterializeResult:
        run_date = run_date_of(context, shop_timezone)
        with warehouse.connect() as con:
            changes = record_entries(con, [s.name for s in specs], run_date)
            open_spells = con.execute(
                f"select count(*) from {ENTRIES_TABLE} where left_on is null"
            ).fetchall()[0][0]
        metadata = {"dagster/row_count": open_spells, "run_date": run_date.isoformat()}
        for name, (entered, left) in changes.items():
            metadata[f"entered: {name}"] = entered
            metadata[f"left: {name}"] = left
        return MaterializeResult(metadata=metadata)

    return audience_entries


OPT_OUTS_KEY = AssetKey(["publish", "opt_out_removals"])


def build_opt_out_asset(specs: list[AudienceSpec]) -> AssetsDefinition:
    """The suppression-only sync. It depends on the consent signals alone, which no gate
    holds, so it runs whatever the gates, dbt or the audience syncs do in the same run."""
    signals = [k for s in SOURCES if (k := consent_asset_key(s.name))]
    audiences = [OptOutAudience(s.name, s.list_name, s.settings.get("asm_group_id")) for s in specs]

    @asset(
        key=OPT_OUTS_KEY,
        deps=signals,
        group_name="publish",
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        description="Removes every member with a landed opt-out (unsubscribe, complaint, hard "
        "bounce, the audience's group) from every published list, even when a gate holds "
        "the day's audiences: an opt-out is honoured within a day whatever else failed.",
    )
    def opt_out_removals(
        context: AssetExecutionContext,
        warehouse: DuckDBWarehouse,
        publish_target: PublishTarget,
    ) -> MaterializeResult:
        adapter = publish_target.adapter()
        with warehouse.connect() as con:
            reports = remove_opted_out(
                con, audiences, adapter, context.run.run_id, publish_target.dry_run
            )
        removed = sum(r.removes for r in reports.values())
        confirmed = sum(r.confirmed for r in reports.values())
        failed = sum(r.failed for r in reports.values())
        context.log.info(
            f"opt-outs: {removed} members to remove from {len(reports)} lists at "
            f"{adapter.name}" + (" (dry run: nothing sent)" if publish_target.dry_run else "")
        )
        return MaterializeResult(
            metadata={
                "dagster/row_count": removed,
                "target": adapter.name,
                "removes": removed,
                "confirmed": confirmed,
                "failed_members": failed,
                "dry_run": publish_target.dry_run,
                **{f"removed: {name}": r.removes for name, r in reports.items()},
            }
        )

    return opt_out_removals


def build_publish_assets(specs: list[AudienceSpec], shop_timezone: str) -> list[AssetsDefinition]:
    return [
        build_opt_out_asset(specs),
        build_caps_asset(specs, shop_timezone),
        *(build_publish_asset(spec) for spec in specs),
        build_entries_asset(specs, shop_timezone),
    ]
