# Golden values for GLMM profile, Wald intervals and the cbpp LRT (issue 14): lme4's
# confint(fit, method = "profile") and confint(fit, method = "Wald") on cbpp and grouseticks_s.
# Run from the repository root:  Rscript tools/golden/glmm_profile.R   -> tests/golden/glmm_profile.json
source("tools/golden/common.R")
e <- load_lme4_data()
one <- function(id, call) {
  fit <- eval(parse(text = call), envir = e)
  t0 <- proc.time()[["elapsed"]]
  pr <- profile(fit, signames = FALSE)
  secs <- proc.time()[["elapsed"]] - t0
  ci <- confint(pr)
  wald <- confint(fit, method = "Wald", oldNames = FALSE)
  list(id = id, call = call, profile_call = "confint(profile(fit, signames = FALSE))", profile_seconds = secs,
       deviance = -2 * c(logLik(fit)), theta = arr(getME(fit, "theta")), beta = arr(fixef(fit)),
       profile = mat_obj(ci), wald_call = "confint(fit, method = \"Wald\", oldNames = FALSE)",
       wald = mat_obj(wald),
       profile_points = list(par = arr(as.character(pr$.par)), zeta = arr(pr$.zeta)))
}
cases <- list(
  one("cbpp_binomial_laplace",
      "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial)"),
  one("grouseticks_poisson",
      "glmer(TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION), data = grouseticks_s, family = poisson)")
)
write_golden(list(generated_by = generated_by("tools/golden/glmm_profile.R"), data_prep = DATA_PREP,
                  cases = cases), "glmm_profile.json")
