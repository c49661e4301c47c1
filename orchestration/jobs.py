"""Jobs: the daily refresh of the whole graph, and the 15-minute cart-abandonment job.

Both carry the warehouse tag, whose run limit in dagster.yaml queues them one at a time:
DuckDB has one writer.
"""

import functools
import operator

from dagster import AssetsDefinition, AssetSelection, define_asset_job
from dagster_dbt import build_dbt_asset_selection

from orchestration.assets.audiences import INTRADAY_TAG, AudienceSpec
from orchestration.assets.ingest import raw_asset_key
from orchestration.assets.publish import OPT_OUTS_KEY, publish_key
from orchestration.assets.serve import SERVE_KEY
from orchestration.ingest.sources import CHECKOUTS

DAILY_JOB_NAME = "daily_refresh"
CART_JOB_NAME = "cart_abandonment"
WAREHOUSE_TAGS = {"lifecycle/warehouse": "duckdb"}

daily_refresh = define_asset_job(
    DAILY_JOB_NAME,
    selection=AssetSelection.all(),
    tags=WAREHOUSE_TAGS,
    description="Ingest the day's landing files and rebuild everything downstream of them.",
)


def build_cart_job(dbt_assets: list[AssetsDefinition], specs: list[AudienceSpec]):
    """Today's checkouts, the dbt models tagged `intraday` (of the dbt steps `dbt_assets`) and
    the publish assets of those audiences: the cart steps go out within the hour, without
    rebuilding the daily marts (profiles, suppressions and orders are those of the last daily
    run). The suppression-only
    sync runs with them: an opt-out recorded by a daily run that then failed (a refused
    landing file's, say) leaves every published list within 15 minutes, not a day later."""
    checkouts = [raw_asset_key(table.name) for table in CHECKOUTS.tables]
    cart = [s for s in specs if s.intraday]
    publish = [publish_key(s.name) for s in cart]
    # The audiences again by key: a dbt selection leaves out their audience_gate checks.
    audiences = [s.key for s in cart]
    intraday = f"tag:{INTRADAY_TAG}"
    return define_asset_job(
        CART_JOB_NAME,
        selection=functools.reduce(
            operator.or_,
            (build_dbt_asset_selection([step], dbt_select=intraday) for step in dbt_assets),
            AssetSelection.assets(*checkouts, *audiences, *publish, OPT_OUTS_KEY, SERVE_KEY),
        ),
        tags=WAREHOUSE_TAGS,
        description="Every 15 minutes when its schedule is on: load today's checkout files, "
        f"rebuild the dbt models tagged {INTRADAY_TAG}, publish the cart-abandonment steps, "
        "remove every recorded opt-out from the published lists and refresh the serving file.",
    )
