"""The result of a glmmTMB-family fit (:func:`mixbayes.glmmTMB`): both fixed-effect parts, dispersion, tables."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from ..exceptions import ArgumentError, ModelMismatchError
from ..likelihood.lmm import blas_limit
from ..likelihood.tmb_design import TmbDesign, build_tmb_design
from ..likelihood.tmb_laplace import TmbEstimate, fit_tmb
from .base import InformationCriteria
from .prediction import new_linear_predictor

__all__ = ["TmbFit", "fit_glmmtmb"]

_TYPES = ("response", "conditional", "zprob", "link", "zlink")


def fit_glmmtmb(formula: str, data: pd.DataFrame, family: Any = "poisson", zi: Any = None, weights: Any = None,
                offset: Any = None, start: Any = None, functions: Any = None) -> TmbFit:
    """Build and fit a glmmTMB-family model (see :func:`mixbayes.glmmTMB`)."""
    td = build_tmb_design(formula, data, family, zi=zi, weights=weights, offset=offset, functions=functions)
    x0 = _start_vector(td, start)
    with blas_limit(td.design, 1):
        est = fit_tmb(td.problem, start=x0)
    _warn_convergence(est, td)
    return TmbFit(td, est, data=data, call={"formula": formula, "family": td.family.name, "zi": td.zi_formula})


def _warn_convergence(est: TmbEstimate, td: TmbDesign) -> None:
    """glmmTMB's convergence warnings: the optimiser did not finish, or the Hessian of the fixed effects is not
    positive definite (their standard errors are then missing)."""
    from ..exceptions import ConvergenceWarning
    from ..warn import warn_user

    p, pz, nd, _ = td.problem.sizes
    V = est.vcov
    fixed_ok = V is not None and bool(np.all(np.isfinite(np.diag(V)[:p + pz + nd])))
    if fixed_ok:
        fixed_ok = bool(np.all(np.diag(V)[:p + pz + nd] > 0))
    if not est.converged:
        warn_user(f"the optimiser did not converge ({est.message}); remedy: give start= values near a previous "
                  "fit, or simplify the zero-inflation formula", ConvergenceWarning)
    if not fixed_ok:
        warn_user("non-positive-definite Hessian of the fixed effects and dispersion (glmmTMB's 'Model "
                  "convergence problem'): some standard errors are missing. Remedy: a coefficient may be running "
                  "off to infinity (e.g. a zero-inflation level with no zeros); drop it from the formula or "
                  "simplify the model", ConvergenceWarning)


def _start_vector(td: TmbDesign, start: Any) -> np.ndarray:
    """glmmTMB's default start (every parameter 0), or a full vector / dict of parts given by the user."""
    p, pz, nd, nt = td.problem.sizes
    x0 = np.zeros(p + pz + nd + nt)
    if start is None:
        return x0
    if isinstance(start, dict):
        slices = {"beta": slice(0, p), "beta_zi": slice(p, p + pz), "betad": slice(p + pz, p + pz + nd),
                  "psi": slice(p + pz + nd, None)}
        for k, v in start.items():
            if k not in slices:
                raise ArgumentError(f"start: unknown part {k!r}; give any of {', '.join(slices)}")
            x0[slices[k]] = v
        return x0
    arr = np.asarray(start, float)
    if arr.shape != x0.shape:
        raise ArgumentError(f"start must have {len(x0)} values (beta, beta_zi, betad, psi), not {arr.size}")
    return arr


class TmbFit(InformationCriteria):
    """A glmmTMB-family model fitted by maximum likelihood with the Laplace approximation.

    Attributes
    ----------
    family : the :class:`~mixbayes.families.tmb.TmbFamily`.
    design, zi_design : the conditional and zero-inflation designs.
    estimate : the raw :class:`~mixbayes.likelihood.tmb_laplace.TmbEstimate` (all parameters, Hessian, modes).
    """

    def __init__(self, td: TmbDesign, est: TmbEstimate, data: Any = None, call: dict[str, Any] | None = None
                 ) -> None:
        self._td = td
        self.family = td.family
        self.design = td.design
        self.zi_design = td.zi_design
        self.zi_formula = td.zi_formula
        self.estimate = est
        self.data = data
        self.call = call or {}

    # ---- parameters ---------------------------------------------------------------------------------------
    @property
    def fixef(self) -> pd.Series:
        """Fixed effects of the conditional model."""
        return pd.Series(self.estimate.beta, index=list(self.design.fixef_names), name="cond")

    @property
    def fixef_zi(self) -> pd.Series | None:
        """Fixed effects of the zero-inflation (for a truncated family: hurdle) model, logit scale."""
        if self.zi_design is None or self.estimate.beta_zi is None:
            return None
        return pd.Series(self.estimate.beta_zi, index=list(self.zi_design.fixef_names), name="zi")

    @property
    def sigma(self) -> float:
        """glmmTMB's ``sigma()``: theta for nbinom2, phi for nbinom1 and betabinomial, 1 without dispersion."""
        return float(np.exp(self.estimate.d)) if self.family.has_dispersion else 1.0

    @property
    def theta(self) -> np.ndarray:
        """lme4's theta: the Cholesky factor entries of each term's covariance (no residual scale)."""
        return self.estimate.theta

    def _param_names(self) -> list[str]:
        names = list(self.design.fixef_names)
        if self.zi_design is not None:
            names += [f"zi~{n}" for n in self.zi_design.fixef_names]
        if self.family.has_dispersion:
            names.append("d~(Intercept)")
        for t in self.design.terms:
            rows, cols = t.tril_index if t.q > 1 else (np.array([0]), np.array([0]))
            for i, j in zip(rows, cols, strict=True):
                kind = "log_sd" if i == j else "chol"
                names.append(f"{kind}|{t.group}.{t.columns[j]}" + ("" if i == j else f".{t.columns[i]}"))
        return names

    @property
    def vcov_full(self) -> pd.DataFrame:
        """Covariance of all parameters (beta, zi~beta, d~(Intercept) = log sigma, log SDs): the inverse Hessian of
        the Laplace objective, as glmmTMB's ``vcov(fit, full = TRUE)``.  NaN for a parameter at the boundary."""
        names = self._param_names()
        V = self.estimate.vcov if self.estimate.vcov is not None else np.full((len(names),) * 2, np.nan)
        return pd.DataFrame(V, index=names, columns=names)

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance of the conditional fixed effects."""
        p = self.design.n_fixef
        return self.vcov_full.iloc[:p, :p]

    @property
    def vcov_zi(self) -> pd.DataFrame | None:
        """Covariance of the zero-inflation fixed effects."""
        if self.zi_design is None:
            return None
        p, pz = self.design.n_fixef, self.zi_design.n_fixef
        V = self.vcov_full.iloc[p:p + pz, p:p + pz]
        return V.rename(index=lambda s: s[3:], columns=lambda s: s[3:])

    @property
    def se(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.vcov.index)

    @property
    def se_zi(self) -> pd.Series | None:
        V = self.vcov_zi
        return None if V is None else pd.Series(np.sqrt(np.diag(V.to_numpy())), index=V.index)

    @property
    def re_sd(self) -> dict[str, np.ndarray]:
        """Standard deviations of each term's random effects, by grouping factor (glmmTMB's ``VarCorr``)."""
        out: dict[str, np.ndarray] = {}
        for t in self.design.terms:
            T = t.factor(self.theta)
            out[t.group if t.group not in out else f"{t.group}.{len(out)}"] = np.sqrt(np.diag(T @ T.T))
        return out

    @property
    def re_cor(self) -> dict[str, np.ndarray]:
        """Correlations of each term's random effects (the lower triangle, by rows), by grouping factor."""
        out: dict[str, np.ndarray] = {}
        for t in self.design.terms:
            T = t.factor(self.theta)
            cov = T @ T.T
            sd = np.sqrt(np.diag(cov))
            with np.errstate(invalid="ignore", divide="ignore"):
                cor = cov / np.outer(sd, sd)
            out[t.group if t.group not in out else f"{t.group}.{len(out)}"] = cor[np.tril_indices(t.q, -1)]
        return out

    @property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes of the random effects, one frame per term (levels x columns)."""
        b = self.estimate.b
        out: dict[str, pd.DataFrame] = {}
        off = 0
        for t in self.design.terms:
            block = b[off:off + t.n_random].reshape(t.n_levels, t.q)
            off += t.n_random
            out[t.group] = pd.DataFrame(block, index=list(t.levels), columns=list(t.columns))
        return out

    # ---- fit statistics -----------------------------------------------------------------------------------
    @property
    def loglik(self) -> float:
        return float(self.estimate.loglik)

    @property
    def npar(self) -> int:
        return len(self.estimate.x)

    @property
    def nobs(self) -> int:
        return self.design.n_obs

    @property
    def formula(self) -> str:
        zi = f", zi = {self.zi_formula}" if self.zi_formula else ""
        return f"{self.design.formula.text}{zi} ({self.family.name})"

    @property
    def ngroups(self) -> dict[str, int]:
        return {t.group: t.n_levels for t in self.design.terms}

    # ---- predictions ----------------------------------------------------------------------------------------
    def _predictors(self, newdata: pd.DataFrame | None, include_random: bool,
                    allow_new_levels: bool) -> tuple[np.ndarray, np.ndarray | None]:
        est = self.estimate
        if newdata is None:
            if include_random:
                eta = est.eta
            else:
                eta = np.asarray(self.design.X) @ est.beta + np.asarray(self.design.offset)
            return eta, est.zeta
        eta = new_linear_predictor(self.design, est.beta, est.b, newdata, include_random, allow_new_levels)
        zeta = None
        if self.zi_design is not None and est.beta_zi is not None:
            zeta = new_linear_predictor(self.zi_design, est.beta_zi, np.zeros(0), newdata, False)
        return eta, zeta

    def predict(self, newdata: pd.DataFrame | None = None, type: str = "response", include_random: bool = True,
                allow_new_levels: bool = False) -> np.ndarray:
        """Predictions as glmmTMB's ``predict``.

        ``type``: ``"response"`` (the mean of the response, zero-inflation or hurdle included), ``"conditional"``
        (the mean of the count part: mu, or mu / (1 - P(0)) for a truncated family), ``"zprob"`` (the
        zero-inflation or hurdle probability), ``"link"`` (the conditional linear predictor), ``"zlink"``.
        ``include_random=False`` is glmmTMB's ``re.form = NA``.
        """
        if type not in _TYPES:
            raise ArgumentError(f"type must be one of {', '.join(map(repr, _TYPES))}, not {type!r}")
        eta, zeta = self._predictors(newdata, include_random, allow_new_levels)
        if type == "link":
            return eta
        if type == "zlink":
            return np.full_like(eta, -np.inf) if zeta is None else zeta
        pz = np.zeros_like(eta) if zeta is None else special.expit(zeta)
        if type == "zprob":
            return pz
        mu = self.family.mean(eta)
        if self.family.truncated:
            n = None
            p0 = np.exp(self.family.log_p0(eta, self.estimate.d, n))
            mu = mu / (1.0 - p0)
        return mu if type == "conditional" else (1.0 - pz) * mu

    @property
    def fitted(self) -> np.ndarray:
        return self.predict(type="response")

    def simulate(self, nsim: int = 1, random_seed: int | np.random.Generator | None = None,
                 conditional: bool = False) -> np.ndarray:
        """Responses simulated from the fitted model, an ``(n, nsim)`` array.  New random effects are drawn from
        their estimated distribution (glmmTMB's ``simulate``); ``conditional=True`` keeps the conditional modes."""
        rng = random_seed if isinstance(random_seed, np.random.Generator) else np.random.default_rng(random_seed)
        est, fam = self.estimate, self.family
        trials = self._td.problem.response.trials
        eta_fixed = np.asarray(self.design.X) @ est.beta + np.asarray(self.design.offset)
        Lam = self._td.problem.Lambda(est.theta)
        Z = self.design.Z
        pz = np.zeros(self.nobs) if est.zeta is None else special.expit(est.zeta)
        out = np.empty((self.nobs, nsim))
        for s in range(nsim):
            b = est.b if conditional else Lam @ rng.standard_normal(Lam.shape[0])
            eta = eta_fixed + Z @ b
            y = fam.sample(rng, eta, est.d, trials)
            if est.zeta is not None:
                y = np.where(rng.random(self.nobs) < pz, 0.0, y)
            out[:, s] = y
        return out

    # ---- tables -------------------------------------------------------------------------------------------
    def summary(self) -> Any:
        """glmmTMB's summary: fit statistics, random effects, dispersion, conditional and zero-inflation tables."""
        from .tmb_summary import TmbSummary

        return TmbSummary(self)

    def coef_table(self, part: str = "cond") -> pd.DataFrame:
        """Estimate, Std. Error, z value and Pr(>|z|) of the conditional (``"cond"``) or ``"zi"`` model."""
        from .tmb_summary import coef_table

        return coef_table(self, part)

    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """One row per parameter (broom.mixed's layout): conditional and zero-inflation effects, the random-effect
        SDs and the dispersion, with Wald intervals."""
        from .tmb_summary import tidy

        return tidy(self, conf_level)

    def anova(self, *others: TmbFit) -> Any:
        """Likelihood-ratio tests between nested fits of the same data (glmmTMB's ``anova``): an
        :class:`~mixbayes.results.anova.AnovaTable`, smallest model first."""
        from .anova import anova

        for f in others:
            if not isinstance(f, TmbFit):
                raise ModelMismatchError("anova() compares glmmTMB-family fits with each other")
        return anova(self, *others)

    def save(self, path: Any) -> Any:
        """Not available yet for glmmTMB-family fits (mixbayes files hold lme4-family models)."""
        from ..exceptions import NotSupportedError

        raise NotSupportedError("saving a glmmTMB-family fit is not supported yet; save the data and the call "
                                f"({self.call}) and refit (it takes about a second)")

    def __repr__(self) -> str:
        zi = f", zi={self.zi_formula!r}" if self.zi_formula else ""
        return (f"TmbFit({self.design.formula.text!r}, family={self.family.name!r}{zi}, "
                f"logLik={self.loglik:.4f})")
