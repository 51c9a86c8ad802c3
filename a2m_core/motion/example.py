"""A built-in example motion: walk forward, stop, wave with the right hand.

Made by forward kinematics of hand-set joint rotations on the HumanML3D reference
skeleton, so the project can show a motion before any model exists (`a2m demo`) and
tests have a plausible clip that is not the dataset's.
"""

from __future__ import annotations

import numpy as np

from a2m_core.motion.kinematics import forward_kinematics, rest_offsets
from a2m_core.motion.motion import Motion
from a2m_core.motion.rotations import quat_from_axis_angle as _quat, quat_multiply
from a2m_core.motion.skeleton import HUMANML3D

_X, _Z = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def example_motion(walk_s: float = 3.0, wave_s: float = 3.0, speed_m_s: float = 1.1) -> Motion:
    """Walk forward (+Z) for `walk_s`, then wave the right hand for `wave_s`."""
    s = HUMANML3D
    fps = s.fps
    t = np.arange(int(round((walk_s + wave_s) * fps))) / fps  # (t)
    walking = 1.0 - _smoothstep((t - walk_s + 0.5) / 0.5)  # 1 while walking, eases to 0
    raising = _smoothstep((t - walk_s) / 0.6)  # 0 -> 1 as the arm goes up
    phase = 2 * np.pi * 0.9 * t  # steps at 1.8 per second

    quats = np.tile(np.array([1.0, 0.0, 0.0, 0.0]), (len(t), s.num_joints, 1))  # (t j 4)
    j = s.index
    # a rotation stored at a child joint turns the bone from its parent (the dataset's convention)
    swing = np.deg2rad(25) * np.sin(phase) * walking
    quats[:, j("left_knee")] = _quat(_X, swing)  # left hip flexion
    quats[:, j("right_knee")] = _quat(_X, -swing)
    knee = np.deg2rad(30) * np.clip(np.sin(phase + np.pi / 2), 0, None) * walking
    quats[:, j("left_ankle")] = _quat(_X, knee)
    knee_r = np.deg2rad(30) * np.clip(np.sin(phase - np.pi / 2), 0, None) * walking
    quats[:, j("right_ankle")] = _quat(_X, knee_r)
    quats[:, j("left_elbow")] = _quat(_X, -swing * 0.8)  # arms swing against the legs
    arm_r = quat_multiply(_quat(_X, swing * 0.8 * (1 - raising)), _quat(_Z, -np.deg2rad(95) * raising))
    quats[:, j("right_elbow")] = arm_r  # right shoulder: swing, then raise
    wave = -np.deg2rad(85) * raising + np.deg2rad(25) * np.sin(2 * np.pi * 1.5 * t) * raising
    quats[:, j("right_wrist")] = _quat(_Z, wave)  # right elbow: forearm up and waving

    offsets = rest_offsets(s)  # (j 3)
    leg = offsets[[j("left_knee"), j("left_ankle"), j("left_foot")], 1]
    pelvis_height = -leg.sum() + 0.05 - 0.03 * np.abs(np.sin(phase)) * walking
    forward = np.cumsum(speed_m_s * walking / fps)
    root = np.stack([np.zeros_like(t), pelvis_height, forward], axis=-1)  # (t 3)
    joints = forward_kinematics(s, quats, root, offsets)
    joints[..., 1] -= joints[..., 1].min()  # feet on the floor
    return Motion(joints=joints.astype(np.float32), skeleton=s)
