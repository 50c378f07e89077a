# Golden values for the Gamma / inverse Gaussian GLMMs and for MASS::glmmPQL (issue 13).
# Run from the repository root:  Rscript tools/golden/gamma_pql.R   -> tests/golden/gamma_pql.json
# Writes tests/golden/data/synth_gamma.csv and synth_invgauss.csv (simulated here with fixed seeds).
source("tools/golden/common.R")
suppressPackageStartupMessages({ library(glmmTMB); library(MASS); library(nlme) })

E <- new.env()
assign("bacteria", MASS::bacteria, envir = E)

## ---- simulated data -----------------------------------------------------------------------------
make_synth_gamma <- function() {
  path <- file.path(SYN_DIR, "synth_gamma.csv")
  set.seed(20261129)
  ng <- 30; per <- 8
  d <- data.frame(g = rep(sprintf("g%02d", 1:ng), each = per))
  n <- nrow(d)
  d$x <- round(rnorm(n), 3)
  b <- rnorm(ng, 0, 0.3)
  mu <- exp(0.8 + 0.25 * d$x + b[as.integer(factor(d$g))])
  shape <- 4
  d$y <- signif(rgamma(n, shape = shape, scale = mu / shape), 6)
  d <- d[, c("y", "x", "g")]
  write.csv(d, path, row.names = FALSE)
  read_synth(path, list(g = sprintf("g%02d", 1:ng)))
}
rinvgauss <- function(n, mu, lambda) {  # Michael, Schucany & Haas (1976)
  nu <- rnorm(n)^2
  x <- mu + mu^2 * nu / (2 * lambda) - mu / (2 * lambda) * sqrt(4 * mu * lambda * nu + mu^2 * nu^2)
  ifelse(runif(n) <= mu / (mu + x), x, mu^2 / x)
}
make_synth_ig <- function() {
  path <- file.path(SYN_DIR, "synth_invgauss.csv")
  set.seed(20261130)
  ng <- 25; per <- 8
  d <- data.frame(g = rep(sprintf("g%02d", 1:ng), each = per))
  n <- nrow(d)
  d$x <- round(runif(n, -1, 1), 3)
  b <- rnorm(ng, 0, 0.05)
  eta <- 0.5 + 0.1 * d$x + b[as.integer(factor(d$g))]   # 1/mu^2 link: mu = 1/sqrt(eta)
  d$y <- signif(rinvgauss(n, 1 / sqrt(eta), lambda = 6), 6)
  d <- d[, c("y", "x", "g")]
  write.csv(d, path, row.names = FALSE)
  read_synth(path, list(g = sprintf("g%02d", 1:ng)))
}
assign("synth_gamma", make_synth_gamma(), envir = E)
assign("synth_ig", make_synth_ig(), envir = E)
make_synth_pql_pois <- function() {
  d <- read_synth(file.path(SYN_DIR, "synth_pois.csv"), list(g = sprintf("g%02d", 1:30)))
  d
}
assign("synth_pois", make_synth_pql_pois(), envir = E)

data_prep <- list(
  synth_gamma = paste("tests/golden/data/synth_gamma.csv (240 rows, seed 20261129): 30 groups g01..g30 of 8;",
                      "x ~ N(0,1) rounded to 3 digits; y ~ Gamma(shape 4, mean exp(0.8 + 0.25 x + b_g)), b_g ~ N(0, 0.3^2),",
                      "rounded to 6 significant digits; read back with factor(g, levels = g01..g30)"),
  synth_ig = paste("tests/golden/data/synth_invgauss.csv (200 rows, seed 20261130): 25 groups g01..g25 of 8;",
                   "x ~ U(-1,1); y ~ inverse Gaussian(mean 1/sqrt(0.5 + 0.1 x + b_g), lambda 6), b_g ~ N(0, 0.05^2)"),
  synth_pois = "tests/golden/data/synth_pois.csv (written by glmm.R); factor(g, levels = g01..g30)",
  bacteria = "MASS::bacteria as shipped (y factor n < y: 'y' is the success; trt placebo < drug < drug+)")

coefs_table <- function(ct) {
  ct <- as.data.frame(ct)
  list(rownames = arr(rownames(ct)), columns = df_cols(ct))
}

## ---- glmer with a dispersion family -----------------------------------------------------------------
glmer_case <- function(id, call) {
  cat(id, ":", call, "\n")
  r <- run_captured(call, envir = E)
  out <- list(id = id, call = call, fit_conditions = cond_obj(r))
  if (!is.null(r$error)) return(out)
  fit <- r$value
  assign("fit", fit, envir = E)
  fam <- family(fit)
  out$family <- fam$family; out$link <- fam$link
  V <- as.matrix(vcov(fit))
  out$fixef <- named(fixef(fit))
  out$se <- named(sqrt(diag(V)))
  out$vcov <- mat_rows(V)
  out$coefficients <- coefs_table(summary(fit)$coefficients)
  out$theta <- arr(getME(fit, "theta"))
  out$sigma <- sigma(fit)
  out$varcorr <- df_rows(as.data.frame(VarCorr(fit)))
  out$logLik <- as.numeric(logLik(fit)); out$logLik_df <- attr(logLik(fit), "df")
  out$AIC <- AIC(fit); out$deviance <- deviance(fit)
  out$optinfo_val <- arr(fit@optinfo$val)
  out$ranef <- arr(ranef(fit)[[1]][, 1])
  out$fitted <- arr(fitted(fit))
  dcall <- sub("\\)$", ", devFunOnly = TRUE)", call)
  devfun <- suppressMessages(eval(parse(text = dcall), envir = E))
  th <- getME(fit, "theta"); be <- fixef(fit)
  pts <- list(c(th, be), c(th * 0.7 + 0.02, be * 1.01))
  out$devfun <- list(call = dcall, argument = "c(theta, beta) (stage 2 of glmer, nAGQ = 1)",
                     points = lapply(pts, function(p) list(par = arr(p), value = devfun(p))))
  out$sigma_call <- "sigma(fit)  # lme4: sqrt((Pearson chi-square + |u|^2) / n) at the mode"
  out$summary_text <- arr(capture.output(print(summary(fit))))
  out
}
glmer_cases <- list(
  gamma_log = "glmer(y ~ x + (1 | g), data = synth_gamma, family = Gamma(link = \"log\"))",
  gamma_inverse = "glmer(y ~ x + (1 | g), data = synth_gamma, family = Gamma)",
  invgauss = "glmer(y ~ x + (1 | g), data = synth_ig, family = inverse.gaussian)",
  invgauss_log = "glmer(y ~ x + (1 | g), data = synth_ig, family = inverse.gaussian(link = \"log\"))"
)
glmer_res <- mapply(glmer_case, names(glmer_cases), glmer_cases, SIMPLIFY = FALSE)

## ---- glmmTMB Gamma(log): exact Laplace with the dispersion estimated by ML --------------------------
tmb_case <- function(call) {
  cat(call, "\n")
  r <- run_captured(call, envir = E)
  fit <- r$value
  V <- as.matrix(vcov(fit)$cond)
  vc <- VarCorr(fit)$cond
  list(call = call, conditions = cond_obj(r),
       fixef = named(fixef(fit)$cond), se = named(sqrt(diag(V))), vcov = mat_rows(V),
       sigma = sigma(fit), sigma_call = "sigma(fit)  # Gamma: shape = 1/sigma^2 (sigma = coefficient of variation)",
       re_sd = unname(attr(vc[[1]], "stddev")),
       logLik = as.numeric(logLik(fit)), logLik_df = attr(logLik(fit), "df"), AIC = AIC(fit),
       ranef = arr(ranef(fit)$cond[[1]][, 1]),
       summary_text = arr(capture.output(print(summary(fit)))))
}
## (glmmTMB 1.1.5 with Gamma(link = "inverse") stops here: "negative log-likelihood is NaN at starting parameter values")
tmb_res <- list(
  gamma_log = tmb_case("glmmTMB(y ~ x + (1 | g), data = synth_gamma, family = Gamma(link = \"log\"))"))

## ---- MASS::glmmPQL ---------------------------------------------------------------------------------
pql_case <- function(id, call) {
  cat(id, ":", call, "\n")
  r <- run_captured(call, envir = E)
  fit <- r$value
  vc <- nlme::VarCorr(fit)
  st <- summary(fit)$tTable
  iters <- NA
  list(id = id, call = call, conditions = cond_obj(r),
       fixef = named(nlme::fixef(fit)), se = named(sqrt(diag(vcov(fit)))), vcov = mat_rows(vcov(fit)),
       tTable = coefs_table(st),
       re_sd = as.numeric(vc[1, "StdDev"]), sigma = fit$sigma,
       re_sd_call = "as.numeric(VarCorr(fit)[1, 'StdDev'])", sigma_call = "fit$sigma (the residual scale of the working LMM)",
       ranef = arr(nlme::ranef(fit)[, 1]),
       fitted_link = arr(fitted(fit)),
       predict_response_population = arr(predict(fit, level = 0, type = "response")),
       summary_text = arr(capture.output(print(summary(fit)))))
}
pql_cases <- list(
  bacteria = "glmmPQL(y ~ trt + I(week > 2), random = ~ 1 | ID, family = binomial, data = bacteria, verbose = FALSE)",
  synth_pois = "glmmPQL(y ~ x + offset(log(t)), random = ~ 1 | g, family = poisson, data = synth_pois, verbose = FALSE)",
  bacteria_noweek = "glmmPQL(y ~ trt + week, random = ~ 1 | ID, family = binomial, data = bacteria, verbose = FALSE)"
)
pql_res <- mapply(pql_case, names(pql_cases), pql_cases, SIMPLIFY = FALSE)

gb <- generated_by("tools/golden/gamma_pql.R")
gb$MASS <- as.character(packageVersion("MASS")); gb$nlme <- as.character(packageVersion("nlme"))
write_golden(list(
  generated_by = gb,
  notes = c("glmer: lme4's Laplace; the Gamma/inverse-Gaussian log-likelihood uses the family's aic with dispersion = deviance / n",
            "glmmTMB: exact Laplace (observed information) with the dispersion as a parameter estimated by ML",
            "glmmPQL: MASS's algorithm (nlme::lme ML fits of the working response with varFixed weights, niter = 10)"),
  data_prep = data_prep,
  data_factors = list(synth_gamma = factor_meta(E$synth_gamma), synth_ig = factor_meta(E$synth_ig)),
  glmer = glmer_res, glmmTMB = tmb_res, glmmPQL = pql_res), "gamma_pql.json")
