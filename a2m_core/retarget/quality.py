"""How good a retargeted trajectory is: keypoint errors, limit violations, foot sliding, floor contact."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from a2m_core.retarget.feet import sliding_speed
from a2m_core.retarget.keypoint_map import KeypointMap
from a2m_core.retarget.robot import RobotModel
from a2m_core.retarget.robot_trajectory import RobotTrajectory
from a2m_core.retarget.velocity import step_velocities


@dataclass(frozen=True)
class RetargetQuality:
    """Measured quality of one trajectory; violations are amounts past the limit (0 = none)."""

    mean_keypoint_error_m: dict[str, float]
    position_limit_violation_rad: float
    velocity_limit_violation_rad_s: float
    mean_sliding_m_s: float  # planted sole centres' horizontal speed, both feet
    max_sliding_m_s: float
    min_sole_height_m: float  # < 0: a sole point under the floor
    best_effort_frames: int

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line."""
        errors = ", ".join(f"{k} {v * 100:.1f}" for k, v in self.mean_keypoint_error_m.items())
        overall = np.mean(list(self.mean_keypoint_error_m.values())) * 100
        return [
            f"keypoint error (cm, mean over frames): {overall:.1f} overall; {errors}",
            f"position limit violation: {self.position_limit_violation_rad:.3g} rad; "
            f"velocity limit violation: {self.velocity_limit_violation_rad_s:.3g} rad/s",
            f"planted-foot sliding: mean {self.mean_sliding_m_s * 100:.2f} cm/s, max {self.max_sliding_m_s * 100:.2f} cm/s; "
            f"lowest sole point {self.min_sole_height_m * 1000:.1f} mm above the floor",
            f"best-effort frames (a keypoint beyond tolerance): {self.best_effort_frames}",
        ]


def sole_heights_and_centres(trajectory: RobotTrajectory, robot: RobotModel, soles: list[list[int]]):
    """Sole point heights (t p) over both feet and each foot's sole centre (t 2 3)."""
    heights, centres = [], []
    for t in range(trajectory.num_frames):
        q = robot.configuration(trajectory.root_positions_m[t], trajectory.root_quaternions_wxyz[t],
                                trajectory.joint_positions_rad[t])
        points = [robot.frame_positions(q, ids) for ids in soles]
        heights.append(np.concatenate(points)[:, 2])
        centres.append([p.mean(axis=0) for p in points])
    return np.array(heights), np.array(centres)


def measure(trajectory: RobotTrajectory, robot: RobotModel, keypoint_map: KeypointMap) -> RetargetQuality:
    """Measure `trajectory` against the robot's limits and the floor."""
    from a2m_core.retarget.retarget import sole_frames

    joints = trajectory.joint_positions_rad
    position_violation = max(0.0, float(np.max(robot.lower_rad - joints)), float(np.max(joints - robot.upper_rad)))
    velocity_violation = 0.0
    if trajectory.num_frames > 1:
        speeds = np.abs(step_velocities(joints, trajectory.times_s))
        velocity_violation = max(0.0, float(np.max(speeds - robot.velocity_limit)))
    heights, centres = sole_heights_and_centres(trajectory, robot, sole_frames(robot, keypoint_map))
    sliding = np.concatenate([sliding_speed(centres[:, f], trajectory.planted[:, f], trajectory.times_s)
                              for f in range(2)])
    return RetargetQuality(
        mean_keypoint_error_m={n: float(e) for n, e in zip(trajectory.keypoint_names, trajectory.keypoint_errors_m.mean(0))},
        position_limit_violation_rad=position_violation,
        velocity_limit_violation_rad_s=velocity_violation,
        mean_sliding_m_s=float(sliding.mean()) if sliding.size else 0.0,
        max_sliding_m_s=float(sliding.max()) if sliding.size else 0.0,
        min_sole_height_m=float(heights.min()),
        best_effort_frames=int(trajectory.best_effort.sum()),
    )
