"""Robot trajectories for a joint_trajectory_controller: monotonic times, blend from the current state,
speed scaling, and no point or in-between cubic over a URDF limit."""

import numpy as np
import pytest

from a2m_core.errors import InputError
from a2m_core.retarget.retarget import retarget
from a2m_core.retarget.robot_trajectory import RobotTrajectory
from a2m_core.retarget.trajectory import (
    JointTrajectoryPoints, TrajectoryConfig, hermite_peak_speeds, joint_trajectory_points, start_positions_by_name,
)
from a2m_core.retarget.velocity import retime_to_velocity_limits


def _synthetic(positions: np.ndarray, limits: np.ndarray, fps: float = 20.0) -> RobotTrajectory:
    t, n = positions.shape
    return RobotTrajectory(
        joint_names=tuple(f"j{i}" for i in range(n)), joint_positions_rad=positions,
        root_positions_m=np.zeros((t, 3)), root_quaternions_wxyz=np.tile([1.0, 0, 0, 0], (t, 1)),
        times_s=retime_to_velocity_limits(positions, fps, limits), keypoint_names=("pelvis",),
        keypoint_targets_m=np.zeros((t, 1, 3)), keypoint_errors_m=np.zeros((t, 1)),
        best_effort=np.zeros(t, dtype=bool), planted=np.zeros((t, 2), dtype=bool), scale=1.0)


def _check(points: JointTrajectoryPoints, lower, upper, limits, scale):
    assert np.all(np.diff(points.times_from_start_s) > 0) and points.times_from_start_s[0] > 0
    assert np.all(points.positions_rad >= lower) and np.all(points.positions_rad <= upper)
    peaks = hermite_peak_speeds(points.positions_rad, points.velocities_rad_s, points.times_from_start_s)
    assert np.all(peaks <= scale * limits * (1 + 1e-9))


def test_hermite_peak_matches_a_dense_sampling_of_the_cubic():
    rng = np.random.default_rng(0)
    p, v = rng.normal(size=(2, 1)), rng.normal(size=(2, 1))
    times = np.array([0.0, 0.7])
    u = np.linspace(0, 1, 20001)
    h = times[1]
    speed = ((6 * u**2 - 6 * u) * (p[0] - p[1]) / h + (3 * u**2 - 4 * u + 1) * v[0] + (3 * u**2 - 2 * u) * v[1])
    assert hermite_peak_speeds(p, v, times)[0, 0] == pytest.approx(np.abs(speed).max(), rel=1e-6)


@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_fast_motion_is_stretched_until_the_controller_cubics_respect_the_limits(scale):
    rng = np.random.default_rng(1)
    limits = np.array([1.0, 3.0, 8.0])
    positions = np.cumsum(rng.normal(scale=0.4, size=(40, 3)), axis=0)
    lower, upper = positions.min(0) - 1, positions.max(0) + 1
    trajectory = _synthetic(positions, limits)  # retimed so steps are at the limit: cubics would overshoot
    points = joint_trajectory_points(trajectory, lower, upper, limits, TrajectoryConfig(max_joint_speed_scale=scale))
    _check(points, lower, upper, limits, scale)
    np.testing.assert_allclose(points.positions_rad, positions)


def test_blend_from_a_far_start_state_is_slow_enough():
    limits = np.array([2.0, 2.0])
    positions = np.tile([1.0, -1.0], (10, 1)) + np.linspace(0, 0.1, 10)[:, None]
    trajectory = _synthetic(positions, limits)
    start = np.array([-2.0, 2.0])  # 3 rad away from the first frame
    points = joint_trajectory_points(trajectory, np.full(2, -3.0), np.full(2, 3.0), limits,
                                     TrajectoryConfig(max_joint_speed_scale=0.5, blend_s=0.5), start_rad=start)
    _check(points, -3.0, 3.0, limits, 0.5)
    first_frame = np.flatnonzero(np.all(np.isclose(points.positions_rad, positions[0]), axis=1))[0]
    assert points.times_from_start_s[first_frame] >= 1.875 * 3.0 / (0.5 * 2.0) - 1e-9  # min-jerk peak speed bound
    assert np.all(np.abs(points.positions_rad[0] - start) < np.abs(positions[0] - start))  # moves off the start


def test_without_start_state_the_first_frame_comes_after_the_blend_time():
    positions = np.linspace(0, 0.2, 5)[:, None]
    points = joint_trajectory_points(_synthetic(positions, np.ones(1)), np.full(1, -1.0), np.ones(1), np.ones(1),
                                     TrajectoryConfig(blend_s=1.5))
    assert points.times_from_start_s[0] == pytest.approx(1.5)
    assert points.positions_at(0.0)[0] == pytest.approx(0.0) and points.positions_at(100.0)[0] == pytest.approx(0.2)


def test_g1_fixture_trajectory_halves_its_speed(g1, g1_map, fixture_motion):
    trajectory = retarget(fixture_motion, g1, g1_map)
    start = g1.neutral()[7:]
    full = joint_trajectory_points(trajectory, g1.lower_rad, g1.upper_rad, g1.velocity_limit, start_rad=start)
    half = joint_trajectory_points(trajectory, g1.lower_rad, g1.upper_rad, g1.velocity_limit,
                                   TrajectoryConfig(max_joint_speed_scale=0.5), start_rad=start)
    _check(full, g1.lower_rad, g1.upper_rad, g1.velocity_limit, 1.0)
    _check(half, g1.lower_rad, g1.upper_rad, g1.velocity_limit, 0.5)
    assert full.joint_names == g1.joint_names
    motion_full = full.times_from_start_s[-1] - full.times_from_start_s[-fixture_motion.num_frames]
    motion_half = half.times_from_start_s[-1] - half.times_from_start_s[-fixture_motion.num_frames]
    assert motion_half >= 2 * motion_full - 1e-6


def test_start_state_by_name_and_bad_configs():
    names = ("a", "b")
    np.testing.assert_array_equal(start_positions_by_name(["b", "x", "a"], [2.0, 9.0, 1.0], names), [1.0, 2.0])
    with pytest.raises(InputError, match="lacks 1 robot joints"):
        start_positions_by_name(["a"], [1.0], names)
    with pytest.raises(InputError, match="NaN"):
        start_positions_by_name(["a", "b"], [1.0, float("nan")], names)
    for scale in (0.0, 1.5):
        with pytest.raises(InputError, match="max_joint_speed_scale"):
            TrajectoryConfig(max_joint_speed_scale=scale)
