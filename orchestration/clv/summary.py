"""Each customer's (frequency, recency, T) from their transactions, in DuckDB SQL, grouped.

Several purchases on one day count as one (the model's purchases are occasions, as in the
paper). Frequency x is the number of purchase days after the first, recency t_x the time from
the first to the last purchase day, T the time from the first purchase day to the end of the
calibration period, in days divided by the unit's length (7 for weeks). Only purchases on or
before the calibration end count, and customers whose first purchase is after it are left
out. Identical triples are one row with the number of customers (`n`), so the fit reads a
frame of distinct histories, never one row per customer.
"""

from __future__ import annotations

import datetime as dt

import duckdb

UNIT_DAYS = {"days": 1, "weeks": 7}


def grouped_summary(
    con: duckdb.DuckDBPyConnection,
    transactions: str,
    customer: str,
    day: str,
    calibration_end: dt.date,
    time_unit: str = "weeks",
    holdout_end: dt.date | None = None,
) -> duckdb.DuckDBPyRelation:
    """A relation of (x, t_x, T, n, actual) over `transactions` (a table or a subquery in
    parentheses) whose `customer` and `day` (a DATE) columns are named; `actual` is the
    purchase days after the calibration end up to `holdout_end` (0 without one)."""
    if time_unit not in UNIT_DAYS:
        raise ValueError(f"time unit {time_unit!r}: use one of {', '.join(UNIT_DAYS)}")
    unit = UNIT_DAYS[time_unit]
    end = f"date '{calibration_end.isoformat()}'"
    last = f"date '{(holdout_end or calibration_end).isoformat()}'"
    return con.sql(
        f"""
        with days as (
            select distinct "{customer}" as customer, cast("{day}" as date) as day
            from {transactions}
            where cast("{day}" as date) <= {last}
        ),
        customers as (
            select
                count(*) filter (where day <= {end}) - 1 as x,
                date_diff('day', min(day), max(day) filter (where day <= {end})) / {unit}.0
                    as t_x,
                date_diff('day', min(day), {end}) / {unit}.0 as T,
                count(*) filter (where day > {end}) as actual,
            from days
            group by customer
            having min(day) <= {end}
        )
        select x, t_x, T, count(*) as n, sum(actual) as actual
        from customers
        group by x, t_x, T
        order by x, t_x, T
        """
    )


def spend_summary(
    con: duckdb.DuckDBPyConnection,
    transactions: str,
    customer: str,
    day: str,
    amount: str,
    calibration_end: dt.date,
) -> duckdb.DuckDBPyRelation:
    """A relation of (x, m_x, n): repeat customers' number of repeat purchase days and their
    average spend per repeat purchase day (a day's purchases summed; the first day left out,
    as the spend model's purchases are the repeat ones), grouped."""
    end = f"date '{calibration_end.isoformat()}'"
    return con.sql(
        f"""
        with days as (
            select "{customer}" as customer, cast("{day}" as date) as day,
                sum(cast("{amount}" as double)) as spend
            from {transactions}
            where cast("{day}" as date) <= {end}
            group by all
        ),
        repeats as (
            select customer, spend,
                row_number() over (partition by customer order by day) as k
            from days
        ),
        customers as (
            select count(*) as x, avg(spend) as m_x
            from repeats
            where k > 1
            group by customer
        )
        select x, m_x, count(*) as n
        from customers
        group by x, m_x
        order by x, m_x
        """
    )
