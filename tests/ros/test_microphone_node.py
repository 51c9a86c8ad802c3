"""The microphone path without a sound card: PulseAudio (a plain user process started by the
test) with a null sink whose monitor is remapped as a source; paplay plays espeak-ng speech
into the sink, microphone_node records it through PortAudio's ALSA `pulse` device in real
time, and the motion node answers with a trajectory."""

from __future__ import annotations

import signal

import numpy as np
import pytest

from a2m_core.audio.io import load_audio, save_wav
from ros_helpers import Probe, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture
def padded_speech(speech, tmp_path):
    x = load_audio(speech("turn around and sit down")).samples
    path = tmp_path / "padded.wav"
    save_wav(path, np.concatenate([np.zeros(4000, np.float32), x, np.zeros(24000, np.float32)]))
    return path, len(x) / 16000


def test_speech_through_pulseaudio_microphone_to_trajectory(ros_env, pulse, start_node, rclpy_context, padded_speech):
    pulse.start()
    env = dict(ros_env, PULSE_SERVER=pulse.address)
    motion = start_node("a2m_ros.motion_node", "--ros-args", "-p", "model_preset:=tiny", env=env)
    mic = start_node("a2m_ros.microphone_node", "--ros-args", "-p", "device:=pulse", env=env)
    probe = Probe(rclpy_context)
    try:
        probe.wait_connected(60)
        wait_for(lambda: "recording from 'pulse'" in mic.log(), 20, f"the microphone to open: {mic.log()}")
        wav, speech_s = padded_speech
        player = pulse.play(wav)
        wait_for(lambda: any(s.state == 2 for s in probe.statuses), 60,
                 f"a trajectory from the microphone path; statuses {[(s.state, s.reason) for s in probe.statuses]}")
        assert player.wait(10) == 0

        def answer():  # the last DONE: an answer published at a pause in the sentence is replaced by a later one
            return [s for s in list(probe.statuses) if s.state == 2][-1]

        wait_for(lambda: abs(answer().audio_s - speech_s) <= 0.6, 30, "the answer to the whole sentence")
        assert {s.utterance_id for s in probe.statuses} == {1}  # one utterance
        done = answer()
        # another topic: may arrive after DONE
        wait_for(lambda: len(probe.trajectories) == sum(s.state == 2 for s in probe.statuses), 10, "the trajectory")
        assert len(probe.trajectories[-1].points) == round(done.motion_s * 20)
        print(f"microphone path: end of speech -> trajectory {done.latency_s * 1000:.0f} ms")
    finally:
        probe.close()
    assert mic.stop(signal.SIGINT) == 0, mic.log()
    assert motion.stop(signal.SIGTERM) == 0, motion.log()


def test_missing_device_is_reported_and_retried_until_it_appears_and_again_when_it_vanishes(
        ros_env, pulse, start_node, rclpy_context):
    from rclpy.qos import qos_profile_sensor_data

    from a2m_ros.msg import AudioChunk

    env = dict(ros_env, PULSE_SERVER=pulse.address)  # no server there yet
    mic = start_node("a2m_ros.microphone_node", "--ros-args", "-p", "device:=pulse", "-p", "retry_s:=0.5", env=env)
    wait_for(lambda: "cannot open input device 'pulse'" in mic.log(), 30, f"the error about the missing device: {mic.log()}")
    assert mic.proc.poll() is None
    pulse.start()
    wait_for(lambda: "recording from 'pulse'" in mic.log(), 30, f"the retry to open the device: {mic.log()}")
    probe = Probe(rclpy_context)
    chunks = []
    probe.node.create_subscription(AudioChunk, "audio", chunks.append, qos_profile_sensor_data)
    try:
        wait_for(lambda: len(chunks) >= 5, 20, "AudioChunks from the recovered microphone")
        assert all(c.sample_rate == 16000 and c.channels == 1 for c in chunks)
        pulse.proc.kill()  # the device vanishes while recording
        pulse.proc.wait(10)
        wait_for(lambda: "stopped delivering audio" in mic.log(), 30, f"the node to notice: {mic.log()}")
        pulse.start()
        wait_for(lambda: mic.log().count("recording from 'pulse'") == 2, 30, f"the reopened device: {mic.log()}")
        received = len(chunks)
        wait_for(lambda: len(chunks) >= received + 5, 20, "AudioChunks after the device came back")
    finally:
        probe.close()
    assert mic.stop(signal.SIGTERM) == 0, mic.log()
