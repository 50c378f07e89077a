# Null-model intercepts that performance::icc (0.10.2, through insight) uses for the Poisson latent variance
# log(1 + 1/exp(intercept)); default glmer settings, as icc() refits them.
# Run from the repository root:  Rscript tools/golden/icc_null.R   -> tests/golden/icc_null.json
# The grouseticks null model is flat in the intercept: with R 4.2.2 / lme4 1.1-31 / OpenBLAS, repeated runs land on
# one of two points (intercept 0.42190445593299, logLik -937.124227653067, as committed; or 0.422023674034201,
# -937.124227237689), even with OPENBLAS_NUM_THREADS=1.  The test's ICC tolerance (1e-3) covers both.
source("tools/golden/common.R")

E <- load_lme4_data()   # grouseticks_s: lme4::grouseticks with HEIGHT <- as.numeric(scale(HEIGHT))
## synth_pois.csv is written by glmm.R (make_synth_pois); read it back here without regenerating it.
assign("synth_pois", read_synth(file.path(SYN_DIR, "synth_pois.csv"), list(g = sprintf("g%02d", 1:30))), envir = E)

calls <- list(
  grouseticks_poisson = "glmer(TICKS ~ 1 + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION), data = grouseticks_s, family = poisson)",
  synth_poisson_offset = "glmer(y ~ 1 + offset(log(t)) + (1 | g), data = synth_pois, family = poisson)"
)
out <- lapply(calls, function(cl) {
  m <- suppressWarnings(eval(parse(text = cl), envir = E))
  list(call = cl, intercept = unname(fixef(m)[1]), logLik = as.numeric(logLik(m)))
})
out$data_prep <- DATA_PREP["grouseticks_s"]
out$data_prep$synth_pois <- "tests/golden/data/synth_pois.csv: factor(g, levels = g01..g30); y counts, t exposure, x numeric"
out$generated_by <- generated_by("tools/golden/icc_null.R")
write_golden(out, "icc_null.json")
