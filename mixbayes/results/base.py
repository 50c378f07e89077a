"""What likelihood fits of every family share: estimates, random effects, predictions, tables."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..arguments import renamed_kwargs
from ..design.matrices import ModelMatrices
from ..design.terms import effect_blocks
from ..likelihood.convergence import ConvergenceReport
from ..likelihood.optimizers import OptSummary
from .prediction import new_linear_predictor
from .ranef import CoefTable, RandomEffects, group_coefficients
from .varcorr import VarCorr
from .views import FitViews

if TYPE_CHECKING:
    import os
    from pathlib import Path

    from ..protocols import ModelLike as Model

__all__ = ["DesignSizes", "InformationCriteria", "MixedFit"]


class InformationCriteria:
    """AIC, BIC and the residual degrees of freedom, from a fit's ``loglik``, ``npar`` and ``nobs``."""

    loglik: float
    npar: int
    nobs: int

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.npar

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + np.log(self.nobs) * self.npar

    @property
    def df_residual(self) -> int:
        return self.nobs - self.npar


class DesignSizes:
    """nobs, ngroups and formula of a fit's design (shared by likelihood and Bayesian fits)."""

    design: ModelMatrices

    @property
    def nobs(self) -> int:
        return self.design.n_obs

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor."""
        out: dict[str, int] = {}
        for t in self.design.terms:
            out.setdefault(t.group, t.n_levels)
        return out

    @property
    def formula(self) -> str:
        return self.design.formula.text


class MixedFit(FitViews, DesignSizes, InformationCriteria):
    """Common part of :class:`~mixbayes.results.lmm.LmmFit` and :class:`~mixbayes.results.glmm.GlmmFit`.

    Attributes
    ----------
    model : the :class:`~mixbayes.Model` fitted.
    theta : relative covariance parameters (lme4's theta).
    beta : fixed effects.
    b : random effects (conditional modes), level-major within each term in lme4's term order.
    u : spherical random effects, b = Lambda(theta) u.
    optsummary : the optimiser record (every evaluation logged).
    convergence : the convergence report (``diagnose()`` prints it).
    """

    method: str = ""

    def __init__(self, model: Model, *, theta: np.ndarray, beta: np.ndarray, u: np.ndarray, b: np.ndarray,
                 optsummary: OptSummary, convergence: ConvergenceReport) -> None:
        self.model = model
        self.design: ModelMatrices = model.design
        self.theta = np.asarray(theta, dtype=float)
        self.beta = np.asarray(beta, dtype=float)
        self.u = np.asarray(u, dtype=float)
        self.b = np.asarray(b, dtype=float)
        self.optsummary = optsummary
        self.convergence = convergence

    # ---- information criteria (subclasses define loglik and npar) --------------------------------------------
    @property
    def loglik(self) -> float:
        raise NotImplementedError

    @property
    def npar(self) -> int:
        raise NotImplementedError

    # ---- estimates ---------------------------------------------------------------------------------------
    @property
    def fixef(self) -> pd.Series:
        """Fixed-effects estimates, named as lme4 names them."""
        return pd.Series(self.beta, index=list(self.design.fixef_names), name="estimate")

    @property
    def vcov(self) -> pd.DataFrame:
        names = list(self.design.fixef_names)
        return pd.DataFrame(self._vcov_array(), index=names, columns=names)

    def _vcov_array(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def se(self) -> pd.Series:
        """Wald standard errors of the fixed effects."""
        return pd.Series(np.sqrt(np.diag(self._vcov_array())), index=list(self.design.fixef_names), name="se")

    @property
    def scale_sigma(self) -> float | None:
        """Residual SD (None for families without a scale parameter)."""
        return None

    @cached_property
    def varcorr(self) -> VarCorr:
        """Variance components: SDs and correlations (``fit.varcorr.as_frame()`` is lme4's long form)."""
        return VarCorr.from_theta(self.design, self.theta, self.scale_sigma)

    @property
    def is_singular(self) -> bool:
        """lme4's ``isSingular`` (tol 1e-4): a diagonal element of a relative covariance factor near zero."""
        return bool(self.convergence.singular)

    def _cond_blocks(self) -> list[np.ndarray]:
        raise NotImplementedError

    @cached_property
    def _ranef(self) -> RandomEffects:
        return RandomEffects(self.design, self.b, self._cond_blocks())

    def ranef(self, condvar: bool = True) -> RandomEffects:
        """Conditional modes of the random effects per grouping factor, with conditional SDs (``condsd``)."""
        if condvar:
            return self._ranef
        return RandomEffects(self.design, self.b, None)

    @property
    def coef(self) -> CoefTable:
        """Per grouping factor: fixed effects plus the level's random effects (lme4's ``coef``); a property (the
        old call ``fit.coef`` still works for one release, with a FutureWarning)."""
        return group_coefficients(self.fixef, self.ranef(condvar=False))

    # ---- linear predictor and predictions ---------------------------------------------------------------------
    @cached_property
    def linear_predictor(self) -> np.ndarray:
        """eta = X beta + Z b + offset on the data used for the fit."""
        d = self.design
        eta = d.X @ self.beta + d.offset
        for t, bt in zip(d.terms, effect_blocks(d.terms, self.b), strict=True):
            eta = eta + t.z_times(bt)
        return eta

    @property
    def fitted(self) -> pd.Series:
        """Fitted values on the response scale, indexed like the data rows used."""
        return pd.Series(self.design.family.link.inverse(self.linear_predictor), index=self.design.row_index)

    def predict(self, newdata: pd.DataFrame | None = None, include_random: bool = True,
                allow_new_levels: bool = False, type: str = "response", offset: Any = None) -> pd.Series:
        """Predictions for new data (or the fitted data).

        Parameters
        ----------
        include_random : False gives population-level predictions (lme4's ``re.form = NA``).
        allow_new_levels : unseen grouping levels get the population level (random effect 0) instead of an error.
        type : ``"response"`` or ``"link"``.
        """
        if newdata is None:
            eta = self.linear_predictor if include_random else self.design.X @ self.beta + self.design.offset
            index = self.design.row_index
        else:
            from ..frames import to_pandas

            newdata = to_pandas(newdata, "newdata")
            eta = new_linear_predictor(self.design, self.beta, self.b, newdata, include_random,
                                       allow_new_levels, offset)
            index = newdata.index
        values = eta if type == "link" else self.design.family.link.inverse(eta)
        return pd.Series(values, index=index, name="predicted")

    @renamed_kwargs(seed="random_seed")
    def predict_intervals(self, newdata: pd.DataFrame | None = None, interval: str = "confidence",
                          method: str = "delta", level: float = 0.95, type: str = "response", nsim: int = 200,
                          random_seed: Any = None) -> pd.DataFrame:
        """Population-level predictions (lme4's ``re.form = NA``) with confidence or prediction intervals (see
        :func:`mixbayes.results.intervals.prediction_intervals`)."""
        from .intervals import prediction_intervals

        return prediction_intervals(self, newdata, interval=interval, method=method, level=level, type=type,
                                    nsim=nsim, random_seed=random_seed)

    def tidy(self, conf_level: float = 0.95, conf_method: str = "wald", **kwargs: Any) -> pd.DataFrame:
        """One row per parameter (see :func:`mixbayes.results.tidy.tidy`)."""
        from .tidy import tidy

        return tidy(self, conf_level=conf_level, conf_method=conf_method, **kwargs)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the fit to a mixbayes file (formula, family, data, fitting options and the estimates);
        :func:`mixbayes.load` refits it from them and checks the estimates.  See docs/saving.md."""
        from ..persistence.encode import save

        return save(self, path)

    def diagnose(self) -> ConvergenceReport:
        """The full convergence report (optimiser, gradient, Hessian, singularity, scaling)."""
        return self.convergence

    def __repr__(self) -> str:
        return str(self.summary())

    def summary(self, **kwargs: Any) -> object:
        """The printed summary (each fit returns its own summary object)."""
        raise NotImplementedError
