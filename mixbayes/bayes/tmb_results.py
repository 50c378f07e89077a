"""The posterior of a glmmTMB-family model (:meth:`mixbayes.results.tmb.TmbFit.sample`): draws of both fixed-effect
parts, the dispersion and the random-effect SDs, a summary table and the comparison with the Laplace ML fit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..arguments import check_int, check_number
from ..exceptions import ArgumentError

if TYPE_CHECKING:
    from ..results.tmb import TmbFit
    from .tmb_model import TmbBayesModel

__all__ = ["TmbBayesFit", "sample_tmb"]


def sample_tmb(fit: TmbFit, draws: int = 1000, tune: int = 1000, chains: int = 4, sampler: str = "pymc",
               target_accept: float = 0.9, random_seed: int | None = None, priors: Mapping[str, Any] | None = None,
               progressbar: bool = False, n_jobs: int | None = None) -> TmbBayesFit:
    """NUTS on the model of ``fit``; see :meth:`mixbayes.results.tmb.TmbFit.sample`."""
    check_int(draws, "draws", 1)
    check_int(tune, "tune", 0)
    check_int(chains, "chains", 1)
    check_number(target_accept, "target_accept", 0.0, 1.0)
    if sampler not in ("pymc", "nutpie", "numpyro", "blackjax"):
        raise ArgumentError(f"sampler must be 'pymc', 'nutpie', 'numpyro' or 'blackjax', not {sampler!r}")
    if random_seed is None:
        random_seed = int(np.random.SeedSequence().entropy % (2**31))
    check_int(random_seed, "random_seed", 0)
    from .tmb_model import sample_tmb_model

    est = fit.estimate
    start = {"beta": est.beta, "beta_zi": est.beta_zi, "sigma": fit.sigma if fit.family.has_dispersion else None}
    bm, idata, timings = sample_tmb_model(fit._td, start, int(draws), int(tune), int(chains), sampler,
                                          float(target_accept), int(random_seed), priors, progressbar, n_jobs)
    return TmbBayesFit(fit, bm, idata, timings, int(random_seed))


def _draws(idata: Any, name: str) -> np.ndarray:
    """(chains, draws, ...) array of a posterior variable (InferenceData or DataTree)."""
    post = idata.posterior if hasattr(idata, "posterior") else idata["posterior"]
    return np.asarray(post[name].values if hasattr(post[name], "values") else post[name])


def _vector_draws(idata: Any, param: Any) -> np.ndarray:
    """(chains, draws, size) array of a vector that may be split into one free variable per element (priors of
    different families)."""
    return param.assemble({name: _draws(idata, name) for name in param.names})


class TmbBayesFit:
    """Posterior draws of a glmmTMB-family model sampled by NUTS.

    Attributes
    ----------
    likelihood_fit : the :class:`~mixbayes.results.tmb.TmbFit` (its design and its ML estimates).
    idata : PyMC's InferenceData/DataTree of the free variables (centred coefficients ``fixef_c``, ``zi_c``).
    draws : ``{"cond": (C, D, p), "zi": (C, D, pz), "sigma": (C, D), "sd_<group>": (C, D, q)}`` on the original
        columns.
    priors : the :class:`~mixbayes.priors.PriorSet` used.
    timings : seconds for ``build`` and ``sample``.
    """

    def __init__(self, fit: TmbFit, bm: TmbBayesModel, idata: Any, timings: dict[str, float], seed: int) -> None:
        from .tmb_model import uncentred

        self.likelihood_fit = fit
        self.idata = idata
        self.priors = bm.priors
        self.timings = timings
        self.random_seed = seed
        d: dict[str, np.ndarray] = {"cond": uncentred(_vector_draws(idata, bm.params["cond"]), bm.x_means, bm.icpt)}
        if bm.zx_means is not None:
            d["zi"] = uncentred(_vector_draws(idata, bm.params["zi"]), bm.zx_means, bm.zicpt)
        if fit.family.has_dispersion:
            d["sigma"] = _draws(idata, "sigma")
        for label, t in zip(bm.labels, fit.design.terms, strict=True):
            d[f"sd_{label}"] = _vector_draws(idata, bm.params[f"sd_{label}"]).reshape(*d["cond"].shape[:2], t.q)
        self.draws = d
        self._names = {"cond": list(fit.design.fixef_names),
                       "zi": [] if fit.zi_design is None else list(fit.zi_design.fixef_names)}

    @property
    def fixef(self) -> pd.Series:
        """Posterior means of the conditional fixed effects."""
        return pd.Series(self.draws["cond"].mean(axis=(0, 1)), index=self._names["cond"], name="cond")

    @property
    def fixef_zi(self) -> pd.Series | None:
        """Posterior means of the zero-inflation (hurdle) fixed effects, logit scale."""
        if "zi" not in self.draws:
            return None
        return pd.Series(self.draws["zi"].mean(axis=(0, 1)), index=self._names["zi"], name="zi")

    @property
    def sigma(self) -> float:
        """Posterior mean of glmmTMB's ``sigma()`` (1 without a dispersion parameter)."""
        return float(self.draws["sigma"].mean()) if "sigma" in self.draws else 1.0

    def summary(self) -> pd.DataFrame:
        """mean, sd, 2.5%, 97.5%, ess_bulk, ess_tail, r_hat, mcse per parameter (``zi~`` marks the zero-inflation
        coefficients, ``sigma`` the dispersion, ``sd_<group>`` the random-effect SDs)."""
        from .diagnostics import parameter_table

        fit = self.likelihood_fit
        params: dict[str, tuple[np.ndarray, list[str] | None]] = {"cond": (self.draws["cond"], self._names["cond"])}
        if "zi" in self.draws:
            params["zi"] = (self.draws["zi"], self._names["zi"])
        if "sigma" in self.draws:
            params["sigma"] = (self.draws["sigma"], None)
        for t, label in zip(fit.design.terms, (k for k in self.draws if k.startswith("sd_")), strict=True):
            params[label] = (self.draws[label], list(t.columns))
        tab = parameter_table(params)
        tab = tab.rename(index=lambda s: s.replace("cond[", "").rstrip("]") if s.startswith("cond[") else
                         ("zi~" + s[3:].rstrip("]") if s.startswith("zi[") else s))
        medians = [float(np.median(a.reshape(*a.shape[:2], -1)[..., i]))
                   for a, _ in params.values() for i in range(int(np.prod(a.shape[2:])))]
        tab.insert(1, "median", medians)
        return tab

    def compare(self) -> pd.DataFrame:
        """The posterior next to the Laplace ML estimates: ``estimate`` and ``se`` (likelihood), posterior ``mean``,
        ``sd`` and ``mcse``, and ``z = (mean - estimate) / se`` (fixed effects of both parts and sigma)."""
        fit = self.likelihood_fit
        tab = self.summary()
        rows = []
        for name, est, se in zip(fit.fixef.index, fit.fixef, fit.se, strict=True):
            rows.append((name, est, se))
        if fit.fixef_zi is not None and fit.se_zi is not None:
            for name, est, se in zip(fit.fixef_zi.index, fit.fixef_zi, fit.se_zi, strict=True):
                rows.append((f"zi~{name}", est, se))
        if fit.family.has_dispersion:
            V = fit.vcov_full.to_numpy()
            p, pz = fit.design.n_fixef, 0 if fit.zi_design is None else fit.zi_design.n_fixef
            se_logsigma = float(np.sqrt(V[p + pz, p + pz]))
            rows.append(("sigma", fit.sigma, fit.sigma * se_logsigma))  # delta method from log(sigma)
        out = pd.DataFrame(rows, columns=["parameter", "estimate", "se"]).set_index("parameter")
        out = out.join(tab[["mean", "sd", "mcse", "r_hat", "ess_bulk"]])
        out["z"] = (out["mean"] - out["estimate"]) / out["se"]
        return out

    def __repr__(self) -> str:
        C, D = self.draws["cond"].shape[:2]
        return (f"<TmbBayesFit {self.likelihood_fit.family.name}{' + zi' if 'zi' in self.draws else ''}: "
                f"{C} chains x {D} draws, {self.timings.get('sample', 0.0):.1f} s>")
