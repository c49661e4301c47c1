"""Consent through the real pipeline: opt-outs in bad rows and held days are honoured.

On a copy of the shared run, the day after it lands six opt-outs of published contacts, each
in a way that used to lose it: an event timestamp in milliseconds, a contact row with a
month-first date, an unsubscribe with a timestamp in 2099 (quarantined), two conflicting
copies of one event (both quarantined), a late copy of an event id first landed as another
event, and a plain unsubscribe; and ten malformed events, so the
email_events gate holds the whole day. The day's run must still take the six off every list
(the suppression-only sync). Then the day is landed again as first exported, without any of
the opt-outs (a corrected export that dropped them; the smaller contacts file is held until
accepted), and the next day's run must keep all six
suppressed, say where each came from, and publish none of them.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from tests.conftest import BASE_END, BaseRun, point_settings_at
from tests.runs import built, evaluations, reload_definitions, run_day, run_ingest

BAD_DAY = BASE_END + dt.timedelta(days=1)
NEXT_DAY = BAD_DAY + dt.timedelta(days=1)
NOON = dt.datetime(BAD_DAY.year, BAD_DAY.month, BAD_DAY.day, 12, tzinfo=dt.UTC)
# Case -> where marts.suppressions must say the opt-out came from, once the day is re-landed.
CASES = {
    "milliseconds": "not_loaded",
    "month_first_date": "not_loaded",
    "year_2099": "quarantined",
    "conflicting_copies": "quarantined",
    "late_correction": "not_loaded",
    "plain": "not_loaded",
}


@dataclass
class Outcome:
    people: dict[str, str]  # case -> the contact's e-mail
    held: object  # the bad day's run
    after_held: dict[str, object]  # what the warehouse said after it
    smaller: object  # the day landed again without the opt-outs, not yet accepted
    next_day: object
    warehouse: Path

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


def _event(email: str, event: str, event_id: str, at: dt.datetime = NOON) -> dict:
    return {
        "email": email,
        "timestamp": int(at.timestamp()),
        "event": event,
        "sg_event_id": event_id,
        "sg_message_id": f"m-{event_id}",
        "asm_group_id": 101,
    }


def _people(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Six published contacts with no suppression yet; the late correction's has an event."""
    published = [r[0] for r in con.execute(
        "select distinct email from publish.member_state where email not in "
        "(select email from marts.suppressions) order by email"
    ).fetchall()]  # fmt: skip
    with_event = con.execute(
        "select lower(email) from raw.email_events where lower(email) in "
        f"({', '.join('?' for _ in published)}) order by 1 limit 1",
        published,
    ).fetchall()[0][0]
    others = [e for e in published if e != with_event][: len(CASES) - 1]
    assert len(others) == len(CASES) - 1, "the shared run published too few contacts"
    return dict(zip(CASES, [*others[:4], with_event, others[4]], strict=True))


def _land_opt_outs(con: duckdb.DuckDBPyConnection, landing: Path, people: dict[str, str]) -> None:
    events_path = sorted((landing / "email_events" / f"day={BAD_DAY}").iterdir())[0]
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    # Malformed rows beyond the quarantine tolerance: the gate holds the day.
    junk = [_event("nobody-at-all", "open", f"junk-{i}") for i in range(10)]
    millis = _event(people["milliseconds"], "unsubscribe", "c-ms")
    millis["timestamp"] *= 1000
    earlier_id, earlier_ts = con.execute(
        "select sg_event_id, timestamp from raw.email_events where lower(email) = ? limit 1",
        [people["late_correction"]],
    ).fetchall()[0]
    late = _event(people["late_correction"], "unsubscribe", earlier_id)
    late["timestamp"] = earlier_ts
    events += [
        millis,
        _event(people["year_2099"], "unsubscribe", "c-2099", NOON.replace(year=2099)),
        _event(people["conflicting_copies"], "unsubscribe", "c-twin"),
        {**_event(people["conflicting_copies"], "open", "c-twin")},
        late,
        _event(people["plain"], "unsubscribe", "c-plain"),
        *junk,
    ]
    events_path.write_text("".join(json.dumps(e) + "\n" for e in events))

    contacts_path = sorted((landing / "contacts" / f"day={BAD_DAY}").iterdir())[0]
    with contacts_path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows, columns = list(reader), list(reader.fieldnames or [])
    stamp = f"{BAD_DAY:%m/%d/%Y} 10:00"
    row = dict.fromkeys(columns, "")
    row.update(
        email=people["month_first_date"],
        email_marketing_consent_state="unsubscribed",
        email_marketing_consent_updated_at=stamp,
        updated_at=stamp,
        created_at=stamp,
    )
    with contacts_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows([*rows, row])


@pytest.fixture(scope="module")
def outcome(base_run: BaseRun, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    data = base_run.copy(tmp_path_factory.mktemp("consent"))
    warehouse = data / "warehouse.duckdb"
    original = {f: f.read_bytes() for f in (data / "landing").rglob(f"day={BAD_DAY}/*")}
    with pytest.MonkeyPatch.context() as mp:
        point_settings_at(mp, data)
        module = reload_definitions()
        with duckdb.connect(str(warehouse), read_only=True) as con:
            people = _people(con)
            _land_opt_outs(con, data / "landing", people)
        with DagsterInstance.ephemeral() as instance:
            held = run_day(module, instance, BAD_DAY, readouts=False)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            after_held = {
                "published": con.execute(
                    "select count(*) from publish.member_state where email in "
                    f"({', '.join('?' for _ in people)})",
                    list(people.values()),
                ).fetchall()[0][0],
                "held": con.execute(
                    "select table_name from quality.held_partitions where partition_date = ?",
                    [BAD_DAY],
                ).fetchall(),
                "loaded": con.execute(
                    "select sg_event_id from raw.email_events "
                    "where sg_event_id = 'c-ms' and _partition_date = ? "
                    "union all select email from raw.contacts "
                    "where email = ? and _partition_date = ?",
                    [BAD_DAY, people["month_first_date"], BAD_DAY],
                ).fetchall(),
            }
        for path, content in original.items():  # the day again, without the opt-outs
            path.write_bytes(content)
        with DagsterInstance.ephemeral() as instance:
            smaller = run_ingest(module, instance, BAD_DAY, BAD_DAY)
        # The contacts day had passed its gate: a smaller file is held until accepted.
        mp.setenv("LIFECYCLE_RELAND_MAX_SHRINK", "1")
        module = reload_definitions()
        with DagsterInstance.ephemeral() as instance:
            assert run_ingest(module, instance, BAD_DAY, BAD_DAY).success
        with DagsterInstance.ephemeral() as instance:
            next_day = run_day(module, instance, NEXT_DAY, readouts=False)
    return Outcome(people, held, after_held, smaller, next_day, warehouse)


def test_a_held_day_still_takes_its_opt_outs_off_every_list(outcome: Outcome) -> None:
    assert not outcome.held.success
    failed = {k: c.description for k, c in evaluations(outcome.held).items() if not c.passed}
    assert outcome.after_held["held"] == [("email_events",)], failed
    # Nothing was built from the held day but the suppression-only sync, which removed all six.
    assert "marts/suppressions" not in built(outcome.held)
    assert "publish/opt_out_removals" in built(outcome.held)
    assert outcome.after_held["published"] == 0
    # The millisecond timestamp and the month-first date were read, not quarantined.
    assert sorted(r[0] for r in outcome.after_held["loaded"]) == sorted(
        ["c-ms", outcome.people["month_first_date"]]
    )


def test_a_relanded_day_without_the_opt_outs_keeps_them_suppressed(outcome: Outcome) -> None:
    # Landed again with a row fewer, the contacts day (which had passed) is held until the
    # smaller file is accepted; the held email_events day takes its fixed file as it is.
    failed = {k: c for k, c in evaluations(outcome.smaller).items() if not c.passed}
    assert set(failed) == {"contacts"}
    assert "landed again with" in failed["contacts"].description
    assert outcome.next_day.success
    rows = outcome.query(
        "select email, evidence, evidence_file from marts.suppressions "
        "where asm_group_id is null and reason = 'unsubscribed'"
    )
    evidence = {email: (kind, file) for email, kind, file in rows}
    for case, expected in CASES.items():
        kind, file = evidence[outcome.people[case]]
        assert kind == expected, case
        assert f"/day={BAD_DAY}/" in file, case
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in outcome.next_day.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert checks["assert_every_landed_opt_out_is_suppressed"] is True
    assert outcome.query("select count(*) from quality.held_partitions") == [(0,)]


def test_no_audience_or_list_holds_anyone_who_opted_out(outcome: Outcome) -> None:
    people = list(outcome.people.values())
    marks = ", ".join("?" for _ in people)
    audiences = outcome.query(
        "select table_name from information_schema.tables where table_schema = 'audiences'"
    )
    assert len(audiences) >= 10
    for (table,) in audiences:
        members = outcome.query(
            f"select email from audiences.{table} where email in ({marks})", people
        )
        assert members == [], table
    assert (
        outcome.query(f"select email from publish.member_state where email in ({marks})", people)
        == []
    )
    # The next day's syncs sent none of them again.
    sent = outcome.query(
        "select m.email from publish.batch_members m join publish.batches b using (batch_id) "
        f"where b.action <> 'remove' and b.plan_id = ? and m.email in ({marks})",
        [outcome.next_day.run_id, *people],
    )
    assert sent == []
