"""The marginal likelihood through the blocked factor (block factor + dense Schur complement), from Gram blocks:
against the dense form and a direct multivariate-normal log density, partitioned blocks, exact conditional draws,
and the automatic choice of form."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import crossed_design, dataset
from scipy import stats

import mixbayes as mb
from mixbayes.bayes.forms import choose_form
from mixbayes.bayes.gram import GramBlocks
from mixbayes.bayes.marginal import DenseMarginal
from mixbayes.bayes.schur import SchurMarginal, design_rows, schur_loglik, schur_plan
from mixbayes.exceptions import NotSupportedError

CASES = [  # (formula, data, weights): crossed, nested, crossed with correlated slopes
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", None),
    ("strength ~ 1 + (1 | batch/cask)", "Pastes", "w"),
    ("y ~ A * B + (1 + A | subj) + (1 + A + B | item)", "crossed", None),
    ("y ~ A + (1 + A | subj) + (1 | item) + (0 + B | item)", "crossed", "w"),
]


def _model(formula: str, name: str, weights: str | None) -> mb.Model:
    data = crossed_design(8, 6, seed=3, sigma=20.0) if name == "crossed" else dataset(name)
    if weights:
        data = data.assign(w=1.0 + (np.arange(len(data)) % 3))
    return mb.Model(formula, data, weights=weights)


def _random_factors(m: mb.Model, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for t in m.design.terms:
        A = rng.normal(size=(t.q, t.q))
        out.append(np.linalg.cholesky(A @ A.T + t.q * np.eye(t.q)) * rng.uniform(0.2, 2.0))
    return out


def _mvn(m: mb.Model, beta: np.ndarray, sigma: float, Ls: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """V = sigma^2 W^-1 + Z G Z' and G for absolute-scale factors Ls."""
    d = m.design
    Z = d.Z.toarray()
    G = np.zeros((d.n_random, d.n_random))
    for t, L, start in zip(d.terms, Ls, d.Gp[:-1], strict=True):
        G[start : start + t.n_random, start : start + t.n_random] = np.kron(np.eye(t.n_levels), L @ L.T)
    return sigma**2 * np.diag(1.0 / np.asarray(d.weights)) + Z @ G @ Z.T, G


@pytest.mark.parametrize(("formula", "data", "weights"), CASES)
def test_schur_loglik_equals_dense_form_and_multivariate_normal(formula: str, data: str, weights: str | None
                                                                ) -> None:
    """Both ways of forming the Schur update (matrix product, scatter), symbolic and NumPy, to 1e-8."""
    import pytensor
    import pytensor.tensor as pt

    m = _model(formula, data, weights)
    d = m.design
    rows = np.ones(d.n_obs, bool)
    X = np.asarray(d.X, dtype=float)
    helpers = []
    for kind in ("dense", "scatter"):
        helper = SchurMarginal(d, rows, X)
        helper.plan = schur_plan(helper.data.design, kind)
        assert helper.plan.kind == kind
        helpers.append(helper)
    dense = DenseMarginal(d, rows)
    y_, b_, s_ = pt.vector("y"), pt.vector("beta"), pt.scalar("sigma")
    T_ = [pt.matrix(f"T{k}") for k in range(len(d.terms))]
    f = pytensor.function([y_, b_, s_, *T_], [h.graph(y_, b_, s_, T_) for h in helpers], mode="FAST_COMPILE")
    rng = np.random.default_rng(11)
    for _ in range(3):
        beta = d.y.mean() * np.r_[1.0, np.zeros(d.n_fixef - 1)] + rng.normal(0.0, 2.0, d.n_fixef)
        sigma = rng.uniform(0.5, 2.0) * d.y.std()
        Ls = [L * sigma for L in _random_factors(m, rng)]
        T = [L / sigma for L in Ls]
        V, _ = _mvn(m, beta, sigma, Ls)
        ref = stats.multivariate_normal(X @ beta, V).logpdf(d.y)
        r = d.y - X @ beta
        dense_ll = dense.loglik(r[None], np.array([sigma]), [t[None] for t in T])[0]
        values = list(f(d.y, beta, sigma, *T))
        for h in helpers:
            values.append(h.loglik(d.y, beta[None], np.array([sigma]), [t[None] for t in T])[0])
            values.append(schur_loglik(h.data.response_blocks(d.y, np), beta, sigma, T, h.plan, backend="numpy"))
        for value in values:
            assert value == pytest.approx(dense_ll, rel=1e-12, abs=1e-8)
            assert value == pytest.approx(ref, rel=1e-12, abs=1e-8)


def test_gram_blocks_of_partitions_add_up() -> None:
    """Blocks reduced partition by partition (as out of core) give the same likelihood as the whole data."""
    m = _model(*CASES[2])
    d = m.design
    X = np.asarray(d.X, dtype=float)
    whole = design_rows(d, np.ones(d.n_obs, bool), X, "item")
    parts = [np.arange(d.n_obs) % 3 == k for k in range(3)]
    summed = sum(GramBlocks.from_rows(whole.layout, whole.codes[p], whole.Z1[p], whole.Z2[p], X[p], d.y[p])
                 for p in parts)
    full = whole.response_blocks(d.y, np)
    rng = np.random.default_rng(5)
    beta, sigma = np.r_[600.0, 20.0, 10.0, 5.0], 25.0
    T = [L / sigma for L in _random_factors(m, rng)]
    a = schur_loglik(full, beta, sigma, T, backend="numpy")
    b = schur_loglik(summed, beta, sigma, T, backend="numpy")
    assert b == pytest.approx(a, rel=1e-12)
    np.testing.assert_allclose(summed.Z2Z1.toarray(), full.Z2Z1.toarray(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", [CASES[0], CASES[2]])
def test_schur_conditional_draws_have_the_exact_moments(case: tuple) -> None:
    m = _model(case[0], case[1], None)
    d = m.design
    X = np.asarray(d.X, dtype=float)
    helper = SchurMarginal(d, np.ones(d.n_obs, bool), X)
    rng = np.random.default_rng(7)
    sigma = 0.8 * d.y.std()
    Ls = [L * sigma for L in _random_factors(m, rng)]
    beta = np.r_[d.y.mean(), np.zeros(d.n_fixef - 1)]
    S = 3000
    T = [np.broadcast_to(L / sigma, (S, *L.shape)) for L in Ls]
    b = helper.draw(d.y, np.broadcast_to(beta, (S, len(beta))), np.full(S, sigma), T, rng)
    draws = np.concatenate([bk.reshape(S, -1) for bk in b], axis=1)  # lme4's order of b
    V, G = _mvn(m, beta, sigma, Ls)
    Z = d.Z.toarray()
    K = G @ Z.T @ np.linalg.inv(V)
    mean, cov = K @ (d.y - X @ beta), G - K @ Z @ G
    se = np.sqrt(np.diag(cov) / S)
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 5 * se)
    emp = np.cov(draws, rowvar=False)
    sd = np.sqrt(np.diag(cov))
    # correlations and SDs: Monte Carlo SE of a correlation about 1/sqrt(S) = 0.018
    assert np.max(np.abs(emp / np.outer(sd, sd) - cov / np.outer(sd, sd))) < 0.1
    assert np.all(np.abs(np.sqrt(np.diag(emp)) / sd - 1) < 0.07)


def test_automatic_form_choice() -> None:
    sleep = mb.Model("Reaction ~ Days + (Days | Subject)", dataset("sleepstudy"))
    crossed = mb.Model("y ~ A * B + (1 + A * B | subj) + (1 + A * B | item)", crossed_design())
    assert choose_form(sleep.design).form == "block"
    choice = choose_form(crossed.design)
    # measured (docs/bayes.md): one blocked-Schur gradient costs 4-7 non-centred ones, the ESS per draw gains ~4x
    assert choice.form == "noncentred"
    assert choice.costs["schur"] < choice.costs["dense"] < float("inf")
    assert choose_form(crossed.design, "schur").block_group == "subj"
    assert choose_form(crossed.design, False).form == "noncentred"
    assert choose_form(crossed.design, "dense").form == "dense"
    with pytest.raises(NotSupportedError, match="block form"):
        choose_form(crossed.design, "block")
    with pytest.raises(NotSupportedError, match="blocked-Schur"):
        choose_form(sleep.design, "schur")
    with pytest.raises(NotSupportedError):
        choose_form(sleep.design, "sideways")
    cbpp = dataset("cbpp")
    glmm = mb.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    assert choose_form(glmm.design).form == "noncentred"
    with pytest.raises(NotSupportedError, match="identity link"):
        choose_form(glmm.design, True)


def test_logdet_quad_gradient_pytensor_and_jax() -> None:
    """The Op's analytic gradient (PyTensor L_op and the JAX custom VJP) against finite differences."""
    import jax
    import pytensor
    import pytensor.tensor as pt
    from pytensor.link.jax.dispatch import jax_funcify

    from mixbayes.bayes.logdet_op import LogdetQuad, logdet_quad

    rng = np.random.default_rng(3)
    B = rng.normal(size=(5, 5))
    S0 = B @ B.T + 5 * np.eye(5)
    c0 = rng.normal(size=5)

    def f(S: np.ndarray, c: np.ndarray) -> float:
        return float(np.linalg.slogdet(S)[1] + 0.3 * c @ np.linalg.solve(S, c))

    S, c = pt.dmatrix("S"), pt.dvector("c")
    ld, q = logdet_quad(S, c)
    out = ld + 0.3 * q
    grad = pytensor.function([S, c], [out, *pytensor.grad(out, [S, c])])
    value, gS, gc = grad(S0, c0)
    jf = jax_funcify(LogdetQuad())
    jv, (jS, jc) = jax.value_and_grad(lambda s, v: jf(s, v)[0] + 0.3 * jf(s, v)[1], argnums=(0, 1))(S0, c0)
    assert value == pytest.approx(f(S0, c0)) and float(jv) == pytest.approx(f(S0, c0))
    eps = 1e-6
    num_S = np.zeros((5, 5))
    for i in range(5):
        for j in range(5):
            E = np.zeros((5, 5))
            E[i, j] = eps
            num_S[i, j] = (f(S0 + E, c0) - f(S0 - E, c0)) / (2 * eps)
    num_c = np.array([(f(S0, c0 + eps * e) - f(S0, c0 - eps * e)) / (2 * eps) for e in np.eye(5)])
    for gs, gv in ((gS, gc), (np.asarray(jS), np.asarray(jc))):
        np.testing.assert_allclose(gs, num_S, atol=1e-7)
        np.testing.assert_allclose(gv, num_c, atol=1e-7)
