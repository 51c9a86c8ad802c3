"""Atomic file writes and a resumable, parallel per-item build loop.

Every output is written to a temporary file in its folder and renamed into place, so a
build killed at any moment leaves each file either complete or absent (plus, at worst, a
stray `.NAME.*.tmp` that the next run deletes). A build records each finished item with a
small JSON file written last; a rerun skips items that have one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from a2m_core.errors import InputError

TEMP_SUFFIX = ".tmp"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed to `path`, on error deleted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, data) -> None:
    write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def remove_stale_temp_files(root: Path) -> int:
    """Delete temporary files a killed build left under `root`; returns how many."""
    stale = [p for p in root.rglob(f".*{TEMP_SUFFIX}") if p.is_file()]
    for p in stale:
        p.unlink()
    return len(stale)


def check_writable(folder: Path) -> None:
    """InputError unless `folder` can be created and written to."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe"):
            pass
    except OSError as exc:
        raise InputError(f"cannot write to {folder} ({exc.strerror}); choose a folder you can write to") from None


def run_resumable(items: list[str], work: Callable[[str], dict], records: Path, workers: int,
                  desc: str) -> list[dict]:
    """Run `work(item)` for each item that has no `records/ITEM.json` yet, in `workers` processes.

    `work` must be a picklable top-level callable returning a JSON-able record, which is
    written last (atomically), after everything the item produces. Returns the records of
    all items, old and new, in the order of `items`.
    """
    if workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    records.mkdir(parents=True, exist_ok=True)
    todo = [item for item in items if not (records / f"{item}.json").is_file()]
    with tqdm(total=len(items), initial=len(items) - len(todo), desc=desc, unit="item") as bar:
        if workers == 1:
            for item in todo:
                write_json(records / f"{item}.json", work(item))
                bar.update()
        else:
            with get_context("fork").Pool(workers) as pool:
                for item, record in pool.imap_unordered(_Job(work), todo, chunksize=1):
                    write_json(records / f"{item}.json", record)
                    bar.update()
    return [json.loads((records / f"{item}.json").read_text()) for item in items]


class _Job:
    """work(item) -> (item, record), picklable for the pool."""

    def __init__(self, work: Callable[[str], dict]):
        self.work = work

    def __call__(self, item: str) -> tuple[str, dict]:
        return item, self.work(item)
