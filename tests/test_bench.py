"""The pipeline benchmark: its process sampler measures what a process really uses, and a
small-scale run produces a well-formed report (CI's smoke run; no timing is asserted)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration.bench.pipeline import SCALES, Scale, run_bench
from orchestration.bench.sampler import TreeSampler
from orchestration.ingest import SOURCES

# A parent that starts a child which holds 300 MiB and spins for a second, then exits.
WORK = """
import subprocess, sys
child = '''
import time
block = bytearray(300 * 2**20)
block[::4096] = b"x" * len(block[::4096])
end = time.process_time() + 1.0
while time.process_time() < end:
    pass
time.sleep(0.5)
'''
subprocess.run([sys.executable, "-c", child], check=True)
"""


def test_sampler_sees_the_memory_and_cpu_of_a_child_process() -> None:
    started = time.time()
    proc = subprocess.Popen([sys.executable, "-c", WORK])
    with TreeSampler(proc.pid, interval=0.05) as sampler:
        proc.wait()
    figures = sampler.between(started, time.time())
    assert figures["peak_rss_mib"] >= 300
    # The spinning child's second is counted once it is reaped by its parent, at least.
    assert 1.0 <= figures["cpu_seconds"] < 10


@pytest.mark.slow
def test_small_scale_benchmark_writes_a_well_formed_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The user's own warehouse and outbox are never where the benchmark writes.
    monkeypatch.setenv("LIFECYCLE_WAREHOUSE_PATH", str(tmp_path / "users" / "warehouse.duckdb"))
    monkeypatch.setenv("LIFECYCLE_OUTBOX_DIR", str(tmp_path / "users" / "outbox"))
    # The small scale's steps on a smaller shop: the report's form is the point, not the size.
    monkeypatch.setitem(SCALES, "small", Scale(300, compress=False))
    days = 7
    report = run_bench("small", tmp_path / "work", days=days, results_dir=tmp_path / "results")
    assert not (tmp_path / "users").exists()
    assert (tmp_path / "work" / "small" / "run" / "warehouse.duckdb").exists()
    assert json.loads((tmp_path / "results" / "pipeline_small.json").read_text()) == report
    markdown = (tmp_path / "results" / "pipeline_small.md").read_text()
    assert "## Full rebuild: 2024-01-01 to 2024-01-06, succeeded" in markdown
    assert "## New day: 2024-01-07 to 2024-01-07, succeeded" in markdown
    assert "Of ingestion, writing the raw zone (Parquet, s): ingest checkouts " in markdown

    full, new_day = report["full_rebuild"], report["new_day"]
    assert full["succeeded"] and new_day["succeeded"]
    for run in (full, new_day):
        expected = {f"ingest {s.name}" for s in SOURCES} | {"raw gates", "dbt build", "publish"}
        assert expected <= set(run["stages"])
        for figures in run["stages"].values():
            assert figures["wall_seconds"] > 0 and figures["peak_rss_mib"] > 0
            assert figures["cpu_seconds"] >= 0
        assert {"staging", "intermediate", "marts", "audiences"} <= set(
            run["dbt_model_groups_seconds"]
        )
        # Writing the raw zone is timed within each source's ingestion.
        zone = run["raw_zone_seconds"]
        assert set(zone) == {f"ingest {s.name}" for s in SOURCES}
        assert all(0 < zone[stage] < run["stages"][stage]["wall_seconds"] for stage in zone)
        assert run["run"]["wall_seconds"] >= sum(f["wall_seconds"] for f in run["stages"].values())
    # The floors read every record landed in the runs' days once (not the days before the
    # partitions start, where the sample's first checkouts land).
    floors = report["floors"]
    landing = tmp_path / "work" / "small" / "landing"
    for spec in SOURCES:
        records = 0
        for day in range(1, days + 1):
            folder = landing / spec.name / f"day=2024-01-{day:02d}"
            for path in folder.iterdir() if folder.exists() else []:
                lines = len(path.read_text().splitlines())
                records += lines - (1 if spec.file_format == "csv" else 0)
        read = floors["read_full"][spec.name]["rows"] + floors["read_new_day"][spec.name]["rows"]
        assert read == records > 0, spec.name
    assert floors["rfm"]["customers"] > 0
    assert report["machine"]["cpus"] >= 1 and "duckdb" in report["machine"]["packages"]
    assert dt.date.fromisoformat(report["shop"]["last_day"]) == dt.date(2024, 1, days)
