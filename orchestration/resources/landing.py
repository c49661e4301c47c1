"""The landing folder: one sub-folder per source, one `day=YYYY-MM-DD` folder per day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field


class LandingZone(ConfigurableResource):
    """Where exports land before ingestion (LIFECYCLE_LANDING_DIR)."""

    root: str = Field(description="The landing folder.")

    def day_folder(self, source: str, day: dt.date) -> Path:
        return Path(self.root) / source / f"day={day.isoformat()}"

    def files(self, source: str, day: dt.date, suffixes: tuple[str, ...]) -> list[Path]:
        """The day's files of a source, sorted by name; hidden and partial files are skipped."""
        folder = self.day_folder(source, day)
        if not folder.is_dir():
            return []
        return sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith((".", "_")) and p.name.endswith(suffixes)
        )

    def days(self, source: str) -> list[dt.date]:
        """Every day that has a folder for the source."""
        base = Path(self.root) / source
        if not base.is_dir():
            return []
        days = []
        for p in base.iterdir():
            if p.is_dir() and p.name.startswith("day="):
                try:
                    days.append(dt.date.fromisoformat(p.name.removeprefix("day=")))
                except ValueError:
                    continue
        return sorted(days)
