"""Complete and quasi-complete separation in binomial models, found by linear programming (Konis 2007).

Separation exists when some non-zero direction d of the fixed effects has x_i'd >= 0 for every observation with
only successes, x_i'd <= 0 for every observation with only failures, and x_i'd = 0 where both occur: along d the
likelihood keeps increasing, so the estimate runs off to infinity.  The LP maximises the total margin with d in
[-1, 1]^p; a positive optimum means separation, and the non-zero entries of d name the coefficients.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

__all__ = ["separated_columns"]


def separated_columns(X: np.ndarray, successes: np.ndarray, trials: np.ndarray, names: tuple[str, ...],
                      tol: float = 1e-7) -> list[str]:
    """Names of the fixed effects along which the binomial data are separated (empty if none)."""
    ok = trials > 0
    X, s, n = X[ok], successes[ok], trials[ok]
    if X.shape[1] == 0:
        return []
    scale = np.maximum(np.abs(X).max(axis=0), 1e-12)
    Xs = X / scale
    all_succ = s >= n - 1e-9
    all_fail = s <= 1e-9
    mixed = ~(all_succ | all_fail)
    sign = np.where(all_succ, 1.0, -1.0)
    A_ub = -(sign[~mixed, None] * Xs[~mixed])
    b_ub = np.zeros(A_ub.shape[0])
    A_eq = Xs[mixed] if mixed.any() else None
    b_eq = np.zeros(int(mixed.sum())) if mixed.any() else None
    c = -(sign[~mixed, None] * Xs[~mixed]).sum(axis=0)
    res = linprog(c, A_ub=A_ub if len(A_ub) else None, b_ub=b_ub if len(A_ub) else None, A_eq=A_eq, b_eq=b_eq,
                  bounds=[(-1, 1)] * X.shape[1], method="highs")
    if res.status != 0 or -res.fun <= tol * max(1, len(s)):
        return []
    d = res.x
    return [names[j] for j in range(len(names)) if abs(d[j]) > 1e-6]
