"""The `mixbayes` command line: output, exit codes, and one-line error messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mixbayes as mb
from mixbayes.cli import main

SLEEP = "Reaction ~ Days + (Days | Subject)"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exc:  # argparse errors exit
        status = int(exc.code)
    out, err = capsys.readouterr()
    return status, out, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("mixbayes: error: "), lines[0]
    return lines[0]


def test_datasets(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "datasets")
    assert status == 0 and err == ""
    for name in mb.list_datasets().index:
        assert name in out


def test_fit_prints_the_lme4_summary(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "fit", SLEEP, "--data", "sleepstudy")
    assert status == 0
    assert out.startswith("Linear mixed model fit by REML")
    assert "REML criterion at convergence: 1743.6" in out
    assert " Residual                654.9    25.59" in out


def test_fit_ml_from_a_csv_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "sleep.csv"
    mb.load_dataset("sleepstudy").to_csv(path, index=False)  # Subject becomes integer codes in the file
    status, out, _ = _run(capsys, "fit", SLEEP, "--data", str(path), "--method", "ml")
    assert status == 0 and out.startswith("Linear mixed model fit by maximum likelihood")
    assert "Subject, 18" in out


def test_fit_glmm_and_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--family binomial without --method: the likelihood fit is maximum likelihood (Laplace), inferred."""
    target = tmp_path / "out" / "cbpp.html"
    status, out, _ = _run(capsys, "fit", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "--data",
                          "cbpp", "--family", "binomial", "--report", str(target))
    assert status == 0
    assert "Laplace Approximation" in out and f"Report written to {target.resolve()}" in out
    assert "<section id='comparison'>" in target.read_text()


@pytest.mark.parametrize(("argv", "status", "message"), [
    (("fit", "Reaction ~ Days + (Days | Subject", "--data", "sleepstudy"), 2,
     "unbalanced parentheses: '(' is never closed (at character 19 of"),
    (("fit", "Reaction ~ Dayz + (Days | Subject)", "--data", "sleepstudy"), 1,
     "unknown column 'Dayz' in the formula. Did you mean 'Days'?"),
    (("fit", SLEEP, "--data", "nosuchdata"), 1, "'nosuchdata' is neither a CSV file nor a bundled data set"),
    (("fit", SLEEP, "--data", "missing/file.csv"), 1, "no such file: 'missing/file.csv'"),
    (("fit", SLEEP, "--data", "sleepstudy", "--method", "fast"), 2, "argument --method: invalid choice: 'fast'"),
    (("fit", SLEEP), 2, "the following arguments are required: --data"),
    (("fit", SLEEP, "--data", "sleepstudy", "--draws", "0"), 2, "argument --draws: expected a positive integer"),
    (("fit", SLEEP, "--data", "sleepstudy", "--family", "gamma"), 2, "argument --family: invalid choice"),
    (("fit", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "--data", "cbpp", "--family", "binomial",
      "--method", "reml"), 2, "REML is for linear mixed models"),
    (("fit", "y ~ x + (1 | g)", "--data", "sleepstudy"), 1, "unknown column"),
    (("bogus",), 2, "invalid choice: 'bogus'"),
    ((), 2, "the following arguments are required"),
])
def test_bad_arguments_give_one_line_and_a_nonzero_exit(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...],
                                                        status: int, message: str) -> None:
    got, out, err = _run(capsys, *argv)
    assert got == status, (got, err)
    assert message in _one_error_line(err)
    assert out == ""


def test_unreadable_csv(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xff\xfe\x00garbage\n\x00\x01")
    status, _, err = _run(capsys, "fit", SLEEP, "--data", str(path))
    assert status == 1
    _one_error_line(err)


def test_fit_both_prints_the_side_by_side_table(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIXBAYES_FAST", "1")
    status, out, _ = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--method", "both", "--random-seed", "3")
    assert status == 0
    assert out.startswith("Linear mixed model fit by REML")
    assert "Side by side: Reaction ~ Days + (Days | Subject)" in out and "95% interval" in out


def test_console_script_exit_status() -> None:
    """A real process: the exit status and the single stderr line reach the shell."""
    run = subprocess.run([sys.executable, "-m", "mixbayes.cli", "fit", SLEEP, "--data", "nope"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 1 and run.stdout == ""
    line = _one_error_line(run.stderr)
    assert line.endswith(")") and all(name in line for name in ("sleepstudy", "InstEval", "Salamanders", "bacteria"))
