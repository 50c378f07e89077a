"""Response families and links with R's conventions, one class each.

:class:`Family` (in :mod:`.base`) documents what a family defines; :mod:`.links` holds the links and
:mod:`.registry` the names.  Nothing here imports PyMC or PyTensor at import time.
"""

from .base import BoundFamily, Family
from .binomial import Binomial
from .counts import NegativeBinomial, Poisson
from .gaussian import Gaussian
from .links import Link, get_link, link_names
from .positive import Gamma, InverseGaussian
from .registry import _ALLOWED_LINKS as _ALLOWED_LINKS  # tests enumerate the (family, link) pairs
from .registry import FAMILIES, family_names, get_family, negative_binomial

__all__ = [
    "FAMILIES", "Binomial", "BoundFamily", "Family", "Gamma", "Gaussian", "InverseGaussian", "Link",
    "NegativeBinomial", "Poisson",
    "family_names", "get_family", "get_link", "link_names", "negative_binomial",
]
