"""The public entry point: ``mb.Model(formula, data, family=...)``, fitted by ``.fit()`` or ``.sample()``."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from .design.explain import Explanation, explain
from .design.matrices import ModelMatrices, build_design
from .exceptions import DesignWarning
from .families import Family, get_family
from .formula import ParsedFormula, parse_formula

__all__ = ["Model"]


class Model:
    """A mixed model: formula + data + family, turned into one frozen design that both engines fit.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : pandas.DataFrame
        The data.  Rows with missing values in the columns used are dropped (with a warning).
    family : str or Family
        ``"gaussian"`` (default), ``"binomial"``, ``"poisson"`` or ``"negative_binomial"``.
    link : str, optional
        Link function; the family's canonical link by default.
    weights, offset : column name or array, optional
        Prior weights and an offset on the linear-predictor scale.

    Examples
    --------
    >>> import mixbayes as mb
    >>> m = mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    >>> m.design.n_theta
    3
    """

    def __init__(
        self,
        formula: str,
        data: pd.DataFrame,
        family: str | Family = "gaussian",
        weights: Any = None,
        offset: Any = None,
        link: str | None = None,
    ) -> None:
        self.formula: ParsedFormula = parse_formula(formula)
        self.family: Family = get_family(family, link)
        self.data = data
        self.design: ModelMatrices = build_design(self.formula, data, self.family, weights, offset)
        self._weights_arg = weights
        self._offset_arg = offset
        from .design.checks import design_issues

        for issue in design_issues(self.design):
            warnings.warn(issue.message, DesignWarning, stacklevel=2)

    @property
    def dropped_index(self) -> pd.Index:
        """Index labels of the rows dropped because of missing values."""
        return self.design.dropped_index

    def explain(self) -> Explanation:
        """Terms, grouping factors (levels, observations per level), nesting/crossing in the data and
        warnings about likely mistakes."""
        return explain(self.design)

    def expand(self) -> str:
        """The fully explicit lme4 formula."""
        return self.formula.explicit()

    def fit(self, method: str | None = None, control: Any = None, start: Any = None, nAGQ: int = 1,
            emit_warnings: bool = True, **kwargs: Any) -> Any:
        """Fit by likelihood: ``"reml"`` (default for Gaussian) or ``"ml"``; for other families the Laplace
        approximation (``nAGQ=1``), adaptive Gauss-Hermite (``nAGQ>1``) or the fast ``nAGQ=0``;
        ``"map"`` gives the penalised (posterior-mode) fit under the default priors.

        Returns an :class:`~mixbayes.results.lmm.LmmFit` or :class:`~mixbayes.results.glmm.GlmmFit`.
        """
        method = (method or ("reml" if self._is_lmm else "laplace")).lower()
        if method == "map":
            from .bayes.map import fit_map

            return fit_map(self, **kwargs)
        if method in ("bayes", "nuts"):
            return self.sample(**kwargs)
        if self._is_lmm:
            if method not in ("reml", "ml"):
                from .exceptions import NotSupportedError

                raise NotSupportedError(f"method {method!r} is not a likelihood method for a linear mixed model; "
                                        "use 'reml', 'ml', 'map' or 'bayes'")
            from .likelihood.lmm import fit_lmm
            from .results.lmm import LmmFit

            reml = method == "reml"
            est = fit_lmm(self.design, reml, control, start=start, emit_warnings=emit_warnings)
            return LmmFit(self, est, reml, control=control)
        from .results.glmm import fit_glmm_model

        return fit_glmm_model(self, method=method, nAGQ=nAGQ, control=control, start=start,
                              emit_warnings=emit_warnings, **kwargs)

    def sample(self, **kwargs: Any) -> Any:
        """Sample the posterior with NUTS (see :func:`mixbayes.bayes.sample`)."""
        from .bayes import sample

        return sample(self, **kwargs)

    @property
    def _is_lmm(self) -> bool:
        return self.family.name == "gaussian" and self.family.link.name == "identity"

    def __repr__(self) -> str:
        d = self.design
        return (
            f"Model({self.formula.text!r}, family={self.family}, nobs={d.n_obs}, "
            f"fixef={d.n_fixef}, terms={[t.expr for t in d.terms]})"
        )
