"""Playback and robot-state bookkeeping on a clock the test steps (no sleeping, no ROS)."""

from __future__ import annotations

import numpy as np
import pytest

from a2m_core.errors import InputError
from a2m_core.runtime.playback import Playback, RobotState


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_playback_follows_the_clock_at_its_rate_and_restarts_with_each_motion():
    clock = Clock()
    playback = Playback(rate=2.0, clock=clock)
    assert playback.now() is None and not playback.playing
    playback.start("clip a", duration_s=3.0)
    clock.t += 1.0
    assert playback.now() == ("clip a", 2.0) and playback.playing
    clock.t += 0.5
    assert not playback.playing  # 3 s of motion at 2x: over after 1.5 s
    playback.start("clip b", duration_s=1.0)
    assert playback.now() == ("clip b", 0.0) and playback.playing
    with pytest.raises(ValueError, match="rate"):
        Playback(rate=0.0)


def test_robot_state_merges_publishers_and_forgets_stale_joints():
    clock = Clock()
    state = RobotState(max_age_s=1.0, clock=clock)
    joints = ("a", "b", "c")
    state.update(["a", "b"], [0.1, 0.2])
    assert state.positions(joints) is None  # c never named
    clock.t += 0.5
    state.update(["c"], [0.3])  # another publisher names the rest
    np.testing.assert_allclose(state.positions(joints), [0.1, 0.2, 0.3])
    state.update(["a", "b", "c"], [])  # velocity-only message: ignored
    np.testing.assert_allclose(state.positions(joints), [0.1, 0.2, 0.3])
    clock.t += 0.6  # a and b are 1.1 s old now
    assert state.positions(joints) is None
    state.update(["a", "b"], [float("nan"), 0.0])
    with pytest.raises(InputError, match="NaN"):
        state.positions(joints)
