"""The HumanML3D (263-d) and KIT-ML (251-d) motion features: encode joints, decode features.

Per frame, for J joints (HumanML3D J = 22 at 20 fps in metres, KIT-ML J = 21 at 12.5 fps in mm):
    [0]                 root yaw velocity: arcsin of the y component of the root rotation's
                        frame-to-frame change, i.e. HALF the yaw change in radians
    [1:3]               root xz velocity, in the root frame of the next frame
    [3]                 root height
    ric (J-1)*3         joint positions relative to the root's ground projection, in the root frame
    rot (J-1)*6         local joint rotations, continuous 6D (see kinematics for the convention)
    vel J*3             joint velocities (frame t+1 - t), in the root frame of frame t
    contacts 4          left ankle, left toe, right ankle, right toe: squared displacement
                        per frame below the dataset's threshold
Encoding T frames gives T-1 feature frames. Decoding follows the reference `recover_from_ric`:
it uses only the root channels and ric; rot, vel and contacts are redundant.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from a2m_core.errors import InputError
from a2m_core.motion.kinematics import bone_offsets, inverse_kinematics, rest_offsets
from a2m_core.motion.rotations import quat_heading_between, quat_inverse, quat_multiply, quat_rotate, quat_to_cont6d
from a2m_core.motion.skeleton import HUMANML3D, KIT, SKELETONS, Skeleton

_UP = np.array([0.0, 1.0, 0.0])
_FORWARD = np.array([0.0, 0.0, 1.0])

# Squared per-frame foot displacement below which a foot joint counts as in contact: the
# datasets' `feet_thre` (HumanML3D 0.002 m^2; KIT-ML 0.05 in its millimetre units).
FOOT_CONTACT_THRESHOLDS = {HUMANML3D.name: 0.002, KIT.name: 0.05}


@dataclass(frozen=True)
class FeatureLayout:
    """Where each part lives in a feature vector of a skeleton with `num_joints` joints."""

    num_joints: int

    @property
    def root_yaw_velocity(self) -> slice:
        return slice(0, 1)

    @property
    def root_xz_velocity(self) -> slice:
        return slice(1, 3)

    @property
    def root_height(self) -> slice:
        return slice(3, 4)

    @property
    def ric(self) -> slice:
        return slice(4, 4 + (self.num_joints - 1) * 3)

    @property
    def rot6d(self) -> slice:
        start = self.ric.stop
        return slice(start, start + (self.num_joints - 1) * 6)

    @property
    def local_velocity(self) -> slice:
        start = self.rot6d.stop
        return slice(start, start + self.num_joints * 3)

    @property
    def foot_contacts(self) -> slice:
        start = self.local_velocity.stop
        return slice(start, start + 4)

    @property
    def dim(self) -> int:
        return self.foot_contacts.stop


def _check_finite(array: np.ndarray, what: str) -> None:
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise InputError(f"{what}: {bad} NaN or infinite values; expected finite numbers")


class FeatureCodec:
    """Encode joint positions to a dataset's features and decode them back, as the dataset's code does.

    `reference_offsets` (j 3) is the skeleton every clip is rescaled to before encoding
    (the dataset's "uniform skeleton" step); default `rest_offsets(skeleton)`.

    `fix_yaw_wrap`: the dataset takes arcsin of the y component of the frame-to-frame root
    rotation without fixing the quaternion's sign. Root rotations come from a shortest arc
    (w >= 0), so when the facing passes straight backwards (yaw +-180 degrees from +Z) the
    step quaternion has w < 0 and the stored half-angle gets the wrong sign: decoding then
    turns the rest of the clip by twice that step. False (default) reproduces the dataset's
    features exactly; True flips the step to w >= 0 first, so such clips round-trip.
    """

    def __init__(self, skeleton: Skeleton, reference_offsets: np.ndarray | None = None, fix_yaw_wrap: bool = False):
        self.skeleton = skeleton
        self.layout = FeatureLayout(skeleton.num_joints)
        offsets = rest_offsets(skeleton) if reference_offsets is None else np.asarray(reference_offsets, np.float64)
        if offsets.shape != (skeleton.num_joints, 3):
            raise ValueError(f"reference_offsets {offsets.shape}, expected ({skeleton.num_joints}, 3)")
        self.reference_offsets = offsets
        self.foot_contact_threshold = FOOT_CONTACT_THRESHOLDS[skeleton.name]
        self.fix_yaw_wrap = fix_yaw_wrap

    @property
    def feature_dim(self) -> int:
        return self.layout.dim

    def __repr__(self) -> str:
        return f"FeatureCodec({self.skeleton.name}, {self.feature_dim}-d)"

    # ---------------------------------------------------------------- decode

    def decode(self, features: np.ndarray) -> np.ndarray:
        """Joint positions from features, the reference `recover_from_ric`: (... t d) -> (... t j 3) float32."""
        features = self._check_features(features)
        root_quat, root_pos = self._root_trajectory(features)  # (... t 4), (... t 3)
        ric = features[..., self.layout.ric].reshape(features.shape[:-1] + (-1, 3))  # (... t j-1 3)
        joints = quat_rotate(quat_inverse(root_quat)[..., None, :], ric)
        joints[..., 0] += root_pos[..., None, 0]
        joints[..., 2] += root_pos[..., None, 2]
        return np.concatenate([root_pos[..., None, :], joints], axis=-2).astype(np.float32)

    def _root_trajectory(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Root yaw quaternions and positions per frame, the reference `recover_root_rot_pos`.

        features (... t d) -> root_quat (... t 4), root_pos (... t 3). The stored yaw velocity
        is a half angle, so the quaternion uses it directly: (cos a, 0, sin a, 0).
        """
        half_yaw = np.zeros(features.shape[:-1])  # (... t)
        half_yaw[..., 1:] = np.cumsum(features[..., :-1, 0], axis=-1)
        root_quat = np.zeros(features.shape[:-1] + (4,))
        root_quat[..., 0], root_quat[..., 2] = np.cos(half_yaw), np.sin(half_yaw)
        step = np.zeros(features.shape[:-1] + (3,))  # (... t 3) displacement arriving at frame t
        step[..., 1:, 0] = features[..., :-1, 1]
        step[..., 1:, 2] = features[..., :-1, 2]
        root_pos = np.cumsum(quat_rotate(quat_inverse(root_quat), step), axis=-2)
        root_pos[..., 1] = features[..., 3]
        return root_quat, root_pos

    def _check_features(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features)
        if features.ndim < 2 or features.shape[-1] != self.feature_dim:
            raise InputError(
                f"features of shape {features.shape}; expected (frames, {self.feature_dim}) "
                f"{self.skeleton.name} features"
            )
        if features.shape[-2] == 0:
            raise InputError(f"features of shape {features.shape} hold no frames; expected at least 1")
        _check_finite(features, "features")
        return features.astype(np.float64)

    # ---------------------------------------------------------------- encode

    def encode(self, joints: np.ndarray, uniform_skeleton: bool = True) -> np.ndarray:
        """Features of a motion, the dataset's `process_file`: joints (t j 3) -> features (t-1 d) float32.

        Steps: rescale to the reference skeleton (if `uniform_skeleton`), put the lowest joint
        on the floor, move frame 0's root to the XZ origin, turn frame 0 to face +Z
        (`canonical_joints` returns the motion at this point), then compute the features.
        The 6D rotations come from IK with the smoothed facing (Gaussian, sigma 20 frames) and
        frame 0's root rotation set to identity, exactly as the dataset does.
        """
        positions = self.canonical_joints(joints, uniform_skeleton)  # (t j 3)
        layout = self.layout
        num_frames = positions.shape[0]

        local_quats = inverse_kinematics(self.skeleton, positions, smooth_forward=True)  # (t j 4)
        root_quat = local_quats[:, 0]  # (t 4): world -> root frame
        yaw_step = quat_multiply(root_quat[1:], quat_inverse(root_quat[:-1]))  # (t-1 4)
        if self.fix_yaw_wrap:
            yaw_step *= np.where(yaw_step[:, :1] < 0, -1.0, 1.0)
        root_velocity = quat_rotate(root_quat[1:], positions[1:, 0] - positions[:-1, 0])  # (t-1 3)

        ground = positions.copy()
        ground[..., 0] -= positions[:, :1, 0]
        ground[..., 2] -= positions[:, :1, 2]
        ric = quat_rotate(root_quat[:, None], ground)  # (t j 3)
        local_velocity = quat_rotate(root_quat[:-1, None], positions[1:] - positions[:-1])  # (t-1 j 3)

        features = np.zeros((num_frames - 1, layout.dim))
        features[:, layout.root_yaw_velocity] = np.arcsin(np.clip(yaw_step[:, 2:3], -1.0, 1.0))
        features[:, layout.root_xz_velocity] = root_velocity[:, [0, 2]]
        features[:, layout.root_height] = positions[:-1, 0, 1:2]
        features[:, layout.ric] = ric[:-1, 1:].reshape(num_frames - 1, -1)
        features[:, layout.rot6d] = quat_to_cont6d(local_quats[:-1, 1:]).reshape(num_frames - 1, -1)
        features[:, layout.local_velocity] = local_velocity.reshape(num_frames - 1, -1)
        features[:, layout.foot_contacts] = self.foot_contacts(positions)
        return features.astype(np.float32)

    def canonical_joints(self, joints: np.ndarray, uniform_skeleton: bool = True) -> np.ndarray:
        """The motion as the dataset normalises it before computing features: (t j 3) -> (t j 3) float64.

        Rescaled to the reference skeleton (optional), lowest joint on the floor (y = 0), frame 0's
        root at the XZ origin, frame 0 facing +Z. `decode(encode(joints))` reproduces these
        positions for all but the last frame.
        """
        positions = self._check_joints(joints)
        if uniform_skeleton:
            positions = self.retarget(positions)
        positions = positions.copy()
        positions[..., 1] -= positions[..., 1].min()
        positions -= positions[0, 0] * np.array([1.0, 0.0, 1.0])
        # the facing of this step sums hip and shoulder "across" vectors (unlike the IK's)
        r_hip, l_hip, r_shoulder, l_shoulder = self.skeleton.face_joints
        first = positions[0]
        across = (first[r_hip] - first[l_hip]) + (first[r_shoulder] - first[l_shoulder])
        forward = np.cross(_UP, across / np.linalg.norm(across))
        if np.linalg.norm(forward) < 1e-9:
            raise InputError("joints: frame 0's hips and shoulders are lined up vertically; cannot tell which way it faces")
        turn = quat_heading_between(forward, _FORWARD)  # (4)
        return quat_rotate(turn, positions)

    def retarget(self, joints: np.ndarray) -> np.ndarray:
        """The dataset's uniform-skeleton step: same bone directions, reference bone lengths.

        joints (t j 3) -> (t j 3). The root trajectory is scaled by the ratio of leg lengths
        (knee + shin bones of `skeleton.leg_joints`), reference over frame 0 of the input.
        Equal to the reference's IK followed by FK with the reference offsets, without IK's
        numerical round trip.
        """
        joints = np.asarray(joints, dtype=np.float64)
        source = bone_offsets(self.skeleton, joints[0])
        leg = list(self.skeleton.leg_joints)
        scale = np.abs(self.reference_offsets[leg]).max(-1).sum() / np.abs(source[leg]).max(-1).sum()
        lengths = np.linalg.norm(self.reference_offsets, axis=-1)  # (j)
        result = np.empty_like(joints)
        result[:, 0] = joints[:, 0] * scale
        for child, parent in enumerate(self.skeleton.parents):
            if parent < 0:
                continue
            bone = joints[:, child] - joints[:, parent]  # (t 3)
            result[:, child] = result[:, parent] + bone / np.linalg.norm(bone, axis=-1, keepdims=True) * lengths[child]
        return result

    def foot_contacts(self, positions: np.ndarray) -> np.ndarray:
        """(t j 3) -> (t-1 4) float: left ankle, left toe, right ankle, right toe in contact."""
        feet = list(self.skeleton.foot_left) + list(self.skeleton.foot_right)
        step = positions[1:, feet] - positions[:-1, feet]  # (t-1 4 3)
        return ((step**2).sum(-1) < self.foot_contact_threshold).astype(np.float64)

    def _check_joints(self, joints: np.ndarray) -> np.ndarray:
        joints = np.asarray(joints)
        expected = f"(frames, {self.skeleton.num_joints}, 3) {self.skeleton.name} joint positions"
        if joints.ndim != 3 or joints.shape[1:] != (self.skeleton.num_joints, 3):
            raise InputError(f"joints of shape {joints.shape}; expected {expected}")
        if joints.shape[0] < 2:
            raise InputError(f"joints with {joints.shape[0]} frames; encoding needs at least 2 frames of {expected}")
        _check_finite(joints, "joints")
        joints = joints.astype(np.float64)
        parents = list(self.skeleton.parents[1:])
        shortest = np.linalg.norm(joints[:, 1:] - joints[:, parents], axis=-1).min()
        if shortest <= 1e-9 * max(np.abs(joints).max(), 1.0):
            raise InputError(f"joints: some bone has zero length (a joint sits on its parent); expected {expected}")
        return joints


def codec_for(dataset: str) -> FeatureCodec:
    """The codec of a dataset by name: 'humanml3d' or 'kit'."""
    if dataset not in SKELETONS:
        raise InputError(f"unknown dataset {dataset!r}; expected one of {', '.join(SKELETONS)}")
    return FeatureCodec(SKELETONS[dataset])


def codec_for_features(features: np.ndarray) -> FeatureCodec:
    """The codec whose feature size is the array's last dimension (263 HumanML3D, 251 KIT-ML)."""
    shape = np.shape(features)
    for skeleton in SKELETONS.values():
        codec = FeatureCodec(skeleton)
        if len(shape) >= 1 and shape[-1] == codec.feature_dim:
            return codec
    dims = " or ".join(f"{FeatureCodec(s).feature_dim} ({s.name})" for s in SKELETONS.values())
    raise InputError(f"array of shape {shape}; expected features whose last dimension is {dims}")


class Normalizer:
    """Feature normalisation with a dataset's Mean.npy / Std.npy: (x - mean) / std and back."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        if mean.ndim != 1 or mean.shape != std.shape:
            raise InputError(f"mean {mean.shape} and std {std.shape}; expected two vectors of the same length (features,)")
        _check_finite(mean, "mean")
        _check_finite(std, "std")
        if (std <= 0).any():
            raise InputError(f"std has {int((std <= 0).sum())} entries <= 0; expected positive standard deviations")
        self.mean, self.std = mean, std

    @classmethod
    def from_files(cls, mean_path: str | Path, std_path: str | Path) -> "Normalizer":
        """Load Mean.npy and Std.npy (plain arrays; never unpickled)."""
        arrays = []
        for path in (Path(mean_path), Path(std_path)):
            try:
                arrays.append(np.load(path, allow_pickle=False))
            except (OSError, ValueError) as exc:
                raise InputError(f"{path}: cannot read a .npy array ({exc}); expected the dataset's Mean.npy / Std.npy") from None
        try:
            return cls(*arrays)
        except InputError as exc:
            raise InputError(f"{mean_path}, {std_path}: {exc}") from None

    @property
    def dim(self) -> int:
        return len(self.mean)

    def _check(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features)
        if features.ndim < 1 or features.shape[-1] != self.dim:
            raise InputError(f"features of shape {features.shape}; expected last dimension {self.dim} to match Mean/Std")
        _check_finite(features, "features")
        return features

    def normalize(self, features: np.ndarray) -> np.ndarray:
        """(... d) -> (... d) float32."""
        return ((self._check(features) - self.mean) / self.std).astype(np.float32)

    def denormalize(self, features: np.ndarray) -> np.ndarray:
        """(... d) -> (... d) float32."""
        return (self._check(features) * self.std + self.mean).astype(np.float32)
