"""Ticker: periodic work beside the executor, that survives a failing tick and stops when told."""

from __future__ import annotations

import threading

import pytest

pytestmark = pytest.mark.ros


def test_a_ticker_ticks_survives_a_failing_tick_and_stops(rclpy_context):
    from rclpy.node import Node

    from a2m_ros.node_tools import Ticker

    node = Node("a2m_ticker_test", context=rclpy_context)
    calls, tenth = [], threading.Event()

    def tick():
        calls.append(len(calls))
        if len(calls) == 3:
            raise RuntimeError("one bad tick")
        if len(calls) == 10:
            tenth.set()

    ticker = Ticker(0.005, tick, "a2m-test-ticker", node)
    try:
        assert tenth.wait(10), f"only {len(calls)} ticks"  # went on after the third raised
    finally:
        ticker.stop()
    # stop() joined the thread: no tick can come after it
    assert not any(t.name == "a2m-test-ticker" and t.is_alive() for t in threading.enumerate())
    node.destroy_node()
