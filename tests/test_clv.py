"""The BG/NBD model against the paper's own data and published estimates (CDNOW sample,
39-week calibration): the summary computed in DuckDB from the raw purchases equals the
paper's, and the fit gives r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 and a
log-likelihood of -9582.4."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter

from orchestration.cli import main
from orchestration.clv import (
    BgNbdParams,
    GammaGammaParams,
    expected_purchases,
    expected_spend,
    fit_bgnbd,
    fit_gamma_gamma,
    grouped_summary,
    log_likelihood,
    p_alive,
    spend_summary,
)
from orchestration.clv.bgnbd import total_log_likelihood

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
def cdnow() -> duckdb.DuckDBPyConnection:
    """The CDNOW sample's purchase lines in DuckDB: (customer, day, amount)."""
    lines = (DATA / "CDNOW_sample.txt").read_text().split("\n")
    purchases = [
        (fields[1], dt.datetime.strptime(fields[2], "%Y%m%d").date(), float(fields[4]))
        for fields in (line.split() for line in lines)
        if fields
    ]
    assert len(purchases) == 6919
    con = duckdb.connect()
    con.execute("create table purchases (customer varchar, day date, amount double)")
    con.executemany("insert into purchases values (?, ?, ?)", purchases)
    yield con
    con.close()


@pytest.fixture(scope="module")
def our_summary(cdnow) -> np.ndarray:
    """(x, t_x, T, n, actual) from the raw purchase lines, grouped in DuckDB."""
    return np.array(
        grouped_summary(cdnow, "purchases", "customer", "day", CALIBRATION_END).fetchall()
    )


def test_the_summary_in_sql_is_the_papers(paper_summary, our_summary) -> None:
    assert our_summary[:, 3].sum() == len(paper_summary) == 2357
    ours = sorted(
        (int(x), round(t_x, 2), round(t, 2))
        for x, t_x, t, n, _ in our_summary
        for _ in range(int(n))
    )
    assert ours == sorted((int(x), t_x, t) for x, t_x, t in paper_summary)


def test_the_fit_gives_the_papers_estimates(our_summary) -> None:
    x, t_x, big_t, n, _ = our_summary.T
    assert len(n) < 2357 / 2  # identical histories are grouped
    params, ll = fit_bgnbd(x, t_x, big_t, weights=n)
    for name in ("r", "alpha", "a", "b"):
        ours, published = getattr(params, name), getattr(PAPER, name)
        assert f"{ours:.3g}" == f"{published:.3g}", (name, ours)
    assert ll == pytest.approx(-9582.4, abs=0.05)


def test_the_fits_total_is_the_sum_of_the_rows(our_summary) -> None:
    """The fit's total, computed once per distinct value, equals the paper's equation 6
    summed row by row."""
    x, t_x, big_t, n, _ = our_summary.T
    total = total_log_likelihood(x, t_x, big_t, n)
    rows = float(np.sum(n * log_likelihood(PAPER, x, t_x, big_t)))
    assert total(np.array([PAPER.r, PAPER.alpha, PAPER.a, PAPER.b])) == pytest.approx(
        rows, rel=1e-12
    )


def test_grouping_changes_nothing(paper_summary, our_summary) -> None:
    """The weighted log-likelihood of grouped rows is that of one row per customer."""
    x, t_x, big_t, n, _ = our_summary.T
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


def test_expected_purchases_over_a_short_time_is_the_rate_of_the_living() -> None:
    """Over a short t, E[Y(t)] tends to P(alive) (r + x) t / (alpha + T): the rate of a
    living customer's Gamma posterior, which checks the 2F1 term independently."""
    x, t_x, big_t = np.array([0, 2, 7]), np.array([0.0, 30.43, 35.0]), np.array([38.86] * 3)
    t = 1e-6
    limit = p_alive(PAPER, x, t_x, big_t) * (PAPER.r + x) * t / (PAPER.alpha + big_t)
    assert expected_purchases(PAPER, t, x, t_x, big_t) == pytest.approx(limit, rel=1e-5)


def _fit(capsys, *args: str) -> tuple[int, dict | str]:
    """`lifecycle clv fit` with these arguments: its exit code and its JSON, or its error."""
    code = main(["clv", "fit", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if code == 0 else captured.err


# The CDNOW files' columns by position (customer, date, dollar value) and date format.
SAMPLE = ("--customer-column", "2", "--date-column", "3", "--date-format", "%Y%m%d")
MASTER = ("--customer-column", "1", "--date-column", "2", "--date-format", "%Y%m%d")


def test_the_fit_command_reproduces_the_paper_from_the_raw_file(capsys, our_summary) -> None:
    code, report = _fit(
        capsys, "--transactions", str(DATA / "CDNOW_sample.txt"), *SAMPLE, "--time-unit", "weeks",
        "--calibration-end", "1997-09-30", "--observation-end", "1998-06-30",
    )  # fmt: skip
    assert code == 0
    assert (report["customers"], report["transactions"]) == (2357, 6919)
    for name, published in vars(PAPER).items():
        assert f"{report['params'][name]:.3g}" == f"{published:.3g}", name
    assert report["log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    # The holdout's actual repeat purchase days, counted here without SQL, by frequency.
    days: dict[str, set[dt.date]] = {}
    for line in (DATA / "CDNOW_sample.txt").read_text().splitlines():
        if line.split():
            _, customer, day, *_ = line.split()
            days.setdefault(customer, set()).add(dt.datetime.strptime(day, "%Y%m%d").date())
    actual = collections.Counter()
    for bought in days.values():
        before = sum(d <= CALIBRATION_END for d in bought)
        after = sum(CALIBRATION_END < d <= dt.date(1998, 6, 30) for d in bought)
        actual[str(min(before - 1, 7)).replace("7", "7+")] += after
    holdout = report["holdout"]
    assert {b["frequency"]: b["actual"] for b in holdout["by_frequency"]} == dict(actual)
    assert holdout["actual"] == sum(actual.values())
    assert holdout["length"] == 39.0
    x, t_x, big_t, n, _ = our_summary.T
    params = BgNbdParams(**report["params"])
    assert holdout["predicted"] == pytest.approx(
        float(np.sum(n * expected_purchases(params, 39.0, x, t_x, big_t))), abs=0.01
    )


def test_the_fit_command_names_a_date_it_cannot_read(tmp_path, capsys) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer,ordered\na,2024-01-05\nb,05/01/2024\n")
    code, error = _fit(
        capsys, "--transactions", str(path), "--customer-column", "customer",
        "--date-column", "ordered", "--calibration-end", "2024-06-30",
    )  # fmt: skip
    assert code == 2 and "1 rows of" in error
    # The e-mail column given as the date: refused without the address in full.
    path.write_text("customer,ordered\nana.lopez@example.com,2024-01-05\n")
    code, error = _fit(
        capsys, "--transactions", str(path), "--customer-column", "ordered",
        "--date-column", "customer", "--calibration-end", "2024-06-30",
    )  # fmt: skip
    assert code == 2 and "check --date-column" in error and "ana.lopez@" not in error
    code, error = _fit(
        capsys, "--transactions", str(path), "--customer-column", "customer",
        "--date-column", "when", "--calibration-end", "2024-06-30",
    )  # fmt: skip
    assert code == 2 and "could not read" in error


# Fader and Hardie, "The Gamma-Gamma Model of Monetary Value" (2013), on the same calibration.
SPEND_NOTE = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)


def test_the_spend_model_gives_the_notes_estimates(capsys) -> None:
    code, report = _fit(
        capsys, "--transactions", str(DATA / "CDNOW_sample.txt"), *SAMPLE,
        "--amount-column", "5", "--calibration-end", "1997-09-30",
    )  # fmt: skip
    assert code == 0
    spend = report["spend"]
    assert spend["repeat_customers"] == 946  # the note's customers with repeat purchases
    for name, published in vars(SPEND_NOTE).items():
        assert f"{spend['params'][name]:.3g}" == f"{published:.3g}", name
    fitted = GammaGammaParams(**spend["params"])
    assert spend["population_mean_spend"] == pytest.approx(float(expected_spend(fitted, 0, 0)))


def test_expected_spend_by_hand() -> None:
    """(gamma + x m_x) p / (p x + q - 1): two repeat purchases of $30 on average with the
    note's estimates, (15.44 + 60) 6.25 / (12.5 + 3.74 - 1) = 471.5 / 15.24 = 30.938; with none,
    the population's p gamma / (q - 1) = 96.5 / 2.74 = 35.219."""
    values = expected_spend(SPEND_NOTE, np.array([2, 0]), np.array([30.0, 0.0]))
    assert values == pytest.approx([30.938, 35.219], abs=1e-3)


def test_the_whole_cdnow_cohort_fits_like_its_sample(capsys) -> None:
    """The master file (a header line, then purchases by position) fits, with estimates
    near the 1/10 sample's: the sample was drawn from this cohort."""
    code, report = _fit(
        capsys, "--transactions", str(DATA / "CDNOW_master.txt"), *MASTER,
        "--amount-column", "4", "--calibration-end", "1997-09-30",
    )  # fmt: skip
    assert code == 0
    assert (report["customers"], report["transactions"]) == (23570, 69659)
    for name, published in vars(PAPER).items():
        assert report["params"][name] == pytest.approx(published, rel=0.15), name
    for name, published in vars(SPEND_NOTE).items():
        assert report["spend"]["params"][name] == pytest.approx(published, rel=0.15), name


def test_the_fit_and_the_scores_agree_with_lifetimes(paper_summary, our_summary) -> None:
    """lifetimes' BetaGeoFitter, the field's long-time reference, on the same customers: the
    same estimates to 1e-3 relative; with its estimates, the same P(alive) and expected
    purchases in 39 weeks for every customer."""
    x, t_x, big_t, n, _ = our_summary.T
    ours, _ = fit_bgnbd(x, t_x, big_t, weights=n)
    frequency, recency, age = paper_summary.T
    peer = BetaGeoFitter().fit(frequency, recency, age)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(ours, name) == pytest.approx(peer.params_[name], rel=1e-3), name
    theirs = BgNbdParams(*(float(peer.params_[k]) for k in ("r", "alpha", "a", "b")))
    assert p_alive(theirs, frequency, recency, age) == pytest.approx(
        peer.conditional_probability_alive(frequency, recency, age), rel=1e-9
    )
    assert expected_purchases(theirs, 39.0, frequency, recency, age) == pytest.approx(
        peer.conditional_expected_number_of_purchases_up_to_time(39.0, frequency, recency, age),
        rel=1e-9,
    )


def test_the_spend_fit_agrees_with_lifetimes(cdnow) -> None:
    """lifetimes' GammaGammaFitter on the same 946 repeat customers, one row each."""
    rows = spend_summary(cdnow, "purchases", "customer", "day", "amount", CALIBRATION_END)
    x, m_x, n = (np.asarray(v) for v in zip(*rows.fetchall(), strict=True))
    ours, _ = fit_gamma_gamma(x, m_x, n)
    peer = GammaGammaFitter().fit(np.repeat(x, n), np.repeat(m_x, n))
    for ours_name, peer_name in (("p", "p"), ("q", "q"), ("gamma", "v")):
        assert getattr(ours, ours_name) == pytest.approx(peer.params_[peer_name], rel=1e-3)


def test_the_spend_fit_does_not_stop_on_its_ridge() -> None:
    """p and gamma trade off along a ridge of the spend likelihood: a single Nelder-Mead
    from all ones on the spend as it is stopped on it (p 12,049, log-likelihood -870.06
    here; on the sample shop p 175,721, refused) where lifetimes finds p 4.91 (-863.93).
    Rescaled and restarted, the search reaches lifetimes' maximum."""
    x = np.array([1, 2, 3, 1, 5] * 50, dtype=float)
    m_x = np.array([10, 20, 15, 30, 12] * 50) * np.random.default_rng(1).uniform(0.5, 1.5, 250)
    ours, maximum = fit_gamma_gamma(x, m_x)
    peer = GammaGammaFitter().fit(x, m_x)
    assert maximum == pytest.approx(-863.9315, abs=1e-3)
    for ours_name, peer_name in (("p", "p"), ("q", "q"), ("gamma", "v")):
        assert getattr(ours, ours_name) == pytest.approx(peer.params_[peer_name], rel=1e-3)
