"""Resources built from the settings, once, for `definitions.py`."""

from __future__ import annotations

import os

from dagster import EnvVar

from orchestration.dbt_project import DBT_EXECUTABLE, dbt_project
from orchestration.resources.alerts import AlertSinks
from orchestration.resources.dbt_cli import LifecycleDbtCli
from orchestration.resources.dbt_engine import DbtEngine
from orchestration.resources.lake import RawZone
from orchestration.resources.landing import LandingZone
from orchestration.resources.publish import PublishTarget
from orchestration.resources.serving import ServingTarget
from orchestration.resources.warehouse import DuckDBWarehouse
from orchestration.settings import Settings


def _secret(name: str) -> EnvVar | str:
    """A secret from the environment as an EnvVar (the UI shows its name, never its value),
    or "" when it is not set."""
    return EnvVar(name) if os.environ.get(name) else ""


def build_resources(settings: Settings) -> dict[str, object]:
    return {
        "warehouse": DuckDBWarehouse(
            path=str(settings.warehouse_path),
            lock_timeout_seconds=settings.warehouse_lock_timeout_seconds,
            memory_limit=settings.duckdb_memory_limit,
            threads=settings.duckdb_threads,
        ),
        "landing": LandingZone(
            root=str(settings.landing_dir), batch_megabytes=settings.ingest_batch_megabytes
        ),
        "raw_zone": RawZone(lake_dir=str(settings.lake_dir or "")),
        "quality": settings.quality,
        "churn_model": settings.churn_model,
        "publish_target": PublishTarget(
            target=settings.esp_target,
            outbox_dir=str(settings.outbox_dir),
            outbox_batch_rows=settings.outbox_batch_rows,
            dry_run=settings.publish_dry_run,
            esp_base_url=settings.esp_base_url,
            esp_deadline_seconds=settings.esp_deadline_seconds,
            esp_requests_per_minute=settings.esp_requests_per_minute,
            esp_poll_seconds=settings.esp_poll_seconds,
            esp_backoff_seconds=settings.esp_backoff_seconds,
            frequency_cap_audiences=settings.frequency_cap_audiences,
            frequency_cap_window_days=settings.frequency_cap_window_days,
            max_change_share=settings.publish_max_change_share,
            min_change_rows=settings.publish_min_change_rows,
            max_failed_share=settings.publish_max_failed_share,
        ),
        "serving": ServingTarget(
            path=str(settings.serving_path),
            parquet_dir=str(settings.serving_parquet_dir or ""),
            reports_dir=str(settings.reports_dir),
        ),
        "alerts": AlertSinks(
            path=str(settings.alerts_path),
            webhook_url=_secret("LIFECYCLE_ALERT_WEBHOOK_URL"),
            slack_token=_secret("LIFECYCLE_SLACK_TOKEN"),
            slack_channel=settings.slack_channel,
            slack_base_url=settings.slack_base_url,
        ),
        "dbt": LifecycleDbtCli(
            project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE, target=settings.dbt_target
        ),
        "dbt_engine": DbtEngine(
            target=settings.dbt_target,
            lake_dir=str(settings.lake_dir or ""),
            spark_dir=str(settings.spark_dir),
        ),
    }
