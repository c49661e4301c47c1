"""Maximum likelihood for the models here: positive parameters, fitted on their logs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize


def fit_positive(
    log_likelihood: Callable[[np.ndarray], float], size: int, model: str
) -> tuple[list[float], float]:
    """The `size` positive parameters that maximise `log_likelihood` (a function of the
    parameters) and the maximum. Nelder-Mead on the logs from all ones, as is usual for these
    models, with tolerances tight enough for estimates stable well beyond three digits."""
    result = minimize(
        lambda logs: -log_likelihood(np.exp(logs)),
        np.zeros(size),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 20_000, "maxfev": 40_000},
    )
    if not result.success:
        raise RuntimeError(f"the {model} fit did not converge: {result.message}")
    return [float(v) for v in np.exp(result.x)], -float(result.fun)
