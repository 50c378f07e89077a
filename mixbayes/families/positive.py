"""Families of a strictly positive response with a dispersion phi: the Gamma (variance phi mu^2) and the inverse
Gaussian (variance phi mu^3).

Two conventions for phi (see docs/gamma.md): with ``dispersion`` None (lme4's glmer) the working weights, score
and deviance are unscaled and the log-likelihood is R's ``family$aic`` with phi = deviance / sum(weights) plugged
in; with ``dispersion`` a number (glmmTMB's exact Laplace, phi estimated by ML) they are divided by phi and the
log-likelihood is the density at phi.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
from scipy import stats

from ..exceptions import ResponseError
from .base import Array, BoundFamily, Family, ResponseParts

__all__ = ["Gamma", "InverseGaussian", "PositiveFamily"]


@dataclass(frozen=True)
class PositiveFamily(Family):
    """A positive response with variance phi mu^k (``variance_power`` k); ``sigma`` = sqrt(phi)."""

    dispersion: float | None = None

    has_scale = True
    positive_response: ClassVar[bool] = True
    variance_power: ClassVar[float] = 2.0

    def with_dispersion(self, phi: float | None) -> PositiveFamily:
        """The family with phi held at ``phi`` (None: lme4's unscaled convention)."""
        return replace(self, dispersion=None if phi is None else float(phi))

    def _inv_phi(self) -> float:
        return 1.0 if self.dispersion is None else 1.0 / self.dispersion

    def _plugin_phi(self, y: Array, mu: Array, wt: Array) -> float:
        if self.dispersion is not None:
            return self.dispersion
        return float(np.sum(self.dev_resids(y, mu, wt))) / float(np.sum(wt))

    def variance(self, mu: Array) -> Array:
        return mu**self.variance_power

    def working_weights(self, mu: Array, eta: Array, wt: Array) -> Array:
        return super().working_weights(mu, eta, wt) * self._inv_phi()

    def score(self, y: Array, mu: Array, eta: Array, wt: Array) -> Array:
        return super().score(y, mu, eta, wt) * self._inv_phi()

    def observed_weights(self, y: Array, mu: Array, eta: Array, wt: Array) -> Array:
        """-d^2 log p / d eta^2: the Fisher weight minus (y - mu) d/d eta (mu_eta / V)."""
        if self.link.name == self.canonical_link:
            return self.working_weights(mu, eta, wt)
        if self.link.name == "log":
            k = self.variance_power
            return wt * (mu ** (2.0 - k) + (k - 1.0) * (y - mu) * mu ** (1.0 - k)) * self._inv_phi()
        h = 1e-6 * np.maximum(np.abs(eta), 1e-3)
        up, dn = eta + h, eta - h
        s_up = self.score(y, self.link.inverse(up), up, wt)
        s_dn = self.score(y, self.link.inverse(dn), dn, wt)
        return -(s_up - s_dn) / (2.0 * h)

    def mustart(self, y: Array, wt: Array) -> Array:
        return y.astype(float).copy()

    def bind(self, y: Array, wt: Array, trials: Array | None = None) -> BoundFamily:
        return _PositiveBound(self, y, wt, trials)

    def response_numeric(self, y: Array, prior: Array, name: str) -> ResponseParts:
        if np.any(y[prior > 0] <= 0):
            raise ResponseError(f"the {self.name} response {name!r} has values <= 0; the {self.name} family needs "
                                "a strictly positive response")
        return y, prior.copy(), None, None

    def sigma_prior_scale(self, y: Array) -> tuple[float, str]:
        """The scale of the default half-t prior on sigma = sqrt(phi): the data's sd(y) / mean(y)^(k/2)."""
        k = self.variance_power
        sd = float(np.std(y, ddof=1)) if len(y) > 1 else 1.0
        unit = "sd(y) / mean(y)" if k == 2.0 else f"sd(y) / mean(y)^{k / 2:g}"
        return (sd or 1.0) / float(np.mean(y)) ** (k / 2.0), unit

    def __str__(self) -> str:
        extra = f"(dispersion {self.dispersion:.4g})" if self.dispersion is not None else ""
        return f"{self.name}{extra} ({self.link.name})"


class _PositiveBound(BoundFamily):
    def loglik(self, mu: Array) -> float:
        total = float(np.sum(self.loglik_terms(mu)))
        # R's family$aic adds 2 for the dispersion; lme4's Laplace deviance keeps it
        return total - 1.0 if self.family.dispersion is None else total  # type: ignore[attr-defined]


class Gamma(PositiveFamily):
    """Gamma observations with mean mu and shape 1/phi (R's ``Gamma()``; glmmTMB's ``Gamma`` with sigma^2 = phi)."""

    name = "Gamma"
    default_link = "inverse"
    canonical_link = "inverse"
    allowed_links = frozenset({"inverse", "log", "identity"})
    aliases = ("gamma",)
    variance_power = 2.0

    def dev_resids(self, y: Array, mu: Array, wt: Array) -> Array:
        with np.errstate(divide="ignore", invalid="ignore"):
            return -2.0 * wt * (np.log(y / mu) - (y - mu) / mu) * self._inv_phi()

    def loglik_terms(self, y: Array, mu: Array, wt: Array, trials: Array | None = None,
                     scale: float = 1.0) -> Array:
        phi = self._plugin_phi(y, mu, wt)
        return wt * stats.gamma.logpdf(y, 1.0 / phi, scale=mu * phi)

    def simulate(self, mu: Array, rng: np.random.Generator, *, sigma: Any = None, dispersion: Any = None,
                 weights: Array | None = None, trials: Array | None = None) -> Array:
        phi = np.asarray(sigma, dtype=float) ** 2
        return rng.gamma(1.0 / phi, mu * phi)

    def pointwise_logpdf(self, y: Array, eta: Array, *, sigma: Any = None, dispersion: Any = None,
                         weights: Array, prior_weights: Array, trials: Array | None = None) -> Array:
        phi = np.asarray(sigma, dtype=float) ** 2
        return prior_weights * stats.gamma.logpdf(y, 1.0 / phi, scale=self.link.inverse_numpy(eta) * phi)

    def pymc_observation(self, eta: Any, *, n_trials: Array | None, sigma: Any, dispersion: Any
                         ) -> tuple[Any, dict[str, Any]]:
        import pymc as pm

        mu = self.link.inverse_tensor(eta)
        return pm.Gamma, {"alpha": 1.0 / sigma**2, "beta": 1.0 / (sigma**2 * mu)}


class InverseGaussian(PositiveFamily):
    """Inverse Gaussian observations with mean mu and shape 1/phi (R's ``inverse.gaussian()``)."""

    name = "inverse_gaussian"
    default_link = "1/mu^2"
    canonical_link = "1/mu^2"
    allowed_links = frozenset({"1/mu^2", "inverse", "log", "identity"})
    aliases = ("inverse.gaussian", "inversegaussian", "invgauss", "wald")
    variance_power = 3.0

    def dev_resids(self, y: Array, mu: Array, wt: Array) -> Array:
        return wt * (y - mu) ** 2 / (y * mu**2) * self._inv_phi()

    def loglik_terms(self, y: Array, mu: Array, wt: Array, trials: Array | None = None,
                     scale: float = 1.0) -> Array:
        phi = self._plugin_phi(y, mu, wt)
        return wt * -0.5 * (np.log(2.0 * np.pi * phi * y**3) + (y - mu) ** 2 / (phi * y * mu**2))

    def simulate(self, mu: Array, rng: np.random.Generator, *, sigma: Any = None, dispersion: Any = None,
                 weights: Array | None = None, trials: Array | None = None) -> Array:
        phi = np.asarray(sigma, dtype=float) ** 2
        return rng.wald(mu, np.broadcast_to(1.0 / phi, np.shape(mu)))

    def pointwise_logpdf(self, y: Array, eta: Array, *, sigma: Any = None, dispersion: Any = None,
                         weights: Array, prior_weights: Array, trials: Array | None = None) -> Array:
        phi = np.asarray(sigma, dtype=float) ** 2
        mu = self.link.inverse_numpy(eta)
        return prior_weights * -0.5 * (np.log(2.0 * np.pi * phi * y**3) + (y - mu) ** 2 / (phi * y * mu**2))

    def pymc_observation(self, eta: Any, *, n_trials: Array | None, sigma: Any, dispersion: Any
                         ) -> tuple[Any, dict[str, Any]]:
        import pymc as pm

        return pm.Wald, {"mu": self.link.inverse_tensor(eta), "lam": 1.0 / sigma**2}
