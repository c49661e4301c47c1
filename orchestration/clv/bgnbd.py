"""The BG/NBD model (Fader, Hardie and Lee, "Counting Your Customers the Easy Way", 2005).

While alive, a customer buys at a Poisson rate drawn from Gamma(r, alpha); after each
purchase they drop out with a probability drawn from Beta(a, b). A customer's history is
summed up as x (repeat purchases), t_x (time of the last purchase after the first) and T
(time since the first purchase), all in one time unit. The likelihood (the paper's
equation 6) is fitted by maximum likelihood on grouped summaries: identical (x, t_x, T)
triples are one row with a weight, so a million customers cost a few hundred thousand rows.
Written with scipy rather than taken from a library: pymc-marketing's 1.x needs Python 3.12
(this project supports 3.11) and `lifetimes` is unmaintained; the tests check the fit against
the paper's published estimates on its own data (CDNOW) and against lifetimes on the same
customers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, hyp2f1

from orchestration.clv.mle import fit_positive


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


def log_likelihood(
    params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """Each summary's log-likelihood (the paper's equation 6, in logs)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    ln_a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    ln_a3 = -(r + x) * np.log(alpha + big_t)
    repeat = x > 0
    ln_a4 = np.full_like(x, -np.inf)
    ln_a4[repeat] = (
        np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    )
    return ln_a1 + ln_a2 + np.logaddexp(ln_a3, ln_a4)


def fit_bgnbd(
    x: np.ndarray,
    t_x: np.ndarray,
    big_t: np.ndarray,
    weights: np.ndarray | None = None,
) -> tuple[BgNbdParams, float]:
    """Maximum-likelihood parameters and the total log-likelihood of the (weighted) summaries."""
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    values, maximum = fit_positive(total_log_likelihood(x, t_x, big_t, w), 4, "BG/NBD")
    return BgNbdParams(*values), maximum


def total_log_likelihood(
    x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, weights: np.ndarray
) -> Callable[[np.ndarray], float]:
    """The weighted total of `log_likelihood` as a function of (r, alpha, a, b), for the
    fit's thousands of evaluations. Histories in days share few distinct values of x, t_x
    and T (a million customers over two years: a few hundred each), so every gamma function
    and logarithm is taken once per distinct value and looked up per row; only the final
    log-sum-exp is computed per row."""
    xs, xi = np.unique(x, return_inverse=True)
    tx_values, txi = np.unique(t_x, return_inverse=True)
    t_values, ti = np.unique(big_t, return_inverse=True)
    repeat = x > 0
    repeat_xs = np.where(xs > 0, xs, 1.0)  # x - 1 + b is only taken where x > 0

    def total(values: np.ndarray) -> float:
        r, alpha, a, b = values
        by_x = gammaln(r + xs) + gammaln(b + xs) - gammaln(a + b + xs)
        constant = -gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b)
        ln_a3 = -(r + x) * np.log(alpha + t_values)[ti]
        ln_a4 = np.where(
            repeat,
            (np.log(a) - np.log(b + repeat_xs - 1))[xi] - (r + x) * np.log(alpha + tx_values)[txi],
            -np.inf,
        )
        rows = by_x[xi] + np.logaddexp(ln_a3, ln_a4)
        return float(np.dot(weights, rows) + constant * weights.sum())

    return total


def p_alive(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """The probability that a customer with this history is still alive (the paper's eq. 11);
    1 for a customer with no repeat purchase, whom the model cannot have seen drop out."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    odds = np.zeros_like(x)
    repeat = x > 0
    odds[repeat] = (a / (b + x[repeat] - 1)) * (
        (alpha + big_t[repeat]) / (alpha + t_x[repeat])
    ) ** (r + x[repeat])
    return 1.0 / (1.0 + odds)


def expected_if_alive(
    params: BgNbdParams, t: float, x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """The expected number of purchases in the next `t` units of a customer with `x` repeat
    purchases over `big_t` units, were they certainly alive: the paper's equation 10 without
    its P(alive) factor, which depends on recency only. Its 2F1 is taken through Euler's
    transformation, (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z): the same
    value, without the huge 2F1 times the tiny power that the direct form multiplies for
    frequent buyers (z near 1)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, big_t = (np.asarray(v, dtype=float) for v in (x, big_t))
    z = t / (alpha + big_t + t)
    series = (1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    return (a + b + x - 1) / (a - 1) * (1 - series)


def expected_purchases(
    params: BgNbdParams, t: float, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """The expected number of purchases in the next `t` units of a customer with this
    history (the paper's equation 10): expected if alive, times P(alive)."""
    return expected_if_alive(params, t, x, big_t) * p_alive(params, x, t_x, big_t)
