# Golden values for glmmTMB's families (issue 13): zero-inflated and hurdle Poisson / NB2 on Salamanders,
# NB1 / NB2 with an offset on Owls, beta-binomial on cbpp.  Also exports glmmTMB's Salamanders and Owls as
# bundled data sets (mixbayes/datasets/data/*.csv + entries appended to meta.json, datasets.R's format).
# Run from the repository root:  Rscript tools/golden/glmmtmb_families.R
source("tools/golden/common.R")
suppressPackageStartupMessages(library(glmmTMB))

## ---- data sets (written once, read back by both R and Python) ------------------------------------------
export_dataset <- function(d, nm) {
  write.csv(d, file.path(DATA_DIR, paste0(nm, ".csv")), row.names = FALSE)
  esc <- function(s) gsub('"', '\\\\"', s)
  js_str <- function(v) paste0("[", paste0('"', esc(v), '"', collapse = ", "), "]")
  cols <- character(0)
  for (cn in names(d)) {
    x <- d[[cn]]
    cols <- c(cols, if (is.factor(x)) {
      sprintf('"%s": {"type": "%s", "levels": %s}', cn, if (is.ordered(x)) "ordered" else "factor",
              js_str(levels(x)))
    } else if (is.integer(x)) sprintf('"%s": {"type": "integer"}', cn) else sprintf('"%s": {"type": "numeric"}', cn))
  }
  entry <- sprintf('"%s": {"file": "%s.csv", "nrow": %d, "columns": {%s}}', nm, nm, nrow(d),
                   paste(cols, collapse = ", "))
  meta <- file.path(DATA_DIR, "meta.json")
  lines <- readLines(meta)
  lines <- lines[!startsWith(lines, sprintf('"%s": ', nm))]           # replace an older entry
  lines <- sub("^\\{", "", lines)
  lines <- sub("\\}$", "", lines)
  lines <- sub(",$", "", lines[nzchar(lines)])
  lines <- c(lines, entry)
  writeLines(paste0("{", paste(lines, collapse = ",\n"), "}"), meta)
}
data(Salamanders, package = "glmmTMB")
data(Owls, package = "glmmTMB")
export_dataset(Salamanders, "Salamanders")
export_dataset(Owls, "Owls")
cbpp <- lme4::cbpp

## ---- fits -------------------------------------------------------------------------------------------
models <- list(
  sal_zip = "glmmTMB(count ~ spp + mined + (1 | site), zi = ~spp + mined, family = poisson, data = Salamanders)",
  sal_zinb2 = "glmmTMB(count ~ spp + mined + (1 | site), zi = ~spp + mined, family = nbinom2, data = Salamanders)",
  sal_hnb2 = "glmmTMB(count ~ spp + mined + (1 | site), zi = ~spp + mined, family = truncated_nbinom2, data = Salamanders)",
  sal_hpois = "glmmTMB(count ~ spp + mined + (1 | site), zi = ~spp + mined, family = truncated_poisson, data = Salamanders)",
  owls_nb1 = "glmmTMB(SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest), zi = ~1, family = nbinom1, data = Owls)",
  owls_nb2 = "glmmTMB(SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest), zi = ~1, family = nbinom2, data = Owls)",
  owls_nb1_nozi = "glmmTMB(SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest), family = nbinom1, data = Owls)",
  sal_zip_small = "glmmTMB(count ~ spp + mined + (1 | site), zi = ~mined, family = poisson, data = Salamanders)",
  owls_nb1_slope = "glmmTMB(SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (FoodTreatment | Nest), zi = ~1, family = nbinom1, data = Owls)",
  cbpp_betabin = "glmmTMB(cbind(incidence, size - incidence) ~ period + (1 | herd), family = betabinomial, data = cbpp)"
)
PRED_ROWS <- 1:8
coefs_table <- function(tab) if (is.null(tab)) NULL else mat_obj(tab)
one_fit <- function(call) {
  r <- run_captured(call)
  fit <- r$value
  V <- vcov(fit)
  Vfull <- vcov(fit, full = TRUE)
  vc <- VarCorr(fit)$cond
  d <- fit$frame
  preds <- list()
  for (ty in c("response", "conditional", "zprob", "link")) {
    preds[[ty]] <- arr(predict(fit, type = ty)[PRED_ROWS])
    preds[[paste0(ty, "_population")]] <- arr(predict(fit, type = ty, re.form = NA)[PRED_ROWS])
  }
  zi <- fixef(fit)$zi
  list(
    call = call, conditions = cond_obj(r),
    family = family(fit)$family, link = family(fit)$link,
    fixef_cond = named(fixef(fit)$cond), fixef_zi = if (length(zi)) named(zi) else NULL,
    se_cond = named(sqrt(diag(as.matrix(V$cond)))),
    se_zi = if (length(zi)) named(sqrt(diag(as.matrix(V$zi)))) else NULL,
    vcov_cond = mat_obj(V$cond), vcov_zi = if (length(zi)) mat_obj(V$zi) else NULL,
    vcov_full = mat_obj(Vfull),
    coefficients_cond = coefs_table(summary(fit)$coefficients$cond),
    coefficients_zi = coefs_table(summary(fit)$coefficients$zi),
    sigma = sigma(fit), betad = unname(fit$fit$par[names(fit$fit$par) == "betad"]),
    theta = arr(fit$fit$par[names(fit$fit$par) == "theta"]),
    par = named(fit$fit$par), objective = fit$fit$objective,
    re_sd = lapply(vc, function(m) unname(attr(m, "stddev"))),
    re_cor = lapply(vc, function(m) unname(attr(m, "correlation")[lower.tri(attr(m, "correlation"))])),
    ranef = lapply(ranef(fit)$cond, function(df) arr(df[[1]])),
    ranef_all = lapply(ranef(fit)$cond, function(df) mat_rows(as.matrix(df))),
    logLik = as.numeric(logLik(fit)), logLik_df = attr(logLik(fit), "df"),
    AIC = AIC(fit), BIC = BIC(fit), nobs = nobs(fit), df.residual = df.residual(fit),
    pred_rows = arr(PRED_ROWS), predictions = preds,
    summary_text = arr(capture.output(print(summary(fit)))))
}
res <- lapply(models, one_fit)
for (nm in names(models)) assign(nm, eval(parse(text = models[[nm]])))
an <- run_captured("anova(sal_zip_small, sal_zip)")
anova_obj <- list(call = "anova(sal_zip_small, sal_zip)", table = table_obj(an$value))

## ZINB2 on Salamanders has a second, higher optimum where zi~sppDF and zi~minedno run off to -Inf: glmmTMB
## started there (mixbayes' optimum from glm-like starting values) stays there.
other_start <- list(beta = c(-0.77, -1.57, 0.15, -0.86, 0.41, 0.55, -0.10, 1.55),
                    betazi = c(2.6, -3.5, -2.9, -2.1, -2.5, -2.9, -37.0, -26.7), betad = -0.34, theta = 0.17)
other_call <- paste0(sub("data = Salamanders)", "data = Salamanders, start = other_start)", models$sal_zinb2, fixed = TRUE))
ro <- run_captured(other_call)
zinb2_other <- list(call = other_call, start = other_start, conditions = cond_obj(ro),
                    logLik = as.numeric(logLik(ro$value)), fixef_cond = named(fixef(ro$value)$cond),
                    fixef_zi = named(fixef(ro$value)$zi))

write_golden(list(
  generated_by = generated_by("tools/golden/glmmtmb_families.R"),
  notes = c("Salamanders and Owls are glmmTMB's data sets, exported to mixbayes/datasets/data by this script",
            "Owls: the glmmTMB vignette's formula (treatment contrasts, not the vignette's contr.sum) with zi = ~1",
            "sigma = sigma(fit): nbinom2 theta (Var = mu(1 + mu/theta)); nbinom1 phi (Var = mu(1 + phi));",
            "betabinomial phi (s1 = mu*phi, s2 = (1-mu)*phi); betad = log(sigma); theta = log(SD) of (1|g)",
            "se_* = sqrt(diag(vcov(fit))), from sdreport (Hessian of the Laplace objective in all parameters)",
            "predictions: predict(fit, type = ...)[pred_rows], with random effects (default re.form) and re.form = NA",
            "for truncated_* families the zi model is the hurdle: the probability of a zero"),
  data_prep = list(Salamanders = "glmmTMB::Salamanders", Owls = "glmmTMB::Owls", cbpp = "lme4::cbpp"),
  cases = res, anova = anova_obj, zinb2_other_optimum = zinb2_other), "glmmtmb_families.json")
