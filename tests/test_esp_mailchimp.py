"""Mailchimp-specific behaviour against its emulator: consent is one-way, refusals Mailchimp
gives per member are recorded, merge fields and the data centre.
(What every ESP must do is in test_esp_adapters.py.)"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from esp_emulators.mailchimp import subscriber_hash
from orchestration.publish.mailchimp import api_url, merge_tag
from tests.audience_tables import AUDIENCE, make_people, make_warehouse
from tests.esp import ESPS, LIST, sync

MAILCHIMP = ESPS["mailchimp"]


def test_consent_is_one_way(tmp_path: Path) -> None:
    server = MAILCHIMP.start()
    try:
        # Already in the Mailchimp audience: one unsubscribed, one cleaned (bounced).
        for email, status in (("p1@example.com", "unsubscribed"), ("p2@example.com", "cleaned")):
            server.members[subscriber_hash(email)] = {
                "email_address": email,
                "status": status,
                "merge_fields": {},
            }
        server.compliance = {"p4@example.com"}
        server.forgotten = {"p5@example.com"}
        path = tmp_path / "warehouse.duckdb"
        people = [p for p in make_people(12) if not p["holdout"]]
        make_warehouse(path, people, [])
        report = sync(path, MAILCHIMP.adapter(server), "run-1")
        with duckdb.connect(str(path), read_only=True) as con:
            failures = dict(
                con.execute("select email, reason from publish.member_failures").fetchall()
            )
        # Nobody's status was changed; the new ones came in with the consent we hold.
        assert server.status_changes == 0
        assert server.members[subscriber_hash("p1@example.com")]["status"] == "unsubscribed"
        assert server.members[subscriber_hash("p2@example.com")]["status"] == "cleaned"
        assert server.members[subscriber_hash("p3@example.com")]["status"] == "subscribed"
        # Compliance state and forgotten addresses are failed members, never published; so
        # are the unsubscribed and cleaned ones, with the status Mailchimp answered (they
        # reach marts.suppressions as esp_status), kept out of the segment.
        assert set(failures) == {f"p{i}@example.com" for i in (1, 2, 4, 5)}
        assert failures["p1@example.com"] == "esp_status: unsubscribed"
        assert failures["p2@example.com"] == "esp_status: cleaned"
        assert "compliance state" in failures["p4@example.com"]
        assert "permanently deleted" in failures["p5@example.com"]
        # Mailchimp's words quote the address: kept, masked (the row's key is the address).
        assert "p***@example.com is in a compliance state" in failures["p4@example.com"]
        assert not any("@example.com" in why.replace("***@", "") for why in failures.values())
        assert report.failed == 4
        assert report.confirmed == len(people) - 4
        assert server.segment_members(LIST) == {p["email"] for p in people} - set(failures)
        # Leaving an audience takes the tag off; the contact stays, with its status.
        with duckdb.connect(str(path)) as con:
            con.execute(f"delete from audiences.{AUDIENCE} where email = 'p3@example.com'")
        sync(path, MAILCHIMP.adapter(server), "run-2")
        assert "p3@example.com" not in server.segment_members(LIST)
        assert server.members[subscriber_hash("p3@example.com")]["status"] == "subscribed"
        # Our attributes are merge fields, created once.
        assert {"LCREASON", "FNAME"} <= set(server.merge_fields)
        assert server.calls["POST /3.0/lists/{id}/merge-fields"] == len(
            set(server.merge_fields) - {"FNAME", "LNAME"}
        )
    finally:
        server.stop()


def test_the_data_centre_comes_from_the_key_and_tags_fit_mailchimp() -> None:
    assert api_url("abc-us21") == "https://us21.api.mailchimp.com/3.0"
    with pytest.raises(ValueError, match="data centre"):
        api_url("no-data-centre-")
    assert merge_tag("first_name") == "FNAME"
    assert merge_tag("some_long_attribute") == "SOMELONGAT"
