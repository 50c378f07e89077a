"""The PyMC model of a glmmTMB-family fit (zero-inflated, hurdle, NB1, NB2, beta-binomial) and its NUTS sampling.

Parameterisation (as :mod:`mixbayes.bayes.builder` for lme4's families):

* conditional fixed effects ``fixef_c`` and zero-inflation ones ``zi_c``, with the non-intercept columns centred
  internally (the intercepts are converted back to the original columns afterwards);
* the log-density of :mod:`mixbayes.bayes.tmb_logp` (logsumexp for zero-inflation, log1mexp for truncation);
* the dispersion ``sigma`` on glmmTMB's scale (``sigma(fit)``: theta of nbinom2, phi of nbinom1 and
  betabinomial), entering the density as ``d = log(sigma)``;
* random effects non-centred, ``b = z L'`` with ``z ~ N(0, 1)``, per-column SDs ``sd__<label>`` and an LKJ
  correlation factor ``cor__<label>`` for a term with several columns.

The default priors (docs/priors.md) are :func:`mixbayes.priors.prior.default_priors` of the conditional design (a
Poisson or binomial design: the link-scale rules) plus ``zi~<column>`` for the zero-inflation coefficients and
``dispersion`` for ``sigma`` (:func:`tmb_priors`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..families.tmb import NBinom1
from ..priors.prior import (
    Prior,
    PriorEntry,
    PriorSet,
    column_sd,
    default_priors,
    intercept_index,
    sd_entry_names,
    term_labels,
)

if TYPE_CHECKING:
    from ..likelihood.tmb_design import TmbDesign

__all__ = ["TmbBayesModel", "build_tmb_model", "sample_tmb_model", "tmb_priors"]


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def tmb_priors(td: TmbDesign) -> PriorSet:
    """The default priors of a glmmTMB-family model (see docs/priors.md, "glmmTMB's families")."""
    entries = list(default_priors(td.design).entries)
    resp = td.problem.response
    fam = td.family
    if td.zi_design is not None:
        zd = td.zi_design
        icpt = intercept_index(zd)
        X = np.asarray(zd.X, float)
        p0 = float(np.clip(np.mean(resp.zero), 0.02, 0.98))
        for j, name in enumerate(zd.fixef_names):
            if j == icpt:
                loc = _logit(p0) if fam.truncated else 0.0
                why = ("logit of the observed fraction of zeros" if fam.truncated else
                       "centred at probability 1/2") + ", sd 2.5 on the logit scale (rstanarm's scale)"
                entries.append(PriorEntry(f"zi~{name}", Prior("Normal", mu=loc, sigma=2.5), "fixef_zi",
                                          "zero-inflation intercept at the predictors' means (centred)", why,
                                          column=name))
                continue
            sx = column_sd(X[:, j] - (X[:, j].mean() if icpt is not None else 0.0)) or 1.0
            entries.append(PriorEntry(f"zi~{name}", Prior("Normal", mu=0.0, sigma=2.5 / sx), "fixef_zi",
                                      f"zero-inflation coefficient {name}",
                                      f"2.5 / sd({name}) on the logit scale (rstanarm)", column=name))
    if fam.has_dispersion:
        entries.append(_dispersion_entry(td))
    return PriorSet(tuple(entries))


def _dispersion_entry(td: TmbDesign) -> PriorEntry:
    fam = td.family
    if isinstance(fam, NBinom1):  # Var = mu (1 + phi)
        y = td.problem.response.y
        m = float(np.mean(y))
        ratio = float(np.var(y) / m - 1.0) if m > 0 else 1.0
        s = max(1.0, ratio)
        return PriorEntry("dispersion", Prior("HalfStudentT", nu=3.0, sigma=s), "dispersion",
                          "NB1 dispersion phi (Var = mu (1 + phi))",
                          f"half-t(3) scaled to max(1, var(y)/mean(y) - 1) = {s:.3g}: the marginal overdispersion "
                          "of the data bounds the conditional one")
    what = ("beta-binomial dispersion phi (p ~ Beta(mu phi, (1 - mu) phi))" if fam.binomial else
            "NB2 dispersion theta (Var = mu + mu^2 / theta)")
    return PriorEntry("dispersion", Prior("InverseGamma", alpha=0.5, beta=0.5), "dispersion", what,
                      "InverseGamma(0.5, 0.5): half-normal(0, 1) on 1 / sqrt(sigma); the Poisson / binomial limit "
                      "keeps positive density")


@dataclass
class TmbBayesModel:
    """The PyMC model of a glmmTMB-family design and what is needed to read its draws."""

    pm_model: Any
    priors: PriorSet
    x_means: np.ndarray
    icpt: int | None
    zx_means: np.ndarray | None
    zicpt: int | None
    labels: list[str]
    params: dict[str, Any] = field(default_factory=dict)  # "cond", "zi", "sd_<label>": VectorParam of free variables
    initvals: dict[str, Any] = field(default_factory=dict)


def _centre(X: np.ndarray, icpt: int | None) -> np.ndarray:
    means = X.mean(axis=0) if icpt is not None else np.zeros(X.shape[1])
    if icpt is not None:
        means[icpt] = 0.0
    return means


def build_tmb_model(td: TmbDesign, priors: PriorSet, start: Mapping[str, Any] | None = None) -> TmbBayesModel:
    """Build the PyMC model of ``td`` (``start``: ML values to start the chains from, optional)."""
    import pymc as pm
    import pytensor.tensor as pt

    from .builder import prior_vector
    from .tmb_logp import obs_logp

    design, prob = td.design, td.problem
    X = np.asarray(prob.X, float)
    icpt = intercept_index(design)
    x_means = _centre(X, icpt)
    labels = term_labels(design)
    sd_names = sd_entry_names(design)
    coords: dict[str, Any] = {"fixef": list(design.fixef_names)}
    zx_means = zicpt = None
    if td.zi_design is not None:
        coords["fixef_zi"] = list(td.zi_design.fixef_names)
        zicpt = intercept_index(td.zi_design)
        zx_means = _centre(np.asarray(prob.Xzi, float), zicpt)
    for t, label in zip(design.terms, labels, strict=True):
        coords[f"{label}__levels"] = list(t.levels)
        coords[f"{label}__term"] = list(t.columns)
    init: dict[str, Any] = {}
    params: dict[str, Any] = {}
    with pm.Model(coords=coords) as m:
        beta_c, params["cond"] = prior_vector("fixef_c", design.fixef_names, [priors[n] for n in design.fixef_names],
                                         dims="fixef")
        eta = pt.dot(X - x_means, beta_c) + prob.offset
        zeta = None
        if td.zi_design is not None:
            names = list(td.zi_design.fixef_names)
            zi_c, params["zi"] = prior_vector("zi_c", names, [priors[f"zi~{n}"] for n in names], dims="fixef_zi")
            zeta = pt.dot(np.asarray(prob.Xzi, float) - zx_means, zi_c)
        d = pt.log(priors["dispersion"].create("sigma")) if td.family.has_dispersion else pt.constant(0.0)
        for k, (t, label) in enumerate(zip(design.terms, labels, strict=True)):
            sd, params[f"sd_{label}"] = prior_vector(f"sd__{label}", t.columns, [priors[n] for n in sd_names[k]],
                                                dims=f"{label}__term")
            if t.q > 1:
                R = pm.LKJCorr(f"cor__{label}", n=t.q, eta=priors[f"cor_{label}"].params.get("eta", 1.0))
                L = sd[:, None] * R
            else:
                L = sd.reshape((1, 1))
            z = pm.Normal(f"z__{label}", 0.0, 1.0, dims=(f"{label}__levels", f"{label}__term"))
            b = pt.dot(z, L.T)
            codes = np.asarray(t.codes)
            zt = np.asarray(t.z, float)
            eta = eta + ((b[codes] * zt).sum(axis=1) if t.q > 1 else b[codes, 0] * zt[:, 0])
        pm.Potential("loglik", pt.sum(obs_logp(td.family, prob.response, eta, zeta, d)))
    if start:
        init = _initvals(start, (x_means, icpt), None if zx_means is None else (zx_means, zicpt), m)
    return TmbBayesModel(m, priors, x_means, icpt, zx_means, zicpt, labels, params, init)


Centring = tuple[np.ndarray, int | None]


def _initvals(start: Mapping[str, Any], cond: Centring, zi: Centring | None, m: Any) -> dict[str, Any]:
    """Starting values from the ML fit (centred intercepts), for the variables that exist as vectors."""
    out: dict[str, Any] = {}
    names = {rv.name for rv in m.free_RVs}
    if "fixef_c" in names:
        out["fixef_c"] = _centred(np.asarray(start["beta"], float), *cond)
    if zi is not None and "zi_c" in names and start.get("beta_zi") is not None:
        out["zi_c"] = _centred(np.asarray(start["beta_zi"], float), *zi)
    if "sigma" in names and start.get("sigma") is not None:
        out["sigma"] = float(np.clip(start["sigma"], 1e-3, 1e6))
    return out


def _centred(beta: np.ndarray, means: np.ndarray, icpt: int | None) -> np.ndarray:
    """Coefficients of the centred columns: the intercept becomes beta_0 + sum_j mean_j beta_j."""
    out = beta.copy()
    if icpt is not None:
        out[icpt] += float(means @ beta)
    return out


def uncentred(draws: np.ndarray, means: np.ndarray, icpt: int | None) -> np.ndarray:
    """The inverse of :func:`_centred` on draws (..., p)."""
    out = np.array(draws, float)
    if icpt is not None:
        out[..., icpt] -= out @ means
    return out


def sample_tmb_model(td: TmbDesign, start: Mapping[str, Any] | None, draws: int, tune: int, chains: int,
                     sampler: str, target_accept: float, random_seed: int, priors: Mapping[str, Prior] | None,
                     progressbar: bool, n_jobs: int | None) -> tuple[TmbBayesModel, Any, dict[str, float]]:
    """Build and sample; returns the model, the InferenceData/DataTree of PyMC and the timings."""
    import pymc as pm

    from .samplers import single_blas_thread

    t0 = time.perf_counter()
    prior_set = tmb_priors(td).with_overrides(priors)
    bm = build_tmb_model(td, prior_set, start)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    with single_blas_thread(), bm.pm_model:
        idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=random_seed, progressbar=progressbar,
                          nuts_sampler=sampler, target_accept=target_accept, initvals=bm.initvals or None,
                          cores=n_jobs or 1, compute_convergence_checks=False)
    return bm, idata, {"build": t_build, "sample": time.perf_counter() - t0}
