"""The import graph of ``mixbayes/``, read from the AST, and its cycles.

Every import counts: module level, inside functions (lazy imports) and under ``if TYPE_CHECKING:``.  An edge
``a -> b`` means module ``a`` imports something from module ``b`` (``from .x import y`` where ``y`` is a
submodule counts as an import of that submodule; importing a package counts as importing its ``__init__``).

Usage::

    python tools/import_graph.py            # prints the strongly connected components; exit 1 if any cycle
    python tools/import_graph.py --edges    # also prints every edge

The cycles are the strongly connected components with more than one module (Tarjan's algorithm).

It also checks that references point down: every module belongs to a layer of :data:`LAYERS` (the longest
matching prefix decides) and may import only from its own layer or the layers below it.  An import up the
layers, or a module in no layer, fails the check like a cycle does.  docs/architecture.md draws the layers.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "mixbayes"

LAYERS: tuple[tuple[str, ...], ...] = (
    # 0: vocabulary that everything uses
    ("mixbayes.exceptions", "mixbayes.warn", "mixbayes.arguments", "mixbayes.version", "mixbayes.families",
     "mixbayes.formula", "mixbayes.datasets", "mixbayes.figure", "mixbayes.frames", "mixbayes.tables"),
    # 1: formula + data -> ModelMatrices
    ("mixbayes.design",),
    # 2: engines and specifications on the design: likelihood estimates, priors, out-of-core blocks, the protocols
    #    the upper layers name Model and the fits by, and the writing half of the file format
    ("mixbayes.likelihood", "mixbayes.priors", "mixbayes.outofcore", "mixbayes.protocols",
     "mixbayes.persistence.encode", "mixbayes.persistence.table"),
    # 3: inference on estimates plus the design
    ("mixbayes.inference",),
    # 4: likelihood-style fit objects (LmmFit, GlmmFit, MapFit) and their tables
    ("mixbayes.results", "mixbayes.outofcore.fit"),
    # 5: the Bayesian engine and BayesFit
    ("mixbayes.bayes",),
    # 6: the public entry points that make fits
    ("mixbayes.model", "mixbayes.api"),
    # 7: reading files back (rebuilds models and refits them)
    ("mixbayes.persistence",),
    # 8: side-by-side reports, the command line and the package's public surface
    ("mixbayes.report", "mixbayes.cli", "mixbayes"),
)
"""The layers, lowest first; a module may import from its own layer and the ones below."""


def module_name(path: Path, root: Path) -> str:
    """Dotted module name of a file below ``root`` (the folder that holds the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(current: str, is_package: bool, level: int, target: str | None) -> str:
    """Absolute name of a (possibly relative) import target seen in module ``current``."""
    if level == 0:
        return target or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imports_of(path: Path, current: str, modules: set[str]) -> Iterator[str]:
    """Modules of the package that the file imports, anywhere in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield _closest(alias.name, modules)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(current, is_package, node.level, node.module)
            if target.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield sub if sub in modules else _closest(target, modules)


def _closest(name: str, modules: set[str]) -> str:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def build_graph(root: Path) -> dict[str, set[str]]:
    """Edges of the package's import graph (self-edges dropped)."""
    files = {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))}
    modules = set(files)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in files.items():
        for dep in imports_of(path, mod, modules):
            if dep and dep != mod:
                graph[mod].add(dep)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp: list[str] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def layer_of(module: str) -> int | None:
    """Index in :data:`LAYERS` of the longest prefix that names ``module`` (None when no layer does; the package
    itself names only its ``__init__``)."""
    best: tuple[int, int] | None = None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or (prefix != PACKAGE and module.startswith(prefix + "."))
            if inside and (best is None or len(prefix) > best[0]):
                best = (len(prefix), i)
    return None if best is None else best[1]


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports that point up the layers, and modules in no layer."""
    out = [f"{mod} is in no layer of tools/import_graph.py LAYERS" for mod in sorted(graph) if layer_of(mod) is None]
    for mod in sorted(graph):
        low = layer_of(mod)
        for dep in sorted(graph[mod]):
            high = layer_of(dep)
            if low is not None and high is not None and high > low:
                out.append(f"{mod} (layer {low}) imports {dep} (layer {high})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--edges", action="store_true", help="print every edge")
    args = parser.parse_args(argv)
    graph = build_graph(args.root)
    if args.edges:
        for mod in sorted(graph):
            for dep in sorted(graph[mod]):
                print(f"{mod} -> {dep}")
    found = cycles(graph)
    n_edges = sum(len(v) for v in graph.values())
    print(f"{len(graph)} modules, {n_edges} imports, {len(found)} cycle(s)")
    for comp in found:
        print(f"cycle of {len(comp)} modules: {', '.join(comp)}")
    upward = layer_violations(graph)
    print(f"{len(upward)} import(s) against the layers")
    for line in upward:
        print(f"upward: {line}")
    return 1 if found or upward else 0


if __name__ == "__main__":
    sys.exit(main())
