"""Physical-plausibility metrics of joint motions."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from a2m_core.errors import InputError
from a2m_core.motion.skeleton import KIT, Skeleton

# Thresholds of the foot-skating ratio of GMD (Karunratanakul et al. 2023), in metres
SKATE_CONTACT_HEIGHT_M = 0.05  # a toe below this, in two consecutive frames, is on the ground
SKATE_SPEED_M_S = 0.5  # ... and skates when it moves faster than this horizontally
SKATE_WINDOW_FRAMES = 5  # ... both in the frame and averaged over this many frames


def _metres_per_unit(skeleton: Skeleton) -> float:
    return 1e-3 if skeleton.name == KIT.name else 1.0  # KIT-ML joints are in millimetres


def foot_skating(joints: np.ndarray, skeleton: Skeleton) -> float:
    """Fraction of frame steps in which a toe on the ground slides, GMD's foot-skating ratio.

    joints (t j 3), Y up, the floor at y = 0 (as decoded features are), in the dataset's units.
    A step t -> t+1 skates when either toe joint (`foot_left[1]`, `foot_right[1]`) is below
    5 cm in both frames and its horizontal speed exceeds 0.5 m/s both in that step and on
    average over a 5-step window (zero-padded at the ends).
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (skeleton.num_joints, 3) or joints.shape[0] < 2:
        raise InputError(f"joints of shape {joints.shape}; expected (frames >= 2, {skeleton.num_joints}, 3)")
    toes = joints[:, [skeleton.foot_left[1], skeleton.foot_right[1]]] * _metres_per_unit(skeleton)  # (t 2 3)
    speed = np.linalg.norm(toes[1:, :, [0, 2]] - toes[:-1, :, [0, 2]], axis=-1) * skeleton.fps  # (t-1 2)
    mean_speed = uniform_filter1d(speed, size=SKATE_WINDOW_FRAMES, axis=0, mode="constant")
    low = toes[..., 1] < SKATE_CONTACT_HEIGHT_M  # (t 2)
    on_ground = low[1:] & low[:-1]
    skating = on_ground & (speed > SKATE_SPEED_M_S) & (mean_speed > SKATE_SPEED_M_S)
    return float(skating.any(axis=1).mean())
