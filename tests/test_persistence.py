"""Saving and loading: pickle round trips of models, fits and their summaries; ``fit.save`` / ``mb.load`` round trips
in a fresh process (identical summaries, predictions and draws); typed errors for foreign, damaged and newer files;
loading never unpickles (a crafted payload does not run)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixbayes as mb
from mixbayes.exceptions import FileFormatError, LoadMismatchWarning, NotSupportedError
from mixbayes.families import _ALLOWED_LINKS, get_family
from mixbayes.persistence import FORMAT_VERSION
from mixbayes.persistence.table import frame_from_csv, frame_to_csv

HEAVY = ("pymc", "pytensor", "arviz", "arviz_base", "jax", "xarray")


def _quiet_fit(model: mb.Model, **kwargs: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(**kwargs)


@pytest.fixture(scope="module")
def fits() -> dict[str, object]:
    sleep = mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    cbpp = mb.load_dataset("cbpp")
    ticks = mb.load_dataset("grouseticks")
    dyestuff = mb.Model("Yield ~ 1 + (1 | Batch)", mb.load_dataset("Dyestuff"))
    return {
        "model": sleep,
        "lmm": _quiet_fit(sleep),
        "lmm_ml": _quiet_fit(dyestuff, method="ml"),
        "binomial": _quiet_fit(mb.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                                        family="binomial")),
        "poisson": _quiet_fit(mb.Model("TICKS ~ YEAR + (1 | LOCATION)", ticks, family="poisson")),
        "negbin": _quiet_fit(mb.Model("TICKS ~ YEAR + (1 | LOCATION)", ticks, family="negative_binomial")),
        "map": _quiet_fit(sleep, method="map"),
        "map_glmm": _quiet_fit(mb.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                                        family="binomial"), method="map"),
    }


@pytest.fixture(scope="module")
def bayes() -> object:
    """A tiny Bayesian fit (one chain, 40 draws): enough to test that its draws survive, not to be accurate."""
    model = mb.Model("Yield ~ 1 + (1 | Batch)", mb.load_dataset("Dyestuff"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.sample(draws=40, tune=40, chains=1, random_seed=7, progressbar=False)


_SUMMARIES: dict[int, tuple[object, str]] = {}


def _summary_object(fit: object) -> tuple[object, str]:
    """The summary of a fixture's fit and its text, computed once (a MAP summary simulates its intervals)."""
    if id(fit) not in _SUMMARIES:
        summary = fit.summary()
        _SUMMARIES[id(fit)] = (summary, str(summary))
    return _SUMMARIES[id(fit)]


def _summary(fit: object) -> str:
    return _summary_object(fit)[1]


def _same_draws(a: object, b: object) -> None:
    for group in ("posterior", "sample_stats", "log_likelihood", "observed_data"):
        for name, var in a.idata[group].data_vars.items():
            np.testing.assert_array_equal(b.idata[group][name].values, var.values, err_msg=f"{group}/{name}")
    pa, pb = a.params, b.params
    for name in ("beta", "beta_c", "sigma"):
        np.testing.assert_array_equal(getattr(pb, name), getattr(pa, name))
    for k in range(len(pa.sd)):
        np.testing.assert_array_equal(pb.sd[k], pa.sd[k])
        np.testing.assert_array_equal(pb.cor_chol[k], pa.cor_chol[k])
        np.testing.assert_array_equal(pb.b[k], pa.b[k])


# ---- pickle --------------------------------------------------------------------------------------------------------

def test_links_and_families_pickle() -> None:
    eta = np.linspace(-3, 3, 12)  # no 0: the inverse link divides by eta
    for name, links in _ALLOWED_LINKS.items():
        for link in links:
            fam = get_family(name, link)
            back = pickle.loads(pickle.dumps(fam))
            assert back == fam and str(back) == str(fam)
            np.testing.assert_array_equal(back.link.mu_eta(eta), fam.link.mu_eta(eta))
            mu = fam.valid_mu(fam.link.inverse(eta))
            np.testing.assert_array_equal(back.link.inverse(eta), fam.link.inverse(eta))
            np.testing.assert_allclose(back.link.link(mu), fam.link.link(mu))


@pytest.mark.parametrize("name", ["lmm", "lmm_ml", "binomial", "poisson", "negbin", "map", "map_glmm"])
def test_likelihood_fits_pickle(fits: dict[str, object], name: str) -> None:
    fit = fits[name]
    back = pickle.loads(pickle.dumps(fit))
    assert type(back) is type(fit)
    if name.startswith("map"):  # a MAP summary simulates its intervals (slow): compare what it is made of
        pd.testing.assert_frame_equal(back.varcorr_intervals(draws=200), fit.varcorr_intervals(draws=200))
        assert back.log_posterior == fit.log_posterior and str(back.varcorr) == str(fit.varcorr)
        np.testing.assert_array_equal(back.phi_vcov, fit.phi_vcov)
        pd.testing.assert_frame_equal(back.vcov, fit.vcov)
    else:
        assert str(back.summary()) == _summary(fit)
    pd.testing.assert_series_equal(back.predict(), fit.predict())
    np.testing.assert_array_equal(back.theta, fit.theta)
    pd.testing.assert_frame_equal(back.ranef().as_frame(), fit.ranef().as_frame())
    # summaries and variance components pickle too
    summary, text = _summary_object(fit)
    assert str(pickle.loads(pickle.dumps(summary))) == text
    assert str(pickle.loads(pickle.dumps(fit.varcorr))) == str(fit.varcorr)


def test_model_pickles_without_its_compiled_cache(fits: dict[str, object], bayes: object) -> None:
    model = fits["model"]
    back = pickle.loads(pickle.dumps(model))
    assert repr(back) == repr(model)
    np.testing.assert_array_equal(back.design.X, model.design.X)
    assert str(back.fit().summary()) == _summary(fits["lmm"])
    # a sampled model holds PyMC models and compiled samplers: they stay out of the pickle
    assert bayes.model.bayes_cache
    assert pickle.loads(pickle.dumps(bayes.model)).bayes_cache == {}


def test_bayes_fit_pickles(bayes: object, fits: dict[str, object]) -> None:
    state = bayes.__getstate__()
    assert state["_built"] is None  # the PyMC model and the compiled sampler are not pickled
    back = pickle.loads(pickle.dumps(bayes))
    assert str(back.summary()) == _summary(bayes)
    _same_draws(bayes, back)
    pd.testing.assert_frame_equal(back.predict(random_seed=3), bayes.predict(random_seed=3))
    lmm = _quiet_fit(bayes.model)
    for obj in (mb.compare(lmm, bayes), bayes.icc(), bayes.diagnose(), bayes.varcorr):
        assert str(pickle.loads(pickle.dumps(obj))) == str(obj)
    assert back.built.mode == bayes.built.mode  # rebuilt on first use


# ---- save and load in a fresh process ------------------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    import pandas as pd
    import mixbayes as mb

    paths, newdata_csv = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    out = {}
    heavy = %r
    for name, path in paths.items():
        if name == "bayes":
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error", mb.LoadMismatchWarning)
            obj = mb.load(path)
        if name == "model":
            out[name] = {"repr": repr(obj), "X": np.asarray(obj.design.X).tolist()}
            continue
        nd = pd.read_csv(newdata_csv[name][0], dtype=dict.fromkeys(newdata_csv[name][1], str)) \
            if name in newdata_csv else None
        out[name] = {"type": type(obj).__name__, "summary": str(obj.summary()),
                     "predict": obj.predict().tolist(),
                     "newdata": None if nd is None else obj.predict(nd, allow_new_levels=True).tolist()}
    out["heavy_after_likelihood_loads"] = sorted(m for m in heavy if m in sys.modules)
    b = mb.load(paths["bayes"])
    lmm = mb.load(paths["lmm_ml"])
    out["bayes"] = {"summary": str(b.summary()), "predict": b.predict(random_seed=3).to_numpy().tolist(),
                    "beta": b.posterior["beta"].values.tolist(), "r": b.params.b[0].tolist(),
                    "compare": str(mb.compare(lmm, b)), "waic": str(b.waic())}
    print(json.dumps(out))
""") % (HEAVY,)


def test_save_load_in_a_fresh_process(fits: dict[str, object], bayes: object, tmp_path: Path) -> None:
    paths = {}
    for name, obj in [*fits.items(), ("bayes", bayes)]:
        paths[name] = str(obj.save(tmp_path / f"{name}.mixbayes"))
        assert zipfile.is_zipfile(paths[name])
    newdata = {"lmm": (mb.load_dataset("sleepstudy").iloc[[0, 5, 17]].assign(Subject=["308", "999", "372"]),
                       ["Subject"]),
               "binomial": (mb.load_dataset("cbpp").iloc[[0, 3, 9]], ["herd", "period"])}
    csvs = {}
    for name, (frame, str_cols) in newdata.items():
        csvs[name] = (str(tmp_path / f"{name}_new.csv"), str_cols)
        frame.to_csv(csvs[name][0], index=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(paths), json.dumps(csvs)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])

    model = fits["model"]
    assert got["model"] == {"repr": repr(model), "X": np.asarray(model.design.X).tolist()}
    for name, fit in fits.items():
        if name == "model":
            continue
        assert got[name]["type"] == type(fit).__name__
        assert got[name]["summary"] == _summary(fit), name
        assert got[name]["predict"] == fit.predict().tolist(), name  # bit for bit
        if name in newdata:
            frame = pd.read_csv(csvs[name][0], dtype=dict.fromkeys(csvs[name][1], str))
            assert got[name]["newdata"] == fit.predict(frame, allow_new_levels=True).tolist(), name
    # loading likelihood fits brings in none of the Bayesian stack
    assert got["heavy_after_likelihood_loads"] == []
    b = got["bayes"]
    assert b["summary"] == _summary(bayes)
    assert b["beta"] == bayes.posterior["beta"].values.tolist()  # the draws, not new ones
    assert b["r"] == bayes.params.b[0].tolist()
    assert b["predict"] == bayes.predict(random_seed=3).to_numpy().tolist()
    assert b["compare"] == str(mb.compare(fits["lmm_ml"], bayes))
    assert b["waic"] == str(bayes.waic())


def test_loaded_bayes_fit_keeps_its_draws_in_process(bayes: object, tmp_path: Path) -> None:
    path = bayes.save(tmp_path / "b.mixbayes")
    back = mb.load(path)
    _same_draws(bayes, back)
    assert back.sampler_info == bayes.sampler_info
    assert back.priors.key() == bayes.priors.key()
    assert str(back.diagnose()) == str(bayes.diagnose())


def test_arviz_netcdf_save_path_works(bayes: object, tmp_path: Path) -> None:
    import xarray as xr

    target = tmp_path / "idata.nc"
    bayes.idata.to_netcdf(target)  # ArviZ's documented way to keep a DataTree
    back = xr.open_datatree(target).load()
    np.testing.assert_array_equal(back["posterior"]["beta"].values, bayes.posterior["beta"].values)


# ---- typed errors --------------------------------------------------------------------------------------------------

def _rewrite(src: Path, dst: Path, manifest_edit: object = None, replace: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "manifest.json" and manifest_edit is not None:
                manifest = json.loads(data)
                manifest_edit(manifest)
                data = json.dumps(manifest).encode()
            if replace and item in replace:
                data = replace[item]
            zout.writestr(item, data)
    return dst


def test_newer_format_version_is_refused(fits: dict[str, object], tmp_path: Path) -> None:
    good = fits["lmm"].save(tmp_path / "good.mixbayes")
    bad = _rewrite(good, tmp_path / "newer.mixbayes", lambda m: m.update(format_version=FORMAT_VERSION + 98))
    with pytest.raises(FileFormatError, match=rf"format version {FORMAT_VERSION + 98}.*upgrade mixbayes"):
        mb.load(bad)
    bad = _rewrite(good, tmp_path / "zero.mixbayes", lambda m: m.update(format_version=0))
    with pytest.raises(FileFormatError, match="invalid format version 0"):
        mb.load(bad)


def test_foreign_and_damaged_files_are_refused(fits: dict[str, object], tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("Reaction ~ Days\n")
    with pytest.raises(FileFormatError, match=r"not a mixbayes file \(not a ZIP"):
        mb.load(text)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(FileFormatError, match=r"no manifest\.json"):
        mb.load(other)
    good = fits["lmm"].save(tmp_path / "good.mixbayes")
    with pytest.raises(FileFormatError, match="does not name the format 'mixbayes'"):
        mb.load(_rewrite(good, tmp_path / "fmt.mixbayes", lambda m: m.update(format="something-else")))
    with pytest.raises(FileFormatError, match="unknown kind of object 'Spreadsheet'"):
        mb.load(_rewrite(good, tmp_path / "kind.mixbayes", lambda m: m.update(kind="Spreadsheet")))
    with pytest.raises(FileFormatError, match=r"manifest\.json is not JSON"):
        mb.load(_rewrite(good, tmp_path / "json.mixbayes", replace={"manifest.json": b"{not json"}))
    with pytest.raises(FileFormatError, match="the data table has shape"):
        mb.load(_rewrite(good, tmp_path / "rows.mixbayes", lambda m: m["data"].update(n_rows=3)))
    with pytest.raises(FileFormatError, match="is not a file"):
        mb.load(tmp_path)
    assert issubclass(FileFormatError, mb.MixbayesError)


def test_refit_that_differs_from_the_saved_estimates_warns(fits: dict[str, object], tmp_path: Path) -> None:
    good = fits["lmm"].save(tmp_path / "good.mixbayes")

    def shift(m: dict) -> None:
        m["fit"]["estimates"]["beta"] = [b + 1.0 for b in m["fit"]["estimates"]["beta"]]
        m["mixbayes_version"] = "0.0.1"

    with pytest.warns(LoadMismatchWarning, match=r"refitted beta differ .*mixbayes 0\.0\.1.*Remedy"):
        fit = mb.load(_rewrite(good, tmp_path / "shifted.mixbayes", shift))
    np.testing.assert_array_equal(fit.beta, fits["lmm"].beta)  # the loaded fit is the refit


def test_what_cannot_be_saved_says_so(fits: dict[str, object], tmp_path: Path) -> None:
    lmm = fits["lmm"]
    with pytest.raises(NotSupportedError, match="new response"):
        lmm.refit(lmm.simulate(random_seed=1).iloc[:, 0]).save(tmp_path / "refit.mixbayes")
    with pytest.raises(NotSupportedError, match="is a directory"):
        lmm.save(tmp_path)
    with pytest.raises(NotSupportedError, match="a VarCorr cannot be saved"):
        mb.persistence.save(lmm.varcorr, tmp_path / "vc.mixbayes")
    data = mb.load_dataset("sleepstudy").assign(when=pd.Timestamp("2020-01-01"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mb.Model("Reaction ~ Days + (1 | Subject)", data)
    with pytest.raises(NotSupportedError, match="column 'when' of dtype datetime64"):
        model.save(tmp_path / "dates.mixbayes")
    assert not list(tmp_path.glob(".mixbayes-*"))  # no half-written file left behind


# ---- loading never unpickles ---------------------------------------------------------------------------------------

class _Payload:
    """Unpickling this creates the marker file (as an attacker's payload would run code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def test_loading_never_unpickles(bayes: object, fits: dict[str, object], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned"
    good = bayes.save(tmp_path / "good.mixbayes")
    evil = pickle.dumps(_Payload(marker))
    npz_path = tmp_path / "evil.npz"
    np.savez(npz_path, beta=np.array([_Payload(marker)], dtype=object))
    crafted = {
        "pickle.mixbayes": None,
        "npz.mixbayes": {"params.npz": npz_path.read_bytes()},
        "nc.mixbayes": {"posterior.nc": evil},
        "csv.mixbayes": {"data.csv": evil},
    }
    (tmp_path / "pickle.mixbayes").write_bytes(evil)
    for name, replace in crafted.items():
        path = tmp_path / name if replace is None else _rewrite(good, tmp_path / name, replace=replace)
        with pytest.raises(FileFormatError):
            mb.load(path)
        assert not marker.exists(), name

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("mb.load used pickle")

    for attr in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, attr, refuse)
    _same_draws(bayes, mb.load(good))
    loaded = mb.load(fits["binomial"].save(tmp_path / "binomial.mixbayes"))
    assert str(loaded.summary()) == _summary(fits["binomial"])
    assert not marker.exists()


# ---- the data table ------------------------------------------------------------------------------------------------

def test_data_table_round_trip_is_exact() -> None:
    frame = pd.DataFrame({
        "x": [0.1, np.nan, np.inf, -1e-300, 1 / 3],
        "s": ["a", None, "", "NA", "nan"],
        "i": [1, 2, 3, 4, -(2**62)],
        "b": [True, False, True, True, False],
        "c": pd.Categorical(["u", None, "v", "u", "v"], categories=["v", "u"], ordered=True),
        "ci": pd.Categorical([3, 1, 1, 3, 1]),
        "I": pd.array([1, None, 3, 4, 5], dtype="Int64"),
        "q": ['he said "x,y"\nthen left', "é", "z", " w ", ""],
        7: [1.5, 2.0, 3.0, 4.0, 5.0],
    }, index=pd.Index(["r1", "r2", "r3", "r4", "r5"], name="id"))
    for f in (frame, mb.load_dataset("grouseticks"), mb.load_dataset("sleepstudy").iloc[::7]):
        text, schema = frame_to_csv(f)
        json.dumps(schema)  # the schema is plain JSON
        pd.testing.assert_frame_equal(frame_from_csv(text, schema), f, check_exact=True)


def test_own_formula_functions_are_named_not_stored(tmp_path: Path) -> None:
    def double(x: object) -> object:
        return 2 * np.asarray(x, dtype=float)

    data = mb.load_dataset("sleepstudy")
    fit = _quiet_fit(mb.Model("Reaction ~ double(Days) + (1 | Subject)", data, functions={"double": double}))
    path = fit.save(tmp_path / "own.mixbayes")
    with zipfile.ZipFile(path) as zf:
        assert json.loads(zf.read("manifest.json"))["model"]["functions"] == ["double"]
    with pytest.raises(NotSupportedError, match=r"calls your own function 'double'.*functions="):
        mb.load(path)
    back = mb.load(path, functions={"double": double})
    assert str(back.summary()) == str(fit.summary())
