"""Frequency capping across audiences, before any of them is published.

A contact is held back from an audience (`publish.capped_members`) when
- it is in more than `cap` audiences today: the highest-priority ones are kept, or
- it is not yet in this audience at the target and already entered `cap` other audiences
  there within the last `window_days` (entries are first confirmed adds).
Holdout members count like the treatment (they stand in for it), and are never published.
"""

from __future__ import annotations

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
) -> dict[str, int]:
    """Rewrite `publish.capped_members`; returns how many contacts each audience loses."""
    ensure_publish_tables(con)
    if not priorities:
        con.execute(
            f"create or replace table {CAPPED_TABLE} "
            "(audience varchar, email varchar, reason varchar)"
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
            select audience, email, added_at from {PUBLISH_SCHEMA}.member_state
            where target = '{target}'
        ),
        entries as (
            select t.audience, t.email, t.priority,
                s.email is not null as is_member,
                (
                    select count(*) from state r
                    where r.email = t.email and r.audience <> t.audience
                        and r.added_at >= current_timestamp - interval '{int(window_days)} days'
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
            end as reason
        from ranked
        where window_blocked or rank > {int(cap)}
        """
    )
    return dict(con.execute(f"select audience, count(*) from {CAPPED_TABLE} group by 1").fetchall())
