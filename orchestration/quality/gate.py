"""The quality gate of one raw table over the partitions of a run.

Four kinds of rule, all over the new partitions only:
- the column contract (names and DuckDB types, the suite's `meta.column_types`), in DuckDB;
- the table's Great Expectations suite (keys, nulls, value sets, formats, ranges), on
  DataFrames of the columns it names, at most `validation_chunk_rows` rows each, whole days;
- per partition, in DuckDB: the quarantined share (from the loads' record), columns a CSV
  had beyond the source's (a warning), the row count against the trailing partitions;
- the freshness of the newest record at the end of the run's last day.
Each failure says what, where and how much, with a few masked sample rows. The outcome per
partition is recorded in `quality.gate_results`; `quality.held_partitions` lists partitions
whose latest gate failed, and dbt's staging models leave those out until a re-run passes.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from orchestration.ingest.quarantine import PARTITION_LOADS
from orchestration.masking import mask_field, mask_row
from orchestration.quality.suites import load_suite_file, suite_path, validate
from orchestration.quality_thresholds import QualityThresholds
from orchestration.shop_time import day_end, shop_today
from orchestration.warehouse_schema import (
    AUDIENCE_SCHEMA,
    QUALITY_SCHEMA,
    QUARANTINE_SCHEMA,
    RAW_SCHEMA,
    SUPPRESSIONS,
)

GATE_RESULTS = f"{QUALITY_SCHEMA}.gate_results"
HELD_PARTITIONS = f"{QUALITY_SCHEMA}.held_partitions"

SAMPLE_ROWS = 3
IDENTIFYING = ("_partition_date", "_source_file", "id", "token", "sg_event_id", "email")
# The newest record's time per gated table; contacts change only when people do: no freshness.
FRESHNESS_SQL = {
    "orders": "try_cast(created_at as timestamptz)",
    "checkouts": "try_cast(created_at as timestamptz)",
    "email_events": "to_timestamp(timestamp)",
}


@dataclass(frozen=True)
class Failure:
    rule: str
    message: str
    partitions: tuple[dt.date, ...]
    observed: Any = None
    samples: tuple[dict[str, Any], ...] = ()
    severity: str = "error"


@dataclass
class GateReport:
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


def run_gate(
    con: duckdb.DuckDBPyConnection,
    table: str,
    start: dt.date,
    end: dt.date,
    thresholds: QualityThresholds,
    run_id: str,
    shop_timezone: str,
    open_day: dt.date | None = None,
) -> GateReport:
    """Gate `start`..`end` (days of the shop's calendar); days from `open_day` on are still
    filling (today, loaded by the intraday cart job), so they are not judged too small for
    their volume."""
    started = time.perf_counter()
    report = GateReport(table=table, start=start, end=end)
    suite = load_suite_file(suite_path(f"raw_{table}"))
    counts = _partition_counts(con, table, start, end, thresholds.volume_window_days)
    check_column_contract(con, RAW_SCHEMA, table, suite, report)
    loaded = _check_loads(con, table, start, end, thresholds, report)
    _check_volume(counts, loaded, start, thresholds, report, open_day)
    check_freshness(con, table, end, thresholds, shop_timezone, report)
    if not any(f.rule == "column_contract" for f in report.failures):
        _check_suite(con, table, suite, counts, start, thresholds, report)
    report.seconds = round(time.perf_counter() - started, 3)
    _record(con, report, run_id)
    return report


def _partition_counts(
    con: duckdb.DuckDBPyConnection, table: str, start: dt.date, end: dt.date, window: int
) -> list[tuple[dt.date, int, bool]]:
    """(day, rows, has full trailing history) from `window` days before `start` to `end`."""
    first = start - dt.timedelta(days=window)
    rows = con.execute(
        f"""
        with days as (
            select unnest(generate_series(?::date, ?::date, interval 1 day))::date as day
        ),
        counts as (
            select _partition_date as day, count(*) as n
            from {RAW_SCHEMA}.{table}
            where _partition_date between ? and ?
            group by 1
        ),
        history as (select min(_partition_date) as first_day from {RAW_SCHEMA}.{table})
        select d.day, coalesce(c.n, 0), d.day - ? >= h.first_day
        from days d left join counts c using (day) cross join history h
        order by d.day
        """,
        [first, end, first, end, window],
    ).fetchall()
    return [(d, n, bool(full)) for d, n, full in rows]


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


def _check_loads(
    con: duckdb.DuckDBPyConnection,
    table: str,
    start: dt.date,
    end: dt.date,
    t: QualityThresholds,
    report: GateReport,
) -> set[dt.date]:
    """Judge the latest load of each day of the run; returns the days that had a load."""
    loads = con.execute(
        f"""
        select partition_date, rows_read, rows_quarantined, quarantined_by_rule::varchar,
            unexpected_columns
        from (
            select *, row_number() over (
                partition by partition_date order by loaded_at desc
            ) as recency
            from {PARTITION_LOADS}
            where source = ? and partition_date between ? and ?
        )
        where recency = 1
        order by partition_date
        """,
        [table, start, end],
    ).fetchall()
    for day, read, quarantined, by_rule, unexpected in loads:
        if unexpected:
            report.failures.append(
                Failure(
                    "unexpected_columns",
                    f"{day}: column(s) the source does not define, not loaded: {unexpected}. "
                    "If they matter, add them to the source's spec; if a column was renamed, "
                    "fix the export.",
                    (day,),
                    observed=unexpected,
                    severity="warning",
                )
            )
        share = quarantined / read if read else 0.0
        report.quarantined_rows += quarantined
        report.max_quarantine_share = max(report.max_quarantine_share, share)
        if share <= t.quarantine_tolerance or quarantined < t.quarantine_min_rows:
            continue
        rules = ", ".join(f"{r} {n}" for r, n in json.loads(by_rule).items())
        report.failures.append(
            Failure(
                "quarantine_share",
                f"{day}: {quarantined} of {read} rows ({share:.1%}) quarantined ({rules}); "
                f"the tolerance is {t.quarantine_tolerance:.1%}. The good rows are loaded but "
                f"held from the models: fix the landing file and re-run the day, or raise "
                "LIFECYCLE_QUARANTINE_TOLERANCE.",
                (day,),
                observed=round(share, 4),
                samples=_quarantine_samples(con, table, day),
            )
        )
    return {day for day, *_ in loads}


def _quarantine_samples(
    con: duckdb.DuckDBPyConnection, table: str, day: dt.date
) -> tuple[dict[str, Any], ...]:
    rows = con.execute(
        f"""
        select rule, _source_file, record_key, record ->> 'email'
        from {QUARANTINE_SCHEMA}.{table}
        where _partition_date = ? and released_at is null
        order by quarantined_at desc
        limit {SAMPLE_ROWS}
        """,
        [day],
    ).fetchall()
    return tuple(
        mask_row({"rule": r, "source_file": f, "key": k, "email": e}) for r, f, k, e in rows
    )


def _check_volume(
    counts: list[tuple[dt.date, int, bool]],
    loaded: set[dt.date],
    start: dt.date,
    t: QualityThresholds,
    report: GateReport,
    open_day: dt.date | None,
) -> None:
    window = t.volume_window_days
    for i, (day, n, full_history) in enumerate(counts):
        # A day without any landing file is not judged: nothing arrived (freshness will tell).
        if day < start or day not in loaded or not full_history or window == 0:
            continue
        trailing = sorted(c for _, c, _ in counts[i - window : i])
        median = trailing[len(trailing) // 2]
        busiest = trailing[-1]
        if median < t.volume_min_rows:
            continue
        if n > t.volume_max_ratio * busiest:
            message = (
                f"{day}: {n} rows, more than {t.volume_max_ratio:g} x the busiest of the "
                f"{window} days before ({busiest}); a duplicated or runaway export? "
                "Check the day's files, then re-run it (LIFECYCLE_VOLUME_MAX_RATIO)."
            )
        elif n < t.volume_min_ratio * median and (open_day is None or day < open_day):
            message = (
                f"{day}: {n} rows, less than {t.volume_min_ratio:g} x the median of the "
                f"{window} days before ({median}); an empty or cut-off export? Land the "
                "complete files, then re-run the day (LIFECYCLE_VOLUME_MIN_RATIO)."
            )
        else:
            continue
        report.failures.append(Failure("volume", message, (day,), observed=n))


def check_freshness(
    con: duckdb.DuckDBPyConnection,
    table: str,
    end: dt.date,
    t: QualityThresholds,
    shop_timezone: str,
    report: GateReport,
) -> None:
    """The newest record of the table is at most `freshness_hours` older than the end of the
    shop's day `end`."""
    expression = FRESHNESS_SQL.get(table)
    if expression is None:
        return
    lookback = end - dt.timedelta(days=int(t.freshness_hours // 24) + 2)
    limit = day_end(end, shop_timezone) - dt.timedelta(hours=t.freshness_hours)
    newest = con.execute(
        f"select max({expression}) from {RAW_SCHEMA}.{table} where _partition_date between ? and ?",
        [lookback, end],
    ).fetchall()[0][0]
    if newest is None or newest < limit:
        seen = newest.isoformat() if newest else "none in the partitions before"
        report.failures.append(
            Failure(
                "freshness",
                f"{end}: the newest {table} record is {seen}, older than "
                f"{t.freshness_hours:g} hours at the end of the day; is the export stalled? "
                "(LIFECYCLE_FRESHNESS_HOURS)",
                (end,),
                observed=seen,
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


def _chunks(
    counts: list[tuple[dt.date, int, bool]], start: dt.date, limit: int
) -> list[tuple[dt.date, dt.date, int]]:
    """Consecutive whole days of at most `limit` rows (a bigger day stands alone)."""
    chunks: list[tuple[dt.date, dt.date, int]] = []
    for day, n, _ in counts:
        if day < start or n == 0:
            continue
        if chunks and chunks[-1][2] + n <= limit:
            first, _, rows = chunks[-1]
            chunks[-1] = (first, day, rows + n)
        else:
            chunks.append((day, day, n))
    return chunks


def _check_suite(
    con: duckdb.DuckDBPyConnection,
    table: str,
    suite: dict,
    counts: list[tuple[dt.date, int, bool]],
    start: dt.date,
    t: QualityThresholds,
    report: GateReport,
) -> None:
    slices = [
        (
            f"{first}" if first == last else f"{first}..{last}",
            "_partition_date between ? and ? order by _partition_date",
            [first, last],
            # The samples show a few bad rows, not all: every day of the slice fails.
            _days(first, last),
        )
        for first, last, _ in _chunks(counts, start, t.validation_chunk_rows)
    ]
    validate_suite(con, f"{RAW_SCHEMA}.{table}", f"raw_{table}", suite, slices, t, report)


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
        report.gx_seconds += time.perf_counter() - validating
        report.rows_validated += len(frame)
        report.expectations_evaluated += len(outcomes)
        for outcome in outcomes:
            if outcome.success:
                continue
            sample = frame.iloc[outcome.sample_index[:SAMPLE_ROWS]]
            column = f" on {outcome.column}" if outcome.column else ""
            what = outcome.error or (
                f"{outcome.unexpected_count} of {outcome.element_count} rows"
                if outcome.unexpected_count
                else f"observed {outcome.observed}"
            )
            note = notes.get(outcome.expectation + str(outcome.column), "")
            report.failures.append(
                Failure(
                    outcome.expectation,
                    f"{label}: {outcome.expectation}{column} failed: {what}. {note}".strip(),
                    days,
                    observed=_observed(outcome.observed, outcome.column),
                    samples=tuple(
                        mask_row(_sample_columns(row, outcome.column))
                        for row in sample.to_dict("records")
                    ),
                )
            )


def _observed(value: Any, column: str | None) -> Any:
    if isinstance(value, list):
        return [mask_row(v) if isinstance(v, dict) else mask_field(column, v) for v in value[:5]]
    return mask_field(column, value)


def _named_columns(kwargs: dict[str, Any]) -> list[str]:
    return [kwargs["column"]] if "column" in kwargs else list(kwargs.get("column_list", []))


def _sample_columns(row: dict[str, Any], column: str | None) -> dict[str, Any]:
    """The columns that identify a bad row and show what is wrong with it."""
    return {k: row[k] for k in (*IDENTIFYING, column) if k and k in row}


def _days(first: dt.date, last: dt.date) -> tuple[dt.date, ...]:
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


def _record(con: duckdb.DuckDBPyConnection, report: GateReport, run_id: str) -> None:
    ensure_gate_tables(con)
    days = _days(report.start, report.end)
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


def run_audience_gate(
    con: duckdb.DuckDBPyConnection,
    audience: str,
    asm_group_id: int | None,
    t: QualityThresholds,
    shop_timezone: str,
    attributes: Mapping[str, str] | None = None,
) -> GateReport:
    """The gate before an audience is published: its column contract (the shared suite
    `expectations/audiences.json` plus the `attributes` the audience declares), the suite,
    and no member on the suppression lists it must honour."""
    started = time.perf_counter()
    relation = f"{AUDIENCE_SCHEMA}.{audience}"
    members, run_date = con.execute(f"select count(*), max(run_date) from {relation}").fetchall()[0]
    day = run_date or shop_today(shop_timezone)  # an empty audience has no run date
    report = GateReport(table=relation, start=day, end=day)
    suite = load_suite_file(suite_path(AUDIENCE_SCHEMA))
    check_column_contract(con, AUDIENCE_SCHEMA, audience, suite, report, attributes)
    group = "" if asm_group_id is None else f" or s.asm_group_id = {int(asm_group_id)}"
    suppressed = con.execute(
        f"""
        select distinct a.email, s.reason
        from {relation} a join {SUPPRESSIONS} s on s.email = a.email
        where s.asm_group_id is null{group}
        order by a.email
        """
    ).fetchall()
    if suppressed:
        report.failures.append(
            Failure(
                "suppressed_member",
                f"{len(suppressed)} member(s) of {relation} must not be mailed "
                f"({', '.join(sorted({r for _, r in suppressed}))}); the audience SQL must "
                "end with audience_members(), which leaves them out",
                (),
                observed=len(suppressed),
                samples=tuple(mask_row({"email": e, "reason": r}) for e, r in suppressed[:3]),
            )
        )
    if not any(f.rule == "column_contract" for f in report.failures):
        # Slices by a hash of the address, so that one address always lands in one slice.
        slices = max(1, -(-members // t.validation_chunk_rows))
        validate_suite(
            con,
            relation,
            AUDIENCE_SCHEMA,
            suite,
            [
                (f"{relation} (slice {i + 1} of {slices})", f"hash(email) % {slices} = {i}", [], ())
                for i in range(slices)
            ],
            t,
            report,
        )
    report.seconds = round(time.perf_counter() - started, 3)
    return report
