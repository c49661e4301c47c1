"""The daily partitions shared by ingestion, schedules and backfills."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from dagster import DailyPartitionsDefinition

from orchestration.settings import Settings


def daily_partitions(settings: Settings) -> DailyPartitionsDefinition:
    """One partition per shop-local day, from the configured first day up to today.

    Today is open: the cart job reloads its checkouts every 15 minutes; the nightly schedule
    fills the previous day once it is over."""
    return DailyPartitionsDefinition(
        start_date=settings.partitions_start.isoformat(), timezone=settings.timezone, end_offset=1
    )


RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"


def run_partition_range(tags: Mapping[str, str]) -> tuple[dt.date, dt.date] | None:
    """The first and last day a run covers, from its tags; None for an unpartitioned run."""
    if tags.get(RANGE_START_TAG) and tags.get(RANGE_END_TAG):
        start, end = tags[RANGE_START_TAG], tags[RANGE_END_TAG]
    elif tags.get(PARTITION_TAG):
        start = end = tags[PARTITION_TAG]
    else:
        return None
    return dt.date.fromisoformat(start), dt.date.fromisoformat(end)
