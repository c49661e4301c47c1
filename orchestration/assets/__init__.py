"""Assets, by stage: ingest (raw tables) and their gates, the dbt models with the churn model
between two of their steps, the audiences' gates, publishing."""

from orchestration.assets.audience_gates import build_audience_checks
from orchestration.assets.churn_model import build_churn_model_asset
from orchestration.assets.dbt import build_dbt_assets
from orchestration.assets.ingest import build_ingest_assets
from orchestration.assets.publish import build_publish_assets
from orchestration.assets.quality import build_gate_checks

__all__ = [
    "build_audience_checks",
    "build_churn_model_asset",
    "build_dbt_assets",
    "build_gate_checks",
    "build_ingest_assets",
    "build_publish_assets",
]
