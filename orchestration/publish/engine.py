"""The sync engine: bring a target's list in line with an audience, losing and doubling nothing.

A sync compares the audience's desired members (not in the holdout, on no suppression list:
checked again here, whatever the audience SQL did) with the members the target last
confirmed (`publish.member_state`), plans the adds, removes and attribute updates as batches
(`publish.batches`, `publish.batch_members`) and sends them one by one. Each batch is marked
in flight before it is sent and applied to the member state, with its per-member failures, in
one transaction once the target confirms it. A run that dies between the two leaves the batch
in flight; the next sync sends it again first (adapters are idempotent per batch id), then
plans what is still different. A sync whose change is larger than the audience allows is
refused before anything is sent, unless forced. An audience built as of an earlier moment
than the state the target last received (a backfilled day, or the daily build of the cart
steps after the 15-minute job sent a newer one) is not sent at all: it would undo newer news.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field

import duckdb

from orchestration.publish.adapters import Adapter, Batch, Member

PUBLISH_SCHEMA = "publish"
AUDIENCE_SCHEMA = "audiences"
# What a target receives about each member besides the address (an audience may add its own).
ATTRIBUTES = (
    "first_name",
    "lifecycle_stage",
    "rfm_segment",
    "is_vip",
    "favourite_brand",
    "favourite_category",
    "order_count",
    "last_order_date",
    "first_order_date",
    "reason",
)


class CircuitBreakerOpen(RuntimeError):
    """The sync would change more of the list than the audience allows; nothing was sent."""


@dataclass(frozen=True)
class SyncSettings:
    list_name: str
    max_change_share: float = 0.5
    asm_group_id: int | None = None  # its unsubscribers must not be mailed either
    dry_run: bool = False
    force: bool = False
    capped_table: str | None = None  # (audience, email) held back by the frequency cap
    min_change_rows: int = 100  # below this many adds + removes the breaker stays closed
    extra_attributes: tuple[str, ...] = ()  # the audience's own (meta.audience.attributes)


@dataclass
class SyncReport:
    audience: str
    target: str
    run_id: str
    desired: int = 0
    previous: int = 0
    adds: int = 0
    removes: int = 0
    updates: int = 0
    resumed_batches: int = 0
    batches: int = 0
    confirmed: int = 0
    failed: int = 0
    refused: str | None = None
    skipped: str | None = None  # why nothing was compared or sent (an older audience)
    as_of: dt.datetime | None = None  # the moment the audience was built as of
    dry_run: bool = False
    seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)


def ensure_publish_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {PUBLISH_SCHEMA}")
    con.execute(
        f"""
        create table if not exists {PUBLISH_SCHEMA}.member_state (
            audience varchar not null,
            target varchar not null,
            email varchar not null,
            attributes json,
            attributes_hash varchar not null,
            batch_id varchar not null,
            added_at timestamptz not null,  -- the first confirmed add: the entry into the list
            confirmed_at timestamptz not null,
            primary key (audience, target, email)
        )
        """
    )
    con.execute(
        f"""
        create table if not exists {PUBLISH_SCHEMA}.batches (
            batch_id varchar primary key,
            audience varchar not null,
            target varchar not null,
            plan_id varchar not null,
            seq integer not null,
            action varchar not null,
            members integer not null,
            status varchar not null,  -- planned, in_flight, done
            planned_at timestamptz not null,
            sent_at timestamptz,
            done_at timestamptz,
            confirmed integer,
            failed integer
        )
        """
    )
    con.execute(
        f"""
        create table if not exists {PUBLISH_SCHEMA}.batch_members (
            batch_id varchar not null,
            email varchar not null,
            attributes json,
            attributes_hash varchar not null
        )
        """
    )
    con.execute(
        f"""
        create table if not exists {PUBLISH_SCHEMA}.member_failures (
            batch_id varchar not null,
            audience varchar not null,
            target varchar not null,
            email varchar not null,
            action varchar not null,
            reason varchar not null,
            failed_at timestamptz not null
        )
        """
    )
    con.execute(
        f"""
        create table if not exists {PUBLISH_SCHEMA}.sync_log (
            run_id varchar not null,
            audience varchar not null,
            target varchar not null,
            started_at timestamptz not null,
            seconds double not null,
            dry_run boolean not null,
            desired bigint, previous bigint, adds bigint, removes bigint, updates bigint,
            resumed_batches integer, batches integer, confirmed bigint, failed bigint,
            refused varchar
        )
        """
    )
    # Added after the first release: warehouses from then gain them here.
    con.execute(f"alter table {PUBLISH_SCHEMA}.sync_log add column if not exists as_of timestamp")
    con.execute(f"alter table {PUBLISH_SCHEMA}.sync_log add column if not exists skipped varchar")


def _desired_sql(audience: str, settings: SyncSettings) -> str:
    attributes = ", ".join(f"{a} := a.{a}" for a in (*ATTRIBUTES, *settings.extra_attributes))
    capped = ""
    if settings.capped_table:
        capped = (
            f" and a.email not in (select email from {settings.capped_table} "
            f"where audience = '{audience}')"
        )
    group = ""
    if settings.asm_group_id is not None:
        group = f" or s.asm_group_id = {int(settings.asm_group_id)}"
    return f"""
        select email, attributes, md5(attributes::varchar) as attributes_hash
        from (
            select a.email, to_json(struct_pack({attributes})) as attributes
            from {AUDIENCE_SCHEMA}.{audience} a
            where not a.is_holdout{capped}
                and a.email not in (
                    select s.email from marts.suppressions s
                    where s.asm_group_id is null{group}
                )
        )
    """


def _state_filter(audience: str, target: str) -> str:
    return f"audience = '{audience}' and target = '{target}'"


def _send(
    con: duckdb.DuckDBPyConnection,
    adapter: Adapter,
    batch_id: str,
    list_name: str,
    report: SyncReport,
) -> None:
    audience, target, plan_id, seq, action = con.execute(
        f"select audience, target, plan_id, seq, action from {PUBLISH_SCHEMA}.batches "
        "where batch_id = ?",
        [batch_id],
    ).fetchall()[0]
    rows = con.execute(
        f"select email, attributes::varchar from {PUBLISH_SCHEMA}.batch_members "
        "where batch_id = ? order by email",
        [batch_id],
    ).fetchall()
    members = tuple(Member(email, json.loads(attributes or "{}")) for email, attributes in rows)
    con.execute(
        f"update {PUBLISH_SCHEMA}.batches set status = 'in_flight', sent_at = current_timestamp "
        "where batch_id = ?",
        [batch_id],
    )
    result = adapter.send(Batch(batch_id, audience, list_name, plan_id, seq, action, members))
    confirmed = set(result.confirmed) - set(result.failed)
    con.execute("begin transaction")
    try:
        con.execute("create or replace temp table confirmed (email varchar)")
        if confirmed:
            con.executemany("insert into confirmed values (?)", [(e,) for e in confirmed])
        where = _state_filter(audience, target)
        if action == "remove":
            con.execute(
                f"delete from {PUBLISH_SCHEMA}.member_state "
                f"where {where} and email in (select email from confirmed)"
            )
        else:
            con.execute(
                f"""
                insert into {PUBLISH_SCHEMA}.member_state
                select '{audience}', '{target}', m.email, m.attributes, m.attributes_hash,
                    m.batch_id, current_timestamp, current_timestamp
                from {PUBLISH_SCHEMA}.batch_members m
                where m.batch_id = ? and m.email in (select email from confirmed)
                on conflict (audience, target, email) do update set
                    attributes = excluded.attributes,
                    attributes_hash = excluded.attributes_hash,
                    batch_id = excluded.batch_id,
                    confirmed_at = excluded.confirmed_at
                """,
                [batch_id],
            )
        if result.failed:
            con.executemany(
                f"insert into {PUBLISH_SCHEMA}.member_failures "
                "values (?, ?, ?, ?, ?, ?, current_timestamp)",
                [(batch_id, audience, target, e, action, why) for e, why in result.failed.items()],
            )
        con.execute(
            f"update {PUBLISH_SCHEMA}.batches set status = 'done', done_at = current_timestamp, "
            "confirmed = ?, failed = ? where batch_id = ?",
            [len(confirmed), len(result.failed), batch_id],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    report.batches += 1
    report.confirmed += len(confirmed)
    report.failed += len(result.failed)
    report.failures.update(result.failed)


def sync_audience(
    con: duckdb.DuckDBPyConnection,
    audience: str,
    adapter: Adapter,
    run_id: str,
    settings: SyncSettings,
) -> SyncReport:
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    ensure_publish_tables(con)
    target = adapter.name
    report = SyncReport(audience, target, run_id, dry_run=settings.dry_run)
    where = _state_filter(audience, target)

    if not settings.dry_run:
        # First what an earlier run planned but did not see confirmed.
        unfinished = con.execute(
            f"select batch_id, plan_id from {PUBLISH_SCHEMA}.batches "
            f"where {where} and status <> 'done' order by plan_id, seq"
        ).fetchall()
        for batch_id, _ in unfinished:
            _send(con, adapter, batch_id, settings.list_name, report)
        report.resumed_batches = len(unfinished)
        for plan_id in sorted({p for _, p in unfinished}):
            adapter.finish(audience, plan_id, {"audience": audience, "resumed_by": run_id})

    report.as_of, last_as_of = _as_of(con, audience, where)
    if report.as_of is not None and last_as_of is not None and report.as_of < last_as_of:
        report.skipped = (
            f"{audience} was built as of {report.as_of:%Y-%m-%d %H:%M} UTC, before the state "
            f"{target} last received ({last_as_of:%Y-%m-%d %H:%M} UTC); nothing was sent. "
            "A backfill does not republish old audiences; the next current run will."
        )
        report.seconds = round(time.perf_counter() - started, 3)
        _log(con, report, started_at)
        return report

    con.execute(f"create or replace temp table desired as {_desired_sql(audience, settings)}")
    con.execute(
        f"""
        create or replace temp table diff as
        with state as (select * from {PUBLISH_SCHEMA}.member_state where {where})
        select 'add' as action, d.email, d.attributes, d.attributes_hash
        from desired d left join state s using (email)
        where s.email is null
            -- A member the target refused is recorded, not retried on every run.
            and d.email not in (
                select email from {PUBLISH_SCHEMA}.member_failures
                where {where} and action = 'add'
            )
        union all
        select 'remove', s.email, s.attributes, s.attributes_hash
        from state s left join desired d using (email) where d.email is null
        union all
        select 'update', d.email, d.attributes, d.attributes_hash
        from desired d join state s using (email) where d.attributes_hash <> s.attributes_hash
        """
    )
    report.desired = con.execute("select count(*) from desired").fetchall()[0][0]
    report.previous = con.execute(
        f"select count(*) from {PUBLISH_SCHEMA}.member_state where {where}"
    ).fetchall()[0][0]
    counts = dict(con.execute("select action, count(*) from diff group by 1").fetchall())
    report.adds, report.removes, report.updates = (
        counts.get(a, 0) for a in ("add", "remove", "update")
    )
    change = report.adds + report.removes
    bound = settings.max_change_share * report.previous
    breaks = change > bound and change >= settings.min_change_rows
    if report.previous and breaks and not settings.force:
        report.refused = (
            f"{audience} -> {target}: {report.adds} adds and {report.removes} removes would "
            f"change {change / report.previous:.0%} of the {report.previous} members the "
            f"target has; the audience allows {settings.max_change_share:.0%} "
            f"(meta.audience.max_change_share) once {settings.min_change_rows} members change. "
            "Nothing was sent. Check the audience, then "
            "publish with force if the change is intended."
        )
    elif not settings.dry_run and change + report.updates:
        _plan(con, audience, target, run_id, adapter.max_batch)
        planned = con.execute(
            f"select batch_id from {PUBLISH_SCHEMA}.batches where plan_id = ? and {where} "
            "order by seq",
            [run_id],
        ).fetchall()
        for (batch_id,) in planned:
            _send(con, adapter, batch_id, settings.list_name, report)
        adapter.finish(
            audience,
            run_id,
            {
                "audience": audience,
                "list": settings.list_name,
                "run_id": run_id,
                "adds": report.adds,
                "removes": report.removes,
                "updates": report.updates,
                "members_after": report.previous + report.adds - report.removes,
            },
        )
    report.seconds = round(time.perf_counter() - started, 3)
    _log(con, report, started_at)
    if report.refused:
        raise CircuitBreakerOpen(report.refused)
    return report


def _as_of(
    con: duckdb.DuckDBPyConnection, audience: str, where: str
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The moment the audience table was built as of, and that of the last state sent."""
    has_as_of = con.execute(
        "select count(*) from information_schema.columns "
        "where table_schema = ? and table_name = ? and column_name = 'as_of'",
        [AUDIENCE_SCHEMA, audience],
    ).fetchall()[0][0]
    built = None
    if has_as_of:
        built = con.execute(f"select max(as_of) from {AUDIENCE_SCHEMA}.{audience}").fetchall()[0][0]
    sent = con.execute(
        f"select max(as_of) from {PUBLISH_SCHEMA}.sync_log "
        f"where {where} and not dry_run and refused is null and skipped is null"
    ).fetchall()[0][0]
    return built, sent


def _plan(
    con: duckdb.DuckDBPyConnection, audience: str, target: str, run_id: str, size: int
) -> None:
    """Cut the diff into numbered batches of one action each, stored before any is sent."""
    con.execute("begin transaction")
    try:
        con.execute(
            f"""
            create or replace temp table planned as
            select *,
                dense_rank() over (order by action_order, chunk) as seq
            from (
                select *,
                    case action when 'remove' then 1 when 'add' then 2 else 3 end as action_order,
                    (row_number() over (partition by action order by email) - 1) // {size}
                        as chunk
                from diff
            )
            """
        )
        prefix = f"{audience}:{target}:{run_id}:"
        con.execute(
            f"""
            insert into {PUBLISH_SCHEMA}.batches
            select '{prefix}' || lpad(seq::varchar, 5, '0'), '{audience}', '{target}', ?, seq,
                any_value(action), count(*), 'planned', current_timestamp,
                null, null, null, null
            from planned group by seq
            """,
            [run_id],
        )
        con.execute(
            f"""
            insert into {PUBLISH_SCHEMA}.batch_members
            select '{prefix}' || lpad(seq::varchar, 5, '0'), email, attributes, attributes_hash
            from planned
            """
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _log(con: duckdb.DuckDBPyConnection, r: SyncReport, started_at: dt.datetime) -> None:
    con.execute(
        f"insert into {PUBLISH_SCHEMA}.sync_log (run_id, audience, target, started_at, seconds, "
        "dry_run, desired, previous, adds, removes, updates, resumed_batches, batches, "
        "confirmed, failed, refused, as_of, skipped) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            r.run_id, r.audience, r.target, started_at, r.seconds, r.dry_run,
            r.desired, r.previous, r.adds, r.removes, r.updates,
            r.resumed_batches, r.batches, r.confirmed, r.failed, r.refused, r.as_of, r.skipped,
        ],
    )  # fmt: skip
