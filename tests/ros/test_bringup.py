"""`a2m ros up`: the nodes in one process, as `make run` and users without ros2 launch start them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from a2m_core.motion.avatar import avatar_joint_names

pytestmark = pytest.mark.ros


def a2m(*args: str, env: dict[str, str], timeout_s: float = 180.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "a2m_cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout_s)


@pytest.mark.slow
def test_ros_up_with_an_audio_file_writes_video_and_mcap(ros_env, speech, tmp_path):
    from mcap.reader import make_reader
    from rclpy.serialization import deserialize_message
    from trajectory_msgs.msg import JointTrajectory

    from a2m_core.audio.io import load_audio
    from a2m_ros.messages import chunk_samples
    from a2m_ros.msg import AudioChunk, MotionStatus

    path = speech("stand up and raise both arms")
    run = a2m("ros", "up", "--audio-file", str(path), "--preset", "tiny",
              "--out", str(tmp_path / "out"), "--record", str(tmp_path / "run.mcap"), env=ros_env)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "utterance_001.mp4").stat().st_size > 1000
    reader = make_reader(open(tmp_path / "run.mcap", "rb"))
    messages = {}
    for _, channel, message in reader.iter_messages():
        messages.setdefault(channel.topic, []).append(message.data)
    assert len(messages["/audio"]) >= 20  # the file and its trailing silence in 0.1 s chunks
    # the player waited for the recorder as well as the motion node: the recording starts with the file's start
    first = chunk_samples(deserialize_message(messages["/audio"][0], AudioChunk))[:, 0]
    np.testing.assert_allclose(first, load_audio(path).samples[:len(first)], atol=1 / 16384)
    trajectory = deserialize_message(messages["/joint_trajectory"][0], JointTrajectory)
    assert tuple(trajectory.joint_names) == avatar_joint_names()
    states = [deserialize_message(m, MotionStatus).state for m in messages["/motion_status"]]
    assert states == [MotionStatus.STATE_ACCEPTED, MotionStatus.STATE_GENERATING, MotionStatus.STATE_DONE]
    assert len(messages["/joint_states"]) >= len(trajectory.points) // 2  # played back before exit


def test_ros_up_bad_arguments_are_one_line_errors(ros_env, tmp_path):
    run = a2m("ros", "up", "--audio-file", str(tmp_path / "missing.wav"), env=ros_env)
    assert run.returncode == 2 and run.stderr.strip().count("\n") == 0
    assert "audio file not found" in run.stderr
    run = a2m("ros", "up", env=ros_env)
    assert run.returncode == 2 and "--mic or --audio-file" in run.stderr


def test_unwritable_record_path_is_a_one_line_error_before_the_run(ros_env, speech, unwritable_dir, tmp_path):
    run = a2m("ros", "up", "--audio-file", str(speech("wave")), "--preset", "tiny", "--out", str(tmp_path / "out"),
              "--record", str(unwritable_dir / "run.mcap"), env=ros_env)
    assert run.returncode == 2 and run.stderr.strip().count("\n") == 0, run.stderr
    assert "--record" in run.stderr and "cannot write to folder" in run.stderr


def test_recorder_writes_its_file_whole_and_fails_cleanly(ros_env, unwritable_dir, tmp_path):
    import rclpy
    from mcap.reader import make_reader

    from a2m_core.errors import InputError
    from a2m_ros.recorder import Recorder

    rclpy.init()
    try:
        with pytest.raises(InputError, match="cannot record to"):
            Recorder(unwritable_dir / "run.mcap")
        recorder = Recorder(tmp_path / "run.mcap")
        assert not (tmp_path / "run.mcap").exists()  # under a temporary name until finished
        recorder.destroy_node()
    finally:
        rclpy.try_shutdown()  # destroys what is left: no AttributeError from the failed recorder
    assert [p.name for p in tmp_path.iterdir()] == ["run.mcap"]
    channels = make_reader(open(tmp_path / "run.mcap", "rb")).get_summary().channels
    assert {c.topic for c in channels.values()} >= {"/audio", "/joint_trajectory"}


def test_recorder_schema_includes_dependencies(ros_env):
    from a2m_ros.recorder import msg_schema

    schema = msg_schema("a2m_ros/msg/AudioChunk")
    assert schema.startswith("# A chunk of audio")
    assert "MSG: std_msgs/Header" in schema and "MSG: builtin_interfaces/Time" in schema


@pytest.mark.slow
@pytest.mark.parametrize("command, backend", [(("ros", "bench"), "auto"), (("bench", "--ros", "--backends", "torch"), "torch")])
def test_ros_bench_times_end_of_speech_to_trajectory(ros_env, command, backend):
    """`a2m ros bench` and `a2m bench --ros` (which hands its options to it) time the node over DDS."""
    run = a2m(*command, "--runs", "2", "--preset", "tiny", env=ros_env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"(asked: {backend})" in run.stderr  # the node's `model ready` line: the backend option reached it
    rows = [line for line in run.stdout.splitlines() if line.startswith(("walk forward", "jump twice"))]
    assert len(rows) == 2
    utterances = [int(row.split()[-3]) for row in rows]
    latencies_ms = [float(row.split()[-2]) for row in rows]
    assert utterances == [1, 1], rows  # each sentence is one utterance, however the machine keeps pace
    assert all(0 < ms < 60000 for ms in latencies_ms), latencies_ms
    assert "end of speech -> trajectory: median" in run.stdout


@pytest.mark.slow
def test_ros_up_with_the_microphone_until_ctrl_c(ros_env, pulse, speech, tmp_path):
    """`a2m ros up --mic` through the PulseAudio null sink: speech in, a video out, SIGINT exits 0."""
    import signal

    from ros_helpers import NodeProcess, wait_for

    pulse.start()
    env = dict(ros_env, PULSE_SERVER=pulse.address)
    up = NodeProcess([sys.executable, "-m", "a2m_cli", "ros", "up", "--mic", "--mic-device", "pulse",
                      "--preset", "tiny", "--out", str(tmp_path / "out")], env, tmp_path / "up.log")
    try:
        wait_for(lambda: "recording from 'pulse'" in up.log(), 60, f"the microphone to open: {up.log()}")
        assert pulse.play(speech("walk in a circle")).wait(30) == 0
        wait_for(lambda: "video: " in up.log() or up.proc.poll() is not None, 60,
                 f"the video of the spoken instruction: {up.log()}")  # printed once the file is written
    finally:
        assert up.stop(signal.SIGINT, timeout_s=60) == 0, up.log()  # torch's teardown takes seconds on a busy box
    assert (tmp_path / "out" / "utterance_001.mp4").stat().st_size > 1000


@pytest.mark.slow
def test_ros_soak_counts_utterances_in_and_out(ros_env):
    """`a2m ros soak`: each instruction one DONE utterance; instructions run together are caught as a failure."""
    run = a2m("ros", "soak", "--count", "4", "--preset", "tiny", env=ros_env)
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    assert "instructions in: 4; utterances out: 4 (4 done, 0 rejected)" in run.stdout
    # pauses shorter than hangover_s join instructions into one utterance: the soak must say so
    run = a2m("ros", "soak", "--count", "3", "--min-pause-s", "0.1", "--max-pause-s", "0.15", "--preset", "tiny",
              env=ros_env)
    assert run.returncode == 1 and "soak FAILED" in run.stdout, run.stdout + run.stderr[-2000:]


@pytest.mark.slow
def test_ros_soak_with_the_nodes_as_separate_processes(ros_env):
    """`a2m ros soak --processes`: motion_node and audio_file_node their own processes, over DDS."""
    run = a2m("ros", "soak", "--processes", "--count", "4", "--preset", "tiny", env=ros_env)
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    assert "separate processes" in run.stdout
    assert "instructions in: 4; utterances out: 4 (4 done, 0 rejected)" in run.stdout
    assert "stalls in the motion node's log: 0" in run.stdout


@pytest.mark.slow
def test_ros_soak_through_the_microphone_node_on_a_null_sink(ros_env):
    """`a2m ros soak --mic`: the recording played into a PulseAudio null sink, microphone_node records it."""
    from a2m_ros.null_sink import pulseaudio_missing

    if (why := pulseaudio_missing()) is not None:
        pytest.skip(why)
    run = a2m("ros", "soak", "--mic", "--count", "4", "--preset", "tiny", env=ros_env)
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    assert "microphone_node on a PulseAudio null sink" in run.stdout
    assert "instructions in: 4; utterances out: 4 (4 done, 0 rejected)" in run.stdout


def test_a_failed_soak_shows_the_motion_node_log_about_its_utterances():
    from a2m_ros.soak import log_about

    log = "\n".join(["listening", "utterance 1: 0.61 s of audio", "x", "y", "z", "utterance 12: 2.0 s",
                     "w", "rejected utterance 5: too long"])
    assert log_about(log, [1, 5], context=1) == "listening\nutterance 1: 0.61 s of audio\nx\nw\nrejected utterance 5: too long"
    assert log_about(log, [7]) == "(no line names them)"


def test_ros_soak_mic_without_pulseaudio_is_a_one_line_error(ros_env, tmp_path):
    run = a2m("ros", "soak", "--mic", "--count", "2", "--preset", "tiny", env=dict(ros_env, PATH=str(tmp_path)))
    assert run.returncode == 2 and run.stderr.strip().count("\n") == 0, run.stderr
    assert "PulseAudio is not available (pulseaudio, pactl, paplay not found)" in run.stderr



@pytest.mark.parametrize("node, setting, when", [("motion_node", "hangover_s: 999.0", "while waiting for the motion node"),
                                                 ("audio_file_node", "chunk_s: 99.0", "while the recording played")])
def test_ros_soak_reports_a_node_process_that_dies(ros_env, tmp_path, node, setting, when):
    params = tmp_path / "bad.yaml"
    params.write_text(f"{node}:\n  ros__parameters:\n    {setting}\n")  # out of range: the node exits 2
    run = a2m("ros", "soak", "--processes", "--count", "1", "--preset", "tiny", "--params", str(params), env=ros_env)
    assert run.returncode == 1, run.stdout + run.stderr[-2000:]
    assert f"soak FAILED: {when}" in run.stdout
    assert f"{node} exited with status 2" in run.stdout and setting.split(":")[0] in run.stdout
