"""`lifecycle clv fit`: the BG/NBD model on any file of transactions, with the paper's
calibration/holdout check, printed as JSON.

The file is a CSV with a header (columns named), or text without a header whose fields are
separated by whitespace, such as CDNOW's (columns given by position, from 1). It is read and
summarised in DuckDB; only the grouped histories reach Python.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from orchestration.clv.bgnbd import expected_purchases, fit_bgnbd
from orchestration.clv.gamma_gamma import expected_spend, fit_gamma_gamma
from orchestration.clv.summary import UNIT_DAYS, grouped_summary, spend_summary
from orchestration.ingest.readers import quote as _quote
from orchestration.masking import mask_addresses

# The holdout comparison groups customers by calibration frequency 0..7, then 7 or more.
TOP_FREQUENCY = 7


def load_transactions(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    customer: str,
    date: str,
    date_format: str | None,
    amount: str | None = None,
) -> int:
    """Create `transactions(customer, day, amount)` from the file (amount NULL without an
    amount column); the number of rows."""
    if not path.is_file():
        raise ValueError(f"transactions file {path} does not exist")
    positional = customer.isdigit() and date.isdigit() and (amount or "1").isdigit()
    if positional:
        fields = "string_split_regex(trim(line), '\\s+')"
        spend = f"{fields}[{int(amount)}]" if amount else "null"
        source = (
            f"(select {fields}[{int(customer)}] as c, {fields}[{int(date)}] as d, {spend} as m, "
            "row_number() over () as line_number "
            f"from read_csv({_quote(str(path))}, header = false, delim = '\\t', quote = '', "
            "columns = {'line': 'VARCHAR'}) where trim(line) <> '')"
        )
    else:
        source = (
            f"(select cast({_ident(customer)} as varchar) as c, "
            f"cast({_ident(date)} as varchar) as d, {_ident(amount) if amount else 'null'} as m, "
            "0 as line_number "
            f"from read_csv({_quote(str(path))}, header = true, all_varchar = true))"
        )
    day = f"try_strptime(d, {_quote(date_format)})" if date_format else "try_cast(d as date)"
    try:
        # Text by position may open with a line of column names (CDNOW's master file does):
        # a first line whose date does not read as one is that header, not a purchase.
        con.execute(
            f"create or replace temp table transactions as "
            f"select c as customer, cast({day} as date) as day, d as raw_day, "
            f"try_cast(m as double) as amount from {source} "
            f"where not (line_number = 1 and {day} is null)"
        )
    except duckdb.Error as error:  # a column that is not there, a file that is not text
        reason = mask_addresses(str(error).split("\n")[0])
        raise ValueError(f"could not read {path}: {reason}") from None
    bad = con.execute(
        "select count(*), any_value(raw_day) from transactions where day is null"
    ).fetchall()[0]
    if bad[0]:
        raise ValueError(
            f"{bad[0]} rows of {path} have a date that does not read as "
            f"{date_format or 'YYYY-MM-DD'} (for example {mask_addresses(str(bad[1]))!r}); "
            "give --date-format, or check --date-column"
        )
    if amount:
        unread = con.execute("select count(*) from transactions where amount is null").fetchall()
        if unread[0][0]:
            raise ValueError(
                f"{unread[0][0]} rows of {path} have an amount that is not a number; "
                "check --amount-column"
            )
    return con.execute("select count(*) from transactions").fetchall()[0][0]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def fit_file(
    path: Path,
    customer: str,
    date: str,
    calibration_end: dt.date,
    observation_end: dt.date | None = None,
    date_format: str | None = None,
    time_unit: str = "weeks",
    amount: str | None = None,
) -> dict[str, Any]:
    """The fitted parameters, log-likelihood and sizes; with an observation end, predicted
    against actual repeat purchases after the calibration end, in total and by frequency."""
    with duckdb.connect() as con:
        rows = load_transactions(con, path, customer, date, date_format, amount)
        relation = grouped_summary(
            con, "transactions", "customer", "day", calibration_end, time_unit, observation_end
        )
        grouped = np.array(relation.fetchall(), dtype=float).reshape(-1, 5)
        spends = None
        if amount:
            relation = spend_summary(
                con, "transactions", "customer", "day", "amount", calibration_end
            )
            spends = np.array(relation.fetchall(), dtype=float).reshape(-1, 3)
    if not len(grouped):
        raise ValueError(f"no purchase in {path} on or before {calibration_end}")
    x, t_x, big_t, n, actual = grouped.T
    params, ll = fit_bgnbd(x, t_x, big_t, weights=n)
    report: dict[str, Any] = {
        "model": "BG/NBD",
        "time_unit": time_unit,
        "calibration_end": calibration_end.isoformat(),
        "transactions": rows,
        "customers": int(n.sum()),
        "distinct_histories": len(n),
        "params": {"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b},
        "log_likelihood": ll,
    }
    if spends is not None:
        spend_params, spend_ll = fit_gamma_gamma(spends[:, 0], spends[:, 1], spends[:, 2])
        report["spend"] = {
            "model": "Gamma-Gamma",
            "repeat_customers": int(spends[:, 2].sum()),
            "params": {"p": spend_params.p, "q": spend_params.q, "gamma": spend_params.gamma},
            "log_likelihood": spend_ll,
            "population_mean_spend": float(expected_spend(spend_params, 0, 0)),
        }
    if observation_end is not None:
        length = (observation_end - calibration_end).days / UNIT_DAYS[time_unit]
        predicted = n * expected_purchases(params, length, x, t_x, big_t)
        band = np.minimum(x, TOP_FREQUENCY)
        report["holdout"] = {
            "observation_end": observation_end.isoformat(),
            "length": length,
            "actual": int(actual.sum()),
            "predicted": round(float(predicted.sum()), 2),
            "by_frequency": [
                {
                    "frequency": f"{v}+" if v == TOP_FREQUENCY else str(v),
                    "customers": int(n[band == v].sum()),
                    "actual": int(actual[band == v].sum()),
                    "predicted": round(float(predicted[band == v].sum()), 2),
                }
                for v in range(TOP_FREQUENCY + 1)
            ],
        }
    return report
