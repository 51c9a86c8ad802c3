"""Files written whole or not at all, and output folders checked before the work.

Every file a2m writes goes to a temporary name beside its target, `.NAME.RANDOM.tmp.SUFFIX`
(the same folder, so the final rename is atomic; the same suffix, so writers that choose a
format by suffix, such as ffmpeg, soundfile and np.save, still do), is flushed to disk and
renamed over the target once complete. An exception, Ctrl-C or SIGTERM (the command line turns
it into an exception, see `a2m_cli.main`) on the way deletes the temporary file and leaves
the previous file, if any, as it was. Folders (model folders, exports, checkpoints) are staged
and swapped in the same way as a whole.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from a2m_core.errors import InputError

TEMP_MARK = ".tmp"  # in the name of every temporary file or folder (`remove_stale_temp_files`)
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _fsync(path: Path) -> None:
    """Flush a file, or every file under a folder and the folder itself, to disk."""
    if path.is_dir():
        for child in path.rglob("*"):
            if child.is_file():
                _fsync(child)
        _fsync_dir(path)
        return
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on any error or interrupt it is deleted."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_MARK + path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a finished file gets the usual permissions
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder beside `path`; on success it replaces the folder `path`, on error it is deleted."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_MARK))
    try:
        os.chmod(staging, 0o777 & ~_UMASK)
        yield staging
        _fsync(staging)
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old.", suffix=TEMP_MARK))
            os.replace(path, old)  # the two renames leave a window without `path`, never a half-written one
            os.replace(staging, path)
            shutil.rmtree(old)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(path.parent)


def save_npy(path: str | Path, array: np.ndarray) -> Path:
    """np.save `array` (no pickles) to `path` atomically; returns the path."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.asarray(array), allow_pickle=False)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def remove_stale_temp_files(root: Path) -> int:
    """Delete temporary files that a killed run left under `root`; returns how many."""
    stale = [p for p in Path(root).rglob(f".*{TEMP_MARK}*") if p.is_file() and TEMP_MARK in p.name]
    for p in stale:
        p.unlink()
    return len(stale)


def check_writable(folder: Path, what: str | None = None) -> None:
    """InputError unless `folder` can be created and a file written in it; `what` names it in the message."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{what or folder}: cannot create folder {folder} ({exc.strerror}); "
                         "choose a folder you can write to") from None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe", suffix=TEMP_MARK):
            pass
    except OSError as exc:
        raise InputError(f"{what or folder}: cannot write to folder {folder} ({exc.strerror}); "
                         "choose a folder you can write to") from None
