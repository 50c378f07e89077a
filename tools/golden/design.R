# Design golden values: what lme4's lFormula()/glFormula() build (no fitting).
# Run from the repository root:  Rscript tools/golden/design.R   -> tests/golden/design.json
source("tools/golden/common.R")

E <- load_lme4_data()
assign("synth", make_synth(), envir = E)

cases <- list(
  # id, data object, formula, function ("lFormula" or "glFormula"), extra args
  list("sleep_corr", "sleepstudy", "Reaction ~ Days + (Days | Subject)"),
  list("sleep_zerocorr", "sleepstudy", "Reaction ~ Days + (Days || Subject)"),
  list("sleep_zerocorr_noint", "sleepstudy", "Reaction ~ Days + (0 + Days || Subject)"),
  list("sleep_int_plus_slope", "sleepstudy", "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)"),
  list("sleep_minus1_slope", "sleepstudy", "Reaction ~ Days + (-1 + Days | Subject)"),
  list("sleep_1plus_slope", "sleepstudy", "Reaction ~ Days + (1 + Days | Subject)"),
  list("dyestuff", "Dyestuff", "Yield ~ 1 + (1 | Batch)"),
  list("penicillin_crossed", "Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
  list("pastes_nested", "Pastes", "strength ~ 1 + (1 | batch/cask)"),
  list("pastes_interaction", "Pastes", "strength ~ 1 + (1 | batch:cask)"),
  list("pastes_batch_sample", "Pastes", "strength ~ 1 + (1 | batch) + (1 | sample)"),
  list("cbpp_period_slope", "cbpp", "cbind(incidence, size - incidence) ~ period + (period | herd)", "glFormula", "family = binomial"),
  list("cbpp_period_zerocorr", "cbpp", "cbind(incidence, size - incidence) ~ period + (period || herd)", "glFormula", "family = binomial"),
  list("cbpp_period_noint", "cbpp", "cbind(incidence, size - incidence) ~ period + (0 + period | herd)", "glFormula", "family = binomial"),
  list("cbpp_period_slope_ignore", "cbpp", "cbind(incidence, size - incidence) ~ period + (period | herd)", "glFormula", "family = binomial, control = glmerControl(check.nobs.vs.nRE = \"ignore\")"),
  list("cbpp_period_zerocorr_ignore", "cbpp", "cbind(incidence, size - incidence) ~ period + (period || herd)", "glFormula", "family = binomial, control = glmerControl(check.nobs.vs.nRE = \"ignore\")"),
  list("cbpp_period_noint_ignore", "cbpp", "cbind(incidence, size - incidence) ~ period + (0 + period | herd)", "glFormula", "family = binomial, control = glmerControl(check.nobs.vs.nRE = \"ignore\")"),
  list("cbpp_intercept", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "glFormula", "family = binomial"),
  list("grouse_nested3", "grouseticks_s", "TICKS ~ YEAR + HEIGHT + (1 | LOCATION/BROOD/INDEX)", "glFormula", "family = poisson"),
  list("grouse_three", "grouseticks_s", "TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)", "glFormula", "family = poisson"),
  list("grouse_nested3_lFormula", "grouseticks_s", "TICKS ~ YEAR + HEIGHT + (1 | LOCATION/BROOD/INDEX)"),
  list("synth_xf_poly_log", "synth", "y ~ x * f + I(x^2) + log(z) + (1 | g)"),
  list("synth_noint_f_xh", "synth", "y ~ 0 + f + x:h + (1 | g)"),
  list("synth_fh_minus1_slope", "synth", "y ~ f * h - 1 + (x | g)"),
  list("synth_offset", "synth", "y ~ x + offset(log(z)) + (1 | g)"),
  list("synth_scale", "synth", "y ~ scale(x) + (1 | g)"),
  list("synth_rankdef", "synth", "y ~ x + x2 + (1 | g)"),
  list("synth_zerocorr_x_f", "synth", "y ~ x + (x + f || g)"),
  list("synth_zerocorr_noint_x_f", "synth", "y ~ x + (0 + x + f || g)"),
  list("synth_nested_site_g", "synth", "y ~ x + (1 | site/g)"),
  list("synth_crossed_site_g", "synth", "y ~ x + (1 | site) + (1 | g)")
)

describe <- function(cs) {
  id <- cs[[1]]; dname <- cs[[2]]; fstr <- cs[[3]]
  fun <- if (length(cs) >= 4) cs[[4]] else "lFormula"
  extra <- if (length(cs) >= 5) paste0(", ", cs[[5]]) else if (fun == "lFormula") ", REML = TRUE" else ""
  call <- sprintf("%s(%s, data = %s%s)", fun, fstr, dname, extra)
  form <- as.formula(fstr)
  bars <- vapply(findbars(expandDoubleVerts(form)), function(b) paste(deparse(b), collapse = ""), "")
  r <- run_captured(call, envir = E)
  out <- list(id = id, data = dname, formula = fstr, call = call,
              findbars_expanded = arr(bars),
              findbars_call = "findbars(expandDoubleVerts(formula))")
  if (!is.null(r$error)) {
    out$error <- r$error
    out$warnings <- arr(r$warnings); out$messages <- arr(r$messages)
    return(out)
  }
  m <- r$value
  rt <- m$reTrms
  asg <- attr(rt$flist, "assign")
  fnames <- names(rt$flist)
  terms <- lapply(seq_along(rt$cnms), function(i) {
    fl <- rt$flist[[asg[i]]]
    list(group = fnames[asg[i]], term_name = names(rt$cnms)[i], cnms = arr(rt$cnms[[i]]),
         nl = unname(rt$nl[i]), nc = length(rt$cnms[[i]]),
         first_levels = arr(head(levels(fl), 5)), levels = arr(levels(fl)))
  })
  X <- m$X
  out$reTrms <- list(
    terms = terms,
    flist_names = arr(fnames), flist_assign = arr(asg),
    flist_nlevels = arr(vapply(rt$flist, nlevels, 1L)),
    theta_length = length(rt$theta), theta_init = arr(rt$theta), lower = arr(rt$lower),
    Lind = arr(rt$Lind), Gp = arr(rt$Gp), Zt_dim = arr(dim(rt$Zt)),
    Zt_nnz = length(rt$Zt@x),
    Ztlist_names = arr(names(rt$Ztlist)))
  out$X <- list(colnames = arr(colnames(X)), dim = arr(dim(X)),
                col_dropped = if (is.null(attr(X, "col.dropped"))) NULL else named(attr(X, "col.dropped")),
                assign = arr(attr(X, "assign")),
                first_row = arr(X[1, ]))
  out$nobs <- nrow(m$fr)
  off <- model.offset(m$fr)
  if (!is.null(off)) out$offset_first5 <- arr(head(off, 5))
  out$response_first5 <- if (is.matrix(model.response(m$fr))) mat_rows(head(model.response(m$fr), 5)) else arr(head(model.response(m$fr), 5))
  out$fr_names <- arr(names(m$fr))
  out$warnings <- arr(r$warnings); out$messages <- arr(r$messages)
  out
}

res <- lapply(cases, function(cs) { cat(cs[[1]], "\n"); describe(cs) })

write_golden(list(
  generated_by = generated_by("tools/golden/design.R"),
  notes = c("terms are in lme4's final reTrms order (sorted by decreasing number of levels)",
            "group = names(reTrms$flist)[attr(reTrms$flist, 'assign')]; term_name = names(reTrms$cnms)",
            "first_levels = head(levels(grouping factor), 5) in lme4's factor order; levels = all of them",
            "cbpp (period | herd)-type cases stop in lme4's default check (56 obs < 60 random effects); the *_ignore variants pass control = glmerControl(check.nobs.vs.nRE = 'ignore') to get the design",
            "Lind, Gp are 1-based (Lind) / 0-based offsets (Gp) exactly as lme4 stores them",
            "lower: -Inf (unbounded off-diagonal theta elements) is written as null",
            "X$col_dropped: attr(X, 'col.dropped') (named: column name -> original 1-based position)"),
  data_prep = c(DATA_PREP, list(synth = SYNTH_DESC)),
  synth_factors = factor_meta(E$synth),
  cases = res), "design.json")
