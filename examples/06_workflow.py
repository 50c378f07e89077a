# %% [markdown]
# # A full analysis in a notebook: sleepstudy from the design to the report
#
# Notebook-style (``# %%`` cells: open it in Jupyter with jupytext, VS Code or PyCharm, or run it as a script).
# Each cell ends with the object it made, so that a notebook shows it: fits and tables as HTML, figures as PNG.
# ``tests/test_notebook.py`` executes these cells in a fresh Jupyter kernel and checks exactly that.
#
# Reaction times of 18 subjects over 10 days of sleep deprivation, lme4's
# ``lmer(Reaction ~ Days + (Days | Subject), sleepstudy)``: the design explained before the fit, the REML fit and
# the NUTS posterior, side by side, the marginal means and their contrasts (emmeans), predictions with intervals
# for a new subject, and the HTML report.  ``MIXBAYES_FAST=1``: fewer draws; ``MIXBAYES_OUT=dir``: where the
# report goes.

# %%
import os
from pathlib import Path

import numpy as np
import pandas as pd

import mixbayes as mb

FAST = os.environ.get("MIXBAYES_FAST", "").strip() not in ("", "0", "false", "no")
SAMPLING = {"draws": 500, "tune": 500, "chains": 2} if FAST else {"draws": 1000, "tune": 1000, "chains": 4}
OUT = Path(os.environ.get("MIXBAYES_OUT", "."))

data = mb.load_dataset("sleepstudy")
model = mb.Model("Reaction ~ Days + (Days | Subject)", data)
model

# %% [markdown]
# Before fitting: what varies within and between subjects, and which random slopes the data can support.

# %% tags=["fit"]
model.explain()

# %% [markdown]
# The likelihood fit: REML, lme4's numbers, with lmerTest's Satterthwaite df.

# %% tags=["fit"]
fit = model.fit()
assert abs(fit.fixef["Days"] - 10.467) < 1e-3
fit

# %% tags=["figure"]
fit.plot_caterpillar()

# %% [markdown]
# The Bayesian fit: the same design as a PyMC model, sampled with NUTS (one progress line per call).

# %% tags=["fit", "sampling"]
posterior = model.sample(random_seed=1, **SAMPLING)
posterior

# %% tags=["figure"]
posterior.plot_trace()

# %% [markdown]
# Side by side, with a flag where the two fits disagree; then partial pooling subject by subject.

# %% tags=["fit"]
side = mb.compare(fit, posterior)
assert side.flagged.empty, side.flagged
side

# %% tags=["figure"]
mb.shrinkage(fit, posterior).plot()

# %% [markdown]
# Marginal means at days 0, 4.5 and 9 (Kenward-Roger df, as emmeans for lmer), their Tukey-adjusted differences,
# and the same means from the posterior draws.

# %% tags=["fit"]
emm = mb.emmeans(fit, "Days", at={"Days": [0, 4.5, 9]})
assert np.allclose(np.diff(emm.table["emmean"]), [4.5 * fit.fixef["Days"]] * 2)
emm

# %% tags=["fit"]
emm.pairs()

# %% tags=["fit"]
mb.emmeans(posterior, "Days", at={"Days": [0, 4.5, 9]})

# %% [markdown]
# Predictions for a new subject (no Subject column): the mean with its confidence interval, and the interval for
# one new observation, from both fits; then the prediction plot side by side.

# %% tags=["fit"]
new = pd.DataFrame({"Days": [0, 5, 9]})
pred = fit.predict_intervals(new, interval="prediction")
assert (pred["conf_high"] - pred["conf_low"] > 100).all()  # a new subject's reaction time: wide
pred

# %% tags=["fit"]
posterior.predict_intervals(new, interval="prediction", random_seed=1)

# %% tags=["figure"]
mb.plot_predictions({"REML": fit, "NUTS": posterior}, "Days", interval="confidence")

# %% [markdown]
# One table of every parameter, the same columns for both fits (broom.mixed's ``tidy``).

# %% tags=["fit"]
pd.concat({"REML": fit.tidy(), "NUTS": posterior.tidy()}, names=["fit"])

# %% [markdown]
# Everything in one self-contained page.

# %%
path = mb.write_report((fit, posterior), OUT / "workflow.html")
print(f"report: {path}")
