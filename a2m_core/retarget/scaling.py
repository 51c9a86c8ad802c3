"""Human-to-robot scaling and the keypoint targets it yields.

One uniform scale, the robot's leg length over the human's (hip -> knee -> ankle, both legs,
the human's measured as the clip's median bone lengths): legs carry the body and set step
length and pelvis height, so matching them keeps the feet on the ground and strides the robot
can make. Body height would mix in the head and neck pose, which vary within a clip.
Targets are in the ROS frame (x forward, y left, z up; metres) with the floor at z = 0.
"""

from __future__ import annotations

import numpy as np

from a2m_core.errors import InputError
from a2m_core.motion.frames import metres_per_unit, positions_to_ros
from a2m_core.motion.motion import Motion
from a2m_core.retarget.keypoint_map import UP, KeypointMap

LEG_KEYPOINTS = (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle"))
_EPS = 1e-9


def motion_in_ros_metres(motion: Motion, foot_joints: list[int]) -> np.ndarray:
    """Joint positions (t j 3) in the ROS frame, metres, with the lowest foot joint of the clip at z = 0."""
    pts = positions_to_ros(motion.joints.astype(np.float64)) * metres_per_unit(motion.skeleton)  # (t j 3)
    pts[..., 2] -= pts[:, foot_joints, 2].min()
    return pts


def leg_length(points: np.ndarray, index: dict[str, int]) -> float:
    """Mean over both legs of hip->knee + knee->ankle: points (t j 3) or (j 3) -> median length over frames."""
    points = points.reshape(-1, *points.shape[-2:])  # (t j 3)
    lengths = [
        np.linalg.norm(points[:, index[h]] - points[:, index[k]], axis=-1)
        + np.linalg.norm(points[:, index[k]] - points[:, index[a]], axis=-1)
        for h, k, a in LEG_KEYPOINTS
    ]
    return float(np.median(np.mean(lengths, axis=0)))


def check_leg_keypoints(keypoint_map: KeypointMap) -> None:
    """InputError unless the map has hips, knees and ankles, which the scale is measured on."""
    missing = [n for leg in LEG_KEYPOINTS for n in leg if n not in keypoint_map.keypoint_names]
    if missing:
        raise InputError(f"{keypoint_map.source}: the map must map {missing} too: the human is scaled to the "
                         "robot by leg length (hip, knee, ankle)")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _EPS)


def target_rotations(points: np.ndarray, keypoint_map: KeypointMap, joint_index: dict[str, int]) -> np.ndarray:
    """Target link orientations (t k 3 3) from human joint positions (t j 3); identity where a keypoint has none."""
    t = points.shape[0]
    rotations = np.broadcast_to(np.eye(3), (t, len(keypoint_map.keypoints), 3, 3)).copy()
    up = np.broadcast_to(np.array([0.0, 0.0, 1.0]), (t, 3))
    for k, keypoint in enumerate(keypoint_map.keypoints):
        if not keypoint.orientation:
            continue
        columns: dict[int, np.ndarray] = {}
        for axis, direction in keypoint.orientation:
            v = up if direction == UP else points[:, joint_index[direction[1]]] - points[:, joint_index[direction[0]]]
            v = _unit(v)  # (t 3)
            for done in columns.values():
                v = _unit(v - np.sum(v * done, axis=-1, keepdims=True) * done)
            columns["xyz".index(axis)] = v
        missing = ({0, 1, 2} - set(columns)).pop()
        columns[missing] = np.cross(columns[(missing + 1) % 3], columns[(missing + 2) % 3])
        rotations[:, k] = np.stack([columns[0], columns[1], columns[2]], axis=-1)
    return rotations


def keypoint_parents(keypoint_map: KeypointMap, parents: tuple[int, ...], joint_index: dict[str, int]) -> list[int]:
    """Each keypoint's parent keypoint (-1 for the root): its nearest ancestor joint that is a keypoint.

    InputError unless exactly one keypoint has no keypoint ancestor (the map's root, normally the pelvis).
    """
    keypoint_of_joint = {joint_index[k.human]: i for i, k in enumerate(keypoint_map.keypoints)}
    result = []
    for keypoint in keypoint_map.keypoints:
        joint = parents[joint_index[keypoint.human]]
        while joint >= 0 and joint not in keypoint_of_joint:
            joint = parents[joint]
        result.append(keypoint_of_joint.get(joint, -1))
    roots = [keypoint_map.keypoints[i].human for i, p in enumerate(result) if p < 0]
    if len(roots) != 1:
        raise InputError(f"{keypoint_map.source}: keypoints {roots} have no mapped ancestor; map the skeleton's root "
                         "joint (pelvis) so every keypoint hangs off one root")
    return result


def segment_targets(human: np.ndarray, joints: list[int], keypoint_parent: list[int], rotations: np.ndarray,
                    oriented: np.ndarray, robot_points: np.ndarray, robot_rotations: np.ndarray,
                    scale: float) -> np.ndarray:
    """Keypoint targets (t k 3), keypoint by keypoint down the skeleton, in the robot's own proportions.

    The root keypoint goes to the scaled human position. A keypoint whose parent keypoint has an
    orientation target (pelvis, chest: rigid bodies on the robot) sits at the robot's own offset from
    it, turned by the parent's target orientation; any other keypoint lies along the human's direction
    from its parent, at the robot's distance between the two (thigh, shin, upper arm, forearm).

    human (t j 3) metres, joints (k) the human joint of each keypoint, rotations (t k 3 3) target
    orientations, oriented (k) bool, robot_points (k 3) and robot_rotations (k 3 3) in the zero pose.
    """
    targets = np.empty((human.shape[0], len(joints), 3))
    for k in sorted(range(len(joints)), key=lambda i: joints[i]):  # skeleton order: parents first
        parent = keypoint_parent[k]
        if parent < 0:
            targets[:, k] = human[:, joints[k]] * scale
        elif oriented[parent]:
            offset = robot_rotations[parent].T @ (robot_points[k] - robot_points[parent])  # (3) parent frame
            targets[:, k] = targets[:, parent] + rotations[:, parent] @ offset
        else:
            length = np.linalg.norm(robot_points[k] - robot_points[parent])
            targets[:, k] = targets[:, parent] + length * _unit(human[:, joints[k]] - human[:, joints[parent]])
    return targets
