"""SendGrid-specific behaviour against its emulator: contacts refused by the upsert's
validation, upsert jobs that fail, removal that keeps the contact, and the target chosen by
environment variables. (What every ESP must do is in test_esp_adapters.py.)"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration.publish.http import ApiError
from orchestration.publish.sendgrid import SendGridAdapter
from orchestration.resources.publish import PublishTarget
from tests.emulators.base import Faults
from tests.esp import ESPS, LIST, sync
from tests.test_publish_engine import AUDIENCE, _make_warehouse, _people

SENDGRID = ESPS["sendgrid"]


def test_refused_contacts_are_failed_members_and_the_rest_goes_in(tmp_path: Path) -> None:
    server = SENDGRID.start()
    try:
        path = tmp_path / "warehouse.duckdb"
        people = [p for p in _people(20) if not p["holdout"]]
        people.append({"email": "bad@@example.com", "holdout": False})
        _make_warehouse(path, people, [])
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


def test_a_job_that_keeps_failing_leaves_the_batch_in_flight(tmp_path: Path) -> None:
    server = SENDGRID.start(Faults(failed_jobs=10))
    try:
        path = tmp_path / "warehouse.duckdb"
        _make_warehouse(path, _people(30), [])
        with pytest.raises(ApiError, match="failed 3 times"):
            sync(path, SENDGRID.adapter(server), "run-1")
        with duckdb.connect(str(path), read_only=True) as con:
            assert con.execute("select status from publish.batches").fetchall() == [("in_flight",)]
            assert con.execute("select count(*) from publish.member_state").fetchall() == [(0,)]
        server.failed_jobs_left = 0
        report = sync(path, SENDGRID.adapter(server), "run-2")
        assert report.resumed_batches == 1
        assert server.members(LIST) == {p["email"] for p in _people(30) if not p["holdout"]}
    finally:
        server.stop()


def test_the_target_is_chosen_by_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    target = PublishTarget(target="sendgrid", outbox_dir="unused")
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    with pytest.raises(ValueError, match="SENDGRID_API_KEY"):
        target.adapter()
    monkeypatch.setenv("SENDGRID_API_KEY", SENDGRID.api_key)
    adapter = target.adapter()
    assert isinstance(adapter, SendGridAdapter)
    assert adapter.client.base_url == "https://api.sendgrid.com"
    assert SENDGRID.api_key not in repr(target)
