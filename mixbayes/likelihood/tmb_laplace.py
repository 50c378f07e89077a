"""Maximum likelihood by the Laplace approximation, in glmmTMB's way, for its families (issue 13).

Parameters: the conditional fixed effects ``beta``, the zero-inflation fixed effects ``beta_zi``, the log
dispersion ``d`` (glmmTMB's ``betad``) and the covariance parameters, stored as lme4's ``theta`` (the relative
Cholesky factor, which for a GLMM without a scale parameter is the Cholesky factor of the covariance of the random
effects) with its diagonal entries on the log scale (``psi = log(theta)``: glmmTMB's log standard deviations for a
scalar term).  For given parameters the inner Newton iteration finds the mode of the joint penalised
log-likelihood in the spherical random effects ``u`` (``b = Lambda u``),

    f(u) = sum_i l_i(eta_i, zeta_i, d) - |u|^2 / 2,   eta = X beta + Z Lambda u + offset,

and the Laplace objective is ``f(u*) - log|H| / 2`` with ``H = Lambda'Z'WZ Lambda + I``, ``W = -d2l/deta2`` (the exact
observed information, as TMB uses).  Its gradient in all parameters is analytic (implicit differentiation of the
mode, the trace of ``H^-1 dH``), apart from the third and mixed per-observation derivatives
(:mod:`.zeroinfl`).  The standard errors come from the Hessian of the Laplace objective in all parameters (central
differences of the gradient), as glmmTMB's ``sdreport``.

The random-effects system is held densely (``n x q``): fine for the few hundred levels these models usually have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize

from ..exceptions import FitError, NotSupportedError
from ..families.tmb import TmbFamily
from .tmb_re import DenseRE, DiagRE
from .zeroinfl import Response, loglik_all, loglik_eta

__all__ = ["TmbEstimate", "TmbProblem", "fit_tmb"]

Array = np.ndarray
_DENSE_LIMIT = 30_000_000  # n * q above which the dense random-effects system would be too large
_PSI_BOUNDS = (-20.0, 10.0)


@dataclass
class TmbProblem:
    """The arrays of a glmmTMB model (what :func:`fit_tmb` optimises)."""

    family: TmbFamily
    response: Response
    X: Array
    offset: Array
    Xzi: Array | None
    Z: Array | None  # (n, q) random-effects model matrix (dense; None with the diagonal fast path)
    L: list[Array]  # dLambda/dtheta_k, each (q, q): Lambda(theta) = sum_k theta_k L_k
    log_theta: Array  # bool: which theta entries are on the log scale (diagonal of the Cholesky factor)
    u: Array = field(default_factory=lambda: np.zeros(0))  # warm start of the inner iteration
    diag: tuple[Array, Array] | None = None  # (codes, z) of a single scalar term: the diagonal fast path
    re: DenseRE | DiagRE = field(init=False)

    def __post_init__(self) -> None:
        q = self.L[0].shape[0]
        self.re = DiagRE(self.diag[0], self.diag[1], q) if self.diag is not None else DenseRE(self.Z, self.L)

    def Lambda(self, theta: Array) -> Array:
        out = np.zeros_like(self.L[0])
        for t, Lk in zip(theta, self.L, strict=True):
            out += t * Lk
        return out

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        return (self.X.shape[1], 0 if self.Xzi is None else self.Xzi.shape[1],
                int(self.family.has_dispersion), len(self.L))

    def unpack(self, x: Array) -> tuple[Array, Array | None, float, Array]:
        p, pz, nd, _ = self.sizes
        beta = x[:p]
        bz = x[p:p + pz] if self.Xzi is not None else None
        d = float(x[p + pz]) if nd else 0.0
        psi = x[p + pz + nd:]
        theta = np.where(self.log_theta, np.exp(psi), psi)
        return beta, bz, d, theta



@dataclass
class LaplaceState:
    """The inner solution at one parameter vector."""

    value: float  # the Laplace log-likelihood
    u: Array
    eta: Array
    zeta: Array | None
    fac: Any


def _inner(prob: TmbProblem, x: Array) -> LaplaceState | None:
    beta, bz, d, theta = prob.unpack(x)
    re = prob.re
    re.set_theta(theta)
    q = re.q
    eta0 = prob.X @ beta + prob.offset
    zeta = None if bz is None else prob.Xzi @ bz
    u = prob.u.copy() if prob.u.shape == (q,) else np.zeros(q)
    fam, resp = prob.family, prob.response
    eta = eta0 + re.mul(u)
    ll, le, lee = loglik_eta(fam, resp, eta, zeta, d)
    f = float(ll.sum() - 0.5 * u @ u)
    for _ in range(200):
        grad = re.tmul(le) - u
        fac = re.factor(-lee)
        if not fac.ok:  # away from the mode the observed information can be indefinite
            fac = re.factor(np.maximum(-lee, 0.0))
        step = fac.solve(grad)
        dec = float(grad @ step)
        t = 1.0
        while True:
            u_new = u + t * step
            eta_new = eta0 + re.mul(u_new)
            l_new, le_new, lee_new = loglik_eta(fam, resp, eta_new, zeta, d)
            f_new = float(l_new.sum() - 0.5 * u_new @ u_new)
            if np.isfinite(f_new) and f_new >= f - 1e-10 * (1.0 + abs(f)):
                break
            t *= 0.5
            if t < 1e-12:
                return None
        u, eta, ll, le, lee, f = u_new, eta_new, l_new, le_new, lee_new, f_new
        if dec < 1e-10 and t == 1.0:
            break
    else:
        return None
    fac = re.factor(-lee)
    if not fac.ok:
        return None
    prob.u = u
    return LaplaceState(f - 0.5 * fac.logdet, u, eta, zeta, fac)


def objective(prob: TmbProblem, x: Array) -> float:
    """Minus the Laplace log-likelihood (inf where the inner problem fails)."""
    st = _inner(prob, x)
    return np.inf if st is None else -st.value


def objective_and_gradient(prob: TmbProblem, x: Array) -> tuple[float, Array]:
    """Minus the Laplace log-likelihood and its gradient.

    With ``h = diag(A H^-1 A')`` and ``a = H^-1 A' r``, ``r = h l_eee / 2`` (how log|H| sees a move of the mode),
    d/dphi of the objective is the partial derivative of the joint log-likelihood plus ``h/2`` times the partial
    derivative of ``l_ee``, plus the move of the mode ``du/dphi = H^-1 d2f/du dphi`` seen through ``a``.
    """
    st = _inner(prob, x)
    if st is None:
        return np.inf, np.zeros_like(x)
    _, _, d, theta = prob.unpack(x)
    re = prob.re
    D = loglik_all(prob.family, prob.response, st.eta, st.zeta, d)
    fac, u = st.fac, st.u
    h = re.leverage(fac)
    r = 0.5 * h * D.l_eee
    a = fac.solve(re.tmul(r))
    Aa = re.mul(a)
    ge = D.l_e + r + D.l_ee * Aa
    parts = [prob.X.T @ ge]
    if prob.Xzi is not None:
        parts.append(prob.Xzi.T @ (D.l_z + 0.5 * h * D.l_eez + D.l_ez * Aa))
    if prob.family.has_dispersion:
        parts.append(np.array([np.sum(D.l_d + 0.5 * h * D.l_eed + D.l_ed * Aa)]))
    gt = re.grad_theta(fac, -D.l_ee, u, a, ge, D.l_e)
    parts.append(np.where(prob.log_theta, gt * theta, gt))
    return -st.value, -np.concatenate(parts)


def gradient(prob: TmbProblem, x: Array) -> Array:
    return objective_and_gradient(prob, x)[1]


def hessian(prob: TmbProblem, x: Array, step: float = 1e-5) -> Array:
    """The Hessian of minus the Laplace log-likelihood: central differences of the analytic gradient."""
    k = len(x)
    Hs = np.empty((k, k))
    u0 = prob.u.copy()
    for j in range(k):
        hj = step * max(1.0, abs(x[j]))
        xp, xm = x.copy(), x.copy()
        xp[j] += hj
        xm[j] -= hj
        prob.u = u0.copy()
        gp = gradient(prob, xp)
        prob.u = u0.copy()
        gm = gradient(prob, xm)
        Hs[:, j] = (gp - gm) / (2 * hj)
    prob.u = u0
    return 0.5 * (Hs + Hs.T)


@dataclass(frozen=True)
class TmbEstimate:
    """The maximum-likelihood fit of a glmmTMB model.

    Attributes
    ----------
    x : the optimum (beta, beta_zi, d, psi); ``psi`` is theta with its diagonal entries on the log scale.
    beta, beta_zi, d, theta : its parts (theta as lme4's relative Cholesky factor).
    loglik : the Laplace log-likelihood at the optimum.
    hessian : Hessian of minus the log-likelihood in ``x``; ``vcov`` its inverse (None if it is singular).
    u, b : spherical and actual conditional modes of the random effects.
    eta, zeta : linear predictors at the modes.
    converged, message, n_eval : optimiser outcome.
    """

    x: Array
    beta: Array
    beta_zi: Array | None
    d: float
    theta: Array
    loglik: float
    hessian: Array
    vcov: Array | None
    u: Array
    b: Array
    eta: Array
    zeta: Array | None
    converged: bool
    message: str
    n_eval: int


def _start(prob: TmbProblem) -> Array:
    """glm-like starting values: the conditional model by IRLS without random effects, the rest at zero."""
    p, pz, nd, nt = prob.sizes
    resp = prob.response
    X, off = prob.X, prob.offset
    keep = ~resp.zero if prob.family.truncated else np.ones(len(resp.y), bool)
    beta = np.zeros(p)
    if prob.family.binomial:
        n = resp.trials
        ybar = (resp.y + 0.5) / (n + 1.0)
        eta = np.log(ybar / (1 - ybar))
    else:
        eta = np.log(resp.y + 0.5)
    for _ in range(8):
        if prob.family.binomial:
            mu = 1 / (1 + np.exp(-eta))
            w = resp.trials * mu * (1 - mu)
            z = eta - off + (resp.y / np.maximum(resp.trials, 1) - mu) / np.maximum(mu * (1 - mu), 1e-10)
        else:
            mu = np.exp(eta)
            w = mu
            z = eta - off + (resp.y - mu) / mu
        w = w * resp.weights * keep
        sw = np.sqrt(w)
        beta = np.linalg.lstsq(X * sw[:, None], z * sw, rcond=None)[0]
        eta = np.clip(X @ beta + off, -30, 30)
    x = np.zeros(p + pz + nd + nt)
    x[:p] = beta
    if pz:
        x[p] = 0.0 if not prob.family.truncated else float(np.log(resp.zero.mean() / (1 - resp.zero.mean())))
    return x


def fit_tmb(prob: TmbProblem, start: Array | None = None, maxiter: int = 1000) -> TmbEstimate:
    """Maximise the Laplace log-likelihood (L-BFGS-B with the analytic gradient, then a Newton step on the
    finite-difference Hessian) and compute the covariance of all parameters."""
    if not prob.L:
        raise NotSupportedError("the glmmTMB families need at least one random-effects term, e.g. (1 | g)")
    n, q = len(prob.response.y), prob.L[0].shape[0]
    if prob.diag is None and n * q > _DENSE_LIMIT:
        raise NotSupportedError(f"{n} observations x {q} random effects is too large for the dense "
                                "random-effects system of the glmmTMB families")
    x0 = _start(prob) if start is None else np.asarray(start, float)
    p, pz, nd, _ = prob.sizes
    bounds = [(None, None)] * (p + pz) + [(-30.0, 30.0)] * nd + [
        _PSI_BOUNDS if lg else (None, None) for lg in prob.log_theta]
    counter = {"n": 0}

    def fun(x: Array) -> tuple[float, Array]:
        counter["n"] += 1
        return objective_and_gradient(prob, x)

    res = optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": maxiter, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 20})
    x = res.x
    if not np.isfinite(res.fun):
        raise FitError("the Laplace approximation failed at the starting values (the inner Newton iteration for "
                       "the random effects did not converge); try other start values or a simpler model")
    lo = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
    free = ~(np.isclose(x, lo) & np.isfinite(lo))
    Hs = hessian(prob, x)
    p, pz, nd, _ = prob.sizes
    free[p + pz + nd:] &= np.diag(Hs)[p + pz + nd:] > 1e-6  # a variance at ~0 (singular fit): no SE for it
    for _ in range(3):  # Newton polish on the parameters that are not at a bound
        g = gradient(prob, x)
        try:
            step = np.zeros_like(x)
            step[free] = -np.linalg.solve(Hs[np.ix_(free, free)], g[free])
        except np.linalg.LinAlgError:
            break
        x_new = x + step
        if objective(prob, x_new) <= objective(prob, x) + 1e-12:
            x = x_new
            if np.max(np.abs(step)) < 1e-7:
                break
        else:
            break
    st = _inner(prob, x)
    assert st is not None
    vcov = None
    try:
        V = np.full_like(Hs, np.nan)
        V[np.ix_(free, free)] = np.linalg.inv(Hs[np.ix_(free, free)])
        vcov = V
    except np.linalg.LinAlgError:
        pass
    beta, bz, d, theta = prob.unpack(x)
    return TmbEstimate(x=x, beta=beta, beta_zi=bz, d=d, theta=theta, loglik=st.value, hessian=Hs, vcov=vcov,
                       u=st.u, b=prob.Lambda(theta) @ st.u, eta=st.eta,
                       zeta=st.zeta, converged=bool(res.success), message=str(res.message), n_eval=counter["n"])

