"""Targets in the robot's proportions: keypoint tree, segment lengths and directions, target frames."""

from dataclasses import replace

import numpy as np
import pytest

from a2m_core.errors import InputError
from a2m_core.motion.skeleton import HUMANML3D
from a2m_core.retarget.retarget import keypoint_frames
from a2m_core.retarget.scaling import keypoint_parents, segment_targets, target_rotations

INDEX = {n: i for i, n in enumerate(HUMANML3D.joint_names)}


def _parent_names(kmap):
    parents = keypoint_parents(kmap, HUMANML3D.parents, INDEX)
    return {k: (kmap.keypoint_names[p] if p >= 0 else None) for k, p in zip(kmap.keypoint_names, parents)}


def test_keypoint_tree_of_the_g1_map(g1_map):
    parents = _parent_names(g1_map)
    assert parents["pelvis"] is None
    assert parents["left_hip"] == "pelvis" and parents["spine3"] == "pelvis"
    assert parents["left_shoulder"] == "spine3" and parents["head"] == "spine3"  # collars and neck are not mapped
    assert parents["left_foot"] == "left_ankle" and parents["right_wrist"] == "right_elbow"


def test_map_without_the_root_is_an_input_error(g1_map):
    no_pelvis = replace(g1_map, keypoints=tuple(k for k in g1_map.keypoints if k.human != "pelvis"))
    with pytest.raises(InputError, match="no mapped ancestor"):
        keypoint_parents(no_pelvis, HUMANML3D.parents, INDEX)


def test_segments_keep_human_directions_and_robot_lengths(g1, g1_map, fixture_motion):
    human = fixture_motion.joints[:20].astype(np.float64)  # any frame works: only directions and one point matter
    frames = keypoint_frames(g1, g1_map)
    robot_points = g1.frame_positions(g1.neutral(), frames)
    robot_rotations = np.array([g1.data.oMf[f].rotation for f in frames])
    rotations = target_rotations(human, g1_map, INDEX)
    oriented = np.array([k.orientation_weight > 0 for k in g1_map.keypoints])
    joints = [INDEX[n] for n in g1_map.keypoint_names]
    parents = keypoint_parents(g1_map, HUMANML3D.parents, INDEX)
    targets = segment_targets(human, joints, parents, rotations, oriented, robot_points, robot_rotations, 0.7)
    names = g1_map.keypoint_names
    np.testing.assert_allclose(targets[:, names.index("pelvis")], human[:, 0] * 0.7)
    for child, parent in (("left_knee", "left_hip"), ("right_wrist", "right_elbow"), ("left_foot", "left_ankle")):
        c, p = names.index(child), names.index(parent)
        bone = targets[:, c] - targets[:, p]
        np.testing.assert_allclose(np.linalg.norm(bone, axis=-1), np.linalg.norm(robot_points[c] - robot_points[p]))
        human_bone = human[:, INDEX[child]] - human[:, INDEX[parent]]
        cosine = np.sum(bone * human_bone, axis=-1) / np.linalg.norm(bone, axis=-1) / np.linalg.norm(human_bone, axis=-1)
        np.testing.assert_allclose(cosine, 1.0, atol=1e-9)
    # a rigid child turns with its parent's target orientation: the shoulders' span stays the robot's
    span = targets[:, names.index("left_shoulder")] - targets[:, names.index("right_shoulder")]
    robot_span = robot_points[names.index("left_shoulder")] - robot_points[names.index("right_shoulder")]
    np.testing.assert_allclose(np.linalg.norm(span, axis=-1), np.linalg.norm(robot_span))


def test_target_frames_are_rotations_with_the_named_axes(g1_map, fixture_motion):
    human = fixture_motion.joints[:10].astype(np.float64)
    rotations = target_rotations(human, g1_map, INDEX)  # (t k 3 3)
    np.testing.assert_allclose(rotations @ np.swapaxes(rotations, -1, -2), np.broadcast_to(np.eye(3), rotations.shape),
                               atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0, atol=1e-9)
    pelvis = g1_map.keypoint_names.index("pelvis")
    hips = human[:, INDEX["left_hip"]] - human[:, INDEX["right_hip"]]
    np.testing.assert_allclose(rotations[:, pelvis, :, 1], hips / np.linalg.norm(hips, axis=-1, keepdims=True))
    foot = g1_map.keypoint_names.index("left_foot")
    np.testing.assert_allclose(rotations[:, foot, :, 2], np.broadcast_to([0.0, 0.0, 1.0], (10, 3)), atol=1e-12)


def test_rebent_knee_joins_hip_and_ankle_at_the_robot_lengths():
    from a2m_core.retarget.feet import rebend_knee

    rng = np.random.default_rng(0)
    hip = rng.normal(size=(50, 3))
    ankle = hip + rng.normal(size=(50, 3)) * 0.25  # mostly within reach of 0.3 + 0.3
    hint = (hip + ankle) / 2 + rng.normal(size=(50, 3)) * 0.1
    knee = rebend_knee(hip, ankle, hint, 0.3, 0.3)
    reachable = np.linalg.norm(ankle - hip, axis=-1) < 0.6
    np.testing.assert_allclose(np.linalg.norm(knee - hip, axis=-1), 0.3, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(knee - ankle, axis=-1)[reachable], 0.3, atol=1e-9)
    # bent towards the hint: the knee and the hint lie on the same side of the hip-ankle line
    axis = (ankle - hip) / np.linalg.norm(ankle - hip, axis=-1, keepdims=True)

    def off_axis(p):
        v = p - hip
        return v - np.sum(v * axis, axis=-1, keepdims=True) * axis

    assert np.all(np.sum(off_axis(knee) * off_axis(hint), axis=-1)[reachable] > 0)
