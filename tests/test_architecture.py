"""The architecture rules of docs/architecture.md, checked on the source: no import cycle, no import up the
layers (tools/import_graph.py, which CI runs too), no module over 500 lines, and the deprecated import paths of
the modules that moved still work, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool():  # tools/ is not a package: load the script as a module
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_import_graph_has_no_cycle_and_points_down() -> None:
    tool = _tool()
    graph = tool.build_graph(ROOT)
    assert "mixbayes.model" in graph and "mixbayes.results.lmm" in graph["mixbayes.model"]
    assert tool.cycles(graph) == []
    assert tool.layer_violations(graph) == []


def test_the_tool_finds_a_cycle_and_an_upward_import() -> None:
    tool = _tool()
    graph = {"mixbayes.results.lmm": {"mixbayes.model"}, "mixbayes.model": {"mixbayes.results.lmm"}}
    assert tool.cycles(graph) == [["mixbayes.model", "mixbayes.results.lmm"]]
    assert tool.layer_violations(graph) == ["mixbayes.results.lmm (layer 4) imports mixbayes.model (layer 6)"]
    assert tool.layer_violations({"mixbayes.newthing": set()}) == [
        "mixbayes.newthing is in no layer of tools/import_graph.py LAYERS"]


def test_no_module_is_longer_than_500_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "mixbayes").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert long == {}


@pytest.mark.parametrize(("old", "new", "name"), [("mixbayes.bayes.map", "mixbayes.results.map", "MapFit"),
                                                  ("mixbayes.bayes.priors", "mixbayes.priors", "PriorSet")])
def test_moved_modules_keep_a_deprecated_alias(old: str, new: str, name: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated: import from {new}"):
        alias = importlib.import_module(old)
    assert getattr(alias, name) is getattr(importlib.import_module(new), name)
