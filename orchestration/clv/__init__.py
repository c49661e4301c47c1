"""Predictive customer value: the BG/NBD model of purchase and drop-out (Fader, Hardie and
Lee 2005), fitted on each customer's (frequency, recency, T) summary computed in SQL."""

from orchestration.clv.bgnbd import (
    BgNbdParams,
    expected_purchases,
    fit_bgnbd,
    log_likelihood,
    p_alive,
)
from orchestration.clv.summary import grouped_summary

__all__ = [
    "BgNbdParams",
    "expected_purchases",
    "fit_bgnbd",
    "grouped_summary",
    "log_likelihood",
    "p_alive",
]
