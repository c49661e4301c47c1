"""The Klaviyo adapter against a Klaviyo emulator on loopback: full and diff syncs, refused
members, faults of every kind, and credentials that never leave the request headers."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from orchestration.assets.audiences import audience_specs
from orchestration.publish.engine import SyncSettings, sync_audience
from orchestration.publish.http import ApiError, RetryPolicy
from orchestration.publish.klaviyo import KlaviyoAdapter, klaviyo_client
from orchestration.sample import SampleParams, generate_sample_shop
from tests.conftest import AUDIENCES
from tests.emulators.base import Faults
from tests.emulators.klaviyo import KlaviyoEmulator
from tests.test_publish_engine import AUDIENCE, GROUP, _make_warehouse, _people

API_KEY = "pk_live_" + "9f3c2b1a7e6d" * 3
LIST = "Lifecycle test list"
FAST = RetryPolicy(
    deadline_seconds=60, timeout_seconds=5, backoff_base_seconds=0.01, backoff_max_seconds=0.2
)


@pytest.fixture
def emulator():
    server = KlaviyoEmulator(API_KEY).start()
    yield server
    server.stop()


def _adapter(emulator: KlaviyoEmulator, key: str = API_KEY, max_batch: int = 10_000):
    adapter = KlaviyoAdapter(klaviyo_client(key, emulator.base_url, FAST), poll_seconds=0.01)
    adapter.max_batch = max_batch
    return adapter


def _sync(path: Path, adapter: KlaviyoAdapter, run_id: str):
    with duckdb.connect(str(path)) as con:
        settings = SyncSettings(list_name=LIST, asm_group_id=GROUP, max_change_share=10.0)
        return sync_audience(con, AUDIENCE, adapter, run_id, settings)


def _treatment(people: list[dict]) -> set[str]:
    return {p["email"] for p in people if not p["holdout"]}


def _writes(emulator: KlaviyoEmulator) -> int:
    return sum(n for key, n in emulator.calls.items() if not key.startswith("GET"))


def test_a_full_sync_fills_the_list_and_the_next_sends_only_the_diff(
    tmp_path: Path, emulator: KlaviyoEmulator
) -> None:
    path = tmp_path / "warehouse.duckdb"
    people = _people(1_500)
    _make_warehouse(path, people, [("p3@example.com", "unsubscribed", None)])
    emulator.rejected = {"p7@example.com", "p8@example.com"}  # e.g. Klaviyo calls them invalid
    adapter = _adapter(emulator, max_batch=400)

    report = _sync(path, adapter, "run-1")
    desired = _treatment(people) - {"p3@example.com"}
    assert emulator.members(LIST) == desired - emulator.rejected
    assert report.failed == 2 and report.batches == 4  # 1,349 adds in batches of 400
    with duckdb.connect(str(path), read_only=True) as con:
        failures = dict(con.execute("select email, reason from publish.member_failures").fetchall())
        state = {e for (e,) in con.execute("select email from publish.member_state").fetchall()}
    assert set(failures) == emulator.rejected
    assert all(r.startswith("invalid:") for r in failures.values())
    assert state == desired - emulator.rejected  # refused members are never marked published
    # Custom properties carry our attributes; the consent state is left alone.
    profile = emulator.profiles["p11@example.com"]
    assert profile["first_name"] == "Ann" and profile["properties"]["reason"] == "test"

    writes = _writes(emulator)
    again = _sync(path, adapter, "run-2")
    assert (again.adds, again.removes, again.updates) == (0, 0, 0)
    assert _writes(emulator) == writes  # nothing sent

    # Some leave, some join, one changes: only that goes out.
    with duckdb.connect(str(path)) as con:
        con.execute(
            f"delete from audiences.{AUDIENCE} where email in ('p1@example.com', 'p2@example.com')"
        )
        con.execute(
            f"update audiences.{AUDIENCE} set first_name = 'Bo' where email = 'p5@example.com'"
        )
        con.execute(
            f"insert into audiences.{AUDIENCE} (audience, email, first_name, reason, "
            f"is_holdout, run_date) values ('{AUDIENCE}', 'new@example.com', 'Cy', "
            "'test', false, date '2025-01-31')"
        )
    third = _sync(path, adapter, "run-3")
    assert (third.adds, third.removes, third.updates) == (1, 2, 1)
    expected = (desired - emulator.rejected - {"p1@example.com", "p2@example.com"}) | {
        "new@example.com"
    }
    assert emulator.members(LIST) == expected
    assert emulator.profiles["p5@example.com"]["first_name"] == "Bo"
    # Removed from the list, not deleted or unsubscribed: the profile is still there.
    assert "p1@example.com" in emulator.profiles
    assert emulator.duplicate_adds == 0


def test_under_faults_the_list_ends_as_desired_with_no_add_twice(tmp_path: Path) -> None:
    faults = Faults(
        rate_limit_every=6,
        error_rate=0.12,
        reset_rate=0.05,
        slow_rate=0.05,
        slow_seconds=0.2,
        failed_jobs=2,
    )
    server = KlaviyoEmulator(API_KEY, faults).start()
    try:
        path = tmp_path / "warehouse.duckdb"
        people = _people(2_000)
        _make_warehouse(path, people, [])
        adapter = _adapter(server, max_batch=250)
        report = _sync(path, adapter, "run-1")
        assert server.members(LIST) == _treatment(people)
        assert report.failed == 0 and server.duplicate_adds == 0
        # Then a third of them leave, under the same faults.
        with duckdb.connect(str(path)) as con:
            con.execute(f"delete from audiences.{AUDIENCE} where email like 'p1%'")
            left = {e for (e,) in con.execute(f"select email from audiences.{AUDIENCE}").fetchall()}
        _sync(path, adapter, "run-2")
        remaining = {p["email"] for p in people if p["email"] in left and not p["holdout"]}
        assert server.members(LIST) == remaining
    finally:
        server.stop()
    assert adapter.client.retries > 0
    for fault in ("rate_limit", "error", "reset", "slow"):
        assert server.faulted[fault] > 0, fault
    assert server.faults.failed_jobs == 2 and server.failed_jobs_left == 0


def test_credentials_never_reach_logs_errors_or_the_server_body(
    tmp_path: Path, emulator: KlaviyoEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "warehouse.duckdb"
    _make_warehouse(path, _people(50), [])
    wrong = API_KEY[:-4] + "0000"
    with pytest.raises(ApiError) as refused:
        _sync(path, _adapter(emulator, key=wrong), "run-1")
    assert refused.value.status == 401
    assert wrong not in str(refused.value) and API_KEY not in str(refused.value)

    faulty = KlaviyoEmulator(API_KEY, Faults(error_rate=0.3, rate_limit_every=4)).start()
    try:
        _sync(path, _adapter(faulty), "run-2")
    finally:
        faulty.stop()
    assert API_KEY not in caplog.text and wrong not in caplog.text
    assert "@example.com" not in caplog.text  # addresses are never logged in full
    # The key travels in the Authorization header only.
    assert all(h["Authorization"] == f"Klaviyo-API-Key {API_KEY}" for h in faulty.seen_headers)


def test_a_job_that_keeps_failing_leaves_the_batch_in_flight_and_nothing_published(
    tmp_path: Path,
) -> None:
    server = KlaviyoEmulator(API_KEY, Faults(failed_jobs=10)).start()
    try:
        path = tmp_path / "warehouse.duckdb"
        _make_warehouse(path, _people(30), [])
        with pytest.raises(ApiError, match="cancelled 3 times"):
            _sync(path, _adapter(server), "run-1")
        with duckdb.connect(str(path), read_only=True) as con:
            status = con.execute("select status from publish.batches").fetchall()
            published = con.execute("select count(*) from publish.member_state").fetchall()
        assert status == [("in_flight",)] and published == [(0,)]
        # Once Klaviyo processes jobs again, the next sync sends the batch and is done.
        server.failed_jobs_left = 0
        report = _sync(path, _adapter(server), "run-2")
        assert report.resumed_batches == 1
        assert server.members(LIST) == _treatment(_people(30))
    finally:
        server.stop()


def test_switching_the_pipeline_to_klaviyo_is_one_variable_and_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daily job of a small sample shop, published to the emulator instead of the outbox."""
    params = SampleParams(customers=200, days=20, start_date=dt.date(2024, 5, 1), seed=4)
    data = tmp_path / "data"
    generate_sample_shop(params, data / "landing")
    server = KlaviyoEmulator(API_KEY, Faults(rate_limit_every=9, error_rate=0.05)).start()
    monkeypatch.setenv("LIFECYCLE_DATA_DIR", str(data))
    for name in ("LIFECYCLE_LANDING_DIR", "LIFECYCLE_WAREHOUSE_PATH", "LIFECYCLE_OUTBOX_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIFECYCLE_PARTITIONS_START", "2024-01-01")
    monkeypatch.setenv("LIFECYCLE_ESP_TARGET", "klaviyo")
    monkeypatch.setenv("KLAVIYO_API_KEY", API_KEY)
    monkeypatch.setenv("LIFECYCLE_ESP_BASE_URL", server.base_url)
    monkeypatch.setenv("LIFECYCLE_ESP_POLL_SECONDS", "0.05")
    monkeypatch.setenv("LIFECYCLE_ESP_REQUESTS_PER_MINUTE", "6000")
    import orchestration.definitions as module

    job = importlib.reload(module).defs.resolve_job_def("daily_refresh")
    tags = {
        "dagster/asset_partition_range_start": params.start_date.isoformat(),
        "dagster/asset_partition_range_end": params.end_date.isoformat(),
    }
    try:
        with DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(instance=instance, tags=tags)
            logs = "\n".join(
                str(r.dagster_event or r.user_message) for r in instance.all_logs(result.run_id)
            )
    finally:
        server.stop()
    assert result.success
    published = {
        e.asset_key.path[-1]: e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[0] == "publish" and e.asset_key.path[-1] in AUDIENCES
    }
    assert set(published) == set(AUDIENCES)
    assert {m["target"].value for m in published.values()} == {"klaviyo"}
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        state = con.execute(
            "select audience, email from publish.member_state where target = 'klaviyo'"
        ).fetchall()
    assert state, "nothing was published"
    by_audience: dict[str, set[str]] = {}
    for audience, email in state:
        by_audience.setdefault(audience, set()).add(email)
    lists = {entry["name"] for entry in server.lists.values()}
    for spec in audience_specs():
        if spec.name in by_audience:
            assert spec.list_name in lists
            assert server.members(spec.list_name) == by_audience[spec.name], spec.name
    assert API_KEY not in logs and API_KEY not in str(published)
