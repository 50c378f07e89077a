"""Linear mixed models: the profiled REML criterion / deviance, and the fit.

With L the blocked Cholesky factor (see :mod:`.factor`), n observations, p fixed effects, prior weights w and
pwrss the penalised weighted residual sum of squares (lme4's ``lmerResp::Laplace``):

    ML:    d(theta) = log|L_theta|^2 - sum log w + n (1 + log(2 pi pwrss / n))
    REML:  d(theta) = log|L_theta|^2 - sum log w + log|R_X|^2 + (n - p)(1 + log(2 pi pwrss / (n - p)))

and sigma^2 = pwrss / n (ML) or pwrss / (n - p) (REML).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..design.matrices import ModelMatrices
from ..design.terms import lambda_times
from ..exceptions import DesignError, ResponseError
from ..warn import warn_user
from .convergence import ConvergenceReport, check_convergence
from .crossprod import CrossProductPlan
from .factor import BlockedFactor, NotPositiveDefinite
from .gradient import lmm_gradient, lmm_hessian
from .optimizers import OptSummary, minimize, snap_to_bounds
from .robust import needs_restart, restart

__all__ = ["LmmControl", "LmmObjective", "fit_lmm"]


@dataclass(kw_only=True)
class LmmControl:
    """Settings of the likelihood fit (cf. ``lmerControl``).

    optimizer : registry name (see ``mixbayes.likelihood.optimizers.OPTIMIZERS``), ``lbfgsb_grad`` (L-BFGS-B with
        the analytic gradient) or ``auto`` (default): ``lbfgsb_grad`` for models with at least
        GRADIENT_MIN_THETA covariance parameters and a cheap gradient, BOBYQA otherwise (where it is faster).
    maxeval : evaluation limit.
    restart_edge : restart when theta ends on the boundary with a negative one-sided derivative.
    boundary_tol : snap theta within this distance of its bound onto the bound when that is no worse.
    check_nlev : ``"stop"``/``"warning"``/``"ignore"`` when a grouping factor has as many levels as observations.
    check_nobs_vs_nre : the same when a term has at least as many random effects as there are observations.
    calc_derivs : compute gradient/Hessian at the optimum for the convergence checks.
    blas_threads : BLAS threads for the dense factorisations (None: 1 thread for moderate blocks).
    settings : extra optimiser settings (``ftol_rel``, ``xtol_abs``, ``initial_step`` ...).
    robust : after a stop on the boundary or with a degenerate Hessian, restart and keep the best optimum
        (:mod:`mixbayes.likelihood.robust`; recorded in ``optsummary.strategy``).
    """

    optimizer: str = "auto"
    maxeval: int = 100000
    restart_edge: bool = True
    boundary_tol: float = 1e-5
    check_nlev: str = "stop"
    check_nobs_vs_nre: str = "stop"
    calc_derivs: bool = True
    blas_threads: int | None = None
    settings: dict[str, float] = field(default_factory=dict)
    robust: bool = True

    @classmethod
    def from_any(cls, control: Any) -> LmmControl:
        from ..arguments import control_from

        return control_from(cls, control)


class LmmObjective:
    """The profiled objective of a linear mixed model, with the factor it updates."""

    def __init__(self, design: ModelMatrices, reml: bool, y: np.ndarray | None = None) -> None:
        if design.n_obs <= design.n_fixef:
            raise DesignError(f"{design.n_obs} observations cannot estimate {design.n_fixef} fixed effects")
        self.design = design
        self.reml = reml
        self.n = design.n_obs
        self.p = design.n_fixef
        self.plan = CrossProductPlan(design.terms, design.n_fixef)
        blocks = getattr(design, "blocks", None)
        if blocks is not None:  # out-of-core data: the blocks were summed over the partitions
            if y is not None and y is not design.y:
                from ..exceptions import NotSupportedError

                raise NotSupportedError("a design of Dask data carries its blocks, not its rows: a new response "
                                        "cannot be given")
            self.y = design.y
            self.cp = blocks.cp
            self.log_w = float(blocks.log_w)
        else:
            self.y = design.y if y is None else np.asarray(y, dtype=float)
            w = design.weights
            self.cp = self.plan.compute(design.X, self.y - design.offset, w)
            self.log_w = float(np.sum(np.log(w[w > 0])))
        self.factor = BlockedFactor(self.plan, self.cp)

    def set_response(self, y: np.ndarray) -> None:
        """Use a new response (same design): recompute the cross-products, keep the plan (for refits)."""
        if getattr(self.design, "blocks", None) is not None:
            from ..exceptions import NotSupportedError

            raise NotSupportedError("refits with a new response need the rows in memory (not Dask data)")
        self.y = np.asarray(y, dtype=float)
        self.cp = self.plan.compute(self.design.X, self.y - self.design.offset, self.design.weights)
        self.factor.set_crossproducts(self.cp)

    def __call__(self, theta: np.ndarray) -> float:
        try:
            self.factor.update(theta)
        except NotPositiveDefinite:
            return np.inf
        return self.from_factor()

    def from_factor(self) -> float:
        f = self.factor
        pwrss = f.pwrss
        if self.reml:
            nmp = self.n - self.p
            return f.logdet_theta - self.log_w + f.logdet_X + nmp * (1.0 + np.log(2.0 * np.pi * pwrss / nmp))
        return f.logdet_theta - self.log_w + self.n * (1.0 + np.log(2.0 * np.pi * pwrss / self.n))

    def sigma(self) -> float:
        """Residual SD at the factor's current theta."""
        return float(np.sqrt(self.factor.pwrss / (self.n - self.p if self.reml else self.n)))

    def deviance_varpar(self, varpar: np.ndarray) -> float:
        """The objective as a function of (theta, sigma), profiled over beta only (lmerTest's ``devfun_vp``; with
        ML, lme4's ``devfun2`` for profiles).  Raises :class:`NotPositiveDefinite` where the factor fails."""
        theta, sigma = varpar[:-1], varpar[-1]
        s2 = sigma * sigma
        self.factor.update(theta)
        f = self.factor
        dev = f.logdet_theta - self.log_w + f.pwrss / s2 + self.n * np.log(2 * np.pi * s2)
        if self.reml:
            dev += f.logdet_X - self.p * np.log(2 * np.pi * s2)
        return float(dev)

    def vcov_beta_varpar(self, varpar: np.ndarray) -> np.ndarray:
        """sigma^2 (R_X'R_X)^{-1} at (theta, sigma)."""
        self.factor.update(varpar[:-1])
        return varpar[-1] ** 2 * self.factor.unscaled_vcov_beta()


def _check_identifiable(design: ModelMatrices, control: LmmControl) -> None:
    n = design.n_obs
    for t in design.terms:
        for setting, bad, msg in (
            (control.check_nlev, t.n_levels >= n,
             f"number of levels of each grouping factor must be < number of observations (problems: {t.group}); "
             "the residual variance cannot be separated from a term with one level per observation"),
            (control.check_nobs_vs_nre, t.n_random >= n and t.n_levels < n,
             f"number of observations (={n}) <= number of random effects (={t.n_random}) for term {t.expr}; the "
             "random-effects parameters and the residual variance are probably unidentifiable"),
        ):
            if not bad or setting == "ignore":
                continue
            if setting == "stop":
                raise DesignError(msg + " (pass control={'check_nlev': 'ignore'} to fit anyway)")
            from ..exceptions import DesignWarning

            warn_user(msg, DesignWarning)


def blas_limit(design: ModelMatrices, threads: int | None = None) -> Any:
    """BLAS thread limit for work on ``design``: one thread unless the dense block is large (OpenBLAS threads on
    small matrices only add wake-up latency, which is severe on shared 2-core machines)."""
    if threads is None:
        dense = sum(t.n_random for t in design.terms[1:]) + design.n_fixef + 1
        threads = 1 if dense < 3000 else None
    controller = _blas_controller()
    return controller.limit(limits=threads, user_api="blas") if threads else controller.limit(limits=None)


_CONTROLLER: list[Any] = []


def _blas_controller() -> Any:
    """One threadpoolctl controller per process: finding the loaded BLAS libraries takes ~2 ms, longer than
    fitting a small model."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


@dataclass(kw_only=True, eq=False)
class LmmEstimate:
    """What :func:`fit_lmm` returns: the estimates of a linear mixed model, and the objective they optimise.

    :class:`~mixbayes.results.lmm.LmmFit` wraps one (``fit.estimate``), and ``mixbayes.inference`` works on it and
    on the design, never on the fit's private members.

    Attributes
    ----------
    objective : the profiled REML/ML objective of theta, holding the design, the response and the factor.
    theta : (n_theta,) relative covariance parameters at the optimum.
    beta : (p,) fixed effects.
    u, b : spherical and scaled random effects (b = Lambda(theta) u), level-major within each term.
    sigma : residual standard deviation.
    fmin : the objective at the optimum (-2 REML log-likelihood, or the deviance for ML).
    optsummary : the optimiser record.
    gradient, hessian : finite-difference derivatives of the objective at theta (zeros when not computed).
    report : the convergence report.
    unscaled_vcov : (p, p) covariance of beta divided by sigma^2.
    varpar_derivs : cache of :func:`mixbayes.inference.satterthwaite.varpar_derivatives` (None until computed).
    kr_adjustment : cache of :func:`mixbayes.inference.kenward_roger.kenward_roger_adjustment` (None until
        computed).
    """

    objective: LmmObjective
    theta: np.ndarray
    beta: np.ndarray
    u: np.ndarray
    b: np.ndarray
    sigma: float
    fmin: float
    optsummary: OptSummary
    gradient: np.ndarray
    hessian: np.ndarray
    report: ConvergenceReport
    unscaled_vcov: np.ndarray
    varpar_derivs: Any = field(default=None, repr=False)
    kr_adjustment: Any = field(default=None, repr=False)

    @property
    def vcov(self) -> np.ndarray:
        """(p, p) covariance of the fixed effects, sigma^2 times :attr:`unscaled_vcov`."""
        return self.sigma**2 * self.unscaled_vcov


EXPENSIVE_RANDOM = 1000


def _size_settings(design: ModelMatrices) -> dict[str, float]:
    """Stopping rule by cost: when a deviance evaluation means a dense factorisation of more than
    EXPENSIVE_RANDOM random effects (outside the first term), also stop once the relative change of the
    objective is below 1e-12 (the REML criterion then agrees to ~1e-12, theta to ~1e-5 relative); otherwise only
    the x tolerance (1e-8) stops BOBYQA, which small models need to reach theta to ~1e-7."""
    if sum(t.n_random for t in design.terms[1:]) > EXPENSIVE_RANDOM:
        return {"ftol_rel": 1e-12}
    return {}


GRADIENT_MIN_THETA = 6


def _cheap_gradient(design: ModelMatrices) -> bool:
    """The gradient costs about one factorisation of the dense block: cheap unless that block is large."""
    return sum(t.n_random for t in design.terms[1:]) + design.n_fixef <= EXPENSIVE_RANDOM


def resolve_optimizer(design: ModelMatrices, name: str) -> str:
    """``auto``: L-BFGS-B with the analytic gradient where it needs fewer, cheap evaluations (many covariance
    parameters, where BOBYQA's evaluation count grows quadratically), BOBYQA otherwise."""
    if name != "auto":
        return name
    return "lbfgsb_grad" if len(design.theta0) >= GRADIENT_MIN_THETA and _cheap_gradient(design) else "bobyqa"


def optimize_theta(objective: Any, design: ModelMatrices, control: LmmControl, start: np.ndarray | None = None,
                   lower: np.ndarray | None = None) -> OptSummary:
    """BOBYQA or L-BFGS-B (``control.optimizer``) over theta with lme4's ``restart_edge`` and ``check.boundary``,
    and the restarts of :mod:`.robust` after a stop on the boundary."""
    lower = design.lower if lower is None else lower
    x0 = design.theta0 if start is None else np.asarray(start, dtype=float)
    settings = {"maxeval": control.maxeval, **_size_settings(design), **control.settings}
    grad = (lambda th: lmm_gradient(objective, th)) if isinstance(objective, LmmObjective) else None
    optimizer = resolve_optimizer(design, control.optimizer)
    if optimizer == "lbfgsb_grad" and grad is None:
        optimizer = "bobyqa"
    summary = minimize(objective, x0, lower, optimizer=optimizer, settings=settings, grad=grad)
    if optimizer == "none":
        return summary
    if control.restart_edge:
        theta = summary.final
        at_bound = np.where(np.isfinite(lower) & (theta == lower))[0]
        if len(at_bound):
            d0 = objective(theta)
            btol = 1e-5
            grads = []
            for i in at_bound:
                th = theta.copy()
                th[i] = lower[i] + btol
                grads.append((objective(th) - d0) / btol)
            if any(g < 0 for g in grads):
                summary.restarts.append("theta on the boundary with a negative derivative: restarted")
                summary = minimize(objective, theta, lower, optimizer=optimizer, settings=settings,
                                   summary=summary, grad=grad)
    if control.robust and needs_restart(summary.final, lower):
        rgrad = grad if grad is not None and _cheap_gradient(design) else None
        summary = restart(objective, summary, lower, x0, "stopped on the boundary", rgrad, settings)
    return snap_to_bounds(objective, summary, lower, control.boundary_tol, "theta[{i}]")


def _check_residual(design: ModelMatrices, y: np.ndarray) -> None:
    """A response the fixed effects fit exactly (e.g. a constant one) leaves no residual variance: the likelihood is
    unbounded (lme4 returns sigma = 0 without a word).  That is a typed error here."""
    blocks = getattr(design, "blocks", None)
    if blocks is not None:  # out-of-core data: only [X y]'W[X y] is at hand (normal equations, looser tolerance)
        a = blocks.cp.Arr[-(design.n_fixef + 1):, -(design.n_fixef + 1):]
        xtx, xty, yty = a[:-1, :-1], a[:-1, -1], float(a[-1, -1])
        rss = yty - float(xty @ np.linalg.lstsq(xtx, xty, rcond=None)[0]) if design.n_fixef else yty
        exact = rss <= 1e-12 * max(yty, 1e-300)
        what = "is constant or fitted exactly by the fixed effects"
    else:
        sw = np.sqrt(design.weights)
        X, yw = design.X * sw[:, None], y * sw
        resid = yw - X @ np.linalg.lstsq(X, yw, rcond=None)[0] if X.shape[1] else yw
        exact = float(np.linalg.norm(resid)) <= 1e-10 * max(float(np.linalg.norm(yw)), 1e-300)
        what = "is constant" if np.all(y == y[0]) else "is fitted exactly by the fixed effects"
    if exact:
        raise ResponseError(
            f"the response {design.response_name!r} {what}: no residual variation is left, so the residual SD is "
            "0 and the likelihood is unbounded. Check the response column (and the subset of rows used)")


def _degenerate(hess: np.ndarray, theta: np.ndarray, lower: np.ndarray) -> bool:
    """Whether the Hessian over the parameters off their bounds has a (numerically) non-positive eigenvalue."""
    free = ~(np.isfinite(lower) & (theta - lower <= 1e-4))
    if not free.any():
        return False
    ev = np.linalg.eigvalsh(hess[np.ix_(free, free)])
    return bool(ev[0] <= 1e-6 * max(abs(ev[-1]), 1.0))


def fit_lmm(design: ModelMatrices, reml: bool = True, control: Any = None, start: np.ndarray | None = None,
            y: np.ndarray | None = None, emit_warnings: bool = True) -> LmmEstimate:
    """Fit a linear mixed model by REML or ML."""
    control = LmmControl.from_any(control)
    if not design.family.is_lmm:
        raise DesignError("fit_lmm fits Gaussian models with the identity link; use the GLMM engine")
    _check_identifiable(design, control)
    objective = LmmObjective(design, reml, y)  # checks that there are more observations than fixed effects
    _check_residual(design, design.y if y is None else np.asarray(y, dtype=float))
    with blas_limit(design, control.blas_threads):
        summary = optimize_theta(objective, design, control, start)
        theta = summary.final
        fmin = objective(theta)
        summary.fmin = fmin
        if control.calc_derivs:
            grad = lmm_gradient(objective, theta)
            hess = lmm_hessian(objective, theta, design.lower, grad=grad)
            if control.robust and control.optimizer != "none" and _degenerate(hess, theta, design.lower) \
                    and not summary.strategy:
                summary = restart(objective, summary, design.lower, summary.initial, "degenerate Hessian",
                                  (lambda th: lmm_gradient(objective, th)) if _cheap_gradient(design) else None,
                                  {"maxeval": control.maxeval, **_size_settings(design), **control.settings})
                if summary.final is not theta and not np.array_equal(summary.final, theta):
                    theta = summary.final
                    fmin = objective(theta)
                    summary.fmin = fmin
                    grad = lmm_gradient(objective, theta)
                    hess = lmm_hessian(objective, theta, design.lower, grad=grad)
        else:
            grad, hess = np.zeros(len(theta)), np.zeros((len(theta), len(theta)))
        objective(theta)
        beta, u = objective.factor.solve()
        b = lambda_times(design.terms, theta, u)
        sigma = objective.sigma()
        unscaled = objective.factor.unscaled_vcov_beta()
        report = check_convergence(design, theta, design.lower, grad, hess, control.optimizer, summary.feval,
                                   summary.converged, summary.message, control.maxeval, emit=emit_warnings)
    return LmmEstimate(objective=objective, theta=theta, beta=beta, u=u, b=b, sigma=sigma, fmin=fmin,
                       optsummary=summary, gradient=grad, hessian=hess, report=report, unscaled_vcov=unscaled)
