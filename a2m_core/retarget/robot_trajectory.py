"""`RobotTrajectory`: the retargeter's output, and its .npz file.

Root pose and keypoints are in the ROS frame (x forward, y left, z up; metres) with the floor at
z = 0 and the human's initial facing along +x; quaternions are (w, x, y, z) like all of a2m_core.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from a2m_core.errors import InputError
from a2m_core.files import atomic_path


@dataclass(frozen=True)
class RobotTrajectory:
    """Robot joint angles and root pose per frame, with what the solver could not reach."""

    joint_names: tuple[str, ...]
    joint_positions_rad: np.ndarray  # (t n) within the URDF position limits
    root_positions_m: np.ndarray  # (t 3)
    root_quaternions_wxyz: np.ndarray  # (t 4)
    times_s: np.ndarray  # (t) monotonic; steps stretched where a joint would exceed its velocity limit
    keypoint_names: tuple[str, ...]
    keypoint_targets_m: np.ndarray  # (t k 3) the scaled human keypoints the solver aimed for (planted feet pinned)
    keypoint_errors_m: np.ndarray  # (t k) distance from each keypoint to its target
    best_effort: np.ndarray  # (t) bool: some keypoint missed its target by more than the configured tolerance
    planted: np.ndarray  # (t 2) bool: left, right foot planted
    scale: float  # robot leg length / human leg length

    def __post_init__(self) -> None:
        t, n = self.joint_positions_rad.shape
        if len(self.joint_names) != n:
            raise ValueError(f"{len(self.joint_names)} joint names for {n} joint columns")
        k = len(self.keypoint_names)
        expected = {"root_positions_m": (t, 3), "root_quaternions_wxyz": (t, 4), "times_s": (t,),
                    "keypoint_targets_m": (t, k, 3), "keypoint_errors_m": (t, k), "best_effort": (t,), "planted": (t, 2)}
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} must be {shape}, got {getattr(self, name).shape}")

    @property
    def num_frames(self) -> int:
        return int(self.joint_positions_rad.shape[0])

    def save(self, path: str | Path) -> Path:
        """Write an .npz (no pickles: names are stored as unicode arrays)."""
        path = Path(path)
        arrays = {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "RobotTrajectory":
        """Read a file written by `save`, or an InputError naming what is wrong."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as npz:
                values = {f.name: npz[f.name] for f in fields(cls)}
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{path}: not a robot trajectory written by `a2m retarget` ({exc})") from None
        values["joint_names"] = tuple(str(n) for n in values["joint_names"])
        values["keypoint_names"] = tuple(str(n) for n in values["keypoint_names"])
        values["scale"] = float(values["scale"])
        return cls(**values)
