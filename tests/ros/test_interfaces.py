"""The generated a2m_ros interfaces import and survive a real serialisation round trip."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.ros


def test_audio_chunk_round_trip(ros_env):
    from rclpy.serialization import deserialize_message, serialize_message

    from a2m_ros.msg import AudioChunk

    samples = np.arange(-5, 5, dtype="<i2")
    msg = AudioChunk(sample_rate=16000, channels=1, encoding=AudioChunk.ENCODING_INT16,
                     samples=samples.tobytes())
    msg.header.frame_id = "mic"
    back = deserialize_message(serialize_message(msg), AudioChunk)
    assert back.sample_rate == 16000 and back.channels == 1 and back.encoding == "int16"
    assert back.header.frame_id == "mic"
    np.testing.assert_array_equal(np.frombuffer(bytes(back.samples), "<i2"), samples)


def test_motion_status_and_action_types(ros_env):
    from rclpy.serialization import deserialize_message, serialize_message

    from a2m_ros.action import GenerateMotion
    from a2m_ros.msg import MotionStatus

    status = MotionStatus(utterance_id=7, state=MotionStatus.STATE_REJECTED, reason="NaN samples",
                          audio_s=1.5)
    back = deserialize_message(serialize_message(status), MotionStatus)
    assert (back.utterance_id, back.state, back.reason) == (7, MotionStatus.STATE_REJECTED, "NaN samples")
    assert [MotionStatus.STATE_ACCEPTED, MotionStatus.STATE_GENERATING, MotionStatus.STATE_DONE] == [0, 1, 2]

    goal = GenerateMotion.Goal(text="wave", motion_s=2.0)
    result = GenerateMotion.Result(message="ok")
    result.trajectory.joint_names = ["a", "b"]
    assert deserialize_message(serialize_message(goal), GenerateMotion.Goal).text == "wave"
    assert deserialize_message(serialize_message(result), GenerateMotion.Result).trajectory.joint_names == ["a", "b"]
    assert GenerateMotion.Feedback.STAGE_GENERATING == "generating"


def test_importing_a2m_ros_does_not_import_rclpy():
    """Training-only users import a2m_ros (and its messages) without pulling in rclpy's runtime."""
    code = "import a2m_ros, sys; assert 'rclpy' not in sys.modules, 'a2m_ros imported rclpy'"
    subprocess.run([sys.executable, "-c", code], check=True)
