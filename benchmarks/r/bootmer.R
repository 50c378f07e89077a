# lme4's parametric bootstrap of sleepstudy, for benchmarks/bootstrap.py.
# Usage: Rscript benchmarks/r/bootmer.R NSIM
# Prints "lme4 <version>", then "seconds <elapsed>" for bootMer(fit, fixef, nsim = NSIM) on one core.
args <- commandArgs(trailingOnly = TRUE)
nsim <- if (length(args)) as.integer(args[1]) else 1000L
suppressPackageStartupMessages(library(lme4))
fit <- lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy)
invisible(bootMer(fit, fixef, nsim = 5, seed = 2))  # warm-up
elapsed <- system.time(b <- bootMer(fit, fixef, nsim = nsim, seed = 1, parallel = "no"))[["elapsed"]]
cat("lme4", as.character(packageVersion("lme4")), "\n")
cat("seconds", elapsed, "\n")
cat("failed", sum(!is.finite(b$t[, 1])), "\n")
cat("sd", apply(b$t, 2, sd), "\n")
