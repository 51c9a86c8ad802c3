"""Quaternion, matrix and 6D helpers against independent constructions (scipy) and identities."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from a2m_core.motion.rotations import (
    cont6d_to_matrix,
    cont6d_to_quat,
    matrix_to_quat,
    quat_between,
    quat_continuous_twist,
    quat_fix,
    quat_from_axis_angle,
    quat_from_yaw,
    quat_heading_between,
    quat_inverse,
    quat_multiply,
    quat_normalize,
    quat_rotate,
    quat_to_cont6d,
    quat_to_matrix,
    quat_yaw,
)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _random_quats(rng, shape):
    return quat_normalize(rng.normal(size=shape + (4,)))


def _same_rotation(q, r):
    return np.abs(np.abs((q * r).sum(-1)) - 1)


def test_multiply_and_rotate_match_scipy(rng):
    q, r = _random_quats(rng, (50,)), _random_quats(rng, (50,))
    v = rng.normal(size=(50, 3))
    sq = Rotation.from_quat(q, scalar_first=True)
    sr = Rotation.from_quat(r, scalar_first=True)
    np.testing.assert_allclose(quat_rotate(q, v), sq.apply(v), atol=1e-12)
    expected = (sq * sr).as_quat(scalar_first=True)
    assert _same_rotation(quat_multiply(q, r), expected).max() < 1e-12
    np.testing.assert_allclose(quat_to_matrix(q), sq.as_matrix(), atol=1e-12)


def test_inverse_undoes_rotation_and_broadcasts(rng):
    q = _random_quats(rng, (4, 1))
    v = rng.normal(size=(4, 6, 3))
    back = quat_rotate(quat_inverse(q), quat_rotate(q, v))  # (4 6 3): q broadcast over 6 vectors
    np.testing.assert_allclose(back, v, atol=1e-12)


def test_matrix_to_quat_round_trip_including_half_turns(rng):
    q = _random_quats(rng, (200,))
    half_turns = quat_from_axis_angle(quat_normalize(rng.normal(size=(20, 3)) * [1, 1, 1]), np.full(20, np.pi))
    q = np.concatenate([q, half_turns])
    back = matrix_to_quat(quat_to_matrix(q))
    assert _same_rotation(back, q).max() < 1e-12
    assert (back[:, 0] >= 0).all()


def test_cont6d_is_first_two_columns_and_round_trips(rng):
    q = _random_quats(rng, (3, 5))
    m = quat_to_matrix(q)
    d6 = quat_to_cont6d(q)
    np.testing.assert_allclose(d6[..., :3], m[..., :, 0], atol=1e-12)
    np.testing.assert_allclose(d6[..., 3:], m[..., :, 1], atol=1e-12)
    np.testing.assert_allclose(cont6d_to_matrix(d6), m, atol=1e-12)
    # Gram-Schmidt recovers a rotation from perturbed, unnormalised 6D vectors
    noisy = cont6d_to_matrix(d6 * 3.0 + rng.normal(scale=1e-3, size=d6.shape))
    np.testing.assert_allclose(noisy @ np.swapaxes(noisy, -1, -2), np.broadcast_to(np.eye(3), noisy.shape), atol=1e-12)
    assert _same_rotation(cont6d_to_quat(d6), q).max() < 1e-12


def test_between_turns_u_onto_v_even_when_opposite(rng):
    u, v = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    unit = lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(quat_rotate(quat_between(u, v), unit(u)), unit(v), atol=1e-12)
    opposite = quat_between(u, -2.0 * u)
    assert np.isfinite(opposite).all()
    np.testing.assert_allclose(quat_rotate(opposite, unit(u)), -unit(u), atol=1e-12)


def test_heading_between_is_the_shortest_arc_about_the_vertical(rng):
    yaw_u, yaw_v = rng.uniform(-np.pi, np.pi, size=(2, 50))
    horizontal = lambda a: np.stack([np.sin(a), 0 * a, np.cos(a)], -1)  # noqa: E731
    u, v = horizontal(yaw_u), horizontal(yaw_v)
    q = quat_heading_between(2.0 * u, v)
    np.testing.assert_allclose(quat_rotate(q, u), v, atol=1e-12)
    assert (q[:, 0] >= 0).all()
    assert _same_rotation(q, quat_between(u, v)).max() < 1e-12
    # nearly opposite: still a half turn about +Y, where quat_between's fallback axis follows rounding noise
    backwards = np.array([[1.2e-16, 0.0, -1.0], [-1e-13, 0.0, -1.0], [0.0, 0.0, -1.0]])
    q = quat_heading_between(backwards, [0.0, 0.0, 1.0])
    np.testing.assert_allclose(np.abs(q), np.tile([0.0, 0.0, 1.0, 0.0], (3, 1)), atol=1e-12)


def test_yaw_helpers(rng):
    angles = rng.uniform(-np.pi + 1e-6, np.pi, size=30)
    q = quat_from_yaw(angles)
    np.testing.assert_allclose(quat_yaw(q), angles, atol=1e-12)
    np.testing.assert_allclose(quat_rotate(q, [0.0, 0.0, 1.0]), np.stack([np.sin(angles), 0 * angles, np.cos(angles)], -1), atol=1e-12)


def test_fix_removes_sign_flips(rng):
    angles = np.linspace(0, 3 * np.pi, 40)
    q = quat_from_yaw(angles)[:, None]  # (t 1 4)
    flipped = q * np.where(rng.random((40, 1, 1)) < 0.5, -1.0, 1.0)
    fixed = quat_fix(flipped)
    assert ((fixed[1:] * fixed[:-1]).sum(-1) > 0).all()
    assert _same_rotation(fixed, q).max() < 1e-12


def test_continuous_twist_keeps_the_aims_and_has_no_flips():
    """A bone swept up and over, through the opposite of its rest direction (an arm raised overhead)."""
    rest = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])  # (2 3): two bones at once
    sweep = np.linspace(0.2, 2 * np.pi - 0.2, 300)
    directions = np.stack([np.sin(sweep), -np.cos(sweep), np.full_like(sweep, 0.004)], axis=-1)  # passes 4 mrad from +Y
    directions = np.stack([directions, directions[:, [1, 0, 2]] * [-1.0, 1.0, 1.0]], axis=1)  # (t 2 3)
    aims = quat_between(rest, directions)  # (t 2 4) shortest arcs: they flip near the opposite direction
    out = quat_continuous_twist(aims, rest)
    np.testing.assert_allclose(quat_rotate(out, rest), directions / np.linalg.norm(directions, axis=-1, keepdims=True), atol=1e-9)
    np.testing.assert_allclose(out[0], aims[0])

    def steps(q):
        return 2 * np.arccos(np.clip(np.abs((q[1:] * q[:-1]).sum(-1)), 0.0, 1.0))  # (t-1 2) radians

    assert steps(aims).max() > 1.0  # the shortest arc spins half a turn about the bone within two steps
    assert steps(out).max() < 3 * np.diff(sweep)[0]  # the followed twist moves with the bone
