"""`lifecycle bench`: the daily pipeline at three shop sizes, stage by stage.

For a scale it generates (or reuses) the sample shop outside the project, then runs, as a user
would and through Dagster (`lifecycle run`, a fresh warehouse and Dagster home): a full
rebuild of every day but the last, then the last day alone (a new day on top). Each stage's
wall time, CPU time and peak RSS come from the run's Dagster records and process samples;
each SQL stage is set beside its floor (orchestration/bench/floors.py). The report is JSON
and a Markdown table in bench/results/. Nothing is asserted here: targets are read, not
tested.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from orchestration.bench.floors import RFM_MODELS, read_floors, rfm_floor, rfm_peer
from orchestration.bench.report import markdown
from orchestration.bench.sampler import TreeSampler
from orchestration.bench.stages import dbt_model_seconds, stage_table
from orchestration.sample import SampleParams, generate_sample_shop
from orchestration.sample.shop import MANIFEST_NAME
from orchestration.settings import PROJECT_ROOT, Settings


@dataclass(frozen=True)
class Scale:
    customers: int
    compress: bool


# small: the demo's size; medium: ~1M orders and ~10M events; large: ~10M and ~100M.
SCALES = {
    "small": Scale(5_000, compress=False),
    "medium": Scale(100_000, compress=True),
    "large": Scale(1_000_000, compress=True),
}
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
PACKAGES = ("dagster", "dagster-dbt", "dbt-core", "dbt-duckdb", "duckdb", "great_expectations")


def ensure_shop(scale: Scale, landing: Path, fresh: bool, days: int) -> dict[str, Any]:
    """The sample shop of this scale in `landing`, generated unless the same one is there."""
    params = SampleParams(customers=scale.customers, days=days, compress=scale.compress)
    manifest = landing / MANIFEST_NAME
    if not fresh and manifest.exists():
        existing = json.loads(manifest.read_text())
        if (
            existing["params"]["customers"] == params.customers
            and existing["params"]["days"] == params.days
            and existing["params"]["compress"] == params.compress
        ):
            return {**existing, "generated_seconds": None}
    print(f"bench: generating the sample shop ({params.customers:,} customers) in {landing}")
    started = time.perf_counter()
    generate_sample_shop(params, landing)
    return {
        **json.loads(manifest.read_text()),
        "generated_seconds": round(time.perf_counter() - started, 1),
    }


def _run(env: dict[str, str], first: dt.date, last: dt.date, log: Path) -> dict[str, Any]:
    """One `lifecycle run` over first..last, sampled; its output goes to the console and log."""
    from dagster import DagsterInstance

    command = [sys.executable, "-m", "orchestration.cli", "run"]
    command += ["--start", first.isoformat(), "--end", last.isoformat()]
    print(f"bench: lifecycle {' '.join(command[3:])}")
    started = time.time()
    with log.open("a") as out:
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        with TreeSampler(proc.pid) as sampler:
            for line in proc.stdout:
                out.write(line)
                print(line, end="")
            proc.wait()
    ended = time.time()
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        [run] = instance.get_runs(limit=1)
        figures = stage_table(instance, run.run_id, sampler, started, ended)
        models = dbt_model_seconds(instance, run.run_id)
        rfm = sum(s for path, s in models.items() if path[-1] in RFM_MODELS)
        figures["rfm_models_seconds"] = round(rfm, 2)
    return {
        "days": [first.isoformat(), last.isoformat()],
        "succeeded": proc.returncode == 0,
        "run_id": run.run_id,
        **figures,
    }


def _machine() -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {p: version(p) for p in PACKAGES},
    }


def run_bench(
    name: str,
    workdir: Path,
    fresh: bool = False,
    days: int = 730,
    results_dir: Path = RESULTS_DIR,
) -> dict[str, Any]:
    """Benchmark one scale over `days` days of the sample shop; returns the report, also
    written to `results_dir` as pipeline_<scale>.json and .md."""
    scale = SCALES[name]
    base = workdir / name
    shop = ensure_shop(scale, base / "landing", fresh, days)
    run_dir = base / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "dagster").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", run_dir / "dagster" / "dagster.yaml")
    env = {
        **os.environ,
        # Everything the runs write goes under the bench folder, whatever the environment
        # names for the user's own warehouse and outbox.
        "LIFECYCLE_DATA_DIR": str(run_dir),
        "LIFECYCLE_WAREHOUSE_PATH": str(run_dir / "warehouse.duckdb"),
        "LIFECYCLE_OUTBOX_DIR": str(run_dir / "outbox"),
        # The raw zone too, unless it is switched off (then its cost is left out).
        "LIFECYCLE_LAKE_DIR": str(run_dir / "lake") if Settings.from_env().lake_dir else "off",
        "LIFECYCLE_LANDING_DIR": str(base / "landing"),
        "DAGSTER_HOME": str(run_dir / "dagster"),
        "LIFECYCLE_ESP_TARGET": "outbox",
        "PYTHONUNBUFFERED": "1",  # the run's progress reaches the console as it happens
    }
    settings = Settings.from_env(env)
    first = dt.date.fromisoformat(shop["first_day"])
    last = dt.date.fromisoformat(shop["last_day"])
    log = run_dir / "runs.log"
    full = _run(env, first, last - dt.timedelta(days=1), log)
    new_day = _run(env, last, last, log) if full["succeeded"] else {"skipped": "rebuild failed"}
    memory, threads = settings.duckdb_memory_limit, settings.duckdb_threads
    history = [first + dt.timedelta(days=i) for i in range((last - first).days)]
    floors: dict[str, Any] = {}
    if full["succeeded"]:
        floors = {
            "read_full": read_floors(base / "landing", history, memory, threads),
            "read_new_day": read_floors(base / "landing", [last], memory, threads),
            "rfm": rfm_floor(settings.warehouse_path, last, settings.timezone, memory, threads),
            "rfm_peer": rfm_peer(settings.warehouse_path, last, settings.timezone),
        }
    report = {
        "benchmark": "pipeline",
        "scale": name,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "settings": {"duckdb_memory_limit": memory, "duckdb_threads": threads},
        "shop": shop,
        "full_rebuild": full,
        "new_day": new_day,
        "floors": floors,
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"pipeline_{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (results_dir / f"pipeline_{name}.md").write_text(markdown(report))
    return report
