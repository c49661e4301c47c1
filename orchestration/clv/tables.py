"""The churn model's output in the warehouse, for dbt to score every customer with.

Two tables in the `predictions` schema (dbt sources):
- `clv_fits`: one row per run date (replaced when the day is run again, so the history of
  fits is there to chart): the status, the reason when not fitted, both models' parameters,
  the log-likelihood and the counts they were fitted on.
- `clv_expected_orders`: for the run date, per distinct (x, T) history: the orders expected
  in the next 90 days and in each of the next 12 months (cumulative) were the customer
  certainly alive. These need Gauss's hypergeometric function, which SQL lacks, but depend
  on (x, T) only; dbt multiplies them by P(alive), which is closed form in SQL, per customer.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np

from orchestration.clv.bgnbd import expected_if_alive
from orchestration.clv.daily import FITTED, History, ModelFit
from orchestration.warehouse_schema import PREDICTIONS_SCHEMA

FITS = f"{PREDICTIONS_SCHEMA}.clv_fits"
EXPECTED_ORDERS = f"{PREDICTIONS_SCHEMA}.clv_expected_orders"
HORIZON_DAYS = 90
MONTHS = 12
MONTH_DAYS = 365 / 12

_FIT_COLUMNS = {
    "run_date": "date",
    "status": "varchar",
    "reason": "varchar",
    "params_id": "varchar",
    "r": "double",
    "alpha": "double",
    "a": "double",
    "b": "double",
    "log_likelihood": "double",
    "p": "double",
    "q": "double",
    "gamma": "double",
    "customers": "bigint",
    "frequent_customers": "bigint",
    "spend_customers": "bigint",
    "spend_reason": "varchar",
    "history_days": "integer",
    "fit_seconds": "double",
    "fitted_at": "timestamp",
}
_MONTH_COLUMNS = [f"orders_month_{m:02d}_if_alive" for m in range(1, MONTHS + 1)]


def write_fit(con: duckdb.DuckDBPyConnection, fit: ModelFit, now: dt.datetime) -> None:
    """Record the fit as the run date's (replacing an earlier fit of the same day)."""
    con.execute(f"create schema if not exists {PREDICTIONS_SCHEMA}")
    ddl = ", ".join(f"{name} {kind}" for name, kind in _FIT_COLUMNS.items())
    con.execute(f"create table if not exists {FITS} ({ddl})")
    purchases, spend = fit.purchases, fit.spend
    row = {
        "run_date": fit.run_date,
        "status": fit.status,
        "reason": fit.reason,
        "params_id": fit.params_id,
        "r": purchases.r if purchases else None,
        "alpha": purchases.alpha if purchases else None,
        "a": purchases.a if purchases else None,
        "b": purchases.b if purchases else None,
        "log_likelihood": fit.log_likelihood,
        "p": spend.p if spend else None,
        "q": spend.q if spend else None,
        "gamma": spend.gamma if spend else None,
        "customers": fit.customers,
        "frequent_customers": fit.frequent_customers,
        "spend_customers": fit.spend_customers,
        "spend_reason": fit.spend_reason,
        "history_days": fit.history_days,
        "fit_seconds": fit.seconds,
        "fitted_at": now.replace(tzinfo=None),
    }
    con.execute("begin")
    con.execute(f"delete from {FITS} where run_date = ?", [fit.run_date])
    marks = ", ".join("?" for _ in row)
    con.execute(f"insert into {FITS} ({', '.join(row)}) values ({marks})", list(row.values()))
    con.execute("commit")


def write_expected_orders(con: duckdb.DuckDBPyConnection, fit: ModelFit, history: History) -> int:
    """Replace the expected-orders table with the run date's; the number of (x, T) rows (0,
    and an empty table, when the model was not fitted or its fit refused)."""
    con.execute(f"create schema if not exists {PREDICTIONS_SCHEMA}")
    pairs = np.unique(np.column_stack([history.x, history.big_t]), axis=0)
    if fit.status != FITTED or not len(pairs):
        pairs = np.empty((0, 2))
    x, big_t = pairs[:, 0], pairs[:, 1]
    columns = {
        "x": x.astype(np.int64),
        "big_t": big_t.astype(np.int64),
        "orders_90d_if_alive": _if_alive(fit, HORIZON_DAYS, x, big_t),
    }
    for month, name in enumerate(_MONTH_COLUMNS, start=1):
        columns[name] = _if_alive(fit, month * MONTH_DAYS, x, big_t)
    con.register("expected_orders_frame", columns)
    try:
        con.execute(
            f"create or replace table {EXPECTED_ORDERS} as "
            "select cast(? as date) as run_date, * from expected_orders_frame",
            [fit.run_date],
        )
    finally:
        con.unregister("expected_orders_frame")
    return len(x)


def _if_alive(fit: ModelFit, days: float, x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    if not len(x):
        return np.empty(0)
    return expected_if_alive(fit.purchases, days, x, big_t)
