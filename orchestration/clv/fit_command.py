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
from orchestration.clv.summary import UNIT_DAYS, grouped_summary
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
) -> int:
    """Create `transactions(customer, day)` from the file; the number of rows."""
    if not path.is_file():
        raise ValueError(f"transactions file {path} does not exist")
    positional = customer.isdigit() and date.isdigit()
    if positional:
        fields = "string_split_regex(trim(line), '\\s+')"
        source = (
            f"(select {fields}[{int(customer)}] as c, {fields}[{int(date)}] as d "
            f"from read_csv({_quote(str(path))}, header = false, delim = '\\t', quote = '', "
            "columns = {'line': 'VARCHAR'}) where trim(line) <> '')"
        )
    else:
        source = (
            f"(select cast({_ident(customer)} as varchar) as c, "
            f"cast({_ident(date)} as varchar) as d "
            f"from read_csv({_quote(str(path))}, header = true, all_varchar = true))"
        )
    day = f"try_strptime(d, {_quote(date_format)})" if date_format else "try_cast(d as date)"
    try:
        con.execute(
            f"create or replace temp table transactions as "
            f"select c as customer, cast({day} as date) as day, d as raw_day from {source}"
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
) -> dict[str, Any]:
    """The fitted parameters, log-likelihood and sizes; with an observation end, predicted
    against actual repeat purchases after the calibration end, in total and by frequency."""
    with duckdb.connect() as con:
        rows = load_transactions(con, path, customer, date, date_format)
        relation = grouped_summary(
            con, "transactions", "customer", "day", calibration_end, time_unit, observation_end
        )
        grouped = np.array(relation.fetchall(), dtype=float).reshape(-1, 5)
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
