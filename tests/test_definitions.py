"""The code location loads, and its graph, jobs and schedules are what we expect."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, DefaultScheduleStatus, Definitions

from orchestration.settings import PROJECT_ROOT

EXPECTED_ASSETS = {
    "raw/orders",
    "raw/order_line_items",
    "raw/checkouts",
    "raw/checkout_line_items",
    "raw/email_events",
    "raw/contacts",
}


@pytest.fixture
def defs(isolated_env: Path) -> Definitions:
    import orchestration.definitions as module

    return importlib.reload(module).defs


def test_asset_graph_is_the_expected_one(defs: Definitions) -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS
    for key in graph.get_all_asset_keys():
        assert graph.get(key).group_name == "ingest"
        assert graph.get(key).partitions_def is not None


def test_daily_job_and_its_schedule_are_off_by_default(defs: Definitions) -> None:
    job = defs.resolve_job_def("daily_refresh")
    assert job.tags["lifecycle/warehouse"] == "duckdb"
    assert [s.name for s in defs.schedules] == ["daily_refresh_schedule"]
    schedule = defs.resolve_schedule_def("daily_refresh_schedule")
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    assert schedule.job_name == "daily_refresh"


def test_resources_follow_the_settings(defs: Definitions, isolated_env: Path) -> None:
    resources = defs.resources
    assert resources["warehouse"].path == str(isolated_env / "warehouse.duckdb")
    assert resources["landing"].root == str(isolated_env / "landing")


def test_partitions_start_on_the_configured_day(defs: Definitions) -> None:
    spec = defs.resolve_assets_def(AssetKey(["raw", "orders"]))
    assert spec.partitions_def.get_first_partition_key() == "2024-01-01"


def test_workspace_yaml_validates(isolated_env: Path) -> None:
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful for code location lifecycle-pipeline" in done.stderr + done.stdout
