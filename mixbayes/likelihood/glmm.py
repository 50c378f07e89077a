"""Generalised linear mixed models: lme4's two-stage fit.

Stage 1 (lme4's nAGQ = 0): optimise theta, with beta estimated alongside the random effects inside PIRLS.
Stage 2 (nAGQ >= 1): optimise (theta, beta) jointly, with PIRLS over the random effects only; the objective is
the Laplace approximation (nAGQ = 1) or adaptive Gauss-Hermite quadrature (nAGQ > 1, one scalar term).
The negative binomial adds log(dispersion) to the stage-2 parameters (glmmTMB's ``nbinom2``: joint Laplace ML).

Gamma and inverse Gaussian: by default (``dispersion="lme4"``) glmer's fit: PIRLS on the unscaled deviance, the
Laplace value from R's ``family$aic`` with phi = deviance / n plugged in, sigma = sqrt((Pearson + |u|^2) / n) and
random-effect SDs sigma * theta.  ``dispersion="ml"`` is glmmTMB's: the exact Laplace approximation (observed
information) of the likelihood with phi a parameter, log(phi) added to the stage-2 parameters, sigma = sqrt(phi)
and random-effect SDs theta.

``control["pirls"]``: ``"lme4"`` (default) evaluates the objective as lme4 does (PIRLS restarted from the
previous stage's linear predictor and stopped at ``tolPwrss`` = 1e-7), which reproduces lme4's numbers;
``"exact"`` converges PIRLS fully (the Laplace approximation at the exact conditional mode; lme4 approaches it
with ``glmerControl(tolPwrss = 1e-13)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..design.matrices import ModelMatrices
from ..design.terms import lambda_times
from ..exceptions import DesignError, FitError, NotSupportedError, ResponseError, SeparationError
from .convergence import ConvergenceReport, check_convergence
from .derivatives import deriv12
from .optimizers import OptSummary, minimize, snap_to_bounds
from .pirls import GlmmWorkspace, PirlsFailure, gauss_hermite

__all__ = ["GlmmControl", "GlmmEstimate", "deviance_function", "fit_glmm", "objective_function"]


@dataclass(kw_only=True)
class GlmmControl:
    """Settings of a GLMM fit (cf. ``glmerControl``).

    optimizer : stage-2 strategy: ``"nm_bobyqa"`` (default: lme4's Nelder-Mead, then a BOBYQA polish),
        ``"nm_lme4"``, ``"bobyqa_nm"``, or any optimiser of ``OPTIMIZERS`` alone (stage 1 uses BOBYQA).
    stage1_settings : optimiser settings of stage 1 when it only supplies starting values (nAGQ >= 1); by default
        those of a full fit: stage 2 restarts PIRLS from stage 1's predictor, so a loose stage 1 makes stage 2's
        objective (and its finite-difference Hessian, hence the SEs) noisier than lme4's.
    pirls : ``"lme4"`` or ``"exact"`` (see the module notes).
    tol_pwrss : lme4's ``tolPwrss``.
    boundary_tol, check_nobs_vs_nre, calc_derivs, maxeval, settings : as for the LMM.
    dispersion : Gamma and inverse Gaussian: ``"lme4"`` (glmer's convention) or ``"ml"`` (glmmTMB's exact Laplace
        with the dispersion estimated by maximum likelihood); see the module notes and docs/gamma.md.
    """

    optimizer: str = "nm_bobyqa"
    dispersion: str = "lme4"
    pirls: str = "lme4"
    tol_pwrss: float = 1e-7
    maxeval: int = 100000
    boundary_tol: float = 1e-5
    check_nobs_vs_nre: str = "stop"
    calc_derivs: bool = True
    settings: dict[str, float] = field(default_factory=dict)
    stage1_settings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_any(cls, control: Any) -> GlmmControl:
        from ..arguments import control_from

        return control_from(cls, control)


@dataclass(kw_only=True, eq=False)
class GlmmEstimate:
    """What :func:`fit_glmm` returns: the estimates of a GLMM and the workspace that evaluated them.

    :class:`~mixbayes.results.glmm.GlmmFit` wraps one (``fit.estimate``).

    Attributes
    ----------
    workspace : the PIRLS workspace (design, family, current predictor) of the fit.
    nAGQ : 0 (lme4's fast fit), 1 (Laplace) or the number of adaptive Gauss-Hermite points.
    theta, beta : relative covariance parameters and fixed effects.
    u, b : spherical and scaled random effects at the conditional mode.
    nb_theta : the negative binomial's estimated theta (None for the other families).
    objective_value : -2 log-likelihood at the optimum (lme4's conventions).
    vcov : (p, p) Wald covariance of the fixed effects.
    optsummary, stage1 : the optimiser records of the final and the first stage.
    gradient, hessian : derivatives of the objective at the optimum.
    report : the convergence report.
    exact_objective : cache: -2 log-likelihood by the Laplace approximation at the exactly converged conditional
        mode (NaN until :meth:`~mixbayes.results.glmm.GlmmFit.exact_laplace` computes it).
    mu, eta : fitted means and linear predictor.
    stage_start : per optimisation stage, the linear predictor PIRLS started from.
    sigma : residual SD of a Gaussian GLMM or lme4's sigma of a Gamma / inverse-Gaussian one; sqrt(phi) with
        ``dispersion="ml"``; 1 otherwise.
    phi : the Gamma / inverse-Gaussian dispersion estimated by ML (``dispersion="ml"``), else None.
    """

    workspace: GlmmWorkspace
    nAGQ: int
    theta: np.ndarray
    beta: np.ndarray
    u: np.ndarray
    b: np.ndarray
    nb_theta: float | None
    objective_value: float
    vcov: np.ndarray
    optsummary: OptSummary
    stage1: OptSummary
    gradient: np.ndarray
    hessian: np.ndarray
    report: ConvergenceReport
    exact_objective: float
    mu: np.ndarray
    eta: np.ndarray
    stage_start: dict[int, np.ndarray] = field(default_factory=dict)
    sigma: float = 1.0
    phi: float | None = None


def _check(design: ModelMatrices, control: GlmmControl, nAGQ: int) -> None:
    if nAGQ < 0:
        raise NotSupportedError("nAGQ must be 0, 1 or a larger number of quadrature points")
    if nAGQ > 1 and (len(design.terms) != 1 or design.terms[0].q != 1):
        raise NotSupportedError(
            f"nAGQ = {nAGQ} > 1 is only available for models with a single scalar random-effects term (lme4 "
            "refuses it too); use the Laplace approximation (nAGQ = 1)"
        )
    if _estimates_nb(design.family) and nAGQ == 0:
        raise NotSupportedError("the negative binomial is fitted by joint Laplace ML (nAGQ = 1)")
    if control.dispersion not in ("lme4", "ml"):
        raise NotSupportedError(f"dispersion must be 'lme4' (glmer's convention) or 'ml' (glmmTMB's), not "
                                f"{control.dispersion!r}")
    if control.dispersion == "ml":
        if not design.family.positive_response:
            raise NotSupportedError(
                f"dispersion='ml' applies to the Gamma and inverse Gaussian families, not {design.family.name}")
        if nAGQ != 1:
            raise NotSupportedError("dispersion='ml' is glmmTMB's Laplace approximation: use nAGQ=1")
    for t in design.terms:
        if t.n_random > design.n_obs and control.check_nobs_vs_nre == "stop":
            raise DesignError(
                f"number of observations (={design.n_obs}) < number of random effects (={t.n_random}) for term "
                f"{t.expr}; the random-effects parameters are probably unidentifiable (pass "
                "control={'check_nobs_vs_nre': 'ignore'} to fit anyway)"
            )


def fit_glmm(design: ModelMatrices, nAGQ: int = 1, control: Any = None, start: Any = None,
             emit_warnings: bool = True) -> GlmmEstimate:
    """Fit a GLMM by Laplace (nAGQ = 1), adaptive Gauss-Hermite quadrature (nAGQ > 1) or lme4's nAGQ = 0."""
    control = GlmmControl.from_any(control)
    _check(design, control, nAGQ)
    _check_response(design)
    from .lmm import blas_limit

    with blas_limit(design):
        try:
            return _fit_glmm(design, nAGQ, control, start, emit_warnings)
        except PirlsFailure as exc:
            raise _explain_failure(design, exc) from None


def _check_response(design: ModelMatrices) -> None:
    """lme4's ``checkResponse`` for glmer: a constant response (all 0, all 1, one count) cannot be fitted."""
    y = design.y[design.weights > 0] if np.any(design.weights > 0) else design.y
    if y.size and np.all(y == y[0]):
        raise ResponseError(
            f"Response is constant: every used value of the response {design.response_name!r} is {y[0]:g} "
            f"(lme4 stops here too). A {design.family.name} GLMM needs variation in the response; check the data "
            "or the subset"
        )


def _explain_failure(design: ModelMatrices, exc: PirlsFailure) -> FitError:
    """The error to raise when PIRLS fails: separation named when it is the cause, else the failure and remedies."""
    if design.family.has_trials and design.successes is not None and design.trials is not None:
        from .separation import separated_columns

        cols = separated_columns(design.X, design.successes, design.trials, design.fixef_names)
        if cols:
            return SeparationError(
                f"complete separation: the fixed effect(s) {', '.join(map(repr, cols))} predict the binomial "
                "response perfectly, so their estimates run off to infinity and PIRLS cannot converge "
                f"({exc}; lme4 stops with 'pwrssUpdate did not converge'). Remedy: fit method='map' or sample() "
                "(their priors keep the coefficients finite), or drop or merge the separating predictor levels")
    return FitError(
        f"the GLMM fit failed: PIRLS found no conditional mode ({exc}). Remedies: check the response for "
        "extreme or degenerate values, centre and scale the predictors, try nAGQ=0 or "
        "control={'pirls': 'exact'}, or fit method='map' whose priors regularise the fit")


def _estimates_nb(family: Any) -> bool:
    """A negative binomial whose theta is estimated (a fixed theta makes it an ordinary GLM family, as
    ``glmer(family = MASS::negative.binomial(theta))``)."""
    return bool(family.estimates_dispersion)


def _estimates_dispersion(design: ModelMatrices, control: GlmmControl) -> bool:
    """glmmTMB's convention for a Gamma or inverse-Gaussian GLMM: phi estimated jointly by Laplace ML."""
    return control.dispersion == "ml" and design.family.positive_response


def _workspace(design: ModelMatrices) -> GlmmWorkspace:
    family = design.family
    if _estimates_nb(family):
        return GlmmWorkspace(design, family=family.mean_family)
    # a fixed-theta negative binomial uses lme4's Fisher weights, like every family glmer fits
    return GlmmWorkspace(design, family=family, observed_info=False)


def _initial_predictor(design: ModelMatrices, ws: GlmmWorkspace, theta0: np.ndarray, tol: float) -> np.ndarray:
    """lme4's mkGlmerDevfun: PIRLS at the starting theta (beta estimated alongside) from mustart."""
    family = ws.family
    eta_start = family.link.link(family.mustart(design.y, design.weights))
    _, state = ws.sweep(theta0, None, eta_start, tol)
    return state.eta.copy()


def objective_function(ws: GlmmWorkspace, nAGQ: int, lp: np.ndarray, exact: bool = False,
                       tol: float = 1e-7, estimate_nb: bool = False,
                       estimate_phi: bool = False) -> Callable[[np.ndarray], float]:
    """The GLMM objective (-2 log-likelihood) as a function of its parameters, as lme4's deviance function:
    theta alone for nAGQ = 0 (beta estimated in PIRLS), (theta, beta) otherwise, plus log(dispersion) for an
    estimated negative-binomial theta or log(phi) for glmmTMB's Gamma / inverse Gaussian.  ``lp`` is the linear
    predictor PIRLS restarts from at every call."""
    design = ws.design
    nt, p = design.n_theta, design.n_fixef
    nodes, weights = gauss_hermite(nAGQ) if nAGQ > 1 else (None, None)

    def stage1(theta: np.ndarray) -> float:
        if exact:
            return ws.laplace(theta, None)
        return ws.sweep(theta, None, lp, tol)[0]

    def stage2(par: np.ndarray) -> float:
        theta, beta = par[:nt], par[nt : nt + p]
        if estimate_nb:
            ws.family = ws.family.with_theta(float(np.exp(par[-1])))
        if estimate_phi:
            ws.family = ws.family.with_dispersion(float(np.exp(par[-1])))
        if nodes is not None:
            return ws.agq(theta, beta, nodes, weights)
        if exact or estimate_nb or estimate_phi:
            return ws.laplace(theta, beta)
        return ws.sweep(theta, beta, lp, tol)[0]

    return stage1 if nAGQ == 0 else stage2


def deviance_function(design: ModelMatrices, nAGQ: int = 1, theta: Any = None, tol: float = 1e-7,
                      dispersion: str = "lme4") -> Callable[[np.ndarray], float]:
    """lme4's ``getME(fit, "devfun")`` for a GLMM: the objective with PIRLS restarted, at every call, from the
    linear predictor of a first PIRLS (beta estimated alongside, from mustart) at ``theta`` (getME uses the
    fitted theta; default: the starting theta).  A pure function of its parameters, so it judges two sets of
    estimates on equal terms (see :func:`objective_function` for the parameters)."""
    ws = _workspace(design)
    lp0 = _initial_predictor(design, ws, design.theta0 if theta is None else np.asarray(theta, float), tol)
    if _estimates_nb(design.family):
        ws.family = design.family.with_theta(1.0)
        ws.observed_info = True
    estimate_phi = dispersion == "ml" and design.family.positive_response
    if estimate_phi:
        ws.family = design.family.with_dispersion(1.0)
        ws.observed_info = True
    fun = objective_function(ws, nAGQ, lp0, tol=tol, estimate_nb=_estimates_nb(design.family),
                             estimate_phi=estimate_phi)
    return _safe(fun)


# stage-2 strategies (measured on the lme4 battery; see docs/algorithms.md): "nm_bobyqa" (default) is lme4's
# Nelder-Mead (lme4's steps and tolerances) followed by a BOBYQA polish, "nm_lme4" lme4's Nelder-Mead alone,
# "bobyqa_nm" BOBYQA followed by that Nelder-Mead; any name of OPTIMIZERS runs that optimiser alone ("bobyqa"
# is the former default), as allfit does
STAGE2 = {"nm_bobyqa": ("nelder_mead", "bobyqa"), "nm_lme4": ("nelder_mead", None),
          "bobyqa_nm": ("bobyqa", "nelder_mead")}


def _stage2(fun: Any, x0: np.ndarray, lower: np.ndarray, strategy: str, steps: np.ndarray,
            settings: dict[str, float]) -> OptSummary:
    """Stage 2's optimisation with the chosen strategy (the best point of all runs is kept)."""
    # lme4's Nelder_Mead settings: FtolAbs 1e-5 (on the simplex's range), FtolRel 1e-15, XtolRel 1e-7, xt = 5e-4 xst
    nm = {"initial_step": steps, "xtol_abs": steps * 5e-4, "xtol_rel": 1e-7, "ftol_abs": 1e-5, "ftol_rel": 1e-15,
          **settings}
    bq = {"initial_step": 0.1, "xtol_abs": 1e-6, **settings}
    if strategy not in STAGE2:
        return minimize(fun, x0, lower, optimizer=strategy, settings=bq)
    first, second = STAGE2[strategy]
    summary = minimize(fun, x0, lower, optimizer=first, settings=nm if first == "nelder_mead" else bq)
    if second is None:
        summary.optimizer = strategy
        return summary
    start, fmin = summary.final.copy(), summary.fmin
    polish = minimize(fun, start, lower, optimizer=second,
                      settings=nm if second == "nelder_mead" else {**bq, "initial_step": 0.02}, summary=summary)
    polish.optimizer = strategy
    if polish.fmin > fmin:  # never worse than the first run
        polish.final, polish.fmin = start, fmin
    polish.restarts.append(f"{first} reached {fmin:.10g}; {second} polish: {polish.fmin:.10g}")
    return polish


def _fit_glmm(design: ModelMatrices, nAGQ: int, control: GlmmControl, start: Any,
              emit_warnings: bool) -> GlmmEstimate:
    is_nb = _estimates_nb(design.family)
    is_phi = _estimates_dispersion(design, control)
    ws = _workspace(design)
    exact = control.pirls == "exact"
    tol = control.tol_pwrss
    nt = design.n_theta
    lower_theta = design.lower
    settings = {"maxeval": control.maxeval, **control.settings}

    # initial PIRLS at theta0 from mustart (lme4's mkGlmerDevfun), giving the stage-1 starting predictor
    theta0 = design.theta0 if start is None or "theta" not in dict(start) else np.asarray(dict(start)["theta"])
    lp0 = _initial_predictor(design, ws, theta0, tol)
    stage1 = objective_function(ws, 0, lp0, exact, tol)

    s1 = minimize(_safe(stage1), theta0, lower_theta, optimizer="bobyqa",
                  settings={**settings, **control.stage1_settings} if nAGQ > 0 else settings)
    s1 = snap_to_bounds(_safe(stage1), s1, lower_theta, control.boundary_tol)
    theta1 = s1.final
    stage1(theta1)
    beta1 = ws.beta.copy()
    lp1 = ws.random_part(theta1, ws.u) + design.X @ beta1 + design.offset

    if nAGQ == 0 and not is_nb:
        value = stage1(theta1)
        factor = ws.factor
        assert factor is not None
        vcov = factor.unscaled_vcov_beta()
        theta, beta, summary = theta1, beta1, s1
        grad = np.zeros(nt)
        hess = np.zeros((nt, nt))
        params = theta1
        nb_theta = None
    else:
        # lme4's Nelder-Mead steps: 0.02 for theta, 0.2 * min(SE(beta), 10) for beta (at the stage-1 fit)
        try:
            with np.errstate(invalid="ignore"):
                beta_sd = np.sqrt(np.diag(ws.fisher_vcov(theta1, beta1)))
        except (PirlsFailure, np.linalg.LinAlgError, ArithmeticError):
            beta_sd = np.ones(design.n_fixef)
        beta_sd = np.where(np.isfinite(beta_sd) & (beta_sd > 0), beta_sd, 1.0)
        stage1(theta1)  # restore the stage-1 state
        if is_nb:
            ws.family = design.family.with_theta(_nb_start(design, lp1))
            ws.observed_info = True
        theta_start = theta1
        if is_phi:
            # lme4's fit has Var(b) = sigma^2 Lambda Lambda' and phi ~ sigma^2: glmmTMB's scale starts there
            sigma1 = ws.scale(theta1, ws.u)
            ws.family = design.family.with_dispersion(sigma1**2)
            ws.observed_info = True
            theta_start = theta1 * sigma1
        stage2 = objective_function(ws, nAGQ, lp1, exact, tol, estimate_nb=is_nb, estimate_phi=is_phi)
        extra_start = [[np.log(ws.family.theta)]] if is_nb else ([[np.log(ws.family.dispersion)]] if is_phi else [])
        x0 = np.concatenate([theta_start, beta1, *extra_start])
        if start is not None and "beta" in dict(start):
            x0[nt : nt + design.n_fixef] = np.asarray(dict(start)["beta"], dtype=float)
        lower = np.concatenate([lower_theta, np.full(len(x0) - nt, -np.inf)])
        extra_step = [[0.1]] if is_nb or is_phi else []
        steps = 0.2 * np.concatenate([np.full(nt, 0.1), np.minimum(beta_sd, 10.0), *extra_step])
        summary = _stage2(_safe(stage2), x0, lower, control.optimizer, steps, settings)
        summary = snap_to_bounds(_safe(stage2), summary, lower, control.boundary_tol)
        params = summary.final
        theta, beta = params[:nt], params[nt : nt + design.n_fixef]
        value = stage2(params)
        nb_theta = float(np.exp(params[-1])) if is_nb else None
        if control.calc_derivs:
            grad, hess = deriv12(_safe(stage2), params, lower=lower)
            if not np.all(np.isfinite(hess)):
                grad, hess = np.where(np.isfinite(grad), grad, np.inf), np.full_like(hess, np.nan)
            value = stage2(params)  # restore the state at the optimum
            vcov = _vcov_from_hessian(hess, nt, design.n_fixef)
            if vcov is None:  # lme4 falls back to the covariance given theta (with a warning)
                vcov = ws.fisher_vcov(theta, beta) * (1.0 if is_phi else ws.scale(theta, ws.u) ** 2)
                value = stage2(params)
        else:
            grad, hess = np.zeros(len(params)), np.zeros((len(params), len(params)))
            vcov = np.full((design.n_fixef, design.n_fixef), np.nan)
    u = ws.u.copy()
    phi = float(np.exp(params[-1])) if is_phi else None
    sigma = float(np.sqrt(phi)) if phi is not None else ws.scale(theta, u)
    b = lambda_times(design.terms, theta, u)
    eta = design.X @ beta + design.offset + ws.random_part(theta, u)
    mu = ws.family.link.inverse(eta)
    # the fully converged Laplace value is computed on demand (GlmmFit.diagnose)
    exact_value = value if (exact or nAGQ != 1 or is_phi) else np.nan
    extra = ["log(dispersion)"] if is_nb else (["log(phi)"] if is_phi else [])
    names_beta = [f"beta.{n}" for n in design.fixef_names]
    report = check_convergence(design, params, np.concatenate([lower_theta, np.full(len(params) - nt, -np.inf)]),
                               grad, hess, summary.optimizer, summary.feval, summary.converged, summary.message,
                               control.maxeval, emit=False,
                               extra_names=names_beta + extra if len(params) > nt else None)
    if nAGQ == 0:
        report.problems = [p for p in report.problems if p[0] in ("scale", "singular", "optimizer")]
    if emit_warnings:
        from .convergence import emit_warnings as emit

        emit(report)
    return GlmmEstimate(workspace=ws, nAGQ=nAGQ, theta=np.asarray(theta), beta=np.asarray(beta), u=u, b=b,
                        nb_theta=nb_theta, objective_value=float(value), vcov=vcov, optsummary=summary, stage1=s1,
                        gradient=grad, hessian=hess, report=report, exact_objective=float(exact_value), mu=mu,
                        eta=eta, stage_start={1: lp0, 2: lp1}, sigma=sigma, phi=phi)


def _safe(fun: Any) -> Any:
    def wrapped(x: np.ndarray) -> float:
        try:
            return float(fun(x))
        except (PirlsFailure, FloatingPointError, np.linalg.LinAlgError):
            return np.inf

    return wrapped


def _vcov_from_hessian(hess: np.ndarray, nt: int, p: int) -> np.ndarray | None:
    """lme4's ``calc.vcov.hess``: the beta block of 2 H^{-1} (H the Hessian of the deviance)."""
    if not np.all(np.isfinite(hess)):
        return None
    try:
        inv = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return None
    block = inv[nt : nt + p, nt : nt + p]
    v = block + block.T
    if not np.all(np.isfinite(v)) or np.min(np.linalg.eigvalsh(v)) <= 0:
        return None
    return v


def _nb_start(design: ModelMatrices, eta: np.ndarray) -> float:
    """Method-of-moments start for the NB2 dispersion from the Poisson fit's means."""
    mu = np.exp(eta)
    y = design.y
    excess = np.sum((y - mu) ** 2 - mu)
    theta = np.sum(mu**2) / excess if excess > 0 else 10.0
    return float(np.clip(theta, 0.05, 1e4))
