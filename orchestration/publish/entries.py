"""Who entered which audience when, holdout included: the cohorts the lift read-out needs.

`publish.audience_entries` keeps one spell per contact and audience membership
(`entered_on`, `left_on`), updated after each build as of the run date, forward only: a
re-run of the same day changes nothing, and the holdout flag is the one the contact had on
entry (it is stable anyway). `is_capped` says whether the frequency cap held the member back
on its entry day (`publish.capped_members` of that run date): the cap treats holdout and
treatment alike, so a capped treatment member was never published and a capped holdout
member would not have been. The dbt model `marts.holdout_results` (a read-out built after
publishing) compares, per audience and entry month, the members published with the holdout
members who would have been (the "ghost" control) over the window after entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from orchestration.publish.caps import CAPPED_TABLE
from orchestration.publish.state import table_exists
from orchestration.warehouse_schema import AUDIENCE_SCHEMA, PUBLISH_SCHEMA

ENTRIES_TABLE = f"{PUBLISH_SCHEMA}.audience_entries"


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
    # Spells recorded before the cap was read on entry count as not capped.
    con.execute(
        f"alter table {ENTRIES_TABLE} add column if not exists is_capped boolean default false"
    )
    capped = _capped_on(con, run_date)
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
                    (audience, email, is_holdout, entered_on, left_on, is_capped)
                select ?, a.email, a.is_holdout, ?, null,
                    a.email in (select email from ({capped}) c where c.audience = ?)
                from {AUDIENCE_SCHEMA}.{audience} a
                where a.email not in (
                    select email from {ENTRIES_TABLE} where audience = ? and left_on is null
                )
                """,
                [audience, run_date, audience, audience],
            ).fetchall()[0][0]
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        changes[audience] = (entered, left)
    return changes


def _capped_on(con: duckdb.DuckDBPyConnection, run_date: dt.date) -> str:
    """SQL of the (audience, email) pairs the cap held back on `run_date` (none when the cap
    has not been computed for that day)."""
    if not table_exists(con, CAPPED_TABLE):
        return "select null::varchar as audience, null::varchar as email where false"
    return (
        f"select audience, email from {CAPPED_TABLE} where run_date = date '{run_date.isoformat()}'"
    )
