"""What each stage of a pipeline run cost, read from the run's Dagster records.

Step boundaries come from the run's STEP_START / STEP_SUCCESS / STEP_FAILURE events; CPU and
peak memory between them from the process samples. dbt runs as one step, so its model groups
(staging, intermediate, marts, audiences) are timed from dbt's own execution time of each
model, which dagster-dbt records on every materialization.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from dagster import DagsterEventType, DagsterInstance

from orchestration.bench.sampler import TreeSampler

_STEP_EVENTS = {
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.STEP_SKIPPED,
}


def stage_of(step_key: str) -> str:
    """The benchmark stage a Dagster step belongs to."""
    if step_key.startswith("ingest_"):
        return f"ingest {step_key.removeprefix('ingest_')}"
    if "quality_gate" in step_key:
        return "raw gates"
    if step_key.startswith("lifecycle_dbt"):
        return "dbt read-outs" if step_key == "lifecycle_dbt_readouts" else "dbt build"
    if step_key == "churn_model":
        return "churn model"
    if "audience_gate" in step_key or step_key.startswith("audience"):
        return "audience gates"
    if step_key.startswith("publish"):
        return "publish"
    if step_key.startswith("serve"):
        return "serve"
    return "other"


def step_intervals(instance: DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    """step key -> (start, end) epoch seconds, for every step that ran."""
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for entry in instance.all_logs(run_id, of_type=_STEP_EVENTS):
        if entry.step_key is None:
            continue
        if entry.dagster_event.event_type == DagsterEventType.STEP_START:
            starts[entry.step_key] = entry.timestamp
        else:
            ends[entry.step_key] = entry.timestamp
    return {k: (starts[k], ends.get(k, starts[k])) for k in starts}


def dbt_model_seconds(instance: DagsterInstance, run_id: str) -> dict[tuple[str, ...], float]:
    """dbt model (asset key path: schema, name) -> seconds dbt spent building it in this run."""
    seconds: dict[tuple[str, ...], float] = {}
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        mat = entry.dagster_event.step_materialization_data.materialization
        duration = mat.metadata.get("Execution Duration")
        if duration is not None:
            path = tuple(mat.asset_key.path)
            seconds[path] = seconds.get(path, 0.0) + float(duration.value)
    return seconds


def raw_zone_seconds(instance: DagsterInstance, run_id: str) -> dict[str, float]:
    """Ingest step -> seconds of it spent writing the raw zone (every raw asset of a step
    carries the step's figure)."""
    seconds: dict[str, float] = {}
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        mat = entry.dagster_event.step_materialization_data.materialization
        value = mat.metadata.get("raw_zone_seconds")
        if value is not None and entry.step_key:
            seconds[stage_of(entry.step_key)] = float(value.value)
    return dict(sorted(seconds.items()))


def group_seconds(models: dict[tuple[str, ...], float]) -> dict[str, float]:
    """dbt model group (schema: staging, intermediate, marts, audiences) -> seconds."""
    groups: dict[str, float] = defaultdict(float)
    for path, seconds in models.items():
        groups[path[0]] += seconds
    return {k: round(v, 2) for k, v in sorted(groups.items())}


def stage_table(
    instance: DagsterInstance, run_id: str, sampler: TreeSampler, started: float, ended: float
) -> dict[str, Any]:
    """Per stage: wall seconds (sum of its steps), CPU seconds and peak RSS; and the run."""
    by_stage: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for step, span in step_intervals(instance, run_id).items():
        by_stage[stage_of(step)].append(span)
    stages = {}
    for stage, spans in sorted(by_stage.items()):
        figures = [sampler.between(a, b) for a, b in spans]
        stages[stage] = {
            "steps": len(spans),
            "wall_seconds": round(sum(b - a for a, b in spans), 2),
            "cpu_seconds": round(sum(f["cpu_seconds"] for f in figures), 2),
            "peak_rss_mib": max(f["peak_rss_mib"] for f in figures),
        }
    first_step = min((a for spans in by_stage.values() for a, _ in spans), default=started)
    whole = sampler.between(started, ended)
    return {
        "stages": stages,
        "dbt_model_groups_seconds": group_seconds(dbt_model_seconds(instance, run_id)),
        "raw_zone_seconds": raw_zone_seconds(instance, run_id),
        "run": {
            "wall_seconds": round(ended - started, 2),
            # Process start, definitions, dbt manifest and Dagster's run set-up.
            "startup_seconds": round(first_step - started, 2),
            **whole,
        },
    }
