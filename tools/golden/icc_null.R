# Null-model intercepts that performance::icc (0.10.2, through insight) uses for the Poisson latent variance
# log(1 + 1/exp(intercept)); default glmer settings, as icc() refits them.  Run: Rscript tools/golden/icc_null.R
suppressMessages({library(lme4); library(jsonlite)})
g <- grouseticks; g$HEIGHT <- as.numeric(scale(g$HEIGHT))
sp <- read.csv("tests/golden/data/synth_pois.csv"); sp$g <- factor(sp$g)
calls <- list(
  grouseticks_poisson = quote(glmer(TICKS ~ 1 + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION), data = g, family = poisson)),
  synth_poisson_offset = quote(glmer(y ~ 1 + offset(log(t)) + (1 | g), data = sp, family = poisson))
)
out <- lapply(calls, function(cl) {
  m <- suppressWarnings(eval(cl))
  list(call = deparse1(cl), intercept = unname(fixef(m)[1]), logLik = as.numeric(logLik(m)))
})
out$generated_by <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")))
write_json(out, "tests/golden/icc_null.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
