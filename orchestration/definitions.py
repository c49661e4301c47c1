"""The code location: every asset, check, job, schedule and resource of the pipeline."""

from dagster import Definitions

from orchestration.assets import (
    build_audience_checks,
    build_churn_model_asset,
    build_dbt_assets,
    build_gate_checks,
    build_ingest_assets,
    build_publish_assets,
)
from orchestration.assets.audiences import audience_specs
from orchestration.assets.publish import MEMBER_FAILURES_SPEC
from orchestration.assets.quality import HELD_PARTITIONS_SPEC
from orchestration.assets.serve import build_report_asset, build_serve_asset, served_keys
from orchestration.dbt_project import load_manifest
from orchestration.jobs import build_cart_job, daily_refresh
from orchestration.partitions import daily_partitions
from orchestration.resources.build import build_resources
from orchestration.resources.landing import first_partition_day
from orchestration.schedules import build_cart_schedule, build_daily_schedule
from orchestration.sensors import build_failure_sensor, build_landing_sensor
from orchestration.settings import Settings

settings = Settings.from_env()
partitions = daily_partitions(first_partition_day(settings), settings.timezone)
manifest = load_manifest()
audiences = audience_specs(manifest)
dbt_models, dbt_predicted, dbt_readouts = build_dbt_assets(
    manifest, settings.timezone, settings.marts_fresh_within_hours
)
dbt_steps = [dbt_models, dbt_predicted, dbt_readouts]
serve = build_serve_asset(
    served_keys(k for step in dbt_steps for k in step.keys), settings.timezone
)
cart_job = build_cart_job([dbt_models, dbt_predicted], audiences)

defs = Definitions(
    assets=[
        *build_ingest_assets(partitions),
        HELD_PARTITIONS_SPEC,
        MEMBER_FAILURES_SPEC,
        dbt_models,
        build_churn_model_asset(settings.timezone),
        dbt_predicted,
        dbt_readouts,
        *build_publish_assets(audiences, settings.timezone),
        serve,
        build_report_asset(settings.timezone),
    ],
    asset_checks=[
        *build_gate_checks(settings.timezone),
        *build_audience_checks(audiences, settings.timezone),
    ],
    jobs=[daily_refresh, cart_job],
    schedules=[
        build_daily_schedule(daily_refresh, settings.timezone),
        build_cart_schedule(cart_job, settings.timezone),
    ],
    sensors=[
        build_landing_sensor(
            daily_refresh,
            settings.timezone,
            partitions.start.date(),
            settings.landing_sensor_lookback_days,
            settings.landing_settle_seconds,
        ),
        build_failure_sensor([daily_refresh, cart_job]),
    ],
    resources=build_resources(settings),
)
