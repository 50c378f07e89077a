"""Exercise 5: a covariate with no within-subject variation causes a convergence problem; the remedies in order.

Each subject gets an age (recorded in days), constant over the study.  A random slope for age, ``(1 + age |
Subject)``, asks how the effect of age varies between subjects -- but within a subject age never changes, so that
slope cannot be told apart from the random intercept.  The fit warns (and age in days is also on a very different
scale from Days).  ``mb.convergence_walkthrough`` applies lme4's remedies in order: rescale the predictors, drop
the smallest-variance slope (here: the one that cannot vary) or make the term uncorrelated, switch the optimizer,
raise the evaluation limit -- and records which one resolved the warning.
"""

import warnings

import numpy as np

import mixbayes as mb

data = mb.load_dataset("sleepstudy")
rng = np.random.default_rng(1)
subjects = data["Subject"].cat.categories
age_years = dict(zip(subjects, rng.uniform(20, 60, len(subjects)).round(), strict=True))
data["age"] = data["Subject"].map(age_years).astype(float) * 365.25  # age in days: constant within a subject

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = mb.Model("Reaction ~ Days + age + (1 + age | Subject)", data)
    fit = model.fit()
print("warnings of the original fit:")
for w in caught:
    print(f"  {w.category.__name__}: {str(w.message).split('. Remedy')[0]}")

walk = mb.convergence_walkthrough(model)
print()
print(walk)
assert walk.initial_problems
assert walk.resolved_by is not None
print(f"\nfinal model: {walk.final_fit.formula}")
print(walk.final_fit.varcorr)
