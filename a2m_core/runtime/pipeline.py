"""Utterance in, robot-ready motion out: everything the motion node does that is not ROS.

audio (n) float32 16 kHz -> backend -> raw features (t d) -> joints (t j 3, dataset frame)
-> joint values per avatar joint (t k, REP 103: metres, radians) + joints in the ROS frame.
The backend is any `a2m_core.runtime.backend.Backend`, so the node does not care which model,
backend or device produced the features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from a2m_core.motion.avatar import avatar_joint_angle_array, avatar_joint_names
from a2m_core.motion.features import FeatureCodec
from a2m_core.motion.frames import metres_per_unit, positions_to_ros
from a2m_core.motion.kinematics import rest_offsets
from a2m_core.motion.motion import Motion
from a2m_core.motion.skeleton import Skeleton
from a2m_core.runtime.backend import Backend


@dataclass(frozen=True)
class MotionClip:
    """A generated motion in the shapes a robot takes."""

    joint_names: tuple[str, ...]
    positions: np.ndarray  # (t k) joint values: metres for prismatic, radians for revolute joints
    joints: np.ndarray  # (t j 3) joint positions in the ROS frame, metres
    fps: float
    motion: Motion  # the same clip as dataset-frame joints (for rendering, BVH, metrics)

    @property
    def skeleton(self) -> Skeleton:
        return self.motion.skeleton

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps


class MotionPipeline:
    """audio -> MotionClip with one backend, posed on the avatar URDF's joints (a2m_core.motion.avatar)."""

    def __init__(self, backend: Backend, joint_prefix: str = ""):
        self.backend = backend
        self.codec = FeatureCodec(backend.skeleton)
        self.joint_names = avatar_joint_names(backend.skeleton, joint_prefix)

    def __call__(self, audio: np.ndarray, motion_s: float | None = None, seed: int = 0) -> MotionClip:
        features = self.backend(audio, motion_s=motion_s, seed=seed)  # (t d)
        return self.clip_from_features(features)

    def clip_from_features(self, features: np.ndarray) -> MotionClip:
        """Raw features (t d) -> MotionClip."""
        return self.clip_from_joints(self.codec.decode(features), features)

    def clip_from_joints(self, joints: np.ndarray, features: np.ndarray | None = None) -> MotionClip:
        """Joint positions (t j 3), dataset frame and units -> MotionClip."""
        skeleton = self.backend.skeleton
        values = avatar_joint_angle_array(joints, skeleton)  # (t k), columns in joint_names order
        joints_ros = positions_to_ros(joints) * metres_per_unit(skeleton)  # (t j 3) metres
        motion = Motion(np.asarray(joints, np.float32), skeleton, None if features is None else np.asarray(features, np.float32))
        return MotionClip(self.joint_names, values.astype(np.float32), joints_ros.astype(np.float32), skeleton.fps, motion)

    def rest_clip(self) -> MotionClip:
        """One frame of the skeleton's rest pose standing on the ground: what the avatar shows before any motion."""
        skeleton = self.backend.skeleton
        offsets = rest_offsets(skeleton)  # (j 3) from each joint's parent, dataset frame
        joints = np.zeros_like(offsets)
        for joint, parent in enumerate(skeleton.parents):
            if parent >= 0:
                joints[joint] = joints[parent] + offsets[joint]
        joints[:, 1] -= joints[:, 1].min()  # lowest joint on the ground (dataset Y is up)
        return self.clip_from_joints(joints[None])
