# Golden values for the formula gaps of issue 12: splines::ns bases, poly() column names, a bare `y ~ 1|g`,
# and a logical binomial response.
# Run from the repository root:  Rscript tools/golden/formula_gaps.R   -> tests/golden/formula_gaps.json
source("tools/golden/common.R")
suppressPackageStartupMessages(library(splines))

E <- load_lme4_data()
synth <- read.csv(file.path(SYN_DIR, "synth.csv"), stringsAsFactors = TRUE)
assign("synth", synth, envir = E)

x <- synth$x
new_x <- c(min(x) - 0.5, min(x), 0.1, 0.5, 1.3, max(x), max(x) + 0.7)
ns_cases <- list(
  list(id = "df1", call = "ns(x, df = 1)"),
  list(id = "df2", call = "ns(x, df = 2)"),
  list(id = "df3", call = "ns(x, df = 3)"),
  list(id = "df5", call = "ns(x, df = 5)"),
  list(id = "knots", call = "ns(x, knots = c(0.2, 0.6))"),
  list(id = "knots_boundary", call = "ns(x, knots = 0.5, Boundary.knots = c(-0.5, 2))"),
  list(id = "intercept", call = "ns(x, df = 3, intercept = TRUE)")
)
ns_out <- lapply(ns_cases, function(cs) {
  b <- eval(parse(text = cs$call))
  list(id = cs$id, call = cs$call, basis = mat_rows(unclass(b)[, , drop = FALSE]),
       knots = arr(attr(b, "knots")), boundary_knots = arr(attr(b, "Boundary.knots")),
       new_x = arr(new_x), predict_call = sprintf("predict(%s, newx = new_x)", cs$call),
       predict = mat_rows(predict(b, newx = new_x)))
})

name_formulas <- c(
  "y ~ poly(x, 2)", "y ~ poly(x, 2, raw = TRUE)", "y ~ poly(x, 2, raw=TRUE)", "y ~ poly(x, degree = 3)",
  "y ~ ns(x, df = 3)", "y ~ ns(x, 3)", "y ~ ns(x,df=2)", "y ~ poly(x, 2, raw = TRUE) + f",
  "y ~ log(z + 1)", "y ~ I(x^2)", "y ~ I(x/2)", "y ~ I(x * 2)", "y ~ I(2 * x - 1)", "y ~ x:I(z > 1)",
  "y ~ scale(x, center = TRUE, scale = FALSE)", "y ~ pmax(x, 0.5)", "y ~ exp(-x)", "y ~ I(x %% 2)",
  "y ~ I(x %/% 0.5)", "y ~ I(x > 0.5 & z > 1)", "y ~ I(!(x > 0.5))", "y ~ sqrt(abs(x - 1))"
)
names_out <- lapply(name_formulas, function(f) {
  mm <- model.matrix(as.formula(f), synth)
  list(formula = f, call = sprintf("colnames(model.matrix(%s, synth))", f), colnames = arr(colnames(mm)),
       poly_values = if (grepl("poly", f)) mat_rows(mm[1:5, , drop = FALSE]) else NULL)
})

fits <- list(
  list(id = "bare_bar", data = "Dyestuff", call = "lmer(Yield ~ 1|Batch, Dyestuff)"),
  list(id = "logical_response", data = "sleepstudy",
       call = "glmer(Reaction > 250 ~ Days + (1|Subject), sleepstudy, family = binomial)"),
  list(id = "ns_lmer", data = "synth", call = "lmer(y ~ ns(x, df = 3) + (1 | g), synth)"),
  list(id = "poly_raw_lmer", data = "synth", call = "lmer(y ~ poly(x, 2, raw = TRUE) + (1 | g), synth)")
)
fits_out <- lapply(fits, function(cs) {
  r <- run_captured(cs$call, envir = E)
  m <- r$value
  list(id = cs$id, call = cs$call, formula = paste(deparse(formula(m)), collapse = ""),
       fixef = named(fixef(m)), theta = arr(getME(m, "theta")),
       loglik = as.numeric(logLik(m)), deviance = deviance(m), conditions = cond_obj(r),
       y = if (cs$id == "logical_response") arr(getME(m, "y")[1:12]) else NULL)
})

write_golden(list(generated_by = c(generated_by("tools/golden/formula_gaps.R"),
                                   list(splines = as.character(packageVersion("splines")))),
                  data_prep = "synth: tests/golden/data/synth.csv read with stringsAsFactors = TRUE",
                  ns = ns_out, names = names_out, fits = fits_out), "formula_gaps.json")
