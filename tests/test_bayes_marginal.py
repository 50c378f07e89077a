"""The Gaussian random effects integrated out: the marginal log-likelihood against a direct multivariate-normal
log density, and the conditional draws of the random effects against their exact moments."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import dataset
from scipy import stats

import mixbayes as mb
from mixbayes.bayes.forms import marginal_form
from mixbayes.bayes.marginal import BlockMarginal, DenseMarginal

CASES = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", None, "block"),
    ("Reaction ~ Days + (Days || Subject)", "sleepstudy", "w", "block"),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", None, "dense"),
    ("strength ~ 1 + (1 | batch/cask)", "Pastes", None, "dense"),
]


def _random_factors(design: mb.Model, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for t in design.terms:
        A = rng.normal(size=(t.q, t.q))
        L = np.linalg.cholesky(A @ A.T + t.q * np.eye(t.q)) * rng.uniform(0.2, 2.0)
        out.append(L)
    return out


def _model(formula: str, name: str, weights: str | None) -> mb.Model:
    data = dataset(name)
    if weights:
        data = data.assign(w=1.0 + (np.arange(len(data)) % 3))
    return mb.Model(formula, data, weights=weights)


@pytest.mark.parametrize(("formula", "data", "weights", "form"), CASES)
def test_marginal_loglik_equals_multivariate_normal(formula: str, data: str, weights: str | None, form: str) -> None:
    import pytensor
    import pytensor.tensor as pt

    m = _model(formula, data, weights)
    d = m.design
    assert marginal_form(d) == ("block" if form == "block" else "schur")  # the automatic choice
    rows = np.ones(d.n_obs, bool)
    helper = BlockMarginal(d, rows) if form == "block" else DenseMarginal(d, rows)
    r_, s_ = pt.vector("r"), pt.scalar("s")
    T_ = [pt.matrix(f"T{k}") for k in range(len(d.terms))]
    out = helper.graph(r_, s_, T_)
    f = pytensor.function([r_, s_, *T_], pt.sum(out), mode="FAST_COMPILE")
    rng = np.random.default_rng(42)
    Z = d.Z.toarray()
    w = np.asarray(d.weights)
    for _ in range(4):
        beta = rng.normal(d.y.mean(), 10.0, size=d.n_fixef) * np.r_[1.0, np.full(d.n_fixef - 1, 0.1)]
        sigma = rng.uniform(0.5, 2.0) * d.y.std()
        Ls = [L * sigma for L in _random_factors(d, rng)]  # absolute-scale Cholesky factors
        G = np.zeros((d.n_random, d.n_random))
        for t, L, start in zip(d.terms, Ls, d.Gp[:-1], strict=True):
            G[start : start + t.n_random, start : start + t.n_random] = np.kron(np.eye(t.n_levels), L @ L.T)
        V = sigma**2 * np.diag(1.0 / w) + Z @ G @ Z.T
        ref = stats.multivariate_normal(d.X @ beta, V).logpdf(d.y)
        r = d.y - d.X @ beta
        T = [L / sigma for L in Ls]
        assert f(r, sigma, *T) == pytest.approx(ref, rel=1e-10, abs=1e-8)
        ll = helper.loglik(r[None], np.array([sigma]), [Tk[None] for Tk in T])
        assert ll.sum() == pytest.approx(ref, rel=1e-10, abs=1e-8)
        if form == "block":  # one term per level, each the marginal density of that level's rows
            g = d.terms[0].codes
            per = [stats.multivariate_normal(d.X[g == j] @ beta, V[np.ix_(g == j, g == j)]).logpdf(d.y[g == j])
                   for j in range(d.terms[0].n_levels)]
            np.testing.assert_allclose(ll[0], per, rtol=1e-10)


@pytest.mark.parametrize(("formula", "data", "form"), [(c[0], c[1], c[3]) for c in CASES[:1] + CASES[2:3]])
def test_conditional_draws_have_the_exact_moments(formula: str, data: str, form: str) -> None:
    m = _model(formula, data, None)
    d = m.design
    rows = np.ones(d.n_obs, bool)
    helper = BlockMarginal(d, rows) if form == "block" else DenseMarginal(d, rows)
    rng = np.random.default_rng(7)
    sigma = 0.8 * d.y.std()
    Ls = [L * sigma for L in _random_factors(d, rng)]
    beta = np.r_[d.y.mean(), np.zeros(d.n_fixef - 1)]
    r = d.y - d.X @ beta
    S = 20000 if form == "block" else 4000
    T = [np.broadcast_to(L / sigma, (S, *L.shape)) for L in Ls]
    b = helper.draw(np.broadcast_to(r, (S, len(r))), np.full(S, sigma), T, rng)
    draws = np.concatenate([bk.reshape(S, -1) for bk in b], axis=1)  # level-major, as lme4's b
    # exact conditional: b | y ~ N(G Z' V^-1 r, G - G Z' V^-1 Z G)
    Z = d.Z.toarray()
    G = np.zeros((d.n_random, d.n_random))
    for t, L, start in zip(d.terms, Ls, d.Gp[:-1], strict=True):
        G[start : start + t.n_random, start : start + t.n_random] = np.kron(np.eye(t.n_levels), L @ L.T)
    V = sigma**2 * np.eye(d.n_obs) + Z @ G @ Z.T
    K = G @ Z.T @ np.linalg.inv(V)
    mean, cov = K @ r, G - K @ Z @ G
    se = np.sqrt(np.diag(cov) / S)
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 5 * se)
    sd_ratio = draws.std(axis=0) / np.sqrt(np.diag(cov))
    assert np.all(np.abs(sd_ratio - 1) < 0.06)
