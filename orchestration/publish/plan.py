"""What a sync would change, planned in the warehouse before anything is sent to a target."""

from __future__ import annotations

import datetime as dt

import duckdb

from orchestration.warehouse_schema import AUDIENCE_SCHEMA, PUBLISH_SCHEMA, SUPPRESSIONS

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


def desired_sql(
    audience: str,
    extra_attributes: tuple[str, ...],
    capped_table: str | None,
    asm_group_id: int | None,
    opt_outs: str,
) -> str:
    """The audience's members a target should have: not in the holdout, not held back by the
    frequency cap, on no suppression list and with no landed opt-out (`opt_outs`: email,
    asm_group_id), checked again here whatever the audience SQL and the gates did."""
    attributes = ", ".join(f"{a} := a.{a}" for a in (*ATTRIBUTES, *extra_attributes))
    capped = ""
    if capped_table:
        capped = (
            f" and a.email not in (select email from {capped_table} where audience = '{audience}')"
        )
    group = ""
    if asm_group_id is not None:
        group = f" or s.asm_group_id = {int(asm_group_id)}"
    return f"""
        select email, attributes, md5(attributes::varchar) as attributes_hash
        from (
            select a.email, to_json(struct_pack({attributes})) as attributes
            from {AUDIENCE_SCHEMA}.{audience} a
            where not a.is_holdout{capped}
                and a.email not in (
                    select s.email from {SUPPRESSIONS} s
                    where s.asm_group_id is null{group}
                )
                and a.email not in (
                    select s.email from ({opt_outs}) s where s.asm_group_id is null{group}
                )
        )
    """


def compare(con: duckdb.DuckDBPyConnection, desired: str, where: str) -> None:
    """The temp tables `desired` (from `desired_sql`) and `diff`: each add, remove and
    attribute update between it and the state the target last confirmed (`where`)."""
    con.execute(f"create or replace temp table desired as {desired}")
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


def refusal(
    audience: str,
    target: str,
    *,
    adds: int,
    removes: int,
    previous: int,
    max_change_share: float,
    min_change_rows: int,
) -> str | None:
    """Why the circuit breaker refuses this change (too much of the list), or None if it
    does not: a first sync (nothing previous) always passes."""
    change = adds + removes
    bound = max_change_share * previous
    breaks = change > bound and change >= min_change_rows
    if not (previous and breaks):
        return None
    return (
        f"{audience} -> {target}: {adds} adds and {removes} removes would "
        f"change {change / previous:.0%} of the {previous} members the "
        f"target has; the audience allows {max_change_share:.0%} "
        f"(meta.audience.max_change_share) once {min_change_rows} members change. "
        "Nothing was sent. Check the audience, then "
        "publish with force if the change is intended."
    )


def as_of(
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


def plan_batches(
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
