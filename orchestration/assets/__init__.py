"""Assets, by stage: ingest (raw tables), then the dbt models built on them."""

from orchestration.assets.dbt import build_dbt_assets
from orchestration.assets.ingest import WAREHOUSE_POOL, build_ingest_assets

__all__ = ["WAREHOUSE_POOL", "build_dbt_assets", "build_ingest_assets"]
