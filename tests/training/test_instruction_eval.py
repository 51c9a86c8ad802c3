"""The instruction-following checks: right on the motion library's own actions, wrong on their mirror."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from a2m_cli.main import main
from a2m_core.errors import InputError
from a2m_core.model import load_model, preset_model, save_model
from training.data.sequences import sequence_track
from training.data.spec import ACTION_KINDS, ActionSpec, sample_spec
from training.data.track import render
from training.instruction_eval import (CASES, TWO_STEP_CASES, Case, TwoStepCase, chance_pairs, eval_voices, foot_kicked,
                                       hand_raised, heard, jumps, score, sits, travels)
from training.instruction_slots import SLOT_FIELDS, SlotProbe, load_slot_probe


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
    assert result.per_case_length_s == pytest.approx({"raise your right hand": (len(up) + len(walk)) / 2 / 20,
                                                      "walk forward": len(walk) / 20})


def test_benchmark_pairs_every_side_and_direction():
    kinds = {c.kind for c in CASES}
    for stem in ("raise", "kick"):
        assert {f"{stem}_left", f"{stem}_right"} <= kinds
    assert {"walk_forward", "walk_backward", "walk_left", "walk_right"} <= kinds


# how the corpus says each step of the benchmark's cases (one of these, its other fields drawn at random)
_STEP_SPECS = {"raise_right": (("wave", {"side": "right"}), ("raise_arms", {"side": "right"})),
               "raise_left": (("wave", {"side": "left"}), ("raise_arms", {"side": "left"})),
               "walk_forward": (("walk", {"direction": "forward", "count": 8}),),
               "walk_backward": (("walk", {"direction": "backward", "count": 8}),),
               "walk_left": (("walk", {"direction": "left", "count": 8}),),
               "walk_right": (("walk", {"direction": "right", "count": 8}),),
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


def _reading(*steps: str) -> list[dict]:
    """A slot probe's reading of the corpus's way of saying these steps (the first of _STEP_SPECS each)."""
    actions = []
    for step in steps:
        kind, fields = _STEP_SPECS[step][0]
        actions.append({"kind": kind, "side": None, "direction": None, "count": None, "speed": "normal", **fields})
    return actions


def test_heard_names_each_step_in_its_place():
    walk_then_wave = TWO_STEP_CASES[0]
    assert walk_then_wave.steps == ("walk_forward", "raise_right")
    assert heard(walk_then_wave, _reading("walk_forward", "raise_right")) == (True, True)
    assert heard(walk_then_wave, _reading("raise_right", "walk_forward")) == (False, False)  # the wrong order
    assert heard(walk_then_wave, _reading("walk_forward")) == (True, False)  # the second action not heard
    assert heard(walk_then_wave, _reading("walk_backward", "raise_left")) == (False, False)  # the mirror
    for case in CASES + TWO_STEP_CASES:  # every way the corpus says a step is heard as that step
        for step, kind in enumerate(case.steps):
            for name, fields in _STEP_SPECS[kind]:
                reading = _reading(*case.steps)
                reading[step] = {**reading[step], "kind": name, **fields}
                assert heard(case, reading)[step], (case.instruction, name)


def test_score_tells_heard_from_done():
    up, walk = _joints("raise_arms", side="right"), _joints("walk", direction="forward", count=8)
    cases = (Case("raise_right", "raise your right hand", hand_raised("right")),
             Case("walk_forward", "walk forward", travels("forward")))
    readings = [[_reading("raise_right"), _reading("walk_forward")], [_reading("walk_forward"), []]]
    result = score(cases, [[up, walk], [walk, walk]], readings)
    # heard 2 of 4, both done; of the other two, a "raise" heard as a walk walked, and an unheard walk walked
    assert result.heard == [{"heard": 0.5, "done_when_heard": 1.0, "done_when_not_heard": 0.5, "trials": 4}]
    assert score(cases, [[up, walk], [walk, walk]]).heard is None


def test_slot_probe_reads_actions_in_order_up_to_the_first_empty_slot():
    probe = SlotProbe(4)
    with torch.no_grad():
        probe.proj.weight.zero_()
        bias = probe.proj.bias.view(3, -1)  # (slots, classes of every field)
        bias.fill_(-10.0)
        offsets = np.cumsum([0, *(len(c) for c in SLOT_FIELDS.values())])
        wanted = [{"kind": "walk", "direction": "backward"}, {"kind": "wave", "side": "left"}, {}]
        for slot, fields in enumerate(wanted):
            for f, (field, classes) in enumerate(SLOT_FIELDS.items()):
                bias[slot, offsets[f] + classes.index(fields.get(field))] = 10.0
    (reading,) = probe.read(torch.zeros(1, 4))
    assert [(a["kind"], a["side"], a["direction"]) for a in reading] == [("walk", None, "backward"),
                                                                         ("wave", "left", None)]


def test_slot_probe_loads_only_for_the_condition_it_was_trained_with(tmp_path):
    model, other = preset_model("tiny"), preset_model("tiny")
    with torch.no_grad():
        for p in other.condition.parameters():
            p.add_(0.5)
    probe = SlotProbe(model.config.condition.dim)
    checkpoint = tmp_path / "step_0000010"
    checkpoint.mkdir()
    save_file({**{f"model.condition.{k}": v for k, v in model.condition.state_dict().items()},
               **{f"slot_probe.{k}": v for k, v in probe.state_dict().items()}}, checkpoint / "weights.safetensors")
    loaded = load_slot_probe(checkpoint, model)
    assert torch.equal(loaded.proj.weight, probe.proj.weight)
    with pytest.raises(InputError, match="another condition"):
        load_slot_probe(checkpoint, other)
    with pytest.raises(InputError, match="not found"):
        load_slot_probe(tmp_path, model)
    save_file({"model.x": torch.zeros(1)}, tmp_path / "weights.safetensors")
    with pytest.raises(InputError, match="no slot probe"):
        load_slot_probe(tmp_path, model)
    (tmp_path / "weights.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(InputError, match="cannot be read"):
        load_slot_probe(tmp_path, model)


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
    model = load_model(tiny_model)  # a condition checkpoint of its condition, as the condition stage writes one
    probe = tmp_path / "cond" / "checkpoints" / "step_0000010"
    probe.mkdir(parents=True)
    save_file({**{f"model.condition.{k}": v for k, v in model.condition.state_dict().items()},
               **{f"slot_probe.{k}": v for k, v in SlotProbe(model.config.condition.dim).state_dict().items()}},
              probe / "weights.safetensors")
    assert main(["eval-instructions", "--model", str(tiny_model), "--voices", "1", "--noise-snr", "10",
                 "--probe", str(probe), "--report", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["probe"] == str(probe) and result["clean"]["heard"][0]["trials"] == len(CASES)
    assert [h["trials"] for h in result["two_step"]["snr_10db"]["heard"]] == [len(TWO_STEP_CASES)] * 2
    assert result["voices_from"] == "test" and len(result["speakers"]) == 1
    assert result["clean"]["num_trials"] == len(CASES) and "snr_10db" in result
    two = result["two_step"]
    assert two["cases"] == [c.instruction for c in TWO_STEP_CASES]
    for name in ("clean", "snr_10db"):
        assert two[name]["num_trials"] == len(TWO_STEP_CASES) and len(two[name]["per_step"]) == 2
        assert 0 <= two[name]["chance"] <= 1 and two[name]["mean_length_s"] > 0
    out = capsys.readouterr().out
    assert "two-step clean: accuracy" in out and "first step" in out and "  step 2: heard" in out


def test_eval_instructions_rejects_no_voices_before_speaking(tiny_model, tmp_path, capsys):
    report = tmp_path / "instructions.json"
    assert main(["eval-instructions", "--model", str(tiny_model), "--voices", "0", "--report", str(report)]) == 2
    assert "--voices 0: expected at least 1" in capsys.readouterr().err and not report.exists()
    assert main(["eval-instructions", "--model", str(tiny_model), "--length-s", "0", "--report", str(report)]) == 2
    assert "--length-s 0.0: expected more than 0" in capsys.readouterr().err and not report.exists()
    assert main(["eval-instructions", "--model", str(tiny_model), "--num-iters", "0", "--report", str(report)]) == 2
    assert "fix --num-iters" in capsys.readouterr().err and not report.exists()
    assert main(["eval-instructions", "--model", str(tiny_model), "--length-quantile", "1", "--report", str(report)]) == 2
    assert "length_quantile must be in (0, 1), got 1.0" in capsys.readouterr().err and not report.exists()
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
