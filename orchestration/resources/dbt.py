"""dbt's command line, pointed at the same warehouse file as the rest of the pipeline."""

import os
from collections.abc import Sequence
from typing import Any

from dagster_dbt import DbtCliResource
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation
from pydantic import Field


class WarehouseDbtCliResource(DbtCliResource):
    """dbt CLI whose profile reads the warehouse path from LIFECYCLE_WAREHOUSE_PATH."""

    warehouse_path: str = Field(description="The DuckDB warehouse file dbt builds into.")

    def cli(self, args: Sequence[str], **kwargs: Any) -> DbtCliInvocation:
        # profiles.yml reads env_var('LIFECYCLE_WAREHOUSE_PATH'); dbt's subprocess inherits the
        # environment, so the configured path is set there, the one place dbt can read it.
        os.environ["LIFECYCLE_WAREHOUSE_PATH"] = self.warehouse_path
        return super().cli(args, **kwargs)
