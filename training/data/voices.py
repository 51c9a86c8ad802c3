"""The pool of synthetic speaker identities and its speaker-disjoint split.

A speaker identity (`a2m_core.audio.speech.Voice`) is an engine, a voice and its pitch and rate
settings: here espeak-ng accents x variants x pitch x rate, plus festival's offline voices with a
few pitch/rate settings. The pool is deterministic (same seed, same voices) so that a rebuilt corpus and
the Original/Oral builders of real datasets use the very same speakers.
"""

from __future__ import annotations

import itertools

import numpy as np

from a2m_core.audio.speech import ENGINES, FESTIVAL_VOICES, Voice

ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
                  "en-us-nyc")
# Intelligible human-like variants (robotic, whispering and croaking ones left out).
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
                   "Andy", "Annie", "linda", "steph", "david", "paul", "robert", "Alex", "Michael", "john")
ESPEAK_PITCHES = (30, 45, 60, 75)  # espeak-ng -p, 0..99
ESPEAK_RATES_WPM = (130, 150, 170, 190)  # espeak-ng -s, words per minute
FESTIVAL_SETTINGS = ((0, 100), (-15, 115), (15, 90))  # (pitch shift Hz, rate % of normal)
SPLITS = ("train", "val", "test")
FESTIVAL_WEIGHT = 0.2  # festival takes ~0.4 s a sentence, espeak-ng ~0.02 s: its speakers are drawn less often


def check_engines(engines: tuple[str, ...]) -> None:
    """ValueError unless `engines` is a non-empty subset of ENGINES."""
    if not engines or set(engines) - set(ENGINES):
        raise ValueError(f"engines must be a non-empty subset of {', '.join(ENGINES)}; got {', '.join(engines) or 'none'}")


def voice_pool(num_espeak: int = 48, seed: int = 0) -> list[Voice]:
    """`num_espeak` distinct espeak-ng identities (every accent used evenly) and the festival identities."""
    if not 1 <= num_espeak <= len(ESPEAK_ACCENTS) * len(ESPEAK_VARIANTS) * len(ESPEAK_PITCHES) * len(ESPEAK_RATES_WPM):
        raise ValueError(f"num_espeak out of range: {num_espeak}")
    rng = np.random.default_rng(seed)
    combos = list(itertools.product(ESPEAK_VARIANTS, ESPEAK_PITCHES, ESPEAK_RATES_WPM))
    voices: list[Voice] = []
    per_accent = [rng.permutation(len(combos)) for _ in ESPEAK_ACCENTS]
    for i in range(num_espeak):  # round-robin over accents so each gets its share
        accent = i % len(ESPEAK_ACCENTS)
        variant, pitch, rate = combos[per_accent[accent][i // len(ESPEAK_ACCENTS)]]
        voices.append(Voice("espeak-ng", f"{ESPEAK_ACCENTS[accent]}+{variant}", pitch, rate))
    for name, (shift, rate) in itertools.product(FESTIVAL_VOICES, FESTIVAL_SETTINGS):
        voices.append(Voice("festival", name, shift, rate))
    return voices


def split_of_voice(index: int) -> str:
    """Speaker-disjoint split of the voice at `index` of the pool: 80 % train, 10 % val, 10 % test."""
    return {8: "val", 9: "test"}.get(index % 10, "train")


def voices_for_split(pool: list[Voice], split: str) -> list[Voice]:
    """The voices of `split`; no voice is in two splits."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return [v for i, v in enumerate(pool) if split_of_voice(i) == split]


def pick_voice(voices: list[Voice], rng: np.random.Generator) -> Voice:
    """A random voice of `voices`, festival ones drawn FESTIVAL_WEIGHT times as often (they are slow)."""
    weights = np.array([FESTIVAL_WEIGHT if v.engine == "festival" else 1.0 for v in voices])
    return voices[int(rng.choice(len(voices), p=weights / weights.sum()))]
