"""The churn model as a Dagster asset between two dbt steps.

dbt builds the completed orders; this asset fits BG/NBD and Gamma-Gamma on them as of the
run date and writes the fit and the per-history expected orders (`predictions` schema);
dbt then scores every customer (marts.customer_predictions) and judges churn with it. The
fit's parameters, log-likelihood, counts and seconds are materialization metadata, so the
asset's Plots tab charts them day by day. Two checks watch it: a blocking one refuses a fit
that ran off (nothing built from it runs: the stages and audiences keep the last good day),
and the backtest warns when the model predicts the last days' repeat orders badly. With
too little data the model is not fitted, churn falls back to the rules with the reason in
marts.customer_predictions, and the run goes on.
"""

import datetime as dt
from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from orchestration.assets.dbt import run_date_of
from orchestration.churn_model_settings import ChurnModelSettings
from orchestration.clv.daily import FITTED, Backtest, ModelFit, Orders, backtest, fit_as_of
from orchestration.clv.tables import EXPECTED_ORDERS, FITS, write_expected_orders, write_fit
from orchestration.resources import DuckDBWarehouse
from orchestration.resources.warehouse import WAREHOUSE_POOL

GROUP = "predictions"
FITS_KEY = AssetKey(FITS.split("."))
EXPECTED_ORDERS_KEY = AssetKey(EXPECTED_ORDERS.split("."))
ORDERS_KEY = AssetKey(["intermediate", "int_orders_completed"])
ORDERS = Orders("intermediate.int_orders_completed", "email", "ordered_date", "net_revenue_amount")
SOUND_CHECK = "fit_is_sound"
BACKTEST_CHECK = "backtest"


def fit_metadata(fit: ModelFit) -> dict[str, object]:
    """The fit as metadata: numbers chart over time in the asset's Plots tab."""
    metadata: dict[str, object] = {
        "status": fit.status,
        "customers": fit.customers,
        "customers with 3+ purchase days": fit.frequent_customers,
        "history days": fit.history_days,
        "fit seconds": round(fit.seconds, 3),
    }
    if fit.reason:
        metadata["reason"] = fit.reason
    if fit.purchases is not None:
        metadata.update({name: float(v) for name, v in vars(fit.purchases).items()})
        metadata["log-likelihood"] = float(fit.log_likelihood or 0.0)
        metadata["params id"] = fit.params_id
    if fit.spend is not None:
        metadata.update({f"spend {name}": float(v) for name, v in vars(fit.spend).items()})
    if fit.spend_reason:
        metadata["spend reason"] = fit.spend_reason
    metadata["spend customers"] = fit.spend_customers
    return metadata


def sound_check(fit: ModelFit) -> AssetCheckResult:
    problems = fit.problems()
    if problems:
        description = "The churn model's fit is refused: " + "; ".join(problems)
    elif fit.status == FITTED:
        description = "Converged, every parameter within bounds." + (
            f" {fit.spend_reason[0].upper()}{fit.spend_reason[1:]}: predictions go without "
            "order value and CLV."
            if fit.spend_reason
            else ""
        )
    else:
        description = f"Not fitted; churn is judged by the rules alone ({fit.reason})."
    return AssetCheckResult(
        check_name=SOUND_CHECK,
        asset_key=FITS_KEY,
        passed=not problems,
        severity=AssetCheckSeverity.ERROR,
        description=description,
        metadata={"problems": MetadataValue.text("\n".join(problems) or "none")},
    )


def backtest_check(result: Backtest | str, max_error: float) -> AssetCheckResult:
    if isinstance(result, str):
        return AssetCheckResult(
            check_name=BACKTEST_CHECK,
            asset_key=FITS_KEY,
            passed=True,
            severity=AssetCheckSeverity.WARN,
            description=result,
        )
    passed = result.error <= max_error
    description = (
        f"Fitted up to {result.calibration_end}, the model predicts "
        f"{result.predicted:,.1f} repeat orders in the {result.days} days after it for its "
        f"{result.customers:,} customers; they placed {result.actual:,.0f} "
        f"(error {result.error:.1%}, warns above {max_error:.0%})."
    )
    return AssetCheckResult(
        check_name=BACKTEST_CHECK,
        asset_key=FITS_KEY,
        passed=passed,
        severity=AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "calibration end": result.calibration_end.isoformat(),
            "predicted": round(result.predicted, 2),
            "actual": result.actual,
            "error": round(result.error, 4) if result.error != float("inf") else -1.0,
        },
    )


def build_churn_model_asset(shop_timezone: str) -> AssetsDefinition:
    @multi_asset(
        name="churn_model",
        specs=[
            AssetSpec(
                key,
                deps=[ORDERS_KEY],
                group_name=GROUP,
                kinds={"python", "duckdb"},
                description=description,
            )
            for key, description in (
                (
                    FITS_KEY,
                    "BG/NBD and Gamma-Gamma fitted on every customer's order history as of "
                    "the run date: one row per run date, or why not fitted.",
                ),
                (
                    EXPECTED_ORDERS_KEY,
                    "Per distinct (x, T) history: orders expected in the next 90 days and 12 "
                    "months if alive (dbt multiplies them by P(alive)).",
                ),
            )
        ],
        check_specs=[
            AssetCheckSpec(
                SOUND_CHECK,
                asset=FITS_KEY,
                blocking=True,
                description="The fit converged and no parameter ran off towards 0 or "
                "infinity; otherwise nothing is scored with it.",
            ),
            AssetCheckSpec(
                BACKTEST_CHECK,
                asset=FITS_KEY,
                description="Repeat orders predicted for the last backtest days by a fit "
                "on the history before them, against the actual ones.",
            ),
        ],
        pool=WAREHOUSE_POOL,
    )
    def churn_model(
        context: AssetExecutionContext,
        warehouse: DuckDBWarehouse,
        churn_model: ChurnModelSettings,
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        run_date = run_date_of(context, shop_timezone)
        with warehouse.connect() as con:
            fit, history = fit_as_of(con, ORDERS, run_date, churn_model)
            write_fit(con, fit, dt.datetime.now(dt.UTC))
            histories = write_expected_orders(con, fit, history)
            tested = backtest(con, ORDERS, run_date, churn_model)
        context.log.info(
            f"churn model as of {run_date}: {fit.status}"
            + (f" ({fit.reason})" if fit.reason else f" in {fit.seconds:.1f} s")
        )
        yield MaterializeResult(asset_key=FITS_KEY, metadata=fit_metadata(fit))
        yield MaterializeResult(
            asset_key=EXPECTED_ORDERS_KEY, metadata={"dagster/row_count": histories}
        )
        yield sound_check(fit)
        yield backtest_check(tested, churn_model.backtest_max_error)

    return churn_model
