# The lme4 battery: models taken from lme4's own tests (tests/*.R and tests/testthat/*.R of the lme4 sources),
# fitted by lme4 with its defaults, and the numbers mixbayes must reach or beat (tests/test_lme4_battery.py).
# Run from the repository root:  Rscript tools/golden/lme4_battery.R
#
# Data: lme4's data sets bundled in mixbayes are used as they are (mixbayes.load_dataset); every other data set
# (lme4's testdata, MASS, mlmRev, and the data lme4's tests simulate with a seed) is written to
# tests/golden/data/battery_<name>.csv and read back here, so that R and Python fit the same numbers; the factor
# levels (R's order) are recorded in the JSON's "datasets" field.
source("tools/golden/common.R")
suppressPackageStartupMessages({
  library(MASS)
  library(splines)
})

td <- function(f) system.file("testdata", f, package = "lme4", mustWork = TRUE)
source(td("lme-tst-funs.R"))  # gSim(), lme4's own simulation helper for its GLMM tests

DATA <- list()
DATASETS <- list()
bundled <- function(name, d = get(name, envir = asNamespace("lme4"))) {
  DATA[[name]] <<- d
  DATASETS[[name]] <<- list(bundled = TRUE)
}
# write, read back, and restore R's factors (ordered ones too) so that R fits what Python reads
export <- function(name, d, prep) {
  d <- as.data.frame(d)
  path <- file.path(SYN_DIR, paste0("battery_", name, ".csv"))
  write.csv(d, path, row.names = FALSE)
  back <- read.csv(path, stringsAsFactors = FALSE)
  fac <- list(); ord <- character(0)
  for (nm in names(d)) {
    if (is.factor(d[[nm]])) {
      lv <- levels(d[[nm]])
      back[[nm]] <- factor(as.character(back[[nm]]), levels = lv, ordered = is.ordered(d[[nm]]))
      fac[[nm]] <- arr(lv)
      if (is.ordered(d[[nm]])) ord <- c(ord, nm)
    }
  }
  DATA[[name]] <<- back
  DATASETS[[name]] <<- list(bundled = FALSE, file = basename(path), factors = fac, ordered = arr(ord), prep = prep)
  invisible(back)
}

## ---- data -----------------------------------------------------------------------------------------------
for (nm in c("sleepstudy", "Dyestuff", "Dyestuff2", "Penicillin", "Pastes", "cbpp", "grouseticks")) bundled(nm)
export("cake", lme4::cake, "lme4::cake")
ss2 <- transform(sleepstudy, rr = rep(c(TRUE, FALSE), length.out = nrow(sleepstudy)))
ss2$rr01 <- as.integer(ss2$rr)
export("sleepstudy_rr", ss2, "tests/testthat/test-glmer.R: transform(sleepstudy, rr = rep(c(TRUE, FALSE), length.out = nrow(sleepstudy))); rr01 = as.integer(rr)")
cbppo <- transform(cbpp, obs = factor(seq(nrow(cbpp))), prop = incidence / size)
export("cbpp_obs", cbppo, "cbpp with obs = factor(seq(nrow(cbpp))) and prop = incidence/size (tests/simulate.R, test-glmer.R)")

set.seed(101)  # tests/glmmExt.R
dg <- gSim()
dP <- gSim(dInitial = dg, family = poisson())
dG <- gSim(dInitial = dg, family = gaussian(link = log), sd = 2)
dGi <- gSim(dInitial = dg, family = gaussian(link = inverse), sd = 0.01)
dBc <- dg; dBc$eta <- dg$eta - 5
dBc <- gSim(dInitial = dBc, nbinom = 1, family = binomial(link = "cloglog"))
keep <- function(d) d[, intersect(c("block", "x", "y", "eta"), names(d))]
export("glmmExt_P", keep(dP), "tests/glmmExt.R: set.seed(101); d <- gSim(); dP <- gSim(dInitial = d, family = poisson())")
export("glmmExt_G", keep(dG), "tests/glmmExt.R: dG <- gSim(dInitial = d, family = gaussian(link = log), sd = 2)")
export("glmmExt_Gi", keep(dGi), "tests/glmmExt.R: dGi <- gSim(dInitial = d, family = gaussian(link = inverse), sd = 0.01)")
export("glmmExt_Bc", keep(dBc), "tests/glmmExt.R: dBc (eta - 5, nbinom = 1, binomial(link = 'cloglog'))")

set.seed(101)  # tests/glmmWeights.R (same stream as there: the Gamma sim first)
invisible(gSim())
d1 <- gSim(family = binomial(), nbinom = 1)
dPw <- gSim(family = poisson()); dPw$w2 <- 2
d3 <- gSim(family = binomial(), nbinom = 10)
export("glmmWeights_bern", keep(d1), "tests/glmmWeights.R: gSim(family = binomial(), nbinom = 1)")
export("glmmWeights_pois", dPw[, c("block", "x", "y", "w2")], "tests/glmmWeights.R: d.P <- gSim(family = poisson()); w2 = 2")
d3 <- data.frame(block = d3$block, x = d3$x, succ = d3$y[, "succ"], fail = d3$y[, "fail"])
export("glmmWeights_bin10", d3, "tests/glmmWeights.R: gSim(family = binomial(), nbinom = 10); its matrix response y split into succ, fail")

set.seed(101)  # tests/offset.R
d <- expand.grid(block = LETTERS[1:26], rep = 1:100)
d$x <- runif(nrow(d))
reff_f <- rnorm(length(levels(d$block)), sd = 1)
d$eta <- 4 + 3 * d$x + reff_f[d$block]
d$y <- rnorm(nrow(d), mean = d$eta, sd = 1)
d$yp <- rpois(nrow(d), exp(d$eta))
export("offset", d[, c("block", "rep", "x", "y", "yp")], "tests/offset.R (y: the lmer response, yp: the glmer response)")

# tests/priorWeights.R: the simulation at its top
set.seed(101)
nGroups <- 100; nObs <- 1000
groupFac <- factor(rep(1:nGroups, each = nObs / nGroups))
randEff0 <- rep(rnorm(nGroups), each = nObs / nGroups)
randEff1 <- rep(rnorm(nGroups), each = nObs / nGroups)
randEff2 <- rep(rnorm(nGroups), each = nObs / nGroups)
explVar1 <- rnorm(nObs); explVar2 <- rnorm(nObs)
residSD <- rpois(nObs, 1) + 1
residError <- rnorm(nObs, sd = residSD)
pw <- data.frame(y = randEff0 + (1 + randEff1) * explVar1 + (1 + randEff2) * explVar2 + residError,
                 x = explVar1, z = explVar2, g = groupFac, w = 1 / residSD^2)
export("priorWeights", pw, "tests/priorWeights.R's simulation (seed 101; 100 groups x 10; w = 1/residSD^2)")

set.seed(1)  # tests/glmer-1.R rPoisGLMMi(12, 20)
ng <- 12; nr <- 20; ntot <- ng * nr; b <- c(1, 2)
b.reff <- rnorm(ng, sd = 1); b.rind <- rnorm(ntot, sd = 1); x <- runif(ntot)
dd <- data.frame(x, f = factor(rep(LETTERS[1:ng], each = nr)), obs = factor(1:ntot))
dd$y <- rpois(ntot, exp(1 + 2 * x + b.reff[dd$f] + b.rind[1:ntot]))
export("poisGLMMi", dd, "tests/glmer-1.R rPoisGLMMi(12, 20) with set.seed(1) (sd 1 for f and obs)")

set.seed(101)  # tests/simulate.R
ds <- data.frame(f = factor(rep(LETTERS[1:10], each = 10)))
ds$x <- runif(nrow(ds)); u <- rnorm(10)
ds$eta <- with(ds, 1 + 2 * x + u[f])
ds$y <- rbinom(nrow(ds), size = 1, prob = plogis(ds$eta))
ds$yp <- rpois(nrow(ds), exp(ds$eta))
export("simulate_bin", ds[, c("f", "x", "y", "yp")], "tests/simulate.R (set.seed(101); y Bernoulli, yp Poisson)")

set.seed(101)  # tests/testthat/test-glmer.R: x2 with a single 1 (a quasi-separated fixed effect)
dx <- data.frame(y = rbinom(1000, size = 1, p = 0.5), x = runif(1000), f = factor(rep(1:20, each = 50)),
                 x2 = rep(0:1, c(999, 1)))
export("glmer_x2", dx, "tests/testthat/test-glmer.R: set.seed(101); y ~ rbinom(1000, 1, 0.5), x2 = one 1")

n <- 100  # tests/testthat/test-glmer.R: the paired binary data fitted with nAGQ = 21
ai <- rep(0:1, each = n / 2); ci <- c(rep(0, 42), rep(1, 8), rep(0, 18), rep(1, 32))
export("paired_event", data.frame(event = c(rbind(ai, ci)), group = rep(c(1, 0), times = n), id = rep(1:n, each = 2)),
       "tests/testthat/test-glmer.R (event ~ group + (1 | id), nAGQ = 21)")

set.seed(1)  # tests/testthat/test-factors.R style nested factors, and test-NAhandling.R crossed
dn <- expand.grid(f1 = LETTERS[1:6], f2 = letters[1:4], rep = 1:5)
dn$x <- rnorm(nrow(dn))
dn$g <- factor(sample(letters[1:8], nrow(dn), replace = TRUE))
dn$y <- dn$x + rnorm(6)[dn$f1] + rnorm(24)[interaction(dn$f1, dn$f2)] + rnorm(8)[dn$g] + rnorm(nrow(dn))
export("nested", dn, "set.seed(1); 6 f1 x 4 f2 x 5 reps, crossed g (8 levels): tests/testthat/test-factors.R, test-NAhandling.R")

e <- new.env()
for (f in c("culcita_dat.RData", "gotway_hessianfly.rda", "respiratory.RData", "prLogistic.RData",
            "radinger_dat.RData", "gopherdat2.RData")) load(td(f), envir = e)
export("culcita", e$culcita_dat, "lme4 testdata culcita_dat.RData")
export("gotway", e$gotway.hessianfly[, c("block", "gen", "y", "n")], "lme4 testdata gotway_hessianfly.rda")
export("respiratory", e$respiratory[, c("outcome", "center", "treat", "sex", "age", "baseline", "idctr")],
       "lme4 testdata respiratory.RData")
export("prLogistic", e$dataset, "lme4 testdata prLogistic.RData (dataset)")
export("radinger", e$radinger_dat[, c("presabs", "predictor", "species")], "lme4 testdata radinger_dat.RData")
gd <- e$Gdat[, c("Site", "year", "shells", "Area", "prev")]
gd$fyear <- factor(gd$year)
export("gopher", gd, "lme4 testdata gopherdat2.RData (Gdat); fyear = factor(year)")
export("bacteria", MASS::bacteria, "MASS::bacteria")
data(Contraception, package = "mlmRev")
export("Contraception", Contraception, "mlmRev::Contraception")
data(Mmmec, package = "mlmRev")
export("Mmmec", Mmmec, "mlmRev::Mmmec")
gts <- grouseticks; gts$HEIGHT <- as.numeric(scale(gts$HEIGHT))
export("grouseticks_s", gts, "grouseticks with HEIGHT <- as.numeric(scale(HEIGHT)) (tests/refit.R uses scale(HEIGHT))")
ss5 <- transform(sleepstudy, w5 = 5, Daysf = factor(Days))
export("sleepstudy_w", ss5, "sleepstudy with w5 = 5 (tests/priorWeights.R) and Daysf = factor(Days)")

## ---- cases --------------------------------------------------------------------------------------------
# fun: lmer or glmer; family: R family call (glmer); weights/offset: column names; needs: a formula feature
# another branch adds; slow: excluded from the default Python run
CASES <- list()
add <- function(id, source, data, formula, fun = "lmer", REML = TRUE, family = NULL, nAGQ = 1L, weights = NULL,
                offset = NULL, needs = NULL, slow = FALSE) {
  CASES[[length(CASES) + 1]] <<- list(id = id, source = source, data = data, formula = formula, fun = fun,
                                      REML = if (fun == "lmer") REML else FALSE, family = family,
                                      nAGQ = as.integer(nAGQ), weights = weights, offset = offset,
                                      needs = needs, slow = slow)
}
## LMMs
add("ss_reml", "tests/lmer-1.R fm1", "sleepstudy", "Reaction ~ Days + (Days|Subject)")
add("ss_ml", "tests/lmer-1.R fm1a", "sleepstudy", "Reaction ~ Days + (Days|Subject)", REML = FALSE)
add("ss_uncorr", "tests/lmer-1.R fm2", "sleepstudy", "Reaction ~ Days + (1|Subject) + (0+Days|Subject)")
add("ss_dblbar", "tests/testthat/test-doubleVertNotation.R", "sleepstudy", "Reaction ~ Days + (Days||Subject)")
add("ss_int", "tests/predsim.R fm1", "sleepstudy", "Reaction ~ Days + (1|Subject)")
add("ss_int_ml", "tests/testthat/test-allFit.R", "sleepstudy", "Reaction ~ Days + (1|Subject)", REML = FALSE)
add("ss_nofix", "tests/drop.R fm2", "sleepstudy", "Reaction ~ 1 + (Days|Subject)")
add("ss_log", "tests/lmer-1.R fm2l", "sleepstudy", "log(Reaction) ~ log(Days+1) + (log(Days+1)|Subject)", REML = FALSE)
add("ss_offset", "tests/modFormula.R fm2Off", "sleepstudy", "Reaction ~ Days + (Days|Subject) + offset(0.5*Days)")
add("ss_w5_ml", "tests/priorWeights.R fm_wt", "sleepstudy_w", "Reaction ~ Days + (Days|Subject)", REML = FALSE, weights = "w5")
add("ss_poly", "tests/predict_basis.R fm2", "sleepstudy", "Reaction ~ poly(Days,2) + (1|Subject)")
add("ss_polyraw", "tests/predict_basis.R fm3", "sleepstudy", "Reaction ~ poly(Days,2,raw=TRUE) + (1|Subject)", needs = "formula-gaps")
add("ss_ns", "tests/predict_basis.R fm1", "sleepstudy", "Reaction ~ ns(Days,2) + (1|Subject)", needs = "formula-gaps")
add("ss_daysf_ml", "tests/testthat/test-covariance_structures.R (unstructured Daysf fixed part)", "sleepstudy_w",
    "Reaction ~ Daysf + (1|Subject)", REML = FALSE)
add("dyestuff_bare", "tests/bootMer.R fm1", "Dyestuff", "Yield ~ 1|Batch", needs = "formula-gaps")
add("dyestuff", "tests/bootMer.R fm1", "Dyestuff", "Yield ~ 1 + (1|Batch)")
add("dyestuff_ml", "tests/profile-tst.R fm01ML", "Dyestuff", "Yield ~ 1 + (1|Batch)", REML = FALSE)
add("dyestuff2", "tests/lmer-1.R fm3", "Dyestuff2", "Yield ~ 1 + (1|Batch)")
add("penicillin", "tests/getME.R fm1", "Penicillin", "diameter ~ (1|plate) + (1|sample)")
add("penicillin_ml", "tests/profile-tst.R fm2ML", "Penicillin", "diameter ~ 1 + (1|plate) + (1|sample)", REML = FALSE)
add("pastes_nested", "tests/profile-tst.R (Pastes)", "Pastes", "strength ~ 1 + (1|batch/cask)")
add("pastes_cask_ml", "tests/profile-tst.R fmoB", "Pastes", "strength ~ 1 + (cask|batch)", REML = FALSE)
add("cake", "tests/getME.R fm2", "cake", "angle ~ recipe * temperature + (1|recipe:replicate)")
add("cake_ml", "tests/bootMer.R fm2", "cake", "angle ~ recipe * temperature + (1|recipe:replicate)", REML = FALSE)
add("offset_lmm", "tests/offset.R fm1", "offset", "y ~ x + (1|block)")
add("offset_lmm_off", "tests/offset.R fm1off", "offset", "y ~ x + (1|block) + offset(3*x)")
add("pw_ml1", "tests/priorWeights.R ML1", "priorWeights", "y ~ x + (1|g)", REML = FALSE, weights = "w")
add("pw_reml1", "tests/priorWeights.R REML1", "priorWeights", "y ~ x + (1|g)", weights = "w")
add("pw_ml2", "tests/priorWeights.R ML2", "priorWeights", "y ~ x + (x|g)", REML = FALSE, weights = "w")
add("pw_reml2", "tests/priorWeights.R REML2", "priorWeights", "y ~ x + (x|g)", weights = "w")
add("pw_ml3", "tests/priorWeights.R ML3", "priorWeights", "y ~ x + z + (x+z|g)", REML = FALSE, weights = "w")
add("pw_reml3", "tests/priorWeights.R REML3", "priorWeights", "y ~ x + z + (x+z|g)", weights = "w")
add("nested", "tests/testthat/test-factors.R lm1", "nested", "y ~ x + (1|f1/f2)")
add("crossed_nested", "tests/testthat/test-NAhandling.R m1 (+ nesting)", "nested", "y ~ x + (1|f1/f2) + (1|g)")
add("crossed", "tests/testthat/test-NAhandling.R m1", "nested", "y ~ x + (1|f1) + (1|g)", REML = FALSE)
## GLMMs
add("cbpp", "tests/glmer-1.R m1", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "glmer", family = "binomial")
add("cbpp_prop", "tests/testthat/test-glmer.R", "cbpp_obs", "prop ~ period + (1 | herd)", "glmer", family = "binomial", weights = "size")
add("cbpp_agq9", "tests/glmer-1.R m.9", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "glmer", family = "binomial", nAGQ = 9)
add("cbpp_agq2", "tests/testthat/test-glmer.R gm1AGQ", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "glmer", family = "binomial", nAGQ = 2)
add("cbpp_agq25", "tests/glmer-1.R (nAGQ = 25)", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "glmer", family = "binomial", nAGQ = 25)
add("cbpp_nagq0", "tests/glmer-1.R (nAGQ = 0)", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "glmer", family = "binomial", nAGQ = 0)
add("cbpp_probit", "tests/testthat/test-glmer.R gm1_probit", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "glmer", family = "binomial(link = \"probit\")")
add("cbpp_cloglog", "tests/testthat/test-glmer.R (cloglog)", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "glmer", family = "binomial(link = \"cloglog\")")
add("cbpp_obs", "tests/simulate.R gm4", "cbpp_obs", "cbind(incidence, size - incidence) ~ period + (1 | herd) + (1|obs)", "glmer", family = "binomial")
add("cbpp_int", "tests/refit.R fit_cbpp_0", "cbpp", "cbind(incidence, size - incidence) ~ 1 + (1 | herd)", "glmer", family = "binomial")
add("cbpp_size", "tests/testthat/test-glmer.R (badly scaled covariate: herd size)", "cbpp", "cbind(incidence, size - incidence) ~ period + size + (1 | herd)", "glmer", family = "binomial")
add("grouse_elston", "tests/elston.R", "grouseticks", "TICKS ~ YEAR + HEIGHT + (1|BROOD) + (1|INDEX) + (1|LOCATION)", "glmer", family = "poisson")
add("grouse_scaled", "tests/refit.R gmGrouse", "grouseticks_s", "TICKS ~ YEAR + HEIGHT + (1|BROOD) + (1|INDEX) + (1|LOCATION)", "glmer", family = "poisson")
add("grouse_nb_fixed", "tests/nbinom.R (glmer with a fixed-theta negative.binomial family)", "grouseticks_s", "TICKS ~ YEAR + HEIGHT + (1|BROOD) + (1|LOCATION)", "glmer", family = "MASS::negative.binomial(theta = 3.5)")
add("ss_pois_int", "tests/testthat/test-allFit.R gm", "sleepstudy", "round(Reaction) ~ Days + (1|Subject)", "glmer", family = "poisson")
add("ss_pois_slope", "tests/testthat/test-allFit.R gm (random slope)", "sleepstudy", "round(Reaction) ~ Days + (Days|Subject)", "glmer", family = "poisson")
add("ss_rr_numgroup", "tests/testthat/test-glmer.R (rr ~ (1|Days), rr as 0/1)", "sleepstudy_rr", "rr01 ~ (1|Days)", "glmer", family = "binomial")
add("ss_rr_logical", "tests/testthat/test-glmer.R (rr ~ (1|Days))", "sleepstudy_rr", "rr ~ (1|Days)", "glmer", family = "binomial", needs = "formula-gaps")
add("ss_rr_days", "tests/testthat/test-glmer.R (rr01 with a Days slope, numeric grouping Subject)", "sleepstudy_rr", "rr01 ~ Days + (1|Subject)", "glmer", family = "binomial")
add("gExt_P1", "tests/glmmExt.R gP1", "glmmExt_P", "y ~ 1 + (1|block)", "glmer", family = "poisson")
add("gExt_P2", "tests/glmmExt.R gP2", "glmmExt_P", "y ~ x + (1|block)", "glmer", family = "poisson")
add("gExt_G1", "tests/glmmExt.R gG1", "glmmExt_G", "y ~ 1 + (1|block)", "glmer", family = "gaussian(link = \"log\")")
add("gExt_G2", "tests/glmmExt.R gG2", "glmmExt_G", "y ~ x + (1|block)", "glmer", family = "gaussian(link = \"log\")")
add("gExt_Gi1", "tests/glmmExt.R gGi1", "glmmExt_Gi", "y ~ 1 + (1|block)", "glmer", family = "gaussian(link = \"inverse\")")
add("gExt_Gi2", "tests/glmmExt.R gGi2", "glmmExt_Gi", "y ~ x + (1|block)", "glmer", family = "gaussian(link = \"inverse\")")
add("gExt_Bc1", "tests/glmmExt.R gBc1", "glmmExt_Bc", "y ~ 1 + (1|block)", "glmer", family = "binomial(link = \"cloglog\")")
add("gExt_Bc2", "tests/glmmExt.R gBc2", "glmmExt_Bc", "y ~ x + (1|block)", "glmer", family = "binomial(link = \"cloglog\")")
add("gW_bern", "tests/glmmWeights.R g1", "glmmWeights_bern", "y ~ x + (1|block)", "glmer", family = "binomial")
add("gW_pois", "tests/glmmWeights.R g2", "glmmWeights_pois", "y ~ x + (1|block)", "glmer", family = "poisson")
add("gW_pois_w2", "tests/glmmWeights.R g2W", "glmmWeights_pois", "y ~ x + (1|block)", "glmer", family = "poisson", weights = "w2")
add("gW_bin10", "tests/glmmWeights.R g3", "glmmWeights_bin10", "cbind(succ, fail) ~ x + (1|block)", "glmer", family = "binomial")
add("offset_pois", "tests/offset.R gm1", "offset", "yp ~ x + (1|block)", "glmer", family = "poisson")
add("offset_pois_off", "tests/offset.R gm1off", "offset", "yp ~ x + (1|block) + offset(3*x)", "glmer", family = "poisson")
add("pois_f", "tests/glmer-1.R m0", "poisGLMMi", "y ~ x + (1|f)", "glmer", family = "poisson")
add("pois_f_obs", "tests/glmer-1.R m1", "poisGLMMi", "y ~ x + (1|f) + (1|obs)", "glmer", family = "poisson")
add("sim_bern", "tests/simulate.R g1", "simulate_bin", "y ~ x + (1|f)", "glmer", family = "binomial")
add("sim_pois", "tests/simulate.R gm6", "simulate_bin", "yp ~ x + (1|f)", "glmer", family = "poisson")
add("glmer_x2", "tests/testthat/test-glmer.R mod2", "glmer_x2", "y ~ x + x2 + (1|f)", "glmer", family = "binomial")
add("paired_agq21", "tests/testthat/test-glmer.R gm3", "paired_event", "event ~ group + (1 | id)", "glmer", family = "binomial", nAGQ = 21)
add("paired_lap", "tests/testthat/test-glmer.R gm3 (Laplace)", "paired_event", "event ~ group + (1 | id)", "glmer", family = "binomial")
add("culcita", "tests/bootMer.R cmod", "culcita", "predation ~ ttt + (1|block)", "glmer", family = "binomial")
add("gotway", "tests/agridat_gotway.R m1", "gotway", "cbind(y, n-y) ~ gen + (1|block)", "glmer", family = "binomial")
add("resp_lap", "tests/respiratory.R m_glmer_4.L", "respiratory", "outcome ~ center + treat + sex + age + baseline + (1|idctr)", "glmer", family = "binomial")
add("resp_agq5", "tests/respiratory.R m_glmer_4.GHQ5", "respiratory", "outcome ~ center + treat + sex + age + baseline + (1|idctr)", "glmer", family = "binomial", nAGQ = 5)
add("resp_agq8", "tests/respiratory.R m_glmer_4.GHQ8", "respiratory", "outcome ~ center + treat + sex + age + baseline + (1|idctr)", "glmer", family = "binomial", nAGQ = 8)
add("resp_agq16", "tests/respiratory.R m_glmer_4.GHQ16", "respiratory", "outcome ~ center + treat + sex + age + baseline + (1|idctr)", "glmer", family = "binomial", nAGQ = 16)
add("prlogistic", "tests/prLogistic.R", "prLogistic", "rgi ~ sex + pped + (1|schoolid)", "glmer", family = "binomial", slow = TRUE)
add("radinger", "tests/testthat/test-glmer.R mod", "radinger", "presabs ~ predictor + (1|species)", "glmer", family = "binomial")
add("gopher", "tests/testthat/test-glmer.R g0", "gopher", "shells ~ prev + (1|Site) + offset(log(Area))", "glmer", family = "poisson")
add("gopher_year", "tests/testthat/test-glmer.R update(g0, . ~ . + factor(year))", "gopher", "shells ~ prev + (1|Site) + offset(log(Area)) + fyear", "glmer", family = "poisson")
add("bacteria", "tests/glmer-1.R fm5", "bacteria", "y ~ trt + I(week > 2) + (1|ID)", "glmer", family = "binomial")
add("contraception", "tests/refit.R gm3", "Contraception", "use ~ urban + age + livch + (1|district)", "glmer", family = "binomial")
add("contraception_slope", "tests/profile-tst.R fm2", "Contraception", "use ~ urban + age + livch + (urban|district)", "glmer", family = "binomial", slow = TRUE)
add("mmmec", "tests/refit.R gm4", "Mmmec", "deaths ~ uvb + (1|region)", "glmer", family = "poisson", offset = "log(expected)")

## ---- fit ----------------------------------------------------------------------------------------------
r_call <- function(cs) {
  extra <- c(if (!is.null(cs$weights)) sprintf("weights = %s", cs$weights),
             if (!is.null(cs$offset)) sprintf("offset = %s", cs$offset))
  extra <- if (length(extra)) paste0(", ", paste(extra, collapse = ", ")) else ""
  if (cs$fun == "lmer")
    sprintf("lmer(%s, data = d, REML = %s%s)", cs$formula, cs$REML, extra)
  else
    sprintf("glmer(%s, data = d, family = %s%s%s)", cs$formula, cs$family,
            if (cs$nAGQ != 1L) sprintf(", nAGQ = %d", cs$nAGQ) else "", extra)
}

fit_case <- function(cs) {
  d <- DATA[[cs$data]]
  call <- r_call(cs)
  env <- new.env(); env$d <- d
  # offsets given as arguments are evaluated in the data
  if (!is.null(cs$offset)) call <- sub(sprintf("offset = %s", cs$offset), sprintf("offset = with(d, %s)", cs$offset),
                                       call, fixed = TRUE)
  if (!is.null(cs$weights)) call <- sub(sprintf("weights = %s", cs$weights), sprintf("weights = d$%s", cs$weights),
                                        call, fixed = TRUE)
  t0 <- proc.time()[["elapsed"]]
  r <- run_captured(call, envir = env)
  secs <- proc.time()[["elapsed"]] - t0
  out <- c(cs[setdiff(names(cs), c("weights", "offset", "needs", "family"))],
           list(weights = cs$weights, offset = cs$offset, needs = cs$needs, family_call = cs$family, call = call,
                conditions = cond_obj(r), seconds = secs))
  fit <- r$value
  if (is.null(fit)) return(out)
  glmm <- is(fit, "glmerMod")
  theta <- getME(fit, "theta"); beta <- getME(fit, "beta")
  devfun <- getME(fit, "devfun")
  par <- if (glmm && cs$nAGQ > 0) c(theta, beta) else theta
  fam <- family(fit)
  out$family <- if (glmm) fam$family else "gaussian"
  out$link <- if (glmm) fam$link else "identity"
  if (glmm && grepl("Negative Binomial", fam$family)) {
    out$family <- "negative_binomial"
    out$nb_theta <- getME(fit, "glmer.nb.theta")
    if (is.null(out$nb_theta)) out$nb_theta <- environment(fam$aic)$.Theta
  }
  obj <- if (!glmm) unname(if (cs$REML) REMLcrit(fit) else deviance(fit)) else -2 * c(logLik(fit))
  vc <- run_captured("vcov(fit)", envir = environment())
  se <- sqrt(diag(as.matrix(vc$value)))
  se_rx <- if (glmm) sqrt(diag(as.matrix(vcov(fit, use.hessian = FALSE)))) else se
  c(out, list(
    objective = obj,
    optinfo_val = fit@optinfo$val,
    devfun_at_estimates = devfun(par),  # getME's devfun: PIRLS restarts from the predictor at the start theta
    logLik = c(logLik(fit)),
    theta = arr(theta), lower = arr(getME(fit, "lower")),
    fixef_names = arr(names(fixef(fit))), fixef = arr(fixef(fit)), se = arr(se), se_rx = arr(se_rx),
    vcov_warnings = arr(vc$warnings),
    sigma = sigma(fit), nobs = nobs(fit),
    feval = fit@optinfo$feval, optimizer = arr(fit@optinfo$optimizer),
    conv_messages = arr(as.character(unlist(fit@optinfo$conv$lme4$messages))),
    is_singular = isSingular(fit)
  ))
}

res <- lapply(CASES, function(cs) { cat(cs$id, "\n"); fit_case(cs) })
write_golden(list(generated_by = generated_by("tools/golden/lme4_battery.R"),
                  note = paste("objective: REML criterion (REML lmer), deviance (ML lmer), -2 logLik (glmer);",
                               "devfun_at_estimates: getME(fit, 'devfun') at lme4's estimates (theta for lmer and",
                               "nAGQ = 0, c(theta, beta) otherwise)"),
                  datasets = DATASETS, cases = res), "lme4_battery.json")
