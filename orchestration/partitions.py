"""The daily partitions shared by ingestion, schedules, sensors and backfills.

They start where the data starts (LIFECYCLE_PARTITIONS_START, or the landing folder's first
day) and end today, the open day: the cart job reloads today's checkouts every 15 minutes and
the nightly schedule fills the previous day once it is over. So a shop whose files run to
yesterday, like the demo's sample, shows every partition materialized but today's. The first
day is found by `resources.landing.first_partition_day`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from dagster import DailyPartitionsDefinition


def daily_partitions(first_day: dt.date, timezone: str) -> DailyPartitionsDefinition:
    """One partition per shop-local day, from `first_day` up to today."""
    return DailyPartitionsDefinition(
        start_date=first_day.isoformat(), timezone=timezone, end_offset=1
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
