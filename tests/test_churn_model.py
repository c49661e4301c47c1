"""The churn model in the pipeline: fitted between two dbt steps, every customer scored in
SQL, churn and win-back judged with it, and the rules alone when there is too little data.

The scores in marts.customer_predictions are recomputed here independently: each customer's
history from the completed orders in Python, P(alive) and the expected orders from the
paper's formulas as printed (the direct hypergeometric form, not the transformed one the
pipeline evaluates), the spend from Gamma-Gamma's, the discounting month by month.
"""

from __future__ import annotations

import collections
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import numpy as np
import pytest
from dagster import AssetKey, DagsterInstance, materialize
from scipy.special import hyp2f1

from orchestration.assets.churn_model import ORDERS, build_churn_model_asset
from orchestration.churn_model_settings import ChurnModelSettings
from orchestration.clv import BgNbdParams, GammaGammaParams, expected_spend
from orchestration.clv.daily import (
    FITTED,
    INSUFFICIENT,
    REFUSED,
    ModelFit,
    Orders,
    fit_as_of,
    spend_problems,
)
from orchestration.resources import DuckDBWarehouse
from tests.conftest import BASE_END, BaseRun, point_settings_at
from tests.runs import range_tags, reload_definitions, run_day

DAY = BASE_END + dt.timedelta(days=1)
LIFECYCLE = AssetKey(["marts", "customer_lifecycle"])
# The small shop has 300 buyers over 45 days: enough to fit once the minimums are lowered.
SMALL_SHOP_MINIMUMS = {
    "LIFECYCLE_CLV_MIN_CUSTOMERS": "100",
    "LIFECYCLE_CLV_MIN_HISTORY_DAYS": "30",
    "LIFECYCLE_CLV_MIN_FREQUENT_CUSTOMERS": "10",
    "LIFECYCLE_CLV_BACKTEST_DAYS": "10",
}


@pytest.fixture(scope="module")
def fitted(base_run: BaseRun, tmp_path_factory: pytest.TempPathFactory):
    """The next day on a copy of the shared run, up to the lifecycle stages, with the
    model's minimums lowered to the small shop: (run result, warehouse)."""
    data = base_run.copy(tmp_path_factory.mktemp("churn_model"))
    with pytest.MonkeyPatch.context() as mp, DagsterInstance.ephemeral() as instance:
        point_settings_at(mp, data)
        for name, value in SMALL_SHOP_MINIMUMS.items():
            mp.setenv(name, value)
        result = run_day(reload_definitions(), instance, DAY, publish=False, upstream_of=LIFECYCLE)
    assert result.success
    return result, data / "warehouse.duckdb"


def _rows(warehouse: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _histories(warehouse: Path, run_date: dt.date) -> dict[str, tuple[int, int, int, float]]:
    """email -> (x, t_x, T, average spend of a repeat purchase day), from the orders."""
    days: dict[str, dict[dt.date, float]] = collections.defaultdict(dict)
    for row in _rows(
        warehouse,
        "select email, ordered_date, net_revenue_amount from intermediate.int_orders_completed",
    ):
        spent = days[row["email"]]
        spent[row["ordered_date"]] = spent.get(row["ordered_date"], 0) + float(
            row["net_revenue_amount"]
        )
    histories = {}
    for email, spent in days.items():
        ordered = sorted(spent)
        repeat = [spent[d] for d in ordered[1:]]
        histories[email] = (
            len(ordered) - 1,
            (ordered[-1] - ordered[0]).days,
            (run_date - ordered[0]).days,
            sum(repeat) / len(repeat) if repeat else 0.0,
        )
    return histories


def _expected(params: BgNbdParams, t: float, x: int, t_x: int, big_t: int) -> float:
    """The paper's equation 10, as printed."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + big_t + t)
    top = (a + b + x - 1) / (a - 1)
    top *= 1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(
        r + x, b + x, a + b + x - 1, z
    )
    bottom = 1 + (x > 0) * a / (b + x - 1) * ((alpha + big_t) / (alpha + t_x)) ** (r + x)
    return top / bottom


def test_every_customer_is_scored_as_the_formulas_say(fitted) -> None:
    _, warehouse = fitted
    (fit,) = _rows(warehouse, f"select * from predictions.clv_fits where run_date = '{DAY}'")
    assert fit["status"] == FITTED, fit["reason"]
    params = BgNbdParams(fit["r"], fit["alpha"], fit["a"], fit["b"])
    spend = GammaGammaParams(fit["p"], fit["q"], fit["gamma"])
    histories = _histories(warehouse, DAY)
    scored = {r["email"]: r for r in _rows(warehouse, "select * from marts.customer_predictions")}
    assert scored.keys() == histories.keys()
    assert len(scored) == fit["customers"]
    monthly = 0.01  # the clv_monthly_discount_rate default
    for email, (x, t_x, big_t, m_x) in histories.items():
        row = scored[email]
        assert (
            row["repeat_purchase_days"],
            row["first_to_last_purchase_days"],
            row["days_since_first_purchase"],
        ) == (x, t_x, big_t)
        assert row["prediction_status"] == "predicted"
        assert row["model_run_date"] == DAY and row["params_id"] == fit["params_id"]
        alive = 1 / (1 + (x > 0) * params.a / (params.b + x - 1) * (
            (params.alpha + big_t) / (params.alpha + t_x)) ** (params.r + x))  # fmt: skip
        assert float(row["p_alive"]) == pytest.approx(alive, abs=1e-6)
        assert float(row["churn_probability"]) == pytest.approx(1 - alive, abs=1e-6)
        band = "high" if 1 - alive > 0.66 else "low" if 1 - alive < 0.33 else "medium"
        assert row["churn_risk_band"] == band
        assert float(row["expected_orders_90d"]) == pytest.approx(
            _expected(params, 90, x, t_x, big_t), abs=1e-4
        )
        assert float(row["expected_orders_365d"]) == pytest.approx(
            _expected(params, 365, x, t_x, big_t), abs=1e-4
        )
        value = float(expected_spend(spend, np.array([x]), np.array([m_x]))[0])
        assert float(row["expected_order_value"]) == pytest.approx(value, abs=0.006)
        cumulative = [_expected(params, m * 365 / 12, x, t_x, big_t) for m in range(13)]
        clv = sum(
            (cumulative[m] - cumulative[m - 1]) * value / (1 + monthly) ** m for m in range(1, 13)
        )
        assert float(row["predicted_clv_365d"]) == pytest.approx(clv, abs=0.01)
        # Held gone: below churn_p_alive_threshold (0.2), no order for lapse_days_short (30).
        gone = round(alive, 6) < 0.2 and big_t - t_x > 30
        assert row["is_predicted_gone"] == gone
        if gone:
            assert row["expected_next_order_date"] is None
        else:
            wait = int(np.ceil((params.alpha + big_t) / (params.r + x)))
            assert row["expected_next_order_date"] == DAY + dt.timedelta(days=wait)


def test_the_churned_stage_and_win_back_use_p_alive(fitted) -> None:
    _, warehouse = fitted
    rows = _rows(
        warehouse,
        """
        select p.email, p.p_alive, p.is_predicted_gone, c.is_churned, c.is_bottom_20,
            c.is_win_back_eligible, l.lifecycle_stage, l.stage_reason
        from marts.customer_predictions p
        join marts.customer_churn c using (email)
        join marts.customer_lifecycle l using (email)
        """,
    )
    gone = [r for r in rows if r["is_predicted_gone"]]
    assert gone, "the small shop has customers the model holds gone"
    for row in rows:
        by_rules = row["is_churned"] and row["is_bottom_20"]
        churned = by_rules or row["is_predicted_gone"]
        assert (row["lifecycle_stage"] == "churned") == churned, row
    for row in gone:
        assert not row["is_win_back_eligible"]
        if not (row["is_churned"] and row["is_bottom_20"]):
            percent = f"{(row['p_alive'] * 100).quantize(Decimal('0.1'), ROUND_HALF_UP)}%"
            assert row["stage_reason"] == (
                f"the churn model gives P(alive) {percent}, below the churn threshold"
            )


def test_the_fit_is_watched_by_its_checks_and_metadata(fitted) -> None:
    result, warehouse = fitted
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.asset_key == AssetKey(["predictions", "clv_fits"])
    }
    assert checks["fit_is_sound"].passed
    backtest = checks["backtest"]
    (fit,) = _rows(warehouse, f"select * from predictions.clv_fits where run_date = '{DAY}'")
    materialized = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    metadata = materialized["predictions/clv_fits"]
    for name in ("r", "alpha", "a", "b"):
        assert metadata[name].value == pytest.approx(fit[name])
    assert metadata["customers"].value == fit["customers"]
    assert metadata["log-likelihood"].value == pytest.approx(fit["log_likelihood"])
    # The backtest, recomputed: a fit up to 10 days before, its prediction of those 10 days.
    assert backtest.metadata["calibration end"].value == str(DAY - dt.timedelta(days=10))
    actual = _rows(
        warehouse,
        f"""
        with days as (select distinct email, ordered_date from intermediate.int_orders_completed),
        firsts as (select email, min(ordered_date) as first_day from days group by email)
        select count(*) as n from days join firsts using (email)
        where first_day <= date '{DAY}' - 10 and ordered_date > date '{DAY}' - 10
        """,
    )[0]["n"]
    assert backtest.metadata["actual"].value == actual


def test_with_too_little_data_the_rules_decide_and_the_run_goes_on(base_run: BaseRun) -> None:
    """The shared run (300 buyers over 43 days) is below two of the default minimums."""
    (fit,) = _rows(base_run.warehouse, "select * from predictions.clv_fits")
    assert fit["status"] == INSUFFICIENT
    customers = _rows(base_run.warehouse, "select count(*) as n from marts.customer_churn")[0]["n"]
    assert fit["reason"] == (
        f"too little data to fit: {customers:,} customers with a completed order (needs 500); "
        f"{fit['history_days']} days of order history (needs 180)"
    )
    assert fit["frequent_customers"] >= 50  # the one minimum the small shop meets
    statuses = _rows(
        base_run.warehouse,
        "select prediction_status, count(*) as n, count(p_alive) as scored "
        "from marts.customer_predictions group by all",
    )
    assert statuses == [{"prediction_status": fit["reason"], "n": customers, "scored": 0}]
    stages = _rows(
        base_run.warehouse,
        """
        select count(*) filter (where l.lifecycle_stage = 'churned') as churned,
            count(*) filter (where c.is_churned and c.is_bottom_20) as by_rules
        from marts.customer_lifecycle l join marts.customer_churn c using (email)
        """,
    )
    assert stages[0]["churned"] == stages[0]["by_rules"]
    assert base_run.metadata["predictions/clv_fits"]["status"].value == INSUFFICIENT


def _one_time_buyers(
    count: int, path: str = ":memory:"
) -> tuple[duckdb.DuckDBPyConnection, Orders]:
    """`count` customers who bought once each, one a day from 2024-01-01 (300 days round)."""
    con = duckdb.connect(path)
    con.execute("create schema if not exists intermediate")
    con.execute(
        "create table intermediate.int_orders_completed as select 'c' || i as email, "
        "date '2024-01-01' + cast(i % 300 as integer) as ordered_date, "
        f"10.0 as net_revenue_amount from range({count}) t(i)"
    )
    return con, ORDERS


def test_a_fit_that_runs_off_is_refused_and_blocks_what_is_built_from_it(tmp_path: Path) -> None:
    """Nobody ever buys twice: the drop-out process cannot be seen, and the purchase model's
    parameters run off towards 0 and infinity. The asset records the fit and why it is
    refused, writes no expected orders, and its blocking check fails."""
    warehouse = tmp_path / "warehouse.duckdb"
    con, _ = _one_time_buyers(600, str(warehouse))
    con.close()
    settings = ChurnModelSettings(min_frequent_customers=0)
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [build_churn_model_asset("UTC")],
            resources={"warehouse": DuckDBWarehouse(path=str(warehouse)), "churn_model": settings},
            partition_key=None,
            tags=range_tags(dt.date(2024, 12, 31), dt.date(2024, 12, 31)),
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    (check,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "fit_is_sound"
    ]
    assert not check.passed
    (fit,) = _rows(warehouse, "select * from predictions.clv_fits")
    assert fit["status"] == REFUSED and fit["r"] < 1e-5
    assert fit["reason"].startswith(f"the fit is refused: r = {fit['r']:.4g} is outside 1e-05")
    assert check.description == "The churn model's " + fit["reason"].removeprefix("the ")
    assert _rows(warehouse, "select count(*) as n from predictions.clv_expected_orders") == [
        {"n": 0}
    ]


def test_parameters_run_off_to_a_bound_are_problems() -> None:
    fit = ModelFit(
        dt.date(2024, 1, 1),
        FITTED,
        None,
        customers=1_000,
        frequent_customers=100,
        history_days=365,
        seconds=1.0,
        purchases=BgNbdParams(r=0.24, alpha=4.4, a=0.79, b=3e6),
    )
    assert fit.problems() == ["b = 3e+06 is outside 1e-05..100000"]
    assert spend_problems(GammaGammaParams(p=2e5, q=0.9, gamma=15.4)) == [
        "p = 2e+05 is outside 1e-05..100000",
        "q = 0.9: the spend model has no finite mean (q <= 1)",
    ]


def test_the_shortfall_names_every_minimum_missed() -> None:
    con, orders = _one_time_buyers(120)
    fit, _ = fit_as_of(con, orders, dt.date(2024, 5, 1), ChurnModelSettings())
    # 120 buyers from 2024-01-01, one a day: the first bought 121 days before the run date.
    assert fit.status == INSUFFICIENT
    assert fit.reason == (
        "too little data to fit: 120 customers with a completed order (needs 500); "
        "121 days of order history (needs 180); 0 customers with 3+ purchase days (needs 50)"
    )
    assert fit.problems() == []
