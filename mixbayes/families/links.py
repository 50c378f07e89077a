"""Link functions g (eta = g(mu)) with R's conventions, each one class.

Every link gives ``link(mu)``, the clamped inverse ``inverse(eta)`` and ``mu_eta(eta)`` = d mu / d eta as R's
``make.link`` (the clamping keeps PIRLS away from 0 and 1), and the exact inverse for the Bayesian code in two
variants: :meth:`Link.inverse_numpy` (NumPy, posterior draws) and :meth:`Link.inverse_tensor` (PyTensor, the PyMC
model).  PyTensor is imported only inside :meth:`Link.inverse_tensor`, so that ``import mixbayes`` stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import special, stats

from ..exceptions import FamilyError

__all__ = ["Link", "get_link", "link_names"]

_EPS = np.finfo(float).eps
Array = np.ndarray


@dataclass(frozen=True)
class Link:
    """A link function g with its inverse and derivative d mu / d eta.

    A new link is one subclass that sets ``name`` and defines :meth:`link`, :meth:`inverse` (R's clamped
    ``linkinv``), :meth:`mu_eta` and :meth:`_inverse_xp` (the exact inverse written with ``xp.exp`` etc. so that
    one formula serves NumPy and PyTensor), and registers itself in ``_LINKS`` below.
    """

    name: ClassVar[str] = ""
    #: The mean of the response must be positive on this link (log, inverse, sqrt): prior centring floors it.
    positive_mean: ClassVar[bool] = False

    def link(self, mu: Array) -> Array:
        """eta = g(mu)."""
        raise NotImplementedError

    def inverse(self, eta: Array) -> Array:
        """mu = g^-1(eta), clamped as R's ``linkinv`` (used by PIRLS and the likelihood fits)."""
        raise NotImplementedError

    def mu_eta(self, eta: Array) -> Array:
        """d mu / d eta (floored at machine epsilon where R floors it)."""
        raise NotImplementedError

    def _inverse_xp(self, eta: Any, xp: Any) -> Any:
        """The exact inverse written with the array module ``xp`` (numpy or pytensor.tensor)."""
        raise NotImplementedError

    def inverse_numpy(self, eta: Array) -> Array:
        """The exact (unclamped) inverse in NumPy, as the PyMC model computes it (posterior draws)."""
        return self._inverse_xp(eta, np)

    def inverse_tensor(self, eta: Any) -> Any:
        """The inverse as a PyTensor expression (imports PyTensor: call only when building a PyMC model)."""
        import pytensor.tensor as pt

        return self._inverse_xp(eta, pt)

    def __repr__(self) -> str:
        return f"Link({self.name!r})"


@dataclass(frozen=True, repr=False)
class IdentityLink(Link):
    name: ClassVar[str] = "identity"

    def link(self, mu: Array) -> Array:
        return mu

    def inverse(self, eta: Array) -> Array:
        return eta

    def mu_eta(self, eta: Array) -> Array:
        return np.ones_like(eta)

    def _inverse_xp(self, eta: Any, xp: Any) -> Any:
        return eta


@dataclass(frozen=True, repr=False)
class LogLink(Link):
    name: ClassVar[str] = "log"
    positive_mean: ClassVar[bool] = True

    def link(self, mu: Array) -> Array:
        return np.log(mu)

    def inverse(self, eta: Array) -> Array:
        return np.maximum(np.exp(eta), _EPS)

    def mu_eta(self, eta: Array) -> Array:
        return np.maximum(np.exp(eta), _EPS)

    def _inverse_xp(self, eta: Any, xp: Any) -> Any:
        return xp.exp(eta)


@dataclass(frozen=True, repr=False)
class LogitLink(Link):
    name: ClassVar[str] = "logit"

    def link(self, mu: Array) -> Array:
        return special.logit(mu)

    def inverse(self, eta: Array) -> Array:
        return special.expit(eta)

    def mu_eta(self, eta: Array) -> Array:
        e = np.exp(-np.abs(eta))
        return np.maximum(e / (1.0 + e) ** 2, _EPS)

    def _inverse_xp(self, eta: Any, xp: Any) -> Any:
        return 1.0 / (1.0 + xp.exp(-eta))


@dataclass(frozen=True, repr=False)
class ProbitLink(Link):
    name: ClassVar[str] = "probit"

    def link(self, mu: Array) -> Array:
        return stats.norm.ppf(mu)

    def inverse(self, eta: Array) -> Array:
        thresh = -stats.norm.ppf(_EPS)
        return stats.norm.cdf(np.clip(eta, -thresh, thresh))

    def mu_eta(self, eta: Array) -> Array:
        return np.maximum(stats.norm.pdf(eta), _EPS)

    def _inverse_xp(self, eta: Any, xp: Any) -> Any:
        if xp is np:
            return special.ndtr(eta)
        return 0.5 * xp.erfc(-eta / np.sqrt(2.0))


@dataclass(frozen=True, repr=False)
class CloglogLink(Link):
    name: ClassVar[str] = "cloglog"

    def link(self, mu: Array) -> Array:
        return np.log(-np.log1p(-mu))

    def inverse(self, eta: Array) -> Array:
        return np.clip(-np.expm1(-np.exp(eta)), _EPS, 1 - _EPS)

    def mu_eta(self, eta: Array) -> Array:
        eta = np.minimum(eta, 700.0)
        return np.maximum(np.exp(eta) * np.exp(-np.exp(eta)), _EPS)

    def _inverse_xp(self, eta: Any, xp: Any) -> Any:
        return 1.0 - xp.exp(-xp.exp(eta))


@dataclass(frozen=True, repr=False)
class InverseLink(Link):
    name: ClassVar[str] = "inverse"
    positive_mean: ClassVar[bool] = True

    def link(self, mu: Array) -> Array:
        return 1.0 / mu

    def inverse(self, eta: Array) -> Array:
        return 1.0 / eta

    def mu_eta(self, eta: Array) -> Array:
        return -1.0 / eta**2

    def _inverse_xp(self, eta: Any, xp: Any) -> Any:
        return 1.0 / eta


@dataclass(frozen=True, repr=False)
class SqrtLink(Link):
    name: ClassVar[str] = "sqrt"
    positive_mean: ClassVar[bool] = True

    def link(self, mu: Array) -> Array:
        return np.sqrt(mu)

    def inverse(self, eta: Array) -> Array:
        return eta**2

    def mu_eta(self, eta: Array) -> Array:
        return 2.0 * eta

    def _inverse_xp(self, eta: Any, xp: Any) -> Any:
        return eta * eta


@dataclass(frozen=True, repr=False)
class InverseSquareLink(Link):
    """1/mu^2, the inverse Gaussian's canonical link."""

    name: ClassVar[str] = "1/mu^2"
    positive_mean: ClassVar[bool] = True

    def link(self, mu: Array) -> Array:
        return 1.0 / mu**2

    def inverse(self, eta: Array) -> Array:
        return 1.0 / np.sqrt(eta)

    def mu_eta(self, eta: Array) -> Array:
        return -1.0 / (2.0 * eta**1.5)

    def _inverse_xp(self, eta: Any, xp: Any) -> Any:
        return 1.0 / xp.sqrt(eta)


_LINKS: dict[str, Link] = {
    cls.name: cls() for cls in (IdentityLink, LogLink, LogitLink, ProbitLink, CloglogLink, InverseLink, SqrtLink,
                                InverseSquareLink)
}


def link_names() -> tuple[str, ...]:
    """The names of the available links."""
    return tuple(_LINKS)


def get_link(name: str | Link) -> Link:
    """The :class:`Link` called ``name`` (``identity``, ``log``, ``logit``, ``probit``, ``cloglog``, ``inverse``,
    ``sqrt``)."""
    if isinstance(name, Link):
        return name
    try:
        return _LINKS[name]
    except KeyError:
        raise FamilyError(f"unknown link {name!r}; choose one of {', '.join(_LINKS)}") from None
