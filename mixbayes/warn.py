"""One warning policy: engines describe what went wrong as records, and one function issues them.

Every warning of mixbayes is issued through :func:`warn_user`, which points it at the first frame outside the
package (``warnings.warn(..., skip_file_prefixes=...)``, Python 3.12+): a warning raised while fitting names the
user's file and line, however deep in mixbayes it was found, so ``-W error`` and warning filters by module work on
the user's code.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

from .exceptions import MixbayesWarning

__all__ = ["PACKAGE_DIR", "Notice", "emit", "warn_user"]

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


@dataclass(frozen=True)
class Notice:
    """A warning to issue: its message (with the remedy) and its typed category."""

    message: str
    category: type[Warning] = MixbayesWarning


def warn_user(message: str, category: type[Warning] = MixbayesWarning) -> None:
    """Issue ``message`` as ``category``, attributed to the first caller outside mixbayes."""
    warnings.warn(message, category, skip_file_prefixes=(PACKAGE_DIR,))


def emit(notices: Iterable[Notice]) -> None:
    """Issue each of ``notices`` (see :func:`warn_user`)."""
    for notice in notices:
        warn_user(notice.message, notice.category)
