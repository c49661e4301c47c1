"""Opt-outs landed in the ways that used to lose them, for tests that run the real pipeline.

Six published contacts each opt out on `day` in one of these ways (`CASES`, with where
`marts.suppressions` must then say the opt-out came from, when the day loads normally):
an event timestamp in milliseconds, a contact row with a month-first date, an unsubscribe
dated 2099 (quarantined), two conflicting copies of one event (both quarantined), a late copy
of an event id first landed as another event (staging keeps the first), and a plain one.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import duckdb

CASES = {
    "milliseconds": "loaded",
    "month_first_date": "loaded",
    "year_2099": "quarantined",
    "conflicting_copies": "quarantined",
    "late_correction": "not_loaded",
    "plain": "loaded",
}


def event(email: str, kind: str, event_id: str, at: dt.datetime, **extra) -> dict:
    """A SendGrid webhook event (`extra`: more fields, such as a bounce's `type`)."""
    return {
        "email": email,
        "timestamp": int(at.timestamp()),
        "event": kind,
        "sg_event_id": event_id,
        "sg_message_id": f"m-{event_id}",
        "asm_group_id": 101,
        **extra,
    }


def published_people(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Case -> a published contact with no suppression yet (the late correction's contact
    has an event to correct)."""
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


def land_opt_outs(
    con: duckdb.DuckDBPyConnection, landing: Path, day: dt.date, people: dict[str, str]
) -> None:
    """Add each case's opt-out to the day's landing files (read-only `con`: the warehouse)."""
    noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)
    events_path = sorted((landing / "email_events" / f"day={day}").iterdir())[0]
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    millis = event(people["milliseconds"], "unsubscribe", "c-ms", noon)
    millis["timestamp"] *= 1000
    earlier_id, earlier_ts = con.execute(
        "select sg_event_id, timestamp from raw.email_events where lower(email) = ? limit 1",
        [people["late_correction"]],
    ).fetchall()[0]
    late = event(people["late_correction"], "unsubscribe", earlier_id, noon)
    late["timestamp"] = earlier_ts
    events += [
        millis,
        event(people["year_2099"], "unsubscribe", "c-2099", noon.replace(year=2099)),
        event(people["conflicting_copies"], "unsubscribe", "c-twin", noon),
        event(people["conflicting_copies"], "open", "c-twin", noon),
        late,
        event(people["plain"], "unsubscribe", "c-plain", noon),
    ]
    events_path.write_text("".join(json.dumps(e) + "\n" for e in events))

    contacts_path = sorted((landing / "contacts" / f"day={day}").iterdir())[0]
    with contacts_path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows, columns = list(reader), list(reader.fieldnames or [])
    stamp = f"{day:%m/%d/%Y} 10:00"
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
