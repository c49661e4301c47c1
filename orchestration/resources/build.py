"""Resources built from the settings, once, for `definitions.py`."""

from __future__ import annotations

from orchestration.resources.landing import LandingZone
from orchestration.resources.warehouse import DuckDBWarehouse
from orchestration.settings import Settings


def build_resources(settings: Settings) -> dict[str, object]:
    return {
        "warehouse": DuckDBWarehouse(
            path=str(settings.warehouse_path),
            lock_timeout_seconds=settings.warehouse_lock_timeout_seconds,
        ),
        "landing": LandingZone(root=str(settings.landing_dir)),
    }
