"""The notebook acceptance test: examples/06_workflow.py (``# %%`` cells) executed with nbclient in a fresh Jupyter
kernel running this interpreter (the venv's Python).  Every figure cell yields one image/png, every fit cell
text/html, each sampling call leaves one progress line (updated in place, one line in the saved notebook), and
nothing is written to stderr (no tqdm "IProgress not found", no warning)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the dev extras (pip install -e '.[dev]')")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs the dev extras (pip install -e '.[dev]')")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "06_workflow.py"
HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def percent_cells(path: Path) -> list[tuple[str, list[str], str]]:
    """The ``# %%`` cells of a script as (kind, tags, source); markdown cells lose their ``# `` prefixes."""
    cells: list[tuple[str, list[str], str]] = []
    kind, tags, lines = None, [], []

    def flush() -> None:
        if kind is not None:
            src = "\n".join(lines).strip("\n")
            if kind == "markdown":
                src = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in src.split("\n"))
            cells.append((kind, tags, src))

    for line in path.read_text().split("\n"):
        m = HEADER.match(line)
        if m:
            flush()
            kind, tags, lines = ("markdown" if m.group("md") else "code"), json.loads(m.group("tags") or "[]"), []
        else:
            lines.append(line)
    flush()
    return cells


def to_notebook(path: Path) -> object:
    nb = nbformat.v4.new_notebook()
    for kind, tags, src in percent_cells(path):
        cell = (nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src))
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    probe = nbformat.v4.new_code_cell("import sys; print(sys.executable)")
    probe.metadata["tags"] = ["probe"]
    nb.cells.append(probe)
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    out = tmp_path_factory.mktemp("notebook")
    nb = to_notebook(EXAMPLE)
    env = {"MIXBAYES_FAST": "1", "MIXBAYES_OUT": str(out), "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this environment
    try:
        client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                         resources={"metadata": {"path": str(out)}})
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    path = out / "workflow.ipynb"
    nbformat.write(nb, path)
    return nbformat.read(path, as_version=4), out


def _cells(nb: object, tag: str) -> list[object]:
    return [c for c in nb.cells if c.cell_type == "code" and tag in c.metadata.get("tags", [])]


def test_the_kernel_is_this_python(executed: tuple[object, Path]) -> None:
    (probe,) = _cells(executed[0], "probe")
    assert probe.outputs[0]["text"].strip() == sys.executable


def test_every_figure_cell_shows_one_png(executed: tuple[object, Path]) -> None:
    cells = _cells(executed[0], "figure")
    assert len(cells) >= 4
    for c in cells:
        images = [o for o in c.outputs if "data" in o and "image/png" in o["data"]]
        assert len(images) == 1, (c.source, [o.get("output_type") for o in c.outputs])


def test_every_fit_cell_shows_html(executed: tuple[object, Path]) -> None:
    cells = _cells(executed[0], "fit")
    assert len(cells) >= 8
    for c in cells:
        results = [o for o in c.outputs if o["output_type"] == "execute_result"]
        assert len(results) == 1 and "text/html" in results[0]["data"], (c.source, c.outputs)


def test_one_progress_line_per_sampling_call(executed: tuple[object, Path]) -> None:
    cells = _cells(executed[0], "sampling")
    assert cells
    for c in cells:
        lines = [o for o in c.outputs if o["output_type"] == "display_data"]
        assert len(lines) == 1, c.outputs
        text = lines[0]["data"]["text/plain"]
        assert text.startswith("mixbayes: ") and "\n" not in text and "sampling" in text, text
        assert "post-processing" in text  # the line was updated to its final state


def test_nothing_on_stderr(executed: tuple[object, Path]) -> None:
    noise = [(c.source[:60], o["text"]) for c in executed[0].cells if c.cell_type == "code" for o in c.outputs
             if o["output_type"] == "stream" and o["name"] == "stderr"]
    assert noise == []
    errors = [o for c in executed[0].cells if c.cell_type == "code" for o in c.outputs if o["output_type"] == "error"]
    assert errors == []


def test_the_report_is_written(executed: tuple[object, Path]) -> None:
    assert (executed[1] / "workflow.html").stat().st_size > 100_000
