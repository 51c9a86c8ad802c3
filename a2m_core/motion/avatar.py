"""The avatar: a URDF of a dataset skeleton in the ROS frame, and the joint angles that pose it.

One layout drives both the URDF and the angles, so the two cannot drift apart:

- Root, from the fixed link `world`: `root_x`, `root_y`, `root_z` (prismatic along ROS X, Y, Z,
  metres), then `root_yaw`, `root_pitch`, `root_roll` (revolute about Z, the new Y, the new X:
  intrinsic Z-Y-X, R = Rz(yaw) Ry(pitch) Rx(roll)), then the link of the root joint (`pelvis`).
- Every other joint `j` with parent `p`: three revolute joints named `j_<axis>` pivot at p and
  orient the bone p -> j, the way the datasets store "the rotation of joint j" (so `left_knee_*`
  swing the thigh at the hip and `left_ankle_*` bend the knee). They rotate about the axes of
  the parent bone's frame in the order `bone_axis_order(skeleton, j)`: the middle one is the
  bone's own rest direction (its twist), which keeps the Euler decomposition away from gimbal
  lock in human poses. After them come the link `j_bone` (a cylinder along the bone, frame at p)
  and a fixed joint `j_bone_end` to the link `j` at the joint (a sphere).
- All link frames are parallel to the world at zero angles: the avatar then stands in the
  dataset's rest pose, facing ROS +X. Bone lengths are the dataset's reference skeleton
  (`rest_offsets`), in metres. Links are massless: the avatar is for display and retargeting.

Angles come from joint positions through the dataset's inverse kinematics. The root carries
the person's heading (the facing of hips and shoulders, per frame) and position;
the bones are oriented in that heading-free body frame, so a pose has the same body angles
whichever way the person faces. Joint positions leave each bone's twist free; the dataset's
shortest arc flips it where a bone turns opposite its rest direction (an arm raised overhead),
so from frame 1 on each bone takes the twist nearest its previous frame's
(`rotations.quat_continuous_twist`): joint values change as smoothly as the motion does. Forward kinematics of the URDF with these angles reproduces the
joints exactly when the motion's bone lengths are the reference lengths (every motion decoded
from dataset features, every motion the dataset's FK builds); for other bone lengths the bone
directions are reproduced and the positions differ by the length differences.
"""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from a2m_core.errors import InputError
from a2m_core.files import write_text
from a2m_core.motion.features import FeatureCodec, codec_for_features
from a2m_core.motion.frames import metres_per_unit, positions_to_ros, quaternions_to_ros
from a2m_core.motion.kinematics import global_rotations, inverse_kinematics, rest_offsets
from a2m_core.motion.rotations import (
    IDENTITY,
    quat_continuous_twist,
    quat_heading_between,
    quat_inverse,
    quat_multiply,
    quat_rotate,
)
from a2m_core.motion.skeleton import HUMANML3D, Skeleton

ROOT_JOINTS = (
    ("root_x", "prismatic", "x"),
    ("root_y", "prismatic", "y"),
    ("root_z", "prismatic", "z"),
    ("root_yaw", "continuous", "z"),
    ("root_pitch", "revolute", "y"),
    ("root_roll", "continuous", "x"),
)
"""(name, URDF type, axis) of the six root joints, parent to child."""

# Euler order (parent to child) by the axis of the bone's rest direction in the ROS frame: the
# middle axis is the twist. Of the two orders with that middle, these kept the middle angle
# lowest on the HumanML3D fixture clip (max 9-74 degrees per bone, gimbal lock is at 90).
_AXIS_ORDER_BY_REST_AXIS = {"x": "zxy", "y": "xyz", "z": "xzy"}
_WORLD = "world"
_FORWARD = np.array([0.0, 0.0, 1.0])  # dataset frame
_UP = np.array([0.0, 1.0, 0.0])
_ROOT_RANGE_M = 1000.0  # prismatic root travel either way
_MAX_VELOCITY = 30.0  # rad/s or m/s: above any human joint; URDF requires a value, nothing enforces it
_BONE_RADIUS_M = 0.02
_JOINT_RADIUS_M = 0.035
_HEAD_RADIUS_M = 0.09
_MATERIALS = {"left": "0.25 0.45 0.95 1", "right": "0.95 0.3 0.25 1", "centre": "0.75 0.75 0.75 1"}


def bone_axis_order(skeleton: Skeleton, joint: int) -> str:
    """The three axes ('x', 'y', 'z' of the ROS frame), parent to child, of the revolute joints orienting the bone into `joint`."""
    if not 0 < joint < skeleton.num_joints:
        raise ValueError(f"joint {joint} of {skeleton.name} has no bone; expected 1..{skeleton.num_joints - 1}")
    rest_axis = "xyz"[int(np.argmax(np.abs(positions_to_ros(skeleton.raw_offsets_np[joint]))))]
    return _AXIS_ORDER_BY_REST_AXIS[rest_axis]


def avatar_joint_names(skeleton: Skeleton = HUMANML3D, prefix: str = "") -> tuple[str, ...]:
    """Names of the avatar's movable joints: the six root joints, then three per bone in skeleton order.

    This is the order of `avatar_joint_angle_array`'s columns and of JointState messages.
    """
    names = [name for name, _, _ in ROOT_JOINTS]
    for joint in range(1, skeleton.num_joints):
        names += [f"{skeleton.joint_names[joint]}_{axis}" for axis in bone_axis_order(skeleton, joint)]
    return tuple(prefix + name for name in names)


# ---------------------------------------------------------------- URDF


def _num(value: float) -> str:
    value = float(value)
    return "0" if abs(value) < 1e-12 else f"{value:.10g}"


def _vec(values) -> str:
    return " ".join(_num(v) for v in values)


def _side(name: str) -> str:
    return "left" if name.startswith("left") else "right" if name.startswith("right") else "centre"


def _add_link(robot: ET.Element, name: str, geometry: ET.Element | None = None, origin=None, material: str = "") -> None:
    link = ET.SubElement(robot, "link", name=name)
    if geometry is None:
        return
    visual = ET.SubElement(link, "visual")
    if origin is not None:
        ET.SubElement(visual, "origin", xyz=_vec(origin[0]), rpy=_vec(origin[1]))
    visual.append(geometry)
    ET.SubElement(visual, "material", name=material)


def _add_joint(robot, name, kind, parent, child, xyz=(0.0, 0.0, 0.0), axis: str | None = None, limits=None) -> None:
    joint = ET.SubElement(robot, "joint", name=name, type=kind)
    ET.SubElement(joint, "origin", xyz=_vec(xyz), rpy="0 0 0")
    ET.SubElement(joint, "parent", link=parent)
    ET.SubElement(joint, "child", link=child)
    if axis is not None:
        ET.SubElement(joint, "axis", xyz=_vec(np.eye(3)["xyz".index(axis)]))
    if kind != "fixed":
        limit = ET.SubElement(joint, "limit", effort="0", velocity=_num(_MAX_VELOCITY))
        if limits is not None:
            limit.set("lower", _num(limits[0]))
            limit.set("upper", _num(limits[1]))


def _joint_limits(kind: str) -> tuple[float, float] | None:
    return {"prismatic": (-_ROOT_RANGE_M, _ROOT_RANGE_M), "revolute": (-np.pi / 2, np.pi / 2)}.get(kind)


def _sphere(radius: float) -> ET.Element:
    geometry = ET.Element("geometry")
    ET.SubElement(geometry, "sphere", radius=_num(radius))
    return geometry


def _cylinder_along(offset: np.ndarray) -> tuple[ET.Element, tuple]:
    """A cylinder from the origin to `offset` (3): its geometry and visual origin (xyz, rpy)."""
    length = float(np.linalg.norm(offset))
    geometry = ET.Element("geometry")
    ET.SubElement(geometry, "cylinder", radius=_num(_BONE_RADIUS_M), length=_num(length))
    pitch = np.arctan2(np.hypot(offset[0], offset[1]), offset[2])  # tilt the cylinder's Z axis onto the bone
    yaw = np.arctan2(offset[1], offset[0])
    return geometry, (offset / 2.0, (0.0, pitch, yaw))


def avatar_urdf(skeleton: Skeleton = HUMANML3D, prefix: str = "") -> str:
    """The avatar's URDF text (see the module docstring for its layout); `prefix` goes before every link and joint name."""
    offsets = positions_to_ros(rest_offsets(skeleton)) * metres_per_unit(skeleton)  # (j 3) metres, ROS frame
    robot = ET.Element("robot", name=f"a2m_{skeleton.name}_avatar")
    robot.append(ET.Comment(
        f" Generated by a2m (a2m_core/motion/avatar.py) for the {skeleton.name} skeleton; do not edit:"
        " regenerate it with the command a2m motion urdf. Root: prismatic x, y, z then revolute yaw (z),"
        " pitch (y), roll (x). Each bone: 3 revolute joints at its parent joint, middle axis = the bone's twist. "
    ))
    for side, rgba in _MATERIALS.items():
        ET.SubElement(ET.SubElement(robot, "material", name=f"a2m_{side}"), "color", rgba=rgba)

    root_name = skeleton.joint_names[0]
    _add_link(robot, prefix + _WORLD)
    parent = prefix + _WORLD
    for index, (name, kind, axis) in enumerate(ROOT_JOINTS):
        last = index == len(ROOT_JOINTS) - 1  # the last root joint moves the root joint's own link
        child = prefix + (root_name if last else f"{name}_link")
        _add_link(robot, child, _sphere(_JOINT_RADIUS_M) if last else None, material=f"a2m_{_side(root_name)}")
        _add_joint(robot, prefix + name, kind, parent, child, axis=axis, limits=_joint_limits(kind))
        parent = child

    for joint in range(1, skeleton.num_joints):
        name = skeleton.joint_names[joint]
        material = f"a2m_{_side(name)}"
        parent = prefix + skeleton.joint_names[skeleton.parents[joint]]
        order = bone_axis_order(skeleton, joint)
        for step, axis in enumerate(order):
            kind = "revolute" if step == 1 else "continuous"  # the middle Euler angle spans [-pi/2, pi/2]
            if step < 2:
                child = f"{prefix}{name}_{axis}_link"
                _add_link(robot, child)
            else:
                child = f"{prefix}{name}_bone"
                geometry, origin = _cylinder_along(offsets[joint])
                _add_link(robot, child, geometry, origin, material)
            _add_joint(robot, f"{prefix}{name}_{axis}", kind, parent, child, axis=axis, limits=_joint_limits(kind))
            parent = child
        radius = _HEAD_RADIUS_M if name == "head" else _JOINT_RADIUS_M
        _add_link(robot, prefix + name, _sphere(radius), material=material)
        _add_joint(robot, f"{prefix}{name}_bone_end", "fixed", parent, prefix + name, xyz=offsets[joint])

    ET.indent(robot, space="  ")
    return '<?xml version="1.0"?>\n' + ET.tostring(robot, encoding="unicode") + "\n"


def write_avatar_urdf(path: str | Path, skeleton: Skeleton = HUMANML3D, prefix: str = "") -> Path:
    """Write `avatar_urdf(skeleton, prefix)` to `path` (creating its folder) and return the path."""
    path = Path(path)
    try:
        write_text(path, avatar_urdf(skeleton, prefix))
    except OSError as exc:
        raise InputError(f"{path}: cannot write the avatar URDF ({exc.strerror}); expected a writable file path") from None
    return path


# ---------------------------------------------------------------- joint angles


def _check_joints(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    joints = np.asarray(joints)
    expected = f"(frames, {skeleton.num_joints}, 3) {skeleton.name} joint positions in the dataset frame"
    if joints.ndim != 3 or joints.shape[1:] != (skeleton.num_joints, 3):
        raise InputError(f"joints of shape {joints.shape}; expected {expected}")
    if joints.shape[0] == 0:
        raise InputError(f"joints of shape {joints.shape} hold no frames; expected {expected}")
    if not np.isfinite(joints).all():
        raise InputError(f"joints hold {int((~np.isfinite(joints)).sum())} NaN or infinite values; expected finite {expected}")
    return joints.astype(np.float64)


def _euler(quats_wxyz: np.ndarray, order: str) -> np.ndarray:
    """Intrinsic Euler angles (... 3), radians, in `order` (e.g. 'zyx') of quaternions (... 4) wxyz."""
    rotations = Rotation.from_quat(quats_wxyz.reshape(-1, 4), scalar_first=True)
    with warnings.catch_warnings():
        # At gimbal lock scipy sets the third angle to 0; the angles still give the exact rotation.
        warnings.filterwarnings("ignore", message="Gimbal lock detected")
        return rotations.as_euler(order.upper()).reshape(quats_wxyz.shape[:-1] + (3,))


def _facing(skeleton: Skeleton, joints: np.ndarray) -> np.ndarray:
    """Horizontal unit facing per frame, dataset frame: (t j 3) -> (t 3).

    Left hip - right hip + left shoulder - right shoulder points to the person's left; facing
    is that x up. Not `kinematics.facing_directions`: the dataset's IK subtracts the shoulder
    vector instead of adding it, which leaves a short, noisy vector that only its 1 s smoothing
    tames, and a smoothed heading lags quick turns (the bones would carry the lag as a body
    twist). Frames whose left vector is vertical (the person lies on their side) keep the
    previous frame's facing (+Z before any).
    """
    r_hip, l_hip, r_shoulder, l_shoulder = skeleton.face_joints
    left = joints[:, l_hip] - joints[:, r_hip] + joints[:, l_shoulder] - joints[:, r_shoulder]  # (t 3)
    facing = np.cross(left, _UP)  # (t 3) horizontal
    norm = np.linalg.norm(facing, axis=-1)  # (t)
    valid = norm > 1e-6 * np.maximum(np.linalg.norm(left, axis=-1), 1e-300)
    facing = np.where(valid[:, None], facing / np.where(valid, norm, 1.0)[:, None], _FORWARD)
    last_valid = np.maximum.accumulate(np.where(valid, np.arange(len(valid)), -1))  # (t) -1 before the first valid frame
    return np.where(last_valid[:, None] >= 0, facing[np.maximum(last_valid, 0)], _FORWARD)


def avatar_joint_angle_array(joints: np.ndarray, skeleton: Skeleton = HUMANML3D) -> np.ndarray:
    """Joint values of the avatar for a motion: joints (t j 3), dataset frame and units -> (t n) metres / radians.

    Columns follow `avatar_joint_names(skeleton)`. Continuous joints (root yaw and roll, the
    outer two angles of each bone) are unwrapped over time, so trajectories have no 2 pi jumps.
    """
    joints = _check_joints(joints, skeleton)
    heading = quat_heading_between(_FORWARD, _facing(skeleton, joints))  # (t 4) turns +Z onto the facing
    body = quat_rotate(quat_inverse(heading)[:, None], joints - joints[:, :1])  # (t j 3) facing +Z, root at 0
    bones = global_rotations(skeleton, inverse_kinematics(skeleton, body))  # (t j 4) rest direction -> bone
    bones[:, 0] = IDENTITY  # the root's own turn is the heading, carried by the root joints
    bones[:, 1:] = quat_continuous_twist(bones[:, 1:], skeleton.raw_offsets_np[1:])  # no spin about a bone between frames
    parents = list(skeleton.parents[1:])
    local = quat_multiply(quat_inverse(bones[:, parents]), bones[:, 1:])  # (t j-1 4) relative to the parent bone
    local_ros = quaternions_to_ros(local)

    num_frames = joints.shape[0]
    root_position = positions_to_ros(joints[:, 0]) * metres_per_unit(skeleton)  # (t 3)
    root_angles = _euler(quaternions_to_ros(heading), "zyx")  # (t 3) yaw, pitch, roll
    bone_angles = np.empty((num_frames, skeleton.num_joints - 1, 3))  # (t j-1 3)
    for bone in range(skeleton.num_joints - 1):
        bone_angles[:, bone] = _euler(local_ros[:, bone], bone_axis_order(skeleton, bone + 1))
    angles = np.concatenate([root_position, root_angles, bone_angles.reshape(num_frames, -1)], axis=1)  # (t n)
    continuous = [i for i, (_, kind, _) in enumerate(ROOT_JOINTS) if kind == "continuous"]
    continuous += [len(ROOT_JOINTS) + 3 * bone + step for bone in range(skeleton.num_joints - 1) for step in (0, 2)]
    angles[:, continuous] = np.unwrap(angles[:, continuous], axis=0)
    return angles


def avatar_joint_angles(joints: np.ndarray, skeleton: Skeleton = HUMANML3D) -> dict[str, np.ndarray]:
    """JointState-shaped joint values for a motion: joints (t j 3), dataset frame -> {joint name: (t) metres / radians}."""
    angles = avatar_joint_angle_array(joints, skeleton)
    return {name: angles[:, i] for i, name in enumerate(avatar_joint_names(skeleton))}


def avatar_joint_angles_from_features(features: np.ndarray, skeleton: Skeleton | None = None) -> dict[str, np.ndarray]:
    """Joint values from raw (not normalised) dataset features (t d), decoded to joints first.

    The skeleton defaults to the one whose feature size matches (263 HumanML3D, 251 KIT-ML).
    """
    codec = codec_for_features(features) if skeleton is None else FeatureCodec(skeleton)
    return avatar_joint_angles(codec.decode(features), codec.skeleton)
