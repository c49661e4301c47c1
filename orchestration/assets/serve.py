"""The serve asset: the marts and audiences published whole, after each daily and cart run.

It depends on every mart and audience, so it runs last; when a blocking check holds any of
them back it does not run, and BI tools keep the last good snapshot (orchestration/serve).
"""

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from orchestration.assets.dbt import run_date_of
from orchestration.resources import DuckDBWarehouse
from orchestration.resources.serving import ServingTarget
from orchestration.resources.warehouse import WAREHOUSE_POOL
from orchestration.serve import SERVED_SCHEMAS, publish_snapshot
from orchestration.serve.report import write_report
from orchestration.serve.report_html import headline_markdown

SERVE_KEY = AssetKey(["serve", "serving_file"])
REPORT_KEY = AssetKey(["serve", "report"])


def served_keys(keys: Iterable[AssetKey]) -> list[AssetKey]:
    """The asset keys of the tables the serving file holds (a served schema's models)."""
    return sorted((k for k in keys if k.path[0] in SERVED_SCHEMAS), key=lambda k: k.path)


def build_serve_asset(deps: list[AssetKey], shop_timezone: str) -> AssetsDefinition:
    @asset(
        key=SERVE_KEY,
        deps=deps,
        group_name="serve",
        kinds={"duckdb", "parquet"},
        pool=WAREHOUSE_POOL,
        description="A read-only copy of the marts and audiences for BI tools, written aside "
        "and renamed into place (readers holding the old file keep a consistent snapshot), "
        "and the same tables as Parquet.",
    )
    def serving_file(
        context: AssetExecutionContext, warehouse: DuckDBWarehouse, serving: ServingTarget
    ) -> MaterializeResult:
        run_date = run_date_of(context, shop_timezone)
        with warehouse.connect() as con:
            snapshot = publish_snapshot(
                con, Path(serving.path), serving.parquet_path, run_date, dt.datetime.now(dt.UTC)
            )
        context.log.info(
            f"serving file {snapshot.path}: {len(snapshot.row_counts)} tables as of {run_date}, "
            f"{snapshot.parquet_files} Parquet files, in {snapshot.seconds:.1f} s"
        )
        table = "\n".join(
            ["| table | rows |", "|---|---|"]
            + [f"| {name} | {rows:,} |" for name, rows in snapshot.row_counts.items()]
        )
        return MaterializeResult(
            metadata={
                "path": MetadataValue.path(str(snapshot.path)),
                "tables": len(snapshot.row_counts),
                "parquet files": snapshot.parquet_files,
                "seconds": round(snapshot.seconds, 2),
                "served tables": MetadataValue.md(table),
            }
        )

    return serving_file


def build_report_asset(shop_timezone: str) -> AssetsDefinition:
    @asset(
        key=REPORT_KEY,
        deps=[SERVE_KEY],
        group_name="serve",
        kinds={"html"},
        description="The marketer's page for the run date (LIFECYCLE_REPORTS_DIR/"
        "report_<date>.html): RFM segments and stages with their change, stage transitions, "
        "monthly and cohort retention, churn probability, each audience's funnel and the "
        "holdout read-out; self-contained, it opens offline.",
    )
    def report(
        context: AssetExecutionContext, warehouse: DuckDBWarehouse, serving: ServingTarget
    ) -> MaterializeResult:
        run_date = run_date_of(context, shop_timezone)
        with warehouse.connect(read_only=True) as con:
            page, data = write_report(con, run_date, Path(serving.reports_dir))
        context.log.info(f"report for {run_date}: {page}")
        tables = headline_markdown(data)
        return MaterializeResult(
            metadata={
                "path": MetadataValue.path(str(page)),
                "url": MetadataValue.url(page.resolve().as_uri()),
                "customers": data.customers,
                **{name: MetadataValue.md(table) for name, table in tables.items()},
            }
        )

    return report
