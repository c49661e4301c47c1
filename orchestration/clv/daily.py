"""The churn model as of a run date: fitted on the shop's completed orders, or not, and why.

Every day the pipeline fits BG/NBD (purchase and drop-out) and Gamma-Gamma (spend) on the
grouped (x, t_x, T) histories of every customer as of the run date, in days. With too little
history the models are not fitted and the reason is recorded: churn is then judged by the
rules alone and the run goes on. A purchase model that ran off (not converged, a parameter
drifting towards 0 or infinity) is reported as a problem, which the pipeline's blocking check
refuses; a spend model that did (or has no finite mean) is left out, and the predictions go
without order value and CLV, with the reason recorded. The backtest fits on all but the last
days before the run date and compares the repeat orders it predicts for those days with the
actual ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import asdict, dataclass, replace

import duckdb
import numpy as np

from orchestration.churn_model_settings import ChurnModelSettings
from orchestration.clv.bgnbd import BgNbdParams, expected_purchases, fit_bgnbd
from orchestration.clv.gamma_gamma import GammaGammaParams, fit_gamma_gamma
from orchestration.clv.summary import grouped_summary, spend_summary

# A fitted parameter outside these bounds has run off towards 0 or infinity: the likelihood
# is flat in it, and the predictions built on it mean nothing.
PARAMETER_BOUNDS = (1e-5, 1e5)
FITTED = "fitted"
INSUFFICIENT = "insufficient_data"
FAILED = "failed"  # the optimiser gave up
REFUSED = "refused"  # fitted, but to parameters that mean nothing


@dataclass(frozen=True)
class Orders:
    """Where the completed orders are: a relation and its customer, day and amount columns."""

    relation: str
    customer: str
    day: str
    amount: str


@dataclass(frozen=True)
class History:
    """The grouped histories as of an end date: one row per distinct (x, t_x, T), n customers
    each, and their purchase days after the end (up to a holdout end, else 0)."""

    end: dt.date
    x: np.ndarray
    t_x: np.ndarray
    big_t: np.ndarray
    n: np.ndarray
    actual: np.ndarray
    history_days: int  # from the first completed order to the end date

    @property
    def customers(self) -> int:
        return int(self.n.sum())

    @property
    def frequent_customers(self) -> int:
        """Customers with purchases on three days or more (x >= 2)."""
        return int(self.n[self.x >= 2].sum())

    def shortfall(self, settings: ChurnModelSettings) -> str | None:
        """Why these histories are too few to fit the model on, or None."""
        needs = [
            (self.customers, settings.min_customers, "customers with a completed order"),
            (self.history_days, settings.min_history_days, "days of order history"),
            (
                self.frequent_customers,
                settings.min_frequent_customers,
                "customers with 3+ purchase days",
            ),
        ]
        short = [f"{have:,} {what} (needs {need:,})" for have, need, what in needs if have < need]
        return "too little data to fit: " + "; ".join(short) if short else None


def load_history(
    con: duckdb.DuckDBPyConnection, orders: Orders, end: dt.date, holdout_end: dt.date | None = None
) -> History:
    """The grouped histories of `orders` as of `end` (summed in DuckDB, read as arrays)."""
    summary = grouped_summary(
        con, orders.relation, orders.customer, orders.day, end, "days", holdout_end
    )
    columns = summary.fetchnumpy()
    first = con.execute(
        f'select min(cast("{orders.day}" as date)) from {orders.relation}'
    ).fetchall()[0][0]
    return History(
        end=end,
        x=np.asarray(columns["x"], dtype=float),
        t_x=np.asarray(columns["t_x"], dtype=float),
        big_t=np.asarray(columns["T"], dtype=float),
        n=np.asarray(columns["n"], dtype=float),
        actual=np.asarray(columns["actual"], dtype=float),
        history_days=(end - first).days if first is not None and first <= end else 0,
    )


@dataclass(frozen=True)
class ModelFit:
    """The models as of a run date: their parameters when fitted, else the reason."""

    run_date: dt.date
    status: str  # fitted, insufficient_data, failed or refused
    reason: str | None
    customers: int
    frequent_customers: int
    history_days: int
    seconds: float
    purchases: BgNbdParams | None = None
    log_likelihood: float | None = None
    spend: GammaGammaParams | None = None
    spend_customers: int = 0
    spend_reason: str | None = None  # why there is no spend model (value and CLV are empty)

    @property
    def params_id(self) -> str | None:
        """A short id of the fitted parameters (to 6 significant digits): the same fit,
        the same id, whatever day it was made on."""
        if self.purchases is None:
            return None
        values = {**asdict(self.purchases), **(asdict(self.spend) if self.spend else {})}
        text = ",".join(f"{k}={v:.6g}" for k, v in sorted(values.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def problems(self) -> list[str]:
        """What makes the purchase model unusable; empty for a sound fit or one not
        attempted. Without it there is no prediction at all."""
        if self.status == FAILED:
            return [self.reason or "the fit failed"]
        return _off_bounds(self.purchases)


def _off_bounds(params: BgNbdParams | GammaGammaParams | None) -> list[str]:
    low, high = PARAMETER_BOUNDS
    return [
        f"{name} = {value:.4g} is outside {low:g}..{high:g}"
        for name, value in (asdict(params).items() if params else ())
        if not (np.isfinite(value) and low < value < high)
    ]


def spend_problems(spend: GammaGammaParams) -> list[str]:
    """What makes a spend model unusable: predictions then go without value and CLV."""
    found = _off_bounds(spend)
    if spend.q <= 1:
        found.append(f"q = {spend.q:.4g}: the spend model has no finite mean (q <= 1)")
    return found


def fit_spend(
    con: duckdb.DuckDBPyConnection, orders: Orders, run_date: dt.date
) -> tuple[GammaGammaParams | None, int, str | None]:
    """The spend model, the repeat customers it is fitted on, and why it is refused."""
    rows = spend_summary(
        con, orders.relation, orders.customer, orders.day, orders.amount, run_date
    ).fetchnumpy()
    customers = int(np.sum(rows["n"]))
    try:
        spend, _ = fit_gamma_gamma(rows["x"], rows["m_x"], rows["n"])
    except (RuntimeError, ValueError) as exc:
        return None, customers, f"no spend model: {exc}"
    problems = spend_problems(spend)
    if problems:
        return None, customers, "the spend model is refused: " + "; ".join(problems)
    return spend, customers, None


def fit_as_of(
    con: duckdb.DuckDBPyConnection, orders: Orders, run_date: dt.date, settings: ChurnModelSettings
) -> tuple[ModelFit, History]:
    """Both models fitted on the histories as of `run_date`, or why they are not."""
    started = time.perf_counter()
    history = load_history(con, orders, run_date)
    counts = {
        "customers": history.customers,
        "frequent_customers": history.frequent_customers,
        "history_days": history.history_days,
    }
    shortfall = history.shortfall(settings)
    if shortfall:
        seconds = time.perf_counter() - started
        return ModelFit(run_date, INSUFFICIENT, shortfall, seconds=seconds, **counts), history
    try:
        purchases, log_likelihood = fit_bgnbd(history.x, history.t_x, history.big_t, history.n)
    except RuntimeError as exc:
        seconds = time.perf_counter() - started
        return ModelFit(run_date, FAILED, str(exc), seconds=seconds, **counts), history
    spend, spend_customers, spend_reason = fit_spend(con, orders, run_date)
    fit = ModelFit(
        run_date,
        FITTED,
        None,
        seconds=time.perf_counter() - started,
        purchases=purchases,
        log_likelihood=log_likelihood,
        spend=spend,
        spend_customers=spend_customers,
        spend_reason=spend_reason,
        **counts,
    )
    problems = fit.problems()
    if problems:
        fit = replace(fit, status=REFUSED, reason="the fit is refused: " + "; ".join(problems))
    return fit, history


@dataclass(frozen=True)
class Backtest:
    """Repeat orders predicted for the last `days` before the run date by a fit on the
    history before them, against the actual ones, for the customers of that history."""

    calibration_end: dt.date
    days: int
    customers: int
    predicted: float
    actual: float

    @property
    def error(self) -> float:
        """|predicted - actual| as a share of the actual: 0 when both are 0, infinite when
        only the actual is."""
        if self.actual == 0:
            return 0.0 if self.predicted == 0 else float("inf")
        return abs(self.predicted - self.actual) / self.actual


def backtest(
    con: duckdb.DuckDBPyConnection, orders: Orders, run_date: dt.date, settings: ChurnModelSettings
) -> Backtest | str:
    """The backtest as of `run_date`, or why it cannot be run."""
    days = settings.backtest_holdout_days
    end = run_date - dt.timedelta(days=days)
    history = load_history(con, orders, end, holdout_end=run_date)
    shortfall = history.shortfall(settings)
    if shortfall:
        return f"backtest not run: calibration up to {end}: {shortfall}"
    try:
        params, _ = fit_bgnbd(history.x, history.t_x, history.big_t, history.n)
    except RuntimeError as exc:
        return f"backtest not run: {exc}"
    predicted = history.n * expected_purchases(params, days, history.x, history.t_x, history.big_t)
    return Backtest(
        end, days, history.customers, float(predicted.sum()), float(history.actual.sum())
    )
