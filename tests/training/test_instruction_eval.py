"""The instruction-following checks: right on the motion library's own actions, wrong on their mirror."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from a2m_cli.main import main
from a2m_core.model import preset_model, save_model
from training.data.sequences import sequence_track
from training.data.spec import ACTION_KINDS, ActionSpec, sample_spec
from training.data.track import render
from training.instruction_eval import (CASES, TWO_STEP_CASES, Case, TwoStepCase, chance_pairs, eval_voices, foot_kicked,
                                       hand_raised, jumps, score, sits, travels)


def _joints(kind: str, seed: int = 0, **params) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return render(sequence_track([ActionSpec(kind, **params)], rng))


@pytest.mark.parametrize("side", ["left", "right"])
def test_side_checks_follow_the_side(side):
    other = {"left": "right", "right": "left"}[side]
    for joints in (_joints("raise_arms", side=side), _joints("wave", side=side, count=2)):
        assert hand_raised(side)(joints) and not hand_raised(other)(joints)
    kick = _joints("kick", side=side, count=1)
    assert foot_kicked(side)(kick) and not foot_kicked(other)(kick)
    assert not jumps()(kick)


@pytest.mark.parametrize("direction", ["forward", "backward", "left", "right"])
def test_walk_checks_follow_the_direction(direction):
    joints = _joints("walk", direction=direction, count=8)
    assert travels(direction)(joints)
    assert not any(travels(d)(joints) for d in ("forward", "backward", "left", "right") if d != direction)
    assert not sits()(joints) and not jumps()(joints)


def test_jump_needs_both_feet_off_the_floor_together():
    for count in (1, 2):
        assert jumps()(_joints("jump_in_place", count=count))
    assert not jumps()(_joints("hop", side="right", count=2))  # one foot held up higher than the other
    assert not jumps()(_joints("march", count=4)) and not jumps()(_joints("squat", count=1))


def test_score_counts_passes_and_measures_chance():
    up, walk = _joints("raise_arms", side="right"), _joints("walk", direction="forward", count=8)
    cases = (Case("up", "raise your right hand", hand_raised("right")), Case("walk", "walk forward", travels("forward")))
    result = score(cases, [[up, walk], [walk, walk]])  # one of the two "raise" generations walked instead
    assert result.accuracy == pytest.approx(3 / 4) and result.num_trials == 4
    assert result.per_case == {"raise your right hand": 0.5, "walk forward": 1.0}
    # chance: "raise" checked on the walk case's motions (0 of 2), "walk" on the raise case's (1 of 2)
    assert result.chance == pytest.approx(1 / 4)
    assert chance_pairs(cases) == [(0, 1), (1, 0)]
    assert result.per_step is None and result.mean_length_s == pytest.approx((len(up) + 3 * len(walk)) / 4 / 20)


def test_benchmark_pairs_every_side_and_direction():
    kinds = {c.kind for c in CASES}
    for stem in ("raise", "kick"):
        assert {f"{stem}_left", f"{stem}_right"} <= kinds
    assert {"walk_forward", "walk_backward", "walk_left", "walk_right"} <= kinds


# how the corpus says each step of the two-step cases (one of these, its other fields drawn at random)
_STEP_SPECS = {"raise_right": (("wave", {"side": "right"}), ("raise_arms", {"side": "right"})),
               "raise_left": (("wave", {"side": "left"}), ("raise_arms", {"side": "left"})),
               "walk_forward": (("walk", {"direction": "forward", "count": 8}),),
               "walk_backward": (("walk", {"direction": "backward", "count": 8}),),
               "walk_left": (("walk", {"direction": "left", "count": 8}),),
               "kick_right": (("kick", {"side": "right"}),), "kick_left": (("kick", {"side": "left"}),),
               "jump": (("jump_in_place", {"count": 1}),), "sit": (("sit_down", {}),)}


def _sequence(steps: tuple[str, ...], seed: int) -> np.ndarray:
    """The joints of the corpus's procedural clip of these steps, in this order."""
    rng = np.random.default_rng(seed)
    specs = []
    for step in steps:
        kind, fields = _STEP_SPECS[step][seed % len(_STEP_SPECS[step])]
        specs.append(dataclasses.replace(sample_spec(ACTION_KINDS[kind], rng), **fields))
    return render(sequence_track(specs, rng))


def test_two_step_checks_pass_in_order_and_fail_reversed():
    """Each two-step case passes on the corpus's own clip of its two actions, and fails on the clip of the
    same two actions in the other order (the checks read the first and the last 60 % of the clip)."""
    assert len(TWO_STEP_CASES) >= 8 and "walk forward, then wave with your right hand" in [
        c.instruction for c in TWO_STEP_CASES]
    for seed in (0, 1):
        for case in TWO_STEP_CASES:
            assert case.passes(_sequence(case.steps, seed)) == (True, True), (case.instruction, seed)
            if case.steps[1] != "sit":  # a seated end is the corpus's only way to sit
                assert not all(case.passes(_sequence(case.steps[::-1], seed))), (case.instruction, seed)


def test_make_run_instruction_needs_a_walk_of_one_metre():
    case = TWO_STEP_CASES[0]
    assert case.instruction == "walk forward, then wave with your right hand"
    rng = np.random.default_rng(0)
    short = render(sequence_track([ActionSpec("walk", direction="forward", count=4, speed="slow"),
                                   ActionSpec("wave", side="right", count=3)], rng))  # about 0.66 m
    assert case.passes(short) == (False, True) and CASES[6].check(short)  # the single "walk forward" needs 0.5 m


def test_two_step_chance_pairs_differ_at_every_step_and_include_the_reversed_order():
    walk, wave, kick = (Case(k, k, travels("forward")) for k in ("walk", "wave", "kick"))
    cases = (TwoStepCase(walk, wave), TwoStepCase(wave, walk), TwoStepCase(walk, kick))
    assert chance_pairs(cases) == [(0, 1), (1, 0), (1, 2), (2, 1)]  # walk>wave and walk>kick share their first step
    # a model that walks, then waves, whatever the order asked: the second case fails on its first step
    walk_then_wave = _sequence(("walk_forward", "raise_right"), 0)
    result = score(TWO_STEP_CASES[:2], [[walk_then_wave], [walk_then_wave]])
    assert result.accuracy == 0.5 and result.per_step == [0.5, 1.0]  # the long walk reaches into the last 60 %
    assert result.chance == 0.5  # the first case's check passes on the motion generated for the second


def test_benchmark_voices_are_never_heard_in_training():
    from a2m_core.audio.speech import FESTIVAL_VOICES
    from training.data.voices import voice_pool, voices_for_split

    test = eval_voices("test", 4, seed=0)
    assert len(test) == 4 and set(test) <= set(voices_for_split(voice_pool(), "test"))
    festival = eval_voices("festival", 20, seed=0)
    assert len(festival) == 9 and len(set(festival)) == 9 and all(v.engine == "festival" for v in festival)
    assert {v.name for v in festival[:3]} == set(FESTIVAL_VOICES)  # the first three are three different voices
    assert eval_voices("festival", 4, seed=0) == festival[:4]
    with pytest.raises(ValueError, match="voice source"):
        eval_voices("piper", 2)


@pytest.fixture
def tiny_model(tmp_path):
    model = preset_model("tiny")
    rng = np.random.default_rng(0)
    model.normalization = (rng.normal(size=263).astype(np.float32), np.ones(263, np.float32))
    save_model(model, tmp_path / "model")
    return tmp_path / "model"


@pytest.mark.slow
def test_eval_instructions_reports_single_and_two_step_sets(tiny_model, tmp_path, capsys):
    report = tmp_path / "out" / "instructions.json"
    assert main(["eval-instructions", "--model", str(tiny_model), "--voices", "1", "--noise-snr", "10",
                 "--report", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["voices_from"] == "test" and len(result["speakers"]) == 1
    assert result["clean"]["num_trials"] == len(CASES) and "snr_10db" in result
    two = result["two_step"]
    assert two["cases"] == [c.instruction for c in TWO_STEP_CASES]
    for name in ("clean", "snr_10db"):
        assert two[name]["num_trials"] == len(TWO_STEP_CASES) and len(two[name]["per_step"]) == 2
        assert 0 <= two[name]["chance"] <= 1 and two[name]["mean_length_s"] > 0
    out = capsys.readouterr().out
    assert "two-step clean: accuracy" in out and "first step" in out


def test_eval_instructions_rejects_no_voices_before_speaking(tiny_model, tmp_path, capsys):
    report = tmp_path / "instructions.json"
    assert main(["eval-instructions", "--model", str(tiny_model), "--voices", "0", "--report", str(report)]) == 2
    assert "--voices 0: expected at least 1" in capsys.readouterr().err and not report.exists()
    assert main(["eval-instructions", "--model", str(tiny_model), "--length-s", "0", "--report", str(report)]) == 2
    assert "--length-s 0.0: expected more than 0" in capsys.readouterr().err and not report.exists()
    assert main(["eval-instructions", "--model", str(tiny_model), "--num-iters", "0", "--report", str(report)]) == 2
    assert "fix --num-iters" in capsys.readouterr().err and not report.exists()
    assert main(["eval-instructions", "--model", str(tiny_model), "--two-step-template", "{} then",
                 "--report", str(report)]) == 2
    assert "expected two {} for the two instructions" in capsys.readouterr().err and not report.exists()


@pytest.mark.slow
def test_eval_instructions_with_festival_voices_and_a_fixed_length(tiny_model, tmp_path):
    """The engine-disjoint benchmark: festival's voices speak every instruction; --length-s replaces
    the predicted length; decoding options reach the generation and the report; one phrasing for all
    two-step cases."""
    report = tmp_path / "festival.json"
    assert main(["eval-instructions", "--model", str(tiny_model), "--voices", "2", "--voices-from", "festival",
                 "--noise-snr", "--length-s", "3", "--num-iters", "2", "--two-step-template", "first {}, then {}",
                 "--report", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["voices_from"] == "festival" and result["voices"] == 2
    assert all(s.startswith("festival:") for s in result["speakers"])
    assert result["clean"]["num_trials"] == 2 * len(CASES) and "snr_10db" not in result
    assert result["two_step"]["clean"]["num_trials"] == 2 * len(TWO_STEP_CASES)
    assert all(c.startswith("first ") and ", then " in c for c in result["two_step"]["cases"])
    assert result["decoding"]["num_iters"] == 2 and result["decoding"]["cfg_scale"] == 4.0
    assert result["length_s"] == 3.0 and result["clean"]["mean_length_s"] == result["two_step"]["clean"]["mean_length_s"] == 3.0
