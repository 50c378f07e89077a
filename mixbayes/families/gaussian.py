"""The Gaussian family (with the identity link: the linear mixed model)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from .base import Array, BoundFamily, Family, ResponseParts

__all__ = ["Gaussian"]


class Gaussian(Family):
    """Normal observations of mean mu and variance sigma^2 / weight (R's ``gaussian()``)."""

    name = "gaussian"
    default_link = "identity"
    canonical_link = "identity"
    allowed_links = frozenset({"identity", "log", "inverse"})
    aliases = ("normal",)
    has_scale = True
    normal_residual = True

    @property
    def is_lmm(self) -> bool:
        return self.link.name == "identity"

    def variance(self, mu: Array) -> Array:
        return np.ones_like(mu)

    def dev_resids(self, y: Array, mu: Array, wt: Array) -> Array:
        return wt * (y - mu) ** 2

    def loglik_terms(self, y: Array, mu: Array, wt: Array, trials: Array | None = None,
                     scale: float = 1.0) -> Array:
        out = np.zeros_like(y, dtype=float)
        pos = wt > 0
        out[pos] = stats.norm.logpdf(y[pos], mu[pos], np.sqrt(scale / wt[pos]))
        return out

    def bind(self, y: Array, wt: Array, trials: Array | None = None) -> BoundFamily:
        return _GaussianBound(self, y, wt, trials)

    def mustart(self, y: Array, wt: Array) -> Array:
        return y.astype(float).copy()

    def response_factor(self, codes_of: Callable[[], tuple[Array, list[Any]]], prior: Array, name: str,
                        dtype: Any) -> ResponseParts:
        from ..exceptions import ResponseError

        raise ResponseError(f"the response {name!r} is not numeric ({dtype}); the {self.name} family needs numbers"
                            "; for a two-level outcome use family='binomial'")

    def simulate(self, mu: Array, rng: np.random.Generator, *, sigma: Any = None, dispersion: Any = None,
                 weights: Array | None = None, trials: Array | None = None) -> Array:
        z = rng.standard_normal(np.shape(mu))
        noise = sigma * z if weights is None else sigma * z / np.sqrt(weights)
        return mu + noise

    def pointwise_logpdf(self, y: Array, eta: Array, *, sigma: Any = None, dispersion: Any = None,
                         weights: Array, prior_weights: Array, trials: Array | None = None) -> Array:
        mu = self.link.inverse_numpy(eta)
        return stats.norm.logpdf(y, mu, sigma / np.sqrt(weights))

    def pymc_observation(self, eta: Any, *, n_trials: Array | None, sigma: Any, dispersion: Any
                         ) -> tuple[Any, dict[str, Any]]:
        import pymc as pm

        return pm.Normal, {"mu": self.link.inverse_tensor(eta), "sigma": sigma}

    def add_pymc_likelihood(self, eta: Any, data: Any, *, n_trials: Array | None, sigma: Any, dispersion: Any,
                            weights: Array, prior_weights: Array | None) -> None:
        """The weights scale the residual SD (sigma / sqrt(weight)) rather than the log-likelihood."""
        import pymc as pm

        w = np.asarray(weights, dtype=float)
        scale = sigma if np.allclose(w, 1.0) else sigma / np.sqrt(w)
        pm.Normal("y", mu=self.link.inverse_tensor(eta), sigma=scale, observed=data, dims="obs")

    def latent_residual_variance(self, *, sigma: Any, null_lambda: Any, dispersion: Any = None) -> Any:
        return sigma**2


class _GaussianBound(BoundFamily):
    def loglik(self, mu: Array) -> float:
        # R's gaussian()$aic (which glmer uses for non-identity links): sigma^2 estimated as deviance / n
        n = len(self.y)
        dev = self.deviance(mu)
        pos = self.wt > 0
        return -0.5 * (n * (np.log(2.0 * np.pi * dev / n) + 1.0) + 2.0 - float(np.sum(np.log(self.wt[pos]))))
