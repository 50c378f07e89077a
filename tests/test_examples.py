"""Every script in examples/ runs (with MIXBAYES_FAST=1: fewer draws) and says what it should.  The scripts check
their own results too (asserts), so a wrong number fails here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

EXPECT = {
    "00_sleepstudy.py": ["Side by side: Reaction ~ Days + (Days | Subject)", "Shrinkage by Subject", "report: ",
                         "posterior"],
    "01_fixed_random_blups.py": ["BLUPs (conditional modes)", "fitted lines: ",
                                 "Posterior means of the Days effects differ from the BLUPs"],
    "02_lm_vs_lmer.py": ["lm:   slope 10.467, SE 1.238", "lmer: slope 10.467, SE 1.546"],
    "03_logistic_icc.py": ["true random-intercept SD", "Laplace fit: latent ICC 0.20", "posterior: latent ICC median"],
    "04_uncorrelated_vs_correlated.py": ["lower AIC: the uncorrelated model", "Pr(>Chisq)",
                                         "posterior of the correlation"],
    "05_convergence.py": ["Resolved by: drop the smallest-variance slope",
                          "final model: Reaction ~ Days + age + (1 | Subject)"],
}


# notebook-style examples (# %% cells) run in a Jupyter kernel by tests/test_notebook.py, which checks their outputs
NOTEBOOKS = {"06_workflow.py"}


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted([*EXPECT, *NOTEBOOKS])


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_example_runs(name: str, tmp_path: Path) -> None:
    root = EXAMPLES.parent
    env = {**os.environ, "MIXBAYES_FAST": "1", "MIXBAYES_OUT": str(tmp_path), "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for piece in EXPECT[name]:
        assert piece in run.stdout, (piece, run.stdout[-3000:])
    if name == "00_sleepstudy.py":
        assert (tmp_path / "sleepstudy.html").stat().st_size > 100_000
    if name == "01_fixed_random_blups.py":
        assert (tmp_path / "01_fitted_lines.png").stat().st_size > 10_000
