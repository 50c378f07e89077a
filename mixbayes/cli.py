"""The ``mixbayes`` command line."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    import mixbayes as mb

    model = mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    print(model.explain())
    return 0


def _datasets(args: argparse.Namespace) -> int:
    import mixbayes as mb

    print(mb.list_datasets().to_string())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixbayes", description="lme4-style mixed models, fitted two ways.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="the bundled sleepstudy example").set_defaults(func=_demo)
    sub.add_parser("datasets", help="list the bundled data sets").set_defaults(func=_datasets)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
