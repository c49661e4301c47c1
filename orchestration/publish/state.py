"""What a sync records in the warehouse: the state tables of the `publish` schema."""

from __future__ import annotations

import duckdb

from orchestration.warehouse_schema import PUBLISH_SCHEMA


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


def table_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    """Whether `schema.table` exists (a table another step creates may not be there yet)."""
    schema, table = relation.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


def state_filter(audience: str, target: str) -> str:
    """SQL for the rows of one audience at one target in the state tables."""
    return f"audience = '{audience}' and target = '{target}'"
