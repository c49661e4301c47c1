"""Runs started from the command line that belong to the code location, as the UI's own do.

A run executed with `execute_in_process` is recorded without the code location it came from:
Overview and the job's Runs tab do not list it, and re-executing it warns that the job "may be
a different version". So `lifecycle run` and `lifecycle demo` create the run from the code
location named in workspace.yaml (its job snapshot, execution plan and origin, as `dagster job
launch` does), then execute that run here, in this process (no daemon or run queue is needed;
steps run one after the other, as the warehouse has one writer). Its records go to
DAGSTER_HOME, where `lifecycle dev` shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import DagsterInstance
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._utils.hosted_user_process import recon_job_from_origin

from orchestration.settings import PROJECT_ROOT

# As in workspace.yaml: the UI matches a run to its code location by this name.
LOCATION_NAME = "lifecycle-pipeline"
MODULE_NAME = "orchestration.definitions"
# Steps one after the other in this process (the UI's re-execution may choose otherwise).
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def execute_job_as_location_run(
    instance: DagsterInstance,
    job_name: str,
    tags: Mapping[str, str],
    run_config: Mapping[str, Any],
) -> str:
    """Create the run of `job_name` from the code location, execute it here; its run id (the
    run's status and events are in `instance`)."""
    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            module_name=MODULE_NAME, working_directory=str(PROJECT_ROOT)
        ),
        location_name=LOCATION_NAME,
    )
    config = {**IN_PROCESS, **run_config}
    with origin.create_location(instance) as location:
        [repository] = location.get_repositories().values()
        selector = JobSubsetSelector(
            location_name=location.name,
            repository_name=repository.name,
            job_name=job_name,
            op_selection=None,
        )
        remote_job = location.get_job(selector)
        plan = location.get_execution_plan(
            remote_job, config, step_keys_to_execute=None, known_state=None, instance=instance
        )
        run = instance.create_run(
            job_name=job_name,
            run_id=None,
            run_config=config,
            resolved_op_selection=None,
            step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute,
            op_selection=None,
            status=None,
            root_run_id=None,
            parent_run_id=None,
            tags={**remote_job.tags, **tags},
            job_snapshot=remote_job.job_snapshot,
            execution_plan_snapshot=plan.execution_plan_snapshot,
            parent_job_snapshot=remote_job.parent_job_snapshot,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            asset_selection=None,
            asset_check_selection=None,
            asset_graph=repository.asset_graph,
        )
        recon = recon_job_from_origin(remote_job.get_python_origin())
    execute_run(recon, run, instance)
    return run.run_id
