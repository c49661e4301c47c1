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
import logging
import time
from dataclasses import dataclass

import duckdb

from orchestration.ingest.consent import opt_outs_sql
from orchestration.masking import mask_addresses
from orchestration.publish.adapters import Adapter, Batch, Member
from orchestration.publish.funnel import Funnel, record_funnel
from orchestration.publish.plan import as_of, compare, desired_sql, plan_batches, refusal
from orchestration.publish.state import ensure_publish_tables, state_filter
from orchestration.warehouse_schema import PUBLISH_SCHEMA

# Batch progress; Dagster shows it in the run log (dagster.yaml: managed_python_loggers).
log = logging.getLogger(__name__)


class CircuitBreakerOpen(RuntimeError):
    """The sync would change more of the list than the audience allows; nothing was sent."""


@dataclass(frozen=True)
class SyncSettings:
    """How one audience is synced (defaults: the publish_target resource, from settings)."""

    list_name: str
    max_change_share: float  # the largest share of the list one sync may change
    min_change_rows: int  # below this many adds + removes the breaker stays closed
    asm_group_id: int | None = None  # its unsubscribers must not be mailed either
    dry_run: bool = False
    force: bool = False
    capped_table: str | None = None  # (audience, email) held back by the frequency cap
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
    funnel: Funnel | None = None  # where the audience's eligible contacts went


def send_batch(
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
        where = state_filter(audience, target)
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
                [
                    # An adapter's reason may quote the ESP, which may quote the address.
                    (batch_id, audience, target, e, action, mask_addresses(why))
                    for e, why in result.failed.items()
                ],
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
    where = state_filter(audience, target)

    if not settings.dry_run:
        # First what an earlier run planned but did not see confirmed.
        unfinished = con.execute(
            f"select batch_id, plan_id from {PUBLISH_SCHEMA}.batches "
            f"where {where} and status <> 'done' order by plan_id, seq"
        ).fetchall()
        for batch_id, _ in unfinished:
            send_batch(con, adapter, batch_id, settings.list_name, report)
        report.resumed_batches = len(unfinished)
        for plan_id in sorted({p for _, p in unfinished}):
            adapter.finish(audience, plan_id, {"audience": audience, "resumed_by": run_id})

    report.as_of, last_as_of = as_of(con, audience, where)
    if report.as_of is not None and last_as_of is not None and report.as_of < last_as_of:
        report.skipped = (
            f"{audience} was built as of {report.as_of:%Y-%m-%d %H:%M} UTC, before the state "
            f"{target} last received ({last_as_of:%Y-%m-%d %H:%M} UTC); nothing was sent. "
            "A backfill does not republish old audiences; the next current run will."
        )
        report.seconds = round(time.perf_counter() - started, 3)
        _log(con, report, started_at)
        return report

    desired = desired_sql(
        audience,
        settings.extra_attributes,
        settings.capped_table,
        settings.asm_group_id,
        opt_outs_sql(con),
    )
    compare(con, desired, where)
    report.desired = con.execute("select count(*) from desired").fetchall()[0][0]
    report.previous = con.execute(
        f"select count(*) from {PUBLISH_SCHEMA}.member_state where {where}"
    ).fetchall()[0][0]
    counts = dict(con.execute("select action, count(*) from diff group by 1").fetchall())
    report.adds, report.removes, report.updates = (
        counts.get(a, 0) for a in ("add", "remove", "update")
    )
    refused = refusal(
        audience,
        target,
        adds=report.adds,
        removes=report.removes,
        previous=report.previous,
        max_change_share=settings.max_change_share,
        min_change_rows=settings.min_change_rows,
    )
    if refused and not settings.force:
        report.refused = refused
    elif not settings.dry_run and report.adds + report.removes + report.updates:
        plan_batches(con, audience, target, run_id, adapter.max_batch)
        planned = con.execute(
            f"select batch_id from {PUBLISH_SCHEMA}.batches where plan_id = ? and {where} "
            "order by seq",
            [run_id],
        ).fetchall()
        for n, (batch_id,) in enumerate(planned, start=1):
            send_batch(con, adapter, batch_id, settings.list_name, report)
            log.info("%s -> %s: batch %d of %d sent", audience, target, n, len(planned))
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
    not_sent = (
        f"not sent: {report.refused}"
        if report.refused
        else "dry run: nothing sent"
        if settings.dry_run
        else "not sent"
    )
    report.funnel = record_funnel(con, audience, target, run_id, settings.capped_table, not_sent)
    if report.refused:
        raise CircuitBreakerOpen(report.refused)
    return report


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
