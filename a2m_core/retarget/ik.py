"""Per-frame inverse kinematics: weighted keypoint least squares with joint limits as hard bounds.

Each Gauss-Newton step solves, over the tangent step dq (v = 6 root + n joint dims),

    min  sum_k w_pk^2 |J_pk dq - e_pk|^2 + w_ok^2 |J_ok dq - e_ok|^2      keypoint position/orientation errors
         + smoothness |dq - (q_prev - q)|^2_W + damping |dq|^2              temporal term, Levenberg damping
    s.t. lower - q_joints <= dq_joints <= upper - q_joints                  URDF position limits

by an active-set pass (solve, fix the variables that cross a bound at the bound, re-solve the
rest); the new configuration is then projected onto the limits, so whatever the solver does a
joint never leaves its range. Frame Jacobians come from pinocchio (LOCAL_WORLD_ALIGNED: world
axes at the frame's origin); orientation errors are log3(R_target R^T) in world axes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pinocchio as pin

from a2m_core.retarget.robot import ROOT_DOF, ROOT_NQ, RobotModel


@dataclass(frozen=True)
class IKConfig:
    """Solver settings; weights are relative to a keypoint position weight of 1 per metre."""

    iterations: int = 4  # Gauss-Newton steps per frame after the first (warm-started from the previous frame)
    first_frame_iterations: int = 100  # the first frame starts from the robot's zero pose, far from its target
    step_tolerance: float = 1e-4  # stop once the step's norm is below this
    damping: float = 1e-3  # Levenberg damping on every tangent dim
    first_frame_damping: float = 1e-2  # stronger: big steps from the zero pose otherwise end in local minima
    smoothness_weight: float = 0.05  # pull towards the previous frame's solution (per rad^2 / m^2)
    max_active_set_passes: int = 4

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.first_frame_iterations < 1 or self.max_active_set_passes < 1:
            raise ValueError(f"iteration counts must be >= 1, got {self}")
        if min(self.damping, self.first_frame_damping, self.step_tolerance) <= 0 or self.smoothness_weight < 0:
            raise ValueError(f"damping and step_tolerance must be > 0 and smoothness_weight >= 0, got {self}")


def solve_box_qp(hessian: np.ndarray, gradient: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                 max_passes: int) -> np.ndarray:
    """argmin 0.5 x^T H x - g^T x within lower <= x <= upper (H positive definite), by active-set passes.

    Each pass fixes the variables that left their bounds at the bound; the result is always within bounds.
    """
    n = gradient.shape[0]
    free = np.ones(n, dtype=bool)
    x = np.zeros(n)
    for _ in range(max_passes):
        rhs = gradient[free] - hessian[np.ix_(free, ~free)] @ x[~free]
        x[free] = np.linalg.solve(hessian[np.ix_(free, free)], rhs)
        crossed = free & ((x < lower) | (x > upper))
        if not crossed.any():
            break
        x[crossed] = np.clip(x[crossed], lower[crossed], upper[crossed])
        free &= ~crossed
    return np.clip(x, lower, upper)


class KeypointIK:
    """Solves one frame at a time for a fixed set of keypoint frames on a robot."""

    def __init__(self, robot: RobotModel, frame_ids: list[int], position_weights: np.ndarray,
                 orientation_weights: np.ndarray, config: IKConfig):
        self.robot = robot
        self.frame_ids = frame_ids
        self.position_weights = np.asarray(position_weights, dtype=np.float64)  # (k)
        self.orientation_weights = np.asarray(orientation_weights, dtype=np.float64)  # (k)
        self.oriented = np.flatnonzero(self.orientation_weights > 0)
        self.config = config
        nv = robot.model.nv
        self.lower_bound = np.full(nv, -np.inf)
        self.upper_bound = np.full(nv, np.inf)

    def solve(self, q_start: np.ndarray, q_previous: np.ndarray | None, target_positions: np.ndarray,
              target_rotations: np.ndarray, weight_gains: np.ndarray, iterations: int, damping: float) -> np.ndarray:
        """Configuration (nq) for one frame: targets (k 3), (k 3 3), per-keypoint gains (k)."""
        model, data, cfg = self.robot.model, self.robot.data, self.config
        lo, hi = self.robot.lower_rad, self.robot.upper_rad
        w_pos = self.position_weights * weight_gains  # (k)
        w_rot = self.orientation_weights[self.oriented] * weight_gains[self.oriented]  # (o)
        smooth = cfg.smoothness_weight if q_previous is not None else 0.0
        q = q_start.copy()
        for _ in range(iterations):
            pin.computeJointJacobians(model, data, q)
            pin.updateFramePlacements(model, data)
            jacobians = [pin.getFrameJacobian(model, data, f, pin.LOCAL_WORLD_ALIGNED) for f in self.frame_ids]
            rows_pos = np.concatenate([j[:3] for j in jacobians]) * np.repeat(w_pos, 3)[:, None]  # (3k v)
            err_pos = (target_positions - np.array([data.oMf[f].translation for f in self.frame_ids]))  # (k 3)
            rows = [rows_pos]
            errs = [(err_pos * w_pos[:, None]).ravel()]
            if self.oriented.size:
                rows.append(np.concatenate([jacobians[k][3:] for k in self.oriented]) * np.repeat(w_rot, 3)[:, None])
                errs.append(np.concatenate([
                    pin.log3(target_rotations[k] @ data.oMf[self.frame_ids[k]].rotation.T) * w
                    for k, w in zip(self.oriented, w_rot)]))
            a = np.concatenate(rows)  # (r v)
            b = np.concatenate(errs)  # (r)
            hessian = a.T @ a
            gradient = a.T @ b
            hessian[np.diag_indices_from(hessian)] += damping + smooth
            if smooth:
                gradient += smooth * pin.difference(model, q, q_previous)
            self.lower_bound[ROOT_DOF:] = lo - q[ROOT_NQ:]
            self.upper_bound[ROOT_DOF:] = hi - q[ROOT_NQ:]
            dq = solve_box_qp(hessian, gradient, self.lower_bound, self.upper_bound, cfg.max_active_set_passes)
            q = pin.integrate(model, q, dq)
            q[ROOT_NQ:] = np.clip(q[ROOT_NQ:], lo, hi)  # the hard limit: projection, whatever the step did
            if np.linalg.norm(dq) < cfg.step_tolerance:
                break
        return q
