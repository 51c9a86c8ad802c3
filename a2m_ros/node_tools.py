"""What every a2m node shares: declared parameters with descriptions and ranges, and `run`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node


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


def run(make_node: Callable[[], Node], argv: list[str] | None = None, num_threads: int = 4) -> int:
    """Start rclpy, spin `make_node()` until shutdown; SIGINT and SIGTERM end it with status 0.

    A node with a `finished` Future (a file player at the end of its file) ends the spin when
    it completes. Bad parameters or input at start-up print one line and return 2. The
    executor is multi-threaded so that slow work in one callback group (generation, actions)
    never stalls another (audio in, playback).
    """
    rclpy.init(args=sys.argv if argv is None else argv)
    node = None
    try:
        node = make_node()
        executor = MultiThreadedExecutor(num_threads=num_threads)
        executor.add_node(node)
        finished = getattr(node, "finished", None)
        if finished is not None:
            executor.spin_until_future_complete(finished)
        else:
            executor.spin()
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
