"""Slow checks of the Bayesian engine (``pytest -m slow``): simulation-based calibration and the comparison with
bambi."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import mixbayes as mb
from mixbayes.bayes.calibration import sbc

pytestmark = pytest.mark.slow


def _grouped_data(n_groups: int, per_group: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    x = rng.normal(size=len(g))
    y = 1.0 + 0.5 * x + rng.normal(size=n_groups)[g] + rng.normal(size=len(g))
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{k:02d}" for k in g]})


def test_sbc_random_intercept_gaussian() -> None:
    """Default priors (scaled to a template data set, then fixed), random effects integrated out: ranks of 100
    replications uniform (chi-square p > 0.01 for every parameter)."""
    m = mb.Model("y ~ x + (1 | g)", _grouped_data(10, 8, seed=1))
    res = sbc(m, replications=100, random_seed=0)
    print(res)
    assert res.pvalues.index.tolist() == ["beta[(Intercept)]", "beta[x]", "sd[g:(Intercept)]", "sigma"]
    assert (res.pvalues > 0.01).all(), res.pvalues
    assert res.divergences.sum() == 0


def test_sbc_random_intercept_logistic() -> None:
    """Default priors, non-centred random intercepts (20 groups x 8 Bernoulli trials), target_accept 0.95."""
    d = _grouped_data(20, 8, seed=2)
    rng = np.random.default_rng(3)
    d["y"] = rng.binomial(1, 1.0 / (1.0 + np.exp(-(d["x"] * 0.5 - 0.5))))
    m = mb.Model("y ~ x + (1 | g)", d, family="binomial")
    res = sbc(m, replications=100, random_seed=0, target_accept=0.95)
    print(res)
    assert res.pvalues.index.tolist() == ["beta[(Intercept)]", "beta[x]", "sd[g:(Intercept)]"]
    assert (res.pvalues > 0.01).all(), res.pvalues
    assert res.divergences.sum() <= 5


# ---- bambi ---------------------------------------------------------------------------------------------------------

BAMBI_SCRIPT = r"""
import json, sys
import bambi as bmb, arviz_stats as azs, pandas as pd
d = pd.read_csv(sys.argv[1]).astype({"Subject": str})
priors = {"Intercept": bmb.Prior("Normal", mu=300, sigma=100), "Days": bmb.Prior("Normal", mu=0, sigma=20),
          "sigma": bmb.Prior("HalfNormal", sigma=50),
          "1|Subject": bmb.Prior("Normal", mu=0, sigma=bmb.Prior("HalfNormal", sigma=50)),
          "Days|Subject": bmb.Prior("Normal", mu=0, sigma=bmb.Prior("HalfNormal", sigma=10))}
m = bmb.Model("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", d, priors=priors)
idata = m.fit(draws=1000, tune=1000, chains=4, random_seed=1, progressbar=False)
names = ["Intercept", "Days", "sigma", "1|Subject_sigma", "Days|Subject_sigma"]
s = azs.summary(idata, var_names=names, round_to="none")
print("JSON:" + json.dumps({n: [float(s.loc[n, "mean"]), float(s.loc[n, "mcse_mean"])] for n in names}))
"""


def _bambi_means(tmp_path: object) -> dict[str, list[float]]:
    """Posterior means and MCSEs from bambi, in this interpreter or in ``$MIXBAYES_BAMBI_PYTHON``."""
    try:
        import bambi  # noqa: F401

        python = sys.executable
    except ImportError:
        python = os.environ.get("MIXBAYES_BAMBI_PYTHON", "")
        if not python:
            pytest.skip("bambi is not installed (or set MIXBAYES_BAMBI_PYTHON to a Python that has it)")
        ok = subprocess.run([python, "-c", "import bambi"], capture_output=True).returncode == 0
        if not ok:
            pytest.skip(f"bambi is not importable by MIXBAYES_BAMBI_PYTHON={python}")
    path = f"{tmp_path}/sleepstudy.csv"
    mb.load_dataset("sleepstudy").to_csv(path, index=False)
    out = subprocess.run([python, "-c", BAMBI_SCRIPT, path], capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("JSON:"))
    return json.loads(line[5:])


def test_agrees_with_bambi(tmp_path: object) -> None:
    """Uncorrelated random intercepts and slopes with identical (explicit) priors: posterior means within 4 Monte
    Carlo standard errors of bambi's."""
    ref = _bambi_means(tmp_path)
    m = mb.Model("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", mb.load_dataset("sleepstudy"))
    priors = {"(Intercept)": mb.Prior("Normal", mu=300, sigma=100), "Days": mb.Prior("Normal", mu=0, sigma=20),
              "sigma": mb.Prior("HalfNormal", sigma=50), "sd_Subject[(Intercept)]": mb.Prior("HalfNormal", sigma=50),
              "sd_Subject[Days]": mb.Prior("HalfNormal", sigma=10)}
    fit = m.sample(random_seed=1, priors=priors, progressbar=False)
    table = fit.diagnose().table
    pairs = {"Intercept": "beta[(Intercept)]", "Days": "beta[Days]", "sigma": "sigma",
             "1|Subject_sigma": "sd_Subject[(Intercept)]", "Days|Subject_sigma": "sd_Subject.1[Days]"}
    rows = []
    for bname, mname in pairs.items():
        b_mean, b_mcse = ref[bname]
        m_mean, m_mcse = table.loc[mname, "mean"], table.loc[mname, "mcse"]
        rows.append((bname, m_mean, b_mean, (m_mean - b_mean) / np.hypot(m_mcse, b_mcse)))
    frame = pd.DataFrame(rows, columns=["parameter", "mixbayes", "bambi", "z_mcse"])
    print(frame.to_string(index=False))
    assert (frame["z_mcse"].abs() < 4).all(), frame
