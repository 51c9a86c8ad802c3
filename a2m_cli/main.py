"""`a2m` entry point.

Each subcommand group lives in its own module of `a2m_cli` with a `register(subparsers)`
function that adds its parser and sets `func`. Registration must stay cheap (no torch import):
heavy imports happen inside the command functions, so `a2m --help` answers at once.
The groups that drive `training` and `a2m_ros` are optional: where that package is absent,
the rest of the command line still works.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import signal
import sys
import threading

from a2m_core import __version__
from a2m_core.errors import InputError

# (module, the package it drives where that package is optional): a group whose package is not
# installed is left out.
COMMAND_MODULES: tuple[tuple[str, str | None], ...] = (
    ("a2m_cli.demo", None),
    ("a2m_cli.motion", None),
    ("a2m_cli.model", None),
    ("a2m_cli.generate", None),
    ("a2m_cli.export", None),
    ("a2m_cli.bench", None),
    ("a2m_cli.retarget", None),
    ("a2m_cli.data", "training"),
    ("a2m_cli.train", "training"),
    ("a2m_cli.ros", "a2m_ros"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="a2m",
        description="Spoken instruction in, human motion out. "
        "Run `a2m COMMAND --help` for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"a2m {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name, optional_package in COMMAND_MODULES:
        if optional_package is not None and importlib.util.find_spec(optional_package) is None:
            continue
        importlib.import_module(module_name).register(subparsers)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so that the same clean-up runs (partial outputs are deleted)."""


EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class _Interrupts:
    """SIGINT / SIGTERM handlers for one command: raise KeyboardInterrupt / Terminated in this process and
    remember the signal, because some libraries turn the exception into their own (matplotlib's Agg
    renderer reports a Ctrl-C inside a draw as "ValueError: Invalid bounding box").

    Forked workers get the handlers that were there before: a Python handler runs only between
    bytecodes, so a pool worker blocked on its queue's lock when the pool terminates it would never
    die of SIGTERM, and the pool would wait for it forever."""

    active: _Interrupts | None = None  # the command running in this process, for forked children

    def __init__(self):
        self.received: list[int] = []
        self._previous: dict[int, object] = {}

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in EXIT_CODES}
            _Interrupts.active = self
        return self

    def __exit__(self, *exc) -> None:
        self.restore()
        _Interrupts.active = None

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        self.received.append(signum)
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _restore_in_forked_child() -> None:
    if _Interrupts.active is not None:
        _Interrupts.active.restore()
        _Interrupts.active = None


os.register_at_fork(after_in_child=_restore_in_forked_child)


def _interrupted(signum: int) -> int:
    if signum == signal.SIGTERM:
        print("a2m: terminated (SIGTERM); unfinished outputs were removed", file=sys.stderr)
    else:
        print("a2m: interrupted; unfinished outputs were removed", file=sys.stderr)
    return EXIT_CODES[signum]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    with _Interrupts() as interrupts:
        try:
            return int(args.func(args) or 0)
        except InputError as exc:
            print(f"a2m: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as exc:
            return _interrupted(signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
        except Exception:
            if interrupts.received:  # the interrupt surfaced as another exception
                return _interrupted(interrupts.received[0])
            raise

if __name__ == "__main__":
    sys.exit(main())
