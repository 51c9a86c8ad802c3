"""Caption grammar: coverage of the vocabulary, HumanML3D texts/ format, variety."""

import numpy as np
import pytest

from training.data.captions import (TEMPLATES, Caption, describe_many, order_pair, plain_caption, read_texts, tag_tokens,
                                    verb_phrase, write_texts)
from training.data.spec import ACTION_KINDS, ActionSpec, sample_spec


def test_every_kind_has_templates_and_every_word_is_tagged():
    rng = np.random.default_rng(0)
    assert set(TEMPLATES) == set(ACTION_KINDS)
    assert len(ACTION_KINDS) >= 30
    for kind in ACTION_KINDS.values():
        for index in range(len(TEMPLATES[kind.name])):
            for _ in range(5):
                spec = sample_spec(kind, rng)
                phrase = verb_phrase(spec, index, rng=rng)
                assert "{" not in phrase and "  " not in phrase
                tag_tokens(phrase)  # raises on a word outside the lexicon


def test_captions_name_the_parameters_and_are_distinct():
    rng = np.random.default_rng(1)
    specs = [ActionSpec("walk", direction="forward", count=4), ActionSpec("wave", side="right", count=2)]
    captions = describe_many(specs, 6, rng)
    assert len({c.text for c in captions}) == 6
    for c in captions:
        assert c.text.endswith(".")
        assert "right" in c.text and "wav" in c.text and "forward" in c.text
        assert c.text.index("forward") < c.text.index("wav")  # order of the actions kept


def test_three_action_captions_inflect_each_verb():
    rng = np.random.default_rng(2)
    specs = [ActionSpec("bow"), ActionSpec("clap", count=3), ActionSpec("jump_in_place", count=2)]
    for c in describe_many(specs, 8, rng):
        verbs = [t.split("/")[0] for t in c.tokens if t.endswith("/VERB")]
        assert len(verbs) >= 3, c.text  # one verb phrase per action at least
        first_verb = c.text.split()[2] if c.text.split()[0] in ("a", "the") else c.text.split()[1]
        assert first_verb.endswith("s"), c.text  # third person after the subject


def test_plain_caption_of_the_reversed_actions_differs_only_in_order():
    specs = [ActionSpec("walk", direction="forward", count=4), ActionSpec("wave", side="right", count=2)]
    assert plain_caption(specs) == "a person walks forward and then waves their right hand twice."
    assert plain_caption(specs[::-1]) == "a person waves their right hand twice and then walks forward."
    tag_tokens(plain_caption(specs))  # every word is in the caption lexicon
    assert order_pair(specs) == (plain_caption(specs), plain_caption(specs[::-1]))
    jump = ActionSpec("jump_in_place", count=1)
    assert order_pair(specs[:1]) is None and order_pair([jump, specs[0], jump]) is None  # read the same reversed


def test_texts_file_round_trip_matches_humanml3d_format(tmp_path):
    rng = np.random.default_rng(3)
    captions = describe_many([ActionSpec("kick", side="left", count=1)], 5, rng)
    path = tmp_path / "000001.txt"
    write_texts(path, captions)
    lines = path.read_text().splitlines()
    assert len(lines) == 5
    for line in lines:
        caption, tokens, start, end = line.split("#")
        assert caption and start == "0.0" and end == "0.0"
        assert all(len(t.split("/")) == 2 and t.split("/")[1].isupper() for t in tokens.split())
    assert read_texts(path) == captions


def test_caption_line_parser_reads_real_humanml3d_lines():
    line = "a man kicks with his left leg.#a/DET man/NOUN kick/VERB with/ADP his/DET left/ADJ leg/NOUN#0.0#nan"
    c = Caption.from_line(line)
    assert c.text == "a man kicks with his left leg." and c.tokens[2] == "kick/VERB" and c.end_s == 0.0
    with pytest.raises(ValueError, match="caption#tokens#start#end"):
        Caption.from_line("just a sentence")


def test_spec_rejects_parameters_the_kind_does_not_take():
    with pytest.raises(ValueError, match="side"):
        ActionSpec("bow", side="left")
    with pytest.raises(ValueError, match="count"):
        ActionSpec("clap", count=99)
    with pytest.raises(ValueError, match="unknown action kind"):
        ActionSpec("moonwalk")
