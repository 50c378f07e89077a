"""The Bayesian side of glmmTMB's families (issue 13): the PyTensor per-observation log-density against the
likelihood engine's, and NUTS posteriors against the Laplace ML estimates."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mixbayes.families.tmb import get_tmb_family
from mixbayes.likelihood.zeroinfl import Response, loglik_eta

FAMILIES = ["poisson", "nbinom2", "nbinom1", "betabinomial", "truncated_poisson", "truncated_nbinom2"]


def _response(fam_name: str, rng: np.random.Generator, n: int, weights: bool) -> Response:
    fam = get_tmb_family(fam_name)
    trials = rng.integers(1, 30, n).astype(float) if fam.binomial else None
    if fam.binomial:
        y = np.floor(rng.uniform(0, 1, n) * (trials + 1))
        y[:5] = 0.0
        y[5:8] = trials[5:8]
    else:
        y = rng.poisson(rng.gamma(0.7, 4.0, n)).astype(float)
        y[:6] = 0.0
        y[6] = 250.0
    w = rng.uniform(0.5, 2.0, n) if weights else np.ones(n)
    return Response(y=y, trials=trials, weights=w, zero=y == 0)


CASES = [(f, zi) for f in FAMILIES for zi in (False, True) if zi or not get_tmb_family(f).truncated]


@pytest.mark.parametrize(("fam_name", "zi"), CASES)
def test_obs_logp_equals_likelihood_engine(fam_name: str, zi: bool) -> None:
    """At random parameter values (including extreme linear predictors) the PyTensor log-density of every
    observation equals the likelihood engine's (mixbayes.likelihood.zeroinfl.loglik_eta) to 1e-10."""
    import pytensor
    import pytensor.tensor as pt

    from mixbayes.bayes.tmb_logp import obs_logp

    fam = get_tmb_family(fam_name)
    rng = np.random.default_rng([FAMILIES.index(fam_name), int(zi)])
    n = 60
    resp = _response(fam_name, rng, n, weights=zi)
    eta_v, zeta_v, d_v = pt.dvector("eta"), pt.dvector("zeta"), pt.dscalar("d")
    ll = obs_logp(fam, resp, eta_v, zeta_v if zi else None, d_v)
    f = pytensor.function([eta_v, zeta_v, d_v], ll, on_unused_input="ignore", mode="FAST_COMPILE")
    for _ in range(5):
        eta = rng.normal(0.5, 2.0, n)
        eta[-3:] = [-12.0, 8.0, 0.0] if not fam.binomial else [-15.0, 15.0, 0.0]
        zeta = rng.normal(0.0, 3.0, n)
        d = float(rng.normal(0.0, 1.5))
        ours = f(eta, zeta, d)
        ref = loglik_eta(fam, resp, eta, zeta if zi else None, d)[0]
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)


SAL = "count ~ spp + mined + (1 | site)"


def _check_against_ml(post, fixed_tol_se: float) -> None:
    """Posterior means of the fixed effects (both parts) against the Laplace ML estimates.

    Tolerance: 4 Monte Carlo SEs (the chains' mcse) plus ``fixed_tol_se`` likelihood SEs.  With weak priors the
    posterior mean and the MLE differ by O(1/n) against an SE of O(1/sqrt(n)) for the observation-level
    coefficients; for those informed by the grouping level (the intercept, a site-level covariate such as
    ``mined``: 23 sites) the skew of the random-effect SD's posterior moves the mean by a visible fraction of an
    SE (0.7 SE for the ZIP intercept with seed 1), hence one SE.
    """
    tab = post.compare()
    fixed = tab.drop(index=[i for i in tab.index if i == "sigma"])
    assert len(fixed) == len(post.likelihood_fit.fixef) + len(post.likelihood_fit.fixef_zi)
    assert (fixed["r_hat"] < 1.05).all()
    excess = (fixed["mean"] - fixed["estimate"]).abs() - (4 * fixed["mcse"] + fixed_tol_se * fixed["se"])
    assert (excess < 0).all(), fixed.assign(excess=excess)
    # and the posterior SDs match the likelihood SEs (weak priors, 644 observations) to within 35%
    assert ((fixed["sd"] / fixed["se"]).between(0.65, 1.35)).all(), fixed


@pytest.fixture(scope="module")
def sal_zip_post():
    import mixbayes as mb

    return mb.glmmTMB(SAL, mb.load_dataset("Salamanders"), family="poisson", zi="~spp + mined", method="bayes",
                      draws=300, tune=300, chains=2, random_seed=1)


def test_salamanders_zip_posterior_matches_ml(sal_zip_post) -> None:
    _check_against_ml(sal_zip_post, 1.0)
    assert list(sal_zip_post.fixef_zi.index) == list(sal_zip_post.likelihood_fit.fixef_zi.index)
    summ = sal_zip_post.summary()
    assert "zi~minedno" in summ.index and "sd_site[(Intercept)]" in summ.index
    assert sal_zip_post.sigma == 1.0


def test_compare_table_has_the_posterior_columns(sal_zip_post) -> None:
    """mb.compare(post) (or compare(fit, post)) puts the posterior next to the likelihood estimates."""
    import mixbayes as mb

    side = mb.compare(sal_zip_post)
    table = side.table
    summ = sal_zip_post.summary()
    assert table.loc["zi~minedno", "post_mean"] == pytest.approx(summ.loc["zi~minedno", "mean"])
    assert table.loc["minedno", "post_sd"] == pytest.approx(summ.loc["minedno", "sd"])
    assert table.loc["sd_(Intercept)|site", "post_median"] == pytest.approx(summ.loc["sd_site[(Intercept)]",
                                                                                     "median"])
    assert table.loc["zi~minedno", "estimate"] == pytest.approx(sal_zip_post.likelihood_fit.fixef_zi["minedno"])
    assert mb.compare(sal_zip_post.likelihood_fit, sal_zip_post).table.equals(table)
    assert "NUTS" in side.to_text()


def test_zip_default_priors_documented(sal_zip_post) -> None:
    pri = sal_zip_post.priors
    assert pri["zi~(Intercept)"].params == {"mu": 0.0, "sigma": 2.5}
    assert pri.entry("zi~minedno").kind == "fixef_zi"
    assert "dispersion" not in pri


@pytest.mark.slow
def test_salamanders_hurdle_nb2_posterior_matches_ml() -> None:
    import mixbayes as mb

    post = mb.glmmTMB(SAL, mb.load_dataset("Salamanders"), family="truncated_nbinom2", zi="~spp + mined",
                      method="bayes", draws=300, tune=300, chains=2, random_seed=1)
    _check_against_ml(post, 1.0)
    tab = post.compare()
    assert abs(tab.loc["sigma", "z"]) < 1.5  # theta: right-skewed posterior, mean vs mode


@pytest.mark.slow
def test_cbpp_betabinomial_posterior_matches_ml() -> None:
    import mixbayes as mb

    post = mb.glmmTMB("cbind(incidence, size - incidence) ~ period + (1 | herd)", mb.load_dataset("cbpp"),
                      family="betabinomial", method="bayes", draws=300, tune=300, chains=2, random_seed=1)
    tab = post.compare().drop(index="sigma")
    assert ((tab["mean"] - tab["estimate"]).abs() < 4 * tab["mcse"] + 0.5 * tab["se"]).all(), tab


def test_glmmtmb_method_errors() -> None:
    import mixbayes as mb
    from mixbayes.exceptions import ArgumentError, NotSupportedError

    sal = mb.load_dataset("Salamanders")
    with pytest.raises(NotSupportedError, match="method"):
        mb.glmmTMB(SAL, sal, zi="~1", method="pql")
    with pytest.raises(ArgumentError, match="draws"):
        mb.glmmTMB(SAL, sal, zi="~1", draws=10)


def _simulate_zip(rng: np.random.Generator, x: np.ndarray, g: np.ndarray, n_groups: int) -> tuple[dict, np.ndarray]:
    truth = {"(Intercept)": rng.normal(1.0, 0.5), "x": rng.normal(0.0, 0.5), "zi~(Intercept)": rng.normal(-1.0, 0.5),
             "sd": abs(rng.normal(0.0, 0.5))}
    b = rng.normal(0.0, truth["sd"], n_groups)
    mu = np.exp(truth["(Intercept)"] + truth["x"] * x + b[g])
    zero = rng.uniform(size=len(x)) < 1.0 / (1.0 + np.exp(-truth["zi~(Intercept)"]))
    return truth, np.where(zero, 0, rng.poisson(mu))


@pytest.mark.slow
def test_zip_sbc_uniform_ranks() -> None:
    """Simulation-based calibration (Talts et al. 2018): 100 data sets from the prior of a small ZIP model, each
    sampled by NUTS; the rank of the true value among 99 thinned draws is uniform on 0..99 for every parameter
    (chi-square on 10 bins, p > 0.001 each: 4 tests, so a false alarm with probability 0.004)."""
    import pandas as pd
    from scipy import stats

    import mixbayes as mb

    reps = int(os.environ.get("MIXBAYES_SBC_REPS", "100"))  # fewer only to try the test out
    rng = np.random.default_rng(2026)
    n_groups, per = 12, 8
    g = np.repeat(np.arange(n_groups), per)
    x = rng.normal(size=n_groups * per)
    x -= x.mean()  # the intercept's prior is on centred predictors: centred exactly, it is the raw intercept
    priors = {"(Intercept)": mb.Prior("Normal", mu=1.0, sigma=0.5), "x": mb.Prior("Normal", mu=0.0, sigma=0.5),
              "zi~(Intercept)": mb.Prior("Normal", mu=-1.0, sigma=0.5), "sd": mb.Prior("HalfNormal", sigma=0.5)}
    ranks: dict[str, list[int]] = {k: [] for k in ("(Intercept)", "x", "zi~(Intercept)", "sd")}
    for r in range(reps):
        truth, y = _simulate_zip(rng, x, g, n_groups)
        data = pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]})
        post = mb.glmmTMB("y ~ x + (1 | g)", data, family="poisson", zi="~1", method="bayes", draws=396, tune=400,
                          chains=1, random_seed=r, priors=priors)
        draws = {"(Intercept)": post.draws["cond"][..., 0], "x": post.draws["cond"][..., 1],
                 "zi~(Intercept)": post.draws["zi"][..., 0], "sd": post.draws["sd_g"][..., 0]}
        for k, d in draws.items():
            thinned = d.reshape(-1)[::4][:99]
            ranks[k].append(int(np.sum(thinned < truth[k])))
    for k, rk in ranks.items():
        counts = np.bincount(np.asarray(rk) // 10, minlength=10)
        assert stats.chisquare(counts).pvalue > 0.001, (k, counts)


def test_priors_of_different_families_split_the_vector() -> None:
    """A prior override of another family makes one free variable per coefficient; the draws are reassembled in
    the columns' order (a cheap build, no sampling)."""
    import mixbayes as mb
    from mixbayes.bayes.tmb_model import build_tmb_model, tmb_priors
    from mixbayes.likelihood.tmb_design import build_tmb_design

    td = build_tmb_design(SAL, mb.load_dataset("Salamanders"), "nbinom2", zi="~ mined")
    priors = tmb_priors(td).with_overrides({"zi~minedno": mb.Prior("StudentT", nu=3, mu=0, sigma=1)})
    bm = build_tmb_model(td, priors)
    free = {rv.name for rv in bm.pm_model.free_RVs}
    assert {"zi_c[(Intercept)]", "zi_c[minedno]", "fixef_c", "sigma", "sd__site", "z__site"} <= free
    fake = {"zi_c[(Intercept)]": np.full((1, 2), 0.5), "zi_c[minedno]": np.full((1, 2), -2.0)}
    np.testing.assert_array_equal(bm.params["zi"].assemble(fake), [[[0.5, -2.0], [0.5, -2.0]]])
    nb1 = tmb_priors(build_tmb_design(SAL, mb.load_dataset("Salamanders"), "nbinom1", zi="~1"))
    assert nb1["dispersion"].distribution == "HalfStudentT"
    assert tmb_priors(td)["dispersion"].distribution == "InverseGamma"
