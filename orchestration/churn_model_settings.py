"""The churn model's settings: one Dagster resource, filled from the environment.

Like the quality thresholds it is a resource, so the values show in the Dagster UI beside
every run that used them and a test or the launchpad can override one. It sits in the core:
the settings build it and the model's asset reads it. The thresholds the SQL applies to the
model's output (P(alive) for churn, the CLV discount rate) are dbt vars instead.
"""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field


class ChurnModelSettings(ConfigurableResource):
    """When the BG/NBD and Gamma-Gamma models are fitted, and how their backtest is judged."""

    min_customers: int = Field(
        default=500,
        description="Customers with a completed order needed to fit the models; with fewer, "
        "churn is judged by the rules alone (LIFECYCLE_CLV_MIN_CUSTOMERS).",
    )
    min_history_days: int = Field(
        default=180,
        description="Days of order history (first completed order to the run date) needed "
        "to fit (LIFECYCLE_CLV_MIN_HISTORY_DAYS).",
    )
    min_frequent_customers: int = Field(
        default=50,
        description="Customers with orders on 3 or more days needed to fit: without them the "
        "drop-out process cannot be told apart (LIFECYCLE_CLV_MIN_FREQUENT_CUSTOMERS).",
    )
    backtest_holdout_days: int = Field(
        default=90,
        description="The backtest fits on the history up to this many days before the run "
        "date and predicts the repeat orders of those days (LIFECYCLE_CLV_BACKTEST_DAYS).",
    )
    backtest_max_error: float = Field(
        default=0.25,
        description="The backtest warns when predicted and actual repeat orders in its days "
        "differ by more than this share of the actual (LIFECYCLE_CLV_BACKTEST_MAX_ERROR).",
    )
