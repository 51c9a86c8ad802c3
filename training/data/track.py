"""Procedural motion as control tracks, and their rendering to SMPL-22 joints.

A `Track` is what an action generator writes: the pelvis position and heading, joint
rotations (Euler x, y, z in the body's neutral frame: x left, y up, z forward), and the
feet as toe positions with a heading and a heel lift. `render` turns it into joints:
upper-body rotations are composed down the tree, each leg is solved by two-bone inverse
kinematics onto its foot, and the resulting bone rotations go through
`a2m_core.motion.kinematics.forward_kinematics` with the dataset's rest offsets, so every
bone keeps its HumanML3D length and a planted toe does not move at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial.transform import Rotation

from a2m_core.motion.kinematics import forward_kinematics, rest_offsets
from a2m_core.motion.rotations import quat_between, quat_from_yaw, quat_inverse, quat_multiply, quat_rotate
from a2m_core.motion.skeleton import HUMANML3D

FPS = 20.0
SKELETON = HUMANML3D
OFFSETS = rest_offsets(SKELETON)  # (j 3) metres
BONE_LENGTHS = np.linalg.norm(OFFSETS, axis=-1)  # (j)
LEFT, RIGHT = 0, 1
HIP = (1, 2)
KNEE = (4, 5)
ANKLE = (7, 8)
TOE = (10, 11)

# Bone directions of the neutral standing pose (x left, y up, z forward), index = child joint.
# Legs are placed by IK, so their rows only matter for the hips.
_NEUTRAL_DIRECTIONS = np.array([
    (0, 0, 0), (0.6, -0.8, 0), (-0.6, -0.8, 0), (0, 0.96, -0.28), (0, -1, 0), (0, -1, 0), (0, 0.98, 0.2),
    (0, -1, 0), (0, -1, 0), (0, 1, 0.04), (0, 0, 1), (0, 0, 1), (0, 0.99, -0.1), (0.45, 0.89, 0),
    (-0.45, 0.89, 0), (0, 0.87, 0.49), (0.97, 0.2, 0), (-0.97, 0.2, 0), (0.15, -0.99, 0), (-0.15, -0.99, 0),
    (0.05, -0.99, 0.12), (-0.05, -0.99, 0.12),
], dtype=np.float64)
_NEUTRAL_DIRECTIONS /= np.maximum(np.linalg.norm(_NEUTRAL_DIRECTIONS, axis=-1, keepdims=True), 1e-12)
_NEUTRAL_BONES = np.zeros((SKELETON.num_joints, 4))  # (j 4) raw rest direction -> neutral direction
_NEUTRAL_BONES[0, 0] = 1.0
_NEUTRAL_BONES[1:] = quat_between(SKELETON.raw_offsets_np[1:], _NEUTRAL_DIRECTIONS[1:])

ANKLE_HEIGHT_M = 0.045  # ankle joint above the floor when the foot is flat (HumanML3D: about 0.047)
FOOT_LENGTHS = BONE_LENGTHS[list(TOE)]  # (2) ankle -> toe joint
FLAT_PITCH = np.arcsin(ANKLE_HEIGHT_M / FOOT_LENGTHS)  # (2) downward pitch of a flat foot
FOOT_HALF_WIDTH_M = 0.1
_HIP_DROP = -BONE_LENGTHS[1] * _NEUTRAL_DIRECTIONS[1, 1]  # pelvis above the hips
_LEG = BONE_LENGTHS[[4, 5]] + BONE_LENGTHS[[7, 8]]  # (2) thigh + shin
STAND_PELVIS_Y = float(ANKLE_HEIGHT_M + _HIP_DROP + 0.985 * min(_LEG))  # knees just short of locked
SIT_PELVIS = np.array([0.0, 0.55, -0.36])  # on a chair: thighs level, shins upright


FIELDS = ("root", "yaw", "rot", "toes", "foot_yaw", "heel")  # the per-frame arrays of a Track


@dataclass(frozen=True)
class Track:
    """Controls of a motion, n frames at 20 fps.

    root (n 3) pelvis position; yaw (n) heading about +Y (0 faces +Z, positive turns left);
    rot (n j 3) Euler angles (rad, applied x then y then z) at each joint, in the parent's
    neutral frame, joint 0 tilting the pelvis; toes (n 2 3) left/right toe joint positions;
    foot_yaw (n 2) heading of each foot; heel (n 2) extra pitch of each foot about its toe (rad,
    positive lifts the heel).
    """

    root: np.ndarray
    yaw: np.ndarray
    rot: np.ndarray
    toes: np.ndarray
    foot_yaw: np.ndarray
    heel: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.yaw)
        shapes = {"root": (n, 3), "rot": (n, SKELETON.num_joints, 3), "toes": (n, 2, 3), "foot_yaw": (n, 2),
                  "heel": (n, 2)}
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"Track.{name} has shape {getattr(self, name).shape}, expected {shape}")

    @property
    def num_frames(self) -> int:
        return len(self.yaw)

    @property
    def duration_s(self) -> float:
        return self.num_frames / FPS


def neutral_toes(root_xz: np.ndarray, yaw: np.ndarray, half_width: float = FOOT_HALF_WIDTH_M,
                 forward_m: float = 0.0) -> np.ndarray:
    """Toe positions of feet planted beside a pelvis at root_xz facing yaw: (n 2), (n) -> (n 2 3)."""
    root_xz, yaw = np.atleast_2d(root_xz), np.atleast_1d(yaw)
    left = np.stack([np.cos(yaw), -np.sin(yaw)], -1)  # (n 2): the body's +x in world xz
    ahead = np.stack([np.sin(yaw), np.cos(yaw)], -1)
    reach = FOOT_LENGTHS * np.cos(FLAT_PITCH)  # toe ahead of the ankle
    toes = np.zeros((len(yaw), 2, 3))
    for side, sign in ((LEFT, 1.0), (RIGHT, -1.0)):
        xz = root_xz + sign * half_width * left + (reach[side] + forward_m) * ahead
        toes[:, side, 0], toes[:, side, 2] = xz[:, 0], xz[:, 1]
    return toes


def still(num_frames: int, pose: str = "stand") -> Track:
    """A motionless track in the neutral standing or sitting pose at the origin, facing +Z."""
    n = num_frames
    root = np.tile(SIT_PELVIS if pose == "sit" else (0.0, STAND_PELVIS_Y, 0.0), (n, 1))
    yaw = np.zeros(n)
    return Track(root=root, yaw=yaw, rot=np.zeros((n, SKELETON.num_joints, 3)),
                 toes=neutral_toes(np.zeros((n, 2)), yaw), foot_yaw=np.zeros((n, 2)), heel=np.zeros((n, 2)))


def transformed(track: Track, xz: np.ndarray, yaw: float) -> Track:
    """The track turned by `yaw` about +Y and moved by `xz` (world placement of a local track)."""
    q = quat_from_yaw(np.float64(yaw))
    shift = np.array([xz[0], 0.0, xz[1]])
    return replace(track, root=quat_rotate(q, track.root) + shift, yaw=track.yaw + yaw,
                   toes=quat_rotate(q, track.toes) + shift, foot_yaw=track.foot_yaw + yaw)


def concat(tracks: list[Track]) -> Track:
    """Play tracks one after another, each starting where (and facing where) the previous one ended.

    Each track is expressed in its own frame (starting at the origin facing +Z); its first
    frame is dropped after the first track since it repeats the previous last frame's pose.
    """
    placed = [tracks[0]]
    for track in tracks[1:]:
        end = placed[-1]
        start_xz = track.root[0, [0, 2]]
        moved = transformed(track, np.zeros(2), end.yaw[-1] - track.yaw[0])
        shift = end.root[-1, [0, 2]] - quat_rotate(quat_from_yaw(np.float64(end.yaw[-1] - track.yaw[0])),
                                                   np.array([start_xz[0], 0.0, start_xz[1]]))[[0, 2]]
        moved = transformed(moved, shift, 0.0)
        placed.append(Track(*(getattr(moved, f)[1:] for f in FIELDS)))
    return Track(*(np.concatenate([getattr(t, f) for t in placed]) for f in FIELDS))


def retimed(track: Track, factor: float) -> Track:
    """The track played `factor` times as long (linear interpolation; still parts stay exactly still)."""
    n = track.num_frames
    new_n = max(2, int(round((n - 1) * factor)) + 1)
    t = np.linspace(0.0, n - 1, new_n)
    lo = np.minimum(np.floor(t).astype(int), n - 2)
    w = t - lo

    def resample(x: np.ndarray) -> np.ndarray:
        shape = (new_n,) + (1,) * (x.ndim - 1)
        return x[lo] * (1 - w).reshape(shape) + x[lo + 1] * w.reshape(shape)

    return Track(*(resample(getattr(track, f)) for f in FIELDS))


def _euler_quats(angles: np.ndarray) -> np.ndarray:
    """Rotations applying x, then y, then z (extrinsic): (... 3) -> (... 4)."""
    flat = Rotation.from_euler("xyz", angles.reshape(-1, 3)).as_quat(scalar_first=True)  # lower case: extrinsic
    return flat.reshape(angles.shape[:-1] + (4,))


def _two_bone_knee(hip: np.ndarray, ankle: np.ndarray, thigh: float, shin: float, pole: np.ndarray) -> np.ndarray:
    """Knee position with the given bone lengths, bending towards `pole`: (n 3) x3 -> (n 3).

    Ankles out of reach are pulled in along the hip-ankle line (the leg straightens).
    """
    span = ankle - hip
    dist = np.linalg.norm(span, axis=-1, keepdims=True)
    axis = span / dist
    dist = np.clip(dist, abs(thigh - shin) + 1e-3, thigh + shin - 1e-4)
    along = (thigh**2 - shin**2 + dist**2) / (2 * dist)  # (n 1)
    height = np.sqrt(np.maximum(thigh**2 - along**2, 0.0))
    bend = pole - np.sum(pole * axis, -1, keepdims=True) * axis
    bend /= np.linalg.norm(bend, axis=-1, keepdims=True)
    return hip + along * axis + height * bend


def render(track: Track) -> np.ndarray:
    """Joint positions of a track: (n j 3) float64, Y up, metres, feet on the y = 0 floor."""
    n, num_joints = track.num_frames, SKELETON.num_joints
    parents = SKELETON.parents
    heading = quat_from_yaw(track.yaw)  # (n 4)
    joint_rot = _euler_quats(track.rot)  # (n j 4) rotation at each joint
    joint_rot[:, 0] = quat_multiply(heading, joint_rot[:, 0])
    frame = np.empty((n, num_joints, 4))  # accumulated rotation at each joint
    bones = np.empty((n, num_joints, 4))  # each bone's global rotation (raw rest direction -> posed)
    frame[:, 0] = joint_rot[:, 0]
    bones[:, 0] = joint_rot[:, 0]
    for child in range(1, num_joints):
        bones[:, child] = quat_multiply(frame[:, parents[child]], _NEUTRAL_BONES[child])
        frame[:, child] = quat_multiply(frame[:, parents[child]], joint_rot[:, child])

    forward = np.stack([np.sin(track.yaw), np.zeros(n), np.cos(track.yaw)], -1)  # (n 3)
    for side in (LEFT, RIGHT):
        hip = track.root + quat_rotate(bones[:, HIP[side]], OFFSETS[HIP[side]])
        pitch = FLAT_PITCH[side] + track.heel[:, side]
        yaw = track.foot_yaw[:, side]
        toe_dir = np.stack([np.sin(yaw) * np.cos(pitch), -np.sin(pitch), np.cos(yaw) * np.cos(pitch)], -1)
        ankle = track.toes[:, side] - FOOT_LENGTHS[side] * toe_dir
        knee = _two_bone_knee(hip, ankle, BONE_LENGTHS[KNEE[side]], BONE_LENGTHS[ANKLE[side]], forward)
        down = np.array([0.0, -1.0, 0.0])
        bones[:, KNEE[side]] = quat_between(np.broadcast_to(down, (n, 3)), knee - hip)
        bones[:, ANKLE[side]] = quat_between(np.broadcast_to(down, (n, 3)), ankle - knee)
        bones[:, TOE[side]] = quat_between(np.broadcast_to(np.array([0.0, 0.0, 1.0]), (n, 3)), toe_dir)

    # the dataset's FK convention: along each chain, a rotation relative to the previous bone's
    # (chains start from the root rotation, also those that branch off the spine)
    local = np.empty((n, num_joints, 4))
    local[:, 0] = bones[:, 0]
    for chain in SKELETON.chains:
        previous = bones[:, 0]
        for child in chain[1:]:
            local[:, child] = quat_multiply(quat_inverse(previous), bones[:, child])
            previous = bones[:, child]
    return forward_kinematics(SKELETON, local, track.root, OFFSETS)
