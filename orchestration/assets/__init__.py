"""Assets, by stage: ingest (raw tables), their quality gates, then the dbt models built on them."""

from orchestration.assets.dbt import build_dbt_assets
from orchestration.assets.ingest import WAREHOUSE_POOL, build_ingest_assets
from orchestration.assets.quality import build_audience_checks, build_gate_checks

__all__ = [
    "WAREHOUSE_POOL",
    "build_audience_checks",
    "build_dbt_assets",
    "build_gate_checks",
    "build_ingest_assets",
]
