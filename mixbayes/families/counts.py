"""Count families: the Poisson and the negative binomial (NB2)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

from ..exceptions import ResponseError
from .base import EPS, Array, BoundFamily, Family, ResponseParts, warn_non_integer, ylogy

__all__ = ["CountFamily", "NegativeBinomial", "Poisson"]


class CountFamily(Family):
    """A family of non-negative counts: the response checks, the start values and the ICC's log-normal
    approximation shared by the count families."""

    def valid_mu(self, mu: Array) -> Array:
        return np.maximum(mu, EPS)

    def response_numeric(self, y: Array, prior: Array, name: str) -> ResponseParts:
        if np.any(y < 0):
            raise ResponseError(f"the {self.name} response {name!r} has negative values; counts must be >= 0")
        warn_non_integer(y, f"response {name}", self.name)
        return y, prior.copy(), None, None

    def latent_residual_variance(self, *, sigma: Any, null_lambda: Any, dispersion: Any = None) -> Any:
        # log link: log-normal approximation log(1 + 1/lambda) (+ 1/theta for NB2), lambda = exp(intercept of
        # the null model), as insight (0.18, used by performance 0.10.2) does
        lam = null_lambda()
        theta = self.theta if dispersion is None else dispersion
        extra = 0.0 if theta is None else 1.0 / np.asarray(theta, dtype=float)
        return np.log1p(1.0 / lam + extra)


class Poisson(CountFamily):
    """Poisson counts (R's ``poisson()``)."""

    name = "poisson"
    default_link = "log"
    canonical_link = "log"
    allowed_links = frozenset({"log", "identity", "sqrt"})
    overdispersion_test = True

    def variance(self, mu: Array) -> Array:
        return mu

    def dev_resids(self, y: Array, mu: Array, wt: Array) -> Array:
        return 2.0 * wt * (ylogy(y, mu) - (y - mu))

    def loglik_terms(self, y: Array, mu: Array, wt: Array, trials: Array | None = None,
                     scale: float = 1.0) -> Array:
        return self.bind(y, wt, trials).loglik_terms(mu)

    def bind(self, y: Array, wt: Array, trials: Array | None = None) -> BoundFamily:
        return _PoissonBound(self, y, wt, trials)

    def simulate(self, mu: Array, rng: np.random.Generator, *, sigma: Any = None, dispersion: Any = None,
                 weights: Array | None = None, trials: Array | None = None) -> Array:
        return rng.poisson(np.maximum(mu, 0.0)).astype(float)

    def pointwise_logpdf(self, y: Array, eta: Array, *, sigma: Any = None, dispersion: Any = None,
                         weights: Array, prior_weights: Array, trials: Array | None = None) -> Array:
        return prior_weights * stats.poisson.logpmf(y, self.link.inverse_numpy(eta))

    def pymc_observation(self, eta: Any, *, n_trials: Array | None, sigma: Any, dispersion: Any
                         ) -> tuple[Any, dict[str, Any]]:
        import pymc as pm

        return pm.Poisson, {"mu": self.link.inverse_tensor(eta)}


class _PoissonBound(BoundFamily):
    """The Poisson log-likelihood and deviance with their data-only parts computed once."""

    def __init__(self, family: Family, y: Array, wt: Array, trials: Array | None = None) -> None:
        super().__init__(family, y, wt, trials)
        self._const = -special.gammaln(y + 1)
        self._dev_const = special.xlogy(y, y) - y

    def loglik_terms(self, mu: Array) -> Array:
        return self.wt * (self._const + special.xlogy(self.y, mu) - mu)

    def deviance(self, mu: Array) -> float:
        unit = self._dev_const - special.xlogy(self.y, mu) + mu
        return float(2.0 * np.sum(self.wt * unit))


class NegativeBinomial(CountFamily):
    """The negative binomial NB2: variance mu + mu^2 / theta (glmmTMB's ``nbinom2``, MASS's
    ``negative.binomial(theta)``); theta estimated when None, held fixed when a number."""

    name = "negative_binomial"
    default_link = "log"
    canonical_link = ""  # not an exponential family while theta is free
    allowed_links = frozenset({"log"})
    aliases = ("negbin", "nbinom2", "negativebinomial", "nb")
    dispersion_parameter = "theta"
    observed_information = True

    @property
    def mean_family(self) -> Family:
        return Poisson(self.link)

    def display_name(self, dispersion: float | None = None) -> str:
        return self.name if dispersion is None else f"Negative Binomial({dispersion:.4g})"

    def variance(self, mu: Array) -> Array:
        th = self._theta(None)
        return mu + mu**2 / th

    def dev_resids(self, y: Array, mu: Array, wt: Array) -> Array:
        th = self._theta(None)
        return 2.0 * wt * (ylogy(y, mu) - (y + th) * np.log((y + th) / (mu + th)))

    def loglik_terms(self, y: Array, mu: Array, wt: Array, trials: Array | None = None,
                     scale: float = 1.0) -> Array:
        th = self._theta(None)
        lp = (
            special.gammaln(y + th) - special.gammaln(th) - special.gammaln(y + 1.0)
            + th * np.log(th / (th + mu)) + y * np.log(np.maximum(mu, 1e-300) / (th + mu))
        )
        return wt * lp

    def observed_weights(self, y: Array, mu: Array, eta: Array, wt: Array) -> Array:
        """Observed information (log link; glmmTMB's Laplace uses it)."""
        if self.link.name != self.default_link:
            return self.working_weights(mu, eta, wt)
        th = self._theta(None)
        return wt * (y + th) * mu * th / (th + mu) ** 2

    def simulate(self, mu: Array, rng: np.random.Generator, *, sigma: Any = None, dispersion: Any = None,
                 weights: Array | None = None, trials: Array | None = None) -> Array:
        """A gamma-Poisson mixture."""
        th = self._theta(dispersion)
        return rng.poisson(rng.gamma(th, mu / th)).astype(float)

    def pointwise_logpdf(self, y: Array, eta: Array, *, sigma: Any = None, dispersion: Any = None,
                         weights: Array, prior_weights: Array, trials: Array | None = None) -> Array:
        th = self._theta(dispersion)
        mu = self.link.inverse_numpy(eta)
        return prior_weights * stats.nbinom.logpmf(y, th, th / (th + mu))

    def pymc_observation(self, eta: Any, *, n_trials: Array | None, sigma: Any, dispersion: Any
                         ) -> tuple[Any, dict[str, Any]]:
        import pymc as pm

        return pm.NegativeBinomial, {"mu": self.link.inverse_tensor(eta), "alpha": self._theta(dispersion)}
