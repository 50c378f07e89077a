"""The blocked factor's and the cross-product plan's fast paths against a dense Cholesky of the same system.

For random designs (nested, crossed, random slopes, prior weights) and random theta, the penalised system

    A = [Lambda'Z'WZ Lambda + I, Lambda'Z'WX, Lambda'Z'Wy; ...; y'WZ Lambda, y'WX, y'Wy]

is built densely from the design's model columns and factored by ``numpy.linalg.cholesky``; the blocked factor
(:mod:`mixbayes.likelihood.factor`) must give the same log-determinants, penalised residual sum of squares, solution
(beta, u), unscaled covariance of beta and conditional covariance blocks of u.  The cross-products
(:mod:`mixbayes.likelihood.crossprod`) are checked block by block against the dense products.  Each design runs
through every path of the factor: the dense one (small problems), the sparse one (forced by lowering the size
limits), with and without the Gram-matrix plan and the diagonal leading block.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

import mixbayes as mb
from mixbayes.likelihood import factor as factor_module
from mixbayes.likelihood.crossprod import CrossProductPlan
from mixbayes.likelihood.factor import BlockedFactor

RTOL = 1e-9
# the random crossed designs share level IDs across factors on purpose
pytestmark = pytest.mark.filterwarnings("ignore::mixbayes.DesignWarning")


@pytest.fixture(autouse=True)
def _one_blas_thread() -> Iterator[None]:
    """Small dense factorisations: one BLAS thread (threads only add wake-up latency on a busy machine)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _data(kind: str, rng: np.random.Generator) -> tuple[str, pd.DataFrame]:
    if kind == "nested":  # classes within 20 schools: the school term is diagonal after the class term
        n_school, per_school, per_class = 20, 4, 3
        school = np.repeat(np.arange(n_school), per_school * per_class)
        klass = np.repeat(np.arange(n_school * per_school), per_class)
        formula = "y ~ x + (1 | school) + (1 | school:klass)"
    elif kind == "crossed":  # 100 x 70 levels, incomplete: scalar terms, Gram plan (m >= 64 in the second)
        n = 600
        school = rng.integers(0, 70, n)
        klass = rng.integers(0, 100, n)
        formula = "y ~ x + (1 | school) + (1 | klass)"
    elif kind == "slopes":  # correlated random slopes in both crossed terms (non-scalar rest)
        n = 300
        school = rng.integers(0, 15, n)
        klass = rng.integers(0, 25, n)
        formula = "y ~ x + (x | school) + (x | klass)"
    elif kind == "slopes_first":  # random slopes in the first term, scalar second term
        n = 300
        school = rng.integers(0, 10, n)
        klass = rng.integers(0, 40, n)
        formula = "y ~ x + (1 | school) + (x | klass)"
    else:
        raise AssertionError(kind)
    n = len(school)
    frame = pd.DataFrame({"school": [f"s{v}" for v in school], "klass": [f"c{v}" for v in klass],
                          "x": rng.normal(size=n), "y": rng.normal(size=n) + school * 0.1,
                          "w": rng.uniform(0.5, 2.0, n)})
    return formula, frame


def _dense(design: object, theta: np.ndarray, w: np.ndarray) -> dict[str, object]:
    """The dense reference: Z, Lambda, the factor of A and what follows from it."""
    terms = design.terms  # type: ignore[attr-defined]
    n = design.n_obs  # type: ignore[attr-defined]
    blocks_z, blocks_l = [], []
    for t in terms:
        Z = np.zeros((n, t.n_random))
        for j in range(t.q):
            Z[np.arange(n), t.codes * t.q + j] = t.z[:, j]
        blocks_z.append(Z)
        blocks_l.append(np.kron(np.eye(t.n_levels), t.factor(theta)))
    Z = np.hstack(blocks_z)
    q = Z.shape[1]
    Lam = np.zeros((q, q))
    off = 0
    for b in blocks_l:
        Lam[off : off + len(b), off : off + len(b)] = b
        off += len(b)
    X, y = design.X, design.y  # type: ignore[attr-defined]
    p = X.shape[1]
    C = np.column_stack([Z @ Lam, X, y])
    A = C.T @ (C * w[:, None])
    A[np.arange(q), np.arange(q)] += 1.0
    L = np.linalg.cholesky(A)
    d = np.diagonal(L)
    sol = np.linalg.solve(A[: q + p, : q + p], A[: q + p, -1])
    V = np.linalg.inv(A[:q, :q])
    cond = []
    off = 0
    for t in terms:
        idx = off + np.arange(t.n_random).reshape(t.n_levels, t.q)
        cond.append(np.stack([V[np.ix_(r, r)] for r in idx]))
        off += t.n_random
    return {"logdet_theta": 2 * np.sum(np.log(d[:q])), "logdet_X": 2 * np.sum(np.log(d[q : q + p])),
            "pwrss": d[-1] ** 2, "u": sol[:q], "beta": sol[q:], "vcov": np.linalg.inv(A[q:, q:][:p, :p]
                                                                                     - A[q : q + p, :q] @ V
                                                                                     @ A[:q, q : q + p]),
            "cond": cond, "Z": Z, "C_plain": np.column_stack([Z, X, y])}


@functools.cache
def _design(kind: str, seed: int, weighted: bool) -> object:
    formula, frame = _data(kind, np.random.default_rng(seed))
    return mb.Model(formula, frame, weights="w" if weighted else None).design


def _theta(design: object, rng: np.random.Generator) -> np.ndarray:
    lower = np.asarray(design.lower, dtype=float)  # type: ignore[attr-defined]
    theta = rng.normal(scale=0.8, size=len(lower))
    return np.where(np.isfinite(lower), np.abs(theta) + 0.05, theta)


PATHS = ["dense", "sparse"]
KINDS = ["nested", "crossed", "slopes", "slopes_first"]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("kind", KINDS)
def test_crossproducts_match_the_dense_products(kind: str, weighted: bool) -> None:
    design = _design(kind, 3, weighted)
    w = np.asarray(design.weights, dtype=float)
    plan = CrossProductPlan(design.terms, design.n_fixef)
    cp = plan.compute(design.X, design.y, w)
    ref = _dense(design, np.zeros(design.n_theta), w)
    C = ref["C_plain"]
    full = C.T @ (C * w[:, None])
    first = design.terms[0]
    n1, m = first.n_random, plan.m
    # A11: the first term's diagonal blocks
    for lev in range(first.n_levels):
        sl = slice(lev * first.q, (lev + 1) * first.q)
        np.testing.assert_allclose(cp.A11[lev], full[sl, sl], rtol=RTOL, atol=1e-12)
    # the first term's off-diagonal blocks between levels are zero (block-diagonal storage loses nothing)
    block = full[:n1, :n1].copy()
    for lev in range(first.n_levels):
        sl = slice(lev * first.q, (lev + 1) * first.q)
        block[sl, sl] = 0.0
    assert np.all(block == 0.0)
    np.testing.assert_allclose(cp.Ar1.toarray(), full[n1 : n1 + m, :n1], rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(cp.Ax1, full[n1 + m :, :n1], rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(cp.Arr, full[n1:, n1:], rtol=RTOL, atol=1e-10)
    # a second compute with other weights (PIRLS) reuses the pattern and gives the new products
    w2 = w * np.random.default_rng(2).uniform(0.5, 1.5, len(w))
    cp2 = plan.compute(design.X, design.y, w2)
    full2 = C.T @ (C * w2[:, None])
    np.testing.assert_allclose(cp2.Ar1.toarray(), full2[n1 : n1 + m, :n1], rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(cp2.Arr, full2[n1:, n1:], rtol=RTOL, atol=1e-10)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("kind", KINDS)
def test_blocked_factor_matches_a_dense_cholesky(kind: str, weighted: bool, path: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    if path == "sparse":  # force the sparse phase 2 on these small designs
        monkeypatch.setattr(factor_module, "_DENSE_LIMIT", 0)
        monkeypatch.setattr(factor_module, "_DENSE_MAX", 0)
    design = _design(kind, 3, weighted)
    w = np.asarray(design.weights, dtype=float)
    plan = CrossProductPlan(design.terms, design.n_fixef)
    fac = BlockedFactor(plan, plan.compute(design.X, design.y, w))
    rng = np.random.default_rng(5)
    for _ in range(2):  # several theta on one workspace: cached pieces must not go stale
        theta = _theta(design, rng)
        fac.update(theta)
        ref = _dense(design, theta, w)
        assert fac.logdet_theta == pytest.approx(ref["logdet_theta"], rel=RTOL)
        assert fac.logdet_X == pytest.approx(ref["logdet_X"], rel=RTOL)
        assert fac.pwrss == pytest.approx(ref["pwrss"], rel=1e-8)
        beta, u = fac.solve()
        np.testing.assert_allclose(beta, ref["beta"], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(u, ref["u"], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fac.unscaled_vcov_beta(), ref["vcov"], rtol=1e-8, atol=1e-12)
        for got, want in zip(fac.conditional_u_blocks(), ref["cond"], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)


def test_the_fast_paths_are_the_ones_exercised(monkeypatch: pytest.MonkeyPatch) -> None:
    """The designs above reach the paths they are meant to: the diagonal leading block (nested) and the Gram plan
    (crossed, sparse path); otherwise the comparisons would not cover them."""
    nested = _design("nested", 3, False)
    plan = CrossProductPlan(nested.terms, nested.n_fixef)
    fac = BlockedFactor(plan, plan.compute(nested.X, nested.y, np.asarray(nested.weights, dtype=float)))
    assert fac._diag_lead == nested.terms[1].n_random > 16
    crossed = _design("crossed", 3, False)
    plan = CrossProductPlan(crossed.terms, crossed.n_fixef)
    fac = BlockedFactor(plan, plan.compute(crossed.X, crossed.y, np.asarray(crossed.weights, dtype=float)))
    assert fac._gram_plan() is not None
    slopes = _design("slopes", 3, False)
    assert not BlockedFactor(CrossProductPlan(slopes.terms, slopes.n_fixef),
                             CrossProductPlan(slopes.terms, slopes.n_fixef).compute(
                                 slopes.X, slopes.y, np.asarray(slopes.weights, dtype=float))).scalar_rest
