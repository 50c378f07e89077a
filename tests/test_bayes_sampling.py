"""Bayesian fits with NUTS: the sleepstudy acceptance test, reproducibility, reuse of the compiled sampler, the
results API, predictions for unseen levels, prior overrides, every sampler, GLMMs and diagnostics."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import dataset, lme4_case

import mixbayes as mb
from mixbayes.bayes.diagnostics import diagnose
from mixbayes.bayes.results import BayesFit
from mixbayes.results.prediction import NewLevelError

SEED = 2024


@pytest.fixture(scope="module")
def sleep_fit(sleep_model: mb.Model) -> BayesFit:
    return sleep_model.sample(random_seed=SEED, progressbar=False)


@pytest.fixture(scope="module")
def dyestuff() -> mb.Model:
    return mb.Model("Yield ~ 1 + (1 | Batch)", dataset("Dyestuff"))


SMALL = {"draws": 500, "tune": 500, "progressbar": False}


# ---- acceptance ----------------------------------------------------------------------------------------------------

def test_sleepstudy_acceptance(sleep_fit: BayesFit) -> None:
    """Default priors, 4 chains x 1000 draws after 1000 warm-up: no divergences, R-hat <= 1.01 and bulk ESS >= 1000
    for every fixed effect, SD, correlation and sigma, posterior means within 0.2 posterior SDs of lme4's."""
    info = sleep_fit.sampler_info
    assert (info.chains, info.draws, info.tune, info.sampler) == (4, 1000, 1000, "blackjax")
    rep = sleep_fit.diagnose()
    assert rep.divergences == 0
    table = rep.table
    assert set(table.index) == {"beta[(Intercept)]", "beta[Days]", "sigma", "sd_Subject[(Intercept)]",
                                "sd_Subject[Days]", "cor_Subject[(Intercept),Days]"}
    assert (table["r_hat"] <= 1.01).all(), table["r_hat"]
    assert (table["ess_bulk"] >= 1000).all(), table["ess_bulk"]
    assert rep.ok, str(rep)
    case = lme4_case("sleepstudy_corr_reml")
    s = sleep_fit.fixef_summary()
    z = (s["mean"] - pd.Series(case["fixef"])) / s["sd"]
    assert (z.abs() < 0.2).all(), z


def test_same_seed_same_draws_and_reuse(sleep_model: mb.Model, sleep_fit: BayesFit) -> None:
    # reuse is counted, not timed (a time limit fails on a loaded machine): the second run traces, lowers and
    # compiles nothing (JAX reports each of those steps as a /jax/core/compile/ event, persistent cache or not)
    import jax.monitoring

    compile_events: list[str] = []

    def listener(event: str, duration: float, **kwargs: object) -> None:
        if event.startswith("/jax/core/compile/"):
            compile_events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        again = sleep_model.sample(random_seed=SEED, progressbar=False)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compile_events == []
    assert again.sampler_info.reused and again.sampler_info.timings["compile"] == 0.0
    np.testing.assert_array_equal(again.params.beta, sleep_fit.params.beta)
    np.testing.assert_array_equal(again.params.b[0], sleep_fit.params.b[0])
    lp = again.idata["sample_stats"]["lp"].values
    np.testing.assert_array_equal(lp, sleep_fit.idata["sample_stats"]["lp"].values)
    other = sleep_model.sample(random_seed=SEED + 1, progressbar=False)
    assert not np.array_equal(other.params.beta, sleep_fit.params.beta)


def test_datatree_describes_itself(sleep_fit: BayesFit) -> None:
    dt = sleep_fit.idata
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data"} <= set(dt.children)
    post = dt["posterior"]
    assert set(post.data_vars) == {"beta", "sigma", "sd_Subject", "cor_Subject", "r_Subject"}
    assert list(post["beta"].coords["fixef"].values) == ["(Intercept)", "Days"]
    assert post["r_Subject"].dims == ("chain", "draw", "Subject", "Subject__term")
    assert list(post["sd_Subject"].coords["Subject__term"].values) == ["(Intercept)", "Days"]
    assert list(post["cor_Subject"].coords["Subject__cor"].values) == ["(Intercept),Days"]
    assert post["r_Subject"].sizes["Subject"] == 18
    ss = dt["sample_stats"]
    assert {"diverging", "tree_depth", "energy", "acceptance_rate", "n_steps", "lp"} <= set(ss.data_vars)
    # the log-likelihood is per observation whatever the parameterisation (issue 14); per Subject on request
    assert sleep_fit.log_likelihood_unit == "observation"
    assert dt["log_likelihood"]["Reaction"].dims == ("chain", "draw", "obs")
    assert sleep_fit.pointwise_loglik("group").shape == (4, 1000, 18)
    assert dt["observed_data"]["Reaction"].shape == (180,)


def test_varcorr_table_names_rows_as_lme4(sleep_fit: BayesFit) -> None:
    lines = sleep_fit.varcorr.table().splitlines()
    assert lines[1].split()[:2] == ["Subject", "(Intercept)"]
    assert lines[2].split()[0] == "Days"
    assert lines[3].split()[0] == "cor((Intercept),"
    assert lines[4].split()[0] == "Residual" and "nan" not in "".join(lines)


def test_results_api(sleep_fit: BayesFit) -> None:
    lik = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    vc = sleep_fit.varcorr.as_frame()
    ref = lik.varcorr.as_frame()
    assert vc[["grp", "var1", "var2"]].astype(str).equals(ref[["grp", "var1", "var2"]].astype(str))
    assert {"mean", "median", "sd", "2.5%", "97.5%"} <= set(vc.columns)
    assert sleep_fit.varcorr.draws.shape == (4000, 4)
    assert (vc["2.5%"] < ref["sdcor"]).all() and (ref["sdcor"] < vc["97.5%"]).all()
    re = sleep_fit.ranef()
    assert re["Subject"].shape == (18, 2)
    assert np.corrcoef(re["Subject"]["Days"], lik.ranef()["Subject"]["Days"])[0, 1] > 0.99
    long = re.as_frame()
    assert list(long.columns) == ["grpvar", "term", "grp", "mean", "sd", "lower", "upper"] and len(long) == 36
    assert (long["lower"] < long["mean"]).all() and (long["mean"] < long["upper"]).all()
    coef = sleep_fit.coef["Subject"]
    np.testing.assert_allclose(coef["Days"], sleep_fit.fixef["Days"] + re["Subject"]["Days"])
    assert 20 < float(sleep_fit.sigma) < 32
    icc = sleep_fit.icc()
    assert icc.adjusted.draws.shape == (4000,)
    lo, hi = icc.adjusted.interval()
    assert lo < lik.icc().adjusted < hi
    assert 0 < icc.unadjusted.mean < icc.adjusted.mean < 1
    loo = sleep_fit.loo()
    assert np.isfinite(loo.elpd)
    w = sleep_fit.waic()
    assert w.pointwise.shape == (180,) and w.elpd_waic == pytest.approx(loo.elpd, abs=5)
    text = str(sleep_fit.summary())
    assert "Bayesian linear mixed model" in text and "ess_bulk" in text and "Subject" in text
    assert "<table" in sleep_fit.summary()._repr_html_()
    assert "blackjax" in str(sleep_fit.sampler_info) and sleep_fit.sampler_info.random_seed == SEED
    assert sleep_fit.vcov.shape == (2, 2) and (sleep_fit.se > 0).all()


def test_predictions_with_unseen_levels(sleep_fit: BayesFit) -> None:
    d = mb.load_dataset("sleepstudy")
    seen = d[d["Subject"] == "308"]
    new = seen.assign(Subject="999")
    p_seen = sleep_fit.predict(seen)
    p_new = sleep_fit.predict(new, random_seed=1)
    p_pop = sleep_fit.predict(new, include_random=False)
    fe = sleep_fit.fixef
    population = fe["(Intercept)"] + fe["Days"] * new["Days"].to_numpy()
    np.testing.assert_allclose(p_pop["mean"], population, rtol=1e-10)
    # an unseen subject is centred on the population line, with the between-subject spread added
    assert np.all(np.abs(p_new["mean"] - population) < 4 * p_new["sd"] / np.sqrt(4000) + 1.0)
    assert np.all(p_new["sd"] > p_seen["sd"]) and np.all(p_new["sd"] > p_pop["sd"])
    sd_int = float(np.mean(sleep_fit.params.sd[0][..., 0] ** 2)) ** 0.5
    assert p_new["sd"].iloc[0] > 0.8 * sd_int
    with pytest.raises(NewLevelError):
        sleep_fit.predict(new, allow_new_levels=False)
    draws = sleep_fit.predict(new, summary=False, random_seed=1)
    assert draws.shape == (4000, len(new))
    again = sleep_fit.predict(new, summary=False, random_seed=1)
    assert draws.equals(again)
    fitted = sleep_fit.predict()
    assert np.corrcoef(fitted["mean"], d["Reaction"])[0, 1] > 0.9
    noisy = sleep_fit.predict(seen, predictive=True, random_seed=3)
    assert np.all(noisy["sd"] > p_seen["sd"])


def test_sample_prior_predictive(sleep_model: mb.Model) -> None:
    dt = sleep_model.sample_prior_predictive(draws=300, random_seed=5)
    assert {"prior", "prior_predictive", "observed_data"} <= set(dt.children)
    assert dt["prior_predictive"]["Reaction"].shape == (1, 300, 180)
    beta0 = dt["prior"]["beta"].sel(fixef="Days").values
    assert abs(beta0.mean()) < 4 * sleep_model.priors["Days"].params["sigma"] / np.sqrt(300)
    again = sleep_model.sample_prior_predictive(draws=300, random_seed=5)
    np.testing.assert_array_equal(again["prior_predictive"]["Reaction"].values,
                                  dt["prior_predictive"]["Reaction"].values)


# ---- parameterisations and priors ----------------------------------------------------------------------------------

def test_noncentred_agrees_with_marginal(dyestuff: mb.Model) -> None:
    marg = dyestuff.sample(random_seed=1, **SMALL)
    nc = dyestuff.sample(random_seed=1, marginalize=False, target_accept=0.9, **SMALL)
    assert marg.sampler_info.parameterisation == "block" and nc.sampler_info.parameterisation == "noncentred"
    assert nc.log_likelihood_unit == "observation"
    a, b = marg.diagnose().table, nc.diagnose().table
    tol = 5 * np.sqrt(a["mcse"] ** 2 + b["mcse"] ** 2)
    assert (np.abs(a["mean"] - b["mean"]) < tol).all(), pd.concat([a["mean"], b["mean"], tol], axis=1)
    # the random effects drawn from their conditional match the sampled ones
    ra, rb = marg.ranef()["Batch"], nc.ranef()["Batch"]
    assert np.all(np.abs(ra - rb) < 0.25 * marg.ranef().sd["Batch"])


def test_prior_override_changes_the_posterior(dyestuff: mb.Model) -> None:
    tight = mb.Prior("HalfNormal", sigma=5.0)
    fit = dyestuff.sample(random_seed=3, priors={"sd_Batch": tight}, **SMALL)
    assert fit.priors["sd_Batch[(Intercept)]"] == tight
    assert fit.priors.entry("sd_Batch[(Intercept)]").rationale == "user"
    sd = fit.varcorr.as_frame().set_index("grp").loc["Batch", "mean"]
    assert sd < 12  # REML: 42.0; the default prior's posterior mean is above 35
    with pytest.raises(mb.PriorError):
        dyestuff.sample(priors={"sd_Bacth": tight}, **SMALL)


@pytest.mark.parametrize("form", ["schur", "dense"])
def test_marginal_forms_for_crossed_factors(form: str) -> None:
    """The automatic choice (blocked-Schur) and the forced dense form."""
    m = mb.Model("diameter ~ 1 + (1 | plate) + (1 | sample)", dataset("Penicillin"))
    fit = m.sample(random_seed=4, marginalize=None if form == "schur" else form, **SMALL)
    assert fit.sampler_info.parameterisation == form
    assert f"Parameterisation: {form}" in str(fit.summary())
    assert fit.diagnose().divergences == 0
    assert fit.log_likelihood_unit == "observation"
    reml = m.fit()
    vc, ref = fit.varcorr.as_frame(), reml.varcorr.as_frame()
    assert (vc["2.5%"] < ref["sdcor"]).all() and (ref["sdcor"] < vc["97.5%"]).all()
    assert abs(fit.fixef.iloc[0] - reml.fixef.iloc[0]) < 0.5 * fit.se.iloc[0]


@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_other_samplers_use_the_schur_form(sampler: str) -> None:
    """nutpie (Numba) and PyMC (C) compile the same blocked-Schur graph as blackjax (JAX)."""
    m = mb.Model("diameter ~ 1 + (1 | plate) + (1 | sample)", dataset("Penicillin"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = m.sample(sampler=sampler, draws=200, tune=300, chains=2, random_seed=3, progressbar=False,
                       emit_warnings=False)
    assert fit.sampler_info.parameterisation == "schur"
    reml = m.fit()
    vc, ref = fit.varcorr.as_frame(), reml.varcorr.as_frame()
    assert (vc["2.5%"] < ref["sdcor"]).all() and (ref["sdcor"] < vc["97.5%"]).all()
    assert fit.idata["posterior"]["r_plate"].shape == (2, 200, 24, 1)


@pytest.mark.parametrize("sampler", ["nutpie", "pymc", "numpyro"])
def test_other_samplers_on_a_tiny_model(dyestuff: mb.Model, sampler: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = dyestuff.sample(sampler=sampler, draws=200, tune=300, chains=2, random_seed=11, progressbar=False,
                              emit_warnings=False)
    assert fit.sampler_info.sampler == sampler
    post = fit.idata["posterior"]
    assert post["beta"].shape == (2, 200, 1) and post["r_Batch"].shape == (2, 200, 6, 1)
    assert {"diverging", "tree_depth", "energy", "lp"} <= set(fit.idata["sample_stats"].data_vars)
    reml = dyestuff.fit()
    assert abs(fit.fixef.iloc[0] - reml.fixef.iloc[0]) < 3 * fit.se.iloc[0]


def test_method_bayes_through_lmer_and_errors() -> None:
    fit = mb.lmer("Yield ~ 1 + (1 | Batch)", dataset("Dyestuff"), method="bayes", random_seed=1, **SMALL)
    assert isinstance(fit, BayesFit)
    m = mb.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", mb.load_dataset("cbpp"),
                 family="binomial")
    with pytest.raises(mb.NotSupportedError):
        m.sample(marginalize=True)
    with pytest.raises(mb.NotSupportedError):
        m.sample(sampler="stan")
    with pytest.raises(ValueError):
        m.sample(target_accept=1.5)


# ---- GLMMs ---------------------------------------------------------------------------------------------------------

def _near_laplace(fit: BayesFit, lap: mb.results.glmm.GlmmFit) -> None:
    s = fit.fixef_summary()
    gap = (s["mean"] - lap.fixef).abs()
    assert (gap <= 0.3 * s["sd"] + 4 * s["mcse"]).all(), pd.concat([s["mean"], lap.fixef, s["sd"]], axis=1)
    vc, ref = fit.varcorr.as_frame(), lap.varcorr.as_frame()
    assert (vc["2.5%"] < ref["sdcor"]).all() and (ref["sdcor"] < vc["97.5%"]).all()


def test_binomial_glmm_cbpp() -> None:
    f = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    fit = mb.glmer(f, mb.load_dataset("cbpp"), method="bayes", random_seed=5, progressbar=False)
    rep = fit.diagnose()
    assert rep.divergences == 0 and rep.ok, str(rep)
    assert fit.sampler_info.parameterisation == "noncentred" and fit.log_likelihood_unit == "observation"
    _near_laplace(fit, mb.glmer(f, mb.load_dataset("cbpp")))
    assert fit.idata["log_likelihood"]["y"].shape == (4, 1000, 56)
    assert np.isfinite(fit.loo().elpd)
    icc = fit.icc()
    assert 0 < icc.adjusted.mean < 0.5
    p = fit.predict(mb.load_dataset("cbpp").head(4).assign(herd="new"), random_seed=2)
    assert ((p["mean"] > 0) & (p["mean"] < 1)).all()


def test_poisson_glmm_with_offset() -> None:
    m = mb.Model("y ~ x + offset(log(t)) + (1 | g)", dataset("synth_pois"), family="poisson")
    fit = m.sample(random_seed=6, progressbar=False, posterior_predictive=True)
    assert fit.diagnose().divergences == 0
    _near_laplace(fit, m.fit())
    ppc = fit.idata["posterior_predictive"]["y"]
    assert ppc.shape == (4, 1000, m.design.n_obs)
    assert abs(ppc.values.mean() - m.design.y.mean()) < 0.1 * m.design.y.mean()


# ---- diagnostics ---------------------------------------------------------------------------------------------------

def test_diagnostics_name_the_parameter_and_remedy() -> None:
    rng = np.random.default_rng(0)
    good = rng.normal(size=(4, 500))
    stuck = rng.normal(size=(4, 500)) + np.array([0.0, 0.0, 0.0, 3.0])[:, None]  # one chain elsewhere
    sticky = np.cumsum(rng.normal(size=(4, 500)), axis=1) * 0.01 + rng.normal(size=(4, 1))
    diverging = np.zeros((4, 500), bool)
    diverging[1, :7] = True
    energy = np.cumsum(rng.normal(size=(4, 500)), axis=1)  # a random walk: E-BFMI near 0
    stats = {"diverging": diverging, "tree_depth": np.full((4, 500), 10), "energy": energy}
    rep = diagnose({"beta": (good[..., None], ["x"]), "sd_g": (stuck[..., None], ["(Intercept)"]),
                    "sigma": (sticky, None)}, stats, max_treedepth=10, mode="noncentred")
    kinds = {p[0] for p in rep.problems}
    assert kinds == {"divergences", "rhat", "ess_bulk", "ess_tail", "treedepth", "ebfmi"}
    rhat = next(p for p in rep.problems if p[0] == "rhat")
    assert "sd_g[(Intercept)]" in rhat[1] and "sigma" in rhat[1] and "beta[x]" not in rhat[1]
    div = next(p for p in rep.problems if p[0] == "divergences")
    assert "target_accept" in div[3] and "7 divergent" in div[2]
    assert "max_treedepth" in next(p for p in rep.problems if p[0] == "treedepth")[3]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rep.emit()
    assert {w.category for w in caught} == {mb.DivergenceWarning, mb.RhatWarning, mb.LowEssWarning,
                                            mb.TreeDepthWarning, mb.EnergyWarning}
    assert issubclass(mb.DivergenceWarning, mb.SamplingWarning)
    assert "Problems:" in str(rep) and not rep.ok


def test_short_chains_warn_with_the_parameter(dyestuff: mb.Model) -> None:
    with pytest.warns(mb.SamplingWarning, match=r"sd_Batch|beta|sigma"):
        dyestuff.sample(draws=20, tune=30, chains=4, random_seed=2, progressbar=False)


def test_progress_bar_moves_between_chunks(dyestuff: mb.Model, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import mixbayes.bayes.progress as progress

    monkeypatch.setattr(progress, "_interactive", lambda stream: True)
    seen: list[tuple[int, int]] = []
    original = progress.ProgressBar.__call__

    def record(self: progress.ProgressBar, done: int, total: int) -> None:
        seen.append((done, total))
        original(self, done, total)

    monkeypatch.setattr(progress.ProgressBar, "__call__", record)
    dyestuff.sample(draws=200, tune=200, random_seed=5, progressbar=True)
    err = capsys.readouterr().err
    assert len(seen) >= 10 and seen[-1] == (400, 400)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert "warm-up" in err and "sampling" in err and "100%" in err


def test_progress_bar_is_silent_in_logs() -> None:
    import io

    from mixbayes.bayes.progress import ProgressBar

    stream = io.StringIO()  # not a terminal, no notebook kernel
    bar = ProgressBar(tune=10, chains=4, stream=stream)
    bar(5, 20)
    bar.close()
    assert stream.getvalue() == "" and bar.updates == 1
