"""The URDF's joint velocity limits, enforced by retiming (never by clamping).

Clamping each joint's step would make a fast joint lag behind the others and leave the pose the
IK solved for; retiming keeps every solved pose and only stretches the frame steps that are too
fast for some joint, so the path is the same and the motion plays slower there. A step of
|dq| rad on a joint limited to v rad/s lasts at least |dq| / v seconds.
"""

from __future__ import annotations

import numpy as np

_MARGIN = 1e-6  # relative headroom so rounding never lands a step a hair over the limit


def retime_to_velocity_limits(joints_rad: np.ndarray, fps: float, velocity_limits: np.ndarray) -> np.ndarray:
    """Monotonic frame times (t) in seconds: the nominal 1/fps steps, stretched where a joint would be too fast.

    joints_rad (t n), velocity_limits (n) rad/s, each > 0.
    """
    nominal_s = 1.0 / fps
    if joints_rad.shape[0] < 2:
        return np.zeros(joints_rad.shape[0])
    needed_s = np.max(np.abs(np.diff(joints_rad, axis=0)) / velocity_limits, axis=-1) * (1 + _MARGIN)  # (t-1)
    return np.concatenate([[0.0], np.cumsum(np.maximum(nominal_s, needed_s))])


def step_velocities(joints_rad: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """Velocity (t-1 n) of each frame step."""
    return np.diff(joints_rad, axis=0) / np.diff(times_s)[:, None]


def waypoint_velocities(joints_rad: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """Velocity (t n) at each frame: the mean of its two steps, zero at the first and last frame (rest to rest).

    A mean of two steps within the limits is within the limits too.
    """
    velocities = np.zeros_like(joints_rad)
    if joints_rad.shape[0] > 2:
        steps = step_velocities(joints_rad, times_s)
        velocities[1:-1] = 0.5 * (steps[1:] + steps[:-1])
    return velocities
