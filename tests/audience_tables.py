"""Audience and suppression tables made by hand in a DuckDB file, for the tests of the sync
engine and the ESP adapters (what the dbt models would have built)."""

from __future__ import annotations

from pathlib import Path

import duckdb

AUDIENCE = "aud_test"
GROUP = 102


def make_warehouse(
    path: Path, members: list[dict], suppressed: list[tuple], audience: str = AUDIENCE
) -> None:
    """An audience table with the audiences' columns, and a suppression list."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists audiences")
        con.execute("create schema if not exists marts")
        con.execute(
            f"""
            create or replace table audiences.{audience} (
                audience varchar, email varchar, customer_id bigint, first_name varchar,
                lifecycle_stage varchar, rfm_segment varchar, is_vip boolean,
                favourite_brand varchar, favourite_category varchar, order_count bigint,
                last_order_date date, first_order_date date, reason varchar,
                is_holdout boolean, run_date date
            )
            """
        )
        con.execute(
            "create or replace table marts.suppressions "
            "(email varchar, reason varchar, asm_group_id integer)"
        )
        if members:
            con.executemany(
                f"insert into audiences.{audience} (audience, email, first_name, reason, "
                "is_holdout, run_date) values (?, ?, ?, ?, ?, date '2025-01-31')",
                [
                    (audience, m["email"], m.get("first_name", "Ann"), "test", m["holdout"])
                    for m in members
                ],
            )
        if suppressed:
            con.executemany("insert into marts.suppressions values (?, ?, ?)", suppressed)


def make_people(n: int, start: int = 0) -> list[dict]:
    """`n` contacts `p<i>@example.com`, every tenth in the holdout."""
    return [{"email": f"p{i}@example.com", "holdout": i % 10 == 0} for i in range(start, start + n)]
