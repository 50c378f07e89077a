"""Results of a generalised linear mixed model (``mb.glmer``)."""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ..arguments import renamed_kwargs
from ..design.terms import add_simulated_effects, conditional_covariances
from ..exceptions import (
    ArgumentError,
    DegenerateResponseWarning,
    NotSupportedError,
    OverdispersionWarning,
    SeparationWarning,
)
from ..likelihood.glmm import GlmmControl, GlmmEstimate, fit_glmm
from ..likelihood.separation import separated_columns
from ..warn import warn_user
from .base import MixedFit
from .display import Exportable
from .summary import residual_lines, summary_tail, wald_table

if TYPE_CHECKING:
    from ..inference.bootstrap import BootstrapResult
    from ..inference.profile import LikelihoodProfile
    from ..likelihood.convergence import ConvergenceReport
    from ..protocols import ModelLike as Model
    from .icc import ICC

__all__ = ["GlmmFit", "fit_glmm_model", "null_model_intercept"]


def fit_glmm_model(model: Model, method: str = "laplace", nAGQ: int = 1, control: GlmmControl | None = None,
                   start: Any = None, emit_warnings: bool = True) -> GlmmFit:
    """Fit ``model`` (a non-Gaussian family) by likelihood."""
    method = method.lower()
    if method in ("agq", "quadrature") and nAGQ <= 1:
        nAGQ = 9
    elif method == "laplace" and nAGQ > 1:
        pass
    elif method not in ("laplace", "agq", "quadrature", "ml", "pql0", "nagq0"):
        raise NotSupportedError(f"method {method!r} is not a likelihood method for a GLMM; use 'laplace', "
                                "'agq' (with nAGQ > 1), 'pql', 'map' or 'bayes'")
    if method in ("pql0", "nagq0"):
        nAGQ = 0
    est = fit_glmm(model.design, nAGQ=nAGQ, control=control, start=start, emit_warnings=False)
    fit = GlmmFit(model, est, control)
    if fit.separation:
        # a separated coefficient makes the gradient and Hessian checks fail too: name the cause as the remedy
        cause = f"the separation of {', '.join(map(repr, fit.separation))} (see the SeparationWarning)"
        est.report.problems = [(kind, msg, cause if kind in ("gradient", "hessian") else remedy)
                               for kind, msg, remedy in est.report.problems]
    if emit_warnings:
        from ..likelihood.convergence import emit_warnings as emit

        emit(est.report)
        fit._emit_diagnostics()
    return fit


class GlmmFit(MixedFit):
    """A GLMM fitted by Laplace (nAGQ = 1), adaptive Gauss-Hermite (nAGQ > 1) or lme4's nAGQ = 0.

    ``loglik``, ``aic``, ``bic`` follow lme4's conventions (for nAGQ > 1 lme4 leaves the family's normalising
    constants out, so those log-likelihoods are on another scale than the Laplace ones; so do we).
    ``dispersion`` is the negative binomial's theta (variance mu + mu^2 / theta).  ``phi`` is the Gamma /
    inverse-Gaussian dispersion of a ``dispersion="ml"`` (glmmTMB-style) fit, None otherwise; ``scale_sigma`` is
    sqrt(phi) then (glmmTMB's ``sigma()``), and lme4's sqrt((Pearson + |u|^2) / n) for a glmer-style fit.
    """

    def __init__(self, model: Model, estimate: GlmmEstimate, control: GlmmControl | None = None) -> None:
        super().__init__(model, theta=estimate.theta, beta=estimate.beta, u=estimate.u, b=estimate.b,
                         optsummary=estimate.optsummary, convergence=estimate.report)
        self.estimate = estimate
        self.nAGQ = estimate.nAGQ
        self.phi = estimate.phi
        # the family without a fixed phi: deviance and residuals on the unscaled (R's) scale
        fam = estimate.workspace.family
        self.family = fam.with_dispersion(None) if fam.positive_response else fam
        self.dispersion = estimate.nb_theta
        self.objective_value = estimate.objective_value
        self.control: GlmmControl = GlmmControl.from_any(control)
        self.method = "Laplace" if self.nAGQ == 1 else ("nAGQ=0" if self.nAGQ == 0 else f"AGQ({self.nAGQ})")
        self.y = self.design.y

    # ---- estimates -------------------------------------------------------------------------------------------
    def _vcov_array(self) -> np.ndarray:
        return self.estimate.vcov

    def _cond_blocks(self) -> list[np.ndarray]:
        ws = self.estimate.workspace
        ws.beta = self.beta
        return conditional_covariances(self.design.terms, self.theta, ws.condvar_blocks(self.theta, self.u))

    @property
    def npar(self) -> int:
        return (self.design.n_fixef + self.design.n_theta + (1 if self.dispersion is not None else 0)
                + (1 if self.family.has_scale else 0))

    @property
    def scale_sigma(self) -> float | None:
        """Residual SD of a Gaussian GLMM (non-identity link), lme4's sqrt(pwrss / n); None otherwise."""
        return self.estimate.sigma if self.family.has_scale else None

    @cached_property
    def varcorr(self) -> Any:
        """Variance components; with ``dispersion="ml"`` the random-effect SDs are theta itself (glmmTMB's)."""
        if self.phi is None:
            return super().varcorr
        from .varcorr import VarCorr

        sigma = float(np.sqrt(self.phi))
        return VarCorr.from_theta(self.design, self.theta / sigma, sigma)

    @property
    def loglik(self) -> float:
        return -0.5 * self.objective_value

    @property
    def mu(self) -> np.ndarray:
        return self.family.link.inverse(self.linear_predictor)

    @property
    def deviance(self) -> float:
        """lme4's ``deviance()`` for a GLMM: the sum of squared deviance residuals (not -2 logLik)."""
        return float(np.sum(self.family.dev_resids(self.y, self.mu, self.design.weights)))

    def residuals(self, type: str = "deviance") -> pd.Series:
        """``deviance`` (default, as lme4), ``pearson``, ``response`` or ``working`` residuals."""
        y, mu, wt = self.y, self.mu, self.design.weights
        if type == "response":
            r = y - mu
        elif type == "pearson":
            r = (y - mu) * np.sqrt(wt) / np.sqrt(self.family.variance(mu))
        elif type == "deviance":
            r = np.sign(y - mu) * np.sqrt(np.maximum(self.family.dev_resids(y, mu, wt), 0))
        elif type == "working":
            r = (y - mu) / self.family.link.mu_eta(self.linear_predictor)
        else:
            raise ArgumentError(f"unknown residual type {type!r}: use deviance, pearson, response or working")
        return pd.Series(r, index=self.design.row_index, name=f"{type} residuals")

    # ---- diagnostics ---------------------------------------------------------------------------------------------
    @cached_property
    def separation(self) -> list[str]:
        """Fixed effects along which a binomial response is (quasi-)completely separated."""
        d = self.design
        if not self.family.has_trials or d.successes is None or d.trials is None:
            return []
        # a separated coefficient is pushed far out on the link scale; only then solve the (slower) LP
        reach = np.abs(self.beta) * np.max(np.abs(d.X), axis=0, initial=0.0)
        if not np.any(reach > 8.0):
            return []
        return separated_columns(d.X, d.successes, d.trials, d.fixef_names)

    @cached_property
    def overdispersion(self) -> dict[str, float] | None:
        """Pearson chi-square / residual df for Poisson models, with its chi-square p-value."""
        if not self.family.overdispersion_test:
            return None
        chisq = float(np.sum(self.residuals("pearson") ** 2))
        rdf = self.df_residual
        return {"chisq": chisq, "df": rdf, "ratio": chisq / rdf, "p": float(stats.chi2.sf(chisq, rdf))}

    @cached_property
    def degenerate_groups(self) -> list[str]:
        """Grouping factors that determine the response: it is constant within every level (and varies between
        levels), so the likelihood cannot tell how large that factor's variance is."""
        y = self.design.y
        if np.ptp(y) == 0:
            return []
        out = []
        for t in self.design.terms:
            lo = np.full(t.n_levels, np.inf)
            hi = np.full(t.n_levels, -np.inf)
            np.minimum.at(lo, t.codes, y)
            np.maximum.at(hi, t.codes, y)
            counts = np.bincount(t.codes, minlength=t.n_levels)
            multi = counts >= 2
            # levels of one observation say nothing (an observation-level effect is no degeneracy): the levels
            # with replicates must hold most of the data, and each of them a constant response
            if counts[multi].sum() * 2 < len(y) or multi.sum() < 2:
                continue
            if np.all(hi[multi] - lo[multi] <= 1e-12 * (1.0 + np.abs(hi[multi]))) and t.group not in out:
                out.append(t.group)
        return out

    def _emit_diagnostics(self) -> None:
        for g in self.degenerate_groups:
            warn_user(
                f"the response is constant within every level of {g!r}: the grouping factor determines it, so the "
                f"variance of the {g!r} random effects is not identified (the likelihood keeps rising as it grows, "
                "and the optimum found depends on where the optimiser stops). Remedy: model "
                f"{g!r} as a fixed effect or drop its random term, or fit method='map'/'bayes', whose prior keeps "
                "the variance finite", DegenerateResponseWarning)
        if self.separation:
            warn_user(
                f"complete or quasi-complete separation: the estimate of {', '.join(map(repr, self.separation))} "
                "runs off to infinity (fitted probabilities 0 or 1). Remedy: drop or merge the separating "
                "predictor levels, or fit method='map'/'bayes' whose prior keeps the coefficients finite",
                SeparationWarning)
        od = self.overdispersion
        if od is not None and od["ratio"] > 1.0 and od["p"] < 0.05:
            warn_user(
                f"overdispersion: Pearson chi-square / df = {od['ratio']:.3g} (p = {od['p']:.3g}). Remedy: the "
                "negative binomial (family='negative_binomial'), or an observation-level random effect "
                "(1 | obs)", OverdispersionWarning)

    def diagnose(self) -> ConvergenceReport:
        report = self.convergence
        lines = [str(report)]
        if self.separation:
            lines.append(f"Separation: {', '.join(self.separation)}")
        if self.overdispersion is not None:
            od = self.overdispersion
            lines.append(f"Overdispersion: Pearson chi2/df = {od['ratio']:.3f} (p = {od['p']:.3g})")
        gap = self.exact_laplace() - self.objective_value if self.nAGQ == 1 else np.nan
        if np.isfinite(gap) and abs(gap) > 0:
            lines.append(f"Laplace at the exactly converged mode differs by {gap:+.3g} in -2 logLik (lme4-compatible "
                         "PIRLS tolerance 1e-7; control={'pirls': 'exact'} gives the converged value)")
        return _Report("\n".join(lines), report)

    def exact_laplace(self) -> float:
        """-2 logLik by the Laplace approximation at the exactly converged conditional mode, at these estimates
        (lme4's objective stops PIRLS at tolPwrss = 1e-7; see mixbayes.likelihood.glmm)."""
        if np.isnan(self.estimate.exact_objective):
            from ..likelihood.pirls import GlmmWorkspace, PirlsFailure

            probe = GlmmWorkspace(self.design, family=self.family)
            try:
                self.estimate.exact_objective = probe.laplace(self.theta, self.beta)
            except PirlsFailure:
                self.estimate.exact_objective = np.inf
        return float(self.estimate.exact_objective)

    # ---- simulation, ICC -----------------------------------------------------------------------------------------
    @renamed_kwargs(seed="random_seed")
    def simulate(self, nsim: int = 1, random_seed: int | np.random.Generator | None = None,
                 include_random: bool = True) -> pd.DataFrame:
        """New responses from the fitted model: proportions for the binomial (successes / trials), counts else."""
        rng = np.random.default_rng(random_seed)
        d = self.design
        out = np.empty((d.n_obs, nsim))
        base = d.X @ self.beta + d.offset
        fam = self.family
        trials = fam.n_trials(d.weights, d.trials)
        for k in range(nsim):
            eta = add_simulated_effects(base, d.terms, self.theta, rng) if include_random else base
            mu = fam.link.inverse(eta)
            draw = fam.simulate(mu, rng, sigma=self.scale_sigma, dispersion=self.dispersion, weights=d.weights,
                                trials=trials)
            out[:, k] = fam.as_response(draw, trials)
        return pd.DataFrame(out, index=d.row_index, columns=[f"sim_{k + 1}" for k in range(nsim)])

    def refit(self, new_response: Any, emit_warnings: bool = False) -> GlmmFit:
        """Refit the same design to a new response (as produced by :meth:`simulate`); the refit's ``model`` is
        ``self.model.with_response(new_response)``."""
        model = self.model.with_response(new_response)
        # no warm start: lme4's objective depends on the predictor PIRLS restarts from, so a refit starts where
        # a fresh fit does and reproduces it for the same response
        est = fit_glmm(model.design, nAGQ=self.nAGQ, control=self.control, emit_warnings=emit_warnings)
        return GlmmFit(model, est, self.control)

    def null_intercept(self) -> float:
        """Intercept of the null model (same random effects, intercept only), as ``insight`` uses for the
        Poisson latent variance (fitted once per fit)."""
        return self._null_intercept

    @cached_property
    def _null_intercept(self) -> float:
        return null_model_intercept(self.model)

    def icc(self) -> ICC:
        """Latent-scale ICC as ``performance::icc`` (pi^2/3 residual variance for the logit link)."""
        from .icc import icc

        return icc(self)

    def summary(self, correlation: bool = True) -> GlmmSummary:
        return GlmmSummary(self, correlation)

    # ---- inference ---------------------------------------------------------------------------------------------
    def deviance_function(self) -> Callable[[np.ndarray], float]:
        """The fit's objective, -2 logLik as a function of (theta, beta) (lme4's ``getME(fit, "devfun")``),
        evaluated as the fit evaluates it (same PIRLS start and tolerance) on a workspace of its own.
        A point where PIRLS fails gives inf."""
        from ..likelihood.glmm import GlmmControl
        from ..likelihood.pirls import GlmmWorkspace, PirlsFailure, gauss_hermite

        if self.dispersion is not None or self.phi is not None or self.nAGQ == 0:
            raise NotSupportedError("the deviance function of (theta, beta) is defined for Laplace and AGQ fits "
                                    "without an estimated dispersion parameter (theta or phi)")
        control = GlmmControl.from_any(self.control)
        ws = GlmmWorkspace(self.design, family=self.family)
        nt = self.design.n_theta
        lp = self.estimate.stage_start.get(2)
        nodes = gauss_hermite(self.nAGQ) if self.nAGQ > 1 else None
        exact = control.pirls == "exact" or lp is None

        def devfun(par: np.ndarray) -> float:
            par = np.asarray(par, dtype=float)
            theta, beta = par[:nt], par[nt:]
            try:
                if nodes is not None:
                    return float(ws.agq(theta, beta, nodes[0], nodes[1]))
                if exact:
                    return float(ws.laplace(theta, beta))
                return float(ws.sweep(theta, beta, lp, control.tol_pwrss)[0])
            except (PirlsFailure, FloatingPointError, np.linalg.LinAlgError, ArithmeticError):
                return np.inf

        return devfun

    def confint(self, method: str = "profile", level: float = 0.95, parm: Any = None, **kwargs: Any) -> pd.DataFrame:
        """Confidence intervals of the random-effect SDs/correlations and the fixed effects, as lme4's
        ``confint.merMod`` (``method``: ``profile``, ``wald`` or ``boot``)."""
        from ..inference.confint import confint

        return confint(self, method=method, level=level, parm=parm, **kwargs)

    def profile(self, which: Any = None, **kwargs: Any) -> LikelihoodProfile:
        """Likelihood profiles of every parameter, as lme4's ``profile`` for a GLMM (see
        :func:`mixbayes.inference.glmm_profile.profile_glmm`); ``.confint()`` and ``.plot()`` of the result."""
        from ..inference.glmm_profile import profile_glmm

        return profile_glmm(self, which=which, **kwargs)

    @renamed_kwargs(seed="random_seed", progress="progressbar")
    def bootstrap(self, nsim: int = 200, statistic: Any = None, random_seed: Any = None,
                  progressbar: bool | None = None) -> BootstrapResult:
        """Parametric bootstrap (lme4's ``bootMer``): responses simulated from the fit, each refitted (see
        :func:`mixbayes.inference.glmm_bootstrap.bootstrap_glmm`)."""
        from ..inference.glmm_bootstrap import bootstrap_glmm

        return bootstrap_glmm(self, nsim=nsim, statistic=statistic, random_seed=random_seed, progressbar=progressbar)


def null_model_intercept(model: Model) -> float:
    """The intercept of ``model``'s null model (same random effects and offsets, intercept only), fitted by
    likelihood with the default settings (its fit's warnings are not the model's, so they are not shown)."""
    f = model.design.formula
    text = f"{f.response_text} ~ 1" + "".join(f" + offset({o})" for o in f.offsets) + "".join(
        f" + {s.text}" for s in f.random)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        null = model.update(formula=text).fit(emit_warnings=False)
    return float(null.beta[0])


class _Report:
    def __init__(self, text: str, report: Any) -> None:
        self.text = text
        self.report = report
        self.problems = report.problems

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f"<pre class='mixbayes'>{html.escape(self.text)}</pre>"


class GlmmSummary(Exportable):
    """What ``summary(glmer(...))`` prints."""

    def __init__(self, fit: GlmmFit, correlation: bool = True) -> None:
        self.fit = fit
        self.correlation = correlation
        self.coefficients = wald_table(fit)

    @property
    def title(self) -> str:
        approx = {0: "Laplace Approximation, nAGQ = 0", 1: "Laplace Approximation"}.get(
            self.fit.nAGQ, f"Adaptive Gauss-Hermite Quadrature, nAGQ = {self.fit.nAGQ}")
        return f"Generalized linear mixed model fit by maximum likelihood ({approx})"

    def __str__(self) -> str:
        fit = self.fit
        fam = fit.family
        family_line = f" Family: {fam.display_name(fit.dispersion)}  ( {fam.link.name} )"
        if fit.phi is not None:
            family_line += f"; dispersion phi = {fit.phi:.4g} by ML (glmmTMB's convention)"
        lines = [self.title, family_line, f"Formula: {fit.formula}", "",
                 f"{'AIC':>9}{'BIC':>10}{'logLik':>10}{'deviance':>10}{'df.resid':>10}",
                 f"{fit.aic:9.1f}{fit.bic:10.1f}{fit.loglik:10.1f}{-2 * fit.loglik:10.1f}{fit.df_residual:10d}", ""]
        lines += residual_lines(fit.residuals("pearson").to_numpy())
        lines += ["Random effects:", fit.varcorr.table(variance=True)]
        lines += summary_tail(fit, self.coefficients, self.correlation)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        fit = self.fit
        coef = self.coefficients.copy()
        coef["Pr(>|z|)"] = [f"{p:.3g}" for p in coef["Pr(>|z|)"]]
        return (f"<div class='mixbayes-summary'><p><b>{html.escape(self.title)}</b><br>"
                f"<code>{html.escape(fit.formula)}</code><br>family {html.escape(str(fit.family))}; "
                f"AIC {fit.aic:.1f}, logLik {fit.loglik:.1f}</p>"
                f"{fit.varcorr.as_frame().to_html(index=False, float_format=lambda x: f'{x:.4g}')}"
                f"{coef.to_html(float_format=lambda x: f'{x:.4g}')}</div>")
