"""Random effects (conditional modes) with conditional SDs, as lme4's ``ranef(fit, condVar=TRUE)``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from ..design.matrices import ModelMatrices
from ..design.terms import effect_blocks

__all__ = ["FrameMapping", "RandomEffects", "group_coefficients"]


class CoefTable(dict[str, pd.DataFrame]):
    """``fit.coef``: per grouping factor, a levels x coefficients frame (a dict).

    ``coef`` became a property in issue 11 (no argument and cheap); calling it as before, ``fit.coef``, still
    returns the table for one release, with a FutureWarning.
    """

    def __call__(self) -> CoefTable:
        from ..warn import warn_user

        warn_user("fit.coef is deprecated: coef is a property now; use fit.coef", FutureWarning)
        return self


def group_coefficients(fixef: pd.Series, ranef: Mapping[str, pd.DataFrame]) -> CoefTable:
    """lme4's ``coef``: per grouping factor, the fixed effects plus each level's random effects (a random-effects
    column that is not a fixed effect is added as it is)."""
    out: dict[str, pd.DataFrame] = {}
    for group, frame in ranef.items():
        tab = pd.DataFrame(np.tile(fixef.to_numpy(), (len(frame), 1)), index=frame.index, columns=fixef.index)
        for col in frame.columns:
            tab[col] = tab[col] + frame[col] if col in tab.columns else frame[col]
        out[group] = tab
    return CoefTable(out)


class FrameMapping(Mapping[str, pd.DataFrame]):
    """A read-only mapping from grouping factor to a levels x columns DataFrame."""

    _frames: dict[str, pd.DataFrame]

    def __getitem__(self, key: str) -> pd.DataFrame:
        return self._frames[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def __len__(self) -> int:
        return len(self._frames)


class RandomEffects(FrameMapping):
    """Conditional modes per grouping factor: ``ranef["Subject"]`` is a levels x columns DataFrame.

    Terms sharing a grouping factor (``(1 | g) + (0 + x | g)``) are merged into one frame, as lme4 does.
    ``condsd[group]`` holds the conditional SDs in the same shape; ``condvar[group]`` the (levels, q, q)
    conditional covariance arrays of each term.
    """

    def __init__(self, design: ModelMatrices, b: np.ndarray, cond_blocks: list[np.ndarray] | None) -> None:
        self._frames: dict[str, pd.DataFrame] = {}
        self.condsd: dict[str, pd.DataFrame] = {}
        self.condvar: dict[str, list[np.ndarray]] = {}
        for k, (t, block) in enumerate(zip(design.terms, effect_blocks(design.terms, b), strict=True)):
            frame = pd.DataFrame(block, index=pd.Index(t.levels, name=t.group), columns=list(t.columns))
            sd = None
            if cond_blocks is not None:
                cv = cond_blocks[k]
                sd = pd.DataFrame(np.sqrt(np.diagonal(cv, axis1=1, axis2=2)), index=frame.index,
                                  columns=list(t.columns))
                self.condvar.setdefault(t.group, []).append(cv)
            if t.group in self._frames:
                self._frames[t.group] = pd.concat([self._frames[t.group], frame], axis=1)
                if sd is not None:
                    self.condsd[t.group] = pd.concat([self.condsd[t.group], sd], axis=1)
            else:
                self._frames[t.group] = frame
                if sd is not None:
                    self.condsd[t.group] = sd

    def as_frame(self) -> pd.DataFrame:
        """Long form, as lme4's ``as.data.frame(ranef(fit, condVar=TRUE))``: grpvar, term, grp, condval, condsd."""
        parts = []
        for group, frame in self._frames.items():
            for col in frame.columns:
                part = pd.DataFrame({
                    "grpvar": group,
                    "term": col,
                    "grp": frame.index.astype(str),
                    "condval": frame[col].to_numpy(),
                    "condsd": self.condsd[group][col].to_numpy() if group in self.condsd else np.nan,
                })
                parts.append(part)
        return pd.concat(parts, ignore_index=True)

    def __repr__(self) -> str:
        return "\n".join(f"${g}\n{f.to_string()}" for g, f in self._frames.items())
