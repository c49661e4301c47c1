"""Where the pipeline publishes what BI tools read (orchestration/serve)."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field


class ServingTarget(ConfigurableResource):
    """The serving file and the Parquet folder beside it."""

    path: str = Field(
        description="The DuckDB file BI tools open read-only, replaced whole after each run "
        "(LIFECYCLE_SERVING_PATH)."
    )
    parquet_dir: str = Field(
        default="",
        description="Folder of the same tables as Parquet, schema/table.parquet "
        "(LIFECYCLE_SERVING_PARQUET_DIR; empty: none written).",
    )

    reports_dir: str = Field(
        default="",
        description="Folder of the daily HTML report, report_<run date>.html "
        "(LIFECYCLE_REPORTS_DIR).",
    )

    @property
    def parquet_path(self) -> Path | None:
        return Path(self.parquet_dir) if self.parquet_dir else None
