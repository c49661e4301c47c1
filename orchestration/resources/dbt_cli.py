"""The dbt CLI resource without two costs of dagster-dbt that buy this project nothing.

Before each `dbt build`, `DbtCliResource.cli` (dagster-dbt 0.29) runs `dbt --version` in a
subprocess to learn the dbt version, and builds a dbt adapter in the Dagster process (loading
the profile, the project and all of dbt's macros) that it uses only to fetch column metadata
or row counts on request. Measured here: about two seconds each, four seconds of every dbt
step, of which a daily run has two. This project's dbt is the virtualenv's own `dbt`
(`DBT_EXECUTABLE`), so its version is the installed dbt-core's; and the dbt step reads its
row counts and breakdowns from the warehouse itself (`orchestration/assets/dbt.py`), never
through that adapter. dagster-dbt is pinned in `requirements.lock`; the tests check that the
version given is the executable's and that dbt steps still report what they built.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as package_version

from dagster_dbt import DbtCliResource
from packaging import version


class LifecycleDbtCli(DbtCliResource):
    """`DbtCliResource` for the virtualenv's own dbt, with no adapter in the Dagster process."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(package_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        # No adapter: dagster-dbt then fetches no column metadata or row counts (never asked
        # for here); everything else of the invocation is unchanged.
        return None
