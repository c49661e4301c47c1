"""What every ESP adapter must do, against its emulator on loopback: a full sync, then only
the diff; refused members recorded and never published; the list as desired under every
fault, with no add applied twice; async jobs that fail; credentials never in logs or errors;
the target chosen by one environment variable and the credentials."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest

from esp_emulators.base import Faults
from orchestration.assets.publish_checks import publish_check_results
from orchestration.publish.adapters import SUPPRESSING_STATUSES, esp_status
from orchestration.publish.http import ApiError, RetryPolicy
from orchestration.publish.klaviyo import klaviyo_client
from orchestration.resources.build import build_resources
from orchestration.settings import Settings, SettingsError, esp_credentials
from tests.audience_tables import AUDIENCE, make_people, make_warehouse
from tests.esp import ASYNC_JOB_ESPS, ESPS, LIST, Esp, sync, writes


@pytest.fixture(params=sorted(ESPS))
def esp(request: pytest.FixtureRequest) -> Esp:
    return ESPS[request.param]


def _treatment(people: list[dict]) -> set[str]:
    return {p["email"] for p in people if not p["holdout"]}


def test_a_full_sync_fills_the_list_and_the_next_sends_only_the_diff(
    tmp_path: Path, esp: Esp
) -> None:
    server = esp.start()
    try:
        path = tmp_path / "warehouse.duckdb"
        people = make_people(1_500)
        make_warehouse(path, people, [("p3@example.com", "unsubscribed", None)])
        refused = {"p7@example.com", "p8@example.com"}
        esp.refuse(server, refused)
        adapter = esp.adapter(server, max_batch=400)

        report = sync(path, adapter, "run-1")
        desired = _treatment(people) - {"p3@example.com"}
        assert esp.members(server) == desired - refused
        assert report.failed == 2 and report.batches == 4  # 1,349 adds in batches of 400
        with duckdb.connect(str(path), read_only=True) as con:
            failures = dict(
                con.execute("select email, reason from publish.member_failures").fetchall()
            )
            state = {e for (e,) in con.execute("select email from publish.member_state").fetchall()}
            in_sync, within = publish_check_results(con, report, max_failed_share=0.01)
        # 2 refused of 1,349 sent: 0.15%, within 1%; the list is 2 short of the desired.
        assert within.passed and not in_sync.passed
        assert in_sync.description == f"1,347 members confirmed by {report.target}, 1,349 desired"
        assert set(failures) == refused and all(failures.values())
        # The ESP's words may quote the address (Klaviyo's and Mailchimp's do here): masked.
        assert not any(e in why for e in refused for why in failures.values())
        assert state == desired - refused  # refused members are never marked published
        assert esp.first_name(server, "p11@example.com") == "Ann"

        sent = writes(server)
        again = sync(path, adapter, "run-2")
        assert (again.adds, again.removes, again.updates) == (0, 0, 0)
        assert writes(server) == sent  # nothing sent

        # Some leave, one joins, one changes: only that goes out.
        with duckdb.connect(str(path)) as con:
            con.execute(
                f"delete from audiences.{AUDIENCE} "
                "where email in ('p1@example.com', 'p2@example.com')"
            )
            con.execute(
                f"update audiences.{AUDIENCE} set first_name = 'Bo' where email = 'p5@example.com'"
            )
            con.execute(
                f"insert into audiences.{AUDIENCE} (audience, email, first_name, reason, "
                f"is_holdout, run_date) values ('{AUDIENCE}', 'new@example.com', 'Cy', "
                "'test', false, date '2025-01-31')"
            )
        third = sync(path, adapter, "run-3")
        assert (third.adds, third.removes, third.updates) == (1, 2, 1)
        gone = {"p1@example.com", "p2@example.com"}
        assert esp.members(server) == (desired - refused - gone) | {"new@example.com"}
        assert esp.first_name(server, "p5@example.com") == "Bo"
        assert server.duplicate_adds == 0
    finally:
        server.stop()


def test_members_the_esp_will_not_mail_are_failed_with_its_status_never_published(
    tmp_path: Path, esp: Esp
) -> None:
    server = esp.start()
    try:
        path = tmp_path / "warehouse.duckdb"
        people = [p for p in make_people(12) if not p["holdout"]]
        make_warehouse(path, people, [])
        # Opted out at the ESP, not (yet) in our suppressions: before the first sync...
        expected = {
            f"p{i}@example.com": esp_status(esp.opt_out(server, f"p{i}@example.com", kind))
            for i, kind in ((1, "unsubscribe"), (2, "bounce"), (3, "complaint"))
        }
        report = sync(path, esp.adapter(server), "run-1")
        assert _failures(path) == expected
        assert report.failed == 3 and report.confirmed == len(people) - 3
        # The publish asset's checks on this sync: 3 of the desired never reached the list,
        # 3 of the members sent were refused (above 1%, within 50%).
        desired = len(_treatment(people))
        with duckdb.connect(str(path)) as con:
            in_sync, failures = publish_check_results(con, report, max_failed_share=0.01)
            _, tolerated = publish_check_results(con, report, max_failed_share=0.5)
        assert not in_sync.passed
        assert in_sync.metadata["confirmed_members"].value == desired - 3
        assert in_sync.metadata["desired_members"].value == desired
        assert not failures.passed and tolerated.passed
        assert failures.metadata["failed_members"].value == 3
        assert failures.metadata["sent_members"].value == desired
        assert esp.members(server) == _treatment(people) - set(expected)
        assert _published(path) == _treatment(people) - set(expected)
        # ... and after: a published member who unsubscribes there fails its next update.
        expected["p4@example.com"] = esp_status(
            esp.opt_out(server, "p4@example.com", "unsubscribe")
        )
        with duckdb.connect(str(path)) as con:
            con.execute(
                f"update audiences.{AUDIENCE} set first_name = 'Bo' where email = 'p4@example.com'"
            )
        again = sync(path, esp.adapter(server), "run-2")
        assert again.updates == 1 and again.failed == 1
        assert _failures(path) == expected
        # Every status here is one marts.suppressions suppresses on (reason esp_status).
        assert {v.removeprefix("esp_status: ") for v in expected.values()} <= set(
            SUPPRESSING_STATUSES
        )
    finally:
        server.stop()


def _failures(path: Path) -> dict[str, str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return dict(con.execute("select email, reason from publish.member_failures").fetchall())


def _published(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {e for (e,) in con.execute("select email from publish.member_state").fetchall()}


def test_under_faults_the_list_ends_as_desired_with_no_add_twice(tmp_path: Path, esp: Esp) -> None:
    # Every kind of fault, often; the waits they ask for are recorded, not slept.
    faults = Faults(
        rate_limit_every=10,
        error_rate=0.15,
        reset_rate=0.1,
        slow_rate=0.1,
        slow_seconds=0.1,
        failed_jobs=2,
    )
    server = esp.start(faults)
    try:
        path = tmp_path / "warehouse.duckdb"
        people = make_people(1_000)
        make_warehouse(path, people, [])
        adapter = esp.adapter(server, max_batch=250)
        report = sync(path, adapter, "run-1")
        assert esp.members(server) == _treatment(people)
        assert report.failed == 0 and server.duplicate_adds == 0
        # Then some of them leave, under the same faults.
        with duckdb.connect(str(path)) as con:
            con.execute(f"delete from audiences.{AUDIENCE} where email like 'p1%'")
        sync(path, adapter, "run-2")
        assert esp.members(server) == {e for e in _treatment(people) if not e.startswith("p1")}
    finally:
        server.stop()
    assert adapter.client.retries > 0
    # Every retry waited (recorded, not slept); Klaviyo's and Mailchimp's 429s ask for a
    # second (Retry-After: 1) and got at least that.
    waits = adapter.client.sleep.asked
    assert len(waits) == adapter.client.retries
    if esp.name != "sendgrid":  # SendGrid says when its window resets: under a second here
        assert sum(w >= 1 for w in waits) >= server.faulted["rate_limit"]
    for fault in ("rate_limit", "error", "reset", "slow"):
        assert server.faulted[fault] > 0, fault


def test_credentials_never_reach_logs_or_errors(
    tmp_path: Path, esp: Esp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "warehouse.duckdb"
    make_warehouse(path, make_people(50), [])
    wrong = esp.api_key[:-8] + "0000" + esp.api_key[-4:]
    server = esp.start(Faults(error_rate=0.3, rate_limit_every=9))
    try:
        with pytest.raises(ApiError) as refused:
            sync(path, esp.adapter(server, key=wrong), "run-1")
        assert refused.value.status == 401
        assert wrong not in str(refused.value) and esp.api_key not in str(refused.value)
        sync(path, esp.adapter(server), "run-2")
        assert esp.members(server) == _treatment(make_people(50))
    finally:
        server.stop()
    assert esp.api_key not in caplog.text and wrong not in caplog.text
    assert "@example.com" not in caplog.text  # addresses are never logged in full
    assert server.seen_headers and all("Authorization" in h for h in server.seen_headers)


@pytest.mark.parametrize("name", ASYNC_JOB_ESPS)
def test_a_job_that_keeps_failing_leaves_the_batch_in_flight(tmp_path: Path, name: str) -> None:
    esp = ESPS[name]
    server = esp.start(Faults(failed_jobs=10))
    try:
        path = tmp_path / "warehouse.duckdb"
        make_warehouse(path, make_people(30), [])
        with pytest.raises(ApiError, match="3 times"):
            sync(path, esp.adapter(server), "run-1")
        with duckdb.connect(str(path), read_only=True) as con:
            status = con.execute("select status from publish.batches").fetchall()
            published = con.execute("select count(*) from publish.member_state").fetchall()
        assert status == [("in_flight",)] and published == [(0,)]
        # Once the ESP processes jobs again, the next sync resends the batch and is done.
        server.failed_jobs_left = 0
        report = sync(path, esp.adapter(server), "run-2")
        assert report.resumed_batches == 1
        assert esp.members(server, LIST) == _treatment(make_people(30))
    finally:
        server.stop()


def test_the_target_is_one_variable_and_the_credentials(
    esp: Esp, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = build_resources(Settings.from_env({"LIFECYCLE_ESP_TARGET": esp.name}))[
        "publish_target"
    ]
    key_variable = f"{esp.name.upper()}_API_KEY"
    monkeypatch.delenv(key_variable, raising=False)
    with pytest.raises(ValueError, match=key_variable):
        target.adapter()
    monkeypatch.setenv(key_variable, esp.api_key)
    for name, value in esp.env:
        monkeypatch.setenv(name, value)
    adapter = target.adapter()
    assert adapter.name == esp.name and adapter.client.base_url == esp.public_url
    assert esp.api_key not in repr(target)


def test_esp_settings_come_from_the_environment_with_clear_errors() -> None:
    settings = Settings.from_env(
        {
            "LIFECYCLE_ESP_TARGET": " SendGrid ",
            "LIFECYCLE_ESP_DEADLINE_SECONDS": "120",
            "LIFECYCLE_ESP_REQUESTS_PER_MINUTE": "0",
            "LIFECYCLE_ESP_POLL_SECONDS": "0.5",
            "LIFECYCLE_OUTBOX_BATCH_ROWS": "10",
        }
    )
    assert settings.esp_target == "sendgrid"
    assert (settings.esp_deadline_seconds, settings.esp_poll_seconds) == (120.0, 0.5)
    assert settings.esp_requests_per_minute == 0.0 and settings.outbox_batch_rows == 10
    with pytest.raises(SettingsError, match="LIFECYCLE_ESP_DEADLINE_SECONDS='soon' is not a"):
        Settings.from_env({"LIFECYCLE_ESP_DEADLINE_SECONDS": "soon"})
    with pytest.raises(SettingsError, match=r"LIFECYCLE_OUTBOX_BATCH_ROWS='2\.5' is not a whole"):
        Settings.from_env({"LIFECYCLE_OUTBOX_BATCH_ROWS": "2.5"})
    with pytest.raises(SettingsError, match="must be at least 1"):
        Settings.from_env({"LIFECYCLE_OUTBOX_BATCH_ROWS": "0"})
    assert esp_credentials("sendgrid", {"SENDGRID_API_KEY": " SG.key \n"}) == {
        "SENDGRID_API_KEY": "SG.key"
    }
    # A key pasted with a line break inside: refused by name, never quoted.
    with pytest.raises(SettingsError, match=r"SENDGRID_API_KEY .* a line break") as error:
        esp_credentials("sendgrid", {"SENDGRID_API_KEY": "SG.first\nSG.second"})
    assert "SG.first" not in str(error.value)


def test_a_call_that_times_out_is_retried_until_an_answer_comes() -> None:
    server = ESPS["klaviyo"].start(Faults(slow_rate=0.5, slow_seconds=0.6, seed=3))
    try:
        policy = RetryPolicy(
            deadline_seconds=30,
            timeout_seconds=0.3,
            backoff_base_seconds=0.01,
            backoff_max_seconds=0.05,
        )
        client = klaviyo_client(ESPS["klaviyo"].api_key, server.base_url, policy)
        for _ in range(8):
            assert client.request("GET", "/api/lists").json()["data"] == []
    finally:
        server.stop()
    assert server.faulted["slow"] > 0 and client.retries >= server.faulted["slow"]
