# Shared helpers for the golden-value scripts (design.R, lmm.R, glmm.R, inference.R, icc_null.R, glmm_tight.R).
# Sourced by those scripts; run them from the repository root, e.g.  Rscript tools/golden/lmm.R
suppressPackageStartupMessages({
  library(jsonlite)
  library(Matrix)
  library(lme4)
})

DATA_DIR <- "mixbayes/datasets/data"    # lme4's datasets exported by datasets.R
OUT_DIR <- "tests/golden"
SYN_DIR <- file.path(OUT_DIR, "data")
dir.create(SYN_DIR, recursive = TRUE, showWarnings = FALSE)

generated_by <- function(script) {
  pk <- c("lme4", "lmerTest", "pbkrtest", "glmmTMB", "performance", "Matrix", "jsonlite")
  v <- lapply(pk, function(p) as.character(packageVersion(p)))
  names(v) <- pk
  c(list(script = script, R = R.version.string), v,
    list(BLAS = unname(extSoftVersion()["BLAS"]), LAPACK = La_version(),
         platform = R.version$platform))
}

write_golden <- function(x, name) {
  path <- file.path(OUT_DIR, name)
  jsonlite::write_json(x, path, digits = NA, auto_unbox = TRUE, pretty = TRUE,
                       null = "null", na = "null")
  cat("wrote", path, "\n")
}

## ---- JSON shaping helpers ---------------------------------------------------
arr <- function(x) I(unname(as.vector(x)))          # always a JSON array, even for length 1
named <- function(x) as.list(x)                      # named vector -> JSON object
mat_rows <- function(m) {                            # matrix -> list of rows (arrays)
  m <- as.matrix(m)
  lapply(seq_len(nrow(m)), function(i) arr(m[i, ]))
}
mat_obj <- function(m) list(rownames = arr(rownames(m)), colnames = arr(colnames(m)),
                            rows = mat_rows(m))
df_cols <- function(df) {                            # data.frame -> object of column arrays
  out <- lapply(df, function(col) arr(if (is.factor(col)) as.character(col) else col))
  names(out) <- names(df)
  out
}
df_rows <- function(df) {                            # data.frame -> list of row objects
  lapply(seq_len(nrow(df)), function(i) {
    r <- lapply(df, function(col) {
      v <- col[i]
      if (is.factor(v)) as.character(v) else v
    })
    names(r) <- names(df)
    r
  })
}
table_obj <- function(tab) {                          # anova-like table with rownames
  df <- as.data.frame(tab)
  c(list(rownames = arr(rownames(df))), list(columns = df_cols(df)))
}

## Evaluate code (a string), collecting warnings, messages and an error, if any.
run_captured <- function(code, envir = globalenv()) {
  warns <- character(0); msgs <- character(0); err <- NULL
  val <- withCallingHandlers(
    tryCatch(eval(parse(text = code), envir = envir),
             error = function(e) { err <<- conditionMessage(e); NULL }),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { msgs <<- c(msgs, sub("\n$", "", conditionMessage(m))); invokeRestart("muffleMessage") })
  list(value = val, warnings = warns, messages = msgs, error = err)
}
cond_obj <- function(r) list(warnings = arr(r$warnings), messages = arr(r$messages), error = r$error)

## Wrap a block so that a failing sub-result is recorded instead of aborting the script.
safe <- function(expr) {
  warns <- character(0)
  v <- withCallingHandlers(
    tryCatch(expr, error = function(e) list(error = conditionMessage(e))),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) invokeRestart("muffleMessage"))
  if (length(warns) && is.list(v)) v$r_warnings <- arr(warns)
  v
}

## ---- data ---------------------------------------------------------------------
load_lme4_data <- function() {
  e <- new.env()
  for (nm in c("sleepstudy", "Dyestuff", "Dyestuff2", "Penicillin", "Pastes", "cbpp", "grouseticks"))
    assign(nm, get(nm, envir = asNamespace("lme4")), envir = e)
  gt <- e$grouseticks
  gt$HEIGHT <- as.numeric(scale(gt$HEIGHT))
  assign("grouseticks_s", gt, envir = e)
  e
}
DATA_PREP <- list(
  sleepstudy = "lme4::sleepstudy (Subject is a factor with levels 308 ... 372)",
  grouseticks_s = "grouseticks_s <- lme4::grouseticks; grouseticks_s$HEIGHT <- as.numeric(scale(grouseticks_s$HEIGHT))",
  cbpp = "lme4::cbpp (herd, period are factors)"
)

## Read a synthetic CSV back so that R fits exactly the rows Python will read.
read_synth <- function(path, factors) {
  d <- read.csv(path, stringsAsFactors = FALSE)
  for (nm in names(factors)) d[[nm]] <- factor(d[[nm]], levels = factors[[nm]])
  d
}
factor_meta <- function(d) {
  f <- Filter(is.factor, d)
  lapply(f, function(x) arr(levels(x)))
}

## Main synthetic LMM data set: numeric x, 2-level factor f, 3-level factor h (non-alphabetical
## level order), grouping factor g (20 levels, labels G1..G20 -> R's sorted order G1, G10, ...),
## site (4 levels); every g is observed in 2 sites, so the g labels are reused across sites and
## site:g has 40 levels.  x2 = 2*x (exact collinearity), z > 0.
make_synth <- function() {
  path <- file.path(SYN_DIR, "synth.csv")
  set.seed(20240501)
  ng <- 20; per_site <- 4
  rows <- list()
  for (i in 1:ng) {
    sites <- c((i - 1) %% 4 + 1, i %% 4 + 1)
    for (s in sites) rows[[length(rows) + 1]] <- data.frame(g = paste0("G", i), site = paste0("s", s),
                                                         rep = seq_len(per_site))
  }
  d <- do.call(rbind, rows)
  n <- nrow(d)
  d$x <- round(rnorm(n), 3)
  d$x2 <- 2 * d$x
  d$z <- round(runif(n, 0.5, 5), 3)
  d$f <- sample(c("ctl", "trt"), n, replace = TRUE)
  d$h <- sample(c("lo", "mid", "hi"), n, replace = TRUE)
  gi <- as.integer(sub("G", "", d$g)); si <- as.integer(sub("s", "", d$site))
  b0 <- rnorm(ng, 0, 1.0); b1 <- rnorm(ng, 0, 0.5); bs <- rnorm(4, 0, 0.6)
  eta <- 2 + 0.8 * d$x - 0.5 * (d$f == "trt") + 0.4 * d$x * (d$f == "trt") +
    c(lo = 0, mid = 0.3, hi = -0.2)[d$h] + 0.1 * d$x^2 + 0.3 * log(d$z) +
    b0[gi] + b1[gi] * d$x + bs[si]
  d$y <- round(eta + rnorm(n, 0, 0.7), 4)
  d <- d[, c("y", "x", "x2", "z", "f", "h", "g", "site")]
  write.csv(d, path, row.names = FALSE)
  read_synth(path, list(f = c("ctl", "trt"), h = c("lo", "mid", "hi"),
                        g = sort(unique(d$g)), site = sort(unique(d$site))))
}
SYNTH_DESC <- paste("tests/golden/data/synth.csv, read back with read.csv(stringsAsFactors=FALSE) and",
                    "factor(f, levels=c('ctl','trt')), factor(h, levels=c('lo','mid','hi')),",
                    "factor(g, levels=sort(unique(g))), factor(site, levels=sort(unique(site)))")
