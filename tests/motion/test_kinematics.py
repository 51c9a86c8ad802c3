"""Forward/inverse kinematics and the reference skeletons, on the real HumanML3D clip and synthetic motion."""

import numpy as np
import pytest

from a2m_core.motion.kinematics import (
    bone_offsets,
    facing_directions,
    forward_kinematics,
    global_rotations,
    inverse_kinematics,
    parent_relative_rotations,
    rest_offsets,
)
from a2m_core.motion.rotations import quat_from_axis_angle, quat_multiply, quat_normalize, quat_rotate
from a2m_core.motion.skeleton import HUMANML3D, KIT


def _random_local_quats(rng, num_frames, skeleton, scale=0.4):
    """(t j 4) smooth-ish random rotations of moderate size."""
    axes = quat_normalize(np.concatenate([np.zeros((1, skeleton.num_joints, 1)), rng.normal(size=(1, skeleton.num_joints, 3))], -1))[..., 1:]
    phase = np.linspace(0, 2 * np.pi, num_frames)[:, None]
    angles = scale * np.sin(phase + rng.uniform(0, 2 * np.pi, size=(1, skeleton.num_joints)))
    return quat_from_axis_angle(np.broadcast_to(axes, (num_frames, skeleton.num_joints, 3)), angles)


@pytest.fixture(scope="module")
def fixture_joints(humanml3d_fixture_dir):
    return np.load(humanml3d_fixture_dir / "new_joints_012314.npy").astype(np.float64)


def test_humanml3d_rest_offsets_are_the_fixture_skeleton(fixture_joints):
    """The hard-coded reference bone lengths are the ones every frame of the real clip has."""
    offsets = rest_offsets(HUMANML3D)
    per_frame = np.stack([bone_offsets(HUMANML3D, frame) for frame in fixture_joints])  # (t j 3)
    assert np.abs(per_frame - offsets).max() < 5e-6
    leg = offsets[[HUMANML3D.index("left_knee"), HUMANML3D.index("left_ankle")], 1].sum()
    assert -0.9 < leg < -0.75  # metres, pointing down


def test_kit_rest_offsets_are_millimetres():
    offsets = rest_offsets(KIT)
    assert offsets.shape == (21, 3)
    leg_mm = -offsets[list(KIT.leg_joints), 1].sum()
    assert 700 < leg_mm < 1000


def test_inverse_then_forward_reproduces_fixture(fixture_joints):
    for smooth in (False, True):
        quats = inverse_kinematics(HUMANML3D, fixture_joints, smooth_forward=smooth)
        assert np.allclose(quats[0, 0], [1, 0, 0, 0])  # the dataset's IK: frame 0 root is identity
        rebuilt = forward_kinematics(HUMANML3D, quats, fixture_joints[:, 0], bone_offsets(HUMANML3D, fixture_joints[0]))
        # the float32 clip's bone lengths vary by ~1e-6 m between frames; IK itself is exact
        assert np.abs(rebuilt - fixture_joints).max() < 1e-5


@pytest.mark.parametrize("skeleton", [HUMANML3D, KIT], ids=lambda s: s.name)
def test_forward_inverse_round_trip_synthetic(skeleton):
    rng = np.random.default_rng(3)
    quats = _random_local_quats(rng, 60, skeleton)
    root = np.stack([np.linspace(0, 1, 60), np.full(60, 0.9), np.zeros(60)], -1) * (1000 if skeleton is KIT else 1)
    offsets = rest_offsets(skeleton)
    joints = forward_kinematics(skeleton, quats, root, offsets)  # (t j 3)
    lengths = np.linalg.norm(joints[:, 1:] - joints[:, list(skeleton.parents[1:])], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(np.linalg.norm(offsets[1:], axis=-1), lengths.shape), rtol=1e-10)
    recovered = inverse_kinematics(skeleton, joints)
    rebuilt = forward_kinematics(skeleton, recovered, joints[:, 0], bone_offsets(skeleton, joints[0]))
    np.testing.assert_allclose(rebuilt, joints, atol=1e-9 * np.abs(joints).max())


def test_forward_kinematics_batched_matches_per_clip():
    rng = np.random.default_rng(5)
    quats = np.stack([_random_local_quats(rng, 10, HUMANML3D) for _ in range(3)])  # (b t j 4)
    root = rng.normal(size=(3, 10, 3))
    batched = forward_kinematics(HUMANML3D, quats, root, rest_offsets(HUMANML3D))
    for b in range(3):
        np.testing.assert_allclose(batched[b], forward_kinematics(HUMANML3D, quats[b], root[b], rest_offsets(HUMANML3D)))


def test_chains_start_from_root_rotation():
    """A rotation at spine3 moves the head but not the collars: arm chains restart from the root (dataset convention)."""
    quats = np.tile([1.0, 0, 0, 0], (1, 22, 1))
    quats[0, HUMANML3D.index("spine3")] = quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), np.array(0.5))
    rest = forward_kinematics(HUMANML3D, np.tile([1.0, 0, 0, 0], (1, 22, 1)), np.zeros((1, 3)), rest_offsets(HUMANML3D))
    bent = forward_kinematics(HUMANML3D, quats, np.zeros((1, 3)), rest_offsets(HUMANML3D))
    collar, head = HUMANML3D.index("left_collar"), HUMANML3D.index("head")
    np.testing.assert_allclose(bent[0, collar] - bent[0, 9], rest[0, collar] - rest[0, 9], atol=1e-12)
    assert np.linalg.norm(bent[0, head] - rest[0, head]) > 0.05


def test_parent_relative_rotations_drive_a_plain_parent_chain():
    """Converted rotations rebuild the pose when each joint composes its parent's rotation (BVH/URDF style)."""
    rng = np.random.default_rng(11)
    quats = _random_local_quats(rng, 8, HUMANML3D)
    offsets = rest_offsets(HUMANML3D)
    expected = forward_kinematics(HUMANML3D, quats, np.zeros((8, 3)), offsets)
    relative = parent_relative_rotations(HUMANML3D, quats)
    glob = np.zeros_like(relative)
    joints = np.zeros((8, 22, 3))
    glob[:, 0] = relative[:, 0]
    for j in range(1, 22):
        p = HUMANML3D.parents[j]
        glob[:, j] = quat_multiply(glob[:, p], relative[:, j])
        joints[:, j] = joints[:, p] + quat_rotate(glob[:, j], offsets[j])
    np.testing.assert_allclose(joints, expected, atol=1e-12)
    np.testing.assert_allclose(glob, global_rotations(HUMANML3D, quats), atol=1e-12)


def test_facing_uses_the_datasets_across_vector():
    """In the rest pose (facing +Z) the IK's facing is +Z: shoulders are wider than hips in the reference skeleton."""
    rest = forward_kinematics(HUMANML3D, np.tile([1.0, 0, 0, 0], (1, 22, 1)), np.zeros((1, 3)), rest_offsets(HUMANML3D))
    np.testing.assert_allclose(facing_directions(HUMANML3D, rest), [[0.0, 0.0, 1.0]], atol=1e-12)


@pytest.mark.parametrize("yaw", [np.pi, np.pi - 1e-13, -np.pi + 1e-13])
def test_ik_root_rotation_stays_upright_when_facing_straight_backwards(yaw):
    """A body turned by float pi faces (1.2e-16, 0, -1): the root rotation must still be a turn about +Y.

    quat_between took its antiparallel fallback there, a half turn about X, so the features
    stored the body upside down (corpus clip 000079 of seed 0 decoded with its head below the floor).
    """
    quats = np.zeros((3, HUMANML3D.num_joints, 4))
    quats[..., 0] = 1.0
    quats[:, 0] = quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), np.array([0.0, yaw / 2, yaw]))
    joints = forward_kinematics(HUMANML3D, quats, np.tile([0.0, 0.9, 0.0], (3, 1)), rest_offsets(HUMANML3D))
    root = inverse_kinematics(HUMANML3D, joints, first_root_identity=False)[:, 0]  # (t 4)
    np.testing.assert_allclose(quat_rotate(root, [0.0, 1.0, 0.0]), np.tile([0.0, 1.0, 0.0], (3, 1)), atol=1e-12)
    np.testing.assert_allclose(quat_rotate(root, facing_directions(HUMANML3D, joints)), np.tile([0.0, 0.0, 1.0], (3, 1)),
                               atol=1e-12)
