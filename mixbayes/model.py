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

    def __repr__(self) -> str:
        d = self.design
        return (
            f"Model({self.formula.text!r}, family={self.family}, nobs={d.n_obs}, "
            f"fixef={d.n_fixef}, terms={[t.expr for t in d.terms]})"
        )
