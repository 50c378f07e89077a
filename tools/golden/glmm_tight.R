# cbpp binomial Laplace fit with a tight PIRLS tolerance (glmerControl(tolPwrss = 1e-13)): the reference for
# mixbayes' exact PIRLS mode (control = {"pirls": "exact"}), which iterates PIRLS to convergence.
# Run from the repository root:  Rscript tools/golden/glmm_tight.R   -> tests/golden/glmm_tight.json
source("tools/golden/common.R")

E <- load_lme4_data()

calls <- list(
  cbpp_binomial_laplace_tolpwrss_1e13 = paste(
    "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial,",
    "control = glmerControl(tolPwrss = 1e-13))")
)
out <- lapply(calls, function(cl) {
  m <- eval(parse(text = cl), envir = E)
  list(call = cl, logLik = as.numeric(logLik(m)), fixef = named(fixef(m)), theta = arr(getME(m, "theta")))
})
out$data_prep <- DATA_PREP["cbpp"]
out$generated_by <- generated_by("tools/golden/glmm_tight.R")
write_golden(out, "glmm_tight.json")
