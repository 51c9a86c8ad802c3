"""audio_file_node waits for all the listeners it was told about before it plays (`subscribers`)."""

from __future__ import annotations

import time

import pytest
from ros_helpers import wait_for

pytestmark = pytest.mark.ros


def test_player_starts_once_every_expected_subscriber_has_matched(rclpy_context, speech):
    """With subscribers=2 the file waits for the second listener (a recorder in `a2m ros up --record`),
    so neither listener misses its first chunks."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from a2m_ros.audio_file_node import AudioFileNode
    from a2m_ros.msg import AudioChunk

    player = AudioFileNode(context=rclpy_context, parameter_overrides=[
        Parameter("path", value=str(speech("wave"))), Parameter("subscribers", value=2),
        Parameter("wait_for_subscriber_s", value=600.0), Parameter("speed", value=10.0)])
    listeners = [Node(f"listener_{i}", context=rclpy_context) for i in range(2)]
    received: list[list[AudioChunk]] = [[], []]
    deep = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT)
    executor = SingleThreadedExecutor(context=rclpy_context)
    for node in (player, *listeners):
        executor.add_node(node)
    try:
        listeners[0].create_subscription(AudioChunk, "audio", received[0].append, deep)
        wait_for(lambda: player.publisher.get_subscription_count() == 1, 20, "the first listener to match",
                 spin=lambda s: executor.spin_once(timeout_sec=s))
        settle = time.monotonic() + 0.5
        while time.monotonic() < settle:
            executor.spin_once(timeout_sec=0.02)
        assert not received[0], "the player started with one of its two listeners"

        listeners[1].create_subscription(AudioChunk, "audio", received[1].append, deep)
        wait_for(lambda: player.finished.done(), 30, "the file to be played",
                 spin=lambda s: executor.spin_once(timeout_sec=s))
        drain = time.monotonic() + 1.0  # the player publishes from its own thread: take what is still queued
        while time.monotonic() < drain:
            executor.spin_once(timeout_sec=0.02)
        assert len(received[1]) >= len(received[0]) - 1 > 5
    finally:
        executor.shutdown()
        for node in (player, *listeners):
            node.destroy_node()


def test_player_plays_files_longer_than_one_generation_and_bounds_them_by_a_parameter(rclpy_context, tmp_path):
    """A soak or a recorded session runs for many minutes: the player takes files up to
    max_duration_s (an hour by default), past the 10 minutes a single generation reads, and
    refuses a longer one from its header, naming the parameter to raise."""
    import numpy as np
    import soundfile
    from rclpy.parameter import Parameter

    from a2m_core.audio.io import MAX_FILE_S, SAMPLE_RATE_HZ
    from a2m_core.errors import InputError
    from a2m_ros.audio_file_node import AudioFileNode

    long_file = tmp_path / "long.wav"
    soundfile.write(long_file, np.zeros(int((MAX_FILE_S + 60) * SAMPLE_RATE_HZ), np.int16), SAMPLE_RATE_HZ)
    player = AudioFileNode(context=rclpy_context, parameter_overrides=[Parameter("path", value=str(long_file))])
    try:
        assert len(player.samples) >= (MAX_FILE_S + 60) * SAMPLE_RATE_HZ
    finally:
        player.destroy_node()
    with pytest.raises(InputError, match="max_duration_s"):
        AudioFileNode(context=rclpy_context, parameter_overrides=[Parameter("path", value=str(long_file)),
                                                                  Parameter("max_duration_s", value=60.0)])
