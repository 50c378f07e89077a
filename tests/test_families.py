"""Each family's behaviour against independent formulas and scipy.stats; no family-name switches outside
mixbayes/families/."""

from __future__ import annotations

import ast
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import special, stats

import mixbayes as mb
from mixbayes.exceptions import CountDataWarning, FamilyError, ResponseError
from mixbayes.families import FAMILIES, Family, get_family, get_link, link_names, negative_binomial

RNG = np.random.default_rng(20261129)
N = 40
THETA = 2.5


def _data(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, mu, trials) for a family: y on the response scale (binomial: proportions of successes)."""
    rng = np.random.default_rng(7)
    if name == "gaussian":
        mu = rng.normal(1.0, 2.0, N)
        return mu + rng.normal(0.0, 1.0, N), mu, np.ones(N)
    if name == "binomial":
        n = rng.integers(1, 9, N).astype(float)
        mu = rng.uniform(0.05, 0.95, N)
        return rng.binomial(n.astype(int), mu) / n, mu, n
    mu = rng.uniform(0.2, 8.0, N)
    return rng.poisson(mu).astype(float), mu, np.ones(N)


def _family(name: str) -> Family:
    return negative_binomial(theta=THETA) if name == "negative_binomial" else get_family(name)


def _scipy_logpmf(name: str, y: np.ndarray, mu: np.ndarray, n: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    if name == "gaussian":
        return stats.norm.logpdf(y, mu, sigma)
    if name == "binomial":
        return stats.binom.logpmf(np.round(y * n), n, mu)
    if name == "poisson":
        return stats.poisson.logpmf(y, mu)
    return stats.nbinom.logpmf(y, THETA, THETA / (THETA + mu))


def _variance(name: str, mu: np.ndarray) -> np.ndarray:
    return {"gaussian": np.ones_like(mu), "binomial": mu * (1 - mu), "poisson": mu,
            "negative_binomial": mu + mu**2 / THETA}[name]


NAMES = ["gaussian", "binomial", "poisson", "negative_binomial"]


def test_registry_names_and_aliases() -> None:
    assert list(FAMILIES)[:4] == NAMES
    assert get_family("nbinom2").name == "negative_binomial"
    assert get_family("Bernoulli").name == "binomial"
    assert get_family("normal").name == "gaussian"
    assert get_family("binomial", "probit").link.name == "probit"
    assert get_family("gamma").name == "Gamma" and get_family("Gamma").link.name == "inverse"
    assert get_family("inverse.gaussian").link.name == "1/mu^2"
    with pytest.raises(FamilyError, match="choose gaussian, binomial, poisson, negative_binomial, Gamma or "
                                          "inverse_gaussian"):
        get_family("tweedie")
    with pytest.raises(FamilyError, match="not available for the poisson family"):
        get_family("poisson", "logit")
    with pytest.raises(FamilyError, match="unknown link"):
        get_link("loglog")


@pytest.mark.parametrize("name", NAMES)
def test_variance_function(name: str) -> None:
    _, mu, _ = _data(name)
    np.testing.assert_allclose(_family(name).variance(mu), _variance(name, mu), rtol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_deviance_is_twice_the_saturated_loglik_gap(name: str) -> None:
    """Unit deviance = 2 (log p(y | mu = y) - log p(y | mu)), computed with scipy.stats."""
    y, mu, n = _data(name)
    fam = _family(name)
    wt = n  # R's binomial weights are the trials; else 1
    dev = fam.dev_resids(y, mu, wt)
    sat = np.clip(y, 1e-300, None) if name != "gaussian" else y
    expected = 2.0 * (_scipy_logpmf(name, y, sat, n) - _scipy_logpmf(name, y, mu, n))
    np.testing.assert_allclose(dev, expected, rtol=1e-10, atol=1e-10)
    bound = fam.bind(y, wt, n if name == "binomial" else None)
    assert bound.deviance(mu) == pytest.approx(float(np.sum(expected)), rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_loglik_terms_match_scipy(name: str) -> None:
    y, mu, n = _data(name)
    fam = _family(name)
    trials = n if name == "binomial" else None
    terms = fam.loglik_terms(y, mu, n, trials, scale=1.7)
    np.testing.assert_allclose(terms, _scipy_logpmf(name, y, mu, n, sigma=np.sqrt(1.7)), rtol=1e-12)
    if name != "gaussian":
        assert fam.bind(y, n, trials).loglik(mu) == pytest.approx(float(np.sum(terms)), rel=1e-12)


def test_gaussian_bound_loglik_is_r_aic() -> None:
    """R's gaussian()$aic: sigma^2 = deviance / n and a constant +2, i.e. the profiled log-likelihood minus 1."""
    y, mu, _ = _data("gaussian")
    w = np.linspace(0.5, 2.0, N)
    dev = float(np.sum(w * (y - mu) ** 2))
    profiled = float(np.sum(stats.norm.logpdf(y, mu, np.sqrt(dev / N / w))))
    assert get_family("gaussian").bind(y, w).loglik(mu) == pytest.approx(profiled - 1.0, rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_pointwise_logpdf_per_draw(name: str) -> None:
    """The Bayesian pointwise log-likelihood (rows = draws) against scipy, with draw-specific sigma/theta."""
    y, mu, n = _data(name)
    fam = get_family(name)  # the NB's theta comes per draw
    eta = fam.link.link(mu)[None, :] + np.array([[0.0], [0.1]])
    disp = np.array([[THETA], [2 * THETA]])
    sigma = np.array([[1.0], [2.0]])
    obs = fam.observed_values(y, n, None if name != "binomial" else y * n)
    got = fam.pointwise_logpdf(obs, eta, sigma=sigma, dispersion=disp, weights=np.ones(N),
                               prior_weights=fam.prior_weights(n, n if name == "binomial" else None),
                               trials=fam.n_trials(n, n if name == "binomial" else None))
    m = fam.link.inverse_numpy(eta)
    if name == "gaussian":
        ref = stats.norm.logpdf(obs, m, sigma)
    elif name == "binomial":
        ref = stats.binom.logpmf(obs, n, m)
    elif name == "poisson":
        ref = stats.poisson.logpmf(obs, m)
    else:
        ref = stats.nbinom.logpmf(obs, disp, disp / (disp + m))
    np.testing.assert_allclose(got, ref, rtol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_simulation_moments(name: str) -> None:
    """Mean and variance of simulated observations within Monte Carlo error (fixed seed)."""
    rng = np.random.default_rng(11)
    fam = _family(name)
    m = {"gaussian": 1.5, "binomial": 0.3, "poisson": 4.0, "negative_binomial": 4.0}[name]
    reps = 40_000
    mu = np.full(reps, m)
    trials = np.full(reps, 5.0) if name == "binomial" else None
    draws = fam.simulate(mu, rng, sigma=2.0, weights=np.full(reps, 4.0), trials=trials)
    assert draws.dtype == float
    if name == "gaussian":
        mean, var = m, 2.0**2 / 4.0
    elif name == "binomial":
        mean, var = 5 * m, 5 * m * (1 - m)
        assert np.all(draws == np.round(draws)) and draws.max() <= 5
        np.testing.assert_allclose(fam.as_response(draws, trials), draws / 5.0)
    else:
        mean, var = m, float(_variance(name, np.array([m]))[0])
    se_mean = np.sqrt(var / reps)
    assert abs(draws.mean() - mean) < 5 * se_mean
    # the SE of a sample variance is about var * sqrt(2 / reps) (plus kurtosis; 6 SEs covers it)
    assert abs(draws.var() - var) < 6 * var * np.sqrt(2.0 / reps) + 0.02 * var


def test_simulation_with_per_draw_dispersion_broadcasts() -> None:
    rng = np.random.default_rng(3)
    fam = get_family("negative_binomial")
    with pytest.raises(FamilyError, match="theta"):
        fam.simulate(np.ones(3), rng)
    draws = fam.simulate(np.full((2, 20_000), 3.0), rng, dispersion=np.array([[0.5], [50.0]]))
    v = draws.var(axis=1)
    np.testing.assert_allclose(v, [3 + 9 / 0.5, 3 + 9 / 50.0], rtol=0.1)


@pytest.mark.parametrize("name", link_names())
def test_inverse_links_against_scipy(name: str) -> None:
    link = get_link(name)
    eta = np.linspace(-3, 3, 13) if name not in ("inverse", "sqrt", "1/mu^2") else np.linspace(0.2, 3, 13)
    expected = {"identity": lambda e: e, "log": np.exp, "logit": special.expit, "probit": special.ndtr,
                "cloglog": lambda e: -np.expm1(-np.exp(e)), "inverse": lambda e: 1 / e,
                "sqrt": lambda e: e**2, "1/mu^2": lambda e: 1 / np.sqrt(e)}[name](eta)
    np.testing.assert_allclose(link.inverse_numpy(eta), expected, rtol=1e-12)
    np.testing.assert_allclose(link.inverse(eta), expected, rtol=1e-12)
    np.testing.assert_allclose(link.link(link.inverse(eta)), eta, rtol=1e-9, atol=1e-12)
    h = 1e-6
    numeric = (link.inverse_numpy(eta + h) - link.inverse_numpy(eta - h)) / (2 * h)
    np.testing.assert_allclose(link.mu_eta(eta), numeric, rtol=1e-6, atol=1e-9)


def test_inverse_links_in_pytensor_agree_with_numpy() -> None:
    pytensor = pytest.importorskip("pytensor")
    import pytensor.tensor as pt

    x = pt.dvector("eta")
    eta = np.linspace(0.2, 3, 7)
    outs = [get_link(n).inverse_tensor(x) for n in link_names()]
    f = pytensor.function([x], outs, mode="FAST_COMPILE")  # the Python linker: no C compilation
    for n, got in zip(link_names(), f(eta), strict=True):
        np.testing.assert_allclose(got, get_link(n).inverse_numpy(eta), rtol=1e-12, err_msg=n)


def test_latent_residual_variances() -> None:
    lam = 2.0
    assert get_family("binomial").latent_residual_variance(sigma=None, null_lambda=None) == pytest.approx(
        np.pi**2 / 3)
    assert get_family("binomial", "probit").latent_residual_variance(sigma=None, null_lambda=None) == 1.0
    assert get_family("binomial", "cloglog").latent_residual_variance(sigma=None, null_lambda=None) == \
        pytest.approx(np.pi**2 / 6)
    assert get_family("poisson").latent_residual_variance(sigma=None, null_lambda=lambda: lam) == \
        pytest.approx(np.log(1 + 1 / lam))
    nb = negative_binomial(theta=THETA)
    assert nb.latent_residual_variance(sigma=None, null_lambda=lambda: lam) == pytest.approx(
        np.log(1 + 1 / lam + 1 / THETA))
    np.testing.assert_allclose(nb.latent_residual_variance(sigma=None, null_lambda=lambda: lam,
                                                           dispersion=np.array([1.0, 4.0])),
                               np.log(1 + 1 / lam + 1 / np.array([1.0, 4.0])))
    assert get_family("gaussian").latent_residual_variance(sigma=1.5, null_lambda=None) == 2.25


def test_predicates() -> None:
    assert get_family("gaussian").is_lmm and get_family("gaussian").default_method == "reml"
    assert not get_family("gaussian", "log").is_lmm
    assert [get_family(n).is_lmm for n in NAMES[1:]] == [False, False, False]
    assert get_family("binomial").default_method == "laplace"
    assert get_family("negative_binomial").estimates_dispersion
    assert not negative_binomial(theta=2.0).estimates_dispersion
    assert not get_family("poisson").estimates_dispersion
    assert get_family("negative_binomial").mean_family == get_family("poisson")
    assert get_family("gaussian").has_scale and not get_family("poisson").has_scale
    assert [get_family(n).canonical for n in NAMES] == [True, True, True, False]


def test_families_pickle_and_compare() -> None:
    for fam in [get_family("binomial", "cloglog"), negative_binomial(theta=3.0), get_family("gaussian")]:
        assert pickle.loads(pickle.dumps(fam)) == fam
    assert get_family("binomial") != get_family("binomial", "probit")
    assert get_family("poisson") != get_family("negative_binomial")
    assert str(negative_binomial(theta=3.0)) == "negative_binomial(3) (log)"


def test_old_constructor_is_deprecated_but_works() -> None:
    with pytest.warns(DeprecationWarning, match="get_family"):
        fam = Family("negative_binomial", get_link("log"), 3.5)
    assert fam == negative_binomial(theta=3.5)


def test_response_checks_belong_to_the_family() -> None:
    prior = np.ones(3)
    with pytest.raises(ResponseError, match="must be 0/1"):
        get_family("binomial").response_numeric(np.array([0.0, 2.0, 1.0]), prior, "y")
    with pytest.raises(ResponseError, match="give weights= the numbers of trials"):
        get_family("binomial").response_numeric(np.array([0.0, 0.5, 1.0]), prior, "y")
    with pytest.raises(ResponseError, match="negative values"):
        get_family("poisson").response_numeric(np.array([0.0, -1.0, 1.0]), prior, "y")
    with pytest.warns(CountDataWarning, match="non-integer counts in a negative_binomial model"):
        get_family("negative_binomial").response_numeric(np.array([0.0, 1.5, 1.0]), prior, "y")
    with pytest.raises(ResponseError, match="use family='binomial'"):
        get_family("gaussian").response_factor(lambda: (np.zeros(3), ["a"]), prior, "y", "object")
    with pytest.raises(ResponseError, match="not a poisson one"):
        get_family("poisson").response_cbind(prior, prior, prior, "cbind(s, f)", ("s", "f"))
    y, w, trials, succ = get_family("binomial").response_cbind(np.array([1.0, 0, 3]), np.array([1.0, 2, 0]),
                                                               prior, "cbind(s, f)", ("s", "f"))
    np.testing.assert_allclose(y, [0.5, 0.0, 1.0])
    np.testing.assert_allclose(w, [2, 2, 3])
    np.testing.assert_allclose(trials, [2, 2, 3])
    np.testing.assert_allclose(succ, [1, 0, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_family("poisson").response_numeric(np.array([0.0, 2.0]), np.ones(2), "y")


def test_model_string_family_still_works() -> None:
    import pandas as pd

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"y": rng.poisson(3, 60), "g": np.repeat(np.arange(12), 5)})
    m = mb.Model("y ~ 1 + (1 | g)", df, family="poisson")
    assert m.family == get_family("poisson") and m._is_lmm is False


# ---- no family-name switches outside mixbayes/families/ -----------------------------------------------------------

_NAMES = {"gaussian", "binomial", "poisson", "negative_binomial", "normal", "nbinom2",
          "identity", "log", "logit", "probit", "cloglog", "inverse", "sqrt"}
_FAMILYISH = re.compile(r"(fam\w*|link)$")


def _strings(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def _names_family(node: ast.AST) -> bool:
    """``family.name``, ``fam.link.name``, ``design.family.name``... or a variable called family/fam/link."""
    if isinstance(node, ast.Attribute) and node.attr == "name":
        return bool(_FAMILYISH.search(ast.unparse(node.value)))
    return isinstance(node, ast.Name | ast.Attribute) and bool(_FAMILYISH.search(ast.unparse(node)))


def family_switches(source: str) -> list[str]:
    """The comparisons of family or link names, and lookups keyed by them, in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            by_name = any(isinstance(o, ast.Attribute) and o.attr == "name" and _names_family(o) for o in operands)
            literal = any(_strings(o) & _NAMES for o in operands) and any(_names_family(o) for o in operands)
            if by_name or literal:
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Attribute) and \
                node.slice.attr == "name" and _names_family(node.slice):
            found.append(ast.unparse(node))
    return found


def test_the_switch_detector_can_fail() -> None:
    bad = '''
if design.family.name == "gaussian" and fam.link.name in ("log", "sqrt"):
    pass
if fam != "binomial":
    pass
x = {"logit": 1.0}[family.link.name]
ok = f.design.family.name != ref.design.family.name
fine = type == "link" or name == "log" or x.name == "gaussian"
'''
    found = family_switches(bad)
    assert len(found) == 5, found
    assert not any("type ==" in f or "x.name" in f for f in found)


def test_no_family_switches_outside_the_families_package() -> None:
    root = Path(mb.__file__).parent
    hits = {}
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        if path.is_relative_to(root / "families") or not re.search(r"fam|link", text):
            continue
        found = family_switches(text)
        if found:
            hits[str(path.relative_to(root))] = found
    assert hits == {}
