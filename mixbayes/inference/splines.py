"""Interpolating splines of likelihood profiles, as R's ``splines::interpSpline`` and ``backSpline``.

A :class:`PolySpline` is piecewise cubic in the polynomial form R's ``polySpline`` uses: for knots k_1 < ... < k_n
and coefficients c (n x 4), the value at x in (k_i, k_{i+1}] is sum_j c[i, j] (x - k_i)^j; outside the knots it
is NaN (as R's ``predict`` gives NA).

``interp_spline`` is the natural cubic interpolating spline (second derivative zero at both ends).
``back_spline`` is the monotone inverse R's ``backSpline`` builds from it: knots at the spline's values, slopes
1/f' at the knots, cubic Hermite pieces in between and quadratic end pieces (linear where a quadratic would
curve the wrong way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

__all__ = ["PolySpline", "back_spline", "interp_spline"]


@dataclass(frozen=True)
class PolySpline:
    """A piecewise cubic in polynomial form (knots, (n, 4) coefficients)."""

    knots: np.ndarray
    coefficients: np.ndarray

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        x = np.atleast_1d(np.asarray(x, dtype=float))
        k = self.knots
        out = np.full(x.shape, np.nan)
        # R's cut(x, knots): intervals (k_i, k_{i+1}]; x == k_1 belongs to the first
        i = np.searchsorted(k, x, side="left") - 1
        i[x == k[0]] = 0
        ok = (i >= 0) & (i < len(k) - 1) & np.isfinite(x)
        ii = i[ok]
        dx = x[ok] - k[ii]
        c = self.coefficients
        out[ok] = c[ii, 0] + dx * (c[ii, 1] + dx * (c[ii, 2] + dx * c[ii, 3]))
        return out


def interp_spline(x: np.ndarray, y: np.ndarray) -> PolySpline:
    """Natural cubic interpolating spline of y on x (R's ``interpSpline``); needs at least 4 distinct x."""
    order = np.argsort(x, kind="stable")
    x, y = np.asarray(x, float)[order], np.asarray(y, float)[order]
    if len(x) < 4:
        raise ValueError(f"must have at least 4 points (got {len(x)})")
    if np.any(np.diff(x) <= 0):
        raise ValueError("values of x must be distinct")
    cs = CubicSpline(x, y, bc_type="natural")
    n = len(x)
    coef = np.empty((n, 4))
    coef[:-1, 0] = cs.c[3]
    coef[:-1, 1] = cs.c[2]
    coef[:-1, 2] = cs.c[1]
    coef[:-1, 3] = cs.c[0]
    coef[-1, 1] = cs(x[-1], 1)
    coef[-1, 3] = 0.0
    coef[:, 0] = y
    coef[0, 2] = coef[-1, 2] = 0.0
    return PolySpline(x, coef)


def back_spline(spline: PolySpline) -> PolySpline:
    """The inverse of a monotone :func:`interp_spline` (R's ``backSpline``)."""
    knots = spline.knots
    coeff = spline.coefficients
    nk = len(knots)
    kdiff = np.diff(knots)
    bknots = coeff[:, 0]
    adiff = np.diff(bknots)
    if np.all(adiff < 0):
        reverse = True
    elif np.all(adiff > 0):
        reverse = False
    else:
        raise ValueError("spline must be monotone")
    b = np.zeros_like(coeff)
    b[:, 0] = knots
    with np.errstate(divide="ignore"):
        b[:, 1] = 1.0 / coeff[:, 1]
    for i in range(nk - 1):
        a = np.array([[adiff[i] ** 2, adiff[i] ** 3], [2 * adiff[i], 3 * adiff[i] ** 2]])
        rhs = np.array([kdiff[i] - adiff[i] * b[i, 1], b[i + 1, 1] - b[i, 1]])
        b[i, 2:4] = np.linalg.solve(a, rhs)
    b[nk - 1, 1:4] = np.nan
    if nk > 2:
        b[0, 3] = b[nk - 2, 3] = 0.0
        a0 = np.array([[adiff[0], adiff[0] ** 2], [1.0, 2 * adiff[0]]])
        b[0, 1:3] = np.linalg.solve(a0, np.array([kdiff[0], 1.0 / coeff[1, 1]]))
        b[nk - 2, 2] = (kdiff[nk - 2] - adiff[nk - 2] * b[nk - 2, 1]) / adiff[nk - 2] ** 2
    if b[0, 2] > 0:
        b[0, 2] = 0.0
        b[0, 1] = kdiff[0] / adiff[0]
    if b[nk - 2, 2] < 0:
        b[nk - 2, 2] = 0.0
        b[nk - 2, 1] = kdiff[nk - 2] / adiff[nk - 2]
    if reverse:
        return PolySpline(bknots[::-1].copy(), b[::-1].copy())
    return PolySpline(bknots.copy(), b)
