"""Results of a Bayesian fit: :class:`BayesFit`, with the likelihood fit's names (fixef, varcorr, ranef, coef,
predict, icc, summary, diagnose) answered by posterior summaries and draws."""

from __future__ import annotations

import html
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..arguments import renamed_kwargs
from ..design.matrices import ModelMatrices
from ..priors.prior import PriorSet
from ..results.base import DesignSizes
from ..results.display import Exportable
from ..results.ranef import CoefTable, group_coefficients
from .builder import BuiltModel
from .diagnostics import DiagnosticReport
from .output import response_variable
from .posterior import ParameterDraws
from .summaries import (
    WAIC,
    BayesICC,
    BayesRandomEffects,
    BayesVarCorr,
    PosteriorScalar,
    SamplerInfo,
    _interval_names,
)
from .views import BayesViews

if TYPE_CHECKING:
    import os
    from pathlib import Path

    import pymc as pm
    from arviz_stats.utils import ELPDData
    from xarray import DataTree

    from ..protocols import ModelLike as Model
    from .settings import SampleControl

__all__ = ["WAIC", "BayesFit", "BayesICC", "BayesRandomEffects", "BayesVarCorr", "PosteriorScalar", "SamplerInfo"]


class BayesFit(BayesViews, DesignSizes):
    """A Bayesian fit: the posterior of the model's parameters, sampled with NUTS.

    Attributes
    ----------
    model : the :class:`~mixbayes.Model`.
    idata : the ArviZ DataTree (posterior, sample_stats, observed_data, log_likelihood, optionally
        posterior_predictive).
    priors : the :class:`~mixbayes.priors.PriorSet` used.
    sampler_info : :class:`SamplerInfo` (sampler, random_seed, sizes, timings).
    settings : the :class:`~mixbayes.bayes.settings.SampleControl` the fit was sampled with (None for a loaded fit).
    params : the :class:`~mixbayes.bayes.posterior.ParameterDraws`.
    log_likelihood_unit : ``"group"`` or ``"observation"`` (what one pointwise log-likelihood value covers).
    """

    method = "NUTS"

    def __init__(self, model: Model, *, built: BuiltModel | None, params: ParameterDraws, idata: Any,
                 sampler_info: SamplerInfo, report: DiagnosticReport, log_likelihood_unit: str,
                 priors: PriorSet | None = None, settings: SampleControl | None = None) -> None:
        self.model = model
        self.design: ModelMatrices = model.design
        self._built: BuiltModel | None = built
        self.params = params
        self.idata = idata
        self.sampler_info = sampler_info
        self.settings = settings
        # built is None for a loaded fit: the PyMC model is rebuilt from the priors on first use
        chosen = built.priors if built is not None else priors
        if chosen is None:
            raise ValueError("a BayesFit needs its built model or, for a loaded fit, its priors")
        self.priors: PriorSet = chosen
        self._report = report
        self.log_likelihood_unit = log_likelihood_unit

    @property
    def built(self) -> BuiltModel:
        """The PyMC model and what interprets its draws (rebuilt on first use after unpickling or loading)."""
        if self._built is None:
            from .compiled import built_model

            self._built = built_model(self.model, self.priors, self.sampler_info.parameterisation)
        return self._built

    def __getstate__(self) -> dict[str, Any]:
        # the PyMC model and the compiled sampler are left out of the pickle and rebuilt on demand
        state = self.__dict__.copy()
        state["_built"] = None
        return state

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the fit (model, data, priors, sampler settings and the DataTree of draws) to a mixbayes file;
        :func:`mixbayes.load` reads it back without resampling.  See docs/saving.md."""
        from ..persistence.encode import save

        return save(self, path)

    @property
    def pymc_model(self) -> pm.Model:
        """The PyMC model that was sampled."""
        return self.built.pm_model

    @property
    def posterior(self) -> DataTree:
        """The ``posterior`` group of :attr:`idata`."""
        return self.idata["posterior"]

    # ---- fixed effects ---------------------------------------------------------------------------------------------
    @property
    def beta(self) -> np.ndarray:
        """Posterior means of the fixed effects."""
        return self.params.flat(self.params.beta).mean(axis=0)

    @property
    def fixef(self) -> pd.Series:
        """Posterior means of the fixed effects, named as lme4 names them."""
        return pd.Series(self.beta, index=list(self.design.fixef_names), name="mean")

    def fixef_summary(self, prob: float = 0.95) -> pd.DataFrame:
        """Per fixed effect: mean, sd, interval, ess_bulk, ess_tail, r_hat, mcse."""
        names = list(self.design.fixef_names)
        tab = self._report.table.loc[[f"beta[{n}]" for n in names]].copy()
        tab.index = pd.Index(names)
        if prob != 0.95:
            lo, hi = _interval_names(prob)
            q = np.quantile(self.params.flat(self.params.beta), [(1 - prob) / 2, (1 + prob) / 2], axis=0)
            tab = tab.drop(columns=["2.5%", "97.5%"])
            tab.insert(2, lo, q[0])
            tab.insert(3, hi, q[1])
        return tab

    @property
    def vcov(self) -> pd.DataFrame:
        """Posterior covariance of the fixed effects."""
        names = list(self.design.fixef_names)
        b = self.params.flat(self.params.beta)
        return pd.DataFrame(np.atleast_2d(np.cov(b, rowvar=False)), index=names, columns=names)

    @property
    def se(self) -> pd.Series:
        """Posterior SDs of the fixed effects."""
        return pd.Series(self.params.flat(self.params.beta).std(axis=0, ddof=1), index=list(self.design.fixef_names),
                         name="sd")

    # ---- variance components ---------------------------------------------------------------------------------------
    @cached_property
    def varcorr(self) -> BayesVarCorr:
        """Posterior of the SDs and correlations (``varcorr.as_frame()``, ``varcorr.draws``)."""
        return BayesVarCorr(self.design, self.params, self._report.table)

    @property
    def sigma(self) -> PosteriorScalar | None:
        """Posterior of the residual SD (Gaussian models), else None."""
        return None if self.params.sigma is None else PosteriorScalar(self.params.sigma, "sigma")

    @property
    def dispersion(self) -> PosteriorScalar | None:
        """Posterior of the negative binomial's dispersion theta, else None."""
        return None if self.params.dispersion is None else PosteriorScalar(self.params.dispersion, "dispersion")

    # ---- random effects --------------------------------------------------------------------------------------------
    def ranef(self, prob: float = 0.95) -> BayesRandomEffects:
        """Posterior means (and SDs, intervals, draws) of the random effects per grouping factor."""
        return BayesRandomEffects(self.design, self.params, prob)

    @property
    def coef(self) -> CoefTable:
        """Per grouping factor: posterior means of fixed effects plus the level's random effects; a property (the
        old call ``fit.coef`` still works for one release, with a FutureWarning)."""
        return group_coefficients(self.fixef, self.ranef())

    # ---- ICC -------------------------------------------------------------------------------------------------------
    def null_intercept(self) -> float:
        """Intercept of the null model (likelihood fit), used for the latent variance of log-link models (fitted
        once per fit)."""
        return self._null_intercept

    @cached_property
    def _null_intercept(self) -> float:
        from ..results.glmm import null_model_intercept

        return null_model_intercept(self.model)

    def icc(self) -> BayesICC:
        """The ICC per posterior draw (adjusted and unadjusted, as ``performance::icc``), with summaries."""
        from ..results.icc import icc_draws, latent_residual_variance

        p = self.params
        S = p.n_samples
        covs = [p.flat(p.cov(k)) for k in range(len(self.design.terms))]
        theta = None if p.dispersion is None else p.flat(p.dispersion)
        sigma = None if p.sigma is None else p.flat(p.sigma)
        resid = np.broadcast_to(np.asarray(latent_residual_variance(self, theta_nb=theta, sigma=sigma), dtype=float),
                                (S,))
        d = icc_draws(self.design, covs, p.flat(p.beta), resid)
        groups = {g: PosteriorScalar(np.asarray(v["icc"]), f"icc[{g}]") for g, v in d.groups.items()}
        return BayesICC(PosteriorScalar(d.adjusted, "adjusted ICC"), PosteriorScalar(d.unadjusted, "unadjusted ICC"),
                        groups)

    # ---- predictions -----------------------------------------------------------------------------------------------
    def predict(self, newdata: pd.DataFrame | None = None, include_random: bool = True,
                allow_new_levels: bool = True, type: str = "response", summary: bool = True, prob: float = 0.95,
                predictive: bool = False, random_seed: int | None = None) -> pd.DataFrame:
        """Posterior predictions for new data (or the fitted data).

        Parameters
        ----------
        include_random : False gives population-level predictions.
        allow_new_levels : unseen grouping levels get random effects drawn from the population distribution
            N(0, Sigma) of each posterior draw (one draw per new level, shared by its rows); False raises for them.
        type : ``"response"`` (mean on the response scale) or ``"link"``.
        summary : True: one row per observation with mean, sd and interval; False: the draws (S x rows).
        predictive : add observation noise (draws of new observations; binomial: 0/1 outcomes).
        random_seed : for the new levels' effects and the observation noise.
        """
        from .predict import prediction_draws

        values, index = prediction_draws(self, newdata, include_random, allow_new_levels, type, predictive,
                                         np.random.default_rng(random_seed))
        if not summary:
            return pd.DataFrame(values, columns=index)
        lo, hi = _interval_names(prob)
        with np.errstate(all="ignore"):
            q = np.quantile(values, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
            return pd.DataFrame({"mean": values.mean(axis=0), "sd": values.std(axis=0, ddof=1), lo: q[0], hi: q[1]},
                                index=index)

    @renamed_kwargs(seed="random_seed")
    def predict_intervals(self, newdata: pd.DataFrame | None = None, interval: str = "confidence",
                          level: float = 0.95, type: str = "response", random_seed: Any = None) -> pd.DataFrame:
        """Population-level posterior (``interval="confidence"``) or posterior predictive (``"prediction"``: a
        new group's observations) means and intervals, in the columns of the likelihood fits'
        ``predict_intervals`` (see :func:`mixbayes.results.intervals.prediction_intervals`)."""
        from ..results.intervals import prediction_intervals

        return prediction_intervals(self, newdata, interval=interval, level=level, type=type, random_seed=random_seed)

    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """One row per parameter, with the columns of the likelihood fits' ``tidy`` (see
        :func:`mixbayes.results.tidy.tidy`)."""
        from ..results.tidy import tidy

        return tidy(self, conf_level=conf_level)

    def pointwise_loglik(self, unit: str = "observation") -> np.ndarray:
        """(draws, units) log-likelihood: per ``observation`` (default; conditional on each draw's random
        effects, whatever the parameterisation) or per ``group`` (the sampled units of a marginalised fit)."""
        from .loo_compare import pointwise_loglik

        return pointwise_loglik(self, unit)

    # ---- model comparison ------------------------------------------------------------------------------------------
    def _pointwise_loglik(self) -> np.ndarray:
        ll = self.idata["log_likelihood"][response_variable(self.design)].values
        return ll.reshape(-1, ll.shape[-1])

    def loo(self, **kwargs: Any) -> ELPDData:
        """PSIS leave-one-out cross-validation (``arviz_stats.loo``), leaving one observation out whatever the
        parameterisation (per group: ``mb.loo_compare(..., unit="group")`` or :meth:`pointwise_loglik`)."""
        import arviz_stats as azs

        return azs.loo(self.idata, var_name=response_variable(self.design), **kwargs)

    def waic(self) -> WAIC:
        """WAIC from the pointwise log-likelihood (same units as :meth:`loo`)."""
        from scipy.special import logsumexp

        ll = self._pointwise_loglik()
        S = ll.shape[0]
        lppd = logsumexp(ll, axis=0) - np.log(S)
        p = np.var(ll, axis=0, ddof=1)
        elpd = lppd - p
        return WAIC(elpd_waic=float(elpd.sum()), se=float(np.sqrt(len(elpd) * np.var(elpd))), p_waic=float(p.sum()),
                    waic=float(-2 * elpd.sum()), pointwise=elpd, n_high_p=int(np.sum(p > 0.4)))

    # ---- reporting -------------------------------------------------------------------------------------------------
    def diagnose(self) -> DiagnosticReport:
        """The full sampling-diagnostics report (divergences, R-hat, ESS, tree depth, E-BFMI)."""
        return self._report

    def summary(self, prob: float = 0.95) -> BayesSummary:
        return BayesSummary(self, prob)

    def __repr__(self) -> str:
        return str(self.summary())


class BayesSummary(Exportable):
    """What ``print(fit.summary())`` shows: model, sampler, variance components, fixed effects, diagnostics."""

    def __init__(self, fit: BayesFit, prob: float = 0.95) -> None:
        self.fit = fit
        self.prob = prob
        self.fixed = fit.fixef_summary(prob)
        self.random = fit.varcorr.as_frame(prob)

    @property
    def title(self) -> str:
        fam = self.fit.design.family
        kind = "linear" if fam.is_lmm else "generalized linear"
        return f"Bayesian {kind} mixed model fit by NUTS ({self.fit.sampler_info.sampler})"

    def __str__(self) -> str:
        fit = self.fit
        info = fit.sampler_info
        rep = fit.diagnose()
        fam = fit.design.family
        lines = [self.title, f" Family: {fam.name}  ( {fam.link.name} )", f"Formula: {fit.formula}",
                 f"Draws: {info.chains} chains x {info.draws} (after {info.tune} warm-up), seed {info.random_seed}; "
                 f"{sum(v for k, v in info.timings.items() if k != 'total'):.1f} s",
                 f"Parameterisation: {info.parameterisation} - {info.parameterisation_text}", "",
                 f"Random effects (posterior medians of the SDs and correlations, {100 * self.prob:g}% intervals):",
                 fit.varcorr.table(self.prob),
                 f"Number of obs: {fit.nobs}, groups:  " + ", ".join(f"{g}, {n}" for g, n in fit.ngroups.items()),
                 "", "Fixed effects:"]
        tab = self.fixed.copy()
        lines.append(tab.to_string(float_format=lambda x: f"{x:.4g}"))
        lines += ["", f"Sampling: {rep.divergences} divergences, max R-hat {rep.max_rhat:.3f}, min bulk ESS "
                      f"{rep.min_ess_bulk:.0f}, min tail ESS {rep.min_ess_tail:.0f}"]
        if rep.problems:
            lines += ["Sampling problems (see fit.diagnose()):"] + [f"  [{k}] {p}: {m}" for k, p, m, _ in rep.problems]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        fit = self.fit
        rep = fit.diagnose()
        probs = "".join(f"<li>[{html.escape(k)}] {html.escape(p)}: {html.escape(m)}</li>"
                        for k, p, m, _ in rep.problems)
        fmt = {"float_format": lambda x: f"{x:.4g}"}
        return (f"<div class='mixbayes-summary'><p><b>{html.escape(self.title)}</b><br>"
                f"<code>{html.escape(fit.formula)}</code><br>{html.escape(str(fit.sampler_info))}</p>"
                f"<p><b>Random effects</b></p>{self.random.to_html(index=False, **fmt)}"
                f"<p><b>Fixed effects</b></p>{self.fixed.to_html(**fmt)}"
                f"<p>{rep.divergences} divergences, max R-hat {rep.max_rhat:.3f}, "
                f"min bulk ESS {rep.min_ess_bulk:.0f}</p>"
                + (f"<ul>{probs}</ul>" if probs else "") + "</div>")
