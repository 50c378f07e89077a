"""Linear mixed models on Dask data (issue 16): a fit from partition blocks equals the in-memory fit.

The data are dyadic (multiples of 1/4, weights 1/4, 1, 4), so every cross-product is summed exactly whatever
the partitioning: the blocks, and then every number of the fit, must agree with the pandas fit to rounding.  A
second test uses ordinary floating-point data, where the blocks agree to rounding and the optimiser then
resolves theta as it does for any perturbation of the data at that level (about 1e-7).
"""

from __future__ import annotations

import warnings

import dask
import dask.dataframe as dd
import distributed
import numpy as np
import pandas as pd
import pytest

import mixbayes as mb
from mixbayes.outofcore.design import DaskDataNotSupportedError


def _data(n: int = 3000, seed: int = 7, dyadic: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 40, n)
    h = rng.integers(0, 9, n)
    x = rng.integers(-8, 9, n) / 4 if dyadic else rng.normal(size=n)
    bg = rng.normal(size=(40, 2))
    bh = rng.normal(size=9)
    y = 2 + 0.5 * x + bg[g, 0] + 0.7 * bg[g, 1] * x + bh[h] + rng.normal(size=n)
    o = rng.integers(-2, 3, n) / 4 if dyadic else rng.normal(size=n) / 10
    df = pd.DataFrame({
        "y": np.round(y * 4) / 4 if dyadic else y,
        "x": x,
        "g": g,
        "h": [f"h{v}" for v in h],
        "f": rng.choice(["a", "b", "c"], n),
        "w": rng.choice([0.25, 1.0, 4.0], n) if dyadic else rng.uniform(0.5, 2, n),
        "o": o,
    })
    df.loc[[3, 17], "x"] = np.nan  # missing rows are dropped and counted
    return df


MODELS = {
    "intercepts": ("y ~ x + (1 | g)", {}),
    "correlated_slopes": ("y ~ x + f + (1 + x | g)", {}),
    "crossed": ("y ~ x + (1 | g) + (1 | h) + (1 | h:f)", {}),
    "weights_offset": ("y ~ x + (1 + x | g)", {"weights": "w", "offset": "o"}),
}


def _fit_both(formula: str, kw: dict, ddf: object, df: pd.DataFrame, reml: bool = True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mb.exceptions.MissingDataWarning)
        fd = mb.lmer(formula, ddf, REML=reml, **kw)
        fp = mb.lmer(formula, df, REML=reml, **kw)
    return fd, fp


def _assert_same(fd, fp, obj_rtol: float = 1e-10, tol: float = 1e-8) -> None:
    assert fd.nobs == fp.nobs
    assert abs(fd.objective_value / fp.objective_value - 1) < obj_rtol
    np.testing.assert_allclose(fd.theta, fp.theta, rtol=tol, atol=tol)
    np.testing.assert_allclose(fd.beta, fp.beta, rtol=tol, atol=tol)
    np.testing.assert_allclose(fd.se.to_numpy(), fp.se.to_numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(fd.sigma, fp.sigma, rtol=tol)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _data()


# intercepts and correlated slopes are also covered by the Parquet and ML tests; they run with -m slow
@pytest.mark.parametrize("name", [pytest.param("intercepts", marks=pytest.mark.slow),
                                  pytest.param("correlated_slopes", marks=pytest.mark.slow),
                                  "crossed", "weights_offset"])
def test_threaded_scheduler_equals_pandas(name: str, data: pd.DataFrame) -> None:
    formula, kw = MODELS[name]
    ddf = dd.from_pandas(data, npartitions=5)
    with dask.config.set(scheduler="threads"):
        fd, fp = _fit_both(formula, kw, ddf, data)
        assert type(fd).__name__ == "DaskLmmFit"
        assert fd.design.npartitions == 5 and fd.design.n_dropped == 2
        _assert_same(fd, fp)
        # ranef with conditional variances, Satterthwaite and the ICC need only the blocks
        np.testing.assert_allclose(fd.b, fp.b, rtol=1e-8, atol=1e-8)
        for a, b in zip(fd._cond_blocks(), fp._cond_blocks(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
        pd.testing.assert_frame_equal(fd.satterthwaite(), fp.satterthwaite(), rtol=1e-7)
        assert fd.icc().adjusted == pytest.approx(fp.icc().adjusted, rel=1e-8)
        assert fd.icc().var_fixed == pytest.approx(fp.icc().var_fixed, rel=1e-8)
        # fitted values and residuals come back partition by partition, as Dask series
        fitted = fd.fitted
        assert type(fitted).__module__.startswith("dask")
        np.testing.assert_allclose(fitted.compute().sort_index().to_numpy(), fp.fitted.to_numpy(), atol=1e-8)
        np.testing.assert_allclose(fd.residuals("scaled").compute().sort_index().to_numpy(),
                                   fp.residuals("scaled").to_numpy(), atol=1e-8)


def test_ml_anova_summary_and_predict(data: pd.DataFrame) -> None:
    formula = "y ~ x * f + (1 + x | g) + (1 | h)"
    ddf = dd.from_pandas(data, npartitions=4)
    with dask.config.set(scheduler="threads"):
        fd, fp = _fit_both(formula, {}, ddf, data, reml=False)
        _assert_same(fd, fp)
        assert fd.deviance == pytest.approx(fp.deviance, rel=1e-10)
        assert fd.aic == pytest.approx(fp.aic, rel=1e-10)
        pd.testing.assert_frame_equal(fd.anova(), fp.anova(), rtol=1e-6)
        pd.testing.assert_frame_equal(fd.anova(type=1), fp.anova(type=1), rtol=1e-6)
        text = str(fd.summary())
        assert "Scaled residuals: not computed" in text and "Satterthwaite" in text
        new = data.iloc[::7].dropna()
        pred = fd.predict(dd.from_pandas(new, npartitions=2)).compute()
        np.testing.assert_allclose(pred.to_numpy(), fp.predict(new).to_numpy(), atol=1e-8)
        np.testing.assert_allclose(fd.predict(new, include_random=False).to_numpy(),
                                   fp.predict(new, include_random=False).to_numpy(), atol=1e-8)


# crossed factors with weights and offsets in the default run; every model of MODELS with -m slow
LOCAL_CLUSTER = {"crossed_weights_offset": (MODELS["crossed"][0], MODELS["weights_offset"][1]), **MODELS}


@pytest.mark.parametrize("name", [pytest.param(k, marks=[] if k == "crossed_weights_offset" else pytest.mark.slow)
                                  for k in LOCAL_CLUSTER])
def test_local_cluster_equals_pandas(name: str, data: pd.DataFrame) -> None:
    ddf = dd.from_pandas(data, npartitions=6)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        formula, kw = LOCAL_CLUSTER[name]
        fd, fp = _fit_both(formula, kw, ddf, data)
        _assert_same(fd, fp)
        np.testing.assert_allclose(fd.fitted.compute().sort_index().to_numpy(), fp.fitted.to_numpy(), atol=1e-8)


def test_parquet_dataset(data: pd.DataFrame, tmp_path) -> None:
    path = tmp_path / "data.parquet"
    dd.from_pandas(data, npartitions=3).to_parquet(path)
    formula, kw = MODELS["correlated_slopes"]
    with dask.config.set(scheduler="threads"):
        fd, fp = _fit_both(formula, kw, str(path), data)
        assert fd.design.n_rows == len(data) and fd.design.npartitions >= 1
        _assert_same(fd, fp)
        model = mb.Model(formula, path)
        assert model.is_out_of_core and model.design.nobs == fp.nobs


def test_floating_point_data_blocks_agree() -> None:
    """With ordinary data the summed blocks equal the in-memory ones to rounding; the fits then agree as two
    fits of data perturbed at rounding level do (theta to the optimiser's resolution)."""
    df = _data(dyadic=False)
    formula, kw = MODELS["weights_offset"]
    with dask.config.set(scheduler="threads"):
        fd, fp = _fit_both(formula, kw, dd.from_pandas(df, npartitions=7), df)
    cd, cp = fd.design.blocks.cp, fp.estimate.objective.cp
    for a, b in ((cd.A11, cp.A11), (cd.Ax1, cp.Ax1), (cd.Arr, cp.Arr), (cd.Ar1.toarray(), cp.Ar1.toarray())):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max(initial=1.0))
    assert abs(fd.objective_value / fp.objective_value - 1) < 1e-10
    # the objective agrees to 1e-10, so theta's argmin is fixed only to about sqrt(eps) ~ 1e-7 in absolute terms
    # (a small theta such as 0.0056 cannot be held to a relative 1e-5)
    np.testing.assert_allclose(fd.theta, fp.theta, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fd.beta, fp.beta, rtol=1e-6)


def test_refusals_are_typed(data: pd.DataFrame) -> None:
    ddf = dd.from_pandas(data, npartitions=2)
    with dask.config.set(scheduler="threads"):
        data2 = data.assign(k=(data["y"] > 2).astype(int))
        with pytest.raises(DaskDataNotSupportedError, match="generalised"):
            mb.glmer("k ~ x + (1 | g)", dd.from_pandas(data2, npartitions=2), family="binomial")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mb.exceptions.MissingDataWarning)
            fit = mb.lmer("y ~ x + (1 | g)", ddf)
        for call in (lambda: fit.model.fit(method="map"), fit.simulate, fit.bootstrap,
                     fit.profile, lambda: fit.summary(ddf="kenward-roger"), lambda: fit.confint(method="profile")):
            with pytest.raises(DaskDataNotSupportedError):
                call()
        with pytest.raises(DaskDataNotSupportedError, match="data-dependent"):
            mb.lmer("y ~ scale(x) + (1 | g)", ddf)
        with pytest.raises(mb.exceptions.DesignError, match="name a column"):
            mb.lmer("y ~ x + (1 | g)", ddf, weights=np.ones(len(data)))
