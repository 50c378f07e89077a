# Maximal crossed LMMs simulated with a seed (issue 12): data, lme4 fits and lme4's deviance function.
# Run from the repository root:  Rscript tools/golden/maximal.R
#   -> tests/golden/data/maximal_*.csv (the simulated data) and tests/golden/maximal.json
# Each design has subjects crossed with items, 2-4 correlated random slopes per factor (the "maximal" random
# structure), fitted by lmer with its defaults (REML; nloptwrap/BOBYQA).  For each case the JSON records lme4's
# estimates and its deviance function evaluated at lme4's theta and at three seeded random thetas, so that the
# tests can check that mixbayes' objective is lme4's and judge both optima with lme4's own function.
source("tools/golden/common.R")

## Correlated random effects: SDs s and an AR-like correlation rho^|i-j| with alternating signs.
ranef_draw <- function(n, s, rho) {
  k <- length(s)
  R <- outer(seq_len(k), seq_len(k), function(i, j) rho^abs(i - j) * ifelse((i + j) %% 2 == 0, 1, -1))
  diag(R) <- 1
  S <- diag(s, k) %*% R %*% diag(s, k)
  matrix(rnorm(n * k), n, k) %*% chol(S)
}

## A subjects x items design; `cond(subj, item)` gives each row's condition columns.
simulate <- function(seed, ns, ni, drop_frac, zs, s_subj, s_item, rho, beta, sigma, make_x) {
  set.seed(seed)
  d <- expand.grid(item = seq_len(ni), subj = seq_len(ns))[, c("subj", "item")]
  d <- cbind(d, make_x(d))
  if (drop_frac > 0) d <- d[sort(sample(nrow(d), round(nrow(d) * (1 - drop_frac)))), ]
  Xr <- model.matrix(zs, d)
  bs <- ranef_draw(ns, s_subj, rho)
  bi <- ranef_draw(ni, s_item, rho)
  eta <- drop(Xr %*% beta) + rowSums(Xr * bs[d$subj, ]) + rowSums(Xr * bi[d$item, ])
  d$y <- round(eta + rnorm(nrow(d), 0, sigma), 4)
  d$subj <- sprintf("s%02d", d$subj)
  d$item <- sprintf("i%02d", d$item)
  rownames(d) <- NULL
  d
}

## 2 x 2 within subjects and within items, counterbalanced (the issue's example): A, B coded -0.5/0.5
ab_2x2 <- function(d) {
  k <- (d$subj + d$item) %% 4
  data.frame(A = ifelse(k %% 2 == 0, -0.5, 0.5), B = ifelse(k < 2, -0.5, 0.5))
}
## 3-level within factor C (levels c1, c2, c3) and a numeric covariate x
c3_x <- function(d) {
  k <- (d$subj + 2 * d$item) %% 3
  data.frame(C = c("c1", "c2", "c3")[k + 1], x = round(rnorm(nrow(d)), 3))
}
ab_x <- function(d) {
  k <- (d$subj + d$item) %% 2
  data.frame(A = ifelse(k == 0, -0.5, 0.5), x = round(rnorm(nrow(d)), 3))
}

designs <- list(
  list(id = "max_2x2_48x32", seed = 20261201, ns = 48, ni = 32, drop = 0, make = ab_2x2,
       zs = ~ A * B, s_subj = c(60, 25, 20, 30), s_item = c(40, 15, 10, 25), rho = 0.5,
       beta = c(600, 30, 20, 10), sigma = 120,
       formula = "y ~ A * B + (1 + A * B | subj) + (1 + A * B | item)"),
  list(id = "max_2x2_small_slopes", seed = 20261202, ns = 60, ni = 16, drop = 0, make = ab_2x2,
       zs = ~ A * B, s_subj = c(1, 0.05, 0.3, 0.02), s_item = c(0.5, 0.2, 0.01, 0.1), rho = 0.6,
       beta = c(5, 0.3, 0.2, 0.1), sigma = 1,
       formula = "y ~ A * B + (1 + A * B | subj) + (1 + A * B | item)"),
  list(id = "max_c3x_30x20", seed = 20261203, ns = 30, ni = 20, drop = 0, make = c3_x,
       zs = ~ C + x, s_subj = c(1, 0.6, 0.4, 0.3), s_item = c(0.8, 0.5, 0.3, 0.2), rho = 0.4,
       beta = c(2, 0.5, -0.3, 0.4), sigma = 0.8,
       formula = "y ~ C + x + (1 + C + x | subj) + (1 + C + x | item)"),
  list(id = "max_ax_unbalanced", seed = 20261204, ns = 40, ni = 30, drop = 0.2, make = ab_x,
       zs = ~ A + x, s_subj = c(2, 1, 0.5), s_item = c(1.5, 0.8, 0.3), rho = 0.5,
       beta = c(10, 1, 0.5), sigma = 2,
       formula = "y ~ A + x + (1 + A + x | subj) + (1 + A + x | item)"),
  list(id = "max_axint_36x24", seed = 20261205, ns = 36, ni = 24, drop = 0.1, make = ab_x,
       zs = ~ A * x, s_subj = c(1, 0.5, 0.4, 0.1), s_item = c(0.7, 0.05, 0.3, 0.2), rho = 0.7,
       beta = c(3, 0.4, 0.3, -0.2), sigma = 1,
       formula = "y ~ A * x + (1 + A * x | subj) + (1 + A * x | item)")
)

cases <- list()
for (ds in designs) {
  d <- simulate(ds$seed, ds$ns, ds$ni, ds$drop, ds$zs, ds$s_subj, ds$s_item, ds$rho, ds$beta, ds$sigma, ds$make)
  path <- file.path(SYN_DIR, paste0(ds$id, ".csv"))
  write.csv(d, path, row.names = FALSE)
  factors <- list(subj = sort(unique(d$subj)), item = sort(unique(d$item)))
  if ("C" %in% names(d)) factors$C <- c("c1", "c2", "c3")
  d <- read_synth(path, factors)
  call <- sprintf("lmer(%s, data = d, REML = TRUE)", ds$formula)
  t0 <- proc.time()[["elapsed"]]
  r <- run_captured(call)
  elapsed <- proc.time()[["elapsed"]] - t0
  fit <- r$value
  devf <- lmer(as.formula(ds$formula), data = d, REML = TRUE, devFunOnly = TRUE)
  theta <- getME(fit, "theta")
  set.seed(ds$seed + 1)
  lower <- getME(fit, "lower")
  rand_theta <- lapply(1:3, function(i) {
    th <- theta + rnorm(length(theta), 0, 0.2)
    pmax(th, lower)
  })
  cases[[ds$id]] <- list(
    id = ds$id, formula = ds$formula, REML = TRUE, call = call, csv = path, factors = lapply(factors, arr),
    seed = ds$seed, n = nrow(d), elapsed_s = elapsed,
    objective = REMLcrit(fit), theta = arr(theta), lower = arr(lower), fixef = named(fixef(fit)),
    se = named(setNames(sqrt(diag(as.matrix(vcov(fit)))), names(fixef(fit)))), sigma = sigma(fit),
    feval = fit@optinfo$feval, is_singular = isSingular(fit), conditions = cond_obj(r),
    optinfo_messages = arr(unlist(fit@optinfo$conv$lme4$messages)),
    devfun = list(call = sprintf("lmer(%s, data = d, REML = TRUE, devFunOnly = TRUE)", ds$formula),
                  at_lme4_theta = devf(theta),
                  thetas = lapply(rand_theta, arr), values = arr(sapply(rand_theta, devf))))
  cat(ds$id, "objective", REMLcrit(fit), "feval", fit@optinfo$feval, "time", elapsed, "\n")
}
write_golden(list(generated_by = generated_by("tools/golden/maximal.R"),
                  data_prep = paste("simulated by tools/golden/maximal.R with the seeds recorded; read back with",
                                    "read.csv(stringsAsFactors = FALSE) and factor(..., levels = factors[[col]])"),
                  cases = cases), "maximal.json")
