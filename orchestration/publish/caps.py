"""Frequency capping across audiences, before any of them is published.

A contact is held back from an audience (`publish.capped_members`, with `capped_by`: the
audiences that took its place) when
- it is in more than `cap` capped audiences today: the highest-priority ones are kept, or
- it is not yet in this audience at the target and already entered `cap` other capped
  audiences there within the `window_days` before the end of the run date.
Holdout members count like the treatment (they stand in for it), and are never published.

Entries are read from the history of confirmed adds (`publish.batches`), not from the current
memberships: a contact who left an audience since still entered it, so running a day again
changes nothing (it used to let in those who had left in the first run). The window ends with
the run date, not at the moment of the run, so a re-run later in the day sees the same
window. Only capped audiences count: the cart steps, left out of the cap, publish on their own
schedule, and a dry run (which sends them nothing) must plan what the real run sends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from orchestration.publish.state import ensure_publish_tables
from orchestration.warehouse_schema import AUDIENCE_SCHEMA, PUBLISH_SCHEMA

CAPPED_TABLE = f"{PUBLISH_SCHEMA}.capped_members"


def compute_caps(
    con: duckdb.DuckDBPyConnection,
    priorities: Sequence[tuple[str, int]],
    target: str,
    cap: int,
    window_days: int,
    window_end: dt.datetime,
    run_date: dt.date,
) -> dict[str, int]:
    """Rewrite `publish.capped_members` (as of `run_date`, whose end is `window_end`);
    returns how many contacts each audience loses."""
    ensure_publish_tables(con)
    if not priorities:
        con.execute(
            f"create or replace table {CAPPED_TABLE} "
            "(audience varchar, email varchar, reason varchar, run_date date, capped_by varchar)"
        )
        return {}
    today = "\nunion all\n".join(
        f"select '{name}' as audience, email, {int(priority)} as priority "
        f"from {AUDIENCE_SCHEMA}.{name}"
        for name, priority in priorities
    )
    con.execute(
        f"""
        create or replace table {CAPPED_TABLE} as
        with today as ({today}),
        state as (
            select audience, email from {PUBLISH_SCHEMA}.member_state
            where target = '{target}'
        ),
        entered as (
            -- Confirmed adds to a capped audience within the window, one per audience.
            select distinct b.audience, m.email
            from {PUBLISH_SCHEMA}.batches b
            join {PUBLISH_SCHEMA}.batch_members m using (batch_id)
            where b.target = '{target}' and b.action = 'add' and b.status = 'done'
                and b.audience in (select distinct audience from today)
                and b.done_at > $window_end - interval '{int(window_days)} days'
                and b.done_at <= $window_end
                and not exists (
                    select 1 from {PUBLISH_SCHEMA}.member_failures f
                    where f.batch_id = b.batch_id and f.email = m.email
                )
        ),
        entries as (
            select t.audience, t.email, t.priority,
                s.email is not null as is_member,
                (
                    select count(*) from entered r
                    where r.email = t.email and r.audience <> t.audience
                ) as recent_entries
            from today t
            left join state s on s.audience = t.audience and s.email = t.email
        ),
        ranked as (
            select *,
                not is_member and recent_entries >= {int(cap)} as window_blocked,
                -- The audiences the window lets through take the top places.
                row_number() over (
                    partition by email
                    order by not is_member and recent_entries >= {int(cap)}, priority desc,
                        audience
                ) as rank
            from entries
        )
        select audience, email,
            case when window_blocked
                then 'entered ' || recent_entries || ' other audiences in the last '
                    || '{int(window_days)} days'
                else 'in ' || rank || ' audiences today; the cap keeps the {int(cap)} '
                    || 'of highest priority'
            end as reason,
            $run_date::date as run_date,
            -- The audiences that took the place: entered in the window, or kept today.
            case when window_blocked
                then (
                    select string_agg(distinct r.audience, ', ' order by r.audience)
                    from entered r where r.email = ranked.email and r.audience <> ranked.audience
                )
                else (
                    select string_agg(k.audience, ', ' order by k.audience) from ranked k
                    where k.email = ranked.email and k.rank <= {int(cap)} and not k.window_blocked
                )
            end as capped_by
        from ranked
        where window_blocked or rank > {int(cap)}
        """,
        {"window_end": window_end, "run_date": run_date},
    )
    return dict(con.execute(f"select audience, count(*) from {CAPPED_TABLE} group by 1").fetchall())
