"""Exercise 2: the ordinary regression (lm) against the mixed model (lmer): the Days slope and its SE.

lm treats the 180 reaction times as independent; they are 10 measurements of each of 18 subjects, so the
observations are correlated and lm's standard error of the slope is too small.
"""

import mixbayes as mb

fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
naive = mb.naive_vs_mixed(fit)
print(naive)

days = naive.table.loc["Days"]
print(f"\nlm:   slope {days['naive_estimate']:.3f}, SE {days['naive_se']:.3f}")
print(f"lmer: slope {days['mixed_estimate']:.3f}, SE {days['mixed_se']:.3f}")
# balanced data: the same slope; but lm's SE is too small
assert abs(days["naive_estimate"] - days["mixed_estimate"]) < 1e-8
assert days["mixed_se"] > days["naive_se"]
