"""Helpers for tests that run the real Dagster jobs: definitions reloaded for the current
settings, partition-range tags, and what a run built and checked."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Sequence
from types import ModuleType

from dagster import AssetKey, AssetSelection, DagsterInstance

from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG


def reload_definitions() -> ModuleType:
    """The code location, loaded again so that it reads the settings of the current env."""
    import orchestration.definitions as module

    return importlib.reload(module)


def range_tags(start: dt.date, end: dt.date) -> dict[str, str]:
    """The tags of one run over the partitions `start`..`end` (a backfill as a single run)."""
    return {RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()}


def evaluations(result) -> dict[str, object]:
    """Asset key's last path element -> its check evaluation in the run."""
    return {
        e.asset_check_evaluation_data.asset_key.path[-1]: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def built(result) -> set[str]:
    """The asset keys the run materialized, as `schema/name`."""
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def raw_keys(module: ModuleType) -> list[AssetKey]:
    """The ingest assets (raw tables) of the code location."""
    return [k for k in module.defs.resolve_all_asset_keys() if k.path[0] == "raw"]


def run_ingest(module: ModuleType, instance: DagsterInstance, start: dt.date, end: dt.date):
    """Only the ingest assets and their quality gates over `start`..`end`: what a test needs
    to see a re-landed day loaded and released, without rebuilding the models."""
    job = module.defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        asset_selection=raw_keys(module),
        tags=range_tags(start, end),
        raise_on_error=False,
    )


READOUTS = AssetKey(["marts", "holdout_results"])  # built after publishing, by a dbt step


def run_day(
    module: ModuleType,
    instance: DagsterInstance,
    day: dt.date,
    *,
    publish: bool = True,
    readouts: bool = True,
    upstream_of: AssetKey | Sequence[AssetKey] | None = None,
):
    """The daily refresh of `day`, or the part of it a test is about: without publishing,
    without the read-outs built after it, or only what `upstream_of` (a key or several) is
    built from. Each dbt step a test leaves out saves it ten to thirty seconds."""
    job = module.defs.resolve_job_def("daily_refresh")
    keys = set(job.asset_layer.executable_asset_keys)
    if upstream_of is not None:
        targets = [upstream_of] if isinstance(upstream_of, AssetKey) else list(upstream_of)
        # An ingest asset loads all of its tables at once (orders with their line items).
        needed = AssetSelection.assets(*targets).upstream().required_multi_asset_neighbors()
        keys &= needed.resolve(module.defs.resolve_asset_graph())
    if not publish:
        keys = {k for k in keys if k.path[0] != "publish"}
    if not (publish and readouts):
        keys.discard(READOUTS)
    return job.execute_in_process(
        instance=instance,
        partition_key=day.isoformat(),
        asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
        raise_on_error=False,
    )
