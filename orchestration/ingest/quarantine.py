"""Quarantine: bad rows kept whole, with the rule they broke, instead of being loaded.

Each source has `quarantine.<source>`: the row as landed (JSON), its partition, source file,
rule and reason, the batch that found it. Re-landing a day releases that day's open rows (they
stay, marked with the batch that replaced them), so a fixed file loads normally and the
history of what was wrong is kept. `quality.partition_loads` records, per load of a day, how
many rows were read, loaded and quarantined: the quality gate's quarantine share reads it.
Both are written inside the load's transaction, so they live with the load, in ingest; the
gate reads them afterwards (quality imports ingest, never the other way round).
"""

from __future__ import annotations

import duckdb

from orchestration.ingest.rules import CONFLICTING_DUPLICATE, reasons, row_rules, rule_case_sql
from orchestration.ingest.sources import SourceSpec
from orchestration.quality_thresholds import QualityThresholds
from orchestration.warehouse_schema import QUALITY_SCHEMA, QUARANTINE_SCHEMA

PARTITION_LOADS = f"{QUALITY_SCHEMA}.partition_loads"


def ensure_quarantine_tables(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Create the source's quarantine table and the record of loads if they do not exist."""
    con.execute(f"create schema if not exists {QUARANTINE_SCHEMA}")
    con.execute(f"create schema if not exists {QUALITY_SCHEMA}")
    con.execute(
        f"""
        create table if not exists {QUARANTINE_SCHEMA}.{source} (
            _partition_date date not null,
            _source_file varchar,
            rule varchar not null,
            reason varchar not null,
            record_key varchar,
            record json not null,
            _batch_id varchar not null,
            quarantined_at timestamptz not null,
            released_at timestamptz,
            released_by_batch varchar
        )
        """
    )
    con.execute(
        f"""
        create table if not exists {PARTITION_LOADS} (
            source varchar not null,
            partition_date date not null,
            _batch_id varchar not null,
            loaded_at timestamptz not null,
            rows_read bigint not null,
            rows_loaded bigint not null,
            rows_quarantined bigint not null,
            quarantined_by_rule json,
            unexpected_columns varchar
        )
        """
    )


def flag_batch(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, thresholds: QualityThresholds, read_sql: str
) -> None:
    """The rows `read_sql` reads -> `batch_checked`, each with `_rule` (NULL for a good row),
    `_key` and `_version`.

    Besides the source's row rules, copies of one key and version within a day whose contents
    differ are all flagged: which one is true cannot be known, and loading either would hide
    the conflict. The rows are read and judged in one statement into `batch_ruled`, the one
    copy of the batch; such conflicts are rare, so they are found by grouping (no sort of the
    batch) and `batch_checked` is a view joining the few found to the rows.
    """
    content = ", ".join(f'"{c}"' for c in spec.columns)
    con.execute(
        f"""
        create or replace temp table batch_ruled as
        select *,
            {spec.key} as _key,
            {spec.latest} as _version,
            hash({content}) as _content,
            {rule_case_sql(row_rules(spec.name, thresholds))} as _broken,
        from ({read_sql})
        """
    )
    # Only good rows can conflict (a corrupt copy is quarantined for what broke it), and only
    # copies of the newest version of their key count.
    con.execute(
        """
        create or replace temp table batch_conflicts as
        with differing as (
            select _partition_date, _key, _version
            from batch_ruled
            where _broken is null and _key is not null
            group by all
            having min(_content) <> max(_content)
        ),
        newest as (
            select _partition_date, _key, max(_version) as _newest
            from batch_ruled
            where _broken is null
                and (_partition_date, _key) in (select (_partition_date, _key) from differing)
            group by all
        )
        select d.* from differing d
        join newest n using (_partition_date, _key)
        where d._version is not distinct from n._newest
        """
    )
    con.execute(
        f"""
        create or replace temp view batch_checked as
        select r.* exclude (_content, _broken),
            coalesce(
                r._broken, case when c._key is not null then '{CONFLICTING_DUPLICATE}' end
            ) as _rule,
        from batch_ruled r
        left join batch_conflicts c
            on r._broken is null
            and c._partition_date = r._partition_date
            and c._key = r._key
            and c._version is not distinct from r._version
        """
    )


def _quote(text: str) -> str:
    return text.replace("'", "''")


def quarantine_batch(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, thresholds: QualityThresholds, batch_id: str
) -> None:
    """Release the open rows of the re-landed days, then quarantine this batch's bad rows.

    Runs inside the load's transaction, after `batch` (the good rows) is built.
    """
    table = f"{QUARANTINE_SCHEMA}.{spec.name}"
    con.execute(
        f"""
        update {table} set released_at = current_timestamp, released_by_batch = ?
        where released_at is null and _partition_date in (select day from batch_files)
        """,
        [batch_id],
    )
    record = ", ".join(f'"{c}" := b."{c}"' for c in spec.columns)
    values = ", ".join(
        f"('{rule}', '{_quote(reason)}')" for rule, reason in reasons(spec.name, thresholds).items()
    )
    con.execute(
        f"""
        insert into {table}
        select
            b._partition_date, b._source_file, b._rule, r.reason, cast(b._key as varchar),
            to_json(struct_pack({record})), ?, current_timestamp, null, null,
        from batch_checked b
        join (values {values}) r(rule, reason) on r.rule = b._rule
        order by b._row
        """,
        [batch_id],
    )
    con.execute(
        f"""
        insert into {PARTITION_LOADS}
        with checked as (
            select _partition_date as day, count(*) as n, count(_rule) as q
            from batch_checked group by 1
        ),
        kept as (select _partition_date as day, count(*) as n from batch group by 1),
        by_rule as (
            select day, json_group_object(_rule, n) as rules
            from (
                select _partition_date as day, _rule, count(*) as n
                from batch_checked where _rule is not null group by 1, 2
            )
            group by 1
        )
        select ?, f.day, ?, current_timestamp, coalesce(c.n, 0), coalesce(k.n, 0),
            coalesce(c.q, 0), coalesce(r.rules, '{{}}'::json), f.unexpected_columns,
        from (
            select day, string_agg(unexpected_columns, '; ' order by path) as unexpected_columns
            from batch_files group by 1
        ) f
        left join checked c using (day)
        left join kept k using (day)
        left join by_rule r using (day)
        """,
        [spec.name, batch_id],
    )


def record_empty_days(
    con: duckdb.DuckDBPyConnection, source: str, days: list, batch_id: str
) -> None:
    """Days whose landing files were all empty: a load of no rows, which the gate judges."""
    if not days:
        return
    con.executemany(
        f"insert into {PARTITION_LOADS} values (?, ?, ?, current_timestamp, 0, 0, 0, '{{}}', null)",
        [(source, day, batch_id) for day in days],
    )
