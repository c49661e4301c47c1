"""SendGrid-specific behaviour against its emulator: contacts refused by the upsert's
validation, and removal that keeps the contact. (What every ESP must do is in
test_esp_adapters.py.)"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.audience_tables import AUDIENCE, make_people, make_warehouse
from tests.esp import ESPS, LIST, sync

SENDGRID = ESPS["sendgrid"]


def test_refused_contacts_are_failed_members_and_the_rest_goes_in(tmp_path: Path) -> None:
    server = SENDGRID.start()
    try:
        path = tmp_path / "warehouse.duckdb"
        people = [p for p in make_people(20) if not p["holdout"]]
        people.append({"email": "bad@@example.com", "holdout": False})
        make_warehouse(path, people, [])
        report = sync(path, SENDGRID.adapter(server), "run-1")
        with duckdb.connect(str(path), read_only=True) as con:
            failures = dict(
                con.execute("select email, reason from publish.member_failures").fetchall()
            )
        assert failures == {"bad@@example.com": "must be a valid email"}
        assert report.failed == 1
        assert server.members(LIST) == {p["email"] for p in people} - {"bad@@example.com"}
        # Attributes are custom fields, created once; first_name is SendGrid's own field.
        assert set(server.fields.values()) >= {"reason", "lifecycle_stage"}
        assert "first_name" not in server.fields.values()
        # Leaving the audience takes the contact off the list; the contact stays.
        with duckdb.connect(str(path)) as con:
            con.execute(f"delete from audiences.{AUDIENCE} where email = 'p1@example.com'")
        sync(path, SENDGRID.adapter(server), "run-2")
        assert "p1@example.com" not in server.members(LIST)
        assert "p1@example.com" in server.contacts
    finally:
        server.stop()
