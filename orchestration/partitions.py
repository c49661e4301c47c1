"""The daily partitions shared by ingestion, schedules and backfills."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from orchestration.settings import Settings


def daily_partitions(settings: Settings) -> DailyPartitionsDefinition:
    """One partition per shop-local day, from the configured first day up to yesterday."""
    return DailyPartitionsDefinition(
        start_date=settings.partitions_start.isoformat(), timezone=settings.timezone
    )
