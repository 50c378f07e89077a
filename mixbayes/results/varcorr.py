"""Variance components: SDs and correlations per term, as lme4's ``VarCorr``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design.matrices import ModelMatrices
from ..design.naming import unique_names

__all__ = ["TermCovariance", "VarCorr", "unique_names"]


@dataclass(frozen=True)
class TermCovariance:
    """Covariance matrix of one random-effects term (``cov``: q x q, on the response's squared scale)."""

    group: str
    columns: tuple[str, ...]
    cov: np.ndarray
    expr: str

    @property
    def sd(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov)), index=list(self.columns))

    @property
    def corr(self) -> pd.DataFrame:
        sd = np.sqrt(np.diag(self.cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            c = self.cov / np.outer(sd, sd)
        np.fill_diagonal(c, 1.0)
        return pd.DataFrame(c, index=list(self.columns), columns=list(self.columns))


@dataclass(frozen=True)
class VarCorr:
    """Estimated variance components.

    terms : one :class:`TermCovariance` per random-effects term, in lme4's order.
    sigma : residual SD, or None for families without a free scale (binomial, Poisson).
    """

    terms: tuple[TermCovariance, ...]
    sigma: float | None

    @classmethod
    def from_theta(cls, design: ModelMatrices, theta: np.ndarray, sigma: float | None) -> VarCorr:
        scale = 1.0 if sigma is None else sigma
        terms = []
        for t in design.terms:
            T = t.factor(theta) * scale
            terms.append(TermCovariance(t.group, t.columns, T @ T.T, t.expr))
        return cls(tuple(terms), sigma)

    def as_frame(self) -> pd.DataFrame:
        """The long form of lme4's ``as.data.frame(VarCorr(fit))``: grp, var1, var2, vcov, sdcor."""
        rows = []
        for name, term in zip(unique_names([t.group for t in self.terms]), self.terms, strict=True):
            q = len(term.columns)
            sd = np.sqrt(np.diag(term.cov))
            for i in range(q):
                rows.append((name, term.columns[i], None, term.cov[i, i], sd[i]))
            for j in range(q):
                for i in range(j + 1, q):
                    corr = term.cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else np.nan
                    rows.append((name, term.columns[j], term.columns[i], term.cov[i, j], corr))
        if self.sigma is not None:
            rows.append(("Residual", None, None, self.sigma**2, self.sigma))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    def table(self, variance: bool = True, digits: int = 4) -> str:
        """The random-effects table of lme4's summary: Groups, Name, Variance, Std.Dev., Corr."""
        rows: list[list[str]] = []
        max_q = max([len(t.columns) for t in self.terms] + [1])
        for term in self.terms:
            name = term.group
            corr = term.corr.to_numpy()
            sd = np.sqrt(np.diag(term.cov))
            for i, col in enumerate(term.columns):
                row = [name if i == 0 else "", col]
                if variance:
                    row.append(_fmt(term.cov[i, i], digits))
                row.append(_fmt(sd[i], digits))
                row += [f"{corr[i, j]:.2f}" for j in range(i)]
                rows.append(row)
        if self.sigma is not None:
            rows.append(["Residual", ""] + ([_fmt(self.sigma**2, digits)] if variance else [])
                        + [_fmt(self.sigma, digits)])
        header = ["Groups", "Name"] + (["Variance"] if variance else []) + ["Std.Dev."]
        if max_q > 1:
            header += ["Corr"] + [""] * (max_q - 2)
        width = max(len(r) for r in [*rows, header])
        rows = [r + [""] * (width - len(r)) for r in rows]
        header = header + [""] * (width - len(header))
        widths = [max(len(r[k]) for r in [*rows, header]) for k in range(width)]
        lines = []
        for r in [header, *rows]:
            cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
            cells += [r[k].rjust(widths[k]) for k in range(2, width)]
            lines.append(" " + " ".join(cells).rstrip())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table(variance=False)

    def __repr__(self) -> str:
        return self.table(variance=True)


def _fmt(x: float, digits: int) -> str:
    if x == 0 or not np.isfinite(x):
        return f"{x:g}"
    mag = int(np.floor(np.log10(abs(x))))
    decimals = max(0, digits - 1 - mag)
    return f"{x:.{decimals}f}"
