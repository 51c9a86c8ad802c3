"""Real-time playback of the latest clip, and the robot's latest joint state: the motion node's bookkeeping without ROS.

Both are shared between the generation worker and the node's timers and subscriptions, so
both lock; both read time from a clock they are given (time.monotonic by default), so tests
step it instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import numpy as np

from a2m_core.retarget.trajectory import start_positions_by_name

T = TypeVar("T")


class Playback(Generic[T]):
    """The latest motion, played back at `rate` x real time: the worker `start`s it, the playback timer asks `now`."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError(f"playback rate must be > 0, got {rate}")
        self.rate, self._clock = rate, clock
        self._lock = threading.Lock()
        self._current: tuple[T, float, float] | None = None  # (motion, duration s, start time)

    def start(self, motion: T, duration_s: float) -> None:
        with self._lock:
            self._current = (motion, duration_s, self._clock())

    def now(self) -> tuple[T, float] | None:
        """(motion, seconds into it) or None before the first motion."""
        with self._lock:
            current = self._current
        if current is None:
            return None
        motion, _, start = current
        return motion, (self._clock() - start) * self.rate

    @property
    def playing(self) -> bool:
        with self._lock:
            current = self._current
        return current is not None and (self._clock() - current[2]) * self.rate < current[1]


class RobotState:
    """Latest position of each joint named on the robot's joint-state topic (several publishers may each name some)."""

    def __init__(self, max_age_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.max_age_s, self._clock = max_age_s, clock
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[float, float]] = {}  # name -> (position, time received)

    def update(self, names: Sequence[str], positions: Sequence[float]) -> None:
        """One joint-state message; velocity- or effort-only ones (no position per name) are ignored."""
        if len(positions) != len(names):
            return
        now = self._clock()
        with self._lock:
            self._latest.update((name, (float(p), now)) for name, p in zip(names, positions))

    def positions(self, joint_names: tuple[str, ...]) -> np.ndarray | None:
        """Positions (n) of `joint_names` received in the last `max_age_s`, or None if any is missing.

        InputError when one is NaN or infinite.
        """
        now = self._clock()
        with self._lock:
            fresh = {name: p for name, (p, t) in self._latest.items() if now - t <= self.max_age_s}
        if any(name not in fresh for name in joint_names):
            return None
        return start_positions_by_name(list(fresh), list(fresh.values()), joint_names)
