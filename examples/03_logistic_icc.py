"""Exercise 3: a logistic GLMM simulated with a known ICC, recovered both ways.

100 clinics x 20 patients; a binary outcome with a random intercept per clinic.  On the latent (logistic) scale
the residual variance is pi^2/3, so a random-intercept SD of sigma gives ICC = sigma^2 / (sigma^2 + pi^2/3); we
choose sigma for ICC = 0.20 and check that the Laplace fit and the posterior recover it.
"""

import os

import numpy as np
import pandas as pd

import mixbayes as mb

# as the mixbayes command: any value other than "", "0", "false" and "no" asks for fewer draws
FAST = os.environ.get("MIXBAYES_FAST", "").strip() not in ("", "0", "false", "no")
SAMPLING = {"draws": 500, "tune": 500, "chains": 2} if FAST else {"draws": 1000, "tune": 1000, "chains": 4}

ICC = 0.20
sigma = np.sqrt(ICC / (1 - ICC) * np.pi**2 / 3)
rng = np.random.default_rng(7)
clinics, per = 100, 20
clinic = np.repeat(np.arange(clinics), per)
x = rng.normal(size=clinics * per)
u = rng.normal(0, sigma, clinics)
eta = -0.5 + 0.8 * x + u[clinic]
y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
data = pd.DataFrame({"y": y, "x": x, "clinic": pd.Categorical(clinic)})
print(f"true random-intercept SD {sigma:.3f}, true latent ICC {ICC}")

model = mb.Model("y ~ x + (1 | clinic)", data, family="binomial")
fit = model.fit()
print(fit.summary())
icc_hat = fit.icc().adjusted
print(f"\nLaplace fit: latent ICC {icc_hat:.3f}")
assert abs(icc_hat - ICC) < 0.05

posterior = model.sample(random_seed=1, progressbar=False, **SAMPLING)
draws = np.asarray(posterior.icc().adjusted.draws)
lo, med, hi = np.quantile(draws, [0.025, 0.5, 0.975])
print(f"posterior: latent ICC median {med:.3f}, 95% interval [{lo:.3f}, {hi:.3f}]")
assert lo < ICC < hi
print(mb.compare(fit, posterior))
