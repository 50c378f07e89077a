# lme4's parametric bootstrap of sleepstudy, for benchmarks/bootstrap.py (run through common.run_r, which sets
# `nsim` before this code), or by hand: Rscript benchmarks/r/bootmer.R NSIM
# Prints one line "JSON:{...}" with lme4 (version), seconds (elapsed for bootMer(fit, fixef, nsim = NSIM) on one
# core), failed (refits with non-finite estimates) and sd (bootstrap SDs of the fixed effects).
if (!exists("nsim")) {
  args <- commandArgs(trailingOnly = TRUE)
  nsim <- if (length(args)) as.integer(args[1]) else 1000L
}
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
fit <- lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy)
invisible(bootMer(fit, fixef, nsim = 5, seed = 2))  # warm-up
elapsed <- system.time(b <- bootMer(fit, fixef, nsim = nsim, seed = 1, parallel = "no"))[["elapsed"]]
cat("JSON:", toJSON(list(lme4 = as.character(packageVersion("lme4")), seconds = elapsed,
                         failed = sum(!is.finite(b$t[, 1])), sd = unname(apply(b$t, 2, sd))),
                    digits = NA, auto_unbox = TRUE), "\n", sep = "")
