"""Who entered which audience when, holdout included: the cohorts the lift read-out needs.

`publish.audience_entries` keeps one spell per contact and audience membership
(`entered_on`, `left_on`), updated after each build as of the run date, forward only: a
re-run of the same day changes nothing, and the holdout flag is the one the contact had on
entry (it is stable anyway). `marts.holdout_results` compares, per audience and entry month,
the treatment with the holdout over the window after entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from orchestration.warehouse_schema import AUDIENCE_SCHEMA, MARTS_SCHEMA, PUBLISH_SCHEMA

ENTRIES_TABLE = f"{PUBLISH_SCHEMA}.audience_entries"
HOLDOUT_RESULTS = f"{MARTS_SCHEMA}.holdout_results"
Z_95 = 1.959964


def record_entries(
    con: duckdb.DuckDBPyConnection, audiences: Sequence[str], run_date: dt.date
) -> dict[str, tuple[int, int]]:
    """Open spells for new members, close them for members who left; (entered, left) each."""
    con.execute(f"create schema if not exists {PUBLISH_SCHEMA}")
    con.execute(
        f"""
        create table if not exists {ENTRIES_TABLE} (
            audience varchar not null,
            email varchar not null,
            is_holdout boolean not null,
            entered_on date not null,
            left_on date
        )
        """
    )
    changes = {}
    for audience in audiences:
        latest = con.execute(
            f"select max(greatest(entered_on, coalesce(left_on, entered_on))) "
            f"from {ENTRIES_TABLE} where audience = ?",
            [audience],
        ).fetchall()[0][0]
        if latest is not None and latest > run_date:
            changes[audience] = (0, 0)  # forward only: a backfill leaves the spells as they are
            continue
        con.execute("begin transaction")
        try:
            left = con.execute(
                f"""
                update {ENTRIES_TABLE} set left_on = ?
                where audience = ? and left_on is null and entered_on < ?
                    and email not in (select email from {AUDIENCE_SCHEMA}.{audience})
                """,
                [run_date, audience, run_date],
            ).fetchall()[0][0]
            entered = con.execute(
                f"""
                insert into {ENTRIES_TABLE}
                select ?, a.email, a.is_holdout, ?, null
                from {AUDIENCE_SCHEMA}.{audience} a
                where a.email not in (
                    select email from {ENTRIES_TABLE} where audience = ? and left_on is null
                )
                """,
                [audience, run_date, audience],
            ).fetchall()[0][0]
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        changes[audience] = (entered, left)
    return changes


def build_holdout_results(
    con: duckdb.DuckDBPyConnection, run_date: dt.date, window_days: int
) -> int:
    """Conversion and revenue per member after entry, treatment against holdout, with lift
    and a normal-approximation 95% interval, per audience and entry month."""
    con.execute("create schema if not exists marts")
    con.execute(
        f"""
        create or replace table {HOLDOUT_RESULTS} as
        with entries as (
            select * from {ENTRIES_TABLE} where entered_on <= ?::date
        ),
        outcomes as (
            select
                e.audience,
                cast(date_trunc('month', e.entered_on) as date) as entry_month,
                e.is_holdout,
                e.email,
                e.entered_on,
                count(o.order_id) > 0 as converted,
                coalesce(sum(o.net_revenue_amount), 0)::double as revenue
            from entries e
            left join intermediate.int_orders_completed o
                on o.email = e.email
                and o.ordered_date > e.entered_on
                and o.ordered_date <= e.entered_on + {int(window_days)}
                and o.ordered_date <= ?::date
            group by all
        ),
        arms as (
            select
                audience, entry_month,
                count(*) filter (where not is_holdout) as treatment_members,
                count(*) filter (where is_holdout) as holdout_members,
                avg(converted::int) filter (where not is_holdout) as treatment_conversion,
                avg(converted::int) filter (where is_holdout) as holdout_conversion,
                avg(revenue) filter (where not is_holdout) as treatment_revenue_per_member,
                avg(revenue) filter (where is_holdout) as holdout_revenue_per_member,
                var_samp(revenue) filter (where not is_holdout) as treatment_revenue_var,
                var_samp(revenue) filter (where is_holdout) as holdout_revenue_var,
                min(?::date - entered_on) >= {int(window_days)} as window_complete
            from outcomes
            group by audience, entry_month
        )
        select
            audience,
            entry_month,
            treatment_members,
            holdout_members,
            treatment_conversion,
            holdout_conversion,
            treatment_conversion - holdout_conversion as conversion_lift,
            (treatment_conversion - holdout_conversion) / nullif(holdout_conversion, 0)
                as conversion_lift_relative,
            (treatment_conversion - holdout_conversion) - {Z_95} * sqrt(
                treatment_conversion * (1 - treatment_conversion) / nullif(treatment_members, 0)
                + holdout_conversion * (1 - holdout_conversion) / nullif(holdout_members, 0)
            ) as conversion_lift_low_95,
            (treatment_conversion - holdout_conversion) + {Z_95} * sqrt(
                treatment_conversion * (1 - treatment_conversion) / nullif(treatment_members, 0)
                + holdout_conversion * (1 - holdout_conversion) / nullif(holdout_members, 0)
            ) as conversion_lift_high_95,
            treatment_revenue_per_member,
            holdout_revenue_per_member,
            treatment_revenue_per_member - holdout_revenue_per_member as revenue_lift_per_member,
            (treatment_revenue_per_member - holdout_revenue_per_member) - {Z_95} * sqrt(
                treatment_revenue_var / nullif(treatment_members, 0)
                + holdout_revenue_var / nullif(holdout_members, 0)
            ) as revenue_lift_low_95,
            (treatment_revenue_per_member - holdout_revenue_per_member) + {Z_95} * sqrt(
                treatment_revenue_var / nullif(treatment_members, 0)
                + holdout_revenue_var / nullif(holdout_members, 0)
            ) as revenue_lift_high_95,
            {int(window_days)} as window_days,
            window_complete,
            ?::date as run_date
        from arms
        order by audience, entry_month
        """,
        [run_date, run_date, run_date, run_date],
    )
    return con.execute(f"select count(*) from {HOLDOUT_RESULTS}").fetchall()[0][0]
