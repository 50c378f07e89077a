# Exports lme4's bundled datasets (lme4 1.1-31, R 4.2.2) and their R column types,
# so that mixbayes.load_dataset() rebuilds factors with R's level order.
# Run from the repository root:  Rscript tools/golden/datasets.R
suppressMessages(library(lme4))
out <- "mixbayes/datasets/data"
sets <- c("sleepstudy", "Dyestuff", "Dyestuff2", "Penicillin", "Pastes", "cbpp", "grouseticks", "cake", "InstEval")
## data sets of other packages (name = package); MASS 7.3-58.2 for bacteria
other_sets <- c(bacteria = "MASS")
sets <- c(sets, names(other_sets))
esc <- function(s) gsub('"', '\\\\"', s)
js_str <- function(v) paste0("[", paste0('"', esc(v), '"', collapse = ", "), "]")
entries <- character(0)
for (nm in sets) {
  pkg <- if (nm %in% names(other_sets)) other_sets[[nm]] else "lme4"
  d <- if (pkg == "lme4") get(nm, envir = asNamespace(pkg)) else getExportedValue(pkg, nm)
  f <- file.path(out, paste0(nm, if (nm == "InstEval") ".csv.gz" else ".csv"))
  con <- if (grepl("gz$", f)) gzfile(f, "w") else file(f, "w")
  write.csv(d, con, row.names = FALSE)
  close(con)
  cols <- character(0)
  for (cn in names(d)) {
    x <- d[[cn]]
    if (is.factor(x)) {
      cols <- c(cols, sprintf('"%s": {"type": "%s", "levels": %s}', cn,
                              if (is.ordered(x)) "ordered" else "factor", js_str(levels(x))))
    } else if (is.integer(x)) {
      cols <- c(cols, sprintf('"%s": {"type": "integer"}', cn))
    } else {
      cols <- c(cols, sprintf('"%s": {"type": "numeric"}', cn))
    }
  }
  entries <- c(entries, sprintf('"%s": {"file": "%s", "nrow": %d, "columns": {%s}}', nm,
                                basename(f), nrow(d), paste(cols, collapse = ", ")))
}
writeLines(paste0("{", paste(entries, collapse = ",\n"), "}"), file.path(out, "meta.json"))
