"""The quality thresholds: one Dagster resource, filled from the environment.

As a resource the values show in the Dagster UI next to every run that used them, and a test
or a launchpad can override one without touching the environment. It sits in the core, not in
the quality package: the settings build it, the row rules of a load (ingest) read it, and so
do the gates after the load.
"""

from __future__ import annotations

import datetime as dt

from dagster import ConfigurableResource
from pydantic import Field


class QualityThresholds(ConfigurableResource):
    """When a landed row is quarantined and when a partition fails its gate."""

    currencies: list[str] = Field(
        default=["USD"], description="Currencies the shop sells in (LIFECYCLE_SHOP_CURRENCIES)."
    )
    quarantine_tolerance: float = Field(
        default=0.01,
        description="Largest share of a partition's rows that may be quarantined while its good "
        "rows still go on (LIFECYCLE_QUARANTINE_TOLERANCE).",
    )
    quarantine_min_rows: int = Field(
        default=5,
        description="A partition fails on its quarantined share only from this many quarantined "
        "rows on, so one bad row on a quiet day does not stop the pipeline "
        "(LIFECYCLE_QUARANTINE_MIN_ROWS).",
    )
    quarantine_confidence: float = Field(
        default=0.99,
        description="A partition fails on its quarantined share only when it is above the "
        "tolerance with this confidence (the exact binomial lower bound of the share): on a "
        "quiet day a few bad rows above the share are chance, and warn instead "
        "(LIFECYCLE_QUARANTINE_CONFIDENCE; 0 fails on the share alone).",
    )
    reland_max_shrink: float = Field(
        default=0.0,
        description="The share of its rows a day may lose when it is landed again before its "
        "gate fails (LIFECYCLE_RELAND_MAX_SHRINK; 1 accepts any smaller file).",
    )
    clock_skew_minutes: int = Field(
        default=60,
        description="How far past now a timestamp may lie before it is 'in the future' "
        "(LIFECYCLE_CLOCK_SKEW_MINUTES).",
    )
    earliest_timestamp: str = Field(
        default="2000-01-01",
        description="Timestamps before this date are implausibly old (LIFECYCLE_EARLIEST_DATE).",
    )
    volume_window_days: int = Field(
        default=14,
        description="Trailing partitions a day's row count is compared with "
        "(LIFECYCLE_VOLUME_WINDOW_DAYS).",
    )
    volume_max_ratio: float = Field(
        default=3.0,
        description="A day fails above this multiple of the busiest trailing day "
        "(LIFECYCLE_VOLUME_MAX_RATIO).",
    )
    volume_min_ratio: float = Field(
        default=0.1,
        description="A day fails below this share of the trailing median "
        "(LIFECYCLE_VOLUME_MIN_RATIO).",
    )
    volume_min_rows: int = Field(
        default=20,
        description="Volume is judged only where the trailing median reaches this many rows "
        "(LIFECYCLE_VOLUME_MIN_ROWS).",
    )
    freshness_hours: float = Field(
        default=72.0,
        description="The newest order, checkout and e-mail event must be at most this old at "
        "the end of the run's last day (LIFECYCLE_FRESHNESS_HOURS).",
    )
    validation_chunk_rows: int = Field(
        default=2_000_000,
        description="Great Expectations validates at most this many rows at once; a longer "
        "backfill is validated in chunks of whole days (LIFECYCLE_VALIDATION_CHUNK_ROWS).",
    )

    @property
    def earliest_date(self) -> dt.date:
        return dt.date.fromisoformat(self.earliest_timestamp)
