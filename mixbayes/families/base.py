"""The :class:`Family` base class: what every response distribution defines, and the defaults it inherits."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
from scipy import special

from ..exceptions import CountDataWarning, FamilyError, ResponseError
from ..warn import warn_user
from .links import Link

__all__ = ["BoundFamily", "Family", "ResponseParts", "warn_non_integer"]

EPS = np.finfo(float).eps
Array = np.ndarray
#: (y, weights, trials, successes) of a response; see :mod:`mixbayes.design.response`.
ResponseParts = tuple[Array, Array, Array | None, Array | None]


def ylogy(y: Array, mu: Array) -> Array:
    """y * log(y / mu) with 0 log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return special.xlogy(y, y) - special.xlogy(y, mu)


def warn_non_integer(counts: Array, what: str, family: str) -> None:
    """glm's and glmer's warning for non-integer counts (the fit goes on, as theirs does)."""
    bad = np.abs(counts - np.round(counts)) > 1e-7
    if np.any(bad):
        shown = ", ".join(f"{v:.4g}" for v in counts[bad][:3]) + (", ..." if bad.sum() > 3 else "")
        warn_user(
            f"non-integer counts in a {family} model: the {what} has {int(bad.sum())} non-integer value(s) "
            f"({shown}); glmer warns likewise and fits. Remedy: counts should be whole numbers; for a continuous "
            "response use another family (e.g. gaussian on a transformed scale)",
            CountDataWarning)


#: Every family class by name, filled as each subclass that sets ``name`` is defined (see the registry module).
REGISTRY: dict[str, type[Family]] = {}


class _FamilyMeta(type):
    """Keeps the old constructor ``Family(name, link, theta)`` working (deprecated) by dispatching to the class
    registered under ``name``."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Family and args and isinstance(args[0], str):
            from .links import get_link

            warnings.warn("Family(name, link, theta) is deprecated: use mixbayes.get_family(name, link) (and "
                          ".with_theta(theta)), or the family's class", DeprecationWarning, stacklevel=2)
            if args[0] not in REGISTRY:
                raise FamilyError(f"unknown family {args[0]!r}; choose one of {', '.join(REGISTRY)}")
            sub = REGISTRY[args[0]]
            sub.check_link(get_link(args[1]).name)
            return sub(get_link(args[1]), *args[2:], **kwargs)
        return super().__call__(*args, **kwargs)


@dataclass(frozen=True)
class Family(metaclass=_FamilyMeta):
    """A response distribution with its link, R's conventions (``family`` objects of stats/lme4/glmmTMB).

    Each family is one subclass; instances are frozen (``link``, and ``theta``, the family's extra parameter when
    it has one: held fixed when a number, estimated when None).  A new family defines

    * the class attributes ``name`` (the registry key), ``default_link``, ``allowed_links`` and ``aliases``
      (other names accepted by :func:`~mixbayes.families.get_family`); and, when they differ from the defaults,
      ``has_scale`` (a free residual SD sigma, estimated as the Gaussian's), ``normal_residual`` (observations
      are mu plus normal noise), ``dispersion_parameter`` (the name of an extra parameter such as the negative
      binomial's theta), ``has_trials`` (successes out of trials), ``overdispersion_test`` and
      ``observed_information`` (the Laplace log-determinant uses the observed, not Fisher, information);
    * :meth:`variance` V(mu), :meth:`dev_resids` (R's ``dev.resids``) and :meth:`loglik_terms` (R's ``aic``
      divided by -2, per observation); :meth:`mustart` and :meth:`valid_mu` when R's differ from the defaults;
    * :meth:`simulate` (new observations given mu: the one simulator of every engine) and
      :meth:`pointwise_logpdf` (log-likelihood per posterior draw and observation);
    * :meth:`pymc_observation` (the PyMC distribution of an observation) and :meth:`latent_residual_variance`
      (the ICC's residual variance on the latent scale);
    * :meth:`response_numeric` (checks a numeric response), and :meth:`response_cbind` / :meth:`response_factor`
      for families that take those forms of response.

    :meth:`bind` may return a :class:`BoundFamily` subclass that precomputes the parts of the log-likelihood that
    depend on the data only (PIRLS evaluates it at every step).
    """

    link: Link
    theta: float | None = None

    name: ClassVar[str] = ""
    default_link: ClassVar[str] = ""
    allowed_links: ClassVar[frozenset[str]] = frozenset()
    aliases: ClassVar[tuple[str, ...]] = ()
    canonical_link: ClassVar[str] = ""
    #: A free residual SD sigma (the Gaussian's); its likelihood fits estimate it, its PyMC model has a prior.
    has_scale: ClassVar[bool] = False
    #: Observations are mu plus normal noise of SD sigma / sqrt(weight) (prediction intervals add sigma^2).
    normal_residual: ClassVar[bool] = False
    #: The name of the family's extra parameter (held in ``theta``), or None when it has none.
    dispersion_parameter: ClassVar[str | None] = None
    #: The response is successes out of trials (y the proportion, prior weights the trials).
    has_trials: ClassVar[bool] = False
    #: Pearson chi-square / df is checked for overdispersion (variance fixed by the mean).
    overdispersion_test: ClassVar[bool] = False
    #: glmmTMB's Laplace uses the observed information (the default for the estimated-parameter families).
    observed_information: ClassVar[bool] = False
    #: A strictly positive response with a dispersion phi (Gamma, inverse Gaussian; see :mod:`.positive`).
    positive_response: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            REGISTRY[cls.name] = cls

    # ---- identity --------------------------------------------------------------------------------------------
    @property
    def canonical(self) -> bool:
        """Whether the link is the family's canonical link."""
        return self.link.name == self.canonical_link

    @property
    def is_lmm(self) -> bool:
        """A linear mixed model: Gaussian with the identity link (fitted by REML/ML, not by PIRLS)."""
        return False

    @property
    def default_method(self) -> str:
        """The likelihood method a fit uses when none is given: REML for a linear mixed model, else Laplace."""
        return "reml" if self.is_lmm else "laplace"

    @property
    def estimates_dispersion(self) -> bool:
        """Whether the family's extra parameter is estimated (it has one, and it is not held fixed)."""
        return self.dispersion_parameter is not None and self.theta is None

    @property
    def mean_family(self) -> Family:
        """The family with the same mean model and no extra parameter (the negative binomial's Poisson): the
        start values and the naive regression fit it."""
        return self

    def with_theta(self, theta: float) -> Family:
        """The family with its extra parameter held at ``theta``."""
        return replace(self, theta=float(theta))

    def with_link(self, link: str | Link) -> Family:
        """The family with another link (checked against ``allowed_links``)."""
        from .links import get_link

        lk = get_link(link)
        self.check_link(lk.name)
        return replace(self, link=lk)

    @classmethod
    def check_link(cls, link_name: str) -> None:
        if link_name not in cls.allowed_links:
            raise FamilyError(
                f"link {link_name!r} is not available for the {cls.name} family; use one of "
                f"{', '.join(sorted(cls.allowed_links))}"
            )

    # ---- GLM pieces --------------------------------------------------------------------------------------------
    def variance(self, mu: Array) -> Array:
        """The variance function V(mu)."""
        raise NotImplementedError

    def dev_resids(self, y: Array, mu: Array, wt: Array) -> Array:
        """Unit deviances times prior weights, as R's ``family$dev.resids``."""
        raise NotImplementedError

    def loglik_terms(self, y: Array, mu: Array, wt: Array, trials: Array | None = None,
                     scale: float = 1.0) -> Array:
        """Per-observation log-likelihood with R's conventions (``family$aic`` is -2 times their sum).

        For the binomial, ``y`` is the proportion of successes, ``trials`` the numbers of trials and ``wt`` the
        prior weights times the trials (R's ``weights``); each term is (wt / trials) * log dbinom.
        """
        raise NotImplementedError

    def loglik(self, y: Array, mu: Array, wt: Array, trials: Array | None = None, scale: float = 1.0) -> float:
        """Total log-likelihood (``-family$aic(...) / 2`` in R)."""
        return float(np.sum(self.loglik_terms(y, mu, wt, trials, scale)))

    def bind(self, y: Array, wt: Array, trials: Array | None = None) -> BoundFamily:
        """The family with its response: log-likelihood and deviance as functions of mu alone."""
        return BoundFamily(self, y, wt, trials)

    def working_weights(self, mu: Array, eta: Array, wt: Array) -> Array:
        """IRLS (Fisher) weights: prior weights * (d mu / d eta)^2 / V(mu)."""
        d = self.link.mu_eta(eta)
        return wt * d * d / self.variance(mu)

    def score(self, y: Array, mu: Array, eta: Array, wt: Array) -> Array:
        """d log p(y | eta) / d eta (per observation, times prior weights)."""
        return wt * (y - mu) * self.link.mu_eta(eta) / self.variance(mu)

    def observed_weights(self, y: Array, mu: Array, eta: Array, wt: Array) -> Array:
        """-d^2 log p(y | eta) / d eta^2 (observed information); the Fisher weights unless a family says
        otherwise (they agree for canonical links)."""
        return self.working_weights(mu, eta, wt)

    def mustart(self, y: Array, wt: Array) -> Array:
        """Starting values for mu, as R's ``family$initialize``."""
        return y + 0.1

    def valid_mu(self, mu: Array) -> Array:
        """mu kept inside the family's domain (PIRLS)."""
        return mu

    # ---- the response --------------------------------------------------------------------------------------------
    def response_numeric(self, y: Array, prior: Array, name: str) -> ResponseParts:
        """Check a numeric response ``y`` (finite) with prior weights ``prior``: (y, weights, trials, successes)."""
        return y, prior.copy(), None, None

    def response_cbind(self, succ: Array, fail: Array, prior: Array, name: str, labels: tuple[str, str]
                       ) -> ResponseParts:
        """A ``cbind(successes, failures)`` response (only families with trials take one)."""
        raise ResponseError(f"cbind(successes, failures) is a binomial response, not a {self.name} one")

    def response_factor(self, codes_of: Callable[[], tuple[Array, list[Any]]], prior: Array, name: str,
                        dtype: Any) -> ResponseParts:
        """A non-numeric response; ``codes_of()`` gives its factor codes and levels (only families of 0/1 outcomes
        take one)."""
        raise ResponseError(f"the response {name!r} is not numeric ({dtype}); the {self.name} family needs numbers")

    def observed_values(self, y: Array, weights: Array, successes: Array | None) -> Array:
        """The values the observation distribution takes (the response, or the binomial counts of successes)."""
        return np.asarray(y, dtype=float)

    def n_trials(self, weights: Array, trials: Array | None) -> Array | None:
        """The numbers of trials per observation (families with trials), else None."""
        return None

    def prior_weights(self, weights: Array, trials: Array | None) -> Array:
        """Prior weights per observation (for the binomial: the weights divided by the trials)."""
        return np.asarray(weights, dtype=float)

    def used_rows(self, weights: Array, trials: Array | None) -> Array:
        """The observations that enter the likelihood (positive weight, and trials where the family has them)."""
        return np.asarray(weights, dtype=float) > 0

    def as_response(self, observed: Array, trials: Array | None) -> Array:
        """Simulated observations on the response's scale (the binomial's proportions of successes)."""
        return observed

    # ---- simulation and Bayesian pieces ------------------------------------------------------------------------
    def _theta(self, dispersion: Any) -> Any:
        th = self.theta if dispersion is None else dispersion
        if th is None:
            raise FamilyError(f"the {self.name} family needs its {self.dispersion_parameter} to do this")
        return th

    def simulate(self, mu: Array, rng: np.random.Generator, *, sigma: Any = None, dispersion: Any = None,
                 weights: Array | None = None, trials: Array | None = None) -> Array:
        """New observations given their means ``mu`` (as floats): the values :meth:`observed_values` gives
        (binomial counts of successes out of ``trials``, 1 when None).  ``sigma`` (Gaussian) and ``dispersion``
        (the extra parameter; ``theta`` when None) may be arrays that broadcast against ``mu`` (one per draw)."""
        raise NotImplementedError

    def pointwise_logpdf(self, y: Array, eta: Array, *, sigma: Any = None, dispersion: Any = None,
                         weights: Array, prior_weights: Array, trials: Array | None = None) -> Array:
        """log p(y | eta) per draw and observation (the exact inverse link, as the PyMC model): rows of ``eta``
        are draws; ``weights`` are the design's weights, ``prior_weights`` those of :meth:`prior_weights`."""
        raise NotImplementedError

    def pymc_observation(self, eta: Any, *, n_trials: Array | None, sigma: Any, dispersion: Any
                         ) -> tuple[Any, dict[str, Any]]:
        """(PyMC distribution class, its keyword arguments) of an observation given the linear predictor."""
        raise NotImplementedError

    def add_pymc_likelihood(self, eta: Any, data: Any, *, n_trials: Array | None, sigma: Any, dispersion: Any,
                            weights: Array, prior_weights: Array | None) -> None:
        """Add the observations to the PyMC model in context: an observed variable ``y``, or a weighted
        log-likelihood potential when ``prior_weights`` is given (not all ones)."""
        import pymc as pm
        import pytensor.tensor as pt

        cls, kwargs = self.pymc_observation(eta, n_trials=n_trials, sigma=sigma, dispersion=dispersion)
        if prior_weights is None:
            cls("y", **kwargs, observed=data, dims="obs")
        else:
            pm.Potential("y_weighted_loglik", pt.sum(prior_weights * pm.logp(cls.dist(**kwargs), data)))

    def latent_residual_variance(self, *, sigma: float | None, null_lambda: Any,
                                 dispersion: Any = None) -> float | Array:
        """The residual variance on the latent (link) scale for the ICC, as ``performance::icc``.
        ``null_lambda`` is a callable giving exp(intercept of the null model) (computed only when needed);
        ``dispersion`` overrides ``theta`` (one value per posterior draw)."""
        raise FamilyError(f"the ICC is not defined for the {self.name} family")

    def display_name(self, dispersion: float | None = None) -> str:
        """The family's name in a summary, as lme4 prints it (with the estimated extra parameter, if any)."""
        return self.name

    def __str__(self) -> str:
        extra = f"({self.theta:.4g})" if self.theta is not None else ""
        return f"{self.name}{extra} ({self.link.name})"


class BoundFamily:
    """A family bound to a response (``y``, prior weights ``wt``, binomial ``trials``): the log-likelihood and the
    deviance as functions of mu.  Families with a fast form subclass it (see :meth:`Family.bind`)."""

    def __init__(self, family: Family, y: Array, wt: Array, trials: Array | None = None) -> None:
        self.family, self.y, self.wt, self.trials = family, y, wt, trials

    def loglik_terms(self, mu: Array) -> Array:
        """Per-observation log-likelihood (R's conventions; see :meth:`Family.loglik_terms`)."""
        return self.family.loglik_terms(self.y, mu, self.wt, self.trials)

    def loglik(self, mu: Array) -> float:
        return float(np.sum(self.loglik_terms(mu)))

    def deviance(self, mu: Array) -> float:
        """The sum of the deviance residuals."""
        return float(np.sum(self.family.dev_resids(self.y, mu, self.wt)))

    def pearson(self, mu: Array) -> float:
        """The Pearson chi-square: sum of wt (y - mu)^2 / V(mu)."""
        return float(np.sum(self.wt * (self.y - mu) ** 2 / self.family.variance(mu)))
