"""Resources: the outside world (warehouse file, landing folder) as Dagster sees it."""

from orchestration.resources.dbt_engine import DbtEngine
from orchestration.resources.lake import RawZone
from orchestration.resources.landing import LandingZone
from orchestration.resources.warehouse import DuckDBWarehouse, WarehouseLockedError

__all__ = ["DbtEngine", "DuckDBWarehouse", "LandingZone", "RawZone", "WarehouseLockedError"]
