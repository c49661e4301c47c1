"""What the marketer's report shows, read from the warehouse as of one run date.

Every figure is a small aggregate computed in DuckDB (segment and stage counts, monthly
retention, a cohort grid, a histogram, the funnels and the holdout read-out); nothing
per-customer leaves the database. A table the run has not built (predictions skipped, no
publish yet) gives an empty section, said as such in the page, never an error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb

from orchestration.warehouse_schema import INTERMEDIATE_SCHEMA, MARTS_SCHEMA, PUBLISH_SCHEMA

COHORT_MONTHS = 12  # cohorts shown (the latest) and months after the first order
CHURN_BINS = 10


@dataclass
class ReportData:
    run_date: dt.date
    customers: int = 0
    segments: list[tuple[str, int]] = field(default_factory=list)
    stages: list[tuple[str, int]] = field(default_factory=list)
    transitions: list[tuple[str, str, int]] = field(default_factory=list)  # from, to, contacts
    # Complete months only: the run date's month, measured to date, would read as a dip.
    retention: list[tuple[dt.date, float | None, float | None]] = field(default_factory=list)
    cohorts: list[tuple[dt.date, int, list[float | None]]] = field(default_factory=list)
    churn_histogram: list[int] = field(default_factory=list)  # contacts per 10% of churn prob.
    funnels: list[dict[str, Any]] = field(default_factory=list)
    holdouts: list[dict[str, Any]] = field(default_factory=list)


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def read_report_data(con: duckdb.DuckDBPyConnection, run_date: dt.date) -> ReportData:
    data = ReportData(run_date=run_date)
    m = MARTS_SCHEMA
    if _exists(con, m, "customer_rfm"):
        data.segments = _rows(
            con, f"select rfm_segment, count(*) from {m}.customer_rfm group by 1 order by 2 desc"
        )
        data.customers = sum(n for _, n in data.segments)
    if _exists(con, m, "customer_lifecycle"):
        data.stages = _rows(
            con,
            f"select lifecycle_stage, count(*) from {m}.customer_lifecycle group by 1 "
            "order by 2 desc",
        )
    if _exists(con, m, "customer_lifecycle_history"):
        # A contact whose stage changed on the run date: the spell that ended then and the
        # one that began then.
        data.transitions = _rows(
            con,
            f"""
            select e.lifecycle_stage, b.lifecycle_stage, count(*)
            from {m}.customer_lifecycle_history b
            join {m}.customer_lifecycle_history e
                on e.email = b.email and e.valid_to = b.valid_from
            where b.valid_from = ?
            group by 1, 2 order by 3 desc, 1, 2
            """,
            [run_date],
        )
    if _exists(con, m, "retention_metrics_monthly"):
        data.retention = _rows(
            con,
            f"select month_start, customer_churn_rate_pct, repeat_purchase_rate_pct "
            f"from {m}.retention_metrics_monthly where is_complete_month order by 1",
        )
    if _exists(con, INTERMEDIATE_SCHEMA, "int_orders_completed"):
        data.cohorts = _cohorts(con, run_date)
    if _exists(con, m, "customer_predictions"):
        counts = dict(
            _rows(
                con,
                f"select least(floor(churn_probability * {CHURN_BINS}), {CHURN_BINS - 1}), "
                f"count(*) from {m}.customer_predictions where churn_probability is not null "
                "group by 1",
            )
        )
        if counts:
            data.churn_histogram = [int(counts.get(float(b), 0)) for b in range(CHURN_BINS)]
    if _exists(con, PUBLISH_SCHEMA, "audience_funnel"):
        data.funnels = _dicts(
            con,
            f"""
            select audience, target, eligible, suppressed + not_mailable as suppressed, excluded,
                holdout, capped, refused + not_sent as not_sent, published
            from {PUBLISH_SCHEMA}.audience_funnel
            where run_date = ?
            qualify row_number() over (partition by audience, target order by recorded_at desc) = 1
            order by audience
            """,
            [run_date],
        )
    if _exists(con, m, "holdout_results"):
        data.holdouts = _dicts(
            con,
            f"""
            select audience, entry_month, readout_status, treatment_members, control_members,
                treatment_conversion, control_conversion, conversion_lift,
                conversion_lift_low_95, conversion_lift_high_95
            from {m}.holdout_results order by audience, entry_month desc
            """,
        )
    return data


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _cohorts(con: duckdb.DuckDBPyConnection, run_date: dt.date) -> list:
    """Per month of first order (the latest COHORT_MONTHS): its customers and, for each month
    after it that has ended by the run date, the share of them with an order in that month."""
    rows = _rows(
        con,
        f"""
        with orders as (
            select email, date_trunc('month', ordered_date) as month
            from {INTERMEDIATE_SCHEMA}.int_orders_completed where ordered_date <= ?
        ),
        firsts as (select email, min(month) as cohort from orders group by 1),
        active as (
            select f.cohort, datediff('month', f.cohort, o.month) as age,
                count(distinct o.email) as buyers
            from orders o join firsts f using (email)
            group by 1, 2
        ),
        sizes as (select cohort, count(*) as customers from firsts group by 1)
        select s.cohort, s.customers, a.age, a.buyers
        from sizes s left join active a using (cohort)
        where s.cohort >= date_trunc('month', ?::date) - interval {COHORT_MONTHS - 1} month
        order by 1, 3
        """,
        [run_date, run_date],
    )
    current = dt.date(run_date.year, run_date.month, 1)
    grid: dict[dt.date, tuple[int, dict[int, int]]] = {}
    for cohort, customers, age, buyers in rows:
        cohort = cohort.date() if isinstance(cohort, dt.datetime) else cohort
        grid.setdefault(cohort, (customers, {}))[1][age] = buyers
    out = []
    for cohort, (customers, buyers) in sorted(grid.items()):
        months = (current.year - cohort.year) * 12 + current.month - cohort.month
        shares = [buyers.get(age, 0) / customers for age in range(1, months)]
        out.append((cohort, customers, shares[: COHORT_MONTHS - 1]))
    return out
