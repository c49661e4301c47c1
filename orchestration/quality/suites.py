"""Great Expectations suites from `expectations/`, validated against DataFrames of a batch.

GX's SQL datasource returns nothing on DuckDB, so the gate hands GX a DataFrame of the new
partitions (in chunks of whole days when a backfill is large). GX is imported on first use:
it costs seconds, and the code location must load fast. Analytics and progress bars are off.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from orchestration.settings import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result over one validated chunk."""

    expectation: str
    column: str | None
    success: bool
    observed: Any
    unexpected_count: int
    element_count: int
    sample_index: list[int]
    error: str | None
    unexpected_index: list[int] | None = None  # every bad row's index, when asked for


def suite_path(name: str) -> Path:
    """`raw_orders` -> expectations/raw_orders.json (the suite of raw.orders)."""
    return EXPECTATIONS_DIR / f"{name}.json"


def load_suite_file(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


@functools.cache
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@functools.cache
def _validation(path: Path):
    import great_expectations as gx

    context = _context()
    suite = context.suites.add(gx.ExpectationSuite(**load_suite_file(path)))
    asset = context.data_sources.add_pandas(f"ds_{suite.name}").add_dataframe_asset(suite.name)
    batch = asset.add_batch_definition_whole_dataframe("partitions")
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=f"gate_{suite.name}", data=batch, suite=suite)
    )


def warm_up(path: Path) -> None:
    """Import GX and build the suite's validation now rather than in the first validation."""
    _validation(path)


def validate(
    path: Path, frame: pd.DataFrame, parameters: dict[str, Any], every_index: bool = False
) -> list[ExpectationOutcome]:
    """Validate `frame` against the suite at `path`; one outcome per expectation. With
    `every_index`, a row-level expectation's outcome lists every bad row (slower: asked
    only to find which days of a failed chunk are bad)."""
    result_format = "COMPLETE" if every_index else "SUMMARY"
    result = _validation(path).run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters,
        result_format={"result_format": result_format, "partial_unexpected_count": 5},
    )
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        details = item.result or {}
        error = item.exception_info.get("exception_message") if item.exception_info else None
        outcomes.append(
            ExpectationOutcome(
                expectation=config.type,
                column=config.kwargs.get("column"),
                success=bool(item.success),
                observed=details.get("observed_value", details.get("partial_unexpected_list")),
                unexpected_count=int(details.get("unexpected_count") or 0),
                element_count=int(details.get("element_count") or len(frame)),
                sample_index=[int(i) for i in details.get("partial_unexpected_index_list") or []],
                error=error,
                unexpected_index=_indexes(details) if every_index else None,
            )
        )
    return outcomes


def _indexes(details: dict[str, Any]) -> list[int] | None:
    """Every bad row's position, when GX lists them as plain positions (else None)."""
    found = details.get("unexpected_index_list")
    if found is None or not all(isinstance(i, int) for i in found):
        return None
    return list(found)
