"""Every environment setting of the pipeline, with its default, read in one place.

Resources are built from these values in `definitions.py`; assets never read the
environment themselves. The README's settings table mirrors this module.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class SettingsError(ValueError):
    """An environment variable holds a value the pipeline cannot use."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_dir: Path
    warehouse_path: Path
    timezone: str
    partitions_start: dt.date
    warehouse_lock_timeout_seconds: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("LIFECYCLE_DATA_DIR") or PROJECT_ROOT / "data")
        timezone = env.get("LIFECYCLE_TIMEZONE") or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(
                f"LIFECYCLE_TIMEZONE={timezone!r} is not an IANA time zone; "
                "set it to a name such as 'UTC' or 'Europe/Berlin'"
            ) from exc
        start = env.get("LIFECYCLE_PARTITIONS_START") or "2024-01-01"
        try:
            partitions_start = dt.date.fromisoformat(start)
        except ValueError as exc:
            raise SettingsError(
                f"LIFECYCLE_PARTITIONS_START={start!r} is not a date; use YYYY-MM-DD"
            ) from exc
        timeout = env.get("LIFECYCLE_WAREHOUSE_LOCK_TIMEOUT_SECONDS") or "300"
        try:
            lock_timeout = float(timeout)
        except ValueError as exc:
            raise SettingsError(
                f"LIFECYCLE_WAREHOUSE_LOCK_TIMEOUT_SECONDS={timeout!r} is not a number of seconds"
            ) from exc
        return cls(
            data_dir=data_dir,
            landing_dir=Path(env.get("LIFECYCLE_LANDING_DIR") or data_dir / "landing"),
            warehouse_path=Path(
                env.get("LIFECYCLE_WAREHOUSE_PATH") or data_dir / "warehouse.duckdb"
            ),
            timezone=timezone,
            partitions_start=partitions_start,
            warehouse_lock_timeout_seconds=lock_timeout,
        )
