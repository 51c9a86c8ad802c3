"""Rule-based spoken-style rewriter: forms, variety, meaning kept, bad input."""

import numpy as np
import pytest

from a2m_core.errors import InputError
from training.data.captions import describe_many
from training.data.rewrite import FRAMES, content_words, rewrite, to_imperative
from training.data.spec import ACTION_KINDS, sample_spec


@pytest.mark.parametrize("caption, expected", [
    ("a person kicks in the air, runs forward and trots back", "kick in the air, run forward and trot back"),
    ("A man is walking in a circle while he waves his arms.", "walk in a circle while waving your arms"),
    ("someone raises their left arm, then puts it down", "raise your left arm, then put it down"),
    ("the woman bends down and touches her toes", "bend down and touch your toes"),
    ("person slowly raises both arms over his head", "slowly raise both arms over your head"),
])
def test_to_imperative(caption, expected):
    assert to_imperative(caption) == expected


def test_three_distinct_rewrites_per_caption_keep_the_meaning():
    rng = np.random.default_rng(0)
    kinds = list(ACTION_KINDS.values())
    for i in range(60):
        specs = [sample_spec(kinds[j], rng) for j in rng.integers(0, len(kinds), 1 + i % 3)]
        caption = describe_many(specs, 1, rng)[0].text
        rewrites = rewrite(caption, 3, rng)
        assert len({r.text for r in rewrites}) == 3
        for r in rewrites:
            assert content_words(r.text) == content_words(caption), (caption, r.text)
            low = r.text.lower()
            assert not any(f" {w} " in f" {low} " for w in ("his", "her", "their", "person", "man", "someone"))


def test_frames_can_be_restricted_for_held_out_splits():
    rng = np.random.default_rng(1)
    allowed = ("can_you", "please", "i_want_you_to")
    rewrites = rewrite("a person jumps twice", 3, rng, frames=allowed)
    assert {r.frame for r in rewrites} <= set(allowed)
    assert any(r.text.startswith("Can you") or r.text.startswith("Please") or r.text.startswith("I want")
               for r in rewrites)
    with pytest.raises(ValueError, match="unknown"):
        rewrite("a person jumps", 1, rng, frames=("shout",))
    assert len(FRAMES) >= 12


@pytest.mark.parametrize("bad", ["", "   ", "???", "\u4eba\u8d70"])
def test_bad_captions_raise_input_error(bad):
    with pytest.raises(InputError, match="caption"):
        rewrite(bad, 3, np.random.default_rng(0))


def test_non_ascii_punctuation_is_normalised():
    assert to_imperative("the person\u2019s arms swing") == "the person's arms swing"
    assert to_imperative("the man waves caf\u00e9-style") == "wave cafe-style"
