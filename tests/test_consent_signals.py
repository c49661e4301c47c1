"""Consent signals at landing: every opt-out read reaches the opt-out list, whatever else is
wrong with its row or its day, and nothing takes it back but a later opt-in from a good row.

Files are written by hand here, loaded by the real loader into a real DuckDB file, and the
opt-outs read back with the SQL the publish side uses (`opt_outs_sql`) and acted on by the
real suppression-only sync against the outbox."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
from pathlib import Path

import duckdb
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.ingest import load_days
from orchestration.ingest.consent import opt_outs_sql
from orchestration.ingest.errors import LandingFileError
from orchestration.ingest.sources import CONTACTS, EMAIL_EVENTS
from orchestration.publish.adapters import OutboxAdapter
from orchestration.publish.opt_out_removal import OptOutAudience, remove_opted_out
from orchestration.publish.state import ensure_publish_tables
from orchestration.quality_thresholds import QualityThresholds
from tests.consent_cases import event

DAY = dt.date(2024, 3, 10)
NOON = dt.datetime(2024, 3, 10, 12, tzinfo=dt.UTC)
CONTACT_COLUMNS = list(CONTACTS.columns)


def _contact(email: str, state: str, consent_at: str, updated_at: str) -> dict:
    row = dict.fromkeys(CONTACT_COLUMNS, "")
    row.update(
        customer_id="1",
        email=email,
        email_marketing_consent_state=state,
        email_marketing_consent_updated_at=consent_at,
        updated_at=updated_at,
        created_at="2024-01-01T00:00:00+00:00",
    )
    return row


def _land(root: Path, day: dt.date, events: list[dict], contacts: list[dict]) -> None:
    folder = root / "email_events" / f"day={day}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    folder = root / "contacts" / f"day={day}"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "contacts.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CONTACT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(contacts)


def _load(con, root: Path, days: list[dt.date], batch: str) -> None:
    for spec in (EMAIL_EVENTS, CONTACTS):
        files = {d: sorted((root / spec.name / f"day={d}").glob("*")) for d in days}
        load_days(con, spec, files, root, batch, QualityThresholds())


def _opted_out(con) -> set[tuple[str, int | None]]:
    return set(con.execute(f"select email, asm_group_id from ({opt_outs_sql(con)})").fetchall())


def test_opt_outs_in_bad_rows_are_recorded_and_good_timestamps_are_read(con, tmp_path):
    root = tmp_path / "landing"
    millis = event("ms@x.com", "unsubscribe", "e1", NOON)
    millis["timestamp"] *= 1000  # a relay that sends milliseconds
    events = [
        millis,
        event("future@x.com", "unsubscribe", "e2", NOON.replace(year=2099)),  # quarantined
        event("twin@x.com", "unsubscribe", "e3", NOON),  # conflicting copies: both quarantined
        event("twin@x.com", "open", "e3", NOON),
        event("Bounce@X.com ", "bounce", "e4", NOON, type="bounce"),
        event("soft@x.com", "bounce", "e5", NOON, type="blocked"),  # a soft bounce: nothing
        event("group@x.com", "group_unsubscribe", "e6", NOON, asm_group_id=102),
    ]
    contacts = [
        _contact("us@x.com", "unsubscribed", "03/10/2024 10:00", "03/10/2024 10:00"),
        _contact("odd@x.com", "Unsubscribed", "2024-03-10T10:00:00Z", "not a time"),
    ]
    _land(root, DAY, events, contacts)
    _load(con, root, [DAY], "b1")

    assert _opted_out(con) == {
        ("ms@x.com", None),
        ("future@x.com", None),
        ("twin@x.com", None),
        ("bounce@x.com", None),
        ("group@x.com", 102),
        ("us@x.com", None),
        ("odd@x.com", None),
    }
    # The millisecond event and the month-first contact row loaded; the others say why not.
    assert con.execute("select email from raw.email_events where sg_event_id = 'e1'").fetchall()
    assert con.execute("select count(*) from raw.contacts where email = 'us@x.com'").fetchall() == [
        (1,)
    ]
    rules = dict(
        con.execute(
            "select email, rule from raw.email_events_consent where rule is not null"
        ).fetchall()
    )
    assert rules == {"future@x.com": "future_timestamp", "twin@x.com": "conflicting_duplicate"}
    assert con.execute(
        "select rule from raw.contacts_consent where email = 'odd@x.com'"
    ).fetchall() == [("invalid_timestamp",)]


def test_a_relanded_day_never_takes_an_opt_out_back(con, tmp_path):
    root = tmp_path / "landing"
    _land(root, DAY, [event("a@x.com", "unsubscribe", "e1", NOON)], [])
    _load(con, root, [DAY], "b1")
    # The same day again, truncated to nothing but an open: the raw rows go, the opt-out stays.
    _land(root, DAY, [event("b@x.com", "open", "e9", NOON)], [])
    _load(con, root, [DAY], "b2")
    assert con.execute(
        "select count(*) from raw.email_events where event = 'unsubscribe'"
    ).fetchall() == [(0,)]
    assert _opted_out(con) == {("a@x.com", None)}
    # Loading the first file once more records nothing twice.
    _land(root, DAY, [event("a@x.com", "unsubscribe", "e1", NOON)], [])
    _load(con, root, [DAY], "b3")
    assert con.execute("select count(*) from raw.email_events_consent").fetchall() == [(1,)]


def test_only_a_later_opt_in_from_a_good_row_lifts_an_unsubscribe(con, tmp_path):
    root = tmp_path / "landing"
    later = "2024-03-11T09:00:00+00:00"
    events = [
        event("lifted@x.com", "unsubscribe", "e1", NOON),
        event("stays@x.com", "unsubscribe", "e2", NOON),
        event("group@x.com", "group_unsubscribe", "e3", NOON, asm_group_id=102),
        event("group@x.com", "group_resubscribe", "e4", NOON + dt.timedelta(hours=1),
               asm_group_id=102),
        event("other@x.com", "group_unsubscribe", "e5", NOON, asm_group_id=103),
    ]  # fmt: skip
    contacts = [
        _contact("lifted@x.com", "subscribed", later, later),
        # An opt-in from a quarantined row (an unknown consent state beside it) lifts nothing.
        _contact("stays@x.com", "subscribed", later, "garbage"),
        # An opt-in to all mail does not lift one group's unsubscribe.
        _contact("other@x.com", "subscribed", later, later),
    ]
    _land(root, DAY, events, contacts)
    _load(con, root, [DAY], "b1")
    assert _opted_out(con) == {("stays@x.com", None), ("other@x.com", 103)}


# --- the property: whatever the mix, nobody who opted out stays on a list ----------------------

EMAILS = [f"c{i}@x.com" for i in range(8)]
SIGNAL = st.fixed_dictionaries(
    {
        "email": st.sampled_from(EMAILS),
        "kind": st.sampled_from(["unsubscribe", "spamreport", "hard_bounce", "subscribed",
                                 "unsubscribed", "open"]),
        "hour": st.integers(0, 23),
        "day": st.integers(0, 2),
        "damage": st.sampled_from([None, None, "no_event_id", "future", "bad_updated_at"]),
        "relanded_without": st.booleans(),
    }
)  # fmt: skip


def _gzip(text: str, cut: bool) -> bytes:
    data = gzip.compress(text.encode())
    return data[: len(data) * 3 // 4] if cut else data


def _zstd(text: str, cut: bool) -> bytes:
    data = zstandard.ZstdCompressor().compress(text.encode())
    return data[: len(data) * 3 // 4] if cut else data


OPT_OUT_LINES = [
    event("first@x.com", "unsubscribe", "r1", NOON),
    event("spam@x.com", "spamreport", "r2", NOON),
    event("back@x.com", "group_resubscribe", "r3", NOON),  # an opt-in: never taken from here
]
# The refused file's records: opt-outs first, then enough filler (about 450 kB) for a zstd
# stream of several blocks, of which a cut keeps the first whole (a cut block is lost).
REFUSED_EVENTS = OPT_OUT_LINES + [event(f"o{i}@x.com", "open", f"f{i}", NOON) for i in range(3000)]


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        (
            "events.jsonl",
            lambda text, cut: (text.replace('"open"', '"op', 1) if cut else text).encode(),
            4,
        ),
        ("events.jsonl.gz", _gzip, None),
        ("events.jsonl.zst", _zstd, None),
    ],
    ids=["a JSON line cut in two", "truncated gzip", "truncated zstd"],
)
def test_opt_outs_in_a_refused_file_are_recorded_before_the_refusal(
    con, tmp_path, name, content, line
):
    root = tmp_path / "landing"
    text = "".join(json.dumps(e) + "\n" for e in REFUSED_EVENTS)
    folder = root / "email_events" / f"day={DAY}"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(content(text, True))
    # A good day loaded in the same run is refused with the bad one: its opt-out waits no more.
    other = DAY + dt.timedelta(days=1)
    _land(root, other, [event("other@x.com", "unsubscribe", "r9", NOON)], [])
    files = {d: sorted((root / "email_events" / f"day={d}").glob("*")) for d in (DAY, other)}

    with pytest.raises(LandingFileError) as refused:
        load_days(con, EMAIL_EVENTS, files, root, "b1", QualityThresholds())
    assert refused.value.file == f"email_events/day={DAY}/{name}"
    assert refused.value.line == line
    assert refused.value.opt_outs_recorded == 3
    assert (
        "read anyway (3 new, recorded in raw.email_events_consent) and suppress from the next run"
        in str(refused.value)
    )
    assert con.execute("select count(*) from raw.email_events").fetchall() == [(0,)]
    assert _opted_out(con) == {("first@x.com", None), ("spam@x.com", None), ("other@x.com", None)}
    assert set(
        con.execute("select email, rule, _source_file from raw.email_events_consent").fetchall()
    ) == {
        ("first@x.com", "file_refused", f"email_events/day={DAY}/{name}"),
        ("spam@x.com", "file_refused", f"email_events/day={DAY}/{name}"),
        ("other@x.com", "file_refused", f"email_events/day={other}/events.jsonl"),
    }
    # The file fixed, both days load; the opt-outs are recorded once.
    (folder / name).write_bytes(content(text, False))
    load_days(con, EMAIL_EVENTS, files, root, "b2", QualityThresholds())
    assert con.execute("select count(*) from raw.email_events").fetchall() == [(3004,)]
    assert con.execute(
        "select count(*) from raw.email_events_consent where withdraws"
    ).fetchall() == [(3,)]


def test_when_a_refused_files_opt_outs_cannot_be_read_the_refusal_says_so(
    con, tmp_path, monkeypatch
):
    root = tmp_path / "landing"
    _land(root, DAY, [event("a@x.com", "unsubscribe", "e1", NOON)], [])
    path = root / "email_events" / f"day={DAY}" / "events.jsonl"
    path.write_text(path.read_text() + '{"email": "cut\n')

    def unreadable(*args, **kwargs):
        raise PermissionError("no access")

    monkeypatch.setattr("orchestration.ingest.loader.salvage_opt_outs", unreadable)
    with pytest.raises(LandingFileError) as refused:
        load_days(con, EMAIL_EVENTS, {DAY: [path]}, root, "b1", QualityThresholds())
    assert (refused.value.line, refused.value.opt_outs_recorded) == (2, None)
    assert "could not be read either (PermissionError) and wait for the fix" in str(refused.value)


def test_unsubscribed_contacts_in_a_refused_csv_are_recorded(con, tmp_path):
    root = tmp_path / "landing"
    rows = [
        _contact("gone@x.com", "unsubscribed", "2024-03-10T10:00:00Z", "2024-03-10T10:00:00Z"),
        _contact("stay@x.com", "subscribed", "2024-03-10T10:00:00Z", "2024-03-10T10:00:00Z"),
    ]
    _land(root, DAY, [], rows)
    path = root / "contacts" / f"day={DAY}" / "contacts.csv"
    # A third row with one field too many: the file is refused at that line.
    extra = _contact("late@x.com", "unsubscribed", "2024-03-10T11:00:00Z", "x")
    with path.open("a", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerow([*extra.values(), "surplus"])
    with pytest.raises(LandingFileError) as refused:
        load_days(con, CONTACTS, {DAY: [path]}, root, "b1", QualityThresholds())
    assert (refused.value.file, refused.value.line) == (f"contacts/day={DAY}/contacts.csv", 4)
    # The unsubscribe of a well-formed row is kept; the malformed row and the opt-in are not.
    assert con.execute(
        "select email, signal, withdraws, rule from raw.contacts_consent"
    ).fetchall() == [("gone@x.com", "unsubscribed", True, "file_refused")]
    assert con.execute("select count(*) from raw.contacts").fetchall() == [(0,)]


def _minute(s: dict, i: int) -> int:
    """When a signal was given, in minutes from DAY (each signal its own minute, so no two
    rows of a contact are conflicting copies of one version)."""
    return 10**9 if s["damage"] == "future" else (s["day"] * 24 + s["hour"]) * 60 + i


def _good(s: dict) -> bool:
    """A row that breaks no rule (a damage meant for the other source's rows is none)."""
    contact = s["kind"] in ("subscribed", "unsubscribed")
    return s["damage"] is None or s["damage"] == ("no_event_id" if contact else "bad_updated_at")


def _expected(signals: list[dict]) -> set[str]:
    """Computed by hand from the generated rows: an opt-out from any row, unless a good row
    opted in later (the future is never passed)."""
    out = set()
    for i, s in enumerate(signals):
        if s["kind"] in ("subscribed", "open"):
            continue
        lifting = s["kind"] in ("unsubscribe", "unsubscribed")
        lifted = lifting and any(
            o["email"] == s["email"] and o["kind"] == "subscribed" and _good(o)
            and _minute(o, j) > _minute(s, i)
            for j, o in enumerate(signals)
        )  # fmt: skip
        if not lifted:
            out.add(s["email"])
    return out


def _rows(signals: list[dict], day: int) -> tuple[list[dict], list[dict]]:
    events, contacts = [], []
    for i, s in enumerate(signals):
        if s["day"] != day:
            continue
        at = DAY + dt.timedelta(days=s["day"])
        moment = dt.datetime(at.year, at.month, at.day, tzinfo=dt.UTC) + dt.timedelta(
            hours=s["hour"], minutes=i
        )
        if s["damage"] == "future":
            moment = moment.replace(year=2099)
        if s["kind"] in ("subscribed", "unsubscribed"):
            text = moment.isoformat()
            updated = "garbage" if s["damage"] == "bad_updated_at" else text
            contacts.append(_contact(s["email"], s["kind"], text, updated))
        else:
            kind = "bounce" if s["kind"] == "hard_bounce" else s["kind"]
            row = event(s["email"], kind, f"e{i}", moment, type="bounce")
            if s["damage"] == "no_event_id":
                row["sg_event_id"] = None
            events.append(row)
    return events, contacts


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(signals=st.lists(SIGNAL, min_size=1, max_size=12))
def test_no_contact_with_an_opt_out_stays_published(signals, tmp_path_factory):
    """Random mixes of good rows, bad rows and consent events over three days, some days
    landed again without their rows: after the suppression-only sync, no contact who opted
    out (and did not opt in again later from a good row) is on the published list."""
    folder = tmp_path_factory.mktemp("mix")
    root = folder / "landing"
    with duckdb.connect(str(folder / "warehouse.duckdb")) as con:
        for day in range(3):
            events, contacts = _rows(signals, day)
            _land(root, DAY + dt.timedelta(days=day), events, contacts)
            _load(con, root, [DAY + dt.timedelta(days=day)], f"b{day}")
        # Some rows vanish from a re-landed day (a truncated file, a corrected export).
        for day in range(3):
            kept = [s for s in signals if not s["relanded_without"]]
            events, contacts = _rows(kept, day)
            _land(root, DAY + dt.timedelta(days=day), events, contacts)
            _load(con, root, [DAY + dt.timedelta(days=day)], f"r{day}")
        ensure_publish_tables(con)
        con.executemany(
            "insert into publish.member_state values "
            "('vip', 'outbox', ?, '{}', 'h', 'b0', current_timestamp, current_timestamp)",
            [(e,) for e in EMAILS],
        )
        adapter = OutboxAdapter(root=str(folder / "outbox"))
        remove_opted_out(con, [OptOutAudience("vip", "VIP")], adapter, "run1")
        published = {r[0] for r in con.execute("select email from publish.member_state").fetchall()}
    assert published == set(EMAILS) - _expected(signals)
