"""glmmTMB's response families: the conditional log-density and its analytic derivatives in the linear predictor.

Each family is one class.  ``logpdf(y, eta, d, n)`` returns the per-observation log-density ``g`` and its first
and second derivatives with respect to the linear predictor ``eta`` (``g_e``, ``g_ee``), where ``d`` is the log
dispersion parameter (glmmTMB's ``betad``) and ``n`` the binomial trials.  The probability of a zero is the
same function at ``y = 0``, which is what zero-inflation and truncation (hurdle) models need.

Conventions (glmmTMB 1.1.5, ``sigma(fit) = exp(d)``):

- ``nbinom2``: Var = mu (1 + mu / theta), sigma = theta (the NB "size").
- ``nbinom1``: Var = mu (1 + phi), sigma = phi (size mu / phi).
- ``betabinomial``: p ~ Beta(mu phi, (1 - mu) phi), sigma = phi.
- ``poisson``, ``truncated_poisson``: no dispersion (sigma = 1).
- ``truncated_*``: the zero-truncated density; with ``zi=`` the zero model is a hurdle (the probability of a 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ..exceptions import FamilyError

__all__ = ["TMB_FAMILIES", "TmbFamily", "get_tmb_family", "has_link", "needs_glmmtmb"]

Array = np.ndarray
Derivs = tuple[Array, Array, Array]


@dataclass(frozen=True)
class TmbFamily:
    """A glmmTMB response family (base class; see the module docstring for the conventions)."""

    name: str = ""
    link: str = "log"
    has_dispersion: bool = False
    truncated: bool = False
    binomial: bool = False
    sigma_meaning: str = ""

    def logpdf(self, y: Array, eta: Array, d: float, n: Array | None) -> Derivs:
        raise NotImplementedError

    def mean(self, eta: Array, n: Array | None = None) -> Array:
        """The untruncated conditional mean (for the beta-binomial: the probability)."""
        return np.exp(eta) if self.link == "log" else special.expit(eta)

    def log_p0(self, eta: Array, d: float, n: Array | None) -> Array:
        """log P(y = 0) of the untruncated density."""
        return self.logpdf(np.zeros_like(eta), eta, d, n)[0]

    def sample(self, rng: np.random.Generator, eta: Array, d: float, n: Array | None) -> Array:
        """Draws from the untruncated density."""
        raise NotImplementedError

    def __str__(self) -> str:
        return f"{self.name} ({self.link})"


@dataclass(frozen=True)
class PoissonTMB(TmbFamily):
    def logpdf(self, y: Array, eta: Array, d: float, n: Array | None) -> Derivs:
        mu = np.exp(eta)
        return y * eta - mu - special.gammaln(y + 1.0), y - mu, -mu

    def sample(self, rng: np.random.Generator, eta: Array, d: float, n: Array | None) -> Array:
        return rng.poisson(np.exp(eta)).astype(float)


@dataclass(frozen=True)
class NBinom2(TmbFamily):
    def logpdf(self, y: Array, eta: Array, d: float, n: Array | None) -> Derivs:
        th = np.exp(d)
        mu = np.exp(eta)
        log_mt = np.logaddexp(eta, d)  # log(mu + theta)
        g = (special.gammaln(y + th) - special.gammaln(th) - special.gammaln(y + 1.0) + th * d + y * eta
             - (y + th) * log_mt)
        frac = np.exp(eta - log_mt)  # mu / (mu + theta)
        g_e = th * (y - mu) / (mu + th)
        g_ee = -(y + th) * frac * (1.0 - frac)
        return g, g_e, g_ee

    def sample(self, rng: np.random.Generator, eta: Array, d: float, n: Array | None) -> Array:
        th = np.exp(d)
        mu = np.exp(eta)
        return rng.poisson(rng.gamma(th, mu / th)).astype(float)


@dataclass(frozen=True)
class NBinom1(TmbFamily):
    def logpdf(self, y: Array, eta: Array, d: float, n: Array | None) -> Derivs:
        r = np.exp(eta - d)  # size mu / phi
        log_p = -np.logaddexp(0.0, d)  # log(1 / (1 + phi))
        log_q = d + log_p  # log(phi / (1 + phi))
        g = special.gammaln(y + r) - special.gammaln(r) - special.gammaln(y + 1.0) + r * log_p + y * log_q
        dig = special.digamma(y + r) - special.digamma(r) + log_p
        g_e = r * dig
        g_ee = g_e + r * r * (special.polygamma(1, y + r) - special.polygamma(1, r))
        return g, g_e, g_ee

    def sample(self, rng: np.random.Generator, eta: Array, d: float, n: Array | None) -> Array:
        phi = np.exp(d)
        r = np.exp(eta) / phi
        return rng.poisson(rng.gamma(r, phi)).astype(float)


@dataclass(frozen=True)
class BetaBinomial(TmbFamily):
    def logpdf(self, y: Array, eta: Array, d: float, n: Array | None) -> Derivs:
        assert n is not None
        phi = np.exp(d)
        p = special.expit(eta)
        a, b = p * phi, (1.0 - p) * phi
        g = (special.gammaln(n + 1.0) - special.gammaln(y + 1.0) - special.gammaln(n - y + 1.0)
             + special.gammaln(y + a) + special.gammaln(n - y + b) - special.gammaln(n + phi)
             - special.gammaln(a) - special.gammaln(b) + special.gammaln(phi))
        s = phi * p * (1.0 - p)  # da/deta = -db/deta
        ds = s * (1.0 - 2.0 * p)
        dig = special.digamma(y + a) - special.digamma(a) - special.digamma(n - y + b) + special.digamma(b)
        tri = (special.polygamma(1, y + a) - special.polygamma(1, a) + special.polygamma(1, n - y + b)
               - special.polygamma(1, b))
        return g, s * dig, ds * dig + s * s * tri

    def sample(self, rng: np.random.Generator, eta: Array, d: float, n: Array | None) -> Array:
        assert n is not None
        phi = np.exp(d)
        p = special.expit(eta)
        return rng.binomial(n.astype(np.int64), rng.beta(p * phi, (1.0 - p) * phi)).astype(float)


@dataclass(frozen=True)
class Truncated(TmbFamily):
    """The zero-truncated version of a count family: log f(y) - log(1 - P(0)) for y > 0."""

    base: TmbFamily | None = None

    def logpdf(self, y: Array, eta: Array, d: float, n: Array | None) -> Derivs:
        assert self.base is not None
        g, g_e, g_ee = self.base.logpdf(y, eta, d, n)
        g0, g0_e, g0_ee = self.base.logpdf(np.zeros_like(eta), eta, d, n)
        q = np.exp(g0)
        ratio = np.exp(g0 - _log1mexp(g0))  # q / (1 - q)
        t = -_log1mexp(g0)
        t_e = g0_e * ratio
        t_ee = g0_ee * ratio + g0_e**2 * ratio / (1.0 - q)
        return g + t, g_e + t_e, g_ee + t_ee

    def log_p0(self, eta: Array, d: float, n: Array | None) -> Array:
        assert self.base is not None
        return self.base.log_p0(eta, d, n)

    def sample(self, rng: np.random.Generator, eta: Array, d: float, n: Array | None) -> Array:
        assert self.base is not None
        out = self.base.sample(rng, eta, d, n)
        for _ in range(1000):  # rejection of zeros: fine unless P(0) is close to 1
            zero = out == 0
            if not zero.any():
                break
            out[zero] = self.base.sample(rng, eta[zero], d, None if n is None else n[zero])
        return out


def _log1mexp(x: Array) -> Array:
    """log(1 - exp(x)) for x < 0, accurate near 0 and for very negative x."""
    x = np.minimum(x, -1e-300)
    return np.where(x > -0.6931471805599453, np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


_NB2 = NBinom2("nbinom2", has_dispersion=True, sigma_meaning="theta: Var = mu(1 + mu/theta)")
_POIS = PoissonTMB("poisson", sigma_meaning="none (1)")
TMB_FAMILIES: dict[str, TmbFamily] = {
    "poisson": _POIS,
    "nbinom2": _NB2,
    "nbinom1": NBinom1("nbinom1", has_dispersion=True, sigma_meaning="phi: Var = mu(1 + phi)"),
    "betabinomial": BetaBinomial("betabinomial", link="logit", has_dispersion=True, binomial=True,
                                 sigma_meaning="phi: p ~ Beta(mu phi, (1 - mu) phi)"),
    "truncated_poisson": Truncated("truncated_poisson", truncated=True, base=_POIS, sigma_meaning="none (1)"),
    "truncated_nbinom2": Truncated("truncated_nbinom2", has_dispersion=True, truncated=True, base=_NB2,
                                   sigma_meaning="theta: Var = mu(1 + mu/theta) before truncation"),
}
_ALIASES = {"negative_binomial": "nbinom2", "negbin": "nbinom2", "beta_binomial": "betabinomial"}


def get_tmb_family(name: str) -> TmbFamily:
    """The glmmTMB family called ``name`` (``"nbinom2"``, ``"nbinom1"``, ``"betabinomial"``, ``"poisson"``,
    ``"truncated_poisson"``, ``"truncated_nbinom2"``; ``"negative_binomial"`` is ``"nbinom2"``)."""
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in TMB_FAMILIES:
        raise FamilyError(f"family {name!r} is not one of glmmTMB's families that mixbayes fits: "
                          f"{', '.join(TMB_FAMILIES)}")
    return TMB_FAMILIES[key]


def needs_glmmtmb(family: object) -> bool:
    """Whether ``family`` exists only among glmmTMB's families (so that ``glmer`` hands it to ``glmmTMB``)."""
    if isinstance(family, TmbFamily):
        return True
    if not isinstance(family, str):
        return False
    key = _ALIASES.get(family.lower(), family.lower())
    return key in TMB_FAMILIES and key not in ("poisson", "nbinom2")


def has_link(family: object, link: str | None) -> bool:
    """Whether ``link`` (None: the default) is the link of the glmmTMB family ``family`` (the only one fitted)."""
    return link is None or get_tmb_family(family if isinstance(family, str) else getattr(family, "name", "")).link \
        == link
