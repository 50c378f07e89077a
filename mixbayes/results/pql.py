"""Results of a GLMM fitted by penalised quasi-likelihood (``fit(method="pql")``, ``MASS::glmmPQL``)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ..design.terms import conditional_covariances
from ..exceptions import ArgumentError, ConvergenceWarning
from ..likelihood.pql import PqlEstimate, fit_pql
from ..warn import warn_user
from .base import MixedFit

if TYPE_CHECKING:
    from ..protocols import ModelLike as Model

__all__ = ["PqlFit", "fit_pql_model"]


def fit_pql_model(model: Model, niter: int = 10, control: Any = None, emit_warnings: bool = True) -> PqlFit:
    """Fit ``model`` (binomial or Poisson) by PQL, as ``MASS::glmmPQL(..., niter = niter)``."""
    from ..arguments import check_int

    check_int(niter, "niter", 1)
    est = fit_pql(model.design, niter=niter, control=control)
    fit = PqlFit(model, est)
    if emit_warnings and not est.converged:
        # glmmPQL stops silently after niter fits; we say so
        warn_user(
            f"PQL did not converge in {niter} iterations (last relative change of the linear predictor "
            f"{est.eta_changes[-1]:.3g}, criterion 1e-6); the estimates are those of the last working fit, as "
            "glmmPQL returns them. Remedy: raise niter, or use the Laplace approximation (method='laplace')",
            ConvergenceWarning)
    return fit


class PqlFit(MixedFit):
    """A binomial or Poisson GLMM fitted by PQL, with ``MASS::glmmPQL``'s conventions.

    PQL is an approximate method: each iteration fits a weighted linear mixed model (by ML) to the working
    response of the GLMM, so the result is the last working LMM.  It is known to underestimate the random-effect
    variance and to shrink the fixed effects towards zero when the clusters are small and the response is
    binary or has small counts (Breslow & Lin 1995; see docs/pql.md); prefer the Laplace approximation or AGQ.

    Attributes follow glmmPQL: ``sigma`` is the residual scale of the working LMM (a quasi-likelihood
    dispersion, estimated, not fixed at 1); ``varcorr`` gives the random-effect SDs (sigma * theta, as
    ``VarCorr(fit)``); ``vcov`` is ``vcov(fit)`` (the ML covariance of the working LMM); ``se`` are the standard
    errors that ``summary(fit)`` prints, which nlme inflates by sqrt(N / (N - p)) for ML fits (``adjustSigma``),
    so ``se`` is not sqrt(diag(vcov)); ``coefficients`` is summary's table with nlme's denominator DF.  There is no
    likelihood: ``loglik``, ``aic`` and ``bic`` are NaN (glmmPQL returns NA).  ``iterations`` and
    ``converged`` record the PQL loop; ``working_fit`` is the last working LMM (an ``LmmFit``).
    """

    method = "PQL"

    def __init__(self, model: Model, estimate: PqlEstimate) -> None:
        lmm = estimate.lmm
        super().__init__(model, theta=lmm.theta, beta=lmm.beta, u=lmm.u, b=lmm.b, optsummary=lmm.optsummary,
                         convergence=lmm.report)
        self.estimate = estimate
        self.family = model.design.family
        self.sigma = float(lmm.sigma)
        self.iterations = estimate.iterations
        self.converged = estimate.converged

    @cached_property
    def working_fit(self) -> Any:
        """The last working LMM fit (response z, weights w), as glmmPQL's underlying ``lme`` object."""
        from .lmm import LmmFit

        clone = type(self.model).__new__(type(self.model))  # the model with the working design (no import up)
        clone.__dict__.update(self.model.__dict__)
        clone.design = self.estimate.working_design
        return LmmFit(clone, self.estimate.lmm, reml=False)

    # ---- estimates --------------------------------------------------------------------------------------------
    @property
    def scale_sigma(self) -> float:
        return self.sigma

    def _vcov_array(self) -> np.ndarray:
        return self.sigma**2 * self.estimate.lmm.unscaled_vcov

    @property
    def se(self) -> pd.Series:
        """The standard errors of ``summary(glmmPQL)``: sqrt(diag(vcov)) * sqrt(N / (N - p)) (nlme's adjustSigma)."""
        n, p = self.design.n_obs, self.design.n_fixef
        se = np.sqrt(np.diag(self._vcov_array()) * n / (n - p))
        return pd.Series(se, index=list(self.design.fixef_names), name="se")

    def _cond_blocks(self) -> list[np.ndarray]:
        obj = self.estimate.lmm.objective
        obj(self.theta)
        blocks = obj.factor.conditional_u_blocks()
        return conditional_covariances(self.design.terms, self.theta, blocks, self.sigma**2)

    @property
    def npar(self) -> int:
        return self.design.n_fixef + self.design.n_theta + 1

    @property
    def loglik(self) -> float:
        """NaN: PQL maximises no likelihood (glmmPQL sets logLik to NA); compare models with Laplace fits."""
        return float("nan")

    @property
    def df(self) -> pd.Series:
        """nlme's denominator DF for a single grouping factor: N - groups - (within-group columns) for the
        intercept and the columns that vary within groups, groups - 1 - (between-group columns) for the others."""
        d = self.design
        names = list(d.fixef_names)
        if len(d.terms) != 1:
            return pd.Series(np.full(len(names), np.nan), index=names, name="DF")
        codes = d.terms[0].codes
        ng = d.terms[0].n_levels
        X = d.X
        between = []
        for j in range(X.shape[1]):
            col = X[:, j]
            lo = np.full(ng, np.inf)
            hi = np.full(ng, -np.inf)
            np.minimum.at(lo, codes, col)
            np.maximum.at(hi, codes, col)
            const = bool(np.all(hi - lo <= 1e-12 * (1 + np.abs(hi))))
            between.append(const and names[j] != "(Intercept)")
        between_arr = np.array(between)
        has_int = "(Intercept)" in names
        n_within = int(np.sum(~between_arr)) - (1 if has_int else 0)
        inner = d.n_obs - ng - n_within
        outer = ng - (1 if has_int else 0) - int(np.sum(between_arr))
        return pd.Series(np.where(between_arr, outer, inner).astype(float), index=names, name="DF")

    @property
    def coefficients(self) -> pd.DataFrame:
        """``summary(glmmPQL)$tTable``: Value, Std.Error, DF, t-value, p-value."""
        est, se, df = self.fixef.to_numpy(), self.se.to_numpy(), self.df.to_numpy()
        t = est / se
        return pd.DataFrame({"Value": est, "Std.Error": se, "DF": df, "t-value": t,
                             "p-value": 2 * stats.t.sf(np.abs(t), df)}, index=list(self.design.fixef_names))

    def residuals(self, type: str = "response") -> pd.Series:
        """``response`` (y - mu) or ``pearson`` residuals of the GLMM, or ``working`` (z - eta)."""
        y, mu = self.design.y, np.asarray(self.fitted)
        if type == "response":
            r = y - mu
        elif type == "pearson":
            r = (y - mu) * np.sqrt(self.design.weights) / np.sqrt(self.family.variance(mu))
        elif type == "working":
            r = (y - mu) / self.family.link.mu_eta(self.linear_predictor)
        else:
            raise ArgumentError(f"unknown residual type {type!r}: use response, pearson or working")
        return pd.Series(r, index=self.design.row_index, name=f"{type} residuals")

    def summary(self, **kwargs: Any) -> PqlSummary:
        return PqlSummary(self)


class PqlSummary:
    """What ``summary(glmmPQL(...))`` prints (fixed effects with nlme's DF; no likelihood)."""

    def __init__(self, fit: PqlFit) -> None:
        self.fit = fit
        self.coefficients = fit.coefficients

    def __str__(self) -> str:
        fit = self.fit
        fam = fit.family
        conv = "converged" if fit.converged else "NOT converged"
        lines = ["Generalized linear mixed model fit by penalized quasi-likelihood (PQL; approximate)",
                 f" Family: {fam.name}  ( {fam.link.name} )", f"Formula: {fit.formula}",
                 f"PQL iterations: {fit.iterations} ({conv}); logLik, AIC, BIC: not defined for PQL", "",
                 "Random effects:", fit.varcorr.table(variance=False), "",
                 "Fixed effects:", self.coefficients.to_string(float_format=lambda x: f"{x:.6g}"), "",
                 f"Number of obs: {fit.nobs}, groups: "
                 + ", ".join(f"{k}, {v}" for k, v in fit.ngroups.items())]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)
