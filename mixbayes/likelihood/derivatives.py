"""Finite-difference derivatives.

``deriv12`` follows lme4's ``deriv12`` (central differences with step 1e-4, the mixed second derivatives from
four points; one-sided at bounds), which lme4 uses for its convergence checks and the GLMM standard errors.
``richardson_gradient``/``richardson_hessian``/``richardson_jacobian`` follow
numDeriv's Richardson extrapolation (lmerTest uses numDeriv for Satterthwaite's method).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["deriv12", "richardson_hessian", "richardson_jacobian"]


def deriv12(
    fun: Callable[[np.ndarray], float],
    x: np.ndarray,
    delta: float = 1e-4,
    fx: float | None = None,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian by central differences, as lme4's ``deriv12``.  Where the objective is infinite nearby
    the entries are inf or NaN (no RuntimeWarning): the convergence checks report them."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return _deriv12(fun, np.asarray(x, dtype=float), delta, fx, lower, upper)


def _deriv12(fun: Callable[[np.ndarray], float], x: np.ndarray, delta: float, fx: float | None,
             lower: np.ndarray | None, upper: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    n = len(x)
    lower = np.full(n, -np.inf) if lower is None else lower
    upper = np.full(n, np.inf) if upper is None else upper
    f0 = fun(x) if fx is None else fx
    grad = np.zeros(n)
    hess = np.zeros((n, n))
    fadd = np.zeros(n)
    fsub = np.zeros(n)
    for i in range(n):
        xa, xs = x.copy(), x.copy()
        xa[i] = min(x[i] + delta, upper[i])
        xs[i] = max(x[i] - delta, lower[i])
        fadd[i] = fun(xa)
        fsub[i] = fun(xs)
        da, ds = xa[i] - x[i], x[i] - xs[i]
        if ds == 0:
            grad[i] = (fadd[i] - f0) / da
            hess[i, i] = np.nan
        else:
            grad[i] = (fadd[i] - fsub[i]) / (da + ds)
            hess[i, i] = ((fadd[i] - f0) / da - (f0 - fsub[i]) / ds) / ((da + ds) / 2)
        for j in range(i):
            dj, dsj = min(x[j] + delta, upper[j]) - x[j], x[j] - max(x[j] - delta, lower[j])
            if ds == 0 or dsj == 0:  # at a bound: forward differences
                xaa = x.copy()
                xaa[i] += da
                xaa[j] += dj
                hess[i, j] = hess[j, i] = (fun(xaa) - fadd[i] - fadd[j] + f0) / (da * dj)
                continue
            # lme4's deriv12: four-point central differences
            corners = []
            for si, sj in ((da, dj), (da, -dsj), (-ds, dj), (-ds, -dsj)):
                xc = x.copy()
                xc[i] += si
                xc[j] += sj
                corners.append(fun(xc))
            hess[i, j] = hess[j, i] = (corners[0] - corners[1] - corners[2] + corners[3]) / ((da + ds) * (dj + dsj))
    # lme4 fills Hessian diagonal entries at a bound by forward differences
    for i in range(n):
        if np.isnan(hess[i, i]):
            xa2 = x.copy()
            xa2[i] = x[i] + 2 * delta
            hess[i, i] = (fun(xa2) - 2 * fadd[i] + f0) / delta**2
    return grad, hess


ZERO_TOL = float(np.sqrt(np.finfo(float).eps / 7e-7))


def _richardson_reduce(a: list[np.ndarray]) -> np.ndarray:
    """numDeriv's Richardson improvement of estimates at steps h, h/2, h/4, ..."""
    a = list(a)
    r = len(a)
    for m in range(1, r):
        four = 4.0**m
        for k in range(r - m):
            a[k] = (a[k + 1] * four - a[k]) / (four - 1)
    return a[0]


def _h0(x: np.ndarray, d: float, eps: float = 1e-4) -> np.ndarray:
    return np.abs(d * x) + eps * (np.abs(x) < ZERO_TOL)


def richardson_jacobian(fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray, d: float = 1e-4,
                        r: int = 4) -> np.ndarray:
    """Jacobian (outputs x inputs), as ``numDeriv::jacobian`` (Richardson, d = 1e-4, r = 4, v = 2)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    h = _h0(x, d)
    est: list[list[np.ndarray]] = [[] for _ in range(n)]
    for _ in range(r):
        for i in range(n):
            e = np.zeros(n)
            e[i] = h[i]
            est[i].append((np.ravel(fun(x + e)) - np.ravel(fun(x - e))) / (2 * h[i]))
        h = h / 2.0
    return np.column_stack([_richardson_reduce(col) for col in est])


def richardson_hessian(fun: Callable[[np.ndarray], float], x: np.ndarray, d: float = 0.1, r: int = 4) -> np.ndarray:
    """Hessian, as ``numDeriv::hessian`` (Bates-Watts D matrix by ``genD``: Richardson, d = 0.1, r = 4)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    h0 = _h0(x, d)
    f0 = float(fun(x))
    hdiag = np.zeros(n)
    for i in range(n):
        h = h0.copy()
        approx = []
        for _ in range(r):
            e = np.zeros(n)
            e[i] = h[i]
            approx.append(np.array((fun(x + e) - 2 * f0 + fun(x - e)) / h[i] ** 2))
            h = h / 2.0
        hdiag[i] = float(_richardson_reduce(approx))
    hess = np.diag(hdiag)
    for i in range(n):
        for j in range(i):
            h = h0.copy()
            approx = []
            for _ in range(r):
                e = np.zeros(n)
                e[i] += h[i]
                e[j] += h[j]
                approx.append(np.array((fun(x + e) - 2 * f0 + fun(x - e) - hdiag[i] * h[i] ** 2 - hdiag[j] * h[j] ** 2)
                                       / (2 * h[i] * h[j])))
                h = h / 2.0
            hess[i, j] = hess[j, i] = float(_richardson_reduce(approx))
    return hess
