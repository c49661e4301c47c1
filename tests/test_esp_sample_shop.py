"""The sample shop's audiences at each ESP: the daily job publishing to Klaviyo's emulator
because LIFECYCLE_ESP_TARGET says so, then the same audiences synced to the Mailchimp and
SendGrid emulators with faults on. (What every adapter must do is in test_esp_adapters.py.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from esp_emulators.base import Faults
from esp_emulators.klaviyo import KlaviyoEmulator
from orchestration.assets.audiences import audience_specs
from orchestration.assets.publish import published_audience, sync_settings
from orchestration.dbt_project import load_manifest
from orchestration.publish.engine import sync_audience
from orchestration.resources.build import build_resources
from orchestration.resources.publish import PublishTarget
from orchestration.settings import Settings
from tests.conftest import AUDIENCES, BASE_END, BaseRun, point_settings_at
from tests.esp import ESPS, Esp
from tests.runs import reload_definitions, run_day

DAY = BASE_END + dt.timedelta(days=1)
API_KEY = ESPS["klaviyo"].api_key
# Faults of every kind; a 429 asks for no wait and the backoff is short: this test is about
# the list ending right, not about waiting (test_esp_adapters records the waits).
FAULTS = Faults(rate_limit_every=9, error_rate=0.05, reset_rate=0.02, retry_after_seconds=0)


def _publish_target() -> PublishTarget:
    """The publish settings the pipeline would use (thresholds from the environment)."""
    return build_resources(Settings.from_env())["publish_target"]


def _state(warehouse: Path, target: str) -> dict[str, set[str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select audience, email from publish.member_state where target = ?", [target]
        ).fetchall()
    by_audience: dict[str, set[str]] = {}
    for audience, email in rows:
        by_audience.setdefault(audience, set()).add(email)
    return by_audience


@pytest.fixture(scope="module")
def on_klaviyo(base_run: BaseRun, tmp_path_factory: pytest.TempPathFactory):
    """The daily job of the day after the shared run, with LIFECYCLE_ESP_TARGET=klaviyo: the
    first publish to Klaviyo of every audience."""
    data = base_run.copy(tmp_path_factory.mktemp("esp"))
    server = KlaviyoEmulator(API_KEY, FAULTS).start()
    with pytest.MonkeyPatch.context() as mp:
        point_settings_at(mp, data)
        mp.setenv("LIFECYCLE_ESP_TARGET", "klaviyo")
        mp.setenv("KLAVIYO_API_KEY", API_KEY)
        mp.setenv("LIFECYCLE_ESP_BASE_URL", server.base_url)
        mp.setenv("LIFECYCLE_ESP_POLL_SECONDS", "0.05")
        mp.setenv("LIFECYCLE_ESP_BACKOFF_SECONDS", "0.01")
        mp.setenv("LIFECYCLE_ESP_REQUESTS_PER_MINUTE", "6000")
        module = reload_definitions()
        try:
            with DagsterInstance.ephemeral() as instance:
                result = run_day(module, instance, DAY, readouts=False)
                logs = "\n".join(
                    str(r.dagster_event or r.user_message) for r in instance.all_logs(result.run_id)
                )
        finally:
            server.stop()
    yield result, logs, server, data / "warehouse.duckdb"


def test_switching_the_pipeline_to_klaviyo_is_one_variable_and_the_key(on_klaviyo) -> None:
    result, logs, server, warehouse = on_klaviyo
    assert result.success
    published = {
        published_audience(e.asset_key): e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
        if published_audience(e.asset_key) in AUDIENCES
    }
    assert set(published) == set(AUDIENCES)
    assert {m["target"].value for m in published.values()} == {"klaviyo"}
    state = _state(warehouse, "klaviyo")
    assert state, "nothing was published"
    for spec in audience_specs(load_manifest()):
        assert server.members(spec.list_name) == state.get(spec.name, set()), spec.name
    assert API_KEY not in logs and API_KEY not in str(published)


@pytest.mark.parametrize("name", ["mailchimp", "sendgrid"])
def test_the_sample_shops_audiences_sync_to_every_esp_under_faults(on_klaviyo, name: str) -> None:
    *_, warehouse = on_klaviyo
    esp: Esp = ESPS[name]
    server = esp.start(FAULTS)
    try:
        adapter = esp.adapter(server)
        with duckdb.connect(str(warehouse)) as con:
            for spec in audience_specs(load_manifest()):
                sync_audience(
                    con, spec.name, adapter, f"{name}-1", sync_settings(spec, _publish_target())
                )
        state = _state(warehouse, name)
        assert sum(len(members) for members in state.values()) > 0
        for spec in audience_specs(load_manifest()):
            assert esp.members(server, spec.list_name) == state.get(spec.name, set()), spec.name
        # The same again: nothing to send.
        with duckdb.connect(str(warehouse)) as con:
            again = [
                sync_audience(
                    con, spec.name, adapter, f"{name}-2", sync_settings(spec, _publish_target())
                )
                for spec in audience_specs(load_manifest())
            ]
        assert all(r.adds + r.removes + r.updates == 0 for r in again)
        # The Klaviyo state, recorded apart, is the same members: one desired state per audience.
        assert state == _state(warehouse, "klaviyo")
    finally:
        server.stop()
    assert server.duplicate_adds == 0
