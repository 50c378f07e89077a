"""The Bayesian fit of a Gaussian LMM on out-of-core data (Dask, Parquet), from the summed cross-product blocks.

A model built from Dask data holds no rows: its design (:class:`~mixbayes.outofcore.design.BlockDesign`) carries
the blocks of A = [Z X y]'W[Z X y] summed over the partitions.  The marginal likelihood of the blocked-Schur form
(:func:`mixbayes.bayes.schur.schur_loglik`) is a function of those blocks alone, and the random effects are drawn
afterwards from their exact conditional distribution (:func:`mixbayes.bayes.schur.schur_draw`), also from the
blocks.  So NUTS runs on the blocks and never reads a row: the posterior costs what the in-memory blocked-Schur
posterior of the same number of random effects costs.

* :func:`gram_blocks` turns the engine's blocks (:class:`~mixbayes.likelihood.crossprod.CrossProducts`, first
  term block-diagonal) into :class:`~mixbayes.bayes.gram.GramBlocks` with the fixed-effects columns centred as the
  builder centres them;
* :class:`GramSchurMarginal` is the builder's marginal likelihood; the "observed data" the sampler receives are
  the response cross-products (Z1'Wy, Z2'Wy, X'Wy, y'Wy), the sufficient statistics;
* :func:`moment_design` gives the default priors the column means and SDs they need;
* :class:`~mixbayes.bayes.dask_fit.DaskBayesFit` refuses what needs the rows (per-observation log-likelihood,
  LOO, WAIC, posterior predictive draws per row) with :class:`~mixbayes.outofcore.design.DaskDataNotSupportedError`.

The random effects' block factor must be the first term (the grouping factor with the most levels, lme4's
order), with at most :data:`~mixbayes.bayes.marginal.BLOCK_MAX_Q` columns and no other term of the same factor;
the other terms form the dense Schur complement (at most :data:`~mixbayes.bayes.forms.DENSE_LIMIT` effects).
A model with one grouping factor has an empty Schur part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from scipy import sparse

from ..design.matrices import ModelMatrices
from .forms import DENSE_LIMIT, GRADIENT_OVERHEAD, FormChoice
from .gram import GramBlocks, gram_layout
from .marginal import BLOCK_MAX_Q
from .schur import SchurMarginal, schur_plan

__all__ = ["GramSchurMarginal", "blocks_form", "gram_blocks", "moment_design", "refusal"]


def refusal(message: str) -> Exception:
    from ..outofcore.design import DaskDataNotSupportedError

    return DaskDataNotSupportedError(message)


def _block_group(design: ModelMatrices) -> str:
    """The block factor of the Gram form: the first term's grouping factor (most levels)."""
    terms = design.terms
    first = terms[0]
    same = [t for t in terms if t.group == first.group]
    if len(same) > 1 or first.q > BLOCK_MAX_Q:
        raise refusal(
            f"the Bayesian fit of Dask data needs the grouping factor with the most levels ({first.group!r}) to "
            f"have one random-effects term of at most {BLOCK_MAX_Q} columns (it has {len(same)} term(s), "
            f"{sum(t.q for t in same)} columns); combine its terms into one (e.g. (1 + x | g)), or fit by REML")
    q2 = sum(t.n_random for t in terms[1:])
    if q2 > DENSE_LIMIT:
        raise refusal(
            f"the Bayesian fit of Dask data integrates out the random effects of the factors other than "
            f"{first.group!r} in a dense Schur complement, limited to {DENSE_LIMIT} effects; this model has {q2}. "
            "Fit by REML, or sample an in-memory sample of the data (the non-centred form needs the rows)")
    return first.group


def blocks_form(design: ModelMatrices, marginalize: bool | str | None) -> FormChoice:
    """The form sampled for out-of-core data: always the blocked-Schur form from the blocks.

    Raises
    ------
    DaskDataNotSupportedError
        For ``marginalize=False`` / ``"noncentred"`` / ``"block"`` / ``"dense"`` / ``"partial"`` (they need the
        rows), for a non-Gaussian model, or for a design the Gram form cannot hold (see the module notes).
    """
    from ..exceptions import NotSupportedError

    fam = design.family
    if not fam.is_lmm:
        raise refusal("the Bayesian fit of Dask data is available for Gaussian models with the identity link only")
    if marginalize is False or marginalize in ("noncentred", "block", "dense", "partial"):
        raise refusal(
            f"marginalize={marginalize!r} needs the rows in memory (the non-centred and partial forms evaluate "
            "every observation at each step; the block and dense forms are built from rows); with Dask data the "
            "posterior is sampled from the summed blocks: use marginalize=None, True or 'schur'")
    if marginalize not in (None, True, "schur"):
        raise NotSupportedError(f"marginalize must be None, True, False or a form's name, not {marginalize!r}")
    group = _block_group(design)
    lay = gram_layout(design.terms, group)
    n, p = design.n_obs, design.n_fixef
    nnz = n * sum(t.q for t in design.terms)
    q2max = max((q for _, q in lay.schur_shapes), default=0)
    # as forms.form_costs' schur cost without the rows' 2 (nnz + n p); the Schur update as a dense product
    cost = (GRADIENT_OVERHEAD + 2.0 * lay.J * lay.Q1 * (lay.Q2 + p + 1) + 4.0 * lay.J * lay.Q1**3
            + 2.0 * lay.Q2**2 * lay.J * lay.Q1 + 3.0 * lay.Q2**3 + 2.0 * lay.Q2**2 * q2max)
    return FormChoice("schur", {"schur": cost, "rows_equivalent": GRADIENT_OVERHEAD + 2.0 * (nnz + n * p)}, group)


def _intercept(design: ModelMatrices) -> int | None:
    blocks = design.blocks  # type: ignore[attr-defined]
    for j, name in enumerate(design.fixef_names):
        if name == "(Intercept)" and blocks.xsum[j] == blocks.n and blocks.xtx[j, j] == blocks.n:
            return j
    return None


def x_means(design: ModelMatrices) -> np.ndarray:
    """The column means the builder subtracts (0 for the intercept, all 0 without an intercept)."""
    blocks = design.blocks  # type: ignore[attr-defined]
    icpt = _intercept(design)
    if icpt is None:
        return np.zeros(design.n_fixef)
    out = blocks.xsum / blocks.n
    out[icpt] = 0.0
    return out


def gram_blocks(design: ModelMatrices, group: str, means: np.ndarray) -> GramBlocks:
    """The :class:`~mixbayes.bayes.gram.GramBlocks` of an out-of-core design, with X centred: X - 1 means'.

    The engine's first term is the block part (Z1), the other terms (in model order, level-major) the Schur part
    (Z2).  Centring uses the intercept column's cross-products (Z'W1 = Z'W x_icpt); ``means`` is zero without
    an intercept.
    """
    src = design.blocks  # type: ignore[attr-defined]
    lay = gram_layout(design.terms, group)
    if lay.block_terms != (0,):
        raise refusal(f"the block factor {group!r} must be the first random-effects term")
    cp = src.cp
    J, Q1, p = lay.J, lay.Q1, design.n_fixef
    m = cp.Arr.shape[0] - p - 1
    Z2Z1 = sparse.csr_matrix(cp.Ar1, shape=(m, J * Q1))
    Z2Z2 = np.array(cp.Arr[:m, :m])
    Z2X, Z2y = np.array(cp.Arr[:m, m : m + p]), np.array(cp.Arr[:m, m + p])
    if m == 0:  # one grouping factor: a placeholder Schur term (1 level, no data) leaves the likelihood unchanged
        lay = replace(lay, schur_terms=(len(design.terms),), schur_shapes=((1, 1),))
        Z2Z1, Z2Z2 = sparse.csr_matrix((1, J * Q1)), np.zeros((1, 1))
        Z2X, Z2y = np.zeros((1, p)), np.zeros(1)
    XX, Xy, yy = np.array(cp.Arr[m : m + p, m : m + p]), np.array(cp.Arr[m : m + p, m + p]), float(cp.Arr[-1, -1])
    Z1X = np.ascontiguousarray(cp.Ax1[:p].T.reshape(J, Q1, p))
    Z1y = np.ascontiguousarray(cp.Ax1[p].reshape(J, Q1))
    icpt = _intercept(design)
    if icpt is not None and np.any(means != 0):
        # (X - 1 m')'W(...) from the uncentred blocks: 1'W v is the intercept column's cross-product with v
        xw1, z1w1, z2w1 = XX[:, icpt].copy(), Z1X[:, :, icpt].copy(), Z2X[:, icpt].copy()
        sw, yw1 = XX[icpt, icpt], Xy[icpt]
        XX = XX - np.outer(xw1, means) - np.outer(means, xw1) + sw * np.outer(means, means)
        Xy = Xy - means * yw1
        Z1X = Z1X - z1w1[:, :, None] * means[None, None, :]
        Z2X = Z2X - np.outer(z2w1, means)
    return GramBlocks(layout=lay, n=float(src.n_pos), sum_logw=float(src.log_w), Z1Z1=np.array(cp.A11), Z2Z1=Z2Z1,
                      Z2Z2=Z2Z2, Z1X=Z1X, Z2X=Z2X, XX=XX, Z1y=Z1y, Z2y=Z2y, Xy=Xy, yy=yy)


class GramSchurMarginal(SchurMarginal):
    """The blocked-Schur marginal likelihood of out-of-core data, from their blocks (no rows).

    ``observed`` (what the sampler takes as its data) is the vector of response cross-products
    [Z1'Wy, Z2'Wy, X'Wy, y'Wy]; :meth:`graph`, :meth:`loglik` and :meth:`draw` take such a vector as ``y``.
    With one grouping factor the Schur part is a placeholder term without data (:func:`gram_blocks`): S = I,
    so it adds nothing to the likelihood; its relative factor is 1 and its draws are dropped.
    """

    form = "schur"

    def __init__(self, blocks: GramBlocks, means: np.ndarray) -> None:  # the blocks replace the rows: no super()
        self.gram = blocks
        self.layout = blocks.layout
        n_terms = len(blocks.layout.block_terms) + len(blocks.layout.schur_terms)
        self.placeholder = max(blocks.layout.schur_terms) == n_terms - 1 and not blocks.Z2Z1.nnz and \
            blocks.layout.schur_shapes == ((1, 1),) and not np.any(blocks.Z2Z2)
        self.plan = schur_plan(blocks, "dense" if self.placeholder else None)
        self.p = blocks.XX.shape[0]
        self.x_means = means
        self.rows = np.zeros(0, dtype=bool)
        self.observed = np.concatenate([np.ravel(blocks.Z1y), np.ravel(blocks.Z2y), np.ravel(blocks.Xy),
                                        [blocks.yy]]).astype(float)

    def _split(self, y: Any) -> tuple[Any, Any, Any, Any]:
        lay = self.layout
        a = lay.J * lay.Q1
        b = a + lay.Q2
        c = b + self.p
        return y[:a].reshape((lay.J, lay.Q1)), y[a:b], y[b:c], y[c]

    def graph(self, y: Any, beta: Any, sigma: Any, T: Sequence[Any]) -> Any:
        """Total marginal log-likelihood as a PyTensor expression of the response cross-products ``y``."""
        from .schur import schur_loglik

        blocks = self.gram.with_response(*self._split(y))
        if self.placeholder:
            import pytensor.tensor as pt

            T = [*T, pt.ones((1, 1))]
        return schur_loglik(blocks, beta if self.p else None, sigma, T, self.plan)

    def _padded(self, T: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [*T, np.ones((len(T[0]), 1, 1))] if self.placeholder else list(T)

    def loglik(self, y: np.ndarray, beta: np.ndarray, sigma: np.ndarray, T: Sequence[np.ndarray]) -> np.ndarray:
        return super().loglik(y, beta, sigma, self._padded(T))

    def draw(self, y: np.ndarray, beta: np.ndarray, sigma: np.ndarray, T: Sequence[np.ndarray],
             rng: np.random.Generator) -> list[np.ndarray]:
        out = super().draw(y, beta, sigma, self._padded(T), rng)
        return out[:-1] if self.placeholder else out

    def blocks(self, y: np.ndarray) -> GramBlocks:
        z1y, z2y, xy, yy = self._split(np.asarray(y, dtype=float))
        return self.gram.with_response(z1y, z2y, xy, float(yy))


def moment_design(design: ModelMatrices) -> ModelMatrices:
    """A two-row stand-in of an out-of-core design for the default priors: each column of y, X and of every
    term's Z has the mean and SD (ddof 1) of the data's column, from the blocks' unweighted sums.

    The default priors (:func:`mixbayes.priors.prior.default_priors`) read only these moments (and the names and
    level tables, kept), so they are those of the same data in memory, to rounding.
    """
    src = design.blocks  # type: ignore[attr-defined]
    n = float(src.n)

    def two(total: np.ndarray, squares: np.ndarray) -> np.ndarray:
        mean = np.asarray(total, dtype=float) / n
        var = np.maximum((np.asarray(squares, dtype=float) - n * mean**2) / max(n - 1.0, 1.0), 0.0)
        d = np.sqrt(var / 2.0)  # m - d, m + d: mean m and SD (ddof 1) d sqrt(2)
        return np.stack([mean - d, mean + d])

    y2 = two(src.ysum, src.yss)
    X2 = two(src.xsum, np.diagonal(src.xtx))
    icpt = _intercept(design)
    if icpt is not None:
        X2[:, icpt] = 1.0
    terms = tuple(replace(t, codes=np.zeros(2, dtype=np.int64), z=two(zs, np.diagonal(zz)))
                  for t, zs, zz in zip(design.terms, src.zsum, src.zz, strict=True))
    return ModelMatrices(**{f: getattr(design, f) for f in ModelMatrices.__dataclass_fields__} | {
        "y": y2, "X": X2, "weights": np.ones(2), "offset": np.zeros(2), "terms": terms})
