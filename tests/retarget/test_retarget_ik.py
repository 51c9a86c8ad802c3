"""The per-frame IK: bounded least squares, and recovering a pose the robot can reach."""

import numpy as np
import pytest
from scipy.optimize import lsq_linear

from a2m_core.retarget.ik import IKConfig, KeypointIK, solve_box_qp
from a2m_core.retarget.retarget import keypoint_frames


def test_box_qp_matches_unconstrained_solution_when_no_bound_is_hit():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 5))
    b = rng.normal(size=12)
    x = solve_box_qp(a.T @ a, a.T @ b, np.full(5, -100.0), np.full(5, 100.0), max_passes=4)
    np.testing.assert_allclose(x, np.linalg.lstsq(a, b, rcond=None)[0], atol=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_box_qp_stays_in_bounds_and_is_near_the_bounded_optimum(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(20, 8))
    b = rng.normal(size=20) * 3
    lower, upper = -np.full(8, 0.3), np.full(8, 0.3)
    x = solve_box_qp(a.T @ a, a.T @ b, lower, upper, max_passes=8)
    assert np.all(x >= lower) and np.all(x <= upper)
    best = lsq_linear(a, b, bounds=(lower, upper)).x
    cost = lambda v: np.sum((a @ v - b) ** 2)  # noqa: E731
    assert cost(x) <= cost(best) * 1.05 + 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_ik_recovers_a_reachable_pose(g1, g1_map, seed):
    """Targets made by FK of a known in-limits pose are reached to millimetres, within the limits."""
    rng = np.random.default_rng(seed)
    frames = keypoint_frames(g1, g1_map)
    truth = g1.configuration(np.array([0.3, -0.2, 0.75]), np.array([0.99, 0.0, 0.0, 0.14]) / np.linalg.norm([0.99, 0.14]),
                             g1.lower_rad + (g1.upper_rad - g1.lower_rad) * rng.uniform(0.35, 0.65, g1.num_joints))
    targets = g1.frame_positions(truth, frames)
    rotations = np.array([g1.data.oMf[f].rotation for f in frames])
    solver = KeypointIK(g1, frames, [k.position_weight for k in g1_map.keypoints],
                        [k.orientation_weight for k in g1_map.keypoints], IKConfig())
    start = g1.neutral()
    start[:3] = targets[0]
    q = solver.solve(start, None, targets, rotations, np.ones(len(frames)), iterations=200, damping=1e-2)
    errors = np.linalg.norm(g1.frame_positions(q, frames) - targets, axis=-1)
    assert errors.max() < 0.005, dict(zip(g1_map.keypoint_names, errors))
    assert np.all(q[7:] >= g1.lower_rad) and np.all(q[7:] <= g1.upper_rad)


def test_ik_never_leaves_the_limits_for_unreachable_targets(g1, g1_map):
    frames = keypoint_frames(g1, g1_map)
    rng = np.random.default_rng(2)
    solver = KeypointIK(g1, frames, [k.position_weight for k in g1_map.keypoints],
                        [k.orientation_weight for k in g1_map.keypoints], IKConfig())
    q = g1.neutral()
    for _ in range(5):
        targets = rng.normal(scale=3.0, size=(len(frames), 3))  # metres away in every direction
        q = solver.solve(q, q, targets, np.broadcast_to(np.eye(3), (len(frames), 3, 3)), np.ones(len(frames)), 20, 1e-3)
        assert np.all(q[7:] >= g1.lower_rad) and np.all(q[7:] <= g1.upper_rad)
        assert np.isfinite(q).all()
