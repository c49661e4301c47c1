"""The funnel of one audience's sync: from everyone its rule found to the members published.

A marketer who sees 145 members published out of 592 eligible asks where the others went.
Each sync records, per audience and target, one row of `publish.audience_funnel` and, per
contact not published, one row of `publish.unpublished_members` with the stage that kept it
out, in this order (the first that applies):

- `suppressed`, `no_consent`, `unknown_contact`, `excluded: <rule>`: left out by the
  audience's own SQL (`audiences.dropped_members`, written by dbt);
- `holdout`: the control group, never published;
- `capped`: held back by the frequency cap (`publish.capped_members`, with the audiences
  that took its place);
- `suppressed`: an opt-out or suppression recorded after the audience was built, which the
  sync checks again;
- `refused`: the target refused the member or reported it not mailable
  (`publish.member_failures`);
- `not_sent`: the sync sent nothing (a dry run, or the circuit breaker refused the change).
Everyone else is `published`: a member of the list at the target. The counts add up to the
eligible, which the tests check on the sample shop.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import duckdb

from orchestration.publish.state import table_exists
from orchestration.warehouse_schema import AUDIENCE_SCHEMA, PUBLISH_SCHEMA

FUNNEL_TABLE = f"{PUBLISH_SCHEMA}.audience_funnel"
UNPUBLISHED_TABLE = f"{PUBLISH_SCHEMA}.unpublished_members"
DROPPED_TABLE = f"{AUDIENCE_SCHEMA}.dropped_members"
NOT_MAILABLE = ("no_consent", "unknown_contact")


@dataclass(frozen=True)
class Funnel:
    eligible: int
    suppressed: int
    not_mailable: int
    excluded: int
    holdout: int
    capped: int
    refused: int
    not_sent: int
    published: int
    excluded_by: dict[str, int] = field(default_factory=dict)
    capped_by: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the run's log: the stages that kept someone out, then published."""
        out = {
            "suppressed": self.suppressed, "not mailable": self.not_mailable,
            "excluded": self.excluded, "holdout": self.holdout, "capped": self.capped,
            "refused": self.refused, "not sent": self.not_sent,
        }  # fmt: skip
        parts = [f"{n} {stage}" for stage, n in out.items() if n]
        return f"{self.eligible} eligible: " + ", ".join([*parts, f"{self.published} published"])

    def metadata(self) -> dict[str, object]:
        """As the publish asset shows it: one entry per stage, then the rules and audiences."""
        stages = {
            name: getattr(self, name)
            for name in (
                "eligible", "suppressed", "not_mailable", "excluded", "holdout", "capped",
                "refused", "not_sent", "published",
            )
        }  # fmt: skip
        return {
            **{f"funnel: {name}": value for name, value in stages.items()},
            **{f"excluded by: {rule}": n for rule, n in self.excluded_by.items()},
            **{f"capped by: {names}": n for names, n in self.capped_by.items()},
        }


def ensure_funnel_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""
        create table if not exists {FUNNEL_TABLE} (
            run_id varchar not null,
            audience varchar not null,
            target varchar not null,
            run_date date,
            recorded_at timestamptz not null,
            eligible bigint not null,
            suppressed bigint not null,
            not_mailable bigint not null,
            excluded bigint not null,
            holdout bigint not null,
            capped bigint not null,
            refused bigint not null,
            not_sent bigint not null,
            published bigint not null,
            excluded_by json,  -- rule -> members
            capped_by json  -- the audiences that took the place -> members
        )
        """
    )
    con.execute(
        f"""
        create table if not exists {UNPUBLISHED_TABLE} (
            audience varchar not null,
            target varchar not null,
            run_id varchar not null,
            run_date date,
            email varchar not null,
            stage varchar not null,
            detail varchar
        )
        """
    )


def record_funnel(
    con: duckdb.DuckDBPyConnection,
    audience: str,
    target: str,
    run_id: str,
    capped_table: str | None,
    not_sent: str,
) -> Funnel:
    """Record the audience's funnel after its sync (the `desired` table of the sync must
    exist); `not_sent` says why members that were due were not sent (dry run, refusal)."""
    ensure_funnel_tables(con)
    relation = f"{AUDIENCE_SCHEMA}.{audience}"
    capped = (
        f"select email, reason || coalesce(' (by ' || capped_by || ')', '') as detail, "
        f"capped_by from {capped_table} where audience = $audience"
        if capped_table
        else "select null::varchar as email, null::varchar as detail, "
        "null::varchar as capped_by where false"
    )
    con.execute(
        f"""
        create or replace temp table funnel_outcomes as
        with capped as ({capped}),
        failures as (
            select email, arg_max(reason, failed_at) as reason
            from {PUBLISH_SCHEMA}.member_failures
            where audience = $audience and target = $target
            group by email
        ),
        state as (
            select email from {PUBLISH_SCHEMA}.member_state
            where audience = $audience and target = $target
        ),
        members as (
            select a.email,
                case
                    when a.is_holdout then 'holdout'
                    when c.email is not null then 'capped'
                    when d.email is null then 'suppressed'
                    when s.email is not null then 'published'
                    when f.email is not null then 'refused'
                    else 'not_sent'
                end as stage,
                case
                    when a.is_holdout then null
                    when c.email is not null then c.detail
                    when d.email is null
                        then 'an opt-out or suppression recorded after the audience was built'
                    when s.email is not null then null
                    when f.email is not null then f.reason
                    else $not_sent
                end as detail,
                case when not a.is_holdout then c.capped_by end as capped_by
            from {relation} a
            left join capped c on c.email = a.email
            left join desired d on d.email = a.email
            left join state s on s.email = a.email
            left join failures f on f.email = a.email
        )
        select * from members
        {_dropped(con)}
        """,
        {"audience": audience, "target": target, "not_sent": not_sent},
    )
    stages = dict(con.execute("select stage, count(*) from funnel_outcomes group by 1").fetchall())
    excluded_by = {
        stage.removeprefix("excluded: "): n
        for stage, n in stages.items()
        if stage.startswith("excluded: ")
    }
    capped_by = dict(
        con.execute(
            "select capped_by, count(*) from funnel_outcomes where stage = 'capped' "
            "group by 1 order by 2 desc, 1"
        ).fetchall()
    )
    funnel = Funnel(
        eligible=sum(stages.values()),
        suppressed=stages.get("suppressed", 0),
        not_mailable=sum(stages.get(s, 0) for s in NOT_MAILABLE),
        excluded=sum(excluded_by.values()),
        holdout=stages.get("holdout", 0),
        capped=stages.get("capped", 0),
        refused=stages.get("refused", 0),
        not_sent=stages.get("not_sent", 0),
        published=stages.get("published", 0),
        excluded_by=excluded_by,
        capped_by={str(k): v for k, v in capped_by.items()},
    )
    _store(con, funnel, audience, target, run_id, _run_date(con, relation))
    return funnel


def _dropped(con: duckdb.DuckDBPyConnection) -> str:
    """The audience's dropped candidates, if dbt has built the table (a warehouse from before
    it was added has none until its next build)."""
    if not table_exists(con, DROPPED_TABLE):
        return ""
    return (
        f"union all select email, dropped_by, reason, null from {DROPPED_TABLE} "
        "where audience = $audience"
    )


def _run_date(con: duckdb.DuckDBPyConnection, relation: str) -> dt.date | None:
    return con.execute(f"select max(run_date) from {relation}").fetchall()[0][0]


def _store(
    con: duckdb.DuckDBPyConnection,
    f: Funnel,
    audience: str,
    target: str,
    run_id: str,
    run_date: dt.date | None,
) -> None:
    """The funnel row, and the audience's unpublished members replaced by this run's."""
    con.execute("begin transaction")
    try:
        con.execute(
            f"delete from {UNPUBLISHED_TABLE} where audience = ? and target = ?",
            [audience, target],
        )
        con.execute(
            f"insert into {UNPUBLISHED_TABLE} select ?, ?, ?, ?, email, stage, detail "
            "from funnel_outcomes where stage <> 'published'",
            [audience, target, run_id, run_date],
        )
        con.execute(
            f"insert into {FUNNEL_TABLE} values "
            "(?, ?, ?, ?, current_timestamp, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id, audience, target, run_date, f.eligible, f.suppressed, f.not_mailable,
                f.excluded, f.holdout, f.capped, f.refused, f.not_sent, f.published,
                json.dumps(f.excluded_by), json.dumps(f.capped_by),
            ],
        )  # fmt: skip
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
