"""The registry of families by name, and the public constructors (:func:`get_family`, :func:`negative_binomial`)."""

from __future__ import annotations

import numpy as np

from ..exceptions import FamilyError
from . import binomial, counts, gaussian, positive  # noqa: F401  (defining the classes registers them)
from .base import REGISTRY, Family
from .links import get_link

__all__ = ["FAMILIES", "family_names", "get_family", "negative_binomial"]

#: The family classes by name (R's classic families first, for messages): each subclass of Family that sets
#: ``name`` registers itself when its module is imported; a new family's module is imported above.
FAMILIES: dict[str, type[Family]] = {
    **{name: REGISTRY[name] for name in ("gaussian", "binomial", "poisson", "negative_binomial")}, **REGISTRY}
_ALIASES: dict[str, str] = {alias: cls.name for cls in FAMILIES.values() for alias in (cls.name, *cls.aliases)}
_DEFAULT_LINK = {name: cls.default_link for name, cls in FAMILIES.items()}
_ALLOWED_LINKS = {name: set(cls.allowed_links) for name, cls in FAMILIES.items()}


def family_names() -> tuple[str, ...]:
    """The names of the available families."""
    return tuple(FAMILIES)


def get_family(family: str | Family, link: str | None = None) -> Family:
    """A :class:`Family` from a name (``"binomial"``, ``"poisson"``, ``"negative_binomial"``/``"nbinom2"``) and
    an optional link; ``"binomial(link='probit')"``-style strings are not needed: pass ``link=``."""
    if isinstance(family, Family):
        return family if link is None else family.with_link(link)
    key = _ALIASES.get(str(family).lower().replace("-", "_").replace(" ", "_"))
    if key is None:
        names = list(FAMILIES)
        raise FamilyError(f"unknown family {family!r}; choose {', '.join(names[:-1])} or {names[-1]}")
    cls = FAMILIES[key]
    link_name = link or cls.default_link
    cls.check_link(link_name)
    return cls(get_link(link_name))


def negative_binomial(theta: float | None = None, link: str = "log") -> Family:
    """The negative binomial (NB2, variance mu + mu^2 / theta): theta estimated (joint Laplace ML, glmmTMB's
    ``nbinom2``) when None, held fixed when given (lme4's ``glmer(family = MASS::negative.binomial(theta))``)."""
    if theta is not None and not (np.isfinite(theta) and theta > 0):
        raise FamilyError(f"the negative binomial's theta must be a positive number, not {theta!r}")
    fam = get_family("negative_binomial", link)
    return fam if theta is None else fam.with_theta(float(theta))
