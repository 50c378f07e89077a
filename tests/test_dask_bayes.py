"""The Bayesian fit of a Gaussian LMM on Dask data (issue 16): NUTS on the blocked-Schur marginal likelihood of
the summed partition blocks equals the in-memory blocked-Schur posterior of the same data and seed; what needs the
rows is refused with a typed error."""

from __future__ import annotations

import warnings

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from test_dask_lmm import _data

import mixbayes as mb
from mixbayes.outofcore.design import DaskDataNotSupportedError

SAMPLING = {"chains": 1, "tune": 30, "draws": 60, "random_seed": 11, "progressbar": False, "emit_warnings": False}
CROSSED = "y ~ x + (1 | g) + (1 | h)"


def _models(formula: str, df: pd.DataFrame, npartitions: int = 4, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mb.exceptions.MissingDataWarning)
        with dask.config.set(scheduler="threads"):
            md = mb.Model(formula, dd.from_pandas(df, npartitions=npartitions), **kw)
        mp = mb.Model(formula, df, **kw)
    return md, mp


@pytest.fixture(scope="module")
def crossed_fits():
    df = _data(dyadic=False)
    md, mp = _models(CROSSED, df, weights="w", offset="o")
    priors = mp.priors
    fp = mp.sample(priors=priors, marginalize="schur", **SAMPLING)
    with dask.config.set(scheduler="threads"):
        fd = md.sample(priors=priors, **SAMPLING)
    return df, md, mp, fd, fp


def test_blocks_posterior_equals_in_memory(crossed_fits) -> None:
    """Same form (blocked Schur), same priors and seed: the same draws, to the rounding of the summed blocks."""
    _df, md, mp, fd, fp = crossed_fits
    assert type(fd).__name__ == "DaskBayesFit"
    assert fd.sampler_info.parameterisation == fp.sampler_info.parameterisation == "schur"
    assert fd.built.from_blocks and fd.built.rows.size == 0  # no row entered the sampler
    assert set(fd.posterior.data_vars) == set(fp.posterior.data_vars)
    for name in fp.posterior.data_vars:  # beta, sigma, SDs, and the random effects drawn from the blocks
        np.testing.assert_allclose(fd.posterior[name].values, fp.posterior[name].values, rtol=1e-7, atol=1e-7,
                                   err_msg=name)
    # the default priors come from the blocks' moments and equal the in-memory ones
    for a, b in zip(md.priors.entries, mp.priors.entries, strict=True):
        assert a.name == b.name and a.prior.distribution == b.prior.distribution
        for key, value in b.prior.params.items():
            assert a.prior.params[key] == pytest.approx(value, rel=1e-10, abs=1e-12), (a.name, key)


def test_blocks_posterior_summaries_and_predict(crossed_fits) -> None:
    df, _md, _mp, fd, fp = crossed_fits
    pd.testing.assert_frame_equal(fd.fixef_summary(), fp.fixef_summary(), rtol=1e-6)
    assert fd.icc().adjusted.mean == pytest.approx(fp.icc().adjusted.mean, rel=1e-6)
    assert "schur" in str(fd.summary())
    # the fitted rows' posterior mean, partition by partition, as a Dask series
    pred = fd.predict()
    assert type(pred).__module__.startswith("dask")
    np.testing.assert_allclose(pred.compute().sort_index().to_numpy(), fp.predict()["mean"].to_numpy(), atol=1e-6)
    new = df.dropna().iloc[::50]
    pd.testing.assert_frame_equal(fd.predict(new), fp.predict(new), rtol=1e-6)
    with dask.config.set(scheduler="threads"):
        dpred = fd.predict(dd.from_pandas(new, npartitions=2), include_random=False).compute()
    np.testing.assert_allclose(dpred.to_numpy(), fp.predict(new, include_random=False)["mean"].to_numpy(),
                               atol=1e-6)


def test_row_level_outputs_are_refused(crossed_fits) -> None:
    _df, md, _mp, fd, _fp = crossed_fits
    for call, match in ((fd.loo, "LOO"), (fd.waic, "WAIC"), (fd.pointwise_loglik, "per-observation"),
                        (lambda: fd.predict(summary=False), "draws per row"),
                        (lambda: fd.predict(predictive=True), "draws per row"),
                        (fd.predict_intervals, "pandas frame"),
                        (lambda: md.sample(marginalize=False, **SAMPLING), "noncentred|non-centred"),
                        (lambda: md.sample(marginalize="dense", **SAMPLING), "rows"),
                        (lambda: md.sample(posterior_predictive=True, **SAMPLING), "fit.predict"),
                        (md.sample_prior_predictive, "in-memory sample")):
        with pytest.raises(DaskDataNotSupportedError, match=match):
            call()


def test_designs_the_gram_form_cannot_hold_are_refused() -> None:
    df = _data(n=600)
    md, _ = _models("y ~ x + (1 | g) + (0 + x | g) + (1 | h)", df)  # two terms of the block factor
    with pytest.raises(DaskDataNotSupportedError, match="one random-effects term"):
        md.sample(**SAMPLING)


@pytest.mark.slow
def test_one_factor_posterior_matches_in_memory_block_form() -> None:
    """One grouping factor: the blocks' posterior (Schur form with an empty Schur part) against the in-memory
    block form sampled from rows: different forms, so within Monte Carlo error."""
    df = _data(dyadic=False)
    md, mp = _models("y ~ x + (1 + x | g)", df, weights="w", offset="o")
    kw = {**SAMPLING, "chains": 2, "tune": 300, "draws": 400}
    fp = mp.sample(**kw)
    with dask.config.set(scheduler="threads"):
        fd = md.sample(**kw)
    assert fp.sampler_info.parameterisation == "block" and fd.sampler_info.parameterisation == "schur"
    a, b = fd.fixef_summary(), fp.fixef_summary()
    mcse = np.hypot(a["mcse"], b["mcse"])
    assert np.all(np.abs(a["mean"] - b["mean"]) < 5 * mcse), (a, b)
    va, vb = fd.varcorr.as_frame(), fp.varcorr.as_frame()
    assert np.all(np.abs(va["mean"].to_numpy() - vb["mean"].to_numpy()) < 0.1 * np.abs(vb["mean"].to_numpy()) + 0.05)
