"""The binomial family: y the proportion of successes, the prior weights the numbers of trials (R's convention)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

from ..exceptions import ResponseError
from .base import EPS, Array, BoundFamily, Family, ResponseParts, warn_non_integer, ylogy

__all__ = ["Binomial"]

# the variance of the standard latent distribution of each link (logistic, normal, Gumbel), for the ICC
_LATENT_VARIANCE = {"logit": np.pi**2 / 3, "probit": 1.0, "cloglog": np.pi**2 / 6}


class Binomial(Family):
    """Successes out of trials (R's ``binomial()``); a 0/1 outcome is one trial."""

    name = "binomial"
    default_link = "logit"
    canonical_link = "logit"
    allowed_links = frozenset({"logit", "probit", "cloglog"})
    aliases = ("bernoulli", "logistic")
    has_trials = True

    def variance(self, mu: Array) -> Array:
        return np.maximum(mu * (1.0 - mu), EPS)

    def dev_resids(self, y: Array, mu: Array, wt: Array) -> Array:
        return 2.0 * wt * (ylogy(y, mu) + ylogy(1.0 - y, 1.0 - mu))

    def loglik_terms(self, y: Array, mu: Array, wt: Array, trials: Array | None = None,
                     scale: float = 1.0) -> Array:
        return self.bind(y, wt, trials).loglik_terms(mu)

    def bind(self, y: Array, wt: Array, trials: Array | None = None) -> BoundFamily:
        return _BinomialBound(self, y, wt, trials)

    def mustart(self, y: Array, wt: Array) -> Array:
        return (wt * y + 0.5) / (wt + 1.0)

    def valid_mu(self, mu: Array) -> Array:
        return np.clip(mu, EPS, 1 - EPS)

    # ---- the response ------------------------------------------------------------------------------------------
    def response_numeric(self, y: Array, prior: Array, name: str) -> ResponseParts:
        if np.any((y < 0) | (y > 1)):
            raise ResponseError(
                f"the binomial response {name!r} must be 0/1, a two-level factor, cbind(successes, failures), "
                "or proportions in [0, 1] with weights= the numbers of trials"
            )
        successes = y * prior
        if np.any(np.abs(successes - np.round(successes)) > 1e-7):
            if np.all(prior == 1):
                raise ResponseError(
                    f"the binomial response {name!r} holds proportions: give weights= the numbers of trials"
                )
            warn_non_integer(successes, f"successes {name} x weights", self.name)
        return y, prior.copy(), prior.copy(), successes

    def response_cbind(self, succ: Array, fail: Array, prior: Array, name: str, labels: tuple[str, str]
                       ) -> ResponseParts:
        if np.any(succ < 0) or np.any(fail < 0):
            raise ResponseError(f"{name}: counts of successes and failures cannot be negative")
        trials = succ + fail
        warn_non_integer(succ, f"successes {labels[0]} in {name}", self.name)
        warn_non_integer(fail, f"failures {labels[1]} in {name}", self.name)
        y = np.divide(succ, trials, out=np.zeros_like(succ), where=trials > 0)
        return y, prior * trials, trials, succ

    def response_factor(self, codes_of: Callable[[], tuple[Array, list[Any]]], prior: Array, name: str,
                        dtype: Any) -> ResponseParts:
        codes, levels = codes_of()
        if len(levels) < 2:
            raise ResponseError(f"the binomial response {name!r} has a single level {levels[0]!r}")
        y = (codes != 0).astype(float)
        return y, prior.copy(), prior.copy(), y * prior

    def observed_values(self, y: Array, weights: Array, successes: Array | None) -> Array:
        succ = successes if successes is not None else y * weights
        return np.round(np.asarray(succ, dtype=float))

    def n_trials(self, weights: Array, trials: Array | None) -> Array:
        return np.round(np.asarray(trials if trials is not None else weights, dtype=float))

    def prior_weights(self, weights: Array, trials: Array | None) -> Array:
        w = np.asarray(weights, dtype=float)
        n = self.n_trials(weights, trials)
        return np.divide(w, n, out=np.zeros_like(w), where=n > 0)

    def used_rows(self, weights: Array, trials: Array | None) -> Array:
        rows = np.asarray(weights, dtype=float) > 0
        if trials is not None:
            rows &= np.asarray(trials) > 0
        return rows

    def as_response(self, observed: Array, trials: Array | None) -> Array:
        n = np.ones(np.shape(observed)[-1]) if trials is None else trials
        return np.divide(observed, n, out=np.zeros(np.shape(observed)), where=n > 0)

    # ---- simulation and Bayesian pieces ------------------------------------------------------------------------
    def simulate(self, mu: Array, rng: np.random.Generator, *, sigma: Any = None, dispersion: Any = None,
                 weights: Array | None = None, trials: Array | None = None) -> Array:
        n = 1 if trials is None else np.asarray(trials).astype(np.int64)
        return rng.binomial(n, np.clip(mu, 0.0, 1.0)).astype(float)

    def pointwise_logpdf(self, y: Array, eta: Array, *, sigma: Any = None, dispersion: Any = None,
                         weights: Array, prior_weights: Array, trials: Array | None = None) -> Array:
        n = np.ones(np.shape(y)) if trials is None else trials
        mu = self.link.inverse_numpy(eta)
        if self.link.name == self.canonical_link:  # logit: stable log p and log(1 - p)
            lp, l1p = -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta)
        else:
            lp, l1p = np.log(np.clip(mu, 1e-300, 1.0)), np.log1p(-np.clip(mu, 0.0, 1.0 - 1e-16))
        logc = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
        return prior_weights * (logc + y * lp + (n - y) * l1p)

    def pymc_observation(self, eta: Any, *, n_trials: Array | None, sigma: Any, dispersion: Any
                         ) -> tuple[Any, dict[str, Any]]:
        import pymc as pm
        import pytensor.tensor as pt

        if self.link.name == self.canonical_link:
            return pm.Binomial, {"n": n_trials, "logit_p": eta}
        return pm.Binomial, {"n": n_trials, "p": pt.clip(self.link.inverse_tensor(eta), 1e-12, 1 - 1e-12)}

    def latent_residual_variance(self, *, sigma: Any, null_lambda: Any, dispersion: Any = None) -> Any:
        return _LATENT_VARIANCE[self.link.name]


class _BinomialBound(BoundFamily):
    """The binomial log-likelihood and deviance with their data-only parts computed once."""

    def __init__(self, family: Family, y: Array, wt: Array, trials: Array | None = None) -> None:
        super().__init__(family, y, wt, trials)
        m = wt if trials is None else trials
        n, k = np.round(m), np.round(m * y)
        with np.errstate(divide="ignore", invalid="ignore"):
            self._factor = np.where(m > 0, wt / np.where(m > 0, m, 1.0), 0.0)
        self._const = np.where(m > 0, special.gammaln(n + 1) - special.gammaln(k + 1)
                               - special.gammaln(n - k + 1), 0.0)
        self._k, self._nk = k, n - k
        self._dev_const = special.xlogy(y, y) + special.xlogy(1 - y, 1 - y)

    def loglik_terms(self, mu: Array) -> Array:
        return self._factor * (self._const + special.xlogy(self._k, mu) + special.xlog1py(self._nk, -mu))

    def deviance(self, mu: Array) -> float:
        y = self.y
        unit = self._dev_const - special.xlogy(y, mu) - special.xlogy(1 - y, 1 - mu)
        return float(2.0 * np.sum(self.wt * unit))
