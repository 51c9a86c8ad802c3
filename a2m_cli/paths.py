"""Output paths named on the command line: checked before any work, the same way in every command."""

from __future__ import annotations

from pathlib import Path

from a2m_core.errors import InputError
from a2m_core.files import check_writable


def output_path(path: Path, suffixes: tuple[str, ...], flag: str = "--out") -> Path:
    """`path` if it ends in one of `suffixes`, is no folder and its folder can be written; else an InputError."""
    if path.suffix.lower() not in suffixes:
        raise InputError(f"{flag} {path}: expected a file ending in {' or '.join(suffixes)}")
    if path.is_dir():
        raise InputError(f"{flag} {path}: is a folder; expected a file path ending in {' or '.join(suffixes)}")
    check_writable(path.parent, f"{flag} {path}")
    return path


def output_folder(path: Path, flag: str = "--out") -> Path:
    """`path` if it is (or can become) a folder that can be written; else an InputError."""
    if path.exists() and not path.is_dir():
        raise InputError(f"{flag} {path}: is a file; expected a folder")
    check_writable(path if path.exists() else path.parent, f"{flag} {path}")
    return path


def check_distinct(outputs: dict[str, Path | None], inputs: dict[str, Path | None] | None = None) -> None:
    """InputError when two outputs name the same file, or an output would overwrite an input.

    outputs, inputs: {flag: path}; None paths (options not given) are skipped.
    """
    written: dict[Path, str] = {}
    for flag, path in outputs.items():
        if path is None:
            continue
        key = path.resolve()
        if key in written:
            raise InputError(f"{written[key]} and {flag} both name {path}: give each output its own file")
        written[key] = flag
    for flag, path in (inputs or {}).items():
        if path is not None and path.resolve() in written:
            raise InputError(f"{written[path.resolve()]} {path} is also the input {flag}: writing it would destroy "
                             "the input; choose another output path")
