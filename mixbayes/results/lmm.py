"""Results of a linear mixed model fitted by REML or ML (``mb.lmer``)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..arguments import renamed_kwargs
from ..design.terms import conditional_covariances
from ..exceptions import ArgumentError
from ..inference.refit import simulate_response
from ..likelihood.lmm import LmmControl, LmmEstimate, LmmObjective, fit_lmm
from .base import MixedFit

if TYPE_CHECKING:
    from ..inference.bootstrap import BootstrapResult
    from ..inference.profile import LikelihoodProfile
    from ..protocols import ModelLike as Model
    from .icc import ICC
    from .summary import LmmSummary

__all__ = ["LmmFit"]


class LmmFit(MixedFit):
    """A linear mixed model fitted by REML (``reml=True``) or ML.

    Besides the common attributes (see :class:`~mixbayes.results.base.MixedFit`): ``sigma``, ``loglik``,
    ``aic``, ``bic``, ``deviance``, ``reml_criterion``, ``residuals()``, ``simulate()``, ``refit()``,
    ``summary()``, ``icc()``, Satterthwaite tests (``satterthwaite()``), F tests (``anova()``, ``contest()``),
    ``bootstrap()``, ``profile()`` and ``confint()``.
    """

    def __init__(self, model: Model, estimate: LmmEstimate, reml: bool, y: np.ndarray | None = None,
                 control: LmmControl | None = None) -> None:
        super().__init__(model, theta=estimate.theta, beta=estimate.beta, u=estimate.u, b=estimate.b,
                         optsummary=estimate.optsummary, convergence=estimate.report)
        self.reml = reml
        self.method = "REML" if reml else "ML"
        self.sigma = float(estimate.sigma)
        self.objective_value = float(estimate.fmin)
        self.gradient = estimate.gradient
        self.hessian = estimate.hessian
        self.estimate = estimate
        self.y = self.design.y if y is None else np.asarray(y, dtype=float)
        self.control: LmmControl = LmmControl.from_any(control)

    # ---- estimates -------------------------------------------------------------------------------------
    @property
    def scale_sigma(self) -> float:
        return self.sigma

    def _vcov_array(self) -> np.ndarray:
        return self.estimate.vcov

    def _cond_blocks(self) -> list[np.ndarray]:
        from ..likelihood.lmm import blas_limit

        with blas_limit(self.design):
            self.estimate.objective(self.theta)
            blocks = self.estimate.objective.factor.conditional_u_blocks()
        return conditional_covariances(self.design.terms, self.theta, blocks, self.sigma**2)

    # ---- likelihood ----------------------------------------------------------------------------------------
    @property
    def npar(self) -> int:
        """Number of parameters: fixed effects, theta and sigma."""
        return self.design.n_fixef + self.design.n_theta + 1

    @property
    def loglik(self) -> float:
        """Log-likelihood (the REML log-likelihood for a REML fit, as lme4's ``logLik``)."""
        return -0.5 * self.objective_value

    @property
    def reml_criterion(self) -> float | None:
        """-2 REML log-likelihood (REML fits only)."""
        return self.objective_value if self.reml else None

    @cached_property
    def deviance(self) -> float:
        """-2 log-likelihood (ML); for a REML fit, at the REML estimates (lme4's ``deviance(fit, REML=FALSE)``)."""
        if not self.reml:
            return self.objective_value
        return float(LmmObjective(self.design, reml=False, y=self.y)(self.theta))

    # ---- residuals ------------------------------------------------------------------------------------------
    @property
    def fitted(self) -> pd.Series:
        return pd.Series(self.linear_predictor, index=self.design.row_index)

    def residuals(self, type: str = "response") -> pd.Series:
        """Residuals: ``response`` (y - fitted), ``pearson`` (sqrt(w) (y - fitted), lme4's convention) or
        ``scaled`` (Pearson residuals divided by sigma)."""
        r = self.y - self.linear_predictor
        if type == "response":
            out = r
        elif type in ("pearson", "deviance"):
            out = np.sqrt(self.design.weights) * r
        elif type == "scaled":
            out = np.sqrt(self.design.weights) * r / self.sigma
        else:
            raise ArgumentError(f"unknown residual type {type!r}: use response, pearson or scaled")
        return pd.Series(out, index=self.design.row_index, name=f"{type} residuals")

    # ---- simulation and refitting ------------------------------------------------------------------------------
    @renamed_kwargs(seed="random_seed")
    def simulate(self, nsim: int = 1, random_seed: int | np.random.Generator | None = None,
                 include_random: bool = True) -> pd.DataFrame:
        """Draw new responses from the fitted model (new random effects and residuals), as lme4's ``simulate``.

        Returns an (nobs, nsim) DataFrame with columns ``sim_1``, ``sim_2``...
        """
        rng = np.random.default_rng(random_seed)
        d = self.design
        out = np.empty((d.n_obs, nsim))
        for k in range(nsim):
            out[:, k] = simulate_response(d, self.beta, self.theta, self.sigma, rng, include_random)
        return pd.DataFrame(out, index=d.row_index, columns=[f"sim_{k + 1}" for k in range(nsim)])

    def refit(self, new_response: Any, start: np.ndarray | None = None, emit_warnings: bool = True) -> LmmFit:
        """Refit the same design to a new response vector (e.g. a simulated one), starting from this theta; the
        refit's ``model`` is ``self.model.with_response(new_response)``."""
        y = np.asarray(new_response, dtype=float).ravel()
        if y.shape != (self.nobs,):
            raise ArgumentError(f"new_response has {y.size} values; the model has {self.nobs} observations")
        model = self.model.with_response(y)
        est = fit_lmm(model.design, self.reml, self.control, start=self.theta if start is None else start,
                      emit_warnings=emit_warnings)
        return LmmFit(model, est, self.reml, control=self.control)

    # ---- inference --------------------------------------------------------------------------------------------
    def satterthwaite(self, L: Any = None) -> pd.DataFrame:
        """t tests with Satterthwaite's degrees of freedom (lmerTest's default), one row per contrast.

        ``L``: contrast matrix (rows), default the identity (one test per fixed effect).
        """
        from ..inference.satterthwaite import satterthwaite_table

        return satterthwaite_table(self, L)

    def anova(self, type: int | str = 3, ddf: str = "satterthwaite") -> pd.DataFrame:
        """F tests of the model terms, as lmerTest's ``anova(fit, type=, ddf=)`` (type III by default;
        ``ddf``: ``satterthwaite`` or ``kenward-roger``).  To compare fits, use ``mb.anova(fit1, fit2)``."""
        from ..inference.ftests import anova_table

        return anova_table(self, type=type, ddf=ddf)

    def contest(self, L: Any, ddf: str = "satterthwaite", joint: bool = True, rhs: Any = 0.0,
                confint: bool = False, level: float = 0.95) -> pd.DataFrame:
        """Tests of contrasts L beta = rhs, as lmerTest's ``contest``: one F test (``joint=True``) or a t test
        per row of ``L``."""
        from ..inference.ftests import contest

        return contest(self, L, ddf=ddf, joint=joint, rhs=rhs, confint=confint, level=level)

    @renamed_kwargs(seed="random_seed", progress="progressbar")
    def bootstrap(self, nsim: int = 1000, statistic: Any = None, random_seed: Any = None, n_jobs: int | None = None,
                  backend: str | None = None, progressbar: bool | None = None) -> BootstrapResult:
        """Parametric bootstrap, as lme4's ``bootMer`` (see :func:`mixbayes.inference.bootstrap.bootstrap`);
        ``.confint()`` of the result gives percentile intervals."""
        from ..inference.bootstrap import bootstrap

        return bootstrap(self, nsim=nsim, statistic=statistic, random_seed=random_seed, n_jobs=n_jobs, backend=backend,
                         progressbar=progressbar)

    def profile(self, which: Any = None, **kwargs: Any) -> LikelihoodProfile:
        """Likelihood profiles of the variance parameters and fixed effects, as lme4's ``profile``
        (see :func:`mixbayes.inference.profile.profile`); ``.confint()`` and ``.plot()`` of the result."""
        from ..inference.profile import profile

        return profile(self, which=which, **kwargs)

    def confint(self, method: str = "profile", level: float = 0.95, parm: Any = None, **kwargs: Any) -> pd.DataFrame:
        """Confidence intervals, as lme4's ``confint.merMod`` (``method``: ``profile``, ``wald`` or ``boot``)."""
        from ..inference.confint import confint

        return confint(self, method=method, level=level, parm=parm, **kwargs)

    def icc(self) -> ICC:
        """ICC (adjusted and unadjusted, as ``performance::icc``), design effects and effective sample sizes."""
        from .icc import icc

        return icc(self)

    def summary(self, ddf: str = "satterthwaite", correlation: bool = True) -> LmmSummary:
        """lme4's summary, with lmerTest's df and p-values (``ddf``: ``satterthwaite``, ``kenward-roger``
        or ``none``)."""
        from .summary import LmmSummary

        return LmmSummary(self, ddf=ddf, correlation=correlation)
