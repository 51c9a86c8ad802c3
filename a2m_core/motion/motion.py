"""`Motion`: the one value every part of a2m passes around once motion exists."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from a2m_core.motion.skeleton import Skeleton


@dataclass(frozen=True)
class Motion:
    """Joint positions of one clip in the dataset frame (Y up, metres), with its skeleton.

    `features` holds the raw (not normalised) dataset features when the motion came from them.
    """

    joints: np.ndarray  # (t j 3) float32
    skeleton: Skeleton
    features: np.ndarray | None = None  # (t d) float32

    def __post_init__(self) -> None:
        j = self.skeleton.num_joints
        if self.joints.ndim != 3 or self.joints.shape[1:] != (j, 3):
            raise ValueError(f"joints must be (frames, {j}, 3) for {self.skeleton.name}, got {self.joints.shape}")

    @property
    def fps(self) -> float:
        return self.skeleton.fps

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps
