"""The raw zone's root, where ingestion writes each landed day as Parquet (ingest/raw_zone)."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field


class RawZone(ConfigurableResource):
    """`<lake>/raw/<table>/_partition_date=YYYY-MM-DD/` for engines other than DuckDB."""

    lake_dir: str = Field(
        default="",
        description="The lake folder (or a mounted bucket) the raw zone is written under "
        "(LIFECYCLE_LAKE_DIR; empty: not written).",
    )

    @property
    def lake(self) -> Path | None:
        return Path(self.lake_dir) if self.lake_dir else None
