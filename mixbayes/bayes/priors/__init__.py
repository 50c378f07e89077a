"""Deprecated alias of :mod:`mixbayes.priors` (moved so that the MAP fit imports priors without the Bayesian
package); removed in the next release."""

from __future__ import annotations

import warnings

from ...priors.prior import *  # noqa: F403
from ...priors.prior import __all__  # noqa: F401

warnings.warn("mixbayes.bayes.priors is deprecated: import from mixbayes.priors", DeprecationWarning, stacklevel=2)
