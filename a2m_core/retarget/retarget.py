"""Retargeting: a human motion onto a robot's joints, within the robot's limits.

Steps: build keypoint targets that keep the human's pose in the robot's proportions (the root's
path scaled by leg length, each segment at the robot's length, see scaling.py); mark planted feet
and pin them to the floor; solve IK frame by frame, warm-started from the previous
frame, with position limits as hard bounds; raise the root where a sole would be under the
floor; retime frame steps to the URDF's velocity limits. Frames whose keypoints stay far from
their targets (an unreachable pose) are kept as the solver's best effort and flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pinocchio as pin

from a2m_core.errors import InputError
from a2m_core.motion.motion import Motion
from a2m_core.retarget.feet import ContactConfig, floor_lift, pin_planted_targets, planted, rebend_knee
from a2m_core.retarget.ik import IKConfig, KeypointIK
from a2m_core.retarget.keypoint_map import KeypointMap
from a2m_core.retarget.robot import ROOT_NQ, RobotModel
from a2m_core.retarget.robot_trajectory import RobotTrajectory
from a2m_core.retarget.scaling import (
    check_leg_keypoints, keypoint_parents, leg_length, motion_in_ros_metres, segment_targets, target_rotations,
)
from a2m_core.retarget.velocity import retime_to_velocity_limits


@dataclass(frozen=True)
class RetargetConfig:
    """Settings of one retargeting run."""

    ik: IKConfig = field(default_factory=IKConfig)
    contact: ContactConfig = field(default_factory=ContactConfig)
    best_effort_error_m: float = 0.15  # a frame with a keypoint farther than this from its target is flagged

    def __post_init__(self) -> None:
        if self.best_effort_error_m <= 0:
            raise ValueError(f"best_effort_error_m must be > 0, got {self.best_effort_error_m}")


@dataclass(frozen=True)
class _Problem:
    """Everything the IK needs per frame, derived from the motion and the map."""

    targets: np.ndarray  # (t k 3)
    rotations: np.ndarray  # (t k 3 3)
    gains: np.ndarray  # (t k)
    planted: np.ndarray  # (t 2)
    scale: float
    root: int  # the keypoint every other one hangs off (the pelvis)


def sole_frames(robot: RobotModel, keypoint_map: KeypointMap) -> list[list[int]]:
    """Frame ids of each foot's sole points, left then right: [[ids], [ids]]."""
    by_side = {foot.side: foot for foot in keypoint_map.feet}
    return [[robot.point_frame(by_side[s].link, p) for p in by_side[s].sole_points_m] for s in ("left", "right")]


def keypoint_frames(robot: RobotModel, keypoint_map: KeypointMap) -> list[int]:
    """Frame id of each keypoint's point on its link."""
    return [robot.point_frame(k.link, k.offset_m) for k in keypoint_map.keypoints]


def _standing_heights(robot: RobotModel, keypoint_map: KeypointMap, frames: list[int], soles: list[list[int]]) -> np.ndarray:
    """Height (k) of each keypoint above the floor with the robot standing in its zero pose."""
    q = robot.neutral()
    floor = robot.frame_positions(q, soles[0] + soles[1])[:, 2].min()
    return robot.frame_positions(q, frames)[:, 2] - floor


def _build_problem(motion: Motion, robot: RobotModel, keypoint_map: KeypointMap, config: RetargetConfig,
                   frames: list[int], soles: list[list[int]]) -> _Problem:
    index = {n: i for i, n in enumerate(motion.skeleton.joint_names)}
    feet = {foot.side: foot for foot in keypoint_map.feet}
    foot_joints = sorted({index[j] for foot in keypoint_map.feet for j in foot.human_joints})
    human = motion_in_ros_metres(motion, foot_joints)  # (t j 3)
    robot_points = robot.frame_positions(robot.neutral(), frames)  # (k 3) zero pose
    robot_leg = leg_length(robot_points, {n: i for i, n in enumerate(keypoint_map.keypoint_names)})
    scale = robot_leg / leg_length(human, index)

    kp_joints = [index[k.human] for k in keypoint_map.keypoints]
    rotations = target_rotations(human, keypoint_map, index)  # (t k 3 3)
    robot_rotations = np.array([robot.data.oMf[f].rotation for f in frames])  # (k 3 3)
    oriented = np.array([k.orientation_weight > 0 for k in keypoint_map.keypoints])
    parents = keypoint_parents(keypoint_map, motion.skeleton.parents, index)
    targets = segment_targets(human, kp_joints, parents, rotations, oriented, robot_points, robot_rotations,
                              scale)  # (t k 3)
    gains = np.ones(targets.shape[:2])  # (t k)
    standing = _standing_heights(robot, keypoint_map, frames, soles)  # (k)
    flags = np.stack([planted(human, [index[j] for j in feet[s].human_joints], motion.fps, config.contact)
                      for s in ("left", "right")], axis=-1)  # (t 2)
    members = [[k for k, kp in enumerate(keypoint_map.keypoints) if kp.human in feet[s].human_joints]
               for s in ("left", "right")]
    # one vertical shift of the whole body puts the lower foot at the robot's standing height in the
    # typical frame: the median over frames keeps jumps, and frames of broken input, from moving the rest
    float_m = np.min([targets[:, k, 2] - standing[k] for f in range(2) for k in members[f]], axis=0)  # (t)
    targets[..., 2] -= np.median(float_m)
    for f in range(2):
        pin_planted_targets(targets, gains, flags[:, f], members[f], standing[members[f]], config.contact.weight_gain)
        ankle = min(members[f], key=lambda k: kp_joints[k])  # the foot keypoint nearest the hip
        knee = parents[ankle]
        hip = parents[knee] if knee >= 0 else -1
        if hip >= 0 and flags[:, f].any():
            on = flags[:, f]
            targets[on, knee] = rebend_knee(targets[on, hip], targets[on, ankle], targets[on, knee],
                                            np.linalg.norm(robot_points[knee] - robot_points[hip]),
                                            np.linalg.norm(robot_points[ankle] - robot_points[knee]))
    return _Problem(targets=targets, rotations=rotations, gains=gains, planted=flags, scale=float(scale),
                    root=parents.index(-1))


def _fresh_start(robot: RobotModel, problem: _Problem, t: int, oriented: bool) -> np.ndarray:
    """The zero pose with the root at frame t's root target (and its orientation, when it has one)."""
    q = robot.neutral()
    q[:3] = problem.targets[t, problem.root]
    if oriented:
        q[3:7] = pin.Quaternion(problem.rotations[t, problem.root]).coeffs()  # x y z w
    return q


def _max_error(robot: RobotModel, q: np.ndarray, frames: list[int], targets: np.ndarray) -> float:
    return float(np.max(np.linalg.norm(robot.frame_positions(q, frames) - targets, axis=-1)))


def retarget(motion: Motion, robot: RobotModel, keypoint_map: KeypointMap,
             config: RetargetConfig = RetargetConfig(), progress: bool = False) -> RobotTrajectory:
    """Robot joint angles, root pose and frame times for `motion`; never outside the URDF's limits."""
    from tqdm import tqdm

    if motion.num_frames == 0:
        raise InputError("the motion has no frames; expected at least one")
    if not np.isfinite(motion.joints).all():
        bad = int((~np.isfinite(motion.joints)).sum())
        raise InputError(f"the motion has {bad} NaN or infinite joint coordinates; retarget finite joint positions")
    keypoint_map.check_links(robot.has_link)
    check_leg_keypoints(keypoint_map)
    frames = keypoint_frames(robot, keypoint_map)
    soles = sole_frames(robot, keypoint_map)
    problem = _build_problem(motion, robot, keypoint_map, config, frames, soles)

    solver = KeypointIK(robot, frames, [k.position_weight for k in keypoint_map.keypoints],
                        [k.orientation_weight for k in keypoint_map.keypoints], config.ik)
    root_oriented = keypoint_map.keypoints[problem.root].orientation_weight > 0
    configurations = np.empty((motion.num_frames, robot.model.nq))  # (t nq)
    q = None
    for t in tqdm(range(motion.num_frames), desc="retargeting", unit="frame", disable=not progress, leave=False):
        targets = problem.targets[t], problem.rotations[t], problem.gains[t]
        if q is not None:
            q = solver.solve(q, q, *targets, config.ik.iterations, config.ik.damping)
            if np.max(np.linalg.norm(robot.frame_positions(q, frames) - targets[0], axis=-1)) <= config.best_effort_error_m:
                configurations[t] = q
                continue
        # the first frame, or the warm start ended far off (after an unreachable stretch the previous
        # solution can be a bad basin): solve from the zero pose too and keep whichever lands closer
        fresh = solver.solve(_fresh_start(robot, problem, t, root_oriented), None, *targets,
                             config.ik.first_frame_iterations, config.ik.first_frame_damping)
        if q is None or _max_error(robot, fresh, frames, targets[0]) < _max_error(robot, q, frames, targets[0]):
            q = fresh
        configurations[t] = q

    sole_ids = soles[0] + soles[1]
    keypoints = np.empty_like(problem.targets)  # (t k 3)
    for t, q in enumerate(configurations):
        configurations[t, 2] += floor_lift(robot.frame_positions(q, sole_ids)[None, :, 2])[0]
        keypoints[t] = robot.frame_positions(configurations[t], frames)
    errors = np.linalg.norm(keypoints - problem.targets, axis=-1)  # (t k)

    joints = configurations[:, ROOT_NQ:]
    x, y, z, w = configurations[:, 3:7].T
    return RobotTrajectory(
        joint_names=robot.joint_names,
        joint_positions_rad=joints,
        root_positions_m=configurations[:, :3].copy(),
        root_quaternions_wxyz=np.stack([w, x, y, z], axis=-1),
        times_s=retime_to_velocity_limits(joints, motion.fps, robot.velocity_limit),
        keypoint_names=keypoint_map.keypoint_names,
        keypoint_targets_m=problem.targets,
        keypoint_errors_m=errors,
        best_effort=errors.max(axis=-1) > config.best_effort_error_m,
        planted=problem.planted,
        scale=problem.scale,
    )
