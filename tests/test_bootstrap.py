"""Parametric bootstrap: pbkrtest's PBmodcomp and lme4's bootMer (tests/golden/inference.json ``PB_LRT``,
lme4_extras.json ``profile_ci``), reproducibility across joblib backends and a local Dask cluster."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from conftest import golden

import mixbayes as mb
from mixbayes.inference import refit
from mixbayes.inference.bootstrap import percentile_interval
from mixbayes.inference.progress import Progress

PB = golden("inference")["PB_LRT"]
PROFILE_DAYS_SD = dict(zip(golden("lme4_extras")["profile_ci"][0]["rows"],
                           zip(golden("lme4_extras")["profile_ci"][0]["lower"],
                               golden("lme4_extras")["profile_ci"][0]["upper"], strict=True), strict=True))[
    "sd_Days|Subject"]


@pytest.fixture(scope="module")
def models() -> tuple[mb.results.lmm.LmmFit, mb.results.lmm.LmmFit]:
    ss = mb.load_dataset("sleepstudy")
    return (mb.lmer("Reaction ~ Days + (Days || Subject)", ss), mb.lmer("Reaction ~ Days + (Days | Subject)", ss))


@pytest.fixture
def shutdown_loky() -> object:
    yield
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def _check_pbtest(res: mb.inference.bootstrap.PBTest, nsim: int) -> None:
    assert res.nsim == nsim and res.n_failed == 0 and len(res.simulated) == nsim
    assert res.df == PB["df"] == 1
    assert res.stat == pytest.approx(PB["stat"], rel=1e-4)
    assert res.p_chisq == pytest.approx(PB["p_chisq"], rel=1e-4)
    # the bootstrap p-value estimates a probability near the chi-square p (0.80); binomial Monte Carlo error
    se = np.sqrt(PB["p_chisq"] * (1 - PB["p_chisq"]) / nsim)
    assert abs(res.p_value - PB["p_chisq"]) < 4 * se
    # pbkrtest's rule: (1 + #{LRT* > LRT}) / (1 + #{LRT* > 0})
    sim = res.simulated
    assert res.p_value == (1 + np.sum(sim[sim > 0] > res.stat)) / (1 + np.sum(sim > 0))
    assert list(res.table.index) == ["LRT", "PBtest"]


def test_pbtest_sleepstudy_nsim100(models: tuple) -> None:
    _check_pbtest(mb.pbtest(*models, nsim=100, random_seed=20240607), 100)


@pytest.mark.slow
def test_pbtest_sleepstudy_nsim500(models: tuple) -> None:
    """The acceptance check: nsim = 500, p-value consistent with the chi-square p of 0.80."""
    _check_pbtest(mb.pbtest(*models, nsim=500, random_seed=20240607), 500)


def _check_days_sd(boot: mb.inference.bootstrap.BootstrapResult) -> None:
    ci = boot.confint()
    assert list(ci.columns) == ["2.5 %", "97.5 %"]
    assert list(ci.index) == ["sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject", "sd_Days|Subject", "sigma",
                              "(Intercept)", "Days", "icc"]
    lo, hi = ci.loc["sd_Days|Subject"]
    centre = 0.5 * (PROFILE_DAYS_SD[0] + PROFILE_DAYS_SD[1])
    assert lo < centre < hi
    assert ((ci.iloc[:, 0] < boot.t0) & (boot.t0 < ci.iloc[:, 1])).all()


def test_bootstrap_days_sd_covers_profile_centre_nsim100(models: tuple) -> None:
    boot = models[1].bootstrap(nsim=100, random_seed=11)
    assert boot.n_failed == 0 and boot.replicates.shape == (100, 7)
    _check_days_sd(boot)


@pytest.mark.slow
def test_bootstrap_days_sd_covers_profile_centre_nsim500(models: tuple) -> None:
    _check_days_sd(models[1].bootstrap(nsim=500, random_seed=11))


def test_results_do_not_depend_on_chunking(models: tuple) -> None:
    fit = models[1]
    a = mb.inference.bootstrap.bootstrap(fit, nsim=12, random_seed=5, chunk_size=5)
    b = mb.inference.bootstrap.bootstrap(fit, nsim=12, random_seed=5, chunk_size=1)
    c = mb.inference.bootstrap.bootstrap(fit, nsim=12, random_seed=5)
    pd.testing.assert_frame_equal(a.replicates, b.replicates)
    pd.testing.assert_frame_equal(a.replicates, c.replicates)
    d = mb.inference.bootstrap.bootstrap(fit, nsim=12, random_seed=6)
    assert not np.allclose(a.replicates, d.replicates)
    again = mb.inference.bootstrap.bootstrap(fit, nsim=12, random_seed=a.seed_entropy)
    pd.testing.assert_frame_equal(a.replicates, again.replicates)


def test_user_statistic_and_fixef(models: tuple) -> None:
    fit = models[1]
    fast = fit.bootstrap(nsim=6, statistic="fixef", random_seed=3)
    user = fit.bootstrap(nsim=6, statistic=lambda f: f.fixef, random_seed=3)
    assert list(user.t0.index) == ["(Intercept)", "Days"]
    np.testing.assert_allclose(user.replicates.to_numpy(), fast.replicates.to_numpy(), rtol=1e-9)
    # each replicate is the refit of the response drawn from its own stream
    ss = np.random.SeedSequence(3).spawn(6)
    y = refit.simulate_response(fit.design, fit.beta, fit.theta, fit.sigma, np.random.default_rng(ss[4]))
    np.testing.assert_allclose(fast.replicates.iloc[4], fit.refit(y, emit_warnings=False).fixef, rtol=1e-8)
    np.testing.assert_array_equal(
        y, fit.simulate(1, random_seed=np.random.default_rng(ss[4])).to_numpy()[:, 0])
    assert fit.bootstrap(nsim=2, random_seed=1).t0["icc"] == pytest.approx(fit.icc().adjusted, rel=1e-12)
    scalar = fit.bootstrap(nsim=3, statistic=lambda f: f.sigma, random_seed=1)
    assert list(scalar.t0.index) == ["t1"] and scalar.replicates.shape == (3, 1)


def test_failed_refits_are_recorded(models: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    original = refit.Refitter.fit
    calls = {"n": 0}

    def flaky(self: refit.Refitter, y: np.ndarray, start: np.ndarray | None = None) -> refit.RefitEstimate:
        calls["n"] += 1
        if calls["n"] % 4 == 0:
            raise ArithmeticError("simulated failure")
        return original(self, y, start)

    monkeypatch.setattr(refit.Refitter, "fit", flaky)
    boot = models[1].bootstrap(nsim=8, random_seed=1)
    assert boot.n_failed == 2
    assert boot.failures == {"ArithmeticError: simulated failure": 2}
    assert boot.replicates.isna().all(axis=1).sum() == 2
    assert "2 failed" in str(boot)
    assert np.isfinite(boot.confint().to_numpy()).all()
    calls["n"] = 0
    res = mb.pbtest(*models, nsim=6, random_seed=1)  # two refits per replicate: every second replicate fails
    assert res.n_failed == 3 and np.isnan(res.simulated).sum() == 3

    def broken(self: refit.Refitter, y: np.ndarray, start: np.ndarray | None = None) -> refit.RefitEstimate:
        raise ArithmeticError("always")

    monkeypatch.setattr(refit.Refitter, "fit", broken)
    with pytest.raises(mb.BootstrapError, match="all 3 bootstrap refits failed"):
        models[1].bootstrap(nsim=3, random_seed=1)


def test_statistic_errors_are_recorded(models: tuple) -> None:
    fit = models[1]

    def stat(f: mb.results.lmm.LmmFit) -> pd.Series:
        if f.fixef["Days"] > fit.fixef["Days"]:  # steeper than the fitted slope: some replicates, not all
            raise ValueError("too steep")
        return f.fixef

    boot = fit.bootstrap(nsim=10, statistic=stat, random_seed=2)
    assert 0 < boot.n_failed < 10
    assert boot.failures == {"ValueError: too steep": boot.n_failed}


def test_pbtest_checks_its_input(models: tuple) -> None:
    other = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy").iloc[:170])
    with pytest.raises(mb.MixbayesError, match="same data"):
        mb.pbtest(models[0], other, nsim=2)
    swapped = mb.pbtest(models[1], models[0], nsim=2, random_seed=1)
    assert swapped.df == 1 and swapped.stat > 0
    assert "PBtest" in str(swapped)


def test_percentile_interval_follows_boot() -> None:
    t = np.arange(1.0, 40.0)  # R = 39: (R + 1) 0.025 = 1 and (R + 1) 0.975 = 39 are order statistics
    assert percentile_interval(t) == pytest.approx((1.0, 39.0), rel=1e-12)
    t = np.arange(1.0, 20.0)  # R = 19: ranks 0.5 and 19.5 fall outside: the extremes
    assert percentile_interval(t) == (1.0, 19.0)
    rng = np.random.default_rng(1)
    t = rng.normal(size=99)  # rank 2.5: between the 2nd and 3rd order statistics, on the normal scale
    s = np.sort(t)
    lo, hi = percentile_interval(t)
    assert s[1] < lo < s[2] and s[96] < hi < s[97]
    assert percentile_interval(np.append(t, [np.nan, np.inf])) == (lo, hi)


def test_progress_is_silent_unless_asked() -> None:
    out = io.StringIO()
    with Progress(10, "refits", stream=out) as bar:  # a StringIO is not a terminal
        bar.update(10)
    assert out.getvalue() == ""
    with Progress(10, "refits", enabled=True, stream=out) as bar:
        bar.update(4)
        bar.update(6)
    assert "10/10 refits" in out.getvalue()


def test_loky_workers_give_the_same_results(models: tuple, shutdown_loky: object) -> None:
    ref = mb.pbtest(*models, nsim=20, random_seed=7)
    par = mb.pbtest(*models, nsim=20, random_seed=7, backend="loky", n_jobs=2)
    np.testing.assert_array_equal(ref.simulated, par.simulated)


def _dask_run(models: tuple, nsim: int) -> None:
    import joblib
    from distributed import Client, LocalCluster, get_task_stream

    loky_pb = mb.pbtest(*models, nsim=nsim, random_seed=99, backend="loky", n_jobs=2)
    loky_boot = models[1].bootstrap(nsim=nsim, random_seed=98, backend="loky", n_jobs=2)
    with (LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                       dashboard_address=None) as cluster, Client(cluster) as client,
          get_task_stream(client) as tasks, joblib.parallel_config(backend="dask")):
        dask_pb = mb.pbtest(*models, nsim=nsim, random_seed=99)
        dask_boot = models[1].bootstrap(nsim=nsim, random_seed=98)
    assert len({t["worker"] for t in tasks.data}) == 2  # the refits ran on both cluster workers
    np.testing.assert_array_equal(dask_pb.simulated, loky_pb.simulated)
    assert dask_pb.p_value == loky_pb.p_value
    pd.testing.assert_frame_equal(dask_boot.replicates, loky_boot.replicates)


def test_dask_cluster_gives_the_same_results(models: tuple, shutdown_loky: object) -> None:
    _dask_run(models, 20)


@pytest.mark.slow
def test_dask_cluster_gives_the_same_results_nsim500(models: tuple, shutdown_loky: object) -> None:
    _dask_run(models, 500)
