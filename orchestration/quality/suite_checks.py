"""The checks a suite defines, run by both gates: its column contract and its expectations.

A suite in `expectations/` names the columns and DuckDB types of its relation
(`meta.column_types`), checked in DuckDB, and the Great Expectations it must meet, validated
on DataFrames of the columns it names. Each broken rule becomes a `Failure` whose observed
values and sample rows are masked.
"""

from __future__ import annotations

import collections
import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

import duckdb

from orchestration.masking import mask_field, mask_row
from orchestration.quality.report import SAMPLE_ROWS, Failure, GateReport
from orchestration.quality.suites import ExpectationOutcome, suite_path, validate
from orchestration.quality_thresholds import QualityThresholds

IDENTIFYING = ("_partition_date", "_source_file", "id", "token", "sg_event_id", "email")


def check_column_contract(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    suite: dict,
    report: GateReport,
    extra: Mapping[str, str] | None = None,
) -> None:
    """The table's columns and types are the suite's `meta.column_types` plus `extra`."""
    expected = {**suite.get("meta", {}).get("column_types", {}), **(extra or {})}
    actual = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    )
    problems = [f"{c} is missing" for c in expected if c not in actual]
    problems += [f"{c} is not in the contract" for c in actual if c not in expected]
    problems += [
        f"{c} is {actual[c]}, expected {t}"
        for c, t in expected.items()
        if c in actual and actual[c] != t
    ]
    if problems:
        detail = "; ".join(problems)
        report.failures.append(
            Failure(
                "column_contract",
                f"{schema}.{table} does not match the columns and types of "
                f"its suite's meta.column_types: {detail}",
                (),
                observed=detail,
            )
        )


def _suite_parameters(t: QualityThresholds) -> dict[str, Any]:
    earliest = dt.datetime.combine(t.earliest_date, dt.time(), dt.UTC)
    latest = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=t.clock_skew_minutes)
    return {
        "shop_currencies": list(t.currencies),
        "earliest_epoch": int(earliest.timestamp()),
        "latest_epoch": int(latest.timestamp()),
    }


def validate_suite(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    suite_name: str,
    suite: dict,
    slices: list[tuple[str, str, list, tuple[dt.date, ...]]],
    t: QualityThresholds,
    report: GateReport,
) -> None:
    """Validate each slice (label, SQL filter, its parameters, the days it covers) of a
    relation against a suite, as a DataFrame of the columns the suite names."""
    parameters = _suite_parameters(t)
    available = suite.get("meta", {}).get("column_types", {})
    named = {c for e in suite["expectations"] for c in _named_columns(e["kwargs"])}
    columns = ", ".join(f'"{c}"' for c in available if c in named or c in IDENTIFYING)
    notes = {
        e["type"] + str(e["kwargs"].get("column")): e.get("meta", {}).get("notes", "")
        for e in suite["expectations"]
    }
    for label, where, where_parameters, days in slices:
        frame = con.execute(
            f"select {columns} from {relation} where {where}", where_parameters
        ).df()
        validating = time.perf_counter()
        outcomes = validate(suite_path(suite_name), frame, parameters)
        failed = [o for o in outcomes if not o.success]
        if failed and len(days) > 1 and "_partition_date" in frame:
            # A chunk of many days failed: find its bad days, so no good day is held for them.
            every = validate(suite_path(suite_name), frame, parameters, every_index=True)
            detailed = {(o.expectation, o.column): o for o in every}
            failed = [detailed.get((o.expectation, o.column), o) for o in failed]
        report.gx_seconds += time.perf_counter() - validating
        report.rows_validated += len(frame)
        report.expectations_evaluated += len(outcomes)
        for outcome in failed:
            for part in _per_day(outcome, frame, label, days):
                note = notes.get(outcome.expectation + str(outcome.column), "")
                report.failures.append(_failure(outcome, frame, note, *part))


def _per_day(
    outcome: ExpectationOutcome, frame: Any, label: str, days: tuple[dt.date, ...]
) -> list[tuple[str, tuple[dt.date, ...], int | None, int, list[int]]]:
    """(label, days, bad rows, rows, sample indexes) of a failed outcome: one per bad day
    when every bad row is known, else one for the whole slice."""
    if outcome.unexpected_index is None:
        count = outcome.unexpected_count or None
        return [(label, days, count, outcome.element_count, outcome.sample_index)]
    dates = [_as_date(v) for v in frame["_partition_date"]]
    by_day: dict[dt.date, list[int]] = {}
    for index in outcome.unexpected_index:
        by_day.setdefault(dates[index], []).append(index)
    sizes = collections.Counter(dates)
    return [
        (day.isoformat(), (day,), len(rows), sizes[day], rows[:SAMPLE_ROWS])
        for day, rows in sorted(by_day.items())
    ]


def _as_date(value: Any) -> dt.date:
    """A `_partition_date` cell (a pandas Timestamp or a date) as a date."""
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def _failure(
    outcome: ExpectationOutcome,
    frame: Any,
    note: str,
    label: str,
    days: tuple[dt.date, ...],
    bad_rows: int | None,
    rows: int,
    sample_index: list[int],
) -> Failure:
    column = f" on {outcome.column}" if outcome.column else ""
    # The message is read in the check's description, the log and gate_results, so its
    # observed values are masked like the metadata's (all of them, not five).
    observed = f"observed {_masked(outcome.observed, outcome.column)}"
    what = outcome.error or (f"{bad_rows} of {rows} rows" if bad_rows else observed)
    sample = frame.iloc[sample_index[:SAMPLE_ROWS]]
    return Failure(
        outcome.expectation,
        f"{label}: {outcome.expectation}{column} failed: {what}. {note}".strip(),
        days,
        observed=_observed(outcome.observed, outcome.column),
        samples=tuple(
            mask_row(_sample_columns(row, outcome.column)) for row in sample.to_dict("records")
        ),
    )


def _masked(value: Any, column: str | None) -> Any:
    """An observed value (or list of them) with the addresses in it masked."""
    if isinstance(value, list):
        return [mask_row(v) if isinstance(v, dict) else mask_field(column, v) for v in value]
    return mask_field(column, value)


def _observed(value: Any, column: str | None) -> Any:
    """The observed value for the metadata: masked, at most five of a list."""
    masked = _masked(value, column)
    return masked[:5] if isinstance(masked, list) else masked


def _named_columns(kwargs: dict[str, Any]) -> list[str]:
    return [kwargs["column"]] if "column" in kwargs else list(kwargs.get("column_list", []))


def _sample_columns(row: dict[str, Any], column: str | None) -> dict[str, Any]:
    """The columns that identify a bad row and show what is wrong with it."""
    return {k: row[k] for k in (*IDENTIFYING, column) if k and k in row}
