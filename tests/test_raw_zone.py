"""The raw zone: each loaded day of each raw table as Hive-partitioned Parquet, equal to the
warehouse's rows of that day, replaced whole when the day is landed again; the opt-outs of a
refused file reach it too."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from orchestration.ingest import SOURCES, LandingFileError, load_days
from orchestration.ingest.consent import consent_table
from orchestration.ingest.raw_zone import day_folder, table_folder
from orchestration.ingest.sources import EMAIL_EVENTS, ORDERS
from orchestration.quality_thresholds import QualityThresholds
from orchestration.resources import LandingZone
from orchestration.settings import Settings
from tests.conftest import SMALL
from tests.consent_cases import event

DAYS = [SMALL.start_date + dt.timedelta(days=i) for i in range(5)]


def _load(con, spec, landing: Path, lake: Path, days: list[dt.date], batch: str = "b1"):
    zone = LandingZone(root=str(landing))
    files = {d: zone.files(spec.name, d, spec.suffixes) for d in days}
    return load_days(con, spec, files, landing, batch, QualityThresholds(), lake=lake)


def _tables(spec) -> list[str]:
    signals = consent_table(spec.name)
    return [t.name for t in spec.tables] + ([signals.split(".")[1]] if signals else [])


def _columns(con, table: str) -> str:
    return ", ".join(f'"{r[0]}"' for r in con.execute(f"describe raw.{table}").fetchall())


def _zone_rows(con, lake: Path, table: str) -> list[tuple]:
    """The zone's rows as a reader with Hive partitioning sees them, in the warehouse's
    column order."""
    folder = table_folder(lake, table)
    if not any(folder.glob("*/*.parquet")):
        return []
    glob = str(folder / "*" / "*.parquet")
    return con.execute(
        f"select {_columns(con, table)} "
        f"from read_parquet('{glob}', hive_partitioning = true) order by all"
    ).fetchall()


def _warehouse_rows(con, table: str) -> list[tuple]:
    return con.execute(f"select {_columns(con, table)} from raw.{table} order by all").fetchall()


def test_every_loaded_day_of_every_raw_table_is_in_the_zone(con, landing, tmp_path) -> None:
    lake = tmp_path / "lake"
    for spec in SOURCES:
        result = _load(con, spec, landing, lake, DAYS)
        assert result.zone_seconds > 0
        for table in _tables(spec):
            expected = _warehouse_rows(con, table)
            assert _zone_rows(con, lake, table) == expected, table
            if table != "email_events_consent":  # no unsubscribe in the sample's first days
                assert expected, table
            folders = sorted(p.name for p in table_folder(lake, table).iterdir())
            days = sorted(
                d
                for (d,) in con.execute(
                    f"select distinct _partition_date from raw.{table}"
                ).fetchall()
            )
            assert folders == [f"_partition_date={d}" for d in days], table
    # Nothing is left aside once the writes are done.
    assert not any((lake / "raw" / ".staging").iterdir())


def test_a_day_landed_again_replaces_its_folder(con, landing, tmp_path) -> None:
    lake = tmp_path / "lake"
    _load(con, ORDERS, landing, lake, DAYS)
    day = DAYS[2]
    folder = landing / "orders" / f"day={day}"
    files = sorted(folder.iterdir())
    assert files
    # The day again with its first file only: fewer orders, and a different file in the zone.
    for extra in files[1:]:
        extra.unlink()
    before = (day_folder(lake, "orders", day) / "data_0.parquet").stat().st_ino
    _load(con, ORDERS, landing, lake, [day], "b2")
    assert (day_folder(lake, "orders", day) / "data_0.parquet").stat().st_ino != before
    for table in ("orders", "order_line_items"):
        assert _zone_rows(con, lake, table) == _warehouse_rows(con, table), table
    # Every order of the day quarantined (no currency): no rows in the warehouse for the day,
    # and no folder in the zone.
    orders = [json.loads(line) for line in files[0].read_text().splitlines()]
    files[0].write_text("".join(json.dumps({**o, "currency": None}) + "\n" for o in orders))
    _load(con, ORDERS, landing, lake, [day], "b3")
    assert not day_folder(lake, "orders", day).exists()
    assert _zone_rows(con, lake, "orders") == _warehouse_rows(con, "orders")


def test_the_opt_outs_of_a_refused_file_reach_the_zone(con, tmp_path) -> None:
    root, lake = tmp_path / "landing", tmp_path / "lake"
    day = dt.date(2024, 3, 10)
    noon = dt.datetime(2024, 3, 10, 12, tzinfo=dt.UTC)
    folder = root / "email_events" / f"day={day}"
    folder.mkdir(parents=True)
    lines = [json.dumps(event("gone@x.com", "unsubscribe", "r1", noon))]
    (folder / "events.jsonl").write_text("\n".join(lines) + '\n{"email": "cut@x.com", "ev')
    files = {day: sorted(folder.iterdir())}
    with pytest.raises(LandingFileError):
        load_days(con, EMAIL_EVENTS, files, root, "b1", QualityThresholds(), lake=lake)
    zone = _zone_rows(con, lake, "email_events_consent")
    assert [(r[0], r[1]) for r in zone] == [("gone@x.com", "unsubscribe")]
    assert not table_folder(lake, "email_events").exists()


def test_the_zone_is_a_folder_under_the_data_by_default_and_can_be_switched_off(tmp_path):
    assert Settings.from_env({"LIFECYCLE_DATA_DIR": str(tmp_path)}).lake_dir == tmp_path / "lake"
    off = {"LIFECYCLE_DATA_DIR": str(tmp_path), "LIFECYCLE_LAKE_DIR": "off"}
    assert Settings.from_env(off).lake_dir is None
