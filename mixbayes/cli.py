"""The ``mixbayes`` command line.

::

    mixbayes fit FORMULA --data FILE.csv|DATASET [--family F] [--link L] [--method reml|ml|bayes|both]
                 [--report out.html] [--draws N] [--tune N] [--chains N] [--random-seed S]
    mixbayes demo [--out PATH] [--draws N] [--tune N] [--chains N] [--random-seed S]
    mixbayes datasets

Errors are reported as one line on stderr (``mixbayes: error: ...``) with exit status 2 for bad arguments and
malformed or refused formulas (the line names the character position) and 1 for data or model problems.
Setting ``MIXBAYES_FAST=1`` makes the Bayesian defaults small (2 chains x 500
draws after 500 warm-up steps), for tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["main"]

DEMO_FORMULA = "Reaction ~ Days + (Days | Subject)"
DEMO_OUT = "sleepstudy-report.html"


class CliError(Exception):
    """A problem to report as one line, with an exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"mixbayes: error: {message} (see '{self.prog} --help')\n")


def _fast() -> bool:
    return os.environ.get("MIXBAYES_FAST", "").strip() not in ("", "0", "false", "no")


def _sampling_defaults(args: argparse.Namespace) -> dict[str, Any]:
    fast = _fast()
    return {
        "draws": args.draws if args.draws is not None else (500 if fast else 1000),
        "tune": args.tune if args.tune is not None else (500 if fast else 1000),
        "chains": args.chains if args.chains is not None else (2 if fast else 4),
        "random_seed": args.random_seed,
    }


def _one_line(exc: BaseException) -> str:
    from .exceptions import FormulaSyntaxError

    if isinstance(exc, FormulaSyntaxError):
        return f"{exc.reason} (at character {exc.position + 1} of {exc.formula!r})"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _quietly(what: Callable[[], Any]) -> Any:
    """Run ``what`` and print each distinct warning as one line on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = what()
    seen = set()
    for w in caught:
        msg = " ".join(str(w.message).split())
        if msg not in seen:
            seen.add(msg)
            print(f"mixbayes: warning: {msg}", file=sys.stderr)
    return out


def _load_data(spec: str) -> Any:
    import pandas as pd

    from .datasets import list_datasets, load_dataset

    path = Path(spec)
    if path.is_file():
        try:
            return pd.read_csv(path)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise CliError(f"cannot read {spec!r} as CSV: {_one_line(exc)}") from None
    names = list(list_datasets().index)
    lowered = {n.lower(): n for n in names}
    if spec.lower() in lowered:
        return load_dataset(lowered[spec.lower()])
    if spec.lower().endswith(".csv") or os.sep in spec:
        raise CliError(f"no such file: {spec!r}")
    raise CliError(f"{spec!r} is neither a CSV file nor a bundled data set ({', '.join(names)})")


def _sample(model: Any, settings: dict[str, Any]) -> Any:
    print(f"mixbayes: sampling the posterior ({settings['chains']} chains x {settings['draws']} draws after "
          f"{settings['tune']} warm-up steps)...", file=sys.stderr)
    return _quietly(lambda: model.sample(**settings, progressbar=False))


def _fit(args: argparse.Namespace) -> int:
    from .model import Model
    from .report import compare
    from .report.html import write_report as report

    if args.report:  # a bad report path fails now, not after the fits
        from .arguments import check_output_path

        check_output_path(args.report, (".html", ".htm"), "report")
    data = _load_data(args.data)
    model = _quietly(lambda: Model(args.formula, data, family=args.family, link=args.link))
    gaussian = model.family.is_lmm
    # default: REML for a linear mixed model, maximum likelihood (Laplace) for other families
    method = args.method or ("reml" if gaussian else "ml")
    if method in ("reml", "ml") and not gaussian:
        if method == "reml":
            raise CliError(f"REML is for linear mixed models; a {model.family.name} model is fitted by maximum "
                           "likelihood: use --method ml (Laplace), bayes or both", 2)
        lmethod: str | None = None
    else:
        lmethod = method if method in ("reml", "ml") else None
    settings = _sampling_defaults(args)
    lfit = bfit = None
    if method in ("reml", "ml", "both"):
        lfit = _quietly(lambda: model.fit(method=lmethod))
        print(lfit.summary())
    if method in ("bayes", "both"):
        bfit = _sample(model, settings)
        if method == "bayes":
            print(bfit.summary())
    if method == "both":
        print()
        print(compare(lfit, bfit))
    if args.report:
        target = report((lfit, bfit) if lfit is not None and bfit is not None else (lfit or bfit), args.report,
                        method=lmethod)
        print(f"\nReport written to {Path(target).resolve()}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .arguments import check_output_path
    from .datasets import load_dataset
    from .model import Model
    from .report import compare
    from .report.html import write_report as report

    check_output_path(args.out, (".html", ".htm"), "report")  # before the fits
    model = Model(DEMO_FORMULA, load_dataset("sleepstudy"))
    print(f"mixbayes demo: {DEMO_FORMULA} on the bundled sleepstudy data (18 subjects, 10 days each)\n",
          file=sys.stderr)
    lfit = _quietly(lambda: model.fit())
    bfit = _sample(model, _sampling_defaults(args))
    print(compare(lfit, bfit))
    target = report((lfit, bfit), args.out)
    print(f"\nReport written to {Path(target).resolve()}")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from .datasets import list_datasets

    print(list_datasets().to_string())
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _sampling_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--draws", type=_positive, help="posterior draws per chain (default 1000)")
    p.add_argument("--tune", type=_positive, help="warm-up steps per chain (default 1000)")
    p.add_argument("--chains", type=_positive, help="number of chains (default 4)")
    p.add_argument("--random-seed", dest="random_seed", type=int, default=1,
                   help="random seed of the sampler (default 1)")
    # the old spelling, for one release: argparse prints that it is deprecated
    p.add_argument("--seed", dest="random_seed", type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS,
                   deprecated=True)


def _parser() -> argparse.ArgumentParser:
    from .families import family_names

    parser = _Parser(prog="mixbayes", description="lme4-style mixed models, fitted two ways and shown side by side.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{fit,demo,datasets}")
    fit = sub.add_parser("fit", help="fit a model and print its summary",
                         description="Fit an lme4 formula by likelihood (REML/ML, Laplace), by NUTS, or both.")
    fit.add_argument("formula", help="lme4 formula, e.g. 'Reaction ~ Days + (Days | Subject)' (quote it)")
    fit.add_argument("--data", required=True, help="a CSV file, or the name of a bundled data set "
                                                   "(see 'mixbayes datasets')")
    fit.add_argument("--family", default="gaussian",
                     choices=list(family_names()), help="response family")
    fit.add_argument("--link", default=None, help="link function (default: the family's canonical link)")
    fit.add_argument("--method", default=None, choices=["reml", "ml", "bayes", "both"],
                     help="reml/ml: likelihood (ml means Laplace for non-Gaussian families); bayes: NUTS; both: "
                          "both, with the side-by-side table (default: reml for the gaussian family, ml otherwise)")
    fit.add_argument("--report", metavar="OUT.html", help="also write the HTML report there")
    _sampling_args(fit)
    fit.set_defaults(func=_fit)
    demo = sub.add_parser("demo", help="fit the bundled sleepstudy model both ways and write the report",
                          description=f"Fit {DEMO_FORMULA} to the bundled sleepstudy data by REML and by NUTS, "
                                      "print the side-by-side table and write the HTML report.")
    demo.add_argument("--out", default=DEMO_OUT, help=f"where to write the report (default ./{DEMO_OUT})")
    _sampling_args(demo)
    demo.set_defaults(func=_demo)
    sub.add_parser("datasets", help="list the bundled data sets").set_defaults(func=_datasets)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from .exceptions import FormulaSyntaxError, MixbayesError

    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        sys.stdout = open(os.devnull, "w")
        return 0
    except CliError as exc:
        print(f"mixbayes: error: {exc}", file=sys.stderr)
        return exc.status
    except FormulaSyntaxError as exc:  # an input error; the line gives the position in the formula
        print(f"mixbayes: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (MixbayesError, ValueError, KeyError, OSError) as exc:
        print(f"mixbayes: error: {_one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
