"""The frozen design both engines consume: :class:`ModelMatrices`, built by :func:`build_design`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from ..arguments import closest
from ..exceptions import (
    DataTypeWarning,
    DesignError,
    DesignWarning,
    EmptyDataError,
    MissingDataWarning,
    TooFewLevelsError,
    UnknownColumnError,
    UnknownGroupError,
)
from ..families import Family
from ..formula.nodes import Call, Expr, Name, Node, Number, leaves, render
from ..formula.parsed import ParsedFormula, RandomSpec, _summands
from ..warn import warn_user
from .expressions import check_functions, evaluate, expression_variables
from .factors import as_categorical, interaction_codes
from .fixed import MatrixSpec, build_matrix, drop_aliased
from .response import build_response
from .terms import RandomTerm, lme4_term_order

__all__ = ["ModelMatrices", "build_design"]


@dataclass(frozen=True, eq=False)
class ModelMatrices:
    """Everything a fit needs, computed once from formula and data.  Arrays are read-only.

    Attributes
    ----------
    y : (n,) response; for the binomial, proportions of successes.
    X : (n, p) fixed-effects model matrix, aliased columns dropped.
    fixef_names : the p column names, as lme4 names them.
    dropped_fixef : names of aliased columns that were dropped.
    weights : (n,) prior weights (for the binomial: times the numbers of trials).
    offset : (n,) offset on the linear-predictor scale (zeros when none).
    terms : random-effects terms in lme4's order (decreasing number of levels).
    family : the response family.
    trials, successes : (n,) binomial trials and successes, else None.
    row_index : index labels of the data rows used.
    dropped_index : index labels of the rows dropped for missing values.
    """

    y: np.ndarray = field(repr=False)
    X: np.ndarray = field(repr=False)
    fixef_names: tuple[str, ...]
    dropped_fixef: tuple[str, ...]
    weights: np.ndarray = field(repr=False)
    offset: np.ndarray = field(repr=False)
    terms: tuple[RandomTerm, ...]
    family: Family
    trials: np.ndarray | None = field(repr=False)
    successes: np.ndarray | None = field(repr=False)
    response_name: str
    row_index: pd.Index = field(repr=False)
    dropped_index: pd.Index = field(repr=False)
    formula: ParsedFormula = field(repr=False)
    fixed_spec: MatrixSpec | None = field(repr=False, default=None)
    has_prior_weights: bool = False
    frame: pd.DataFrame | None = field(repr=False, default=None)
    predictor_vars: tuple[str, ...] = ()
    functions: Mapping[str, Callable[..., Any]] = field(repr=False, default_factory=dict)

    # ---- sizes ----------------------------------------------------------------------------------------
    @property
    def n_obs(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_fixef(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_theta(self) -> int:
        return sum(t.n_theta for t in self.terms)

    @property
    def n_random(self) -> int:
        return sum(t.n_random for t in self.terms)

    @property
    def theta0(self) -> np.ndarray:
        return np.concatenate([t.theta0 for t in self.terms]) if self.terms else np.zeros(0)

    @property
    def lower(self) -> np.ndarray:
        return np.concatenate([t.lower for t in self.terms]) if self.terms else np.zeros(0)

    @property
    def Gp(self) -> np.ndarray:
        """Offsets of each term's block of random effects (lme4's ``Gp``)."""
        return np.concatenate([[0], np.cumsum([t.n_random for t in self.terms])]).astype(np.int64)

    # ---- sparse views, for tests and small problems -----------------------------------------------------
    @property
    def Z(self) -> sparse.csc_matrix:
        """(n, q) random-effects model matrix; columns level-major within each term, as lme4's ``t(Zt)``
        (explicit zeros dropped, as lme4's ``drop0``)."""
        blocks = []
        n = self.n_obs
        rows = np.arange(n)
        for t in self.terms:
            cols = t.codes[:, None] * t.q + np.arange(t.q)[None, :]
            blocks.append(
                sparse.csc_matrix(
                    (t.z.ravel(), (np.repeat(rows, t.q), cols.ravel())), shape=(n, t.n_random)
                )
            )
        z = sparse.hstack(blocks, format="csc") if blocks else sparse.csc_matrix((n, 0))
        z.eliminate_zeros()  # lme4 stores drop0(Zt)
        return z

    def Lambda(self, theta: np.ndarray) -> sparse.csc_matrix:
        """(q, q) block-diagonal relative covariance factor: Var(b) = sigma^2 Lambda Lambda'."""
        blocks = [sparse.kron(sparse.identity(t.n_levels), sparse.csr_matrix(t.factor(theta)))
                  for t in self.terms]
        return sparse.block_diag(blocks, format="csc") if blocks else sparse.csc_matrix((0, 0))

    @property
    def Lind(self) -> np.ndarray:
        """lme4's ``Lind``: for each structural non-zero of Lambdat (column-compressed), its theta index."""
        out = []
        for t in self.terms:
            idx = t.lambda_index.T  # Lambdat block
            per_level = [idx[i, j] for j in range(t.q) for i in range(t.q) if idx[i, j] >= 0]
            out.extend(per_level * t.n_levels)
        return np.asarray(out, dtype=np.int64) + 1

    def term(self, group: str) -> RandomTerm:
        """The first term whose grouping factor is ``group``."""
        for t in self.terms:
            if t.group == group:
                return t
        raise UnknownGroupError(f"no random-effects term with grouping factor {group!r}; grouping factors: "
                                f"{', '.join(dict.fromkeys(t.group for t in self.terms))}"
                                f"{closest(group, [t.group for t in self.terms])}")

    def fixed_matrix(self, data: pd.DataFrame) -> np.ndarray:
        """The fixed-effects model matrix of new data (training categories and transforms)."""
        if self.fixed_spec is None:
            return np.zeros((len(data), 0))
        return self.fixed_spec.matrix(_prepare_frame(data, self.frame))


# ---- building ----------------------------------------------------------------------------------------------

class _InterceptSpec:
    """Stand-in for formulaic's spec for an intercept-only term (fast path for ``(1 | g)``)."""

    def get_model_matrix(self, data: pd.DataFrame, **_: Any) -> np.ndarray:
        return np.ones((len(data), 1))


def _node_variables(node: Node, columns: list[str], out: list[str], where: str,
                    functions: Mapping[str, Any]) -> None:
    def add(names: list[str]) -> None:
        out.extend(v for v in names if v not in out)

    for cur in leaves(node):
        match cur:
            case Name(name=name):
                if name not in columns:
                    raise UnknownColumnError(name, columns, where)
                add([name])
            case Call(func="offset" | "cbind"):
                for arg in cur.args:
                    add(expression_variables(arg, columns, where, functions))
            case Call() | Expr():
                add(expression_variables(cur.text, columns, where, functions))


def _variables(parsed: ParsedFormula, columns: list[str], include_response: bool = True,
               functions: Mapping[str, Any] | None = None) -> list[str]:
    functions = functions or {}
    used: list[str] = []
    if parsed.lhs is not None and include_response:
        _node_variables(parsed.lhs, columns, used, "response", functions)
    for _, node in parsed.fixed:
        _node_variables(node, columns, used, "formula", functions)
    for text in parsed.offsets:
        for v in expression_variables(text, columns, "offset", functions):
            if v not in used:
                used.append(v)
    for spec in parsed.random:
        _node_variables(spec.lhs, columns, used, "random-effects term", functions)
        for g in spec.group:
            if g not in columns:
                raise UnknownColumnError(g, columns, "grouping factor")
            if g not in used:
                used.append(g)
    return used


def _vector_arg(value: Any, data: pd.DataFrame, what: str,
                functions: Mapping[str, Any] | None = None) -> np.ndarray | None:
    """A weights/offset argument: an array, a column name, or an R expression of columns (``"log(n)"``),
    checked and evaluated as formula expressions are."""
    if value is None:
        return None
    if isinstance(value, str):
        if value in data.columns:
            return pd.to_numeric(data[value], errors="coerce").to_numpy(dtype=float)
        return evaluate(value, data, f"{what} argument", functions)
    arr = np.asarray(value, dtype=float).ravel()
    if arr.shape[0] != len(data):
        raise DesignError(f"{what} has {arr.shape[0]} values but the data have {len(data)} rows")
    return arr


def _in_categories(labels: pd.Series, dtype: pd.CategoricalDtype) -> pd.Categorical:
    """``labels`` as a categorical of ``dtype``; labels outside its categories (levels unseen when fitting) become
    missing."""
    return pd.Categorical(labels.where(labels.isin(dtype.categories)), dtype=dtype)


def _prepare_frame(data: pd.DataFrame, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Columns typed as R would: text and logical columns become factors."""
    out = data.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            if reference is not None and col in reference.columns and isinstance(
                reference[col].dtype, pd.CategoricalDtype
            ):
                out[col] = _in_categories(s.astype(object).map(lambda v: None if pd.isna(v) else str(v)),
                                          reference[col].dtype)
            continue
        if (pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)
                or pd.api.types.is_bool_dtype(s.dtype)):
            if reference is not None and col in reference.columns and isinstance(
                reference[col].dtype, pd.CategoricalDtype
            ):
                out[col] = _in_categories(s.map(lambda v: None if pd.isna(v) else
                                                ("TRUE" if v is True else "FALSE" if v is False else str(v))),
                                          pd.CategoricalDtype(reference[col].cat.categories))
            else:
                _warn_stray_strings(s, str(col))
                out[col] = as_categorical(s)
    return out


def _warn_stray_strings(s: pd.Series, name: str) -> None:
    """Warn when a text column is mostly numbers with a few other values (``"n/a"``, ``"?"``, ``"1,5"``): it is
    treated as a factor, as R does with such a column, which is rarely what was meant."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return
    values = pd.Series(pd.unique(s.dropna().to_numpy()), dtype=object)
    if len(values) < 5 or any(isinstance(v, (bool, np.bool_)) for v in values):
        return
    numeric = pd.to_numeric(values, errors="coerce").notna().to_numpy()
    stray = values[~numeric]
    if numeric.mean() >= 0.8 and 0 < len(stray):
        shown = ", ".join(repr(v) for v in stray[:5]) + (", ..." if len(stray) > 5 else "")
        warn_user(
            f"column {name!r} is mostly numbers but holds {len(stray)} other value(s) ({shown}), so it is treated "
            f"as a factor with {len(values)} levels. If it is a number, clean it first, e.g. "
            f"data[{name!r}] = pd.to_numeric(data[{name!r}], errors='coerce') (those values become missing)",
            DataTypeWarning)


def _random_term(spec: RandomSpec, frame: pd.DataFrame, functions: Mapping[str, Any]) -> RandomTerm:
    codes, levels = interaction_codes([frame[g] for g in spec.group])
    if len(levels) < 2:
        raise TooFewLevelsError(
            f"grouping factor {spec.group_name!r} of {spec.text} has {len(levels)} level"
            f"{'s' if len(levels) != 1 else ''} in the data used; a variance needs at least 2 "
            "(drop the term, or use the variable as a fixed effect)"
        )
    if isinstance(spec.lhs, Number) and float(spec.lhs.text) == 1:
        z = np.ones((len(frame), 1))
        names = ["(Intercept)"]
        mspec = MatrixSpec(_InterceptSpec(), (0,), ("(Intercept)",), (0,))
    else:
        summands = _summands(spec.lhs)
        order = ParsedFormula(None, tuple(summands), (), ()).fixed_variables()
        z, names, fspec, perm = build_matrix(summands, frame, order, f"random-effects {spec.text}", functions)
        mspec = MatrixSpec(fspec, tuple(perm), tuple(names), tuple(range(len(names))), functions)
    if z.shape[1] == 0:
        raise DesignError(f"the random-effects term {spec.text} has no columns")
    split = spec.source if spec.split else None
    return RandomTerm(
        group=spec.group_name,
        group_vars=spec.group,
        columns=tuple(names),
        codes=codes,
        levels=levels,
        z=z,
        covariance="unstructured",
        split_from=split,
        expr=spec.text,
        spec=mspec,
    )


def _freeze(*arrays: np.ndarray | None) -> None:
    for a in arrays:
        if a is not None:
            a.setflags(write=False)


def build_design(
    parsed: ParsedFormula,
    data: pd.DataFrame,
    family: Family,
    weights: Any = None,
    offset: Any = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> ModelMatrices:
    """Evaluate a parsed formula on a data frame.

    Rows with missing values in any column the model uses (or in ``weights``/``offset``) are dropped with a
    :class:`~mixbayes.exceptions.MissingDataWarning` that says how many.  ``functions`` are the user's own
    functions that the formula's expressions may call.
    """
    functions = check_functions(functions)
    from ..frames import to_pandas

    data = to_pandas(data)
    if parsed.lhs is None:
        raise DesignError(f"the formula {parsed.text!r} has no response; write 'y ~ ...'")
    columns = [str(c) for c in data.columns]
    if columns != list(data.columns):
        data = data.set_axis(columns, axis=1)
    used = _variables(parsed, columns, functions=functions)
    duplicated = [c for c in used if columns.count(c) > 1]
    if duplicated:
        raise DesignError(f"the data have {columns.count(duplicated[0])} columns called {duplicated[0]!r}; a "
                          "column the model uses must have a unique name (rename or drop the copies)")
    w_all = _vector_arg(weights, data, "weights", functions)
    o_all = _vector_arg(offset, data, "offset", functions)

    missing = data[used].isna().to_numpy()
    complete = ~missing.any(axis=1)
    extra_missing = {}
    for what, vec in (("weights", w_all), ("offset", o_all)):
        if vec is not None:
            bad = ~np.isfinite(vec)
            extra_missing[what] = int((bad & complete).sum())
            complete &= ~bad
    n_dropped = int((~complete).sum())
    dropped_index = data.index[~complete]
    if n_dropped:
        per_col = {c: int(n) for c, n in zip(used, missing.sum(axis=0), strict=True) if n}
        per_col.update({k: v for k, v in extra_missing.items() if v})
        detail = ", ".join(f"{c}: {k}" for c, k in per_col.items())
        if n_dropped == len(data):
            raise EmptyDataError(
                f"no complete rows: all {len(data)} rows have missing values in the columns the model uses "
                f"({detail})"
            )
        warn_user(
            f"dropped {n_dropped} of {len(data)} rows with missing values in the columns the model uses "
            f"({detail}); their index labels are kept in model.dropped_index",
            MissingDataWarning)
    if len(data) == 0:
        raise EmptyDataError("the data frame has no rows")
    frame = _prepare_frame(data.loc[complete, used])
    prior = np.ones(len(frame)) if w_all is None else w_all[complete]
    if np.any(prior < 0):
        raise DesignError("weights must be non-negative")
    if prior.size and float(np.max(prior)) > 1e150:
        raise DesignError(f"weights as large as {float(np.max(prior)):.3g} overflow double precision in the model's "
                          "cross-products; rescale the weights (only their ratios matter for a Gaussian model)")
    if not np.any(prior > 0):
        raise DesignError(f"all {len(prior)} weights are zero: no observation would count (lme4 stops with "
                          "'Downdated VtV is not positive definite'); give positive weights")

    response = build_response(parsed.lhs, frame, family, prior, functions)
    order = parsed.fixed_variables()
    fixed = list(parsed.fixed)
    X_full, names, fspec, perm = build_matrix(fixed, frame, order, "fixed-effects", functions)
    keep = drop_aliased(X_full, names)
    X = np.ascontiguousarray(X_full[:, keep])
    fixed_spec = MatrixSpec(fspec, tuple(perm), tuple(names[j] for j in keep), tuple(keep), functions)
    dropped = tuple(n for j, n in enumerate(names) if j not in keep)

    off = np.zeros(len(frame)) if o_all is None else o_all[complete].copy()
    for text in parsed.offsets:
        off = off + evaluate(text, frame, "offset", functions)

    terms = [_random_term(spec, frame, functions) for spec in parsed.random]
    _check_repeated_terms(terms)
    ordered = [terms[i] for i in lme4_term_order([t.n_levels for t in terms])]
    final: list[RandomTerm] = []
    offset_theta = 0
    for t in ordered:
        final.append(_with_offset(t, offset_theta))
        offset_theta += t.n_theta
    for t in final:
        _freeze(t.codes, t.z)
    _freeze(response.y, X, response.weights, off, response.trials, response.successes)
    return ModelMatrices(
        y=response.y,
        X=X,
        fixef_names=fixed_spec.names,
        dropped_fixef=dropped,
        weights=response.weights,
        offset=off,
        terms=tuple(final),
        family=family,
        trials=response.trials,
        successes=response.successes,
        response_name=response.name,
        row_index=frame.index,
        dropped_index=dropped_index,
        formula=parsed,
        fixed_spec=fixed_spec,
        has_prior_weights=w_all is not None,
        frame=frame,
        predictor_vars=tuple(_variables(parsed, columns, include_response=False, functions=functions)),
        functions=functions,
    )


def _check_repeated_terms(terms: list[RandomTerm]) -> None:
    """A random-effects term given twice is an error; a column repeated over one grouping factor is a warning.

    Two copies of ``(1 | g)`` have one variance between them, so their split is not identified: lme4 fits it
    silently (with a degenerate-Hessian warning) and reports an arbitrary split, which is never what was meant.
    """
    seen: dict[tuple[Any, ...], str] = {}
    for t in terms:
        key = (tuple(t.group_vars), tuple(t.columns))
        if key in seen:
            raise DesignError(
                f"the random-effects term {t.expr} is given twice (also as {seen[key]}): two copies share one "
                "variance, so their standard deviations are not identified; remove one")
        seen[key] = t.expr
    for i, a in enumerate(terms):
        for b in terms[i + 1:]:
            shared = [c for c in a.columns if c in b.columns]
            if tuple(a.group_vars) == tuple(b.group_vars) and shared:
                warn_user(
                    f"the random-effects terms {a.expr} and {b.expr} both give {', '.join(shared)} a variance over "
                    f"{a.group}: the two variances are not separately identified. Remedy: keep {', '.join(shared)} "
                    "in one of them (e.g. (0 + x | g) for a slope alone)", DesignWarning)


def _with_offset(term: RandomTerm, offset: int) -> RandomTerm:
    from dataclasses import replace

    return replace(term, theta_offset=offset)


def describe_lhs(spec: RandomSpec) -> str:
    return render(spec.lhs)
