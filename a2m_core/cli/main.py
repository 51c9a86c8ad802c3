"""`a2m` entry point.

Each subcommand group lives in its own module with a `register(subparsers)` function that
adds its parser and sets `func`. Registration must stay cheap (no torch import): heavy
imports happen inside the command functions, so `a2m --help` answers at once.
Groups from `training` and `a2m_ros` are optional: where their package is absent, the rest
of the command line still works.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading

from a2m_core import __version__
from a2m_core.errors import InputError

# (module, required): optional groups are skipped when their package is not installed.
COMMAND_MODULES: tuple[tuple[str, bool], ...] = (
    ("a2m_core.cli.demo", True),
    ("a2m_core.cli.motion", True),
    ("a2m_core.cli.model", True),
    ("a2m_core.cli.generate", True),
    ("a2m_core.cli.export", True),
    ("a2m_core.cli.bench", True),
    ("a2m_core.cli.retarget", True),
    ("training.cli", False),
    ("training.cli_train", False),
    ("a2m_ros.cli", False),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="a2m",
        description="Spoken instruction in, human motion out. "
        "Run `a2m COMMAND --help` for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"a2m {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name, required in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if required or not module_name.startswith(exc.name or "\0"):
                raise
            continue
        module.register(subparsers)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so that the same clean-up runs (partial outputs are deleted)."""


def _on_sigterm(pid: int):
    """SIGTERM handler raising Terminated in process `pid`; forked workers (which inherit it) die as usual."""
    def handler(signum, frame) -> None:
        if os.getpid() != pid:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated()
    return handler


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm(os.getpid())) if in_main_thread else None
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"a2m: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("a2m: terminated (SIGTERM); unfinished outputs were removed", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("a2m: interrupted; unfinished outputs were removed", file=sys.stderr)
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
