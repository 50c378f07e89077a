"""The lme4 battery: models from lme4's own tests, fitted by lme4 (tools/golden/lme4_battery.R) and by mixbayes.

On every case mixbayes's objective is never worse than lme4's by more than 1e-6 (relative); where the two differ
by more, lme4's deviance function (``getME(fit, "devfun")``, which mixbayes reproduces: checked on every case at
lme4's estimates against the value R recorded) evaluated at both sets of estimates decides.  Where the optima
agree, the standard errors are within 1e-3 of lme4's (relative for SEs above 1), except where lme4 itself fell
back from its Hessian, where the response is determined by a grouping factor, and for separated coefficients.
The per-case table (objective differences, where mixbayes is better and by how much) is printed at the end of
the module and written to ``lme4_battery_table.txt`` in pytest's temporary directory; ``python
tests/lme4_battery.py`` prints it too.
"""

from __future__ import annotations

import numpy as np
import pytest
from lme4_battery import DEVFUN_RTOL, FEATURES, SE_TOL, SLOW_IDS, battery, cases, fit_case, judge, table

RESULTS: list[tuple[dict, dict]] = []
ALL = cases()
FAST = [c for c in ALL if c["id"] not in SLOW_IDS]
SLOW = [c for c in ALL if c["id"] in SLOW_IDS]


@pytest.fixture(scope="module", autouse=True)
def battery_table(tmp_path_factory: pytest.TempPathFactory):
    yield
    if RESULTS:
        text = table(RESULTS)
        path = tmp_path_factory.getbasetemp() / "lme4_battery_table.txt"
        path.write_text(text + "\n")
        print(f"\nlme4 battery ({len(RESULTS)} cases; table in {path}):\n{text}")


def _check(case: dict) -> None:
    res = fit_case(case)
    verdict = judge(res)
    RESULTS.append((res, verdict))
    # mixbayes's deviance function is lme4's: the same value at lme4's estimates
    assert verdict["devfun_repro"] <= DEVFUN_RTOL, (res["devfun_at_r"], res["devfun_r"])
    # never worse than lme4 (judged by the deviance function where the objectives differ)
    assert verdict["ok"], (f"{case['id']}: objective {res['objective']:.10g} vs lme4 {res['objective_r']:.10g}; "
                           f"deviance function {res['devfun_at_mb']:.10g} vs {res['devfun_at_r']:.10g}")
    if verdict["optima_agree"] and verdict["se_compared"]:
        keep = verdict["se_mask"]
        se, se_r = res["se"][keep], res["se_r"][keep]
        assert np.all(np.abs(se - se_r) <= SE_TOL * np.maximum(se_r, 1.0)), (case["id"], se, se_r)
    if verdict["optima_agree"] and (case["fun"] == "lmer" or case.get("family") == "gaussian"):
        np.testing.assert_allclose(res["sigma"], case["sigma"], rtol=1e-4)


@pytest.mark.parametrize("case", FAST, ids=[c["id"] for c in FAST])
def test_battery_case(case: dict) -> None:
    _check(case)


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW, ids=[c["id"] for c in SLOW])
def test_battery_slow_case(case: dict) -> None:
    _check(case)


def test_battery_covers_lme4s_tests() -> None:
    """At least 60 models, LMMs and GLMMs, each naming the lme4 test it comes from; the formula-gap cases are in
    the battery and join the run as soon as the feature flag is set."""
    all_cases = battery()["cases"]
    fitted = [c for c in all_cases if c["conditions"]["error"] is None]
    assert len(fitted) >= 60
    assert {c["fun"] for c in fitted} == {"lmer", "glmer"}
    assert all(c["source"].startswith("tests/") for c in fitted)
    gaps = [c for c in fitted if c.get("needs") == "formula-gaps"]
    assert len(gaps) >= 4
    assert all((c in ALL) == FEATURES["formula-gaps"] for c in gaps)
