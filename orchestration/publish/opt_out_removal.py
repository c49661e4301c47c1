"""The suppression-only sync: an opt-out leaves every published list the day it lands.

A day's audiences may be held (a raw gate, an audience gate, a circuit breaker, a failed dbt
build), and then no audience sync runs. An opt-out must be honoured all the same, so this
sync needs nothing but the consent signals recorded at landing (`ingest.consent`) and what
each target last confirmed (`publish.member_state`): it removes every confirmed member with an
unlifted opt-out (all mail, or the audience's unsubscribe group) from that audience's list.
It only ever removes, so no circuit breaker applies, and it runs through the same batches as
a sync (`publish.batches`, plan id `<run id>-opt-outs`), so a crash is resumed like one.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from orchestration.ingest.consent import opt_outs_sql
from orchestration.publish.adapters import Adapter
from orchestration.publish.engine import SyncReport, send_batch
from orchestration.publish.plan import plan_batches
from orchestration.publish.state import ensure_publish_tables, state_filter
from orchestration.warehouse_schema import PUBLISH_SCHEMA


@dataclass(frozen=True)
class OptOutAudience:
    """A published audience: its list at the target and its unsubscribe group, if any."""

    name: str
    list_name: str
    asm_group_id: int | None = None


def plan_opt_out_removals(
    con: duckdb.DuckDBPyConnection, audience: OptOutAudience, target: str
) -> int:
    """The temp table `diff`: the audience's confirmed members in the temp table `opt_outs`
    (all mail, or the audience's group); their number."""
    group = ""
    if audience.asm_group_id is not None:
        group = f" or o.asm_group_id = {int(audience.asm_group_id)}"
    con.execute(
        f"""
        create or replace temp table diff as
        select 'remove' as action, m.email, m.attributes, m.attributes_hash
        from {PUBLISH_SCHEMA}.member_state m
        where {state_filter(audience.name, target)}
            and m.email in (
                select o.email from opt_outs o where o.asm_group_id is null{group}
            )
        """
    )
    return con.execute("select count(*) from diff").fetchall()[0][0]


def remove_opted_out(
    con: duckdb.DuckDBPyConnection,
    audiences: list[OptOutAudience],
    adapter: Adapter,
    run_id: str,
    dry_run: bool = False,
) -> dict[str, SyncReport]:
    """Remove the opted-out members of every audience's list at the adapter's target.

    Returns a report per audience that had any (in a dry run: counted, not sent).
    """
    ensure_publish_tables(con)
    con.execute(f"create or replace temp table opt_outs as {opt_outs_sql(con)}")  # once
    plan_id = f"{run_id}-opt-outs"
    reports = {}
    for audience in audiences:
        removes = plan_opt_out_removals(con, audience, adapter.name)
        if not removes:
            continue
        report = SyncReport(audience.name, adapter.name, plan_id, removes=removes, dry_run=dry_run)
        reports[audience.name] = report
        if dry_run:
            continue
        plan_batches(con, audience.name, adapter.name, plan_id, adapter.max_batch)
        planned = con.execute(
            f"select batch_id from {PUBLISH_SCHEMA}.batches "
            f"where plan_id = ? and {state_filter(audience.name, adapter.name)} order by seq",
            [plan_id],
        ).fetchall()
        for (batch_id,) in planned:
            send_batch(con, adapter, batch_id, audience.list_name, report)
        adapter.finish(
            audience.name,
            plan_id,
            {"audience": audience.name, "list": audience.list_name, "run_id": run_id,
             "adds": 0, "removes": removes, "updates": 0, "reason": "opt-outs"},
        )  # fmt: skip
    return reports
