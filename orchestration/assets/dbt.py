"""The dbt models as Dagster assets, their tests as asset checks (error severity blocks)."""

import datetime as dt
import json
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import duckdb
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, Output
from dagster_dbt import DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from orchestration.assets.dbt_translator import READOUT_TAG, LifecycleDbtTranslator
from orchestration.dbt_project import dbt_project
from orchestration.partitions import run_partition_range
from orchestration.resources import DbtEngine, DuckDBWarehouse
from orchestration.resources.dbt_engine import declared_columns
from orchestration.resources.warehouse import WAREHOUSE_POOL
from orchestration.shop_time import day_end, shop_today
from orchestration.warehouse_schema import AUDIENCE_SCHEMA

# Per mart, a breakdown worth plotting over time in the Dagster UI: (label column, metric).
MART_BREAKDOWNS = {
    "customer_rfm": ("rfm_segment", "count(*)"),
    "customer_lifecycle": ("lifecycle_stage", "count(*)"),
    "suppressions": ("reason", "count(distinct email)"),
    "email_engagement": ("engagement_bucket", "count(*)"),
    "customer_churn": ("'churned_share'", "avg(case when is_churned then 1.0 else 0 end)"),
}
# Every audience: its treatment and holdout sizes.
AUDIENCE_BREAKDOWN = ("case when is_holdout then 'holdout' else 'treatment' end", "count(*)")
# In the audiences schema but not an audience: the audiences built after it fill it (their
# drops are counted by the publish funnel).
DROPPED_MEMBERS = "dropped_members"


def run_date_for(tags: Mapping[str, str], today: dt.date) -> dt.date:
    """The day to compute as of: the run's last partition, else today in the shop's zone."""
    covered = run_partition_range(tags)
    return covered[1] if covered else today


def run_date_of(context: AssetExecutionContext, shop_timezone: str) -> dt.date:
    """`run_date_for` of a running step."""
    return run_date_for(context.run.tags, shop_today(shop_timezone))


def run_at_for(run_date: dt.date, shop_timezone: str, now: dt.datetime) -> dt.datetime:
    """The moment to compute as of (UTC): the end of the run date in the shop's zone, or now
    if that is earlier. A backfilled day is judged as of its end, today as of this moment."""
    return min(day_end(run_date, shop_timezone), now).astimezone(dt.UTC)


def dbt_build_args(
    run_date: dt.date,
    shop_timezone: str,
    now: dt.datetime,
    warehouse: DuckDBWarehouse,
    engine_vars: Mapping[str, Any] | None = None,
) -> list[str]:
    """`dbt build` as of the run date, into the warehouse the pipeline's settings name
    (profiles.yml reads the `warehouse_path` var, falling back to the environment for dbt
    run by hand), with the pipeline's DuckDB memory limit and threads, and what the dbt
    engine needs (DbtEngine.dbt_vars: on Spark, the lake). dbt's unit tests check
    SQL logic on fixed inputs, not the day's data: they run in CI (`dbt test --select
    test_type:unit`), not in every run."""
    variables = {
        "run_date": run_date.isoformat(),
        "run_at": f"{run_at_for(run_date, shop_timezone, now):%Y-%m-%d %H:%M:%S}",
        "shop_timezone": shop_timezone,
        "warehouse_path": warehouse.path,
        "duckdb_memory_limit": warehouse.memory_limit,
        "duckdb_threads": warehouse.threads,
        **(engine_vars or {}),
    }
    return [
        "build",
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        json.dumps(variables, sort_keys=True),
    ]


def table_metadata(con: duckdb.DuckDBPyConnection, key: AssetKey) -> dict[str, Any]:
    """Row count of a model's relation (key = schema/name) and its breakdown, if any."""
    relation = ".".join(key.path)
    metadata: dict[str, Any] = {
        "dagster/row_count": con.execute(f"select count(*) from {relation}").fetchall()[0][0]
    }
    audience = key.path[0] == AUDIENCE_SCHEMA and key.path[-1] != DROPPED_MEMBERS
    breakdown = AUDIENCE_BREAKDOWN if audience else None
    breakdown = MART_BREAKDOWNS.get(key.path[-1], breakdown)
    if breakdown:
        label, metric = breakdown
        rows = con.execute(
            f"select {label}, {metric} from {relation} group by 1 order by 1"
        ).fetchall()
        metadata.update({f"{key.path[-1]}: {name}": value for name, value in rows})
    return metadata


def progress_line(raw_event: Mapping[str, Any], done: int, total: int) -> str | None:
    """One line for the run log when dbt reports a model, seed or snapshot result (tests are
    counted by the checks), e.g. `dbt: built marts.customer_rfm (table) in 3.2 s, 12/40`."""
    name = raw_event["info"]["name"]
    if name not in ("LogModelResult", "LogSeedResult", "LogSnapshotResult"):
        return None
    data = raw_event["data"]
    node = data.get("node_info", {})
    relation = node.get("node_relation", {})
    target = ".".join(p for p in (relation.get("schema"), relation.get("alias")) if p)
    status = node.get("node_status", "")
    verb = "built" if status in ("success", "pass") else status
    seconds = float(data.get("execution_time") or 0.0)
    kind = node.get("materialized") or node.get("resource_type")
    return (
        f"dbt: {verb} {target or node.get('unique_id')} ({kind}) in {seconds:.1f} s, {done}/{total}"
    )


def _events_with_progress(invocation: Any, context: AssetExecutionContext) -> Iterator[Any]:
    """dbt's events as Dagster events, logging each model as dbt finishes it, so a long build
    shows in the run log which model it is on rather than nothing until the end."""
    total = len(context.selected_asset_keys)
    done = 0
    for raw in invocation.stream_raw_events():
        line = progress_line(raw.raw_event, done + 1, total)
        if line:
            done += 1
            context.log.info(line)
        yield from raw.to_default_asset_events(
            manifest=invocation.manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=context,
            target_path=invocation.target_path,
            project=invocation.project,
        )


def _build_dbt_step(
    name: str,
    manifest: Mapping[str, Any],
    shop_timezone: str,
    fresh_within_hours: float,
    select: str = "fqn:*",
    exclude: str | None = None,
) -> AssetsDefinition:
    translator = LifecycleDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True),
        fresh_within_hours=fresh_within_hours,
    )
    declared = declared_columns(manifest)

    @dbt_assets(
        name=name,
        manifest=manifest,
        project=dbt_project,
        dagster_dbt_translator=translator,
        select=select,
        exclude=exclude,
        pool=WAREHOUSE_POOL,
    )
    def _dbt_step(
        context: AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: DuckDBWarehouse,
        dbt_engine: DbtEngine,
    ):
        run_date = run_date_of(context, shop_timezone)
        context.log.info(f"dbt build on {dbt_engine.target} as of {run_date} ({shop_timezone})")
        now = dt.datetime.now(dt.UTC)
        args = dbt_build_args(run_date, shop_timezone, now, warehouse, dbt_engine.dbt_vars())
        if not sys.stdout.isatty():  # dbt's lines go to the console and the run's logs
            args.append("--no-use-colors")
        if dbt_engine.on_spark:
            with warehouse.connect(log=context.log) as con:
                listed = dbt_engine.before_build(con)
            context.log.info(f"dbt on Spark: the lake lists {len(listed)} tables")
        else:
            # dbt opens the file itself: wait (and say so) while another process holds it;
            # the profile's retries cover the moment between this check and dbt's connection.
            warehouse.wait_until_free(context.log)
        invocation = dbt.cli(args, context=context, raise_on_error=False)
        # dbt holds the warehouse file while it runs; row counts are read once it is done.
        events = list(_events_with_progress(invocation, context))
        with warehouse.connect(read_only=not dbt_engine.on_spark, log=context.log) as con:
            built = [tuple(key.path) for key in context.selected_asset_keys]
            empty = dbt_engine.after_build(con, [k for k in built if len(k) == 2], declared)
            if empty:
                context.log.info(f"Spark left no rows in {', '.join(empty)}")
            for event in events:
                if isinstance(event, Output):
                    key = context.asset_key_for_output(event.output_name)
                    event = event.with_metadata({**event.metadata, **table_metadata(con, key)})
                yield event
        error = invocation.get_error()
        if error is not None:
            raise error

    return _dbt_step


# The first model built from the churn model's output (the `predictions` sources): it and
# everything built from it wait for the churn model's asset, in a dbt step of their own.
PREDICTIONS_MODEL = "customer_predictions"


def build_dbt_assets(
    manifest: Mapping[str, Any], shop_timezone: str, fresh_within_hours: float
) -> tuple[AssetsDefinition, AssetsDefinition, AssetsDefinition]:
    """The dbt models in three steps: everything the churn model does not feed (orders,
    RFM, suppressions, ...); then the predictions and what uses them (churn, stages,
    audiences); then the read-outs that need what publishing recorded (dbt tag `readout`).
    The marts, audiences and read-outs carry a freshness policy of `fresh_within_hours`."""
    readouts = f"tag:{READOUT_TAG}"
    predicted = f"{PREDICTIONS_MODEL}+"
    hours = fresh_within_hours
    return (
        _build_dbt_step(
            "lifecycle_dbt_models", manifest, shop_timezone, hours,
            exclude=f"{predicted} {readouts}",
        ),
        _build_dbt_step(
            "lifecycle_dbt_predicted", manifest, shop_timezone, hours,
            select=predicted, exclude=readouts,
        ),
        _build_dbt_step(
            "lifecycle_dbt_readouts", manifest, shop_timezone, hours, select=readouts
        ),
    )  # fmt: skip
