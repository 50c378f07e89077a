# GLMM golden values from lme4::glmer (+ performance, glmmTMB).
# Run from the repository root:  Rscript tools/golden/glmm.R   -> tests/golden/glmm.json
source("tools/golden/common.R")
suppressPackageStartupMessages({ library(performance); library(glmmTMB) })

E <- load_lme4_data()

## ---- synthetic / derived data (written to tests/golden/data, then read back) ----------------
make_cbpp_binary <- function() {
  path <- file.path(SYN_DIR, "cbpp_binary.csv")
  cb <- lme4::cbpp
  rows <- lapply(seq_len(nrow(cb)), function(i)
    data.frame(herd = as.character(cb$herd[i]), period = as.character(cb$period[i]),
               y = c(rep(1L, cb$incidence[i]), rep(0L, cb$size[i] - cb$incidence[i]))))
  d <- do.call(rbind, rows)
  write.csv(d, path, row.names = FALSE)
  read_synth(path, list(herd = levels(cb$herd), period = levels(cb$period)))
}
make_synth_pois <- function() {
  path <- file.path(SYN_DIR, "synth_pois.csv")
  set.seed(20240502)
  ng <- 30; per <- 10
  d <- data.frame(g = rep(sprintf("g%02d", 1:ng), each = per))
  n <- nrow(d)
  d$x <- round(rnorm(n), 3)
  d$t <- round(runif(n, 0.5, 5), 2)
  b <- rnorm(ng, 0, 0.5)
  mu <- d$t * exp(-0.5 + 0.4 * d$x + b[as.integer(factor(d$g))])
  d$y <- rpois(n, mu)
  d <- d[, c("y", "x", "t", "g")]
  write.csv(d, path, row.names = FALSE)
  read_synth(path, list(g = sprintf("g%02d", 1:ng)))
}
make_synth_bin <- function() {
  path <- file.path(SYN_DIR, "synth_crossed_binary.csv")
  set.seed(20240503)
  ns <- 60; ni <- 12
  d <- expand.grid(item = sprintf("I%02d", 1:ni), subj = sprintf("S%02d", 1:ns), stringsAsFactors = FALSE)
  d <- d[, c("subj", "item")]
  n <- nrow(d)
  d$x <- round(rnorm(n), 3)
  bs <- rnorm(ns, 0, 0.8); bi <- rnorm(ni, 0, 0.5)
  eta <- -0.3 + 0.7 * d$x + bs[as.integer(factor(d$subj))] + bi[as.integer(factor(d$item))]
  d$y <- rbinom(n, 1, plogis(eta))
  d <- d[, c("y", "x", "subj", "item")]
  write.csv(d, path, row.names = FALSE)
  read_synth(path, list(subj = sprintf("S%02d", 1:ns), item = sprintf("I%02d", 1:ni)))
}
assign("cbpp_binary", make_cbpp_binary(), envir = E)
assign("synth_pois", make_synth_pois(), envir = E)
assign("synth_bin", make_synth_bin(), envir = E)
data_prep <- c(DATA_PREP, list(
  cbpp_binary = paste("tests/golden/data/cbpp_binary.csv: one row per animal of lme4::cbpp (for each cbpp row in order:",
                      "incidence rows with y = 1 then size - incidence rows with y = 0); herd levels 1..15, period levels 1..4"),
  synth_pois = "tests/golden/data/synth_pois.csv: factor(g, levels = g01..g30); y counts, t exposure, x numeric",
  synth_bin = "tests/golden/data/synth_crossed_binary.csv: factor(subj, levels = S01..S60), factor(item, levels = I01..I12); y in {0,1}"))
data_factors <- list(cbpp_binary = factor_meta(E$cbpp_binary), synth_pois = factor_meta(E$synth_pois),
                     synth_bin = factor_meta(E$synth_bin))

NEW <- list(
  cbpp = "data.frame(period = factor(c('1', '2', '4', '3'), levels = c('1', '2', '3', '4')), herd = c('1', '5', '99', '99'), size = c(10, 10, 10, 10))",
  grouseticks_s = "data.frame(YEAR = factor(c('95', '96', '97', '96'), levels = c('95', '96', '97')), HEIGHT = c(0, 0.5, -1, 1.2), BROOD = c('501', '606', '999', '999'), INDEX = c('1', '200', '999', '998'), LOCATION = c('32', '14', '999', '14'))",
  synth_pois = "data.frame(x = c(-1, 0, 1.5), t = c(1, 2.5, 4), g = c('g01', 'g17', 'g99'))",
  synth_bin = "data.frame(x = c(-1, 0.3, 1.5, 0), subj = c('S01', 'S30', 'S99', 'S99'), item = c('I01', 'I12', 'I05', 'I99'))"
)
for (nm in names(NEW)) assign(paste0("newdata_", nm), eval(parse(text = NEW[[nm]])), envir = E)

CB <- "cbind(incidence, size - incidence) ~ period + (1 | herd)"
## id, call, newdata key
cases <- list(
  list("cbpp_logit_nagq0", sprintf("glmer(%s, data = cbpp, family = binomial, nAGQ = 0)", CB), "cbpp"),
  list("cbpp_binomial_laplace", sprintf("glmer(%s, data = cbpp, family = binomial, nAGQ = 1)", CB), "cbpp"),
  list("cbpp_binomial_agq25", sprintf("glmer(%s, data = cbpp, family = binomial, nAGQ = 25)", CB), "cbpp"),
  list("cbpp_probit_laplace", sprintf("glmer(%s, data = cbpp, family = binomial(link = \"probit\"), nAGQ = 1)", CB), "cbpp"),
  list("cbpp_cloglog_laplace", sprintf("glmer(%s, data = cbpp, family = binomial(link = \"cloglog\"), nAGQ = 1)", CB), "cbpp"),
  list("cbpp_bernoulli_laplace", "glmer(y ~ period + (1 | herd), data = cbpp_binary, family = binomial, nAGQ = 1)", "cbpp"),
  list("cbpp_proportion_weights_laplace", "glmer(incidence/size ~ period + (1 | herd), data = cbpp, weights = size, family = binomial, nAGQ = 1)", "cbpp"),
  list("grouseticks_poisson", "glmer(TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION), data = grouseticks_s, family = poisson)", "grouseticks_s"),
  list("synth_poisson_offset", "glmer(y ~ x + offset(log(t)) + (1 | g), data = synth_pois, family = poisson)", "synth_pois"),
  list("synth_crossed_binary", "glmer(y ~ x + (1 | subj) + (1 | item), data = synth_bin, family = binomial)", "synth_bin")
)

coefs_table <- function(ct) {
  ct <- as.data.frame(ct)
  list(rownames = arr(rownames(ct)), columns = df_cols(ct))
}

do_case <- function(cs) {
  id <- cs[[1]]; call <- cs[[2]]
  cat(id, ":", call, "\n")
  r <- run_captured(call, envir = E)
  out <- list(id = id, call = call, fit_conditions = cond_obj(r))
  if (!is.null(r$error)) return(out)
  fit <- r$value
  assign("fit", fit, envir = E)
  fam <- family(fit)
  nAGQ <- fit@devcomp$dims[["nAGQ"]]
  out$family <- fam$family; out$link <- fam$link; out$nAGQ <- nAGQ
  ss <- summary(fit)
  out$fixef <- named(fixef(fit))
  V <- as.matrix(vcov(fit))
  out$se <- named(sqrt(diag(V)))
  out$vcov <- mat_rows(V)
  out$coefficients <- coefs_table(ss$coefficients)
  out$z_p <- named(setNames(ss$coefficients[, "Pr(>|z|)"], rownames(ss$coefficients)))
  out$theta <- arr(getME(fit, "theta")); out$theta_names <- arr(names(getME(fit, "theta")))
  out$varcorr <- df_rows(as.data.frame(VarCorr(fit)))
  out$logLik <- as.numeric(logLik(fit)); out$logLik_df <- attr(logLik(fit), "df")
  out$AIC <- AIC(fit); out$BIC <- BIC(fit)
  out$deviance <- deviance(fit)
  out$minus2logLik <- -2 * as.numeric(logLik(fit))
  out$optinfo_val <- arr(fit@optinfo$val)
  out$df.residual <- df.residual(fit)
  out$nobs <- nobs(fit)
  out$ngrps <- named(ngrps(fit))
  out$isSingular <- isSingular(fit)
  out$ranef <- df_cols(as.data.frame(ranef(fit, condVar = TRUE)))
  out$fitted <- arr(fitted(fit))
  out$residuals_pearson <- arr(residuals(fit, type = "pearson"))
  out$residuals_deviance <- arr(residuals(fit, type = "deviance"))
  out$pearson_chisq <- sum(residuals(fit, type = "pearson")^2)
  out$pearson_chisq_over_df <- out$pearson_chisq / df.residual(fit)
  nd <- get(paste0("newdata_", cs[[3]]), envir = E)
  out$predict <- list(
    newdata_code = NEW[[cs[[3]]]], newdata = df_cols(nd),
    link_conditional = safe(arr(predict(fit, newdata = nd, type = "link", allow.new.levels = TRUE))),
    response_conditional = safe(arr(predict(fit, newdata = nd, type = "response", allow.new.levels = TRUE))),
    link_population = safe(arr(predict(fit, newdata = nd, type = "link", re.form = NA))),
    response_population = safe(arr(predict(fit, newdata = nd, type = "response", re.form = NA))),
    calls = c("predict(fit, newdata = newdata, type = 'link' | 'response', allow.new.levels = TRUE)",
              "predict(fit, newdata = newdata, type = 'link' | 'response', re.form = NA)"))
  ## deviance function
  dcall <- sub("\\)$", ", devFunOnly = TRUE)", call)
  devfun <- suppressMessages(eval(parse(text = dcall), envir = E))
  th <- getME(fit, "theta"); be <- fixef(fit)
  if (nAGQ == 0) {
    pts <- list(th, th * 0.7 + 0.05)
    out$devfun <- list(call = dcall, argument = "theta only (nAGQ = 0: beta is optimised jointly with u inside PIRLS)",
                       points = lapply(pts, function(p) list(par = arr(p), value = devfun(p))))
  } else {
    pts <- list(c(th, be), c(th * 0.7 + 0.05, be + 0.1))
    out$devfun <- list(call = dcall, argument = "c(theta, beta) (nAGQ >= 1); glmer runs the nAGQ = 0 stage first, then returns the stage-2 deviance function",
                       points = lapply(pts, function(p) list(par = arr(p), value = devfun(p))))
  }
  ic <- run_captured("performance::icc(fit)", envir = E)
  out$icc <- list(call = "performance::icc(fit)",
                  adjusted = if (is.list(ic$value)) ic$value$ICC_adjusted else NULL,
                  unadjusted = if (is.list(ic$value)) ic$value$ICC_unadjusted else NULL,
                  conditions = cond_obj(ic))
  out$summary_text <- arr(capture.output(print(ss)))
  out$varcorr_text <- arr(capture.output(print(VarCorr(fit))))
  out$optinfo <- list(feval = fit@optinfo$feval, optimizer = fit@optinfo$optimizer,
                      conv_lme4 = fit@optinfo$conv$lme4)
  out
}
res <- lapply(cases, do_case)

## ---- anova between GLMMs ----
env <- new.env(parent = E)
small_call <- "glmer(cbind(incidence, size - incidence) ~ 1 + (1 | herd), data = cbpp, family = binomial)"
large_call <- sprintf("glmer(%s, data = cbpp, family = binomial)", CB)
assign("glmm_small", eval(parse(text = small_call), envir = env), envir = env)
assign("glmm_large", eval(parse(text = large_call), envir = env), envir = env)
ra <- run_captured("anova(glmm_small, glmm_large)", envir = env)
anova_glmm <- list(model_calls = list(glmm_small = small_call, glmm_large = large_call),
                   call = "anova(glmm_small, glmm_large)",
                   messages = arr(ra$messages), warnings = arr(ra$warnings),
                   heading = arr(attr(ra$value, "heading")), table = table_obj(ra$value))

## ---- glmmTMB negative binomial ----
nb_call <- "glmmTMB(TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | LOCATION), data = grouseticks_s, family = nbinom2)"
rn <- run_captured(nb_call, envir = E)
nb <- rn$value
vc <- VarCorr(nb)$cond
Vnb <- as.matrix(vcov(nb)$cond)
negbin <- list(
  call = nb_call, conditions = cond_obj(rn),
  fixef = named(fixef(nb)$cond), se = named(sqrt(diag(Vnb))), vcov = mat_rows(Vnb),
  coefficients = coefs_table(summary(nb)$coefficients$cond),
  dispersion_theta = sigma(nb), dispersion_call = "sigma(fit)  # nbinom2: Var = mu + mu^2/theta",
  re_sd = lapply(vc, function(m) unname(attr(m, "stddev"))),
  re_var = lapply(vc, function(m) unname(m[1, 1])),
  logLik = as.numeric(logLik(nb)), logLik_df = attr(logLik(nb), "df"),
  AIC = AIC(nb), BIC = BIC(nb), df.residual = df.residual(nb), nobs = nobs(nb),
  summary_text = arr(capture.output(print(summary(nb)))))

write_golden(list(
  generated_by = generated_by("tools/golden/glmm.R"),
  notes = c("deviance = lme4's deviance(fit) (not -2 logLik for GLMMs); minus2logLik = -2 * logLik(fit)",
            "optinfo_val = fit@optinfo$val: final optimiser parameters (theta for nAGQ = 0, c(theta, beta) otherwise)",
            "devfun values are what glmer(..., devFunOnly = TRUE) returns when called at 'par'",
            "fitted = fitted(fit) on the response (probability / mean) scale",
            "for cbpp_proportion_weights the response is incidence/size with prior weights size"),
  data_prep = data_prep, data_factors = data_factors,
  cases = res, anova = anova_glmm, negbin_glmmTMB = negbin), "glmm.json")
