"""Consent signals, taken from every landed row before any rule or gate judges it.

An unsubscribe must reach suppression whatever else is wrong with its file: a malformed
neighbour field that quarantines the row, a conflicting copy, a late correction of an event
id, a day the quality gate holds. So each load records, from every row it read (good,
quarantined or superseded), the signals that say a contact must not be mailed, in
`raw.<source>_consent`: one table per source that carries consent (SendGrid events, the
shop's contact export). The tables are append-only: re-landing a day (even as a truncated
file) never takes a signal back. Opt-ins are recorded too, but only from rows that passed
their row rules, since only they may lift an earlier unsubscribe (fail safe: suppress more,
never less).

dbt's `stg_landing__consent_signals` and the suppression-only sync read these tables.
"""

from __future__ import annotations

import duckdb

from orchestration.ingest.rules import epoch_timestamp_sql, text_timestamp_sql
from orchestration.warehouse_schema import RAW_SCHEMA

_HARD_BOUNCE = "lower(trim(event)) = 'bounce' and lower(trim(type)) = 'bounce'"
# What each source says, over `batch_checked` (every read row with `_rule`, NULL when good):
# the signal, whether it withdraws consent, the group it is about, and when it was given.
_SIGNALS: dict[str, str] = {
    "email_events": f"""
        select
            lower(trim(email)) as email,
            case when {_HARD_BOUNCE} then 'hard_bounce' else lower(trim(event)) end as signal,
            lower(trim(event)) <> 'group_resubscribe' as withdraws,
            case when lower(trim(event)) like 'group_%' then asm_group_id end as asm_group_id,
            {epoch_timestamp_sql("timestamp")} as signalled_at,
            sg_event_id as record_key,
            _rule as rule,
            _partition_date, _source_file,
        from batch_checked
        where lower(trim(event)) in ('unsubscribe', 'group_unsubscribe', 'spamreport')
            or ({_HARD_BOUNCE})
            or (lower(trim(event)) = 'group_resubscribe' and _rule is null)
    """,
    "contacts": f"""
        select
            lower(trim(email)) as email,
            lower(trim(email_marketing_consent_state)) as signal,
            lower(trim(email_marketing_consent_state)) = 'unsubscribed' as withdraws,
            cast(null as bigint) as asm_group_id,
            case when lower(trim(email_marketing_consent_state)) = 'unsubscribed'
                then coalesce(
                    {text_timestamp_sql("email_marketing_consent_updated_at")},
                    {text_timestamp_sql("updated_at")}
                )
                else {text_timestamp_sql("email_marketing_consent_updated_at")}
            end as signalled_at,
            lower(trim(email)) as record_key,
            _rule as rule,
            _partition_date, _source_file,
        from batch_checked
        where lower(trim(email_marketing_consent_state)) = 'unsubscribed'
            or (lower(trim(email_marketing_consent_state)) = 'subscribed' and _rule is null)
    """,
}


def consent_table(source: str) -> str | None:
    """`raw.<source>_consent` for a source that carries consent, else None."""
    return f"{RAW_SCHEMA}.{source}_consent" if source in _SIGNALS else None


def ensure_consent_table(con: duckdb.DuckDBPyConnection, source: str) -> None:
    table = consent_table(source)
    if table is None:
        return
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    con.execute(
        f"""
        create table if not exists {table} (
            email varchar,
            signal varchar not null,  -- the event type or consent state that said it
            withdraws boolean not null,  -- true: do not mail; false: an opt-in
            asm_group_id bigint,  -- set for a group unsubscribe or resubscribe
            signalled_at timestamptz,  -- NULL when the row's time is unreadable
            record_key varchar,  -- sg_event_id, or the contact's e-mail
            rule varchar,  -- the row rule that quarantined the row; NULL when it loaded
            _partition_date date not null,
            _source_file varchar,
            _batch_id varchar not null,
            _recorded_at timestamptz not null
        )
        """
    )


def record_consent_signals(con: duckdb.DuckDBPyConnection, source: str, batch_id: str) -> int:
    """Append the batch's signals not recorded before; the number of new ones.

    Runs inside the load's transaction, over `batch_checked`. A signal already recorded (the
    same row landed again) keeps its first landing.
    """
    table = consent_table(source)
    if table is None:
        return 0
    inserted = con.execute(
        f"""
        insert into {table}
        select s.*, ? as _batch_id, current_timestamp as _recorded_at,
        from (
            select distinct on (email, signal, asm_group_id, signalled_at, record_key) *
            from ({_SIGNALS[source]})
            where email is not null and email <> ''
            order by _partition_date, rule nulls first
        ) s
        where not exists (
            select 1 from {table} t
            where t.email = s.email and t.signal = s.signal
                and t.asm_group_id is not distinct from s.asm_group_id
                and t.signalled_at is not distinct from s.signalled_at
                and t.record_key is not distinct from s.record_key
        )
        """,
        [batch_id],
    )
    return inserted.fetchall()[0][0]


def opt_outs_sql(con: duckdb.DuckDBPyConnection) -> str:
    """SQL for (email, asm_group_id) of every recorded opt-out no later opt-in of the same
    scope lifted (asm_group_id NULL: all marketing mail). dbt's suppressions mart applies the
    same rule; this is for the publish side, which must not wait for dbt."""
    tables = [
        t
        for source in _SIGNALS
        if (t := consent_table(source))
        and con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            t.split("."),
        ).fetchall()[0][0]
    ]
    if not tables:
        return "select cast(null as varchar) as email, cast(null as bigint) as asm_group_id limit 0"
    signals = " union all ".join(
        f"select email, signal, withdraws, asm_group_id, signalled_at from {t}" for t in tables
    )
    return f"""
        with signals as ({signals})
        select distinct w.email,
            case when w.signal = 'group_unsubscribe' then w.asm_group_id end as asm_group_id
        from signals w
        where w.withdraws
            and not exists (
                select 1 from signals o
                where not o.withdraws and o.email = w.email
                    and w.signal in ('unsubscribe', 'unsubscribed', 'group_unsubscribe')
                    and o.asm_group_id is not distinct from
                        (case when w.signal = 'group_unsubscribe' then w.asm_group_id end)
                    and o.signalled_at > w.signalled_at
            )
    """
