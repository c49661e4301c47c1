"""The daily job publishing to Klaviyo's emulator when LIFECYCLE_ESP_TARGET says so. (What
every ESP must do is in test_esp_adapters.py.)"""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from orchestration.assets.audiences import audience_specs
from orchestration.sample import SampleParams, generate_sample_shop
from tests.conftest import AUDIENCES
from tests.emulators.base import Faults
from tests.emulators.klaviyo import KlaviyoEmulator
from tests.esp import ESPS

KLAVIYO = ESPS["klaviyo"]
API_KEY = KLAVIYO.api_key


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
