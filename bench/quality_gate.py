"""Benchmark: load and gate one big partition of e-mail events, written to a JSON report.

Every e-mail event file of a generated sample shop is landed as one day, so that day holds a
realistic partition of millions of rows (about 95 events per buyer over two years). The
report gives the load (read, row rules, quarantine, per-day replace), the quality gate
(column contract, partition rules, Great Expectations over the partition) and peak memory.
Targets are read from the report, never asserted in a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import time
from importlib.metadata import version
from pathlib import Path

import duckdb

from orchestration.ingest import load_days
from orchestration.ingest.sources import EMAIL_EVENTS
from orchestration.quality.raw_gate import run_gate
from orchestration.quality.suites import suite_path, warm_up
from orchestration.quality_thresholds import QualityThresholds
from orchestration.sample import SampleParams, generate_sample_shop
from orchestration.settings import PROJECT_ROOT


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(customers: int, workdir: Path, fresh: bool) -> dict:
    landing = workdir / f"landing_{customers}"
    params = SampleParams(customers=customers, seed=7)
    if fresh or not (landing / "_sample_shop.json").exists():
        shutil.rmtree(landing, ignore_errors=True)
        generate_sample_shop(params, landing)
    files = sorted((landing / EMAIL_EVENTS.name).rglob("*.jsonl"))
    day = params.end_date
    warehouse = workdir / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    thresholds = QualityThresholds()
    started = time.perf_counter()
    # Importing GX and building its context happen once a process: timed apart.
    warm_up(suite_path(f"raw_{EMAIL_EVENTS.name}"))
    gx_startup = time.perf_counter() - started
    with duckdb.connect(str(warehouse)) as con:
        started = time.perf_counter()
        loaded = load_days(con, EMAIL_EVENTS, {day: files}, landing, "bench", thresholds)
        load_seconds = time.perf_counter() - started
        rss_after_load = _peak_rss_mb()
        report = run_gate(con, EMAIL_EVENTS.name, day, day, thresholds, "bench", "UTC")
    rows = loaded.rows_written[EMAIL_EVENTS.name]
    return {
        "benchmark": "quality_gate",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": version("duckdb"),
            "great_expectations": version("great_expectations"),
        },
        "shop": {"customers": customers, "days": params.days, "event_files": len(files)},
        "partition": {
            "rows_read": loaded.rows_read,
            "rows_loaded": rows,
            "rows_quarantined": loaded.rows_quarantined,
            "quarantined_by_rule": loaded.quarantined_by_rule,
        },
        "load_seconds": round(load_seconds, 2),
        "load_rows_per_second": round(loaded.rows_read / load_seconds),
        "gate_seconds": report.seconds,
        "great_expectations_seconds": round(report.gx_seconds, 2),
        "great_expectations_startup_seconds": round(gx_startup, 2),
        "gate_rows_per_second": round(rows / report.seconds),
        "gate_passed": not report.failures,
        "gate_failures": [f.message for f in report.failures],
        "peak_rss_mb": {"after_load": rss_after_load, "after_gate": _peak_rss_mb()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=12_000)
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "data" / "bench")
    parser.add_argument(
        "--out", type=Path, default=PROJECT_ROOT / "bench" / "results" / "quality_gate.json"
    )
    parser.add_argument("--fresh", action="store_true", help="regenerate the sample shop")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    result = run(args.customers, args.workdir, args.fresh)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
