"""Consent signals at landing: every opt-out read reaches the opt-out list, whatever else is
wrong with its row or its day, and nothing takes it back but a later opt-in from a good row.

Files are written by hand here, loaded by the real loader into a real DuckDB file, and the
opt-outs read back with the SQL the publish side uses (`opt_outs_sql`) and acted on by the
real suppression-only sync against the outbox."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.ingest import load_days
from orchestration.ingest.consent import opt_outs_sql
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


@pytest.fixture
def con(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield con
    con.close()


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
