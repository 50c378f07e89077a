"""``Model.fit(method="map")``: the posterior mode under the default priors on the variance parameters, as blme
does, with a Laplace approximation (the Hessian at the mode) for the uncertainty.  NumPy/SciPy only.

Parameters are optimised on the unconstrained scale used by the sampler: log SDs, log sigma, the canonical
partial correlations through tanh (Stan's and PyMC's Cholesky-correlation transform) and log dispersion.  The
mode on that scale includes the log-Jacobian of the transformation, so each SD's effective penalty is
``log p(sd) + log sd``: it vanishes at zero, so the mode can never sit on the boundary where REML/ML give a
singular fit (blme's default ``gamma(shape = 2.5)`` penalty on the SD works the same way).  Correlations get
the LKJ prior.

* Gaussian (identity link): the fixed effects have a flat prior and are integrated out, so the criterion is
  the REML deviance as a function of (theta, sigma) plus -2 log prior; beta is then the generalised least-squares
  estimate with covariance sigma^2 (R_X'R_X)^-1 at the mode (exact given the variance parameters).
* Other families: the Laplace-approximated deviance (lme4's nAGQ = 1) as a function of (theta, beta) plus
  -2 log prior, optimised jointly; the fixed effects' covariance is the beta block of the inverse Hessian.

The intervals of the variance components (:meth:`MapFit.varcorr_intervals`) come from the normal
approximation on the unconstrained scale, transformed back by simulation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..arguments import renamed_kwargs
from ..design.matrices import ModelMatrices
from ..design.terms import conditional_covariances, lambda_times
from ..likelihood.convergence import ConvergenceReport
from ..likelihood.derivatives import deriv12
from ..likelihood.optimizers import OptSummary, minimize
from ..priors.prior import PriorSet, default_priors, sd_entry_names, term_labels
from ..warn import warn_user
from .base import MixedFit
from .display import Exportable

if TYPE_CHECKING:
    from ..protocols import ModelLike as Model

__all__ = ["MapControl", "MapFit", "fit_map"]


@dataclass(frozen=True, kw_only=True)
class MapControl:
    """Settings of the MAP fit (``model.fit("map", control={...})``).

    optimizer : the optimiser of both runs (a name of ``mixbayes.likelihood.optimizers.OPTIMIZERS``).
    maxeval : the evaluation limit of each run.
    """

    optimizer: str = "bobyqa"
    maxeval: int = 100000

GRAD_TOL = 2e-3


# ---- the unconstrained parameterisation ----------------------------------------------------------------------------

def _cholesky_corr(y: np.ndarray, q: int) -> tuple[np.ndarray, float]:
    """Cholesky factor of a correlation matrix from q(q-1)/2 unconstrained values (CPCs z = tanh(y), filled row by
    row as PyMC/Stan do) and the log-Jacobian of y -> L."""
    L = np.zeros((q, q))
    L[0, 0] = 1.0
    logjac = 0.0
    k = 0
    for i in range(1, q):
        ssq = 0.0
        for j in range(i):
            z = np.tanh(y[k])
            k += 1
            logjac += np.log1p(-z * z)  # tanh
            if j > 0:
                logjac += 0.5 * np.log1p(-ssq)
            L[i, j] = z * np.sqrt(1.0 - ssq)
            ssq += L[i, j] ** 2
        L[i, i] = np.sqrt(max(1.0 - ssq, 1e-300))
    return L, logjac


def _lkj_logdensity(L: np.ndarray, eta: float) -> float:
    """log density of the LKJ(eta) prior on a correlation Cholesky factor (up to a constant)."""
    q = L.shape[0]
    return float(sum((q - k - 1 + 2.0 * (eta - 1.0)) * np.log(L[k, k]) for k in range(1, q)))


@dataclass
class _Layout:
    """Positions of each term's log-SDs and correlation parameters in the unconstrained vector."""

    design: ModelMatrices
    priors: PriorSet
    has_sigma: bool
    n_beta: int
    has_disp: bool

    def __post_init__(self) -> None:
        self.sd_names = sd_entry_names(self.design)
        self.labels = term_labels(self.design)
        pos = 1 if self.has_sigma else 0
        self.slices = []
        for t in self.design.terms:
            ncor = t.q * (t.q - 1) // 2
            self.slices.append((slice(pos, pos + t.q), slice(pos + t.q, pos + t.q + ncor)))
            pos += t.q + ncor
        self.beta_slice = slice(pos, pos + self.n_beta)
        pos += self.n_beta
        self.disp_index = pos if self.has_disp else None
        self.size = pos + (1 if self.has_disp else 0)

    def unpack(self, phi: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, float | None, float]:
        """(theta, sigma, beta, dispersion, log prior + log Jacobian)."""
        lp = 0.0
        sigma = 1.0
        if self.has_sigma:
            sigma = float(np.exp(phi[0]))
            lp += float(self.priors["sigma"].logpdf(sigma)) + phi[0]
        theta = []
        for k, t in enumerate(self.design.terms):
            s_sd, s_cor = self.slices[k]
            sd = np.exp(phi[s_sd])
            for name, v, logv in zip(self.sd_names[k], sd, phi[s_sd], strict=True):
                lp += float(self.priors[name].logpdf(v)) + logv
            if t.q > 1:
                R, logjac = _cholesky_corr(phi[s_cor], t.q)
                eta = self.priors[f"cor_{self.labels[k]}"].params.get("eta", 1.0)
                lp += _lkj_logdensity(R, float(eta)) + logjac  # type: ignore[arg-type]
            else:
                R = np.ones((1, 1))
            T = sd[:, None] * R / sigma
            rows, cols = t.tril_index
            theta.append(T[rows, cols])
        disp = None
        if self.has_disp:
            assert self.disp_index is not None
            disp = float(np.exp(phi[self.disp_index]))
            lp += float(self.priors["dispersion"].logpdf(disp)) + phi[self.disp_index]
        th = np.concatenate(theta) if theta else np.zeros(0)
        return th, sigma, phi[self.beta_slice], disp, lp

    def pack_start(self, theta: np.ndarray, sigma: float, beta: np.ndarray, disp: float | None) -> np.ndarray:
        """A starting vector from likelihood estimates (zero SDs are lifted to a tenth of their prior scale)."""
        phi = np.zeros(self.size)
        if self.has_sigma:
            phi[0] = np.log(max(sigma, 1e-8))
        for k, t in enumerate(self.design.terms):
            s_sd, s_cor = self.slices[k]
            cov = (t.factor(theta) * sigma) @ (t.factor(theta) * sigma).T
            sd = np.sqrt(np.diag(cov))
            floor = np.array([0.1 * self.priors[n].typical_value() for n in self.sd_names[k]])
            phi[s_sd] = np.log(np.maximum(sd, floor))
            if t.q > 1:
                ok = np.all(sd > 0)
                R = cov / np.outer(sd, sd) if ok else np.eye(t.q)
                Lc = np.linalg.cholesky(R + 1e-8 * np.eye(t.q)) if ok else np.eye(t.q)
                phi[s_cor] = _cpc_from_cholesky(Lc)
        phi[self.beta_slice] = beta
        if self.has_disp:
            assert self.disp_index is not None
            phi[self.disp_index] = np.log(disp if disp else 1.0)
        return phi


def _cpc_from_cholesky(L: np.ndarray) -> np.ndarray:
    q = L.shape[0]
    out = []
    for i in range(1, q):
        ssq = 0.0
        for j in range(i):
            z = L[i, j] / np.sqrt(max(1.0 - ssq, 1e-300))
            out.append(np.arctanh(np.clip(z, -0.999999, 0.999999)))
            ssq += L[i, j] ** 2
    return np.asarray(out)


# ---- the fit -------------------------------------------------------------------------------------------------------

class MapFit(MixedFit):
    """A penalised (posterior-mode) fit: ``model.fit(method="map")``.

    Besides the likelihood fits' attributes (``fixef``, ``vcov``, ``se``, ``varcorr``, ``ranef()``, ``coef``,
    ``predict()``, ``summary()``, ``diagnose()``): ``sigma`` (Gaussian), ``dispersion`` (negative binomial),
    ``priors``, ``log_posterior`` (at the mode, up to a constant), ``phi`` and ``phi_vcov`` (the unconstrained
    parameters and their Laplace covariance) and :meth:`varcorr_intervals`.
    """

    method = "MAP"

    def __init__(self, model: Model, *, theta: np.ndarray, beta: np.ndarray, u: np.ndarray, b: np.ndarray,
                 optsummary: OptSummary, convergence: ConvergenceReport, sigma: float | None,
                 vcov_beta: np.ndarray, layout: _Layout, phi: np.ndarray, phi_vcov: np.ndarray,
                 log_posterior: float, cond_blocks: list[np.ndarray], dispersion: float | None,
                 control: MapControl | None = None) -> None:
        super().__init__(model, theta=theta, beta=beta, u=u, b=b, optsummary=optsummary, convergence=convergence)
        self.control = control if control is not None else MapControl()
        self.sigma = sigma
        self.dispersion = dispersion
        self._vcov_beta = vcov_beta
        self._layout = layout
        self.priors = layout.priors
        self.phi = phi
        self.phi_vcov = phi_vcov
        self.log_posterior = log_posterior
        self._blocks = cond_blocks

    @property
    def scale_sigma(self) -> float | None:
        return self.sigma

    def _vcov_array(self) -> np.ndarray:
        return self._vcov_beta

    def _cond_blocks(self) -> list[np.ndarray]:
        return self._blocks

    @renamed_kwargs(seed="random_seed")
    def varcorr_intervals(self, prob: float = 0.95, draws: int = 4000, random_seed: int = 0) -> pd.DataFrame:
        """The variance components (rows of ``varcorr.as_frame()``) with intervals from the Laplace approximation
        on the unconstrained scale, transformed back by simulation."""
        rng = np.random.default_rng(random_seed)
        phis = rng.multivariate_normal(self.phi, self.phi_vcov, size=draws, method="eigh")
        unpacked = [self._layout.unpack(ph) for ph in phis]
        thetas = np.array([u[0] for u in unpacked])
        sigmas = np.array([u[1] for u in unpacked])
        cols = []
        for t in self.design.terms:  # the rows of VarCorr.as_frame(): SDs, then correlations column-wise
            T = np.zeros((draws, t.q, t.q))
            rows, cc = t.tril_index
            T[:, rows, cc] = thetas[:, t.theta_slice]
            T *= (sigmas if self.sigma is not None else np.ones(draws))[:, None, None]
            cov = T @ np.swapaxes(T, 1, 2)
            sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
            cols += [sd[:, i] for i in range(t.q)]
            cols += [cov[:, i, j] / (sd[:, i] * sd[:, j]) for j in range(t.q) for i in range(j + 1, t.q)]
        if self.sigma is not None:
            cols.append(sigmas)
        arr = np.column_stack(cols)
        frame = self.varcorr.as_frame()[["grp", "var1", "var2", "sdcor"]].rename(columns={"sdcor": "estimate"})
        lo, hi = (1 - prob) / 2, (1 + prob) / 2
        frame[f"{100 * lo:g}%"] = np.nanquantile(arr, lo, axis=0)
        frame[f"{100 * hi:g}%"] = np.nanquantile(arr, hi, axis=0)
        return frame

    def diagnose(self) -> ConvergenceReport:
        return self.convergence

    def summary(self, **kwargs: Any) -> MapSummary:
        from ..arguments import reject_unknown

        reject_unknown(kwargs, [], "MapFit.summary (it takes no options)")
        return MapSummary(self)


class MapSummary(Exportable):
    """Text and HTML summary of a :class:`MapFit`."""

    def __init__(self, fit: MapFit) -> None:
        from .summary import wald_table

        self.fit = fit
        self.coefficients = wald_table(fit)
        self.intervals = fit.varcorr_intervals()

    title = "Penalised mixed model fit: posterior mode under the default priors (MAP, Laplace uncertainty)"

    def __str__(self) -> str:
        from .format import SIGNIF_LEGEND, coef_table_text

        fit = self.fit
        fam = fit.design.family
        lines = [self.title, f" Family: {fam.name}  ( {fam.link.name} )", f"Formula: {fit.formula}", "",
                 f"log posterior at the mode (up to a constant): {fit.log_posterior:.2f}", "",
                 "Random effects (mode, 95% Laplace interval):", fit.varcorr.table(variance=True), "",
                 self.intervals.to_string(index=False, float_format=lambda x: f"{x:.4g}"),
                 f"Number of obs: {fit.nobs}, groups:  " + ", ".join(f"{g}, {n}" for g, n in fit.ngroups.items()),
                 "", "Fixed effects:"]
        text, _ = coef_table_text(self.coefficients)
        priors = "; ".join(f"{e.name} ~ {e.prior}" for e in fit.priors.entries if e.kind != "fixef")
        lines += [text, "---", SIGNIF_LEGEND, "", f"Priors (fixed effects flat): {priors}"]
        if fit.convergence.problems:
            lines += ["", "Convergence notes:"] + [f"  {m}" for _, m, _ in fit.convergence.problems]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        import html

        fit = self.fit
        fmt = {"float_format": lambda x: f"{x:.4g}"}
        return (f"<div class='mixbayes-summary'><p><b>{html.escape(self.title)}</b><br>"
                f"<code>{html.escape(fit.formula)}</code></p>{self.intervals.to_html(index=False, **fmt)}"
                f"{self.coefficients.to_html(**fmt)}</div>")


# ---- fitting -------------------------------------------------------------------------------------------------------

def _report(opt: OptSummary, grad: np.ndarray, hess: np.ndarray) -> ConvergenceReport:
    problems: list[tuple[str, str, str]] = []
    try:
        ev = np.linalg.eigvalsh(hess)
    except np.linalg.LinAlgError:
        ev = np.full(len(grad), np.nan)
    scgrad = np.full(len(grad), np.nan)
    max_grad = float(np.max(np.abs(grad))) if len(grad) else 0.0
    if len(ev) and np.all(ev > 0):
        scgrad = np.linalg.solve(np.linalg.cholesky(hess), grad)
        max_grad = float(np.max(np.minimum(np.abs(scgrad), np.abs(grad))))
    if max_grad > GRAD_TOL:
        problems.append(("gradient", f"the mode was not reached: max|scaled gradient| = {max_grad:.3g}",
                         "check the model (e.g. rescale predictors); a Bayesian fit (method='bayes') does not need "
                         "the mode"))
    if len(ev) and not np.all(ev > 0):
        problems.append(("hessian", "the Hessian at the mode is not positive definite: the Laplace approximation "
                         "is unreliable", "simplify the random-effects structure or fit method='bayes'"))
    if not opt.converged:
        problems.append(("optimizer", f"the optimizer stopped without converging ({opt.message})",
                         "raise the evaluation limit or fit method='bayes'"))
    return ConvergenceReport(opt.optimizer, opt.feval, opt.converged, opt.message, max_grad, scgrad, ev, [], problems)


def fit_map(model: Model, priors: Any = None, emit_warnings: bool = True,
            control: MapControl | Mapping[str, Any] | None = None) -> MapFit:
    """Posterior mode and Laplace approximation of ``model`` under the default priors (with overrides)."""
    from ..arguments import control_from

    design = model.design
    prior_set = default_priors(design).with_overrides(priors)
    settings = control_from(MapControl, control)
    if design.family.positive_response:
        from ..exceptions import NotSupportedError

        raise NotSupportedError(f"the MAP fit of a {design.family.name} GLMM is not implemented; use sample() "
                                "(NUTS) or the likelihood fit with dispersion='ml'")
    if model._is_lmm:
        fit = _fit_lmm_map(model, prior_set, settings)
    else:
        fit = _fit_glmm_map(model, prior_set, settings)
    if emit_warnings:
        from ..exceptions import ConvergenceWarning

        for _, msg, remedy in fit.convergence.problems:
            warn_user(f"{msg}. Remedy: {remedy}.", ConvergenceWarning)
    return fit


def _optimise(fun: Any, x0: np.ndarray, settings: MapControl) -> tuple[OptSummary, np.ndarray, np.ndarray]:
    lower = np.full(len(x0), -np.inf)
    opt = minimize(fun, x0, lower, optimizer=settings.optimizer,
                   settings={"initial_step": 0.2, "xtol_abs": 1e-8, "maxeval": settings.maxeval})
    # polish with a second run from the optimum (BOBYQA's trust region restarts)
    opt = minimize(fun, opt.final, lower, optimizer=settings.optimizer,
                   settings={"initial_step": 0.02, "xtol_abs": 1e-9, "maxeval": settings.maxeval},
                   summary=opt)
    grad, hess = deriv12(fun, opt.final)
    return opt, grad, hess


def _inverse(hess: np.ndarray) -> np.ndarray:
    try:
        return 2.0 * np.linalg.inv(hess)  # the objective is -2 log posterior
    except np.linalg.LinAlgError:
        return np.full_like(hess, np.nan)


def _fit_lmm_map(model: Model, priors: PriorSet, settings: MapControl) -> MapFit:
    from ..likelihood.lmm import LmmObjective, fit_lmm

    design = model.design
    start = fit_lmm(design, reml=True, emit_warnings=False)
    layout = _Layout(design, priors, True, 0, False)
    objective = LmmObjective(design, reml=True)

    def fun(phi: np.ndarray) -> float:
        theta, sigma, _, _, lp = layout.unpack(phi)
        try:
            dev = objective.deviance_varpar(np.append(theta, sigma))
        except ArithmeticError:
            return np.inf
        return float(dev - 2.0 * lp)

    x0 = layout.pack_start(start.theta, start.sigma, np.zeros(0), None)
    opt, grad, hess = _optimise(fun, x0, settings)
    phi = opt.final
    theta, sigma, _, _, _ = layout.unpack(phi)
    objective.factor.update(theta)
    beta, u = objective.factor.solve()
    b = lambda_times(design.terms, theta, u)
    vcov = sigma**2 * objective.factor.unscaled_vcov_beta()
    blocks = conditional_covariances(design.terms, theta, objective.factor.conditional_u_blocks(), sigma**2)
    # u on lme4's scale (b = Lambda u with u ~ N(0, sigma^2 I)) is what the factor returns
    return MapFit(model, theta=theta, beta=beta, u=u, b=b, optsummary=opt, convergence=_report(opt, grad, hess),
                  sigma=sigma, vcov_beta=vcov, layout=layout, phi=phi, phi_vcov=_inverse(hess),
                  log_posterior=-0.5 * opt.fmin, cond_blocks=blocks, dispersion=None, control=settings)


def _fit_glmm_map(model: Model, priors: PriorSet, settings: MapControl) -> MapFit:
    from ..likelihood.glmm import fit_glmm
    from ..likelihood.pirls import GlmmWorkspace, PirlsFailure

    design = model.design
    is_nb = design.family.estimates_dispersion
    start = fit_glmm(design, nAGQ=1, emit_warnings=False)
    layout = _Layout(design, priors, False, design.n_fixef, is_nb)
    ws = GlmmWorkspace(design, family=start.workspace.family)
    if is_nb:
        ws.observed_info = True

    def fun(phi: np.ndarray) -> float:
        theta, _, beta, disp, lp = layout.unpack(phi)
        if disp is not None:
            ws.family = ws.family.with_theta(disp)
        try:
            dev = ws.laplace(theta, beta)
        except (PirlsFailure, ArithmeticError, np.linalg.LinAlgError):
            return np.inf
        return float(dev - 2.0 * lp) if np.isfinite(dev) else np.inf

    x0 = layout.pack_start(start.theta, 1.0, start.beta, start.nb_theta)
    opt, grad, hess = _optimise(fun, x0, settings)
    phi = opt.final
    fun(phi)  # leave the workspace at the mode
    theta, _, beta, disp, _ = layout.unpack(phi)
    u = ws.u.copy()
    b = lambda_times(design.terms, theta, u)
    cov = _inverse(hess)
    vcov = cov[layout.beta_slice, layout.beta_slice]
    ws.beta = beta
    blocks = conditional_covariances(design.terms, theta, ws.condvar_blocks(theta, u))
    return MapFit(model, theta=theta, beta=np.asarray(beta, dtype=float), u=u, b=b, optsummary=opt,
                  convergence=_report(opt, grad, hess), sigma=None, vcov_beta=vcov, layout=layout, phi=phi,
                  phi_vcov=cov, log_posterior=-0.5 * opt.fmin, cond_blocks=blocks, dispersion=disp, control=settings)
