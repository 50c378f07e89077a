"""Spline and polynomial bases with R's numbers: ``splines::ns`` and ``stats::poly`` (orthogonal or raw).

Each basis is computed from a state (knots, or the recurrence coefficients of the orthogonal polynomials) that
is fitted once on the training data and reused for new data, as R's ``predict``/``makepredictcall`` do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import DesignError

__all__ = ["ns_basis", "ns_state", "poly_basis", "poly_state"]


def _spline_design(knots: np.ndarray, x: np.ndarray, deriv: int = 0) -> np.ndarray:
    """R's ``splines::splineDesign(knots, x, ord = 4, derivs)``: cubic B-spline basis (or derivatives) at x."""
    from scipy.interpolate import BSpline

    nb = len(knots) - 4
    out = np.empty((len(x), nb))
    for j in range(nb):
        coef = np.zeros(nb)
        coef[j] = 1.0
        spline = BSpline(knots, coef, 3, extrapolate=True)
        out[:, j] = spline(x, nu=deriv) if deriv else spline(x)
    return out


def ns_state(x: np.ndarray, df: Any = None, knots: Any = None, intercept: bool = False,
             boundary_knots: Any = None) -> dict[str, Any]:
    """Knots of ``ns(x, df, knots, intercept, Boundary.knots)`` fitted on ``x``, as R chooses them."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise DesignError("ns() needs at least one finite value")
    if boundary_knots is None:
        boundary = np.array([x.min(), x.max()])
    else:
        boundary = np.sort(np.asarray(boundary_knots, dtype=float).ravel())
        if boundary.shape != (2,):
            raise DesignError("ns(): Boundary.knots must be two numbers")
    if knots is None:
        if df is None:
            interior = np.zeros(0)
        else:
            n_interior = int(df) - 1 - int(bool(intercept))
            if n_interior < 0:
                raise DesignError(f"ns(): df = {df} is too small (at least {1 + int(bool(intercept))})")
            inside = x[(x >= boundary[0]) & (x <= boundary[1])]
            if n_interior > len(inside):
                raise DesignError(f"ns(): df = {df} needs more than the {len(inside)} values inside the boundary "
                                  "knots")
            probs = np.linspace(0, 1, n_interior + 2)[1:-1]
            interior = np.quantile(inside, probs) if n_interior else np.zeros(0)
    else:
        interior = np.sort(np.asarray(knots, dtype=float).ravel())
    return {"knots": interior, "boundary": boundary, "intercept": bool(intercept)}


def ns_basis(x: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    """The natural cubic spline basis of R's ``splines::ns`` at x (linear beyond the boundary knots)."""
    x = np.asarray(x, dtype=float)
    boundary, interior = state["boundary"], state["knots"]
    aknots = np.sort(np.concatenate([np.repeat(boundary, 4), interior]))
    nb = len(aknots) - 4
    basis = np.full((len(x), nb), np.nan)
    finite = np.isfinite(x)
    left = finite & (x < boundary[0])
    right = finite & (x > boundary[1])
    inside = finite & ~left & ~right
    if inside.any():
        basis[inside] = _spline_design(aknots, x[inside])
    for mask, pivot in ((left, boundary[0]), (right, boundary[1])):
        if mask.any():
            piv = np.array([pivot])
            value, slope = _spline_design(aknots, piv)[0], _spline_design(aknots, piv, 1)[0]
            basis[mask] = value[None, :] + (x[mask] - pivot)[:, None] * slope[None, :]
    from scipy.linalg import qr

    const = _spline_design(aknots, boundary, 2)
    if not state["intercept"]:
        const, basis = const[:, 1:], basis[:, 1:]
    q, _ = qr(const.T)
    return basis @ q[:, 2:]


def poly_state(x: np.ndarray, degree: int) -> dict[str, Any]:
    """Recurrence coefficients of R's orthogonal ``poly(x, degree)`` (its ``coefs``: alpha and norm2)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if degree < 1:
        raise DesignError("poly(): the degree must be at least 1")
    if len(np.unique(x)) <= degree:
        raise DesignError(f"poly(): the degree ({degree}) must be less than the number of unique points "
                          f"({len(np.unique(x))})")
    alpha, norm2 = [], [1.0, float(len(x))]
    prev, cur = np.zeros_like(x), np.ones_like(x)
    for k in range(degree):
        a = float(np.sum(x * cur**2) / np.sum(cur**2))
        alpha.append(a)
        nxt = (x - a) * cur - (norm2[-1] / norm2[-2] if k else 0.0) * prev
        prev, cur = cur, nxt
        norm2.append(float(np.sum(cur**2)))
    return {"alpha": np.array(alpha), "norm2": np.array(norm2), "degree": int(degree)}


def poly_basis(x: np.ndarray, state: dict[str, Any] | None, degree: int, raw: bool) -> np.ndarray:
    """R's ``poly(x, degree)`` columns (orthogonal, from ``state``), or ``x^1 .. x^degree`` when raw."""
    x = np.asarray(x, dtype=float)
    if raw:
        return np.column_stack([x**k for k in range(1, degree + 1)])
    assert state is not None
    alpha, norm2 = state["alpha"], state["norm2"]
    cols = [np.ones_like(x), x - alpha[0]]
    for i in range(1, degree):
        cols.append((x - alpha[i]) * cols[i] - (norm2[i + 1] / norm2[i]) * cols[i - 1])
    z = np.column_stack(cols) / np.sqrt(norm2[1:])[None, :]
    return z[:, 1:]
