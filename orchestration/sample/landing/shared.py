"""What every source's writer shares: SQL macros, arrays as tables, bad rows, day folders."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from orchestration.sample.params import SampleParams

BAD_DAY_SHARE = 0.3  # malformed share of orders, checkouts and events on the bad day


def register(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, np.ndarray]) -> None:
    frame = pd.DataFrame(columns)
    con.register(f"{name}_frame", frame)
    con.execute(f"create or replace temp table {name} as select * from {name}_frame")
    con.unregister(f"{name}_frame")


def define_macros(con: duckdb.DuckDBPyConnection, params: SampleParams) -> None:
    """Shop seconds -> shop-local timestamps with their UTC offset, epochs, days, money."""
    start = params.start_date.isoformat()
    tz = params.timezone.replace("'", "''")
    con.execute("set timezone = 'UTC'")
    con.execute(f"create or replace temp macro local_ts(s) as timestamp '{start}' + to_seconds(s)")
    con.execute(f"create or replace temp macro instant(s) as timezone('{tz}', local_ts(s))")
    con.execute("create or replace temp macro unix_ts(s) as epoch(instant(s))::bigint")
    con.execute(
        """
        create or replace temp macro shop_time(s) as
            strftime(local_ts(s), '%Y-%m-%dT%H:%M:%S')
            || case when epoch(local_ts(s)) - epoch(instant(s)) < 0 then '-' else '+' end
            || lpad((abs(epoch(local_ts(s)) - epoch(instant(s)))::bigint // 3600)::varchar, 2, '0')
            || ':'
            || lpad(((abs(epoch(local_ts(s)) - epoch(instant(s)))::bigint % 3600) // 60)::varchar,
                    2, '0')
        """
    )
    con.execute(
        f"create or replace temp macro landing_day(s) as date '{start}' + (s // 86400)::int"
    )
    con.execute("create or replace temp macro money(x) as round(x, 2)::decimal(14, 2)::varchar")


def corruption(
    rng: np.random.Generator,
    params: SampleParams,
    landing_t: np.ndarray,
    codes: tuple[int, ...],
) -> np.ndarray:
    """Mark a small share of rows as malformed: 1 no e-mail, 2 malformed e-mail,
    3 negative amount, 4 unknown event type. 0 means the row is fine. On the bad day (if
    any) a much larger share is malformed, as when an export breaks."""
    n = len(landing_t)
    share = np.full(n, params.bad_row_share)
    if params.bad_day is not None:
        bad_index = (params.bad_day - params.start_date).days
        share[landing_t // 86_400 == bad_index] = BAD_DAY_SHARE
    bad = rng.random(n) < share
    return np.where(bad, rng.choice(codes, size=n), 0).astype(np.int8)


def bad_email(column: str, flag: str = "corrupt") -> str:
    """SQL for an e-mail column as landed: missing or malformed where the row is corrupt."""
    return (
        f"case {flag} when 1 then null when 2 then replace({column}, '@', ' at ') else {column} end"
    )


def copy_by_day(
    con: duckdb.DuckDBPyConnection,
    query: str,
    out: Path,
    source: str,
    fmt: str,
    pattern: str | None = None,
    replace: bool = True,
    compress: bool = False,
) -> None:
    """Write a query as one folder per day; `replace` first clears the source's folder."""
    options = (
        "format json"
        if fmt == "jsonl"
        else "format csv, header true, timestampformat '%Y-%m-%dT%H:%M:%S'"
    )
    overwrite = "overwrite true" if replace else "overwrite_or_ignore true"
    if compress:
        options += ", compression 'zstd'"
        fmt += ".zst"
    con.execute(
        f"""
        copy ({query}) to '{out / source}'
        ({options}, partition_by (day), filename_pattern '{pattern or source}_{{i}}',
         file_extension '{fmt}', {overwrite})
        """
    )
