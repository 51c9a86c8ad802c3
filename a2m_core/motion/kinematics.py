"""Forward and inverse kinematics in the HumanML3D / KIT-ML convention, and reference skeletons.

Convention (the datasets' `common/skeleton.py`, kept so features match the data):
- `local_quats[..., 0, :]` is the global root rotation; `local_quats[..., j, :]` for j > 0
  turns the bone parent(j) -> j: the bone's global rotation is the product of the rotations
  along its kinematic chain, and the bone is that rotation applied to `offsets[j]`.
- Every chain starts from the ROOT rotation, also the arm chains that start at spine3
  (joint 9 in HumanML3D, neck joint 3 in KIT). So the rotations stored at the collars
  (HumanML3D 13, 14) and shoulders (KIT 5, 8) are relative to the root frame, not to their
  parent's frame. `parent_relative_rotations` converts to the usual parent-relative form.
- Inverse kinematics takes the root rotation from the facing direction (it turns the
  facing onto +Z) and sets the first frame's root rotation to identity, as the dataset's IK does.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from a2m_core.motion.rotations import IDENTITY, quat_between, quat_heading_between, quat_inverse, quat_multiply, \
    quat_rotate
from a2m_core.motion.skeleton import HUMANML3D, KIT, Skeleton

_UP = np.array([0.0, 1.0, 0.0])
_FORWARD = np.array([0.0, 0.0, 1.0])
FACING_SMOOTHING_SIGMA_FRAMES = 20.0  # the dataset's Gaussian smoothing of the IK facing direction

# HumanML3D bone lengths in metres, index = child joint (the root has none). The dataset
# rescales every clip to one target skeleton (subject 000021, first frame); these are that
# skeleton's lengths, measured as the median over frames of the bone lengths in the reference
# clip ../shared/fixtures/humanml3d/new_joints_012314.npy (spread across frames < 2e-6 m).
_HUMANML3D_BONE_LENGTHS_M = (
    0.0, 0.1030740, 0.1098834, 0.1315682, 0.3936232, 0.3901882, 0.1431902, 0.4324330, 0.4256434,
    0.0573647, 0.1433818, 0.1494191, 0.2193600, 0.1374868, 0.1433828, 0.1030392, 0.1316140,
    0.1229844, 0.2568399, 0.2630919, 0.2660118, 0.2698763,
)

# KIT-ML joint positions are in MILLIMETRES. The dataset's target skeleton (clip 03950, first
# frame) is not available here, so these lengths are an APPROXIMATION: the MMM reference model's
# proportions (Winter's anthropometric segment lengths as fractions of body height) for a
# 1.75 m subject. Features encoded with them match the KIT-ML convention and units but not the
# dataset's exact bone lengths; pass the real offsets (`bone_offsets(KIT, first frame of
# KIT-ML new_joints/03950.npy)`) to `FeatureCodec(KIT, reference_offsets=...)` when you have them.
_KIT_HEIGHT_MM = 1750.0
_KIT_BONE_FRACTIONS = (
    0.0,
    0.040, 0.110, 0.110, 0.070,  # root -> torso -> chest -> neck -> head
    0.100, 0.186, 0.146,  # neck -> shoulder -> elbow -> wrist (one side)
    0.100, 0.186, 0.146,  # (other side)
    0.052, 0.245, 0.246, 0.060, 0.055,  # root -> hip -> knee -> ankle -> midfoot -> toe
    0.052, 0.245, 0.246, 0.060, 0.055,
)


def rest_offsets(skeleton: Skeleton) -> np.ndarray:
    """The dataset's reference skeleton: (j 3) bone vectors in the rest pose, in the dataset's units.

    HumanML3D: metres, exact. KIT-ML: millimetres, approximate (see `_KIT_BONE_FRACTIONS`).
    """
    if skeleton.name == HUMANML3D.name:
        lengths = np.asarray(_HUMANML3D_BONE_LENGTHS_M)
    elif skeleton.name == KIT.name:
        lengths = np.asarray(_KIT_BONE_FRACTIONS) * _KIT_HEIGHT_MM
    else:
        raise ValueError(f"no reference skeleton for {skeleton.name!r}; use bone_offsets on one of its frames")
    return skeleton.raw_offsets_np * lengths[:, None]


def bone_offsets(skeleton: Skeleton, joints_frame: np.ndarray) -> np.ndarray:
    """Rest offsets with the bone lengths of one posed frame: (j 3) positions -> (j 3) offsets.

    Each offset is the raw rest direction scaled by the distance from parent to child,
    as the datasets' `get_offsets_joints` does.
    """
    joints_frame = np.asarray(joints_frame, dtype=np.float64)
    parents = np.asarray(skeleton.parents)
    lengths = np.zeros(skeleton.num_joints)
    lengths[1:] = np.linalg.norm(joints_frame[1:] - joints_frame[parents[1:]], axis=-1)
    return skeleton.raw_offsets_np * lengths[:, None]


def forward_kinematics(
    skeleton: Skeleton, local_quats: np.ndarray, root_pos: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Joint positions from local rotations in the dataset convention (see module docstring).

    local_quats (... j 4), root_pos (... 3), offsets (j 3) or (... j 3) -> joints (... j 3)
    """
    local_quats = np.asarray(local_quats, dtype=np.float64)
    offsets = np.broadcast_to(np.asarray(offsets, dtype=np.float64), local_quats.shape[:-1] + (3,))
    joints = np.zeros(local_quats.shape[:-1] + (3,))  # (... j 3)
    joints[..., 0, :] = root_pos
    for chain in skeleton.chains:
        rotation = local_quats[..., 0, :]  # every chain starts from the root rotation
        for parent, child in zip(chain[:-1], chain[1:]):
            rotation = quat_multiply(rotation, local_quats[..., child, :])
            joints[..., child, :] = joints[..., parent, :] + quat_rotate(rotation, offsets[..., child, :])
    return joints


def facing_directions(skeleton: Skeleton, joints: np.ndarray, smooth: bool = False) -> np.ndarray:
    """Unit horizontal facing per frame as the dataset's IK computes it: (t j 3) -> (t 3).

    The IK unpacks the face joints (right hip, left hip, right shoulder, left shoulder) as
    (l_hip, r_hip, sdr_r, sdr_l), so its "across" vector is (left hip - right hip) +
    (right shoulder - left shoulder): the shoulder width minus the hip width, not their sum.
    Facing = up x across; `smooth` applies the dataset's Gaussian filter (sigma 20 frames,
    nearest-edge padding) over time before normalising.
    """
    r_hip, l_hip, r_shoulder, l_shoulder = skeleton.face_joints
    across = (joints[:, l_hip] - joints[:, r_hip]) + (joints[:, r_shoulder] - joints[:, l_shoulder])  # (t 3)
    across = across / np.linalg.norm(across, axis=-1, keepdims=True)
    forward = np.cross(_UP, across)  # (t 3)
    if smooth:
        forward = gaussian_filter1d(forward, FACING_SMOOTHING_SIGMA_FRAMES, axis=0, mode="nearest")
    return forward / np.linalg.norm(forward, axis=-1, keepdims=True)


def inverse_kinematics(
    skeleton: Skeleton, joints: np.ndarray, smooth_forward: bool = False, first_root_identity: bool = True
) -> np.ndarray:
    """Local rotations that rebuild `joints` with `forward_kinematics`, as the dataset's IK does.

    joints (t j 3) -> local_quats (t j 4). The root rotation turns the (optionally smoothed)
    facing direction onto +Z; with `first_root_identity` (the dataset's choice) frame 0's root
    rotation is identity instead, and its chain rotations absorb the facing. Each bone's
    rotation is the shortest arc from its raw rest direction onto the posed bone direction.
    Then forward_kinematics(skeleton, result, joints[:, 0], bone_offsets(skeleton, joints[0]))
    reproduces `joints` whenever the bone lengths do not change over time.
    """
    joints = np.asarray(joints, dtype=np.float64)
    num_frames = joints.shape[0]
    root_quat = quat_heading_between(facing_directions(skeleton, joints, smooth_forward), _FORWARD)  # (t 4)
    if first_root_identity:
        root_quat[0] = IDENTITY
    local_quats = np.zeros(joints.shape[:-1] + (4,))  # (t j 4)
    local_quats[:, 0] = root_quat
    raw = skeleton.raw_offsets_np
    for chain in skeleton.chains:
        rotation = root_quat
        for parent, child in zip(chain[:-1], chain[1:]):
            bone = joints[:, child] - joints[:, parent]  # (t 3)
            bone_rotation = quat_between(np.broadcast_to(raw[child], (num_frames, 3)), bone)  # global, (t 4)
            local = quat_multiply(quat_inverse(rotation), bone_rotation)
            local_quats[:, child] = local
            rotation = quat_multiply(rotation, local)
    return local_quats


def global_rotations(skeleton: Skeleton, local_quats: np.ndarray) -> np.ndarray:
    """Each bone's global rotation (turning its raw rest direction onto the posed bone): (... j 4) -> (... j 4).

    Index 0 holds the root rotation.
    """
    local_quats = np.asarray(local_quats, dtype=np.float64)
    result = np.empty_like(local_quats)
    result[..., 0, :] = local_quats[..., 0, :]
    for chain in skeleton.chains:
        rotation = local_quats[..., 0, :]
        for child in chain[1:]:
            rotation = quat_multiply(rotation, local_quats[..., child, :])
            result[..., child, :] = rotation
    return result


def parent_relative_rotations(skeleton: Skeleton, local_quats: np.ndarray) -> np.ndarray:
    """Convert dataset-convention rotations to rotations relative to each joint's parent frame.

    (... j 4) -> (... j 4). In the result, a bone's global rotation is its parent joint's
    global rotation times its own entry, for every joint (the root's parent frame is the
    world), which is what BVH and URDF chains expect. Only the first joints of chains that
    start away from the root change.
    """
    glob = global_rotations(skeleton, local_quats)
    result = np.asarray(local_quats, dtype=np.float64).copy()
    for chain in skeleton.chains:
        start, first = chain[0], chain[1]
        if start != 0:
            result[..., first, :] = quat_multiply(quat_inverse(glob[..., start, :]), glob[..., first, :])
    return result
