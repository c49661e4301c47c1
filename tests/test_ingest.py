"""Loading landing files into raw tables: idempotent, faithful, and loud about bad files."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
import traceback
from pathlib import Path

import duckdb
import pytest
import zstandard

from orchestration.ingest import SOURCES, LandingFileError, load_days
from orchestration.ingest.errors import WarehouseResourceError
from orchestration.ingest.loader import day_batches
from orchestration.ingest.sources import CONTACTS, EMAIL_EVENTS, ORDERS
from orchestration.quality_thresholds import QualityThresholds
from orchestration.resources import DuckDBWarehouse, LandingZone
from tests.conftest import SMALL

DAY_1 = SMALL.start_date + dt.timedelta(days=10)
DAY_2 = DAY_1 + dt.timedelta(days=1)


def _load(con, spec, root: Path, days: list[dt.date], batch: str = "b1"):
    zone = LandingZone(root=str(root))
    files = {d: zone.files(spec.name, d, spec.suffixes) for d in days}
    return load_days(con, spec, files, root, batch, QualityThresholds())


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(
        f"select * exclude (_loaded_at, _batch_id) from raw.{table} order by all"
    ).fetchall()


def test_loading_a_day_twice_gives_the_same_rows(con, landing: Path) -> None:
    for spec in SOURCES:
        _load(con, spec, landing, [DAY_1, DAY_2], "first")
        before = {t.name: _rows(con, t.name) for t in spec.tables}
        result = _load(con, spec, landing, [DAY_1], "second")
        after = {t.name: _rows(con, t.name) for t in spec.tables}
        assert before == after, spec.name
        assert all(before.values()), spec.name
        assert result.days_with_files == [DAY_1]


def test_a_range_in_one_load_equals_day_by_day(con, landing: Path, tmp_path: Path) -> None:
    # Two weeks: versions across days, days without files; each day costs four loads more.
    days = [SMALL.start_date + dt.timedelta(days=i) for i in range(14)]
    other = duckdb.connect(str(tmp_path / "day_by_day.duckdb"))
    for spec in SOURCES:
        _load(con, spec, landing, days)
        for day in days:
            _load(other, spec, landing, [day])
        for table in spec.tables:
            assert _rows(con, table.name) == _rows(other, table.name), table.name


def test_a_range_loaded_in_batches_equals_one_pass(con, landing: Path, tmp_path: Path) -> None:
    """Batches of whole days (here about two days of files each) load what one pass loads,
    with the same counts; a file one batch cannot read leaves the earlier batches loaded and
    that batch and the later ones untouched."""
    days = [SMALL.start_date + dt.timedelta(days=i) for i in range(8)]
    zone = LandingZone(root=str(landing))
    files = {d: zone.files(EMAIL_EVENTS.name, d, EMAIL_EVENTS.suffixes) for d in days}
    two_days = sum(p.stat().st_size for d in days[:2] for p in files[d])
    one_pass = load_days(con, EMAIL_EVENTS, files, landing, "b1", QualityThresholds())
    other = duckdb.connect(str(tmp_path / "batches.duckdb"))
    said: list[str] = []
    batched = load_days(
        other, EMAIL_EVENTS, files, landing, "b1", QualityThresholds(), two_days, said.append
    )
    assert 3 <= len(said) <= 5 and said[0].startswith("email_events: batch 1 of ")
    for table in EMAIL_EVENTS.tables:
        assert _rows(con, table.name) == _rows(other, table.name), table.name
    for field in ("rows_read", "rows_quarantined", "rows_written", "consent_signals", "days"):
        assert getattr(batched, field) == getattr(one_pass, field), field
    # A malformed file in the last day: the batches before it are loaded, complete.
    fresh = duckdb.connect(str(tmp_path / "broken.duckdb"))
    (landing / "email_events" / f"day={days[-1]}" / "broken.jsonl").write_bytes(b'{"a":\n')
    files[days[-1]] = zone.files(EMAIL_EVENTS.name, days[-1], EMAIL_EVENTS.suffixes)
    with pytest.raises(LandingFileError, match=f"day={days[-1]}/broken.jsonl"):
        load_days(fresh, EMAIL_EVENTS, files, landing, "b2", QualityThresholds(), two_days)
    last_batch = day_batches(files, two_days)[-1]
    assert days[-1] in last_batch and days[0] not in last_batch
    loaded = fresh.execute("select distinct _partition_date from raw.email_events").fetchall()
    assert {d for (d,) in loaded} == {d for d in days if d < last_batch[0] and files[d]}
    sql = "select * exclude (_loaded_at, _batch_id) from raw.email_events where _partition_date < ?"
    before = [last_batch[0]]
    assert (
        fresh.execute(sql + " order by all", before).fetchall()
        == other.execute(sql + " order by all", before).fetchall()
    )


def test_every_raw_row_keeps_its_partition_and_source_file(con, landing: Path) -> None:
    _load(con, ORDERS, landing, [DAY_1])
    rows = con.execute(
        "select distinct _partition_date, _source_file from raw.orders "
        "union select distinct _partition_date, _source_file from raw.order_line_items"
    ).fetchall()
    assert rows
    for day, source_file in rows:
        assert day == DAY_1
        assert source_file.startswith(f"orders/day={DAY_1}/")
        assert (landing / source_file).exists()


def test_within_a_day_the_latest_version_of_a_key_wins(con, landing: Path) -> None:
    folder = landing / "orders" / f"day={DAY_1}"
    original = json.loads(next(folder.glob("*.jsonl")).read_text().splitlines()[0])
    updated = {
        **original,
        "updated_at": "2099-01-01T00:00:00+00:00",
        "financial_status": "refunded",
    }
    (folder / "zz_update.jsonl").write_text(
        json.dumps(updated) + "\n" + json.dumps(original) + "\n"
    )
    result = _load(con, ORDERS, landing, [DAY_1])
    assert result.duplicates_dropped >= 2
    status = con.execute(
        "select financial_status, count(*) from raw.orders where id = ? group by 1",
        [original["id"]],
    ).fetchall()
    assert status == [("refunded", 1)]
    items = con.execute(
        "select count(*) from raw.order_line_items where order_id = ?", [original["id"]]
    ).fetchall()[0][0]
    assert items == len(original["line_items"])


def test_duplicate_events_collapse_and_categories_become_text(con, landing: Path) -> None:
    folder = landing / "email_events" / f"day={DAY_1}"
    event = {
        "email": "a@example.com",
        "timestamp": 1710000000,
        "event": "click",
        "sg_event_id": "dup-1",
        "category": "promo",
    }
    lines = [event, event, {**event, "sg_event_id": "arr-1", "category": ["a", "b"]}]
    (folder / "extra.jsonl").write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    _load(con, EMAIL_EVENTS, landing, [DAY_1])
    got = con.execute(
        "select sg_event_id, category from raw.email_events "
        "where sg_event_id in ('dup-1', 'arr-1') order by 1"
    ).fetchall()
    assert got == [("arr-1", "a,b"), ("dup-1", "promo")]


def test_compressed_files_load_like_plain_ones(con, landing: Path) -> None:
    folder = landing / "email_events" / f"day={DAY_1}"
    plain = next(folder.glob("*.jsonl"))
    expected = len(plain.read_text().splitlines())
    with gzip.open(folder / "events.jsonl.gz", "wt") as fh:
        fh.write(plain.read_text())
    plain.unlink()
    result = _load(con, EMAIL_EVENTS, landing, [DAY_1])
    assert result.rows_read == expected


def test_a_day_without_files_is_not_an_error_and_keeps_its_rows(con, landing: Path) -> None:
    _load(con, ORDERS, landing, [DAY_1])
    before = _rows(con, "orders")
    shutil.rmtree(landing / "orders" / f"day={DAY_1}")
    result = _load(con, ORDERS, landing, [DAY_1, SMALL.start_date - dt.timedelta(days=30)])
    assert result.days_with_files == []
    assert result.rows_written == {}
    assert _rows(con, "orders") == before


def test_an_empty_file_is_counted_and_skipped(con, landing: Path) -> None:
    (landing / "orders" / f"day={DAY_1}" / "empty.jsonl").write_text("")
    result = _load(con, ORDERS, landing, [DAY_1])
    assert result.empty_files == 1
    assert result.rows_written["orders"] > 0


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        (b'{"id": 1}\n{"id": 2, "email": "x@\n{"id": 3}\n', 2, "malformed JSON"),
        (b'{"id": 1}\n{"id": 2, "email": "caf\xe9@example.com"}\n', 2, "not UTF-8"),
        (b'{"id": 1}\n[1, 2]\n', 2, "must be a JSON object"),
    ],
)
def test_a_malformed_file_names_file_and_line_and_changes_nothing(
    con, landing: Path, content: bytes, line: int, problem: str
) -> None:
    _load(con, ORDERS, landing, [DAY_1])
    before = {t: _rows(con, t) for t in ("orders", "order_line_items")}
    (landing / "orders" / f"day={DAY_2}" / "broken.jsonl").write_bytes(content)
    with pytest.raises(LandingFileError) as err:
        _load(con, ORDERS, landing, [DAY_1, DAY_2])
    message = str(err.value)
    assert f"orders/day={DAY_2}/broken.jsonl, line {line}" in message
    assert problem in message
    assert "re-run the partition" in message
    assert {t: _rows(con, t) for t in before} == before
    # Fixing the file (here: removing it) lets the same load through.
    (landing / "orders" / f"day={DAY_2}" / "broken.jsonl").unlink()
    assert _load(con, ORDERS, landing, [DAY_1, DAY_2]).days_with_files == [DAY_1, DAY_2]


def test_a_refused_row_never_reaches_the_error_with_its_address(con, landing: Path) -> None:
    """DuckDB's cast error quotes the value it could not read (here an address in a number
    column); neither the error nor its traceback (which Dagster shows) may carry it."""
    good = next((landing / "orders" / f"day={DAY_2}").glob("*.jsonl*"))
    good.unlink()
    (landing / "orders" / f"day={DAY_2}" / "shifted.jsonl").write_text(
        json.dumps({"id": "jane.doe@example.com", "email": "jane.doe@example.com"}) + "\n"
    )
    with pytest.raises(LandingFileError, match="DuckDB could not read it") as err:
        _load(con, ORDERS, landing, [DAY_2])
    shown = "".join(traceback.format_exception(err.value))
    assert "jane.doe@example.com" not in shown
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_a_contact_export_missing_a_column_is_refused(con, landing: Path) -> None:
    folder = landing / "contacts" / f"day={DAY_1}"
    path = next(folder.glob("*.csv"))
    header, *rows = path.read_text().splitlines()
    columns = header.split(",")
    drop = columns.index("email_marketing_consent_state")
    cut = [",".join(c for i, c in enumerate(r.split(",")) if i != drop) for r in [header, *rows]]
    path.write_text("\n".join(cut) + "\n")
    with pytest.raises(
        LandingFileError, match=r"line 1: missing column.*email_marketing_consent_state"
    ):
        _load(con, CONTACTS, landing, [DAY_1])


def test_a_contact_row_with_extra_fields_names_its_line(con, landing: Path) -> None:
    folder = landing / "contacts" / f"day={DAY_1}"
    path = next(folder.glob("*.csv"))
    lines = path.read_text().splitlines()
    lines.insert(2, lines[1] + ",surprise")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LandingFileError, match=r"line 3: 12 fields where the header has 11"):
        _load(con, CONTACTS, landing, [DAY_1])


def test_a_malformed_zstd_file_names_its_line(con, landing: Path) -> None:
    path = landing / "orders" / f"day={DAY_2}" / "broken.jsonl.zst"
    path.write_bytes(zstandard.compress(b'{"id": 1}\n{"id": 2,\n'))
    with pytest.raises(LandingFileError, match=r"broken.jsonl.zst, line 2: malformed JSON"):
        _load(con, ORDERS, landing, [DAY_2])


def test_running_out_of_memory_is_a_resource_error_not_a_bad_file(tmp_path: Path, landing: Path):
    """DuckDB out of memory while reading good files: the error names the limit to raise and
    blames no file; nothing is written."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "small.duckdb"), memory_limit="4MB", threads=1)
    with warehouse.connect() as con:
        with pytest.raises(WarehouseResourceError) as raised:
            _load(con, EMAIL_EVENTS, landing, [DAY_1])
        message = str(raised.value)
        assert "LIFECYCLE_DUCKDB_MEMORY_LIMIT" in message and f"partition {DAY_1}" in message
        assert "fix or replace the file" not in message and "landing file" not in message
        written = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'raw' "
            "and table_name = 'email_events'"
        ).fetchall()[0][0]
        if written:
            assert con.execute("select count(*) from raw.email_events").fetchall() == [(0,)]


@pytest.mark.parametrize("codec", ["gz", "zst"])
def test_a_truncated_compressed_file_is_refused_by_name(con, landing: Path, codec: str) -> None:
    """DuckDB reads a truncated zstd file as no rows without an error: refused instead, and a
    truncated gzip file no longer crashes the error reporter."""
    _load(con, EMAIL_EVENTS, landing, [DAY_1])
    before = _rows(con, "email_events")
    folder = landing / "email_events" / f"day={DAY_1}"
    plain = next(folder.glob("*.jsonl"))
    data = plain.read_bytes()
    packed = gzip.compress(data) if codec == "gz" else zstandard.compress(data)
    plain.unlink()
    (folder / f"{plain.name}.{codec}").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(
        LandingFileError, match=rf"{plain.name}\.{codec}: the \w+ stream is truncated"
    ):
        _load(con, EMAIL_EVENTS, landing, [DAY_1])
    assert _rows(con, "email_events") == before


def test_a_row_with_an_extra_field_is_refused_in_a_run_of_many_days(con, landing: Path) -> None:
    """Over several days at once, a sniffing reader took such a row for the header and read
    the whole file as nothing; each file is read with its own header instead."""
    path = next((landing / "contacts" / f"day={DAY_2}").glob("*.csv"))
    lines = path.read_text().splitlines()
    lines[2] += ",surprise"
    path.write_text("\n".join(lines) + "\n")
    days = [DAY_1 - dt.timedelta(days=3), DAY_1, DAY_2]
    with pytest.raises(LandingFileError, match=rf"day={DAY_2}/.*line 3: 12 fields"):
        _load(con, CONTACTS, landing, days)


def test_a_bom_is_read_and_a_semicolon_export_gets_a_hint(con, landing: Path) -> None:
    path = next((landing / "contacts" / f"day={DAY_1}").glob("*.csv"))
    text = path.read_text()
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert _load(con, CONTACTS, landing, [DAY_1]).rows_read == text.count("\n") - 1
    path.write_text(text.replace(",", ";"))
    with pytest.raises(LandingFileError, match=r"looks separated by ';'"):
        _load(con, CONTACTS, landing, [DAY_1])


def test_a_file_name_is_never_read_as_a_pattern(con, landing: Path) -> None:
    folder = landing / "email_events" / f"day={DAY_1}"
    shutil.copy(next(folder.glob("*.jsonl")), folder / "events*.jsonl")
    with pytest.raises(LandingFileError, match=r"events\*\.jsonl: the file name holds \*"):
        _load(con, EMAIL_EVENTS, landing, [DAY_1])


def test_what_the_loader_does_not_take_is_reported(landing: Path, tmp_path: Path) -> None:
    zone = LandingZone(root=str(landing))
    folder = landing / "email_events" / f"day={DAY_1}"
    taken = zone.files("email_events", DAY_1, EMAIL_EVENTS.suffixes)
    shutil.copy(taken[0], folder / "more.JSONL")
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text("{}\n")
    (folder / "linked.jsonl").symlink_to(outside)
    (folder / ".partial.jsonl").write_text("{}\n")
    (landing / "email_events" / "day=2024-3-5").mkdir()
    (landing / "email_events" / "backup").mkdir()
    assert zone.files("email_events", DAY_1, EMAIL_EVENTS.suffixes) == taken
    skipped = zone.skipped("email_events", DAY_1, EMAIL_EVENTS.suffixes)
    assert skipped == [
        f"day={DAY_1}/linked.jsonl (a symbolic link leading out of the landing folder)",
        f"day={DAY_1}/more.JSONL (not a .jsonl / .ndjson / .json file, optionally .gz or .zst "
        "(case counts))",
    ]
    assert zone.stray_folders("email_events") == ["backup", "day=2024-3-5"]
