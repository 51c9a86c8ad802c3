"""Export joint positions to BVH (Biovision Hierarchy), the motion format Blender, Maya and
MotionBuilder import.

Conventions of the files written here:

- **Axes**: the dataset frame as it is, Y up, the motion facing +Z (BVH's usual axes; Blender's
  importer defaults to Y up, -Z forward and converts).
- **Units**: input joints are in the dataset's units (HumanML3D metres, KIT-ML millimetres,
  `frames.metres_per_unit`). The file is in centimetres by default (`units="cm"`), as most BVH
  files are (CMU, Mixamo, LaFAN1).
  In Blender's importer (File > Import > Motion Capture) set Scale to 0.01 for a human-sized
  armature in metres, or export with `units="m"` and keep Scale 1.
- **Channels**: the root has `Xposition Yposition Zposition Zrotation Xrotation Yrotation`, every
  other joint `Zrotation Xrotation Yrotation`, angles in degrees. Channel order is rotation
  order: a joint's local rotation is Rz(z) Rx(x) Ry(y) applied to column vectors (scipy's
  intrinsic "ZXY"), so turning about the up axis never meets gimbal lock. The root OFFSET is
  zero; its position channels are its world position. Angles are not wrapped to +-180: each
  frame takes the equivalent angles nearest the previous frame's, so curves stay continuous.
- **Rest pose**: each joint's OFFSET has the length of its bone in the motion's first frame.
  A joint whose parent has a single child points along the skeleton's rest direction
  (`Skeleton.raw_offsets`); the children of a joint with several children (pelvis, spine3,
  KIT's root and neck) keep the angles between them that they have in the first frame, turned
  as a whole to best match the rest directions. Leaf joints get an End Site half their
  bone's length further along the bone (for display only).

How rotations reproduce positions. In BVH one rotation per joint turns all of that joint's
child bones. The dataset inverse kinematics (`kinematics.inverse_kinematics`) instead gives a
rotation per bone: walking a chain, its local rotation stored at the child c is the one the
parent joint applies to aim the bone parent->c from its rest direction, and the accumulated
rotation of that bone is the shortest arc from the rest direction to the bone's direction.
For a joint with one child that accumulated bone rotation is exactly the joint's BVH world
rotation. A joint with several children cannot take any one of them: the shortest arc that
aims one child bone leaves the twist about that bone undetermined, and the dataset's chain walk
even starts the arm chains at spine3 from the root's rotation, so the collar bones would be
placed in the wrong frame. For those joints the world rotation is the one that best turns all
rest child OFFSETs onto the frame's child bones (Wahba's problem, least squares); the body
segment they span is rigid in dataset motion, so it reproduces the children exactly. Leaves
keep their parent's rotation. Local rotations are then inv(world of parent) * world.

The shortest arc leaves a joint with one child free to twist about its bone without moving
any position, and it flips that twist abruptly where a bone turns half way round from its
rest direction (an arm raised overhead from the hanging rest). So from frame 1 on, each such
joint takes, among the rotations that aim its bone as the IK does, the one nearest its previous
frame's rotation (`rotations.quat_continuous_twist`); a rig imported from the file then does
not spin about its bones.

Reproduction is exact (up to the printed 6 decimals) when bone lengths and the angles between
sibling bones stay as in the first frame, which holds for motion from the datasets (the
HumanML3D reference clip comes back within 0.002 mm). No fixed set of OFFSETs can follow
motion whose bone lengths drift over time (e.g. generated joint positions): its bones come
back with their first-frame lengths, and the errors add up along each chain (2 mm of random
noise per joint on the reference clip moves the hands and feet by up to 2 cm).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from a2m_core.errors import InputError
from a2m_core.files import write_text
from a2m_core.motion.frames import check_within_reach, metres_per_unit
from a2m_core.motion.kinematics import global_rotations, inverse_kinematics
from a2m_core.motion.rotations import quat_continuous_twist, quat_inverse, quat_multiply
from a2m_core.motion.skeleton import Skeleton

EULER_ORDER = "ZXY"  # scipy intrinsic order == BVH channel order; the middle axis X locks only at ±90° pitch, never for turning about Y (up)
UNITS_PER_METRE = {"cm": 100.0, "m": 1.0}
END_SITE_FRACTION = 0.5  # End Site length as a fraction of the leaf's own bone (display only)
MIN_BONE_LENGTH_M = 1e-6  # shorter bones have no direction to aim


def motion_to_bvh(joints: np.ndarray, skeleton: Skeleton, fps: float, *, units: str = "cm") -> str:
    """BVH text of joint positions (t j 3) in the dataset frame and units (Y up; HumanML3D metres,
    KIT-ML millimetres) at `fps` frames per second; the file is in `units` ("cm" or "m")."""
    joints = _validated_joints(joints, skeleton) * metres_per_unit(skeleton)  # (t j 3) metres
    fps = _validated_fps(fps)
    if units not in UNITS_PER_METRE:
        raise InputError(f"unknown BVH units {units!r}: choose one of {', '.join(UNITS_PER_METRE)}")
    scale = UNITS_PER_METRE[units]

    children = _children(skeleton)
    offsets = _rest_offsets(joints[0], skeleton, children)  # (j 3) metres
    world = _world_rotations(joints, skeleton, offsets, children)  # (t j 4)
    local = _local_rotations(world, skeleton)  # (t j 4)
    eulers = _continuous_eulers(_eulers_degrees(local))  # (t j 3)

    order = _depth_first(children)
    hierarchy = _hierarchy_lines(skeleton, offsets * scale, children)
    channels = [joints[:, 0] * scale] + [eulers[:, j] for j in order]  # each (t 3)
    body = io.StringIO()
    np.savetxt(body, np.concatenate(channels, axis=1), fmt="%.6f", delimiter=" ")
    head = hierarchy + ["MOTION", f"Frames: {len(joints)}", f"Frame Time: {1.0 / fps:.8f}"]
    return "\n".join(head) + "\n" + body.getvalue()


def write_bvh(path: str | Path, joints: np.ndarray, skeleton: Skeleton, fps: float, *, units: str = "cm") -> Path:
    """Write `motion_to_bvh(joints, skeleton, fps, units=units)` to `path`; returns the path."""
    text = motion_to_bvh(joints, skeleton, fps, units=units)  # validate before touching the file
    return write_text(path, text)


def _validated_joints(joints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    num_joints = skeleton.num_joints
    expected = f"joint positions (frames, {num_joints}, 3) for the {skeleton.name} skeleton"
    try:
        array = np.asarray(joints, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"BVH export: got {type(joints).__name__} that is not numeric; expected {expected}") from None
    if array.ndim != 3 or array.shape[1:] != (num_joints, 3):
        raise InputError(f"BVH export: got shape {array.shape}; expected {expected}")
    if array.shape[0] == 0:
        raise InputError(f"BVH export: got 0 frames; expected {expected} with at least one frame")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise InputError(f"BVH export: {bad} NaN or infinite values; expected finite {expected}")
    check_within_reach(array, skeleton, "BVH export")
    bones = (array[:, 1:] - array[:, list(skeleton.parents[1:])]) * metres_per_unit(skeleton)  # (t j-1 3) metres
    short = np.linalg.norm(bones, axis=-1) < MIN_BONE_LENGTH_M  # (t j-1)
    if short.any():
        frame, bone = (int(i) for i in np.argwhere(short)[0])
        child, parent = bone + 1, skeleton.parents[bone + 1]
        raise InputError(
            f"BVH export: joints {skeleton.joint_names[parent]} and {skeleton.joint_names[child]} coincide in frame "
            f"{frame} ({int(short.sum())} such bones); expected {expected} with distinct joints"
        )
    return array


def _validated_fps(fps: float) -> float:
    try:
        fps = float(fps)
    except (TypeError, ValueError):
        raise InputError(f"BVH export: frame rate {fps!r} is not a number; expected frames per second > 0") from None
    if not np.isfinite(fps) or fps <= 0:
        raise InputError(f"BVH export: frame rate {fps} fps; expected a finite frames-per-second value > 0")
    return fps


def _children(skeleton: Skeleton) -> list[list[int]]:
    children: list[list[int]] = [[] for _ in range(skeleton.num_joints)]
    for joint, parent in enumerate(skeleton.parents):
        if parent >= 0:
            children[parent].append(joint)
    return children


def _depth_first(children: list[list[int]]) -> list[int]:
    """Joint indices in the order BVH lists them (and their channels): parent, then each subtree."""
    order, stack = [], [0]
    while stack:
        joint = stack.pop()
        order.append(joint)
        stack.extend(reversed(children[joint]))
    return order


def _align(targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """wxyz quaternion of the rotation that best turns sources (n 3) onto targets (n 3)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scipy warns when fewer than 3 vectors leave a twist free
        rotation, _ = Rotation.align_vectors(targets, sources)
    return rotation.as_quat(scalar_first=True)


def _rest_offsets(first: np.ndarray, skeleton: Skeleton, children: list[list[int]]) -> np.ndarray:
    """OFFSET of each joint in its parent's rest frame, in metres: (j 3) from the first frame (j 3)."""
    offsets = np.zeros((skeleton.num_joints, 3))
    raw = skeleton.raw_offsets_np  # (j 3) unit rest directions
    for parent, kids in enumerate(children):
        if not kids:
            continue
        bones = first[kids] - first[parent]  # (k 3)
        lengths = np.linalg.norm(bones, axis=-1, keepdims=True)  # (k 1)
        if len(kids) == 1:
            offsets[kids] = raw[kids] * lengths
        else:
            # the first frame's sibling bones, turned as a whole to best match the rest directions
            to_rest = quat_inverse(_align(bones, raw[kids] * lengths))
            offsets[kids] = Rotation.from_quat(to_rest, scalar_first=True).apply(bones)
    return offsets


def _world_rotations(
    joints: np.ndarray, skeleton: Skeleton, offsets: np.ndarray, children: list[list[int]]
) -> np.ndarray:
    """World rotation of each BVH joint, wxyz: (t j 3) -> (t j 4); see the module docstring."""
    bones = global_rotations(skeleton, inverse_kinematics(skeleton, joints))  # (t j 4) per bone, dataset IK
    bones[:, 1:] = quat_continuous_twist(bones[:, 1:], skeleton.raw_offsets_np[1:])  # no spin about a bone
    world = np.empty_like(bones)
    for joint in _depth_first(children):
        kids = children[joint]
        if not kids:
            world[:, joint] = world[:, skeleton.parents[joint]]
        elif len(kids) == 1:
            world[:, joint] = bones[:, kids[0]]
        else:
            targets = joints[:, kids] - joints[:, joint : joint + 1]  # (t k 3)
            world[:, joint] = [_align(frame, offsets[kids]) for frame in targets]
    return world


def _local_rotations(world: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Rotation of each joint relative to its parent's world rotation: (t j 4) -> (t j 4)."""
    local = world.copy()
    parents = list(skeleton.parents[1:])
    local[:, 1:] = quat_multiply(quat_inverse(world[:, parents]), world[:, 1:])
    return local


def _eulers_degrees(local: np.ndarray) -> np.ndarray:
    """BVH channel angles (t j 3) in EULER_ORDER, degrees, of wxyz quaternions (t j 4)."""
    flat = Rotation.from_quat(local.reshape(-1, 4), scalar_first=True)
    with warnings.catch_warnings():
        # at gimbal lock scipy sets the third angle to zero; the angles still compose to the rotation
        warnings.simplefilter("ignore", UserWarning)
        angles = flat.as_euler(EULER_ORDER, degrees=True)
    return angles.reshape(local.shape[:-1] + (3,))


def _continuous_eulers(angles: np.ndarray) -> np.ndarray:
    """Per frame, the equivalent angle triple nearest the previous frame's: (t j 3) -> (t j 3).

    Every rotation has two Tait-Bryan triples, (a, b, c) and (a + 180, 180 - b, c + 180), and
    each angle is free up to whole turns. Picking the nearest keeps Blender's interpolation
    between keys from spinning a joint the long way round.
    """
    out = angles.copy()
    joint_index = np.arange(angles.shape[1])
    for frame in range(1, len(angles)):
        previous = out[frame - 1]  # (j 3)
        flipped = angles[frame] + np.array([180.0, 0.0, 180.0])
        flipped[:, 1] = 180.0 - angles[frame, :, 1]
        candidates = np.stack([angles[frame], flipped])  # (2 j 3)
        candidates = previous + (candidates - previous + 180.0) % 360.0 - 180.0  # nearest whole turn
        nearest = np.abs(candidates - previous).sum(-1).argmin(0)  # (j)
        out[frame] = candidates[nearest, joint_index]
    return out


def _hierarchy_lines(skeleton: Skeleton, offsets: np.ndarray, children: list[list[int]]) -> list[str]:
    """The HIERARCHY section; `offsets` (j 3) already in the file's units."""
    rotations = " ".join(f"{axis}rotation" for axis in EULER_ORDER)

    def fmt(vector: np.ndarray) -> str:
        return " ".join(f"{value:.6f}" for value in vector)

    def joint_lines(joint: int, depth: int) -> list[str]:
        pad = "\t" * depth
        if joint == 0:  # the root's OFFSET is zero: its position channels place it
            keyword, channels = "ROOT", f"6 Xposition Yposition Zposition {rotations}"
        else:
            keyword, channels = "JOINT", f"3 {rotations}"
        lines = [f"{pad}{keyword} {skeleton.joint_names[joint]}", f"{pad}{{",
                 f"{pad}\tOFFSET {fmt(offsets[joint])}", f"{pad}\tCHANNELS {channels}"]
        for child in children[joint]:
            lines += joint_lines(child, depth + 1)
        if not children[joint]:
            end = offsets[joint] * END_SITE_FRACTION
            lines += [f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {fmt(end)}", f"{pad}\t}}"]
        return lines + [f"{pad}}}"]

    return ["HIERARCHY"] + joint_lines(0, 0)
