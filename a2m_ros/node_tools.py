"""What every a2m node shares: declared parameters with descriptions and ranges, `Ticker`, and `run`."""

from __future__ import annotations

import faulthandler
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node


SHUTDOWN_POLL_S = 0.25  # how long after a shutdown `run`'s executor loop notices it, at most


def declare(node: Node, name: str, default, description: str, low=None, high=None, choices: Sequence[str] = ()):
    """Declare one parameter with its description (and range or choices); return its value.

    `low`/`high` give an inclusive range for ints and floats; `choices` lists the allowed strings.
    """
    descriptor = ParameterDescriptor(description=description)
    if choices:
        descriptor.additional_constraints = "one of: " + ", ".join(choices)
    if low is not None:
        if isinstance(default, bool):
            raise TypeError(f"parameter {name}: a bool has no range")
        if isinstance(default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=0)]
        else:
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)]
    value = node.declare_parameter(name, default, descriptor).value
    if choices and value not in choices:
        raise ValueError(f"parameter {name}={value!r}: expected one of {', '.join(choices)}")
    return value


class Ticker:
    """Calls `tick()` every `period_s` on a thread of its own, instead of an rclpy timer, until `stop()`.

    Measured with `a2m ros bench`: with a 20 Hz timer in the motion node's MultiThreadedExecutor,
    audio chunks waited up to 3.3 s between arriving in DDS and their callback (0.05 s without
    it). Periodic work that only reads state and publishes (playback, the stall check, a file
    player's pace) runs here, where it cannot hold up the executor. An exception in `tick` is logged
    on `node`'s logger (at most every 10 s) and the ticking goes on.
    """

    def __init__(self, period_s: float, tick: Callable[[], None], name: str, node: Node):
        self.period_s, self._tick, self._logger = period_s, tick, node.get_logger()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        due = time.monotonic()
        while True:
            due = max(due + self.period_s, time.monotonic())  # after an overrun: on time again, no burst
            if self._stopped.wait(due - time.monotonic()):
                return
            try:
                self._tick()
            except Exception as exc:  # noqa: BLE001 - one failed tick must not end the ticking
                self._logger.error(f"{self._thread.name}: {type(exc).__name__}: {exc}", throttle_duration_sec=10.0)

    def stop(self) -> None:
        """No tick starts after this returns (one in progress is waited for, up to 5 s)."""
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join(5.0)


def run(make_node: Callable[[], Node], argv: list[str] | None = None, num_threads: int = 4) -> int:
    """Start rclpy, spin `make_node()` until shutdown; SIGINT and SIGTERM end it with status 0, SIGUSR1
    prints every thread's stack.

    A node with a `finished` Future (a file player at the end of its file) ends the spin when
    it completes. Bad parameters or input at start-up print one line and return 2. The
    executor is multi-threaded so that slow work in one callback group (generation, actions)
    never stalls another (audio in, playback).
    """
    # `kill -USR1 PID` prints every thread's Python stack on stderr: what a node that stopped answering is doing
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    rclpy.init(args=sys.argv if argv is None else argv)
    node = None
    try:
        node = make_node()
        executor = MultiThreadedExecutor(num_threads=num_threads)
        executor.add_node(node)
        finished = getattr(node, "finished", None)
        if finished is not None:
            finished.add_done_callback(lambda _: executor.wake())
        # Not executor.spin(): rclpy's SIGINT/SIGTERM handler can shut the context down just after
        # the executor's wait woke and found it running, and spin() then waits forever (seen as a
        # motion node that ignored SIGTERM). A wait with a timeout looks again every SHUTDOWN_POLL_S.
        while executor.context.ok() and not (finished is not None and finished.done()):
            executor.spin_once(timeout_sec=SHUTDOWN_POLL_S)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, ParameterException) as exc:  # InputError, or a parameter out of its range or choices
        print(f"[ERROR] {exc}", file=sys.stderr)
        return 2
    except Exception:
        if rclpy.ok():
            raise
        # SIGINT/SIGTERM shut rclpy down while the node was still starting (loading the model)
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
