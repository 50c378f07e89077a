"""The ``partial`` form: the block factor's random effects integrated out, the other factors' sampled (centred or not).

Its log density against a direct multivariate-normal density of y given the sampled effects, the conditional draws
of the integrated-out effects against their exact moments, the form choice, and a short sampling run against the
fully marginal (blocked-Schur) form."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import crossed_design, dataset
from scipy import stats

import mixbayes as mb
from mixbayes.bayes.builder import build_model
from mixbayes.bayes.compiled import model_priors
from mixbayes.bayes.forms import choose_form
from mixbayes.bayes.posterior import ParameterDraws
from mixbayes.exceptions import NotSupportedError

CASES = [  # crossed with correlated slopes and an uncorrelated split term, weighted; nested; crossed intercepts
    ("y ~ A * B + (1 + A | subj) + (1 + A + B | item)", "crossed", None),
    ("y ~ A + (1 + A | subj) + (1 | item) + (0 + B | item)", "crossed", "w"),
    ("strength ~ 1 + (1 | batch/cask)", "Pastes", None),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", None),
    ("y ~ A + (1 + A | subj) + (1 | item) + (1 | site)", "crossed", "w"),  # site: in the Schur part
]


def _model(formula: str, name: str, weights: str | None) -> mb.Model:
    data = crossed_design(8, 6, seed=3, sigma=20.0) if name == "crossed" else dataset(name)
    if name == "crossed":  # a third factor crossing both, with 3 levels
        data = data.assign(site=[f"t{(int(s[1:]) + int(i[1:])) % 3}" for s, i in zip(data.subj, data.item,
                                                                                       strict=True)])
    if weights:
        data = data.assign(w=1.0 + (np.arange(len(data)) % 3))
    return mb.Model(formula, data, weights=weights)


def _schur_part(d: object) -> tuple[int, ...]:
    """The Schur part the builder is given: the 'site' term (3 levels) when the model has one."""
    return tuple(k for k, t in enumerate(d.terms) if t.group == "site")  # type: ignore[attr-defined]


def _corr_chol(q: int, rng: np.random.Generator) -> np.ndarray:
    A = rng.normal(size=(q, q))
    C = A @ A.T + q * np.eye(q)
    d = np.sqrt(np.diag(C))
    return np.linalg.cholesky(C / np.outer(d, d))


def _point(m: mb.Model, built: object, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random values of the free variables on the constrained scale."""
    d = m.design
    point: dict[str, np.ndarray] = {"fixef_c": np.r_[d.y.mean(), rng.normal(0.0, 2.0, d.n_fixef - 1)],
                                    "sigma": np.asarray(rng.uniform(0.5, 1.0) * d.y.std())}
    for t, spec in zip(d.terms, built.terms, strict=True):  # type: ignore[attr-defined]
        point[f"sd__{spec.label}"] = rng.uniform(0.2, 1.0, t.q) * d.y.std()
        if spec.cor:
            point[spec.cor] = _corr_chol(t.q, rng)
        if spec.z:
            point[spec.z] = rng.normal(size=(t.n_levels, t.q))
    return point


@pytest.mark.parametrize(("formula", "data", "weights", "centring"),
                         [(*c, "chosen") for c in CASES] + [(*CASES[0], "all"), (*CASES[1], "all"),
                                                            (*CASES[3], "none"), (*CASES[4], "all")])
def test_partial_loglik_equals_multivariate_normal(formula: str, data: str, weights: str | None, centring: str
                                                   ) -> None:
    """The model's likelihood term at random parameter values equals log N(y - X beta - Z2 b2; 0, sigma^2 W^-1 +
    Z1 G1 Z1') with b2 the sampled effects and Z1, G1 the block factor's, to 1e-8; the sampled terms centred as
    the form choice says, all centred (the one with the fewest levels absorbing the intercept) or none.  The prior
    of a centred term's variable is N(0, Sigma) of the effects b it stands for."""
    import pymc as pm
    from pytensor.graph.replace import clone_replace

    m = _model(formula, data, weights)
    d = m.design
    choice = choose_form(d, "partial")
    group = choice.block_group
    schur = _schur_part(d)
    others = tuple(k for k, t in enumerate(d.terms) if t.group != group and k not in schur)
    centred = {"chosen": tuple(k for k in choice.centred if k not in schur), "all": others, "none": ()}[centring]
    built = build_model(d, model_priors(m, None), "partial", centred=centred, schur=schur)
    integrated = {group} | {d.terms[k].group for k in schur}
    assert built.mode == "partial" and {s.group for s in built.terms if s.z is None} == integrated
    assert all((s.z is None) == (s.group in integrated) for s in built.terms)
    assert ("site" in integrated) == ("site" in formula)
    assert tuple(k for k, s in enumerate(built.terms) if s.centred) == tuple(sorted(centred))
    shifted = [s for s in built.terms if s.shift is not None]
    assert len(shifted) == (1 if centred and any("(Intercept)" in d.terms[k].columns for k in centred) else 0)
    pm_model = built.pm_model
    potential = pm_model["marginal_loglik"]
    rng = np.random.default_rng(3)
    for _ in range(3):
        point = _point(m, built, rng)
        consts = {pm_model[k]: np.asarray(v, dtype=float) for k, v in point.items()}
        value = clone_replace(potential, consts).eval()
        draws = {k: np.asarray(v)[None, None] for k, v in point.items()}
        pd_ = ParameterDraws.from_free(built, draws, d, rng)
        beta = pd_.beta[0, 0]
        sigma = float(point["sigma"])
        Z = d.Z.toarray()
        mean = np.asarray(d.X) @ beta
        V = sigma**2 * np.diag(1.0 / np.asarray(d.weights))
        for k, (t, spec) in enumerate(zip(d.terms, built.terms, strict=True)):
            Zk = Z[:, d.Gp[k] : d.Gp[k + 1]]
            L = pd_.chol(k)[0, 0]
            if spec.z:  # sampled
                b = pd_.b[k][0, 0]
                if not spec.centred:
                    np.testing.assert_allclose(b, point[spec.z] @ L.T, rtol=1e-12)
                mean = mean + Zk @ b.ravel()
                rv = pm_model[spec.z]
                prior = clone_replace(pm.logp(rv, point[spec.z]).sum(), consts).eval()
                ref_prior = stats.multivariate_normal(np.zeros(t.q), L @ L.T).logpdf(b).sum()
                if spec.centred:
                    assert float(prior) == pytest.approx(ref_prior, rel=1e-10)
            else:
                V = V + Zk @ np.kron(np.eye(t.n_levels), L @ L.T) @ Zk.T
        ref = stats.multivariate_normal(mean, V).logpdf(d.y)
        assert float(value) == pytest.approx(ref, rel=1e-10, abs=1e-8)


@pytest.mark.parametrize(("case", "S", "sd_tol"), [(0, 20000, 0.05), (4, 3000, 0.07)])
def test_partial_conditional_draws_have_the_exact_moments(case: int, S: int, sd_tol: float) -> None:
    """The integrated-out effects (the block factor's; in the second case also a small factor's, through the
    Schur complement, drawn draw by draw) given one parameter point and the other factors' sampled effects: mean
    and SDs of S draws against the exact conditional N(G Z1' V^-1 r, G - G Z1' V^-1 Z1 G).  Monte Carlo SE of an
    SD about 1 / sqrt(2 S): 0.005 and 0.013."""
    m = _model(*CASES[case])
    d = m.design
    built = build_model(d, model_priors(m, None), "partial", schur=_schur_part(d))
    rng = np.random.default_rng(8)
    point = _point(m, built, rng)
    draws = {k: np.broadcast_to(np.asarray(v), (1, S, *np.shape(v))) for k, v in point.items()}
    pd_ = ParameterDraws.from_free(built, draws, d, rng)
    Z = d.Z.toarray()
    r = d.y - np.asarray(d.X) @ pd_.beta[0, 0]
    sigma = float(point["sigma"])
    inner = [k for k, s in enumerate(built.terms) if s.z is None]
    for k, spec in enumerate(built.terms):
        if spec.z:
            b = pd_.b[k][0]
            np.testing.assert_allclose(b[0], point[spec.z] @ pd_.chol(k)[0, 0].T, rtol=1e-12)
            r = r - Z[:, d.Gp[k] : d.Gp[k + 1]] @ b[0].ravel()
    Z1 = np.hstack([Z[:, d.Gp[k] : d.Gp[k + 1]] for k in inner])
    G = np.zeros((Z1.shape[1], Z1.shape[1]))
    pos = 0
    for k in inner:
        t, L = d.terms[k], pd_.chol(k)[0, 0]
        G[pos : pos + t.n_random, pos : pos + t.n_random] = np.kron(np.eye(t.n_levels), L @ L.T)
        pos += t.n_random
    V = sigma**2 * np.diag(1.0 / np.asarray(d.weights)) + Z1 @ G @ Z1.T
    K = G @ Z1.T @ np.linalg.inv(V)
    mean, cov = K @ r, G - K @ Z1 @ G
    got = np.concatenate([pd_.b[k][0].reshape(S, -1) for k in inner], axis=1)
    se = np.sqrt(np.diag(cov) / S)
    assert np.all(np.abs(got.mean(axis=0) - mean) < 5 * se)
    assert np.all(np.abs(got.std(axis=0) / np.sqrt(np.diag(cov)) - 1) < sd_tol)


def test_partial_form_choice() -> None:
    crossed = mb.Model("y ~ A * B + (1 + A * B | subj) + (1 + A * B | item)", crossed_design())
    choice = choose_form(crossed.design, "partial")
    assert choice.form == "partial" and choice.block_group == "subj"  # the factor with the most levels
    assert choose_form(crossed.design, True).form in ("schur", "dense")  # True: every effect integrated out
    sleep = mb.Model("Reaction ~ Days + (Days | Subject)", dataset("sleepstudy"))
    with pytest.raises(NotSupportedError, match="partial form"):
        choose_form(sleep.design, "partial")
    assert not np.isfinite(choose_form(sleep.design).costs["partial"])
    # InstEval: 2,972 students integrated out; lecturers (65 ratings each on average) and departments centred
    inst = mb.Model("y ~ service + (1 | s) + (1 | d) + (1 | dept)", mb.load_dataset("InstEval"))
    auto = choose_form(inst.design)
    assert auto.form == "partial" and auto.block_group == "s"
    assert [inst.design.terms[k].group for k in auto.centred] == ["d", "dept"]
    assert auto.costs["partial"] < auto.costs["noncentred"] < auto.costs["schur"]
    assert auto.schur_terms == ()  # PARTIAL_SCHUR_MAX = 0: no Schur part by default (measured, docs/bayes.md)


def test_partial_sampling_agrees_with_the_blocked_schur_form() -> None:
    """Penicillin, (1 | plate) + (1 | sample): the partial form (plates integrated out, samples sampled) and the
    blocked-Schur form (all integrated out) sample the same posterior: posterior means within 4 combined Monte
    Carlo standard errors; the random effects of both factors too."""
    m = mb.Model("diameter ~ 1 + (1 | plate) + (1 | sample)", dataset("Penicillin"))
    kw = {"draws": 500, "tune": 500, "chains": 2, "progressbar": False, "emit_warnings": False}
    part = m.sample(marginalize="partial", random_seed=4, **kw)
    full = m.sample(marginalize="schur", random_seed=5, **kw)
    assert part.sampler_info.parameterisation == "partial"
    assert "partial" in str(part.sampler_info)
    a, b = part.diagnose().table, full.diagnose().table
    assert part.diagnose().divergences <= 2
    for name in a.index:
        se = np.hypot(a.loc[name, "mcse"], b.loc[name, "mcse"])
        assert abs(a.loc[name, "mean"] - b.loc[name, "mean"]) < 4 * se + 1e-9, name
    ea, eb = part.ranef(), full.ranef()
    for group in ("plate", "sample"):
        diff = np.abs(ea[group].to_numpy() - eb[group].to_numpy())
        # Monte Carlo error of a posterior mean from 1,000 draws, at an ESS of at least a quarter of the draws
        se = np.hypot(ea.sd[group].to_numpy(), eb.sd[group].to_numpy()) / np.sqrt(250)
        assert np.all(diff < 5 * se), group
