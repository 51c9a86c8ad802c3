"""Output paths named on the command line: checked once, the same way in every command."""

from __future__ import annotations

from pathlib import Path

from a2m_core.errors import InputError


def output_path(path: Path, suffixes: tuple[str, ...], flag: str = "--out") -> Path:
    """`path` if it ends in one of `suffixes` and its folder exists or can be made; else an InputError."""
    if path.suffix.lower() not in suffixes:
        raise InputError(f"{flag} {path}: expected a file ending in {' or '.join(suffixes)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{flag} {path}: cannot create its folder ({exc.strerror})") from None
    return path
