"""Who entered which audience when, holdout included: the cohorts the lift read-out needs.

`publish.audience_entries` keeps one spell per contact and audience membership
(`entered_on`, `left_on`), updated after each build as of the run date, forward only: a
re-run of the same day changes nothing, and the holdout flag is the one the contact had on
entry (it is stable anyway). The dbt model `marts.holdout_results` (a read-out built after
publishing) compares, per audience and entry month, the treatment with the holdout over the
window after entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

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
