"""A retargeted trajectory in the form ros2_control's joint_trajectory_controller accepts, without ROS.

The ROS node only copies these arrays into a trajectory_msgs/JointTrajectory: joint names,
per-point positions and velocities, and strictly increasing times from start, all > 0.

- Speed: `max_joint_speed_scale` (0 < s <= 1) stretches every time by 1 / s, so no joint moves
  faster than s times its URDF velocity limit (the retargeted times already respect the limits).
- Start: with the robot's current joint positions (from its /joint_states), the trajectory begins
  with a minimum-jerk blend from there to the first frame, long enough (and at least `blend_s`)
  that the blend also stays within s times the velocity limits. Without them, the first frame is
  the first point, at `blend_s`: the controller interpolates from wherever the robot is.
- Limits: positions are clipped into the URDF limits once more before they leave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from a2m_core.errors import InputError
from a2m_core.retarget.robot_trajectory import RobotTrajectory
from a2m_core.retarget.velocity import waypoint_velocities

MIN_JERK_PEAK_SPEED = 1.875  # peak of d/dx (10x^3 - 15x^4 + 6x^5): a blend over T peaks at 1.875 * distance / T


@dataclass(frozen=True)
class TrajectoryConfig:
    """How the robot trajectory is sent: slowed down, and blended in from the robot's current state."""

    max_joint_speed_scale: float = 1.0  # 0 < s <= 1: every joint at most s times its URDF velocity limit
    blend_s: float = 2.0  # at least this long from the start state (or from whatever the robot does) to frame 1
    blend_step_s: float = 0.05  # spacing of the blend's points

    def __post_init__(self) -> None:
        if not 0 < self.max_joint_speed_scale <= 1:
            raise InputError(f"max_joint_speed_scale must be in (0, 1], got {self.max_joint_speed_scale}: "
                             "1 plays at the retargeted speed, 0.25 at a quarter of it")
        if self.blend_s <= 0 or self.blend_step_s <= 0:
            raise InputError(f"blend_s and blend_step_s must be > 0, got {self.blend_s}, {self.blend_step_s}")


@dataclass(frozen=True)
class JointTrajectoryPoints:
    """What a JointTrajectory carries: names, and per point positions, velocities and time from start."""

    joint_names: tuple[str, ...]
    positions_rad: np.ndarray  # (p n)
    velocities_rad_s: np.ndarray  # (p n)
    times_from_start_s: np.ndarray  # (p) strictly increasing, first > 0

    def positions_at(self, time_s: float) -> np.ndarray:
        """Joint positions (n) at a time from start, linearly between points (held before the first and after the last)."""
        return np.array([np.interp(time_s, self.times_from_start_s, column) for column in self.positions_rad.T])


def start_positions_by_name(names: list[str], positions: list[float], joint_names: tuple[str, ...]) -> np.ndarray:
    """The robot's current positions (n) in `joint_names` order from a joint-state (name, position) pair of lists.

    InputError when a robot joint is missing or a value is not finite.
    """
    current = dict(zip(names, positions))
    missing = [n for n in joint_names if n not in current]
    if missing:
        raise InputError(f"the joint state lacks {len(missing)} robot joints ({', '.join(missing[:4])}...); "
                         "it must name every joint of the URDF")
    start = np.array([current[n] for n in joint_names], dtype=np.float64)
    if not np.isfinite(start).all():
        raise InputError("the joint state has NaN or infinite positions")
    return start


def _min_jerk_blend(start: np.ndarray, end: np.ndarray, duration_s: float, step_s: float):
    """Points strictly before `end` of a rest-to-rest min-jerk move: positions (b n), times (b)."""
    count = max(1, int(np.ceil(duration_s / step_s)))
    times = np.arange(1, count) * (duration_s / count)  # (b) the end point itself is the trajectory's first frame
    x = (times / duration_s)[:, None]
    return start + (end - start) * (10 * x**3 - 15 * x**4 + 6 * x**5), times


def hermite_peak_speeds(positions: np.ndarray, velocities: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Peak |speed| (p-1 n) of the cubic through each pair of points with their velocities (what the controller plays)."""
    h = np.diff(times)[:, None]  # (p-1 1)
    dp, v0, v1 = np.diff(positions, axis=0) / h, velocities[:-1], velocities[1:]
    # d/dt of the cubic Hermite at u = t / h in [0, 1]: a u^2 + b u + v0
    a, b = -6 * dp + 3 * v0 + 3 * v1, 6 * dp - 4 * v0 - 2 * v1
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(np.abs(a) > 1e-12, -b / (2 * a), 0.0)
    u = np.clip(u, 0.0, 1.0)
    return np.maximum.reduce([np.abs(v0), np.abs(v1), np.abs(a * u**2 + b * u + v0)])


def _within_speed_limits(positions: np.ndarray, times: np.ndarray, limits: np.ndarray, max_rounds: int = 50):
    """Times (p) and velocities (p n) such that the controller's cubics stay within `limits` (n).

    Velocities are the mean of the two neighbouring steps (zero at both ends); a step whose cubic
    would peak over a limit is stretched by that ratio, and the velocities recomputed, until none does.
    If that has not settled after `max_rounds`, every point gets zero velocity and each step the
    time a rest-to-rest cubic needs (1.5 * distance / limit): slower, but never over a limit.
    """
    steps = np.diff(times)
    for _ in range(max_rounds):
        times = np.concatenate([[times[0]], times[0] + np.cumsum(steps)])
        velocities = waypoint_velocities(positions, times)
        ratio = np.max(hermite_peak_speeds(positions, velocities, times) / limits, axis=-1)  # (p-1)
        if np.all(ratio <= 1.0):
            return times, velocities
        steps = steps * np.maximum(ratio * (1 + 1e-6), 1.0)
    rest_to_rest = 1.5 * np.max(np.abs(np.diff(positions, axis=0)) / limits, axis=-1) * (1 + 1e-6)
    steps = np.maximum(steps, rest_to_rest)
    return np.concatenate([[times[0]], times[0] + np.cumsum(steps)]), np.zeros_like(positions)


def joint_trajectory_points(trajectory: RobotTrajectory, lower_rad: np.ndarray, upper_rad: np.ndarray,
                            velocity_limits: np.ndarray, config: TrajectoryConfig = TrajectoryConfig(),
                            start_rad: np.ndarray | None = None) -> JointTrajectoryPoints:
    """The trajectory's points for a joint_trajectory_controller; `start_rad` (n): the robot's current positions."""
    limits = config.max_joint_speed_scale * velocity_limits  # (n)
    positions = np.clip(trajectory.joint_positions_rad, lower_rad, upper_rad)  # (t n)
    times = (trajectory.times_s - trajectory.times_s[0]) / config.max_joint_speed_scale  # (t)
    if start_rad is None:
        times = times + config.blend_s
    else:
        start = np.clip(np.asarray(start_rad, dtype=np.float64), lower_rad, upper_rad)
        blend_s = max(config.blend_s, MIN_JERK_PEAK_SPEED * np.max(np.abs(positions[0] - start) / limits))
        blend_positions, blend_times = _min_jerk_blend(start, positions[0], blend_s, config.blend_step_s)
        positions = np.concatenate([start[None], blend_positions, positions])
        times = np.concatenate([[0.0], blend_times, times + blend_s])
    if len(times) == 1:
        return JointTrajectoryPoints(trajectory.joint_names, positions, np.zeros_like(positions), times)
    times, velocities = _within_speed_limits(positions, times, limits)
    if start_rad is not None:  # the start state is where the robot is, not a point to command
        positions, velocities, times = positions[1:], velocities[1:], times[1:]
    return JointTrajectoryPoints(trajectory.joint_names, positions, velocities, times)
