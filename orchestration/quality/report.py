"""What a gate found, and its verdict per partition in the warehouse.

Both gates (the raw tables' in `raw_gate`, the audiences' in `orchestration.audiences`) report
`Failure`s in a `GateReport`. The raw gate records its verdict per partition in
`quality.gate_results`; `quality.held_partitions` lists partitions whose latest gate failed,
and dbt's staging models leave those out until a re-run passes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from orchestration.masking import mask_addresses
from orchestration.warehouse_schema import QUALITY_SCHEMA

GATE_RESULTS = f"{QUALITY_SCHEMA}.gate_results"
HELD_PARTITIONS = f"{QUALITY_SCHEMA}.held_partitions"
SAMPLE_ROWS = 3  # masked sample rows a failure shows


@dataclass(frozen=True)
class Failure:
    """One broken rule: what, in which partitions (none: all of the run), how much."""

    rule: str
    message: str
    partitions: tuple[dt.date, ...]
    observed: Any = None
    samples: tuple[dict[str, Any], ...] = ()
    severity: str = "error"

    def __post_init__(self) -> None:
        # The message is free text from many places (a GX error among them) and is shown,
        # logged and recorded as is: no whole address may leave in it, whoever wrote it.
        object.__setattr__(self, "message", mask_addresses(self.message))


@dataclass
class GateReport:
    """Everything one gate found over one relation and span of days, and what it cost."""

    table: str
    start: dt.date
    end: dt.date
    failures: list[Failure] = field(default_factory=list)
    rows_validated: int = 0
    expectations_evaluated: int = 0
    quarantined_rows: int = 0
    max_quarantine_share: float = 0.0
    seconds: float = 0.0
    gx_seconds: float = 0.0  # of `seconds`, in Great Expectations

    @property
    def blocking(self) -> list[Failure]:
        return [f for f in self.failures if f.severity == "error"]


def days_between(first: dt.date, last: dt.date) -> tuple[dt.date, ...]:
    """Every day from `first` to `last`, both included."""
    return tuple(first + dt.timedelta(days=i) for i in range((last - first).days + 1))


def ensure_gate_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the gates' verdicts and the view of held partitions if they do not exist."""
    con.execute(f"create schema if not exists {QUALITY_SCHEMA}")
    con.execute(
        f"""
        create table if not exists {GATE_RESULTS} (
            table_name varchar not null,
            partition_date date not null,
            run_id varchar not null,
            checked_at timestamptz not null,
            passed boolean not null,
            failures json
        )
        """
    )
    con.execute(
        f"""
        create view if not exists {HELD_PARTITIONS} as
        select table_name, partition_date, run_id, checked_at, failures
        from (
            select *, row_number() over (
                partition by table_name, partition_date order by checked_at desc
            ) as recency
            from {GATE_RESULTS}
        )
        where recency = 1 and not passed
        """
    )


def record_verdicts(con: duckdb.DuckDBPyConnection, report: GateReport, run_id: str) -> None:
    """One row per day of the report's span in `quality.gate_results`: passed, or why not."""
    ensure_gate_tables(con)
    days = days_between(report.start, report.end)
    # A failure without a partition (a table-wide contract) fails every day of the run.
    failed: dict[dt.date, list[str]] = {}
    for failure in report.blocking:
        for day in failure.partitions or days:
            failed.setdefault(day, []).append(failure.message)
    con.executemany(
        f"insert into {GATE_RESULTS} values (?, ?, ?, current_timestamp, ?, ?)",
        [
            (report.table, day, run_id, day not in failed, json.dumps(failed.get(day, [])))
            for day in days
        ],
    )
