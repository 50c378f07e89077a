"""mb.shrinkage and the report's plots: no pooling is each group's own regression, complete pooling one
regression, partial pooling the mixed model's coef, and it lies between the first two."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import dataset
from report_standin import StandInBayesFit

import mixbayes as mb
from mixbayes.report import plots


@pytest.fixture(scope="module")
def sleep_shrinkage(sleep_reml) -> mb.report.Shrinkage:
    return mb.shrinkage(sleep_reml, StandInBayesFit(sleep_reml, random_seed=1))


def test_three_poolings_for_sleepstudy(sleep_reml, sleep_shrinkage) -> None:
    s = sleep_shrinkage
    data = mb.load_dataset("sleepstudy")
    assert s.group == "Subject" and s.columns == ["(Intercept)", "Days"]
    assert (s.n == 10).all() and len(s.n) == 18
    for subject, frame in data.groupby("Subject", observed=True):
        slope, intercept = np.polyfit(frame["Days"], frame["Reaction"], 1)
        np.testing.assert_allclose(s.no_pooling.loc[str(subject)].to_numpy(), [intercept, slope], rtol=1e-10)
    slope, intercept = np.polyfit(data["Days"], data["Reaction"], 1)
    np.testing.assert_allclose(s.complete_pooling.to_numpy(), [intercept, slope], rtol=1e-10)
    coef = sleep_reml.coef["Subject"]
    np.testing.assert_allclose(s.partial_pooling.to_numpy(), coef.to_numpy())
    np.testing.assert_allclose(s.population.to_numpy(), sleep_reml.beta)
    # the mixed model's slopes vary less than the subjects' own
    assert s.partial_pooling["Days"].std() < s.no_pooling["Days"].std()
    table = s.table
    assert table.shape == (18, 1 + 4 * 2)
    assert ("posterior", "Days") in table.columns and ("complete_pooling", "Days") in table.columns


@pytest.mark.parametrize(("formula", "data"), [
    ("Yield ~ 1 + (1 | Batch)", "Dyestuff"),
    ("Reaction ~ 1 + (1 | Subject)", "sleepstudy"),
    ("strength ~ 1 + (1 | batch)", "Pastes"),
])
def test_intercept_only_partial_pooling_lies_between(formula: str, data: str) -> None:
    """Balanced intercept-only models: complete pooling is the grand mean, which is also the fixed intercept."""
    fit = mb.lmer(formula, dataset(data))
    s = mb.shrinkage(fit)
    nop, part, pooled = s.no_pooling.iloc[:, 0], s.partial_pooling.iloc[:, 0], s.complete_pooling.iloc[0]
    lo, hi = np.minimum(nop, pooled), np.maximum(nop, pooled)
    assert ((part > lo) & (part < hi)).all()
    # shrinkage by the same factor in every (equal-sized) group
    factor = (part - pooled) / (nop - pooled)
    np.testing.assert_allclose(factor, factor.iloc[0], rtol=1e-8)
    assert 0 < factor.iloc[0] < 1
    assert s.between.all().all()


def test_unbalanced_and_other_fixed_effects() -> None:
    """Unequal group sizes and a fixed slope outside the random term: partial pooling lies between each group's
    own estimate (with the slope held at the mixed model's) and the population value, closer to the population
    for smaller groups."""
    data = mb.load_dataset("sleepstudy")
    keep = ~((data["Days"] > 2) & data["Subject"].isin(data["Subject"].cat.categories[:6]))
    fit = mb.lmer("Reaction ~ Days + (1 | Subject)", data[keep])
    s = mb.shrinkage(fit)
    assert sorted(set(s.n)) == [3, 10]
    assert s.between.all().all()
    moved = 1 - (s.partial_pooling.iloc[:, 0] - s.population.iloc[0]) / (s.no_pooling.iloc[:, 0] - s.population.iloc[0])
    assert moved[s.n == 3].min() > moved[s.n == 10].max()


def test_glmm_no_pooling_by_irls() -> None:
    fit = mb.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mb.load_dataset("cbpp"))
    s = mb.shrinkage(fit)
    assert s.columns == ["(Intercept)"]
    ok = s.no_pooling.iloc[:, 0].notna()
    assert 0 < ok.sum() < len(ok)  # herds with no cases have no finite estimate of their own
    between = s.between.iloc[:, 0]
    assert between[ok].astype(bool).all() and between[~ok].isna().all()


def test_unknown_group() -> None:
    fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    with pytest.raises(ValueError, match="no random-effects term is grouped by 'Batch'"):
        mb.shrinkage(fit, group="Batch")


def _texts(fig) -> str:
    legends = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    return " ".join([t.get_text() for ax in fig.axes for t in [ax.title, ax.xaxis.label, ax.yaxis.label]
                     + (ax.get_legend().get_texts() if ax.get_legend() else [])] + legends)


def test_shrinkage_plots(sleep_shrinkage) -> None:
    fig = sleep_shrinkage.plot()
    ax = fig.axes[0]
    arrows = [c for c in ax.get_children() if type(c).__name__ == "Annotation"]
    assert len(arrows) == 18
    text = _texts(fig)
    for piece in ("no pooling", "partial pooling (REML/ML)", "posterior", "complete pooling", "(Intercept)", "Days"):
        assert piece in text, piece
    assert len(plots.figure_png(fig)) > 10_000
    lines = sleep_shrinkage.plot_lines()
    assert sum(ax.get_visible() for ax in lines.axes) == 18
    assert len(lines.axes[0].get_lines()) == 4  # no, complete, partial (likelihood), partial (posterior)


def test_one_dimensional_plot_and_intercept_lines() -> None:
    fit = mb.lmer("Yield ~ 1 + (1 | Batch)", dataset("Dyestuff"))
    s = mb.shrinkage(fit)
    fig = s.plot()
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["no pooling", "partial pooling\n(REML/ML)"]
    lines = s.plot_lines()
    assert "group mean" in _texts(lines)
    assert len(plots.figure_png(lines)) > 5_000


def test_caterpillar_and_comparison_plots(sleep_reml) -> None:
    post = StandInBayesFit(sleep_reml, random_seed=1)
    fig = plots.caterpillar_plot(sleep_reml, post)
    assert [ax.get_title() for ax in fig.axes] == ["(Intercept)", "Days"]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["conditional mode \u00b1 1.96 cond. SD", "posterior mean, 95% interval"]
    cmp = mb.compare(sleep_reml, post, intervals="none")
    fig = plots.comparison_plot(cmp)
    assert len(fig.axes) == len(cmp.table)


def test_bayesian_diagnostic_plots(sleep_reml) -> None:
    post = StandInBayesFit(sleep_reml, random_seed=1, divergent=7)
    fig = plots.divergence_pairs_plot(post)
    assert "7 divergent transitions" in fig._suptitle.get_text()
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 4 * 5 // 2  # lower triangle of 4 parameters: 3 SD/cor + sigma
    fig = plots.trace_rank_plot(post)
    assert len(fig.axes) == 8
    assert len(fig.axes[0].get_lines()) == 2  # one trace per chain
