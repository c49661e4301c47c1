"""Shared fixtures: the small sample shop generated once, one full daily run of it that
every module copies instead of building its own, and isolated settings."""

from __future__ import annotations

import datetime as dt
import fcntl
import importlib.util
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance
from dagster._core.instance.ref import InstanceRef

from orchestration.dbt_project import dbt_project, prepare_manifest
from orchestration.sample import SampleParams, SampleSummary, generate_sample_shop
from tests.runs import range_tags, reload_definitions

SMALL = SampleParams(customers=300, days=45, start_date=dt.date(2024, 3, 1), seed=3)
# The shared run covers all but the small shop's last two days: modules that need a new day
# (a bad day, the day after it, a second day of audiences) run those on a copy.
BASE_END = SMALL.end_date - dt.timedelta(days=2)
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


@pytest.fixture
def landing(tmp_path: Path, small_shop: SampleSummary) -> Path:
    """A private copy of the small shop's landing folder that a test may damage."""
    root = tmp_path / "landing"
    shutil.copytree(small_shop.landing_dir, root)
    return root


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh warehouse file."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield con
    con.close()


# The files that take minutes, longest first (as measured with --durations=0). Each file runs
# on one worker (--dist loadfile) and the workers take files in collection order: started
# first, these overlap the many short files instead of leaving one worker alone with one of
# them at the end.
LONGEST_FILES = (
    "test_spark.py",
    "test_quality_gates.py",
    "test_serve.py",
    "test_bench.py",
    "test_dbt_models.py",
    "test_demo.py",
    "test_pipeline.py",
    "test_portability.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs the shared pipeline run is an end-to-end test: `slow`, so that
    `pytest -m "not slow"` (the inner loop) never pays for the run. The longest files are
    collected first (LONGEST_FILES); the rest keep their order."""
    for item in items:
        if "base_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@dataclass(frozen=True)
class BaseRun:
    """The daily refresh of the small shop from its first day to BASE_END, run once for the
    whole session: the first worker that needs it runs it, the others wait and read it.

    Read its warehouse and Dagster records as they are; to run more on it, `copy` it."""

    data: Path  # landing/, warehouse.duckdb, outbox/
    instance: DagsterInstance  # on disk, shared by the workers
    run_id: str
    metadata: dict[str, dict]  # asset key (schema/name) -> the run's materialization metadata

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    def copy(self, folder: Path) -> Path:
        """A private copy of the data folder (landing, warehouse, outbox) under `folder`."""
        shutil.copytree(self.data, folder / "data")
        return folder / "data"


@pytest.fixture(scope="session")
def base_run(
    tmp_path_factory: pytest.TempPathFactory, small_shop: SampleSummary
) -> Iterator[BaseRun]:
    # The workers' temporary folders share a parent (one worker: the folder is its own).
    root = tmp_path_factory.getbasetemp()
    shared = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "base_run"
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (shared / "run_id").exists():
            _run_base(shared, small_shop)
    run_id = (shared / "run_id").read_text()
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(shared / "dagster"))) as instance:
        metadata = {
            r.asset_key.to_user_string(): dict(r.asset_materialization.metadata)
            for r in instance.get_records_for_run(
                run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION, limit=10_000
            ).records
        }
        yield BaseRun(data=shared / "data", instance=instance, run_id=run_id, metadata=metadata)


def _run_base(shared: Path, small_shop: SampleSummary) -> None:
    data = shared / "data"
    # What a worker's failed attempt left (it failed its tests; the next worker tries again).
    for folder in (data, shared / "dagster"):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(small_shop.landing_dir, data / "landing")
    (shared / "dagster").mkdir()
    with (
        pytest.MonkeyPatch.context() as mp,
        DagsterInstance.local_temp(str(shared / "dagster")) as instance,
    ):
        point_settings_at(mp, data)
        job = reload_definitions().defs.resolve_job_def("daily_refresh")
        result = job.execute_in_process(
            instance=instance, tags=range_tags(SMALL.start_date, BASE_END)
        )
        mp.undo()
        assert result.success
    (shared / "run_id").write_text(result.run_id)


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


@pytest.fixture(scope="module")
def spark_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The lake and Spark folders of a Spark test; it fails in CI (and is skipped
    elsewhere) without pyspark or Java."""
    missing = [
        what
        for what, found in (
            ("pyspark (pip install -e '.[spark]')", importlib.util.find_spec("pyspark")),
            ("a Java runtime (Debian: apt-get install default-jre-headless)", _java()),
        )
        if not found
    ]
    if missing:
        message = "Spark needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("spark")
    return {
        "LIFECYCLE_LAKE_DIR": str(root / "lake"),
        "LIFECYCLE_SPARK_DIR": str(root / "spark"),
        # A small shop's tables fit one task: a build took 103 s instead of 127 s with 8.
        "LIFECYCLE_SPARK_SHUFFLE_PARTITIONS": "1",
        # A JVM that lives two minutes: a quarter less CPU without the optimizing compiler
        # and with one garbage collector thread (docs/settings.md).
        "LIFECYCLE_SPARK_JAVA_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    }


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    return shutil.which("java", path=f"{home}/bin" if home else None)
