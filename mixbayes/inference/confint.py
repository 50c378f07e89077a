"""Confidence intervals of a linear mixed model's parameters, as lme4's ``confint.merMod``.

Rows are named as lme4 names them with ``oldNames = FALSE`` (``sd_(Intercept)|Subject``,
``cor_Days.(Intercept)|Subject``, ``sigma``, then the fixed effects); columns are the lower and upper
percentages (``2.5 %``, ``97.5 %``).

- ``profile``: likelihood-profile intervals (:mod:`.profile`), from the ML fit;
- ``wald``: estimate -+ qnorm((1 + level) / 2) SE for the fixed effects; NaN for the variance parameters;
- ``boot``: percentile intervals of a parametric bootstrap (:mod:`.bootstrap`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ..arguments import renamed_kwargs
from ..exceptions import NotSupportedError
from .parameters import percent_labels, varpar_names

if TYPE_CHECKING:
    from ..protocols import GlmmFitLike as GlmmFit
    from ..protocols import LmmFitLike as LmmFit

__all__ = ["confint", "wald_intervals"]


def wald_intervals(fit: LmmFit | GlmmFit, level: float = 0.95) -> pd.DataFrame:
    """lme4's ``confint(method = "Wald")``: normal intervals for the fixed effects, NaN for the rest."""
    vn = varpar_names(fit.design, sigma=getattr(fit, "scale_sigma", None) is not None)
    z = stats.norm.ppf((1 + level) / 2)
    est, se = fit.beta, fit.se.to_numpy()
    lower = np.concatenate([np.full(len(vn), np.nan), est - z * se])
    upper = np.concatenate([np.full(len(vn), np.nan), est + z * se])
    lo, hi = percent_labels(level)
    return pd.DataFrame({lo: lower, hi: upper},
                        index=vn + list(fit.design.fixef_names))


@renamed_kwargs(seed="random_seed", progress="progressbar")
def confint(fit: LmmFit | GlmmFit, method: str = "profile", level: float = 0.95, parm: list[str] | None = None,
            nsim: int = 500, random_seed: Any = None, boot_type: str = "perc", **kwargs: Any) -> pd.DataFrame:
    """Confidence intervals for the variance parameters and fixed effects (lme4's ``confint.merMod``).

    Parameters
    ----------
    method : ``"profile"`` (default), ``"wald"`` or ``"boot"``.
    level : confidence level.
    parm : names of the rows wanted (default all); for profiles only those parameters are profiled.
    nsim, random_seed, boot_type : bootstrap replicates, seed and interval type (``perc``, ``basic``, ``norm``).
    kwargs : passed to :func:`~mixbayes.inference.profile.profile` or
        :func:`~mixbayes.inference.bootstrap.bootstrap` (``n_jobs``, ``backend``, ``progressbar``...).
    """
    key = method.lower()
    glmm = not hasattr(fit, "reml")
    if key == "profile":
        if glmm:
            from .glmm_profile import profile_glmm as profile
        else:
            from .profile import profile

        table = profile(fit, which=parm, **kwargs).confint(level)
    elif key == "wald":
        if kwargs:  # Wald intervals take no options: a misspelt one must not be ignored
            from ..arguments import reject_unknown

            reject_unknown(kwargs, ["method", "level", "parm", "nsim", "random_seed", "boot_type"], "confint")
        table = wald_intervals(fit, level)
    elif key in ("boot", "bootstrap"):
        if glmm:
            from .glmm_bootstrap import bootstrap_glmm

            table = bootstrap_glmm(fit, nsim=nsim, random_seed=random_seed, **kwargs).confint(level, type=boot_type)
        else:
            from .bootstrap import bootstrap

            result = bootstrap(fit, nsim=nsim, random_seed=random_seed, **kwargs)
            table = result.confint(level, type=boot_type).drop(index="icc")
    else:
        raise NotSupportedError(f"unknown interval method {method!r}: use 'profile', 'wald' or 'boot'")
    if parm is not None and key != "profile":
        missing = [p for p in parm if p not in table.index]
        if missing:
            raise NotSupportedError(f"unknown parameter(s) {missing}; parameters: {', '.join(table.index)}")
        table = table.loc[list(parm)]
    return table
