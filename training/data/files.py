"""A resumable, parallel per-item build loop.

Every output is written with `a2m_core.files` (temporary file beside it, then a rename), so a
build killed at any moment leaves each file either complete or absent (plus, at worst, a
stray `.NAME.*.tmp*` that the next run deletes). A build records each finished item with a
small JSON file written last; a rerun skips items that have one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from multiprocessing import get_context
from pathlib import Path

from tqdm import tqdm

from a2m_core.errors import InputError
from a2m_core.files import write_text


def write_json(path: Path, data) -> None:
    write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


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
