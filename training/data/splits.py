"""How clips, speakers and spoken frames are divided between train, val and test.

Val and test are spoken by speakers (`voices.split_of_voice`) and in rewrite frames that train
never uses, so their scores measure generalisation to new voices and new phrasings.
"""

from __future__ import annotations

from training.data.rewrite import FRAMES

HELD_OUT_FRAMES = ("hey_okay", "try_to", "your_task", "so_um")  # only in val and test


def split_of_clip(index: int) -> str:
    """80 % train, 10 % val, 10 % test, interleaved so that any prefix of the corpus has all three."""
    return {8: "val", 9: "test"}.get(index % 10, "train")


def frames_of_split(split: str) -> tuple[str, ...]:
    """The rewrite frames a split may use: train the common ones, val/test the held-out ones."""
    held_out = split != "train"
    return tuple(f for f in FRAMES if (f in HELD_OUT_FRAMES) == held_out)
