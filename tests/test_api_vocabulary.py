"""Issue 11, parts 3 and 4: options parsed once into settings records, unknown keywords rejected with a "did you
mean", one warning policy (warnings point at the user's line), one public vocabulary with deprecated aliases, the
property/method rule, and ``mb.report`` no longer shadowing the subpackage ``mixbayes.report``."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from report_standin import StandInBayesFit

import mixbayes as mb
from mixbayes.bayes.results import BayesFit, SamplerInfo
from mixbayes.bayes.settings import SampleControl
from mixbayes.likelihood.glmm import GlmmControl
from mixbayes.likelihood.lmm import LmmControl
from mixbayes.results.glmm import GlmmFit
from mixbayes.results.lmm import LmmFit
from mixbayes.results.map import MapControl, MapFit

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sleep_model() -> mb.Model:
    return mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))


@pytest.fixture(scope="module")
def sleep_fit(sleep_model: mb.Model) -> LmmFit:
    return sleep_model.fit()


# ---- one warning policy -----------------------------------------------------------------------------------------
def test_a_fit_warning_points_at_the_users_line() -> None:
    data = mb.load_dataset("Dyestuff2")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        mb.lmer("Yield ~ 1 + (1 | Batch)", data)
    singular = [w for w in caught if issubclass(w.category, mb.SingularFitWarning)]
    assert singular, [str(w.message) for w in caught]
    assert Path(singular[0].filename).resolve() == Path(__file__).resolve()
    assert singular[0].lineno == line


def test_design_and_deprecation_warnings_point_at_the_users_line(sleep_fit: LmmFit) -> None:
    frame = mb.load_dataset("sleepstudy").copy()
    frame.loc[:4, "Reaction"] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        mb.Model("Reaction ~ Days + (1 | Subject)", frame)
        sleep_fit.simulate(1, seed=1)
    where = [(Path(w.filename).resolve(), w.lineno, w.category) for w in caught]
    assert (Path(__file__).resolve(), line, mb.MissingDataWarning) in where
    assert (Path(__file__).resolve(), line + 1, FutureWarning) in where


# ---- settings records --------------------------------------------------------------------------------------------
def test_fits_keep_the_parsed_settings_record(sleep_model: mb.Model) -> None:
    fit = sleep_model.fit(control={"maxeval": 5000})
    assert isinstance(fit.control, LmmControl) and fit.control.maxeval == 5000
    cbpp = mb.load_dataset("cbpp")
    g = mb.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial",
                 control={"pirls": "exact"})
    assert isinstance(g, GlmmFit) and isinstance(g.control, GlmmControl) and g.control.pirls == "exact"
    m = sleep_model.fit("map", control={"maxeval": 20000}, emit_warnings=False)
    assert isinstance(m, MapFit) and m.control == MapControl(maxeval=20000)
    # the record itself is accepted, and kept as it is
    ctl = LmmControl(optimizer="nelder_mead")
    assert sleep_model.fit(control=ctl).control is ctl


@pytest.mark.parametrize(("call", "message"), [
    (lambda m: m.fit(contrl={}), "'control'"),
    (lambda m: m.fit(control={"maxevl": 10}), "'maxeval'"),
    (lambda m: m.fit("map", control={"optimiser": "bobyqa"}), "'optimizer'"),
    (lambda m: m.fit("map", prior={}), "'priors'"),
    (lambda m: m.sample(draw=10), "'draws'"),
    (lambda m: m.sample(random_sed=1), "'random_seed'"),
    (lambda m: m.sample(n_job=2), "'n_jobs'"),
    (lambda m: m.fit("bayes", control={"draws": 10}), "keywords"),
    (lambda m: m.fit().summary(ddf="satterthwaite", corelation=False), "corelation"),
    (lambda m: m.fit().confint(method="wald", levl=0.9), "'level'"),
    (lambda m: mb.lmer(m.formula.text, m.data, method="bayes", control={}), "keywords"),
], ids=["fit keyword", "LMM control key", "MAP control key", "MAP keyword", "sample draws", "sample seed",
        "sample n_jobs", "control for bayes", "summary keyword", "wald keyword", "lmer bayes control"])
def test_unknown_keywords_are_rejected_with_the_closest_name(sleep_model: mb.Model, call, message: str) -> None:
    with pytest.raises((mb.ArgumentError, TypeError), match=message):
        call(sleep_model)


def test_glmm_control_key_is_checked() -> None:
    cbpp = mb.load_dataset("cbpp")
    with pytest.raises(mb.ArgumentError, match="Did you mean 'tol_pwrss'"):
        mb.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial",
                 control={"tol_pwrs": 1e-7})


def test_records_with_many_fields_are_keyword_only() -> None:
    for cls in (LmmControl, GlmmControl, SampleControl, SamplerInfo):
        assert len(dataclasses.fields(cls)) > 5
        assert all(f.kw_only for f in dataclasses.fields(cls)), cls
    with pytest.raises(TypeError):
        LmmControl("bobyqa")  # type: ignore[misc]
    for cls in (MapFit, BayesFit):
        kinds = [p.kind for p in list(inspect.signature(cls.__init__).parameters.values())[2:]]
        assert kinds and all(k is inspect.Parameter.KEYWORD_ONLY for k in kinds), cls


def test_sample_settings_are_checked_once_and_renamed() -> None:
    s = SampleControl(draws=10, tune=5, chains=1, random_seed=np.int64(3), sampler_kwargs=None)
    assert s.random_seed == 3 and isinstance(s.random_seed, int) and s.sampler_kwargs == {}
    with pytest.raises(mb.ArgumentError, match="n_jobs must be an integer >= 1"):
        SampleControl(n_jobs=0)
    with pytest.raises(mb.NotSupportedError, match="Did you mean 'nutpie'"):
        SampleControl(sampler="nutpy")
    with pytest.warns(FutureWarning, match="is deprecated; use") as record:
        old = SampleControl.from_kwargs("Model.sample", cores=2, seed=4, progress=False)
    said = " ".join(str(w.message) for w in record)
    for old_name, new_name in (("cores", "n_jobs"), ("seed", "random_seed"), ("progress", "progressbar")):
        assert f"'{old_name}' is deprecated; use '{new_name}'" in said
    assert (old.n_jobs, old.random_seed, old.progressbar) == (2, 4, False)
    with pytest.raises(mb.ArgumentError, match="both 'seed' and 'random_seed'"):
        SampleControl.from_kwargs("Model.sample", seed=1, random_seed=2)


def test_old_sample_keywords_warn_before_anything_is_sampled(sleep_model: mb.Model) -> None:
    # a bad value under the old name: the FutureWarning names the new one, the error too (nothing is sampled)
    with pytest.warns(FutureWarning, match="use 'n_jobs'"), pytest.raises(mb.ArgumentError, match="n_jobs"):
        sleep_model.sample(cores=0)
    with pytest.warns(FutureWarning, match="use 'random_seed'"), pytest.raises(mb.ArgumentError, match="random_"):
        sleep_model.sample(seed=-1)
    with pytest.raises(mb.ArgumentError, match="both 'seed' and 'random_seed'"):
        sleep_model.sample(seed=1, random_seed=2)


# ---- one vocabulary ------------------------------------------------------------------------------------------------
def test_random_seed_everywhere_with_the_old_name_deprecated(sleep_fit: LmmFit) -> None:
    new = sleep_fit.simulate(2, random_seed=7)
    with pytest.warns(FutureWarning, match="'seed' is deprecated; use 'random_seed'"):
        old = sleep_fit.simulate(2, seed=7)
    np.testing.assert_array_equal(new.to_numpy(), old.to_numpy())
    with pytest.warns(FutureWarning, match="use 'random_seed'"):
        wald = sleep_fit.confint(method="wald", seed=1)
    assert wald.equals(sleep_fit.confint(method="wald"))
    for func in (LmmFit.simulate, GlmmFit.simulate, LmmFit.bootstrap, GlmmFit.bootstrap, mb.pbtest,
                 LmmFit.predict_intervals, BayesFit.predict_intervals, MapFit.varcorr_intervals,
                 mb.Model.sample):
        params = inspect.signature(func).parameters
        assert "seed" not in params and "random_seed" in params, func
        assert "progress" not in params and "cores" not in params, func
    for func in (LmmFit.bootstrap, GlmmFit.bootstrap, mb.pbtest, mb.Model.sample):
        assert "progressbar" in inspect.signature(func).parameters, func
    info = SamplerInfo(sampler="blackjax", random_seed=5, chains=1, draws=1, tune=1, target_accept=0.8,
                       max_treedepth=10, parameterisation="block", reused=False)
    with pytest.warns(FutureWarning, match="use SamplerInfo.random_seed"):
        assert info.seed == 5


def test_cli_takes_random_seed_and_the_old_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from mixbayes.cli import _parser

    args = _parser().parse_args(["demo", "--random-seed", "3"])
    assert args.random_seed == 3
    args = _parser().parse_args(["demo", "--seed", "4"])
    assert args.random_seed == 4
    assert "deprecated" in capsys.readouterr().err
    assert _parser().parse_args(["demo"]).random_seed == 1


def _kind(cls: type, name: str) -> str:
    attr = inspect.getattr_static(cls, name, None)
    if attr is None:
        return "missing"
    return "method" if inspect.isfunction(attr) else "property"


PROPERTIES = ["fixef", "vcov", "se", "varcorr", "coef", "nobs", "ngroups", "formula"]
METHODS = ["ranef", "predict", "predict_intervals", "summary", "diagnose", "icc", "tidy", "save"]


@pytest.mark.parametrize("cls", [LmmFit, GlmmFit, MapFit, BayesFit])
def test_one_rule_for_property_and_method(cls: type) -> None:
    assert [n for n in PROPERTIES if _kind(cls, n) != "property"] == []
    optional = {"icc"} if cls is MapFit else set()  # the MAP fit has no ICC
    assert [n for n in METHODS if _kind(cls, n) != "method" and n not in optional] == []
    assert _kind(cls, "icc") in ("method", "missing")


def test_coef_is_a_property_and_the_call_is_deprecated(sleep_fit: LmmFit) -> None:
    table = sleep_fit.coef
    assert list(table) == ["Subject"] and table["Subject"].shape == (18, 2)
    with pytest.warns(FutureWarning, match="coef is a property now"):
        called = sleep_fit.coef()
    assert called["Subject"].equals(table["Subject"])


# ---- no name shadows a subpackage --------------------------------------------------------------------------------
def test_report_is_the_subpackage_and_still_callable(sleep_fit: LmmFit, tmp_path: Path) -> None:
    import mixbayes.report.plots as plots

    assert mb.report.plots is plots and mb.report.compare is mb.compare
    assert mb.write_report.__name__ == "write_report"
    with pytest.warns(FutureWarning, match=r"use mb.write_report"), pytest.raises(mb.ArgumentError, match=r"\.html"):
        mb.report(sleep_fit, tmp_path / "out.pdf")  # the deprecated call reaches write_report (its path check)
    assert not list(tmp_path.iterdir())


def test_import_of_report_submodules_in_a_fresh_interpreter() -> None:
    code = ("import mixbayes.report.plots, mixbayes.report.shrinkage\nimport mixbayes as mb\n"
            "assert callable(mb.report) and mb.report.plots is mixbayes.report.plots\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# ---- the stand-in of the Bayesian fit conforms to BayesFit -----------------------------------------------------
def _instance_attributes(cls: type) -> set[str]:
    import ast
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(cls.__init__)))
    return {t.attr for node in ast.walk(tree) if isinstance(node, ast.Assign | ast.AnnAssign)
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}


def test_the_bayes_standin_offers_bayesfit_names(sleep_fit: LmmFit) -> None:
    standin = StandInBayesFit(sleep_fit, random_seed=1)
    real_attrs = _instance_attributes(BayesFit)
    public = {n for n in dir(standin) if not n.startswith("_")}
    test_only = {"S", "beta_draws"}  # the stand-in's own knobs, read by no report code
    for name in sorted(public - test_only):
        kind = _kind(BayesFit, name)
        if kind == "missing":
            assert name in real_attrs, f"the stand-in offers {name!r}, which BayesFit does not"
            assert _kind(StandInBayesFit, name) in ("missing", "property"), name
        else:
            assert _kind(StandInBayesFit, name) in (kind, "missing"), f"{name}: BayesFit's is a {kind}"
        if kind == "method":
            want = inspect.signature(getattr(BayesFit, name)).parameters
            got = inspect.signature(getattr(StandInBayesFit, name)).parameters
            assert set(got) <= set(want), f"{name}{tuple(got)} takes what BayesFit.{name} does not"
    # and everything the report reads from a Bayesian fit is offered by both
    from mixbayes.report import _bayes

    for name in _bayes.FIT_NAMES:
        assert hasattr(standin, name), name
        assert _kind(BayesFit, name) != "missing" or name in real_attrs, name
