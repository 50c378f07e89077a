"""The marginal likelihood of a Gaussian LMM through the blocked Cholesky factor, from the Gram blocks alone.

With the random effects split as in :mod:`mixbayes.bayes.gram` (a block factor Z1 with J levels of Q1 columns,
the other terms Z2 with Q2 columns), Lambda = diag(Lambda1, Lambda2) the relative covariance factor and
r = y - X beta (y minus offset),

    A = Lambda' Z'WZ Lambda + I = [[A11, A12], [A21, A22]] = L L',   L = [[L11, 0], [L21, L22]]

* A11 = Lambda1' Z1'WZ1 Lambda1 + I is block-diagonal (one Q1 x Q1 block per level): its Cholesky factor L11 is
  unrolled into elementwise operations over the levels, as in the block form;
* the Schur complement S = A22 - A21 A11^-1 A12 = Lambda2' (Z2'WZ2 - sum_j G_j M_j G_j') Lambda2 + I, with
  G_j = Z2'WZ1_j and M_j = Lambda1 A11_j^-1 Lambda1' (Q1 x Q1), is dense and factored by Cholesky: S = L22 L22'.
  The sum over levels is a gather-multiply-scatter over the non-zero products of G (``"scatter"``) or one
  matrix product (``"dense"``), whichever is cheaper for the design.

With c = Lambda' Z'W r, w1 = L11^-1 c1 and w2 = L22^-1 (c2 - A21 A11^-1 c1),

    log p(y | beta, Lambda, sigma) = -1/2 [n log(2 pi sigma^2) - sum log W + log|A| + (r'Wr - |w1|^2 - |w2|^2)
                                           / sigma^2],   log|A| = sum_j log|A11_j| + log|S|

where r'Wr = y'Wy - 2 beta'X'Wy + beta'X'WX beta and Z'Wr = Z'Wy - Z'WX beta: only cross-products of the data
enter (:func:`schur_loglik`).  The spherical effects are drawn from their conditional N(A^-1 c, sigma^2 A^-1) as
u = L^-T (w + sigma eps): u2 = L22^-T t2, then u1 = L11^-T (t1 - L11^-1 A12 u2), level by level.

:func:`schur_loglik` is the entry point for callers that bring their own blocks (e.g. reduced out of core):
it takes a :class:`~mixbayes.bayes.gram.GramBlocks` and works on NumPy values or PyTensor variables alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg as sla

from ..design.matrices import ModelMatrices
from .gram import GramBlocks, GramLayout, RowData, gram_layout
from .marginal import LOG_2PI, _backward, _chol, _forward, _lambda_entries, _quadratic_pieces
from .schur_ops import _ops, _sandwich, _sparse_matvec, _TensorOps

__all__ = ["SchurMarginal", "SchurPlan", "schur_draw", "schur_loglik", "schur_loglik_draws", "schur_plan"]


# ---- the constant structure of the Schur update ----------------------------------------------------------------

@dataclass(frozen=True)
class SchurPlan:
    """How sum_j G_j M_j G_j' is computed for a design (constant arrays derived from ``Z2Z1``).

    kind : ``"scatter"`` (entries: target position u Q2 + v in the lower triangle, source position in the stacked
        (Q1 Q1 J) M, product coefficient) or ``"dense"``: G's distinct level blocks as a dense (K, Q2, Q1) array
        and ``merge`` (K, J), the indicator of the levels sharing each block.  Levels with identical blocks
        (a balanced or counterbalanced design has few distinct ones) are merged: sum_j G_j M_j G_j' =
        sum_k G_k (sum_{j in k} M_j) G_k'.  When every level's block is distinct, ``G`` holds them in level
        order and ``merge`` is None (no (J, J) identity product).
    """

    kind: str
    target: np.ndarray | None = None
    source: np.ndarray | None = None
    coef: np.ndarray | None = None
    G: np.ndarray | None = None
    merge: np.ndarray | None = None

    @property
    def entries(self) -> int:
        return 0 if self.coef is None else len(self.coef)


def scatter_entries(blocks_or_G: Any, layout: GramLayout) -> int:
    """Number of non-zero products G_j[u, a] G_j[v, b] (u >= v) over the levels: the scatter form's size."""
    G = blocks_or_G.tocsc()
    J, Q1 = layout.J, layout.Q1
    nnz_rows = np.zeros(J, dtype=np.int64)
    for j in range(J):
        sub = G[:, j * Q1 : (j + 1) * Q1]
        nnz_rows[j] = len(np.unique(sub.indices))
    return int(np.sum(nnz_rows * (nnz_rows + 1) // 2) * Q1 * Q1)


def schur_plan(blocks: GramBlocks, kind: str | None = None) -> SchurPlan:
    """The cheaper way to form the Schur update for these blocks (see :func:`schur_update_costs`), or ``kind``
    (``"dense"`` or ``"scatter"``)."""
    layout = blocks.layout
    J, Q1, Q2 = layout.J, layout.Q1, layout.Q2
    if kind is None:
        dense_cost, scatter_cost = schur_update_costs(layout, scatter_entries(blocks.Z2Z1, layout),
                                                      distinct_blocks(blocks.Z2Z1, layout))
        kind = "dense" if dense_cost <= scatter_cost else "scatter"
    if kind == "dense":
        G = np.asarray(blocks.Z2Z1.toarray()).reshape(Q2, J, Q1).transpose(1, 0, 2)
        Gu, inverse = np.unique(G.reshape(J, -1), axis=0, return_inverse=True)
        if len(Gu) == J:
            return SchurPlan("dense", G=np.ascontiguousarray(G), merge=None)
        merge = np.zeros((len(Gu), J))
        merge[np.asarray(inverse).ravel(), np.arange(J)] = 1.0
        return SchurPlan("dense", G=Gu.reshape(len(Gu), Q2, Q1), merge=merge)
    G = blocks.Z2Z1.tocsc()
    tgt, src, coef = [], [], []
    for j in range(J):
        sub = G[:, j * Q1 : (j + 1) * Q1].toarray()  # (Q2, Q1)
        rows = np.flatnonzero(np.any(sub != 0, axis=1))
        if not len(rows):
            continue
        iu, iv = np.tril_indices(len(rows))
        u, v = rows[iu], rows[iv]
        for a in range(Q1):
            for b in range(Q1):
                c = sub[u, a] * sub[v, b]
                keep = c != 0
                tgt.append(u[keep] * Q2 + v[keep])
                src.append(np.full(int(keep.sum()), (a * Q1 + b) * J + j))
                coef.append(c[keep])
    return SchurPlan("scatter", np.concatenate(tgt), np.concatenate(src), np.concatenate(coef))


def distinct_blocks(G: Any, layout: GramLayout) -> int:
    """Number of distinct level blocks G_j (Q2 x Q1) of Z2'WZ1."""
    J, Q1, Q2 = layout.J, layout.Q1, layout.Q2
    if Q2 * J * Q1 > 50_000_000:
        return J
    dense = np.asarray(G.toarray()).reshape(Q2, J, Q1).transpose(1, 0, 2).reshape(J, -1)
    return len(np.unique(dense, axis=0))


def schur_update_costs(layout: GramLayout, entries: int, distinct: int) -> tuple[float, float]:
    """Estimated cost (flop equivalents) of the Schur update: (dense matrix product over the ``distinct`` level
    blocks, scatter of the ``entries`` non-zero products)."""
    J, Q1, Q2 = layout.J, layout.Q1, layout.Q2
    merge = 0.0 if distinct == J else 2.0 * J * Q1 * Q1 * distinct  # no merge product when all blocks differ
    return 2.0 * Q2 * Q2 * distinct * Q1 + 2.0 * distinct * Q2 * Q1 * Q1 + merge, 8.0 * entries


# ---- the likelihood ---------------------------------------------------------------------------------------------

def _pieces(blocks: GramBlocks, plan: SchurPlan, beta: Any, T: Sequence[Any], ops: Any) -> dict[str, Any]:
    lay = blocks.layout
    J, Q1, Q2 = lay.J, lay.Q1, lay.Q2
    if beta is None:
        z1r, z2r = blocks.Z1y, blocks.Z2y
    else:
        z1r = blocks.Z1y - ops.tensordot(blocks.Z1X, beta, axes=[[2], [0]])
        z2r = blocks.Z2y - ops.dot(blocks.Z2X, beta)
    lam = _lambda_entries([T[k] for k in lay.block_terms], lay.block_sizes)
    A, c1 = _quadratic_pieces(lam, blocks.Z1Z1, [z1r[:, a] for a in range(Q1)], 1.0)
    L1 = _chol(A, ops.sqrt)
    w1 = _forward(L1, c1)
    # M_j = Lambda1 A_j^-1 Lambda1' = X'X with X = L1^-1 Lambda1'
    X = [_forward(L1, [lam[e][a] if lam[e][a] is not None else 0.0 for a in range(Q1)]) for e in range(Q1)]
    M = [[sum(X[e][a] * X[f][a] for a in range(Q1)) for f in range(Q1)] for e in range(Q1)]
    Mflat = ops.stack([M[e][f] + 0.0 * c1[0] for e in range(Q1) for f in range(Q1)], axis=0)  # (Q1 Q1, J)
    if plan.kind == "dense":
        K = plan.G.shape[0]
        Mk = (Mflat.T if plan.merge is None else ops.dot(plan.merge, Mflat.T)).reshape((K, Q1, Q1))  # summed over
        # the levels sharing a block
        H = ops.matmul(plan.G, Mk)  # (K, Q2, Q1)
        P = ops.tensordot(H, plan.G, axes=[[0, 2], [0, 2]])
    else:
        low = ops.scatter(Q2 * Q2, plan.target, plan.coef * Mflat.reshape((-1,))[plan.source]).reshape((Q2, Q2))
        P = low + low.T - low * np.eye(Q2)
    T2 = [T[k] for k in lay.schur_terms]
    S = _sandwich(blocks.Z2Z2 - P, lay, T2, ops) + np.eye(Q2)
    # c2 - A21 A11^-1 c1 = Lambda2' (Z2'Wr - sum_j G_j M_j Z1'Wr_j); M_j Z1'Wr_j = Lambda1 L1^-T w1
    t1 = _backward(L1, w1)
    h = [sum(lam[e][a] * t1[a] for a in range(Q1) if lam[e][a] is not None) for e in range(Q1)]
    hflat = ops.stack(h, axis=1).reshape((J * Q1,))
    c2pre = z2r - _sparse_matvec(blocks.Z2Z1, hflat, ops)
    off = lay.schur_offsets
    c2 = ops.concatenate([ops.dot(c2pre[off[k] : off[k + 1]].reshape((lv, q)), T2[k]).reshape((lv * q,))
                          for k, (lv, q) in enumerate(lay.schur_shapes)])
    L2 = ops.chol(S)
    w2 = ops.solve_lower(L2, c2)
    return {"L1": L1, "w1": w1, "lam": lam, "L2": L2, "w2": w2, "T2": T2}


def _tensor_pieces(blocks: GramBlocks, plan: SchurPlan, beta: Any, T: Sequence[Any]) -> dict[str, Any]:
    """As :func:`_pieces` in PyTensor with batched operations over the levels of the block factor: one batched
    Cholesky factorisation and one batched triangular solve of the J small blocks (a few kernels in the compiled
    gradient, where the unrolled form of :func:`_pieces` made hundreds)."""
    import pytensor.tensor as pt
    from pytensor.tensor import linalg

    from .logdet_op import logdet_quad

    lay = blocks.layout
    J, Q1, Q2 = lay.J, lay.Q1, lay.Q2
    if beta is None:
        z1r, z2r = blocks.Z1y, blocks.Z2y
    else:
        z1r = blocks.Z1y - pt.tensordot(blocks.Z1X, beta, axes=[[2], [0]])
        z2r = blocks.Z2y - pt.dot(blocks.Z2X, beta)
    T1 = [T[k] for k in lay.block_terms]
    if len(T1) == 1:
        lam = T1[0]
    else:
        lam = pt.zeros((Q1, Q1))
        pos = 0
        for Tk, q in zip(T1, lay.block_sizes, strict=True):
            lam = pt.set_subtensor(lam[pos : pos + q, pos : pos + q], Tk)
            pos += q
    # A_j = Lambda1' C_j Lambda1 + I, C_j = Z1'WZ1_j: (J, Q1, Q1)
    CL = pt.tensordot(blocks.Z1Z1, lam, axes=[[2], [0]])  # (j, a, c)
    A = pt.tensordot(lam, CL, axes=[[0], [1]]).transpose(1, 0, 2) + np.eye(Q1)
    L1 = linalg.cholesky(A, lower=True)
    c1 = pt.dot(z1r, lam)  # (J, Q1): Lambda1' Z1'Wr_j
    rhs = pt.concatenate([c1[:, :, None], pt.broadcast_to(lam.T, (J, Q1, Q1))], axis=2)
    sol = linalg.solve_triangular(L1, rhs, lower=True)  # [w1_j, L1_j^-1 Lambda1']
    w1, Xm = sol[:, :, 0], sol[:, :, 1:]
    M = pt.matmul(Xm.transpose(0, 2, 1), Xm)  # M_j = Lambda1 A_j^-1 Lambda1'
    if plan.kind == "dense":
        K = plan.G.shape[0]
        Mk = M if plan.merge is None else pt.dot(plan.merge, M.reshape((J, Q1 * Q1))).reshape((K, Q1, Q1))
        H = pt.matmul(plan.G, Mk)  # (K, Q2, Q1)
        P = pt.tensordot(H, plan.G, axes=[[0, 2], [0, 2]])
    else:
        Mflat = M.transpose(1, 2, 0).reshape((-1,))
        low = pt.inc_subtensor(pt.zeros(Q2 * Q2)[plan.target], plan.coef * Mflat[plan.source]).reshape((Q2, Q2))
        P = low + low.T - low * np.eye(Q2)
    T2 = [T[k] for k in lay.schur_terms]
    ops = _TensorOps()
    S = _sandwich(blocks.Z2Z2 - P, lay, T2, ops) + np.eye(Q2)
    # c2 - A21 A11^-1 c1 = Lambda2' (Z2'Wr - sum_j G_j M_j Z1'Wr_j)
    h = (M * z1r[:, None, :]).sum(axis=2).reshape((J * Q1,))
    c2pre = z2r - _sparse_matvec(blocks.Z2Z1, h, ops)
    off = lay.schur_offsets
    c2 = pt.concatenate([pt.dot(c2pre[off[k] : off[k + 1]].reshape((lv, q)), T2[k]).reshape((lv * q,))
                         for k, (lv, q) in enumerate(lay.schur_shapes)])
    logdet2, w2sq = logdet_quad(S, c2)
    logdet1 = 2.0 * pt.sum(pt.log(pt.diagonal(L1, axis1=1, axis2=2)))
    return {"logdet": logdet1 + logdet2, "wsq": pt.sum(w1 * w1) + w2sq}


def schur_loglik(blocks: GramBlocks, beta: Any, sigma: Any, T: Sequence[Any], plan: SchurPlan | None = None,
                 backend: str = "pytensor") -> Any:
    """The marginal log-likelihood log p(y | beta, Lambda, sigma) of a Gaussian LMM from its Gram blocks.

    Parameters
    ----------
    blocks : the cross-products (:class:`~mixbayes.bayes.gram.GramBlocks`; weights folded in, offset subtracted
        from y, X as the caller parameterises beta).
    beta : (p,) fixed effects (NumPy array or PyTensor vector), or None when X has no columns.
    sigma : residual SD (scalar).
    T : per random-effects term, in the model's order, the lower-triangular relative factor L_k / sigma
        (q_k x q_k), with L_k the Cholesky factor of the term's covariance.
    plan : the Schur update's plan (:func:`schur_plan`), computed from ``blocks`` when None.
    backend : ``"pytensor"`` (a symbolic scalar, differentiable, for every sampler) or ``"numpy"``.
    """
    ops = _ops(backend)
    plan = schur_plan(blocks) if plan is None else plan
    if backend == "numpy":
        pc = _pieces(blocks, plan, beta, T, ops)
        L1, w1, L2, w2 = pc["L1"], pc["w1"], pc["L2"], pc["w2"]
        Q1 = blocks.layout.Q1
        logdet = ops.sum(sum(2.0 * ops.log(L1[a][a]) for a in range(Q1))) + 2.0 * ops.sum(ops.log(ops.diag(L2)))
        wsq = ops.sum(sum(wa * wa for wa in w1)) + ops.sum(w2 * w2)
    else:
        pc = _tensor_pieces(blocks, plan, beta, T)
        logdet, wsq = pc["logdet"], pc["wsq"]
    rwr = blocks.yy
    if beta is not None:
        rwr = rwr - 2.0 * ops.dot(beta, blocks.Xy) + ops.dot(beta, ops.dot(blocks.XX, beta))
    quad = rwr - wsq
    s2 = sigma * sigma
    return -0.5 * (blocks.n * (LOG_2PI + ops.log(s2)) - blocks.sum_logw + logdet + quad / s2)


# ---- NumPy, vectorised over draws (post-processing) --------------------------------------------------------------

def _tri_solve(L: np.ndarray, b: np.ndarray, trans: bool = False) -> np.ndarray:
    """Solve L x = b (or L' x = b) for stacked lower-triangular L (S, m, m) and b (S, m)."""
    return np.stack([sla.solve_triangular(L[s], b[s], lower=True, trans="T" if trans else "N")
                     for s in range(len(L))])


def _batched_pieces(blocks: GramBlocks, plan: SchurPlan, beta: np.ndarray | None, T: Sequence[np.ndarray]
                    ) -> dict[str, Any]:
    """As :func:`_pieces` for S draws at once: beta (S, p) or None, T[k] (S, q, q)."""
    lay = blocks.layout
    J, Q1, Q2 = lay.J, lay.Q1, lay.Q2
    S = T[0].shape[0]
    z1r = np.broadcast_to(blocks.Z1y, (S, J, Q1))
    z2r = np.broadcast_to(blocks.Z2y, (S, Q2))
    if beta is not None:
        z1r = z1r - np.einsum("jap,sp->sja", blocks.Z1X, beta)
        z2r = z2r - beta @ blocks.Z2X.T
    lam = _lambda_entries([T[k][:, None] for k in lay.block_terms], lay.block_sizes)  # entries (S, 1)
    A, c1 = _quadratic_pieces(lam, blocks.Z1Z1, [z1r[..., a] for a in range(Q1)], np.ones((1, 1)))
    L1 = _chol(A, np.sqrt)
    w1 = _forward(L1, c1)
    X = [_forward(L1, [lam[e][a] if lam[e][a] is not None else 0.0 for a in range(Q1)]) for e in range(Q1)]
    zero = np.zeros((S, J))
    Mj = np.stack([np.stack([sum(X[e][a] * X[f][a] for a in range(Q1)) + zero for f in range(Q1)], axis=-1)
                   for e in range(Q1)], axis=-2)  # (S, J, Q1, Q1)
    if plan.kind == "dense":
        Mk = Mj if plan.merge is None else np.einsum("kj,sjab->skab", plan.merge, Mj)
        P = np.einsum("kua,skab,kvb->suv", plan.G, Mk, plan.G, optimize=True)
    else:
        Mflat = Mj.transpose(0, 2, 3, 1).reshape(S, -1)
        index = (np.arange(S)[:, None] * (Q2 * Q2) + plan.target[None, :]).ravel()
        low = np.bincount(index, weights=(plan.coef[None, :] * Mflat[:, plan.source]).ravel(),
                          minlength=S * Q2 * Q2).reshape(S, Q2, Q2)
        P = low + np.swapaxes(low, 1, 2) - low * np.eye(Q2)
    inner = blocks.Z2Z2[None] - P
    off, shapes = lay.schur_offsets, lay.schur_shapes
    T2 = [T[k] for k in lay.schur_terms]
    Smat = np.empty((S, Q2, Q2))
    for a_, (ls, qs) in enumerate(shapes):
        for b_, (lt, qt) in enumerate(shapes):
            B = inner[:, off[a_] : off[a_ + 1], off[b_] : off[b_ + 1]].reshape(S, ls, qs, lt, qt)
            full = np.einsum("sca,slcmd,sdb->slamb", T2[a_], B, T2[b_], optimize=True)
            Smat[:, off[a_] : off[a_ + 1], off[b_] : off[b_ + 1]] = full.reshape(S, ls * qs, lt * qt)
    Smat += np.eye(Q2)
    t1 = _backward(L1, w1)
    h = np.stack([sum(lam[e][a] * t1[a] for a in range(Q1) if lam[e][a] is not None) + zero for e in range(Q1)],
                 axis=-1).reshape(S, J * Q1)
    c2pre = z2r - np.asarray(blocks.Z2Z1 @ h.T).T
    c2 = np.concatenate([np.einsum("slc,sca->sla", c2pre[:, off[k] : off[k + 1]].reshape(S, lv, q), T2[k])
                         .reshape(S, lv * q) for k, (lv, q) in enumerate(shapes)], axis=1)
    L2 = np.linalg.cholesky(Smat)
    w2 = _tri_solve(L2, c2)
    return {"L1": L1, "w1": w1, "lam": lam, "L2": L2, "w2": w2, "T2": T2, "zero": zero}


def schur_loglik_draws(blocks: GramBlocks, beta: np.ndarray | None, sigma: np.ndarray, T: Sequence[np.ndarray],
                       plan: SchurPlan) -> np.ndarray:
    """:func:`schur_loglik` for S draws at once (NumPy): beta (S, p) or None, sigma (S,), T[k] (S, q, q)."""
    pc = _batched_pieces(blocks, plan, beta, T)
    L1, w1, L2, w2 = pc["L1"], pc["w1"], pc["L2"], pc["w2"]
    Q1 = blocks.layout.Q1
    logdet = (np.sum(sum(2.0 * np.log(L1[a][a]) for a in range(Q1)), axis=1)
              + 2.0 * np.sum(np.log(np.diagonal(L2, axis1=1, axis2=2)), axis=1))
    rwr = np.full(len(sigma), float(blocks.yy))
    if beta is not None:
        rwr = rwr - 2.0 * beta @ blocks.Xy + np.einsum("sp,pq,sq->s", beta, blocks.XX, beta)
    quad = rwr - np.sum(sum(wa * wa for wa in w1), axis=1) - np.sum(w2 * w2, axis=1)
    s2 = sigma * sigma
    return -0.5 * (blocks.n * (LOG_2PI + np.log(s2)) - blocks.sum_logw + logdet + quad / s2)


def schur_draw(blocks: GramBlocks, beta: np.ndarray | None, sigma: np.ndarray, T: Sequence[np.ndarray],
               rng: np.random.Generator, plan: SchurPlan) -> list[np.ndarray]:
    """Random effects b per term (model order, (S, levels, q) each) from their exact conditional, for S draws
    of beta (S, p) or None, sigma (S,) and T[k] (S, q, q)."""
    lay = blocks.layout
    pc = _batched_pieces(blocks, plan, beta, T)
    L1, w1, lam, L2, w2, T2, zero = pc["L1"], pc["w1"], pc["lam"], pc["L2"], pc["w2"], pc["T2"], pc["zero"]
    J, Q1, Q2 = lay.J, lay.Q1, lay.Q2
    S = len(sigma)
    u2 = _tri_solve(L2, w2 + sigma[:, None] * rng.standard_normal((S, Q2)), trans=True)
    off = lay.schur_offsets
    out: list[Any] = [None] * (max(lay.block_terms + lay.schur_terms) + 1)  # None: a term sampled (partial form)
    b2 = []
    for k, (lv, q) in enumerate(lay.schur_shapes):
        bk = np.einsum("slc,sac->sla", u2[:, off[k] : off[k + 1]].reshape(S, lv, q), T2[k])
        out[lay.schur_terms[k]] = bk
        b2.append(bk.reshape(S, -1))
    g = np.asarray(blocks.Z2Z1.T @ np.concatenate(b2, axis=1).T).T.reshape(S, J, Q1)
    e = [sum(lam[c][a] * g[..., c] for c in range(Q1) if lam[c][a] is not None) + zero for a in range(Q1)]
    f = _forward(L1, e)
    eps = rng.standard_normal((Q1, S, J))
    u1 = np.stack(_backward(L1, [w1[a] + sigma[:, None] * eps[a] - f[a] for a in range(Q1)]), axis=-1)
    pos = 0
    for k, q in zip(lay.block_terms, lay.block_sizes, strict=True):
        out[k] = np.einsum("sjc,sac->sja", u1[..., pos : pos + q], T[k])
        pos += q
    return out


# ---- the helper the builder uses ------------------------------------------------------------------------------

def block_factor(design: ModelMatrices, max_q: int) -> str | None:
    """The block factor: the grouping factor with the most levels whose terms have at most ``max_q`` columns
    in all (None when no factor qualifies or there is a single factor)."""
    groups: dict[str, list[int]] = {}
    for t in design.terms:
        groups.setdefault(t.group, []).append(t.q)
    if len(groups) < 2:
        return None
    levels = {t.group: t.n_levels for t in design.terms}
    fits = [g for g, qs in groups.items() if sum(qs) <= max_q]
    return max(fits, key=lambda g: levels[g]) if fits else None


def design_rows(design: ModelMatrices, rows: np.ndarray, X: np.ndarray, group: str,
                exclude: Sequence[int] = ()) -> RowData:
    """The :class:`~mixbayes.bayes.gram.RowData` of a design's rows ``rows`` with block factor ``group`` (the terms
    in ``exclude`` left out: the partial form samples them)."""
    layout = gram_layout(design.terms, group, exclude)
    terms = design.terms
    codes = np.asarray(terms[layout.block_terms[0]].codes)[rows]
    Z1 = np.hstack([np.asarray(terms[k].z, dtype=float) for k in layout.block_terms])[rows]
    Zc = design.Z.tocsc()
    Gp = [int(v) for v in design.Gp]
    from scipy import sparse

    Z2 = sparse.hstack([Zc[:, Gp[k] : Gp[k + 1]] for k in layout.schur_terms]).tocsr()[rows]
    w = np.asarray(design.weights, dtype=float)[rows]
    return RowData(layout=layout, codes=codes, Z1=Z1, Z2=Z2, X=X, w=w)


class SchurMarginal:
    """Marginal likelihood through the blocked factor (block factor + dense Schur complement) for the builder.

    Parameters
    ----------
    design : the design (Gaussian, identity link, at least two grouping factors).
    rows : boolean mask of the observations in the likelihood; X : their (centred) fixed-effects columns.
    group : the block factor (default: :func:`block_factor`).
    exclude : terms left out (the partial form samples them; the response then excludes their effects).
    """

    form = "schur"

    def __init__(self, design: ModelMatrices, rows: np.ndarray, X: np.ndarray, group: str | None = None,
                 max_q: int = 6, exclude: Sequence[int] = ()) -> None:
        group = group or block_factor(design, max_q)
        if group is None:
            raise ValueError("the blocked-Schur form needs a block factor and at least one other factor")
        self.data = design_rows(design, rows, X, group, exclude)
        self.beta_columns: list[int] | None = None  # partial form: the fixed effects in X (the rest absorbed)
        self.layout = self.data.layout
        self.plan = schur_plan(self.data.design)
        self.p = self.data.X.shape[1]

    @property
    def width(self) -> int:
        """Array elements per draw in the NumPy computations (to size chunks of draws)."""
        lay = self.layout
        return 4 * lay.Q2 ** 2 + lay.J * lay.Q1 * (lay.Q2 + 4 * lay.Q1) + self.plan.entries

    def graph(self, y: Any, beta: Any, sigma: Any, T: Sequence[Any]) -> Any:
        """Total marginal log-likelihood (scalar) as a PyTensor expression; ``y`` the response minus offset."""
        import pytensor.tensor as pt

        blocks = self.data.response_blocks(y, pt)
        return schur_loglik(blocks, beta if self.p else None, sigma, T, self.plan)

    def blocks(self, y: np.ndarray) -> GramBlocks:
        return self.data.response_blocks(np.asarray(y, dtype=float), np)

    def _chunks(self, S: int) -> list[slice]:
        step = max(1, 4_000_000 // max(self.width, 1))
        return [slice(a, min(S, a + step)) for a in range(0, S, step)]

    def loglik(self, y: np.ndarray, beta: np.ndarray, sigma: np.ndarray, T: Sequence[np.ndarray]) -> np.ndarray:
        """Marginal log-likelihood per draw, (S,): beta (S, p), sigma (S,), T[k] (S, q, q)."""
        blocks = self.blocks(y)
        return np.concatenate([schur_loglik_draws(blocks, beta[sl] if self.p else None, sigma[sl],
                                                  [t[sl] for t in T], self.plan) for sl in self._chunks(len(sigma))])

    def draw(self, y: np.ndarray, beta: np.ndarray, sigma: np.ndarray, T: Sequence[np.ndarray],
             rng: np.random.Generator) -> list[np.ndarray | None]:
        """Random effects b per term, (S, levels, q), drawn from their exact conditional distribution (None for a
        term left out)."""
        blocks = self.blocks(y)
        parts = [schur_draw(blocks, beta[sl] if self.p else None, sigma[sl], [t[sl] for t in T], rng, self.plan)
                 for sl in self._chunks(len(sigma))]
        return [None if parts[0][k] is None else np.concatenate([p[k] for p in parts])
                for k in range(len(parts[0]))]
