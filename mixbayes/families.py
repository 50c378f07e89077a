"""GLM families and links with R's conventions (variance, deviance residuals, log-likelihood, start values)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import special, stats

from .exceptions import FamilyError

__all__ = ["BoundFamily", "Family", "Link", "get_family", "get_link", "negative_binomial"]

_EPS = np.finfo(float).eps
Array = np.ndarray


@dataclass(frozen=True)
class Link:
    """A link function g with inverse and derivative d mu / d eta."""

    name: str
    link: Callable[[Array], Array] = field(repr=False)
    inverse: Callable[[Array], Array] = field(repr=False)
    mu_eta: Callable[[Array], Array] = field(repr=False)


def _logit_inv(eta: Array) -> Array:
    return special.expit(eta)


def _logit_mu_eta(eta: Array) -> Array:
    e = np.exp(-np.abs(eta))
    return np.maximum(e / (1.0 + e) ** 2, _EPS)


def _probit_mu_eta(eta: Array) -> Array:
    return np.maximum(stats.norm.pdf(eta), _EPS)


def _probit_inv(eta: Array) -> Array:
    thresh = -stats.norm.ppf(_EPS)
    return stats.norm.cdf(np.clip(eta, -thresh, thresh))


def _cloglog_inv(eta: Array) -> Array:
    return np.clip(-np.expm1(-np.exp(eta)), _EPS, 1 - _EPS)


def _cloglog_mu_eta(eta: Array) -> Array:
    eta = np.minimum(eta, 700.0)
    return np.maximum(np.exp(eta) * np.exp(-np.exp(eta)), _EPS)


# Module-level functions (not lambdas), so that links, families, models and fits pickle.
def _identity(x: Array) -> Array:
    return x


def _ones(eta: Array) -> Array:
    return np.ones_like(eta)


def _exp_floor(eta: Array) -> Array:
    return np.maximum(np.exp(eta), _EPS)


def _probit(mu: Array) -> Array:
    return stats.norm.ppf(mu)


def _cloglog(mu: Array) -> Array:
    return np.log(-np.log1p(-mu))


def _reciprocal(x: Array) -> Array:
    return 1.0 / x


def _neg_inverse_sq(eta: Array) -> Array:
    return -1.0 / eta**2


def _square(eta: Array) -> Array:
    return eta**2


def _twice(eta: Array) -> Array:
    return 2.0 * eta


def _inv_sq(mu: Array) -> Array:
    return 1.0 / mu**2


def _inv_sqrt(eta: Array) -> Array:
    with np.errstate(invalid="ignore", divide="ignore"):  # eta <= 0 is outside the link's range: NaN, as R
        return 1.0 / np.sqrt(eta)


def _inv_sqrt_mu_eta(eta: Array) -> Array:
    with np.errstate(invalid="ignore", divide="ignore"):
        return -1.0 / (2.0 * eta**1.5)


_LINKS: dict[str, Link] = {
    "identity": Link("identity", _identity, _identity, _ones),
    "log": Link("log", np.log, _exp_floor, _exp_floor),
    "logit": Link("logit", special.logit, _logit_inv, _logit_mu_eta),
    "probit": Link("probit", _probit, _probit_inv, _probit_mu_eta),
    "cloglog": Link("cloglog", _cloglog, _cloglog_inv, _cloglog_mu_eta),
    "inverse": Link("inverse", _reciprocal, _reciprocal, _neg_inverse_sq),
    "sqrt": Link("sqrt", np.sqrt, _square, _twice),
    "1/mu^2": Link("1/mu^2", _inv_sq, _inv_sqrt, _inv_sqrt_mu_eta),
}


def get_link(name: str) -> Link:
    try:
        return _LINKS[name]
    except KeyError:
        raise FamilyError(f"unknown link {name!r}; choose one of {', '.join(_LINKS)}") from None


def _ylogy(y: Array, mu: Array) -> Array:
    """y * log(y / mu) with 0 log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return special.xlogy(y, y) - special.xlogy(y, mu)


@dataclass(frozen=True)
class Family:
    """An exponential-family response distribution with its link.

    ``name`` is ``gaussian``, ``binomial``, ``poisson``, ``negative_binomial`` (NB2, variance mu + mu^2/theta,
    theta the dispersion, as glmmTMB's ``nbinom2``), ``Gamma`` (variance phi mu^2) or ``inverse_gaussian``
    (variance phi mu^3).  For the binomial the response ``y`` is the proportion of successes and the prior weights
    are the numbers of trials, as in R.

    ``dispersion`` (Gamma and inverse Gaussian) holds phi fixed: the working weights, the score and the deviance
    are then divided by phi and the log-likelihood is the exact density at phi (glmmTMB's Laplace).  When it is
    None (lme4's glmer) the deviance is unscaled and the log-likelihood is R's ``family$aic`` convention, with
    phi = deviance / sum(weights) plugged in.
    """

    name: str
    link: Link
    theta: float | None = None
    dispersion: float | None = None

    @property
    def canonical(self) -> bool:
        return (self.name, self.link.name) in {
            ("gaussian", "identity"), ("binomial", "logit"), ("poisson", "log")
        }

    @property
    def has_scale(self) -> bool:
        """Whether the family has a free dispersion parameter reported as sigma (Gaussian, Gamma, inverse
        Gaussian: lme4's ``useSc``)."""
        return self.name in _SCALE_FAMILIES

    @property
    def positive_response(self) -> bool:
        """Whether the response must be strictly positive (Gamma and inverse Gaussian)."""
        return self.name in _SCALE_FAMILIES and self.name != "gaussian"

    def with_theta(self, theta: float) -> Family:
        return Family(self.name, self.link, float(theta))

    def with_dispersion(self, phi: float | None) -> Family:
        """The family with its dispersion phi held at ``phi`` (None: lme4's unscaled convention)."""
        return Family(self.name, self.link, self.theta, None if phi is None else float(phi))

    def _inv_phi(self) -> float:
        return 1.0 if self.dispersion is None else 1.0 / self.dispersion

    def variance(self, mu: Array) -> Array:
        if self.name == "gaussian":
            return np.ones_like(mu)
        if self.name == "binomial":
            return np.maximum(mu * (1.0 - mu), _EPS)
        if self.name == "poisson":
            return mu
        if self.name == "Gamma":
            return mu**2
        if self.name == "inverse_gaussian":
            return mu**3
        assert self.theta is not None
        return mu + mu**2 / self.theta

    def dev_resids(self, y: Array, mu: Array, wt: Array) -> Array:
        """Unit deviances times prior weights, as R's ``family$dev.resids``."""
        if self.name == "gaussian":
            return wt * (y - mu) ** 2
        if self.name == "binomial":
            return 2.0 * wt * (_ylogy(y, mu) + _ylogy(1.0 - y, 1.0 - mu))
        if self.name == "poisson":
            return 2.0 * wt * (_ylogy(y, mu) - (y - mu))
        if self.name == "Gamma":
            with np.errstate(divide="ignore", invalid="ignore"):
                return -2.0 * wt * (np.log(y / mu) - (y - mu) / mu) * self._inv_phi()
        if self.name == "inverse_gaussian":
            return wt * (y - mu) ** 2 / (y * mu**2) * self._inv_phi()
        th = self.theta
        assert th is not None
        return 2.0 * wt * (_ylogy(y, mu) - (y + th) * np.log((y + th) / (mu + th)))

    def loglik_terms(self, y: Array, mu: Array, wt: Array, trials: Array | None = None,
                     scale: float = 1.0) -> Array:
        """Per-observation log-likelihood with R's conventions (``family$aic`` is -2 times their sum).

        For the binomial, ``y`` is the proportion of successes, ``trials`` the numbers of trials and ``wt`` the
        prior weights times the trials (R's ``weights``); each term is (wt / trials) * log dbinom.
        """
        if self.name == "gaussian":
            out = np.zeros_like(y, dtype=float)
            pos = wt > 0
            out[pos] = stats.norm.logpdf(y[pos], mu[pos], np.sqrt(scale / wt[pos]))
            return out
        if self.name in ("binomial", "poisson"):
            return self.bind(y, wt, trials).loglik_terms(mu)
        if self.name in _SCALE_FAMILIES:
            # phi: the fixed dispersion, or lme4's plug-in deviance / sum(weights)
            phi = self.dispersion if self.dispersion is not None else (
                float(np.sum(self.dev_resids(y, mu, wt))) / float(np.sum(wt)))
            if self.name == "Gamma":
                return wt * stats.gamma.logpdf(y, 1.0 / phi, scale=mu * phi)
            return wt * -0.5 * (np.log(2.0 * np.pi * phi * y**3) + (y - mu) ** 2 / (phi * y * mu**2))
        th = self.theta
        assert th is not None
        lp = (
            special.gammaln(y + th) - special.gammaln(th) - special.gammaln(y + 1.0)
            + th * np.log(th / (th + mu)) + y * np.log(np.maximum(mu, 1e-300) / (th + mu))
        )
        return wt * lp

    def loglik(self, y: Array, mu: Array, wt: Array, trials: Array | None = None, scale: float = 1.0) -> float:
        """Total log-likelihood (``-family$aic(...) / 2`` in R)."""
        return float(np.sum(self.loglik_terms(y, mu, wt, trials, scale)))

    def bind(self, y: Array, wt: Array, trials: Array | None = None) -> BoundFamily:
        """The family with its response: log-likelihood and deviance as functions of mu alone."""
        return BoundFamily(self, y, wt, trials)

    def working_weights(self, mu: Array, eta: Array, wt: Array) -> Array:
        """IRLS (Fisher) weights: prior weights * (d mu / d eta)^2 / V(mu)."""
        d = self.link.mu_eta(eta)
        return wt * d * d / self.variance(mu) * self._inv_phi()

    def score(self, y: Array, mu: Array, eta: Array, wt: Array) -> Array:
        """d log p(y | eta) / d eta (per observation, times prior weights)."""
        return wt * (y - mu) * self.link.mu_eta(eta) / self.variance(mu) * self._inv_phi()

    def observed_weights(self, y: Array, mu: Array, eta: Array, wt: Array) -> Array:
        """-d^2 log p(y | eta) / d eta^2 (observed information); equals the Fisher weights for canonical links.
        Implemented for the negative binomial with log link (glmmTMB's Laplace uses it)."""
        if self.name == "negative_binomial" and self.link.name == "log":
            th = self.theta
            assert th is not None
            return wt * (y + th) * mu * th / (th + mu) ** 2
        if self.name in ("Gamma", "inverse_gaussian") and self.link.name == "log":
            # Fisher weight minus (y - mu) d/d eta (mu_eta / V): mu^(1-k) for V = mu^k, k = 2, 3
            k = 2.0 if self.name == "Gamma" else 3.0
            return wt * (mu ** (2.0 - k) + (k - 1.0) * (y - mu) * mu ** (1.0 - k)) * self._inv_phi()
        if self.name in ("Gamma", "inverse_gaussian") and self.link.name != _CANONICAL[self.name]:
            return self._numeric_observed_weights(y, eta, wt)
        return self.working_weights(mu, eta, wt)

    def _numeric_observed_weights(self, y: Array, eta: Array, wt: Array) -> Array:
        """-d score / d eta by central differences (non-canonical links other than log)."""
        h = 1e-6 * np.maximum(np.abs(eta), 1e-3)
        up, dn = eta + h, eta - h
        s_up = self.score(y, self.link.inverse(up), up, wt)
        s_dn = self.score(y, self.link.inverse(dn), dn, wt)
        return -(s_up - s_dn) / (2.0 * h)

    def mustart(self, y: Array, wt: Array) -> Array:
        """Starting values for mu, as R's ``family$initialize``."""
        if self.name == "gaussian":
            return y.astype(float).copy()
        if self.name == "binomial":
            return (wt * y + 0.5) / (wt + 1.0)
        if self.name in _SCALE_FAMILIES:
            return y.astype(float).copy()
        return y + 0.1

    def valid_mu(self, mu: Array) -> Array:
        if self.name == "binomial":
            return np.clip(mu, _EPS, 1 - _EPS)
        if self.name in ("poisson", "negative_binomial"):
            return np.maximum(mu, _EPS)
        return mu

    def __str__(self) -> str:
        extra = f"({self.theta:.4g})" if self.theta is not None else ""
        if self.dispersion is not None:
            extra = f"(dispersion {self.dispersion:.4g})"
        return f"{self.name}{extra} ({self.link.name})"


_SCALE_FAMILIES = ("gaussian", "Gamma", "inverse_gaussian")
_CANONICAL = {"gaussian": "identity", "binomial": "logit", "poisson": "log", "Gamma": "inverse",
              "inverse_gaussian": "1/mu^2"}
# R's default links (glm's and glmer's): the canonical one, log for the negative binomial
_DEFAULT_LINK = {"gaussian": "identity", "binomial": "logit", "poisson": "log", "negative_binomial": "log",
                 "Gamma": "inverse", "inverse_gaussian": "1/mu^2"}
_ALIASES = {
    "gaussian": "gaussian", "normal": "gaussian",
    "binomial": "binomial", "bernoulli": "binomial", "logistic": "binomial",
    "poisson": "poisson",
    "negative_binomial": "negative_binomial", "negbin": "negative_binomial", "nbinom2": "negative_binomial",
    "negativebinomial": "negative_binomial", "nb": "negative_binomial",
    "gamma": "Gamma", "inverse_gaussian": "inverse_gaussian", "inverse.gaussian": "inverse_gaussian",
    "inversegaussian": "inverse_gaussian", "invgauss": "inverse_gaussian", "wald": "inverse_gaussian",
}
_ALLOWED_LINKS = {
    "gaussian": {"identity", "log", "inverse"},
    "binomial": {"logit", "probit", "cloglog"},
    "poisson": {"log", "identity", "sqrt"},
    "negative_binomial": {"log"},
    "Gamma": {"inverse", "log", "identity"},
    "inverse_gaussian": {"1/mu^2", "inverse", "log", "identity"},
}


class BoundFamily:
    """A family bound to a response (``y``, prior weights ``wt``, binomial ``trials``): the log-likelihood and the
    deviance as functions of mu, with the parts that depend on the data alone computed once (PIRLS evaluates them
    at every step).  Binomial and Poisson have such a fast form; other families use the family's methods."""

    def __init__(self, family: Family, y: Array, wt: Array, trials: Array | None = None) -> None:
        self.family, self.y, self.wt, self.trials = family, y, wt, trials
        if family.name == "binomial":
            m = wt if trials is None else trials
            n, k = np.round(m), np.round(m * y)
            with np.errstate(divide="ignore", invalid="ignore"):
                self._factor = np.where(m > 0, wt / np.where(m > 0, m, 1.0), 0.0)
            self._const = np.where(m > 0, special.gammaln(n + 1) - special.gammaln(k + 1)
                                   - special.gammaln(n - k + 1), 0.0)
            self._k, self._nk = k, n - k
            self._dev_const = special.xlogy(y, y) + special.xlogy(1 - y, 1 - y)
        elif family.name == "poisson":
            self._const = -special.gammaln(y + 1)
            self._dev_const = special.xlogy(y, y) - y

    def loglik_terms(self, mu: Array) -> Array:
        """Per-observation log-likelihood (R's conventions; see :meth:`Family.loglik_terms`)."""
        name = self.family.name
        if name == "binomial":
            return self._factor * (self._const + special.xlogy(self._k, mu) + special.xlog1py(self._nk, -mu))
        if name == "poisson":
            return self.wt * (self._const + special.xlogy(self.y, mu) - mu)
        return self.family.loglik_terms(self.y, mu, self.wt, self.trials)

    def loglik(self, mu: Array) -> float:
        if self.family.name == "gaussian":
            # R's gaussian()$aic (which glmer uses for non-identity links): sigma^2 estimated as deviance / n
            n = len(self.y)
            dev = self.deviance(mu)
            pos = self.wt > 0
            return -0.5 * (n * (np.log(2.0 * np.pi * dev / n) + 1.0) + 2.0 - float(np.sum(np.log(self.wt[pos]))))
        if self.family.name in _SCALE_FAMILIES and self.family.dispersion is None:
            # R's family$aic includes +2 for the dispersion; lme4's Laplace deviance keeps it
            return float(np.sum(self.loglik_terms(mu))) - 1.0
        return float(np.sum(self.loglik_terms(mu)))

    def pearson(self, mu: Array) -> float:
        """The Pearson chi-square: sum of wt (y - mu)^2 / V(mu) (unscaled)."""
        return float(np.sum(self.wt * (self.y - mu) ** 2 / self.family.variance(mu)))

    def deviance(self, mu: Array) -> float:
        """The sum of the deviance residuals."""
        name = self.family.name
        y = self.y
        if name == "binomial":
            unit = self._dev_const - special.xlogy(y, mu) - special.xlogy(1 - y, 1 - mu)
        elif name == "poisson":
            unit = self._dev_const - special.xlogy(y, mu) + mu
        else:
            return float(np.sum(self.family.dev_resids(y, mu, self.wt)))
        return float(2.0 * np.sum(self.wt * unit))


def get_family(family: str | Family, link: str | None = None) -> Family:
    """A :class:`Family` from a name (``"binomial"``, ``"poisson"``, ``"negative_binomial"``/``"nbinom2"``) and
    an optional link; ``"binomial(link='probit')"``-style strings are not needed: pass ``link=``."""
    if isinstance(family, Family):
        return family if link is None else Family(family.name, get_link(link), family.theta, family.dispersion)
    key = _ALIASES.get(str(family).lower().replace("-", "_").replace(" ", "_"))
    if key is None:
        raise FamilyError(
            f"unknown family {family!r}; choose gaussian, binomial, poisson, negative_binomial, Gamma or "
            "inverse_gaussian"
        )
    link_name = link or _DEFAULT_LINK[key]
    if link_name not in _ALLOWED_LINKS[key]:
        raise FamilyError(
            f"link {link_name!r} is not available for the {key} family; use one of "
            f"{', '.join(sorted(_ALLOWED_LINKS[key]))}"
        )
    return Family(key, get_link(link_name))


def negative_binomial(theta: float | None = None, link: str = "log") -> Family:
    """The negative binomial (NB2, variance mu + mu^2 / theta): theta estimated (joint Laplace ML, glmmTMB's
    ``nbinom2``) when None, held fixed when given (lme4's ``glmer(family = MASS::negative.binomial(theta))``)."""
    if theta is not None and not (np.isfinite(theta) and theta > 0):
        raise FamilyError(f"the negative binomial's theta must be a positive number, not {theta!r}")
    fam = get_family("negative_binomial", link)
    return fam if theta is None else fam.with_theta(float(theta))
