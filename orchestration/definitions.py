"""The code location: every asset, check, job, schedule and resource of the pipeline."""

from dagster import Definitions

from orchestration.assets import (
    build_audience_checks,
    build_dbt_assets,
    build_gate_checks,
    build_ingest_assets,
    build_publish_assets,
)
from orchestration.jobs import daily_refresh
from orchestration.partitions import daily_partitions
from orchestration.resources.build import build_resources
from orchestration.schedules import daily_refresh_schedule
from orchestration.settings import Settings

settings = Settings.from_env()
partitions = daily_partitions(settings)

defs = Definitions(
    assets=[
        *build_ingest_assets(partitions),
        build_dbt_assets(settings.timezone),
        *build_publish_assets(settings.timezone),
    ],
    asset_checks=[*build_gate_checks(), *build_audience_checks()],
    jobs=[daily_refresh],
    schedules=[daily_refresh_schedule],
    resources=build_resources(settings),
)
