"""Resources: the outside world (warehouse file, landing folder) as Dagster sees it."""

from orchestration.resources.lake import RawZone
from orchestration.resources.landing import LandingZone
from orchestration.resources.warehouse import DuckDBWarehouse, WarehouseLockedError

__all__ = ["DuckDBWarehouse", "LandingZone", "RawZone", "WarehouseLockedError"]
