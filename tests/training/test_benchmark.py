"""The instruction-following checks: right on the motion library's own actions, wrong on their mirror."""

from __future__ import annotations

import numpy as np
import pytest

from training.benchmark import CASES, Case, chance_pairs, foot_kicked, hand_raised, score, sits, travels
from training.data.sequences import sequence_track
from training.data.spec import ActionSpec
from training.data.track import render


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


@pytest.mark.parametrize("direction", ["forward", "backward", "left", "right"])
def test_walk_checks_follow_the_direction(direction):
    joints = _joints("walk", direction=direction, count=8)
    assert travels(direction)(joints)
    assert not any(travels(d)(joints) for d in ("forward", "backward", "left", "right") if d != direction)
    assert not sits()(joints)


def test_score_counts_passes_and_measures_chance():
    up, walk = _joints("raise_arms", side="right"), _joints("walk", direction="forward", count=8)
    cases = (Case("up", "raise your right hand", hand_raised("right")), Case("walk", "walk forward", travels("forward")))
    result = score(cases, [[up, walk], [walk, walk]])  # one of the two "raise" generations walked instead
    assert result.accuracy == pytest.approx(3 / 4) and result.num_trials == 4
    assert result.per_case == {"raise your right hand": 0.5, "walk forward": 1.0}
    # chance: "raise" checked on the walk case's motions (0 of 2), "walk" on the raise case's (1 of 2)
    assert result.chance == pytest.approx(1 / 4)
    assert chance_pairs(cases) == [(0, 1), (1, 0)]


def test_benchmark_pairs_every_side_and_direction():
    kinds = {c.kind for c in CASES}
    for stem in ("raise", "kick"):
        assert {f"{stem}_left", f"{stem}_right"} <= kinds
    assert {"walk_forward", "walk_backward", "walk_left", "walk_right"} <= kinds
