"""Exercise 1: fixed effects, variance components and BLUPs, with fitted lines.

The fixed effects are the population's average intercept and slope; the variance components say how much
subjects vary around them; the BLUPs (conditional modes) are each subject's deviation, shrunk towards zero.
"""

import os
from pathlib import Path

import numpy as np

import mixbayes as mb

# as the mixbayes command: any value other than "", "0", "false" and "no" asks for fewer draws
FAST = os.environ.get("MIXBAYES_FAST", "").strip() not in ("", "0", "false", "no")
SAMPLING = {"draws": 500, "tune": 500, "chains": 2} if FAST else {"draws": 1000, "tune": 1000, "chains": 4}
OUT = Path(os.environ.get("MIXBAYES_OUT", "."))

model = mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
fit = model.fit()

print("Fixed effects (population intercept and slope):")
print(fit.fixef.round(3).to_string())
print("\nVariance components (SDs and the correlation), as lme4's VarCorr:")
print(fit.varcorr)

blups = fit.ranef()["Subject"]
print("\nBLUPs (conditional modes) with their conditional SDs, first five subjects:")
print(blups.join(fit.ranef().condsd["Subject"], rsuffix=" condsd").head().round(3).to_string())
print("\nSubject-level coefficients = fixed effects + BLUPs (lme4's coef):")
print(fit.coef["Subject"].head().round(3).to_string())

# BLUPs average to about zero and vary less than the subjects' own estimates: that is the shrinkage
shrink = mb.shrinkage(fit)
spread_own = shrink.no_pooling["Days"].std()
spread_blup = shrink.partial_pooling["Days"].std()
print(f"\nSD of the subjects' own Days slopes {spread_own:.2f}; of the mixed-model slopes {spread_blup:.2f}")
assert abs(blups["Days"].mean()) < 1e-4 * fit.sigma
assert spread_blup < spread_own

fig = shrink.plot_lines()
fig.savefig(OUT / "01_fitted_lines.png", dpi=90)
print(f"fitted lines: {OUT / '01_fitted_lines.png'}")

posterior = model.sample(random_seed=1, progressbar=False, **SAMPLING)
post = posterior.ranef()["Subject"]
gap = np.abs(post["Days"] - blups["Days"]).max()
print(f"\nPosterior means of the Days effects differ from the BLUPs by at most {gap:.2f} ms/day")
print(posterior.varcorr.as_frame().round(3).to_string())
