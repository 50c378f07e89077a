# LMM golden values from lme4::lmer (+ lmerTest, performance).
# Run from the repository root:  Rscript tools/golden/lmm.R   -> tests/golden/lmm.json
source("tools/golden/common.R")
suppressPackageStartupMessages({ library(lmerTest, exclude = "lmer"); library(performance) })
lmer <- lme4::lmer

E <- load_lme4_data()
assign("synth", make_synth(), envir = E)
local({
  sleepstudy_w <- sleepstudy
  sleepstudy_w$w <- 1 + (sleepstudy_w$Days %% 3)
  sleepstudy_unbal <- subset(sleepstudy, !(Days > 6 & Subject %in% levels(Subject)[1:5]))
  sleepstudy_big <- sleepstudy
  sleepstudy_big$Days_big <- sleepstudy_big$Days * 1e6
}, envir = E)
data_prep <- c(DATA_PREP, list(
  synth = SYNTH_DESC,
  sleepstudy_w = "sleepstudy_w <- sleepstudy; sleepstudy_w$w <- 1 + (sleepstudy_w$Days %% 3)",
  sleepstudy_unbal = "sleepstudy_unbal <- subset(sleepstudy, !(Days > 6 & Subject %in% levels(Subject)[1:5]))  # drops 308,309,310,330,331 at Days 7,8,9 (165 rows, original row order kept)",
  sleepstudy_big = "sleepstudy_big <- sleepstudy; sleepstudy_big$Days_big <- sleepstudy_big$Days * 1e6"))

## newdata frames for predict(); each contains at least one unseen grouping level
NEW <- list(
  sleepstudy = "data.frame(Days = c(0, 5, 9, 3), Subject = c('308', '372', '999', '999'))",
  Dyestuff = "data.frame(Batch = c('A', 'F', 'Z'))",
  Dyestuff2 = "data.frame(Batch = c('A', 'F', 'Z'))",
  Penicillin = "data.frame(plate = c('a', 'x', 'a', 'zz'), sample = c('A', 'A', 'Z', 'F'))",
  Penicillin_fixed = "data.frame(plate = c('a', 'x', 'zz'), sample = factor(c('A', 'C', 'F'), levels = c('A','B','C','D','E','F')))",
  Pastes = "data.frame(batch = c('A', 'B', 'Z', 'A'), cask = c('a', 'b', 'a', 'c'))",
  synth = "data.frame(x = c(-1, 0.5, 2), f = factor(c('ctl', 'trt', 'trt'), levels = c('ctl', 'trt')), x2 = c(-2, 1, 4), g = c('G1', 'G7', 'G99'))"
)
for (nm in names(NEW)) assign(paste0("newdata_", nm), eval(parse(text = NEW[[nm]])), envir = E)

## id, data object, formula, REML, extra args, newdata key, contrast matrix L (R code) or NULL
cases <- list(
  list("sleepstudy_corr_reml", "sleepstudy", "Reaction ~ Days + (Days | Subject)", TRUE, "", "sleepstudy", "rbind(c(0, 1), c(1, 5))"),
  list("sleepstudy_corr_ml", "sleepstudy", "Reaction ~ Days + (Days | Subject)", FALSE, "", "sleepstudy", "rbind(c(0, 1), c(1, 5))"),
  list("sleepstudy_zerocorr_reml", "sleepstudy", "Reaction ~ Days + (Days || Subject)", TRUE, "", "sleepstudy", "rbind(c(0, 1), c(1, 5))"),
  list("sleepstudy_intercept_reml", "sleepstudy", "Reaction ~ Days + (1 | Subject)", TRUE, "", "sleepstudy", "rbind(c(0, 1), c(1, 5))"),
  list("dyestuff_reml", "Dyestuff", "Yield ~ 1 + (1 | Batch)", TRUE, "", "Dyestuff", NULL),
  list("dyestuff_ml", "Dyestuff", "Yield ~ 1 + (1 | Batch)", FALSE, "", "Dyestuff", NULL),
  list("dyestuff2_singular_reml", "Dyestuff2", "Yield ~ 1 + (1 | Batch)", TRUE, "", "Dyestuff2", NULL),
  list("penicillin_crossed_reml", "Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", TRUE, "", "Penicillin", NULL),
  list("pastes_nested_reml", "Pastes", "strength ~ 1 + (1 | batch/cask)", TRUE, "", "Pastes", NULL),
  list("sleepstudy_weighted_reml", "sleepstudy_w", "Reaction ~ Days + (Days | Subject)", TRUE, ", weights = w", "sleepstudy", "rbind(c(0, 1), c(1, 5))"),
  list("penicillin_sample_fixed_reml", "Penicillin", "diameter ~ sample + (1 | plate)", TRUE, "", "Penicillin_fixed",
       "rbind(c(0, 1, -1, 0, 0, 0), c(0, 0, 0, 1, 0, -1))"),
  list("sleepstudy_unbalanced_reml", "sleepstudy_unbal", "Reaction ~ Days + (Days | Subject)", TRUE, "", "sleepstudy", "rbind(c(0, 1), c(1, 5))"),
  list("synth_xf_slope_reml", "synth", "y ~ x * f + (x | g)", TRUE, "", "synth", "rbind(c(0, 1, 0, 0), c(0, 0, 1, 1))"),
  list("synth_rankdef_reml", "synth", "y ~ x + x2 + (1 | g)", TRUE, "", "synth", "rbind(c(0, 1), c(1, 2))")
)

coef_obj <- function(fit) {
  cf <- coef(fit)
  lapply(cf, function(df) list(levels = arr(rownames(df)), columns = df_cols(df)))
}
coefs_table <- function(ct) {          # summary()$coefficients -> object of columns
  ct <- as.data.frame(ct)
  list(rownames = arr(rownames(ct)), columns = df_cols(ct))
}

theta_points <- function(fit) {
  th <- getME(fit, "theta"); lo <- getME(fit, "lower")
  t2 <- th; t2[lo == 0] <- t2[lo == 0] + 0.1            # near the optimum
  t3 <- ifelse(lo == 0, 1, 0)                             # lme4's starting value
  if (isTRUE(all.equal(t3, th))) t3 <- ifelse(lo == 0, 2, 0.5)
  t4 <- th * 0.5                                           # farther away
  if (all(t4 == 0)) t4 <- ifelse(lo == 0, 0.5, 0)
  list(th, t2, t3, t4)
}

do_case <- function(cs) {
  id <- cs[[1]]; dname <- cs[[2]]; fstr <- cs[[3]]; REML <- cs[[4]]; extra <- cs[[5]]
  call <- sprintf("lmer(%s, data = %s%s, REML = %s)", fstr, dname, extra, REML)
  cat(id, ":", call, "\n")
  r <- run_captured(call, envir = E)
  out <- list(id = id, data = dname, formula = fstr, REML = REML, call = call,
              fit_conditions = cond_obj(r))
  if (!is.null(r$error)) return(out)
  fit <- r$value
  assign("fit", fit, envir = E)
  ss <- summary(fit)
  out$fixef <- named(fixef(fit))
  out$se <- named(sqrt(diag(as.matrix(vcov(fit)))))
  out$vcov <- mat_rows(as.matrix(vcov(fit)))
  out$theta <- arr(getME(fit, "theta"))
  out$theta_names <- arr(names(getME(fit, "theta")))
  out$sigma <- sigma(fit)
  out$varcorr <- df_rows(as.data.frame(VarCorr(fit)))
  out$objective <- if (REML) REMLcrit(fit) else deviance(fit)
  out$logLik <- as.numeric(logLik(fit)); out$logLik_df <- attr(logLik(fit), "df")
  out$AIC <- AIC(fit); out$BIC <- BIC(fit)
  if (!REML) out$deviance <- deviance(fit)
  else out$deviance_REML_FALSE <- deviance(fit, REML = FALSE)
  out$df.residual <- df.residual(fit)
  out$nobs <- nobs(fit)
  out$ngrps <- named(ngrps(fit))
  out$isSingular <- isSingular(fit)
  out$fitted <- arr(fitted(fit))
  out$residuals_response <- arr(residuals(fit, type = "response"))
  out$residuals_pearson <- arr(residuals(fit, type = "pearson"))
  q <- quantile(residuals(fit, "pearson", scaled = TRUE), na.rm = TRUE)
  out$scaled_residual_quantiles <- list(Min = q[[1]], `1Q` = q[[2]], Median = q[[3]], `3Q` = q[[4]], Max = q[[5]],
    how = "quantile(residuals(fit, 'pearson', scaled = TRUE)) (type 7), as summary() prints them before zapsmall/rounding")
  if (!is.null(attr(getME(fit, "X"), "col.dropped")))
    out$col_dropped <- named(attr(getME(fit, "X"), "col.dropped"))
  out$ranef <- df_cols(as.data.frame(ranef(fit, condVar = TRUE)))
  out$coef <- coef_obj(fit)
  ## predictions
  nd <- get(paste0("newdata_", cs[[6]]), envir = E)
  out$predict <- list(
    newdata_code = NEW[[cs[[6]]]],
    newdata = df_cols(nd),
    call_conditional = "predict(fit, newdata = newdata, allow.new.levels = TRUE)",
    conditional = safe(arr(predict(fit, newdata = nd, allow.new.levels = TRUE))),
    call_population = "predict(fit, newdata = newdata, re.form = NA)",
    population = safe(arr(predict(fit, newdata = nd, re.form = NA))))
  ## profiled objective
  dcall <- sprintf("lmer(%s, data = %s%s, REML = %s, devFunOnly = TRUE)", fstr, dname, extra, REML)
  devfun <- suppressMessages(eval(parse(text = dcall), envir = E))
  out$devfun <- list(call = dcall, what = if (REML) "REML criterion (-2 REML log-likelihood)" else "deviance (-2 log-likelihood)",
                     points = lapply(theta_points(fit), function(th) list(theta = arr(th), value = devfun(th))))
  ## lmerTest
  fitT <- lmerTest::as_lmerModLmerTest(fit)
  out$lmerTest <- list(
    satterthwaite = safe(coefs_table(summary(fitT, ddf = "Satterthwaite")$coefficients)),
    kenward_roger = safe(coefs_table(summary(fitT, ddf = "Kenward-Roger")$coefficients)),
    call = "summary(lmerTest::as_lmerModLmerTest(fit), ddf = 'Satterthwaite' | 'Kenward-Roger')$coefficients")
  if (length(fixef(fit)) >= 2) {
    out$lmerTest_anova <- list(
      call = "anova(fitT, type = 3, ddf = 'Satterthwaite' | 'Kenward-Roger')",
      satterthwaite = safe(table_obj(anova(fitT, type = 3, ddf = "Satterthwaite"))),
      kenward_roger = safe(table_obj(anova(fitT, type = 3, ddf = "Kenward-Roger"))))
  }
  if (!is.null(cs[[7]])) {
    L <- eval(parse(text = cs[[7]]))
    out$contest <- list(
      L_code = cs[[7]], L = mat_rows(L),
      call = "lmerTest::contest(fitT, L, ddf = ..., joint = TRUE | FALSE)",
      joint_satterthwaite = safe(table_obj(contest(fitT, L, ddf = "Satterthwaite", joint = TRUE))),
      joint_kenward_roger = safe(table_obj(contest(fitT, L, ddf = "Kenward-Roger", joint = TRUE))),
      rows_satterthwaite = safe(table_obj(contest(fitT, L, ddf = "Satterthwaite", joint = FALSE))),
      rows_kenward_roger = safe(table_obj(contest(fitT, L, ddf = "Kenward-Roger", joint = FALSE))))
  }
  ic <- run_captured("performance::icc(fit)", envir = E)
  out$icc <- list(call = "performance::icc(fit)",
                  adjusted = if (is.list(ic$value)) ic$value$ICC_adjusted else NULL,
                  unadjusted = if (is.list(ic$value)) ic$value$ICC_unadjusted else NULL,
                  conditions = cond_obj(ic))
  out$summary_text <- arr(capture.output(print(ss)))
  out$summary_text_lmerTest <- arr(capture.output(print(summary(fitT))))
  out$varcorr_text <- arr(capture.output(print(VarCorr(fit))))
  out$optinfo <- list(feval = fit@optinfo$feval, optimizer = fit@optinfo$optimizer,
                      conv_lme4 = fit@optinfo$conv$lme4)
  out
}

res <- lapply(cases, do_case)

## ---- convergence / scaling messages -----------------------------------------------------
conv_case <- function(id, fstr) {
  call <- sprintf("lmer(%s, data = sleepstudy_big, REML = TRUE)", fstr)
  cat(id, ":", call, "\n")
  r <- run_captured(call, envir = E)
  fit <- r$value
  cc <- run_captured("lme4:::checkConv(fit@optinfo$derivs, fit@optinfo$val, ctrl = lmerControl()$checkConv, lbound = getME(fit, 'lower'))",
                     envir = list2env(list(fit = fit), parent = E))
  list(id = id, formula = fstr, call = call,
       warnings = arr(r$warnings), messages = arr(r$messages), error = r$error,
       optinfo_conv_lme4 = fit@optinfo$conv$lme4,
       optinfo_conv_opt = fit@optinfo$conv$opt,
       optinfo_warnings = lapply(fit@optinfo$warnings, identity),
       optinfo_message = fit@optinfo$message,
       gradient = arr(fit@optinfo$derivs$gradient),
       hessian = mat_rows(fit@optinfo$derivs$Hessian),
       checkConv_call = "lme4:::checkConv(fit@optinfo$derivs, fit@optinfo$val, ctrl = lmerControl()$checkConv, lbound = getME(fit, 'lower'))",
       checkConv = list(value = cc$value, warnings = arr(cc$warnings)),
       fixef = named(fixef(fit)), theta = arr(getME(fit, "theta")),
       REMLcrit = REMLcrit(fit),
       summary_text = arr(capture.output(print(summary(fit)))))
}
convergence <- list(
  conv_case("sleepstudy_big_slope", "Reaction ~ Days_big + (Days_big | Subject)"),
  conv_case("sleepstudy_big_intercept", "Reaction ~ Days_big + (1 | Subject)"))

## ---- anova() model comparisons --------------------------------------------------------------
anova_case <- function(id, calls, anova_call) {
  cat(id, "\n")
  env <- new.env(parent = E)
  for (nm in names(calls)) assign(nm, eval(parse(text = calls[[nm]]), envir = env), envir = env)
  r <- run_captured(anova_call, envir = env)
  tab <- r$value
  list(id = id, model_calls = calls, call = anova_call,
       messages = arr(r$messages), warnings = arr(r$warnings), error = r$error,
       heading = arr(attr(tab, "heading")),
       table = table_obj(tab))
}
anovas <- list(
  anova_case("sleepstudy_nested_random",
             list(m1 = "lmer(Reaction ~ Days + (1 | Subject), data = sleepstudy, REML = TRUE)",
                  m2 = "lmer(Reaction ~ Days + (Days || Subject), data = sleepstudy, REML = TRUE)",
                  m3 = "lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, REML = TRUE)"),
             "anova(m1, m2, m3)"),
  anova_case("penicillin_fixed_sample",
             list(m0 = "lmer(diameter ~ 1 + (1 | plate), data = Penicillin, REML = TRUE)",
                  m1 = "lmer(diameter ~ sample + (1 | plate), data = Penicillin, REML = TRUE)"),
             "anova(m0, m1)"),
  anova_case("synth_fixed_interaction",
             list(m0 = "lmer(y ~ x + f + (x | g), data = synth, REML = TRUE)",
                  m1 = "lmer(y ~ x * f + (x | g), data = synth, REML = TRUE)"),
             "anova(m0, m1)"),
  anova_case("sleepstudy_ml_no_refit",
             list(m1 = "lmer(Reaction ~ Days + (1 | Subject), data = sleepstudy, REML = FALSE)",
                  m3 = "lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, REML = FALSE)"),
             "anova(m1, m3)"),
  anova_case("sleepstudy_refit_false",
             list(m1 = "lmer(Reaction ~ Days + (1 | Subject), data = sleepstudy, REML = TRUE)",
                  m3 = "lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, REML = TRUE)"),
             "anova(m1, m3, refit = FALSE)")
)

write_golden(list(
  generated_by = generated_by("tools/golden/lmm.R"),
  notes = c("fits use lme4::lmer (as called); lmerTest results come from lmerTest::as_lmerModLmerTest(fit)",
            "objective = REMLcrit(fit) for REML fits, deviance(fit) for ML fits; deviance_REML_FALSE = deviance(fit, REML = FALSE) at the REML estimates",
            "vcov and matrices are lists of rows; fixed effects in lme4's column order",
            "devfun$points[[1]] is at the fitted theta",
            "anova tables: table$columns are the printed columns, rownames are the model names"),
  data_prep = data_prep,
  synth_factors = factor_meta(E$synth),
  cases = res, convergence = convergence, anova = anovas), "lmm.json")
