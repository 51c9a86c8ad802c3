"""Feet: when each human foot is planted, pinning the robot's planted feet, and the floor.

A foot is planted in a frame when all its watched human joints are near the floor and nearly
still. While planted, the robot's foot keypoints get one fixed horizontal target for the whole
contact (their mean), the height they have standing on the floor, and a larger weight, so the
solved foot does not slide. After solving, a frame whose lowest sole point is under the floor
has its root raised by that much: joint angles are untouched, so no limit can be violated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ContactConfig:
    """Thresholds for planted feet, in human metres before scaling."""

    max_height_m: float = 0.08  # every watched joint of the foot below this height ...
    max_speed_m_s: float = 0.4  # ... and slower than this (3D), averaged over the frame step on both sides
    weight_gain: float = 5.0  # planted foot keypoints weigh this many times more in the IK

    def __post_init__(self) -> None:
        if self.max_height_m <= 0 or self.max_speed_m_s <= 0 or self.weight_gain < 1:
            raise ValueError(f"contact thresholds must be > 0 and weight_gain >= 1, got {self}")


def planted(points: np.ndarray, joints: list[int], fps: float, config: ContactConfig) -> np.ndarray:
    """Per-frame planted flag (t) of a foot from human joints (t j 3), ROS frame, floor at z = 0."""
    feet = points[:, joints]  # (t f 3)
    if feet.shape[0] < 2:
        return np.all(feet[..., 2] < config.max_height_m, axis=-1)
    step_speed = np.linalg.norm(np.diff(feet, axis=0), axis=-1) * fps  # (t-1 f)
    speed = np.empty(feet.shape[:2])
    speed[0], speed[-1] = step_speed[0], step_speed[-1]
    speed[1:-1] = 0.5 * (step_speed[1:] + step_speed[:-1])
    return np.all((feet[..., 2] < config.max_height_m) & (speed < config.max_speed_m_s), axis=-1)


def contact_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) frame ranges where `flags` (t) is true."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def pin_planted_targets(
    targets: np.ndarray, weights: np.ndarray, flags: np.ndarray, keypoints: list[int],
    standing_height_m: np.ndarray, weight_gain: float,
) -> None:
    """In place: planted frames of `keypoints` get their contact's mean xy, their standing height and more weight.

    targets (t k 3), weights (t k), flags (t), standing_height_m (len(keypoints)).
    """
    for start, stop in contact_runs(flags):
        for keypoint, height in zip(keypoints, standing_height_m):
            targets[start:stop, keypoint, :2] = targets[start:stop, keypoint, :2].mean(axis=0)
            targets[start:stop, keypoint, 2] = height
            weights[start:stop, keypoint] *= weight_gain


def floor_lift(sole_heights_m: np.ndarray) -> np.ndarray:
    """How far to raise the root per frame so no sole point is under the floor: (t p) -> (t), >= 0."""
    return np.maximum(0.0, -sole_heights_m.min(axis=-1))


def sliding_speed(sole_centres: np.ndarray, flags: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """Horizontal speeds (m/s) of a foot's sole centre (t 3) over steps where it is planted at both ends."""
    both = flags[1:] & flags[:-1]
    steps = np.linalg.norm(np.diff(sole_centres[:, :2], axis=0), axis=-1) / np.diff(times_s)  # (t-1)
    return steps[both]


def rebend_knee(hip: np.ndarray, ankle: np.ndarray, knee_hint: np.ndarray, thigh_m: float, shin_m: float) -> np.ndarray:
    """Knee positions (t 3) that join hip and ankle (t 3) with the given thigh and shin lengths, bent towards the hint.

    Pinning a planted foot moves its ankle target; this puts the knee target back where a leg of
    the robot's lengths can meet both ends (on the circle where the two spheres meet, nearest the
    hint), so the knee does not pull against the pinned foot. Out of reach: the knee on the straight line.
    """
    axis = ankle - hip  # (t 3)
    dist = np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-9)
    unit_axis = axis / dist
    reach = np.clip(dist, abs(thigh_m - shin_m) + 1e-9, thigh_m + shin_m)  # (t 1)
    along = (thigh_m**2 - shin_m**2 + reach**2) / (2 * reach)  # distance from the hip to the circle's centre
    radius = np.sqrt(np.maximum(thigh_m**2 - along**2, 0.0))
    hint = knee_hint - hip
    side = hint - np.sum(hint * unit_axis, axis=-1, keepdims=True) * unit_axis  # the hint's bend direction
    side = side / np.maximum(np.linalg.norm(side, axis=-1, keepdims=True), 1e-9)
    return hip + along * unit_axis + radius * side
