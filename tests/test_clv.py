"""The BG/NBD model against the paper's own data and published estimates (CDNOW sample,
39-week calibration): the summary computed in DuckDB from the raw purchases equals the
paper's, and the fit gives r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 and a
log-likelihood of -9582.4."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pytest

from orchestration.clv import BgNbdParams, fit_bgnbd, grouped_summary, log_likelihood, p_alive

DATA = Path(__file__).parent / "data" / "cdnow"
CALIBRATION_END = dt.date(1997, 9, 30)
PAPER = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


@pytest.fixture(scope="module")
def paper_summary() -> np.ndarray:
    with (DATA / "cdnow_customers_summary.csv").open() as handle:
        rows = [
            (int(r["frequency"]), float(r["recency"]), float(r["T"]))
            for r in csv.DictReader(handle)
        ]
    return np.array(rows)


@pytest.fixture(scope="module")
def our_summary() -> np.ndarray:
    """(x, t_x, T, n) from the raw purchase lines, grouped in DuckDB."""
    lines = (DATA / "CDNOW_sample.txt").read_text().split("\n")
    purchases = [
        (fields[1], dt.datetime.strptime(fields[2], "%Y%m%d").date())
        for fields in (line.split() for line in lines)
        if fields
    ]
    assert len(purchases) == 6919
    with duckdb.connect() as con:
        con.execute("create table purchases (customer varchar, day date)")
        con.executemany("insert into purchases values (?, ?)", purchases)
        return np.array(
            grouped_summary(con, "purchases", "customer", "day", CALIBRATION_END).fetchall()
        )


def test_the_summary_in_sql_is_the_papers(paper_summary, our_summary) -> None:
    assert our_summary[:, 3].sum() == len(paper_summary) == 2357
    ours = sorted(
        (int(x), round(t_x, 2), round(t, 2)) for x, t_x, t, n in our_summary for _ in range(int(n))
    )
    assert ours == sorted((int(x), t_x, t) for x, t_x, t in paper_summary)


def test_the_fit_gives_the_papers_estimates(our_summary) -> None:
    x, t_x, big_t, n = our_summary.T
    assert len(n) < 2357 / 2  # identical histories are grouped
    params, ll = fit_bgnbd(x, t_x, big_t, weights=n)
    for name in ("r", "alpha", "a", "b"):
        ours, published = getattr(params, name), getattr(PAPER, name)
        assert f"{ours:.3g}" == f"{published:.3g}", (name, ours)
    assert ll == pytest.approx(-9582.4, abs=0.05)


def test_grouping_changes_nothing(paper_summary, our_summary) -> None:
    """The weighted log-likelihood of grouped rows is that of one row per customer."""
    x, t_x, big_t, n = our_summary.T
    grouped = float(np.sum(n * log_likelihood(PAPER, x, t_x, big_t)))
    one_each = float(np.sum(log_likelihood(PAPER, *paper_summary.T)))
    assert grouped == pytest.approx(one_each, abs=0.05)  # the csv is rounded to 0.01 week


def test_p_alive_by_hand() -> None:
    """No repeat purchase: alive for sure. Customer 1 of the sample (x = 2, t_x = 30.43,
    T = 38.86) with the paper's estimates: 1 / (1 + (a / (b + 1)) ((alpha + T) /
    (alpha + t_x))^(r + 2)) = 1 / (1 + 0.231465 * 1.241935^2.243) = 1 / 1.376315 = 0.726579."""
    values = p_alive(PAPER, np.array([0, 2]), np.array([0.0, 30.43]), np.array([38.86, 38.86]))
    assert values[0] == 1.0
    assert values[1] == pytest.approx(0.726579, abs=1e-6)
