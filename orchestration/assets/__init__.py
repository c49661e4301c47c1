"""Assets, by stage: ingest (raw tables) first; later stages build on them."""

from orchestration.assets.ingest import WAREHOUSE_POOL, build_ingest_assets

__all__ = ["WAREHOUSE_POOL", "build_ingest_assets"]
