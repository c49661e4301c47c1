"""Jobs: the daily refresh of the whole graph."""

from dagster import AssetSelection, define_asset_job

DAILY_JOB_NAME = "daily_refresh"

daily_refresh = define_asset_job(
    DAILY_JOB_NAME,
    selection=AssetSelection.all(),
    # Queued one at a time by the run limit on this tag in dagster.yaml: one DuckDB writer.
    tags={"lifecycle/warehouse": "duckdb"},
    description="Ingest the day's landing files and rebuild everything downstream of them.",
)
