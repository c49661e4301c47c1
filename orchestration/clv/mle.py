"""Maximum likelihood for the models here: positive parameters, fitted on their logs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize

# Nelder-Mead is restarted from its own optimum until a restart gains nothing: a simplex
# that has collapsed along a ridge of the likelihood (Gamma-Gamma's p and gamma trade off
# along one) stops short of the maximum, and a fresh simplex there walks on.
MAX_RESTARTS = 10
_OPTIONS = {"xatol": 1e-10, "fatol": 1e-10, "maxiter": 20_000, "maxfev": 40_000}


def fit_positive(
    log_likelihood: Callable[[np.ndarray], float], size: int, model: str
) -> tuple[list[float], float]:
    """The `size` positive parameters that maximise `log_likelihood` (a function of the
    parameters) and the maximum. Nelder-Mead on the logs from all ones, as is usual for these
    models, restarted from each optimum until it no longer moves, with tolerances tight
    enough for estimates stable well beyond three digits."""

    # Tolerances relative to the log-likelihood's size (its value at the starting point), not
    # absolute: a million customers' total is ~1e7, whose rounding alone exceeds any absolute
    # tolerance, and the search ran to its evaluation limit.
    at_ones = log_likelihood(np.ones(size))
    scale = abs(at_ones) if np.isfinite(at_ones) and abs(at_ones) > 1 else 1.0

    def objective(logs: np.ndarray) -> float:
        return -log_likelihood(np.exp(logs)) / scale

    result = minimize(objective, np.zeros(size), method="Nelder-Mead", options=_OPTIONS)
    for _ in range(MAX_RESTARTS if result.success else 0):
        again = minimize(objective, result.x, method="Nelder-Mead", options=_OPTIONS)
        if not again.success or again.fun >= result.fun - 1e-9:
            break
        result = again
    if not result.success:
        raise RuntimeError(f"the {model} fit did not converge: {result.message}")
    return [float(v) for v in np.exp(result.x)], -float(result.fun) * scale
