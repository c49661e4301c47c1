"""The quality gate of one raw table over the partitions of a run.

Four kinds of rule, all over the new partitions only:
- the column contract (names and DuckDB types, the suite's `meta.column_types`), in DuckDB;
- the table's Great Expectations suite (keys, nulls, value sets, formats, ranges), on
  DataFrames of the columns it names, at most `validation_chunk_rows` rows each, whole days;
- per partition, in DuckDB: the quarantined share (from the loads' record), a day landed
  again with fewer rows than before, columns a CSV had beyond the source's (a warning), the
  row count against the trailing partitions (`orchestration.quality.load_checks`);
- the freshness of the newest record at the end of the run's last day.
Each failure says what, where and how much, with a few masked sample rows. The outcome per
partition is recorded in `quality.gate_results` (`orchestration.quality.report`).
"""

from __future__ import annotations

import datetime as dt
import time

import duckdb

from orchestration.ingest.rules import epoch_timestamp_sql, text_timestamp_sql
from orchestration.quality.load_checks import check_loads
from orchestration.quality.report import (
    Failure,
    GateReport,
    days_between,
    record_verdicts,
)
from orchestration.quality.suite_checks import check_column_contract, validate_suite
from orchestration.quality.suites import load_suite_file, suite_path
from orchestration.quality_thresholds import QualityThresholds
from orchestration.shop_time import day_end
from orchestration.warehouse_schema import RAW_SCHEMA

# The newest record's time per gated table; contacts change only when people do: no freshness.
FRESHNESS_SQL = {
    "orders": text_timestamp_sql("created_at"),
    "checkouts": text_timestamp_sql("created_at"),
    "email_events": epoch_timestamp_sql("timestamp"),  # seconds or milliseconds
}


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
    loaded = check_loads(con, table, start, end, thresholds, report)
    _check_volume(counts, loaded, start, thresholds, report, open_day)
    check_freshness(con, table, end, thresholds, shop_timezone, report)
    if not any(f.rule == "column_contract" for f in report.failures):
        _check_suite(con, table, suite, counts, start, thresholds, report)
    report.seconds = round(time.perf_counter() - started, 3)
    record_verdicts(con, report, run_id)
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
            days_between(first, last),
        )
        for first, last, _ in _chunks(counts, start, t.validation_chunk_rows)
    ]
    validate_suite(con, f"{RAW_SCHEMA}.{table}", f"raw_{table}", suite, slices, t, report)
