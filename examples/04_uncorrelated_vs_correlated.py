"""Exercise 4: uncorrelated random effects (||) against correlated ones (|), by AIC.

``(Days || Subject)`` fixes the correlation between a subject's intercept and slope at zero: one parameter fewer.
AIC (from ML fits, since the models are compared on their likelihoods) and the likelihood-ratio test say whether
the correlation earns its parameter; the posterior of the correlation says how well the data pin it down.
"""

import os

import mixbayes as mb

# as the mixbayes command: any value other than "", "0", "false" and "no" asks for fewer draws
FAST = os.environ.get("MIXBAYES_FAST", "").strip() not in ("", "0", "false", "no")
SAMPLING = {"draws": 500, "tune": 500, "chains": 2} if FAST else {"draws": 1000, "tune": 1000, "chains": 4}

data = mb.load_dataset("sleepstudy")
uncorrelated = mb.Model("Reaction ~ Days + (Days || Subject)", data)
correlated = mb.Model("Reaction ~ Days + (Days | Subject)", data)
print("explicit form of ||:", uncorrelated.expand())

ml_u, ml_c = uncorrelated.fit(method="ml"), correlated.fit(method="ml")
print(f"AIC (ML): uncorrelated {ml_u.aic:.1f}, correlated {ml_c.aic:.1f}")
print(mb.anova(ml_u, ml_c))
better = "uncorrelated" if ml_u.aic < ml_c.aic else "correlated"
print(f"lower AIC: the {better} model")
assert better == "uncorrelated"  # the correlation (0.07 by REML) does not earn its parameter

posterior = correlated.sample(random_seed=1, progressbar=False, **SAMPLING)
vc = posterior.varcorr.as_frame()
cor = vc[vc["var2"].notna()].iloc[0]
print(f"posterior of the correlation: median {cor['median']:.2f}, 95% interval "
      f"[{cor['2.5%']:.2f}, {cor['97.5%']:.2f}] -- wide, and it includes 0")
