"""The gate of each audience model as a blocking Dagster asset check, before it is published.

Generated from the audiences the dbt manifest declares, so a new audience is gated as soon as
its SQL file exists. The gate itself is `orchestration.audiences.gate`; a failure reads like
a raw table's (`gate_check_result`).
"""

from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetKey,
    asset_check,
)

from orchestration.assets.audiences import AudienceSpec
from orchestration.assets.quality import gate_check_result
from orchestration.audiences.gate import run_audience_gate
from orchestration.quality_thresholds import QualityThresholds
from orchestration.resources import DuckDBWarehouse
from orchestration.resources.warehouse import WAREHOUSE_POOL

AUDIENCE_CHECK_NAME = "audience_gate"


def build_audience_check(
    key: AssetKey, name: str, settings: Mapping[str, Any], shop_timezone: str
) -> AssetChecksDefinition:
    asm_group_id = settings.get("asm_group_id")
    attributes = settings.get("attributes", {})

    @asset_check(
        asset=key,
        name=AUDIENCE_CHECK_NAME,
        blocking=True,
        pool=WAREHOUSE_POOL,
        description="expectations/audiences.json and no member on a suppression list: "
        "an audience that fails is not published.",
    )
    def _gate(
        context: AssetCheckExecutionContext,
        warehouse: DuckDBWarehouse,
        quality: QualityThresholds,
    ) -> AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            report = run_audience_gate(con, name, asm_group_id, quality, shop_timezone, attributes)
        for failure in report.failures:
            context.log.warning(f"{report.table} [{failure.rule}] {failure.message}")
        return gate_check_result(report)

    return _gate


def build_audience_checks(
    specs: list[AudienceSpec], shop_timezone: str
) -> list[AssetChecksDefinition]:
    """One blocking gate per audience model: gated as soon as its SQL file exists."""
    return [build_audience_check(a.key, a.name, a.settings, shop_timezone) for a in specs]
