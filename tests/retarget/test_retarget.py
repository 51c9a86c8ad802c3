"""Retargeting real and example motions onto the G1: targets met, limits never violated, feet planted."""

import numpy as np
import pytest

from a2m_core.errors import InputError
from a2m_core.motion.example import example_motion
from a2m_core.motion.motion import Motion
from a2m_core.retarget.quality import measure
from a2m_core.retarget.retarget import retarget
from a2m_core.retarget.robot_trajectory import RobotTrajectory


def _assert_within_limits(trajectory, robot, keypoint_map):
    quality = measure(trajectory, robot, keypoint_map)
    assert quality.position_limit_violation_rad == 0.0
    assert quality.velocity_limit_violation_rad_s == 0.0
    assert quality.min_sole_height_m > -1e-9
    assert np.all(np.diff(trajectory.times_s) > 0)
    return quality


def test_fixture_clip_meets_the_targets(g1, g1_map, fixture_motion):
    trajectory = retarget(fixture_motion, g1, g1_map)
    assert trajectory.joint_names == g1.joint_names
    assert trajectory.joint_positions_rad.shape == (fixture_motion.num_frames, 29)
    quality = _assert_within_limits(trajectory, g1, g1_map)
    errors = quality.mean_keypoint_error_m
    assert np.mean(list(errors.values())) < 0.05, errors
    assert max(errors.values()) < 0.10, errors
    assert quality.max_sliding_m_s < 0.05  # planted feet stay put to a few cm/s
    assert 0.3 < trajectory.planted.mean() < 0.9  # a walk: each foot planted part of the time
    assert not trajectory.best_effort.any()
    np.testing.assert_allclose(np.linalg.norm(trajectory.root_quaternions_wxyz, axis=-1), 1.0, atol=1e-9)


def test_example_motion_stays_within_limits(g1, g1_map):
    trajectory = retarget(example_motion(), g1, g1_map)
    _assert_within_limits(trajectory, g1, g1_map)
    wave = trajectory.keypoint_names.index("right_wrist")
    # the wave lifts the robot's right wrist above its shoulder too
    shoulder = trajectory.keypoint_names.index("right_shoulder")
    lifted = trajectory.keypoint_targets_m[:, wave, 2] > trajectory.keypoint_targets_m[:, shoulder, 2]
    assert lifted.any()
    assert np.median(trajectory.keypoint_errors_m[lifted, wave]) < 0.10


def test_nan_motion_is_an_input_error(g1, g1_map, fixture_motion):
    joints = fixture_motion.joints.copy()
    joints[5, 3, 1] = np.nan
    with pytest.raises(InputError, match="1 NaN"):
        retarget(Motion(joints=joints, skeleton=fixture_motion.skeleton), g1, g1_map)


def _pelvis_up(joints):
    joints[10:20, 0] += np.array([0.0, 1.0, 0.0])  # the pelvis 1 m up while the feet stay planted on the floor


def _upside_down(joints):
    feet = [7, 8, 10, 11]
    body = [j for j in range(22) if j not in feet and j != 0]
    pelvis_y = joints[10:20, :1, 1]
    joints[10:20, body, 1] = 2 * pelvis_y - joints[10:20, body, 1]  # everything but pelvis and feet mirrored downwards


@pytest.mark.parametrize("break_frames, all_flagged", [(_pelvis_up, True), (_upside_down, False)])
def test_unreachable_pose_is_flagged_best_effort_and_within_limits(g1, g1_map, fixture_motion, break_frames,
                                                                    all_flagged):
    """Only broken frames are flagged, and the clip recovers after them (the upside-down body is partly
    reachable with the free root turned over, so only some of its frames must be flagged)."""
    joints = fixture_motion.joints[:30].copy()
    break_frames(joints)
    trajectory = retarget(Motion(joints=joints, skeleton=fixture_motion.skeleton), g1, g1_map)
    _assert_within_limits(trajectory, g1, g1_map)
    assert trajectory.best_effort[10:20].all() if all_flagged else trajectory.best_effort[10:20].sum() >= 2
    assert not trajectory.best_effort[:8].any() and not trajectory.best_effort[23:].any()


def test_map_naming_a_missing_link_is_an_input_error(g1, g1_map, fixture_motion):
    from dataclasses import replace

    bad = replace(g1_map, keypoints=(replace(g1_map.keypoints[0], link="hip_link"),) + g1_map.keypoints[1:])
    with pytest.raises(InputError, match="hip_link"):
        retarget(fixture_motion, g1, bad)


def test_trajectory_file_round_trip(g1, g1_map, fixture_motion, tmp_path):
    trajectory = retarget(Motion(joints=fixture_motion.joints[:10], skeleton=fixture_motion.skeleton), g1, g1_map)
    loaded = RobotTrajectory.load(trajectory.save(tmp_path / "robot.npz"))
    assert loaded.joint_names == trajectory.joint_names and loaded.keypoint_names == trajectory.keypoint_names
    np.testing.assert_array_equal(loaded.joint_positions_rad, trajectory.joint_positions_rad)
    np.testing.assert_array_equal(loaded.best_effort, trajectory.best_effort)
    assert loaded.scale == trajectory.scale
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a robot trajectory"):
        RobotTrajectory.load(tmp_path / "junk.npz")
