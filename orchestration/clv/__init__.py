"""Predictive customer value: the BG/NBD model of purchase and drop-out (Fader, Hardie and
Lee 2005), fitted on each customer's (frequency, recency, T) summary computed in SQL."""

from orchestration.clv.bgnbd import (
    BgNbdParams,
    expected_purchases,
    fit_bgnbd,
    log_likelihood,
    p_alive,
)
from orchestration.clv.gamma_gamma import (
    GammaGammaParams,
    expected_spend,
    fit_gamma_gamma,
    spend_log_likelihood,
)
from orchestration.clv.summary import grouped_summary, spend_summary

__all__ = [
    "BgNbdParams",
    "GammaGammaParams",
    "expected_purchases",
    "expected_spend",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "grouped_summary",
    "log_likelihood",
    "p_alive",
    "spend_log_likelihood",
    "spend_summary",
]
