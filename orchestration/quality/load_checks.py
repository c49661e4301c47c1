"""The gate's rules over the record of each load (`quality.partition_loads`): the share of a
day's rows quarantined, a day that had passed landed again with fewer rows than before, and
CSV columns the source does not define."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb

from orchestration.ingest.quarantine import PARTITION_LOADS
from orchestration.ingest.sources import SOURCES
from orchestration.masking import mask_field, mask_row
from orchestration.quality.report import (
    GATE_RESULTS,
    SAMPLE_ROWS,
    Failure,
    GateReport,
    ensure_gate_tables,
)
from orchestration.quality_thresholds import QualityThresholds
from orchestration.warehouse_schema import QUARANTINE_SCHEMA


def check_loads(
    con: duckdb.DuckDBPyConnection,
    table: str,
    start: dt.date,
    end: dt.date,
    t: QualityThresholds,
    report: GateReport,
) -> set[dt.date]:
    """Judge the latest load of each day of the run; returns the days that had a load."""
    ensure_gate_tables(con)
    loads = con.execute(
        f"""
        with loads as (
            select *,
                row_number() over newest_first as recency,
                lead(rows_loaded) over newest_first as previous_loaded,
            from {PARTITION_LOADS}
            where source = ? and partition_date between ? and ?
            window newest_first as (partition by partition_date order by loaded_at desc)
        ),
        verdicts as (
            -- Each day's latest verdict before this run: that of its load before.
            select partition_date, passed from (
                select *, row_number() over (
                    partition by partition_date order by checked_at desc
                ) as recency
                from {GATE_RESULTS}
                where table_name = ? and partition_date between ? and ?
            )
            where recency = 1
        )
        select l.partition_date, l.rows_read, l.rows_quarantined,
            l.quarantined_by_rule::varchar, l.unexpected_columns, l.rows_loaded,
            case when v.passed then l.previous_loaded end as previous_good,
        from loads l
        left join verdicts v using (partition_date)
        where l.recency = 1
        order by l.partition_date
        """,
        [table, start, end, table, start, end],
    ).fetchall()
    for day, read, quarantined, by_rule, unexpected, loaded, previous_good in loads:
        _check_relanding(day, loaded, previous_good, t, report)
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
        low = share_lower_bound(quarantined, read, t.quarantine_confidence)
        if low <= t.quarantine_tolerance:
            report.failures.append(
                Failure(
                    "quarantine_share",
                    f"{day}: {quarantined} of {read} rows ({share:.1%}) quarantined ({rules}), "
                    f"above the tolerance of {t.quarantine_tolerance:.1%} but within chance at "
                    f"{t.quarantine_confidence:.0%} confidence (the share may be as low as "
                    f"{low:.2%}): the day goes on; the rows are in quarantine.{table}.",
                    (day,),
                    observed=round(share, 4),
                    severity="warning",
                )
            )
            continue
        report.failures.append(
            Failure(
                "quarantine_share",
                f"{day}: {quarantined} of {read} rows ({share:.1%}) quarantined ({rules}); "
                f"the tolerance is {t.quarantine_tolerance:.1%}. The good rows are loaded but "
                f"held from the models: fix the landing file and re-run the day, or raise "
                "LIFECYCLE_QUARANTINE_TOLERANCE.",
                (day,),
                observed=round(share, 4),
                samples=quarantine_samples(con, table, day),
            )
        )
    return {day for day, *_ in loads}


def share_lower_bound(bad: int, rows: int, confidence: float) -> float:
    """The one-sided lower confidence bound of a share (Clopper-Pearson, exact): the share of
    bad rows the day's count is still compatible with. Confidence 0: the share itself."""
    if confidence <= 0 or rows == 0:
        return bad / rows if rows else 0.0
    if bad == 0:
        return 0.0
    from scipy.stats import beta  # imported on first use: the gate's module loads fast

    return float(beta.ppf(1 - confidence, bad, rows - bad + 1))


def quarantine_samples(
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
    # A contact's key is its address: masked as one even when malformed (no `@`).
    key_is_address = any(s.name == table and "email" in s.key for s in SOURCES)
    return tuple(
        {
            "key": mask_field("email" if key_is_address else "key", k),
            **mask_row({"rule": r, "source_file": f, "email": e}),
        }
        for r, f, k, e in rows
    )


def _check_relanding(
    day: dt.date, loaded: int, previous: int | None, t: QualityThresholds, report: GateReport
) -> None:
    """A day that had passed its gate, landed again with fewer rows, lost the difference from
    raw (its consent signals are kept): blocking until someone says the smaller file is
    right. A held day's smaller file is a fix (its bad rows gone), judged like any load."""
    if previous is None or loaded >= previous * (1 - t.reland_max_shrink):
        return
    report.failures.append(
        Failure(
            "relanded_smaller",
            f"{day}: landed again with {loaded} rows where its load before, which passed the "
            f"gate, had {previous} ({(previous - loaded) / previous:.0%} fewer); those rows are "
            "gone from raw. If the "
            "new file is incomplete, land the complete one and re-run the day; if it is right, "
            "re-run the day with LIFECYCLE_RELAND_MAX_SHRINK raised (the share of rows a day "
            f"may lose, now {t.reland_max_shrink:.0%}).",
            (day,),
            observed=loaded,
        )
    )
