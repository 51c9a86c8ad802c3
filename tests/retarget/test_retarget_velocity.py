"""Retiming to velocity limits: slow steps keep their time, fast steps are stretched just enough."""

import numpy as np

from a2m_core.retarget.velocity import retime_to_velocity_limits, step_velocities, waypoint_velocities


def test_slow_motion_keeps_the_nominal_timing():
    joints = np.linspace(0, 0.1, 21)[:, None] * np.ones((1, 3))  # 0.1 rad over 1 s
    times = retime_to_velocity_limits(joints, 20.0, np.full(3, 1.0))
    np.testing.assert_allclose(times, np.arange(21) / 20.0)


def test_fast_steps_are_stretched_to_the_limit_and_no_further():
    rng = np.random.default_rng(0)
    joints = np.cumsum(rng.normal(scale=0.3, size=(50, 4)), axis=0)
    limits = np.array([1.0, 2.0, 5.0, 10.0])
    times = retime_to_velocity_limits(joints, 20.0, limits)
    assert np.all(np.diff(times) >= 1 / 20.0 - 1e-12)
    speeds = np.abs(step_velocities(joints, times))
    assert np.all(speeds <= limits)
    stretched = np.diff(times) > 1 / 20.0 + 1e-9
    assert stretched.any()
    np.testing.assert_allclose(np.max(speeds / limits, axis=1)[stretched], 1.0, rtol=1e-5)  # exactly at the limit
    assert np.all(np.abs(waypoint_velocities(joints, times)) <= limits)


def test_single_frame_has_time_zero():
    np.testing.assert_array_equal(retime_to_velocity_limits(np.zeros((1, 2)), 20.0, np.ones(2)), [0.0])
