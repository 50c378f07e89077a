# Inference golden values: pbkrtest (KRmodcomp, vcovAdj, PB LRT) and confint().
# Run from the repository root:  Rscript tools/golden/inference.R   -> tests/golden/inference.json
source("tools/golden/common.R")
suppressPackageStartupMessages(library(pbkrtest))

E <- load_lme4_data()
assign("synth", make_synth(), envir = E)

fit_in <- function(code) {
  r <- run_captured(code, envir = E)
  if (!is.null(r$error)) stop(r$error)
  r$value
}

## ---- Kenward-Roger model comparisons ------------------------------------------------------
kr_pairs <- list(
  list(id = "sleepstudy_days",
       large = "lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, REML = TRUE)",
       small = "lmer(Reaction ~ 1 + (Days | Subject), data = sleepstudy, REML = TRUE)"),
  list(id = "penicillin_sample",
       large = "lmer(diameter ~ sample + (1 | plate), data = Penicillin, REML = TRUE)",
       small = "lmer(diameter ~ 1 + (1 | plate), data = Penicillin, REML = TRUE)"),
  list(id = "synth_drop_interaction",
       large = "lmer(y ~ x * f + (x | g), data = synth, REML = TRUE)",
       small = "lmer(y ~ x + f + (x | g), data = synth, REML = TRUE)")
)
kr <- lapply(kr_pairs, function(p) {
  cat("KR", p$id, "\n")
  large <- fit_in(p$large); small <- fit_in(p$small)
  r <- run_captured("KRmodcomp(large, small)", envir = list2env(list(large = large, small = small), parent = E))
  k <- r$value
  Va <- as.matrix(vcovAdj(large))
  dimnames(Va) <- list(names(fixef(large)), names(fixef(large)))
  list(id = p$id, large_call = p$large, small_call = p$small, call = "pbkrtest::KRmodcomp(large, small)",
       warnings = arr(r$warnings), messages = arr(r$messages),
       test = table_obj(k$test),
       stats = lapply(k$stats, function(v) if (length(v) == 1) unname(v) else if (!is.null(names(v))) named(v) else arr(v)),
       L = if (!is.null(k$L)) mat_rows(as.matrix(k$L)) else NULL,
       vcovAdj_call = "as.matrix(pbkrtest::vcovAdj(large))",
       vcovAdj = mat_rows(Va),
       vcov_unadjusted = mat_rows(as.matrix(vcov(large))),
       fixef_names = arr(names(fixef(large))))
})

## ---- profile confidence intervals ----------------------------------------------------------
ci_case <- function(id, fit_call, method, extra = "") {
  cat("confint", id, "\n")
  fit <- fit_in(fit_call)
  cc <- sprintf("confint(fit, method = \"%s\", oldNames = FALSE%s)", method, extra)
  r <- run_captured(cc, envir = list2env(list(fit = fit), parent = E))
  ci <- r$value
  list(id = id, fit_call = fit_call, call = cc,
       warnings = arr(r$warnings), messages = arr(r$messages), error = r$error,
       rows = arr(rownames(ci)), lower = arr(ci[, 1]), upper = arr(ci[, 2]),
       level_columns = arr(colnames(ci)))
}
confints <- list(
  ci_case("penicillin_crossed_reml", "lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin, REML = TRUE)", "profile"),
  ci_case("pastes_nested_reml", "lmer(strength ~ 1 + (1 | batch/cask), data = Pastes, REML = TRUE)", "profile"),
  ci_case("sleepstudy_corr_reml_wald", "lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, REML = TRUE)", "Wald"),
  ci_case("sleepstudy_intercept_reml_wald", "lmer(Reaction ~ Days + (1 | Subject), data = sleepstudy, REML = TRUE)", "Wald")
)

## ---- parametric-bootstrap comparison: observed LRT only -------------------------------------
cat("PB LRT\n")
pb_large_call <- "lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, REML = TRUE)"
pb_small_call <- "lmer(Reaction ~ Days + (Days || Subject), data = sleepstudy, REML = TRUE)"
pbl <- fit_in(pb_large_call); pbs <- fit_in(pb_small_call)
lrt <- pbkrtest:::getLRT(pbl, pbs)
set.seed(1)
pbm <- suppressMessages(suppressWarnings(PBmodcomp(pbl, pbs, nsim = 20, seed = 1)))
pb <- list(large_call = pb_large_call, small_call = pb_small_call,
           call = "pbkrtest:::getLRT(large, small)  # both models refitted with REML = FALSE",
           stat = unname(lrt["tobs"]), df = unname(lrt["df"]), p_chisq = unname(lrt["p.value"]),
           check_call = "PBmodcomp(large, small, nsim = 20, seed = 1)$test['LRT', ]  (only the LRT row is deterministic)",
           PBmodcomp_LRT_row = list(stat = pbm$test["LRT", "stat"], df = pbm$test["LRT", "df"],
                                    p.value = pbm$test["LRT", "p.value"]))

write_golden(list(
  generated_by = generated_by("tools/golden/inference.R"),
  notes = c("KRmodcomp test table: rows Ftest (scaled F, ddf) and FtestU (unscaled); columns stat, ndf, ddf, F.scaling, p.value",
            "confint rows use oldNames = FALSE names; Wald intervals are NA (null) for variance parameters"),
  data_prep = c(DATA_PREP, list(synth = SYNTH_DESC)),
  synth_factors = factor_meta(E$synth),
  KRmodcomp = kr, confint = confints, PB_LRT = pb), "inference.json")
