"""The worked example: sleepstudy fitted both ways, side by side.

Reaction times of 18 subjects over 10 days of sleep deprivation, with a random intercept and a random slope for
Days per subject -- lme4's ``lmer(Reaction ~ Days + (Days | Subject), sleepstudy)`` -- fitted by REML and by
NUTS, compared, and written to one HTML report.

Run: ``python examples/00_sleepstudy.py`` (``MIXBAYES_FAST=1`` for fewer draws; ``MIXBAYES_OUT=dir`` for where
the report goes, default the current directory).
"""

import os
from pathlib import Path

import mixbayes as mb

# as the mixbayes command: any value other than "", "0", "false" and "no" asks for fewer draws
FAST = os.environ.get("MIXBAYES_FAST", "").strip() not in ("", "0", "false", "no")
SAMPLING = {"draws": 500, "tune": 500, "chains": 2} if FAST else {"draws": 1000, "tune": 1000, "chains": 4}
OUT = Path(os.environ.get("MIXBAYES_OUT", "."))

data = mb.load_dataset("sleepstudy")
model = mb.Model("Reaction ~ Days + (Days | Subject)", data)
print(model.explain())

# the likelihood way: REML, lme4's numbers
fit = model.fit()
print(fit.summary())

# the Bayesian way: the same design as a PyMC model, sampled with NUTS
posterior = model.sample(random_seed=1, progressbar=False, **SAMPLING)

# side by side: fixed effects, SDs and correlation, residual SD and ICC, with a flag where they disagree
side = mb.compare(fit, posterior)
print(side)
# with 18 subjects and weakly informative priors the two fits agree on every parameter
assert side.flagged.empty, f"the fits disagree:\n{side.flagged}"

# partial pooling: each subject's own regression against the mixed model's estimates
shrink = mb.shrinkage(fit, posterior)
print(shrink)

# everything in one self-contained page
path = mb.write_report((fit, posterior), OUT / "sleepstudy.html")
print(f"report: {path}")
