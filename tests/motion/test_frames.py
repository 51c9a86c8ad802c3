"""The dataset -> ROS (REP 103) frame conversion: a proper rotation that keeps left, up and forward."""

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from a2m_core.motion import frames
from a2m_core.motion.skeleton import HUMANML3D

FIXTURE = Path(__file__).parents[2] / ".." / "shared" / "fixtures" / "humanml3d" / "new_joints_012314.npy"


def _wxyz(rotation: Rotation) -> np.ndarray:
    return np.roll(rotation.as_quat(), 1, axis=-1)  # scipy is xyzw


def test_conversion_is_a_proper_rotation():
    m = frames.DATASET_TO_ROS
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(m) == pytest.approx(1.0)
    assert not m.flags.writeable


def test_axes_map_forward_left_up():
    # dataset: +Z forward, +X the person's left, +Y up -> ROS: +X forward, +Y left, +Z up
    axes = np.eye(3)
    np.testing.assert_array_equal(frames.positions_to_ros(axes[2]), [1, 0, 0])
    np.testing.assert_array_equal(frames.positions_to_ros(axes[0]), [0, 1, 0])
    np.testing.assert_array_equal(frames.positions_to_ros(axes[1]), [0, 0, 1])
    left_hip = HUMANML3D.raw_offsets_np[HUMANML3D.index("left_hip")]
    assert frames.positions_to_ros(left_hip)[1] == 1.0


def test_fixture_person_keeps_left_up_forward():
    if not FIXTURE.exists():
        pytest.skip(f"HumanML3D fixture absent: {FIXTURE} (it lives in ../shared next to the repository)")
    joints = frames.positions_to_ros(np.load(FIXTURE).astype(np.float64))  # (t j 3)
    sk = HUMANML3D
    left = joints[0, sk.index("left_hip")] - joints[0, sk.index("right_hip")]
    up = joints[0, sk.index("head")] - joints[0, sk.index("pelvis")]
    toes = joints[0, sk.index("left_foot")] - joints[0, sk.index("left_ankle")]
    assert left[1] > 0.1 and abs(left[0]) < 0.05  # the left hip is on ROS +Y
    assert up[2] > 0.4  # the head is above the pelvis
    assert toes[0] > 0.05  # toes point forward (+X) at the first, facing-normalised frame
    forward = np.cross(left, [0.0, 0.0, 1.0])  # left x up = forward in a right-handed frame
    assert forward[0] > 0 and abs(np.arctan2(forward[1], forward[0])) < 0.2
    assert joints[..., 2].min() > -0.05  # the floor is at z = 0, the person stands on it


def test_round_trips_are_exact():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(5, 22, 3))
    np.testing.assert_array_equal(frames.positions_from_ros(frames.positions_to_ros(p)), p)
    r = Rotation.random(7, random_state=1)
    mats = r.as_matrix()
    np.testing.assert_allclose(frames.matrices_from_ros(frames.matrices_to_ros(mats)), mats, atol=1e-12)
    q = _wxyz(r)
    np.testing.assert_array_equal(frames.quaternions_from_ros(frames.quaternions_to_ros(q)), q)


def test_rotations_act_the_same_in_both_frames():
    rng = np.random.default_rng(2)
    r = Rotation.random(6, random_state=3)
    p = rng.normal(size=(6, 3))
    rotated_then_converted = frames.positions_to_ros(r.apply(p))
    mats_ros = frames.matrices_to_ros(r.as_matrix())
    np.testing.assert_allclose(np.einsum("nij,nj->ni", mats_ros, frames.positions_to_ros(p)), rotated_then_converted, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(mats_ros), 1.0, atol=1e-12)
    quats_ros = frames.quaternions_to_ros(_wxyz(r))
    np.testing.assert_allclose(Rotation.from_quat(np.roll(quats_ros, -1, axis=-1)).as_matrix(), mats_ros, atol=1e-12)


def test_heading_yaw_turns_about_up():
    theta = np.linspace(-3.0, 3.0, 13)
    facing = Rotation.from_rotvec(theta[:, None] * [0.0, 1.0, 0.0]).apply([0.0, 0.0, 1.0])  # turned about dataset up
    np.testing.assert_allclose(frames.heading_yaw(facing), theta, atol=1e-12)
    assert frames.heading_yaw(np.array([1.0, 0.0, 0.0])) == pytest.approx(np.pi / 2)  # facing the initial left
    yaw_rot = Rotation.from_rotvec([0.0, 0.0, 0.7])
    np.testing.assert_allclose(frames.matrices_to_ros(Rotation.from_rotvec([0.0, 0.7, 0.0]).as_matrix()), yaw_rot.as_matrix(), atol=1e-12)


@pytest.mark.parametrize(
    "call, shape",
    [
        (frames.positions_to_ros, (4, 2)),
        (frames.positions_from_ros, (3, 4)),
        (frames.matrices_to_ros, (3, 4)),
        (frames.quaternions_to_ros, (5, 3)),
        (frames.heading_yaw, (2,)),
    ],
)
def test_wrong_shapes_are_refused(call, shape):
    with pytest.raises(ValueError, match="must have shape"):
        call(np.zeros(shape))


def test_units_to_metres():
    from a2m_core.motion.skeleton import KIT

    assert frames.metres_per_unit(HUMANML3D) == 1.0
    assert frames.metres_per_unit(KIT) == 0.001
