"""The Gamma-Gamma model of spend per purchase (Fader, Hardie and Lee 2005, "RFM and CLV";
Fader and Hardie, "The Gamma-Gamma Model of Monetary Value", 2013).

A customer's purchases vary around their own mean spend, which varies across customers;
with x repeat purchases of average value m_x, the likelihood has a closed form and the
expected mean spend of the customer is a weighted mean of the population's and their own.
Fitted on repeat customers only (x > 0), whose spend history exists, as in the note.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from orchestration.clv.mle import fit_positive


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float


def spend_log_likelihood(params: GammaGammaParams, x: np.ndarray, m_x: np.ndarray) -> np.ndarray:
    """Each repeat customer's log-likelihood of their average spend m_x over x purchases."""
    p, q, g = params.p, params.q, params.gamma
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(g)
        + (p * x - 1) * np.log(m_x)
        + p * x * np.log(x)
        - (p * x + q) * np.log(g + m_x * x)
    )


def fit_gamma_gamma(
    x: np.ndarray, m_x: np.ndarray, weights: np.ndarray | None = None
) -> tuple[GammaGammaParams, float]:
    """Maximum-likelihood parameters over repeat customers (x > 0, m_x > 0) and the total
    log-likelihood. Spend is fitted in units of its weighted mean: gamma is a scale in the
    spend's currency (about 200 on the sample shop, 15 on CDNOW), and a search started at 1
    far from it can stall on the ridge along which p and gamma trade off. p and q do not
    depend on the unit; gamma and the log-likelihood are returned in the data's own."""
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    keep = (x > 0) & (m_x > 0)
    x, m_x, w = x[keep], m_x[keep], w[keep]
    if not len(x):
        raise ValueError("no repeat customer with a positive spend to fit the spend model on")

    unit = float(np.average(m_x, weights=w))
    scaled = m_x / unit

    def total(values: np.ndarray) -> float:
        return float(np.sum(w * spend_log_likelihood(GammaGammaParams(*values), x, scaled)))

    (p, q, gamma), maximum = fit_positive(total, 3, "Gamma-Gamma")
    # A density of m_x / unit is unit times that of m_x: one log(unit) per customer.
    return GammaGammaParams(p, q, gamma * unit), maximum - float(w.sum()) * np.log(unit)


def expected_spend(params: GammaGammaParams, x: np.ndarray, m_x: np.ndarray) -> np.ndarray:
    """A customer's expected spend per purchase: (gamma + x m_x) p / (p x + q - 1); the
    population mean p gamma / (q - 1) for a customer with no repeat purchase."""
    p, q, g = params.p, params.q, params.gamma
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    return (g + x * m_x) * p / (p * x + q - 1)
