"""Shared fixtures: small sample shops generated once per session, isolated settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from orchestration.dbt_project import dbt_project, prepare_manifest
from orchestration.sample import SampleParams, SampleSummary, generate_sample_shop

SMALL = SampleParams(customers=300, days=45, start_date=dt.date(2024, 3, 1), seed=3)
# Every audience model: one SQL file each.
AUDIENCES = sorted(
    p.stem for p in Path(dbt_project.project_dir, "models", "audiences").glob("aud_*.sql")
)


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    """The code location loads the dbt manifest: build it once from the current models."""
    return prepare_manifest()


@pytest.fixture(scope="session")
def small_shop(tmp_path_factory: pytest.TempPathFactory) -> SampleSummary:
    """A small sample shop: 300 buyers over 45 days."""
    return generate_sample_shop(SMALL, tmp_path_factory.mktemp("small") / "landing")


@pytest.fixture(scope="session")
def demo_shop(tmp_path_factory: pytest.TempPathFactory) -> SampleSummary:
    """The shape of the default demo (two years), with fewer buyers to stay quick."""
    params = SampleParams(customers=2_000, seed=11)
    return generate_sample_shop(params, tmp_path_factory.mktemp("demo") / "landing")


def point_settings_at(mp: pytest.MonkeyPatch, data: Path) -> None:
    """Every data setting at `data` (for module-scoped fixtures, which cannot use
    `isolated_env`): landing, warehouse and outbox below it, UTC, partitions from 2024."""
    mp.setenv("LIFECYCLE_DATA_DIR", str(data))
    for name in ("LIFECYCLE_LANDING_DIR", "LIFECYCLE_WAREHOUSE_PATH", "LIFECYCLE_OUTBOX_DIR"):
        mp.delenv(name, raising=False)
    mp.setenv("LIFECYCLE_PARTITIONS_START", "2024-01-01")
    mp.setenv("LIFECYCLE_TIMEZONE", "UTC")


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every setting at a fresh folder, so no test touches the project's data."""
    data = tmp_path / "data"
    monkeypatch.setenv("LIFECYCLE_DATA_DIR", str(data))
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name in (
        "LIFECYCLE_LANDING_DIR",
        "LIFECYCLE_WAREHOUSE_PATH",
        "LIFECYCLE_TIMEZONE",
        "LIFECYCLE_OUTBOX_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIFECYCLE_PARTITIONS_START", "2024-01-01")
    return data
