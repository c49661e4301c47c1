"""The floor of each SQL stage: the bare DuckDB statement doing the same work, and the peer.

A stage's ratio to its floor says how much the pipeline's care (row rules, quarantine,
consent signals, per-day replace, dbt's materializations) costs over the engine's own speed.
The peer is what a data scientist would run on the same orders: an RFM summary in pandas
(pymc-marketing's `rfm_summary`, else lifetimes'), if one is installed.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

from orchestration.ingest import SOURCES
from orchestration.ingest.sources import SourceSpec
from orchestration.resources import DuckDBWarehouse, LandingZone
from orchestration.shop_time import day_end

# The RFM and lifecycle-stage models the RFM floor stands in for.
RFM_MODELS = {
    "stg_shopify__orders",
    "int_orders_completed",
    "int_customers_summarized",
    "customer_rfm",
    "customer_lifecycle",
}


def _read_sql(spec: SourceSpec) -> str:
    if spec.file_format == "json":
        columns = ", ".join(f"'{c}': '{t}'" for c, t in spec.columns.items())
        return f"read_json($files, format = 'newline_delimited', columns = {{{columns}}})"
    return "read_csv($files, header = true, all_varchar = true)"


def read_floors(
    landing: Path, days: list[dt.date], memory_limit: str, threads: int
) -> dict[str, dict[str, Any]]:
    """Per source: seconds to read the day range's landing files into a table, bare."""
    zone = LandingZone(root=str(landing))
    floors = {}
    with tempfile.TemporaryDirectory() as tmp:
        for spec in SOURCES:
            files = [str(p) for d in days for p in zone.files(spec.name, d, spec.suffixes)]
            files = [f for f in files if Path(f).stat().st_size > 0]
            if not files:
                continue
            floor_db = DuckDBWarehouse(
                path=str(Path(tmp) / f"{spec.name}.duckdb"),
                memory_limit=memory_limit,
                threads=threads,
            )
            with floor_db.connect() as con:
                started = time.perf_counter()
                con.execute(
                    f"create table floor as select * from {_read_sql(spec)}", {"files": files}
                )
                seconds = time.perf_counter() - started
                rows = con.execute("select count(*) from floor").fetchall()[0][0]
            floors[spec.name] = {"files": len(files), "rows": rows, "seconds": round(seconds, 2)}
    return floors


def orders_sql(run_date: dt.date, timezone: str) -> str:
    """Each counted order (paid, not cancelled, not a test) up to the end of `run_date`:
    customer, shop day and amount."""
    end = day_end(run_date, timezone).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"""
        select lower(trim(email)) as email,
            cast(try_cast(created_at as timestamptz) at time zone '{timezone}' as date) as day,
            try_cast(current_total_price as decimal(18, 2)) as amount
        from raw.orders
        where financial_status in ('paid', 'partially_refunded') and cancelled_at is null
            and not coalesce(test, false) and email is not null
            and try_cast(created_at as timestamptz) < timestamptz '{end}+00'
    """


def rfm_floor_sql(run_date: dt.date, timezone: str) -> str:
    """R, F, M, their quintile scores and a lifecycle stage per customer, in one query over
    the raw orders, as of the end of `run_date`."""
    return f"""
        with orders as ({orders_sql(run_date, timezone)}),
        customers as (
            select email, count(*) as frequency, sum(amount) as monetary,
                date '{run_date}' - max(day) as recency_days, date '{run_date}' - min(day) as age
            from orders group by email
        )
        select *,
            ntile(5) over (order by recency_days desc) as r_score,
            ntile(5) over (order by frequency) as f_score,
            ntile(5) over (order by monetary) as m_score,
            case
                when frequency = 1 and age <= 30 then 'new'
                when recency_days > 180 then 'lapsed_long'
                when recency_days > 30 then 'lapsed_short'
                else 'active'
            end as lifecycle_stage
        from customers
    """


def rfm_floor(
    warehouse: Path, run_date: dt.date, timezone: str, memory_limit: str, threads: int
) -> dict[str, Any]:
    """Seconds for the one-query RFM over the loaded orders of a copy of the warehouse."""
    with tempfile.TemporaryDirectory() as tmp:
        floor_db = DuckDBWarehouse(
            path=str(Path(tmp) / "rfm.duckdb"), memory_limit=memory_limit, threads=threads
        )
        with floor_db.connect() as con:
            con.execute(f"attach '{warehouse}' as w (read_only)")
            con.execute("create schema raw")
            con.execute("create table raw.orders as select * from w.raw.orders")
            con.execute("detach w")
            started = time.perf_counter()
            con.execute(f"create table rfm as {rfm_floor_sql(run_date, timezone)}")
            seconds = time.perf_counter() - started
            customers = con.execute("select count(*) from rfm").fetchall()[0][0]
    return {"customers": customers, "seconds": round(seconds, 2)}


def rfm_peer(warehouse: Path, run_date: dt.date, timezone: str) -> dict[str, Any]:
    """The same summary in pandas with the field's library, where one is installed."""
    try:
        from pymc_marketing.clv.utils import rfm_summary as summary

        library = "pymc_marketing.clv.utils.rfm_summary"
    except ImportError:
        try:
            from lifetimes.utils import summary_data_from_transaction_data as summary

            library = "lifetimes.utils.summary_data_from_transaction_data"
        except ImportError:
            return {"skipped": "neither pymc-marketing nor lifetimes is installed"}
    with DuckDBWarehouse(path=str(warehouse)).connect(read_only=True) as con:
        started = time.perf_counter()
        frame = con.execute(orders_sql(run_date, timezone)).df()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    result = summary(
        frame, "email", "day", monetary_value_col="amount", observation_period_end=run_date
    )
    seconds = time.perf_counter() - started
    return {
        "library": library,
        "customers": len(result),
        "load_seconds": round(loaded, 2),
        "seconds": round(seconds, 2),
    }
