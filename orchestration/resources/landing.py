"""The landing folder: one sub-folder per source, one `day=YYYY-MM-DD` folder per day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from orchestration.ingest import SOURCES
from orchestration.settings import Settings
from orchestration.shop_time import shop_today


class LandingZone(ConfigurableResource):
    """Where exports land before ingestion (LIFECYCLE_LANDING_DIR)."""

    root: str = Field(description="The landing folder.")
    batch_megabytes: int = Field(
        default=256,
        description="A range of days is loaded in batches of whole days of at most this many "
        "megabytes of landing files, one transaction each (LIFECYCLE_INGEST_BATCH_MB).",
    )

    def day_folder(self, source: str, day: dt.date) -> Path:
        return Path(self.root) / source / f"day={day.isoformat()}"

    def files(self, source: str, day: dt.date, suffixes: tuple[str, ...]) -> list[Path]:
        """The day's files of a source, sorted by name: see `skipped` for what is left out."""
        return [p for p in self._entries(source, day) if self._why_not(p, suffixes) is None]

    def skipped(self, source: str, day: dt.date, suffixes: tuple[str, ...]) -> list[str]:
        """What the day's folder holds that `files` leaves out, and why, to be reported:
        nothing is skipped in silence but hidden and partial files (`.x`, `_x`), which
        uploaders write before renaming."""
        root = self._root_of(source)
        return [
            f"{p.relative_to(root).as_posix()} ({why})"
            for p in self._entries(source, day)
            if (why := self._why_not(p, suffixes)) and why != "hidden"
        ]

    def stray_folders(self, source: str) -> list[str]:
        """Entries of the source's folder that are not `day=YYYY-MM-DD` folders: never read."""
        base = Path(self.root) / source
        if not base.is_dir():
            return []
        return sorted(
            p.name
            for p in base.iterdir()
            if not p.name.startswith((".", "_")) and _day_of(p.name) is None
        )

    def _root_of(self, source: str) -> Path:
        return Path(self.root) / source

    def _entries(self, source: str, day: dt.date) -> list[Path]:
        folder = self.day_folder(source, day)
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def _why_not(self, path: Path, suffixes: tuple[str, ...]) -> str | None:
        """Why a day folder's entry is not loaded, or None when it is."""
        if path.name.startswith((".", "_")):
            return "hidden"
        if path.is_symlink() and not path.resolve().is_relative_to(Path(self.root).resolve()):
            return "a symbolic link leading out of the landing folder"
        if not path.is_file():
            return "not a file"
        if not path.name.endswith(suffixes):
            kinds = dict.fromkeys(s.removesuffix(".gz").removesuffix(".zst") for s in suffixes)
            return f"not a {' / '.join(kinds)} file, optionally .gz or .zst (case counts)"
        return None

    def days(self, source: str) -> list[dt.date]:
        """Every day that has a folder for the source."""
        base = Path(self.root) / source
        if not base.is_dir():
            return []
        return sorted(d for p in base.iterdir() if p.is_dir() and (d := _day_of(p.name)))


def _day_of(name: str) -> dt.date | None:
    """The day of a `day=YYYY-MM-DD` folder name, else None."""
    if not name.startswith("day="):
        return None
    try:
        day = dt.date.fromisoformat(name.removeprefix("day="))
    except ValueError:
        return None
    return day if name == f"day={day.isoformat()}" else None


def landing_day_range(landing_dir: Path) -> tuple[dt.date, dt.date] | None:
    """The first and last `day=` folder of any source in the landing folder, or None."""
    zone = LandingZone(root=str(landing_dir))
    days = [d for spec in SOURCES for d in zone.days(spec.name)]
    return (min(days), max(days)) if days else None


def first_partition_day(settings: Settings) -> dt.date:
    """LIFECYCLE_PARTITIONS_START; unset, the landing folder's first day (today if empty)."""
    if settings.partitions_start:
        return settings.partitions_start
    found = landing_day_range(settings.landing_dir)
    return found[0] if found else shop_today(settings.timezone)
