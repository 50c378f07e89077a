"""Prior specifications, the default priors of a design and overrides by name (no sampling)."""

from __future__ import annotations

import numpy as np
import pytest

import mixbayes as mb
from mixbayes.priors import Prior, PriorSet, default_priors


def test_prior_spec_is_a_value() -> None:
    p = mb.Prior("HalfStudentT", nu=3, sigma=10)
    assert p == Prior("HalfStudentT", sigma=10.0, nu=3.0)
    assert hash(p) == hash(Prior("HalfStudentT", sigma=10.0, nu=3.0))
    assert str(p) == "HalfStudentT(nu=3, sigma=10)"
    assert repr(p) == "Prior('HalfStudentT', nu=3, sigma=10)"
    assert p.support == "positive" and Prior("Normal").support == "real"
    with pytest.raises(AttributeError):
        p.distribution = "Normal"  # type: ignore[misc]
    with pytest.raises(mb.PriorError):
        Prior("not a name")
    with pytest.raises(mb.PriorError):
        Prior("Normal", mu=np.inf)
    with pytest.raises(mb.PriorError):
        Prior("LKJ", eta=-1)


def test_prior_logpdf_matches_scipy() -> None:
    from scipy import stats

    x = np.array([0.5, 2.0, 7.0])
    np.testing.assert_allclose(Prior("HalfStudentT", nu=3, sigma=2).logpdf(x),
                               np.log(2) + stats.t.logpdf(x, 3, scale=2))
    np.testing.assert_allclose(Prior("Exponential", lam=0.5).logpdf(x), stats.expon.logpdf(x, scale=2))
    np.testing.assert_allclose(Prior("InverseGamma", alpha=0.5, beta=0.5).logpdf(x),
                               stats.invgamma.logpdf(x, 0.5, scale=0.5))


def test_default_priors_scale_with_the_data(sleep_model: mb.Model) -> None:
    d = mb.load_dataset("sleepstudy")
    pr = sleep_model.priors
    assert isinstance(pr, PriorSet)
    assert list(pr) == ["(Intercept)", "Days", "sigma", "sd_Subject[(Intercept)]", "sd_Subject[Days]", "cor_Subject"]
    sy, sx = d["Reaction"].std(), d["Days"].std()
    assert pr["(Intercept)"] == Prior("Normal", mu=d["Reaction"].mean(), sigma=2.5 * sy)
    assert pr["Days"].params["sigma"] == pytest.approx(2.5 * sy / sx)
    assert pr["sigma"] == Prior("HalfStudentT", nu=3, sigma=sy)
    assert pr["sd_Subject[Days]"].params["sigma"] == pytest.approx(sy / sx)
    assert pr["cor_Subject"] == Prior("LKJ", eta=2)
    # the data in y's units: multiplying y by 10 multiplies every scale by 10
    d10 = d.assign(Reaction=10 * d["Reaction"])
    pr10 = default_priors(mb.Model("Reaction ~ Days + (Days | Subject)", d10).design)
    assert pr10["sd_Subject[Days]"].params["sigma"] == pytest.approx(10 * sy / sx)


def test_default_priors_of_glmms_are_on_the_link_scale() -> None:
    m = mb.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", mb.load_dataset("cbpp"),
                 family="binomial")
    pr = m.priors
    assert "sigma" not in pr
    assert pr["(Intercept)"].params["sigma"] == 2.5
    assert pr["sd_herd[(Intercept)]"] == Prior("HalfStudentT", nu=3, sigma=1)
    nb = mb.Model("TICKS ~ YEAR + (1 | BROOD)", mb.load_dataset("grouseticks"), family="negative_binomial")
    assert nb.priors["dispersion"] == Prior("InverseGamma", alpha=0.5, beta=0.5)


def test_priors_print_and_frame(sleep_model: mb.Model) -> None:
    text = str(sleep_model.priors)
    assert "sd_Subject[Days]" in text and "LKJ(eta=2)" in text and "rationale" in text
    frame = sleep_model.priors.as_frame()
    assert list(frame.columns) == ["name", "prior", "applies_to", "rationale"]
    assert "<table" in sleep_model.priors._repr_html_()


def test_overrides_by_name_group_and_alias(sleep_model: mb.Model) -> None:
    pr = sleep_model.priors
    new = pr.with_overrides({"sigma": Prior("Exponential", lam=0.1), "sd_Subject": Prior("HalfNormal", sigma=20),
                             "Intercept": Prior("Normal", mu=250, sigma=50), "cor_Subject": Prior("LKJ", eta=4)})
    assert new["sigma"] == Prior("Exponential", lam=0.1)
    assert new["sd_Subject[(Intercept)]"] == new["sd_Subject[Days]"] == Prior("HalfNormal", sigma=20)
    assert new["(Intercept)"] == Prior("Normal", mu=250, sigma=50)
    assert new.entry("sigma").rationale == "user"
    sy = mb.load_dataset("sleepstudy")["Reaction"].std()  # the sample SD (ddof=1), the default's scale
    assert pr["sigma"] == Prior("HalfStudentT", nu=3, sigma=sy)  # the original is unchanged
    assert new.key() != pr.key()


def test_bad_overrides_are_typed_errors(sleep_model: mb.Model) -> None:
    with pytest.raises(mb.PriorError, match="sigma"):
        sleep_model.priors.with_overrides({"sigmaa": Prior("Exponential", lam=1)})
    with pytest.raises(mb.PriorError, match="positive"):
        sleep_model.priors.with_overrides({"sigma": Prior("Normal", mu=0, sigma=1)})
    with pytest.raises(mb.PriorError, match="LKJ"):
        sleep_model.priors.with_overrides({"cor_Subject": Prior("Normal")})
    with pytest.raises(mb.PriorError, match=r"mixbayes\.Prior"):
        sleep_model.priors.with_overrides({"sigma": 3.0})  # type: ignore[dict-item]
