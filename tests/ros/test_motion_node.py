"""The motion node as its own process over real DDS: speech in, trajectory and status out.

The model is the randomly initialised `tiny` preset (fast on CPU): these tests check the
plumbing, scheduling and bad-input behaviour, not the quality of the motion.
"""

from __future__ import annotations

import re
import signal
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from a2m_core.audio.io import load_audio
from ros_helpers import NodeProcess, Probe, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

ACCEPTED, GENERATING, DONE, REJECTED = 0, 1, 2, 3


@pytest.fixture(scope="module")
def motion_node(ros_env, tmp_path_factory):
    log = tmp_path_factory.mktemp("motion_node") / "motion_node.log"
    # backend torch: onnxruntime answers a tiny model's goal in ~20 ms, before a cancel sent right after acceptance arrives
    node = NodeProcess.module("a2m_ros.motion_node", ["--ros-args", "-p", "model_preset:=tiny", "-p", "backend:=torch",
                                               "-p", "queue_size:=2",
                                               "-p", "max_utterance_s:=6.0"], ros_env, log)
    yield node
    assert node.stop(signal.SIGINT) == 0, node.log()


@pytest.fixture(scope="module")
def instruction(speech):
    return load_audio(speech("walk forward, then wave with your right hand")).samples


def with_silence(x: np.ndarray, before_s: float = 0.5, after_s: float = 1.0) -> np.ndarray:
    return np.concatenate([np.zeros(int(before_s * 16000), np.float32), x, np.zeros(int(after_s * 16000), np.float32)])


def answered(states: list[int], or_rejected: bool = False) -> bool:
    """ACCEPTED -> GENERATING -> DONE at last (or REJECTED, if allowed); before that, answers started at pauses
    in the speech and replaced (ACCEPTED, then GENERATING and DONE as far as each got before speech went on)."""
    last = "(AGD|R)" if or_rejected else "AGD"
    return re.fullmatch(rf"(A(GD?)?)*{last}", "".join("AGDR"[state] for state in states)) is not None


def wait_done(probe, utterance_id, timeout_s=60.0):
    wait_for(lambda: DONE in probe.states_of(utterance_id) or REJECTED in probe.states_of(utterance_id),
             timeout_s, f"utterance {utterance_id} to finish")


def last_id(probe) -> int:
    return max((s.utterance_id for s in probe.statuses), default=0)


def wait_settled(probe, quiet_s=2.0, timeout_s=90.0):
    """Until every numbered utterance has finished and no status arrived for `quiet_s`.

    After a flood the node still cuts utterances out of queued audio for a while (longer on a
    loaded machine); a probe that sends too early meets a full job queue and is rejected as busy.
    """
    deadline = time.monotonic() + timeout_s
    seen, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        statuses = list(probe.statuses)
        if len(statuses) != seen:
            seen, since = len(statuses), time.monotonic()
        ids = {s.utterance_id for s in statuses if s.utterance_id > 0}
        finished = all({DONE, REJECTED} & set(probe.states_of(u)) for u in ids)
        if finished and time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.05)
    raise AssertionError(f"the node did not settle within {timeout_s} s")


def urdf_movable_joints() -> list[str]:
    from a2m_core.motion.avatar import avatar_urdf

    robot = ET.fromstring(avatar_urdf())
    return [j.get("name") for j in robot.iter("joint") if j.get("type") != "fixed"]


def test_speech_becomes_a_trajectory_with_status(motion_node, probe, instruction):
    probe.wait_connected()
    # before any motion, joint_states hold the rest pose standing on the ground (for robot_state_publisher)
    wait_for(lambda: probe.joint_states, 10, "joint_states of the rest pose")
    rest = dict(zip(probe.joint_states[0].name, probe.joint_states[0].position))
    assert rest["root_z"] == pytest.approx(0.83, abs=0.05)
    assert all(abs(v) < 1e-6 for name, v in rest.items() if name != "root_z")
    before = last_id(probe)
    probe.send(with_silence(instruction), speed=2.0)
    wait_for(lambda: last_id(probe) > before, 30, "an utterance to be accepted")
    uid = last_id(probe)
    wait_done(probe, uid)
    wait_settled(probe)  # an answer published at a pause may still be replaced
    assert answered(probe.states_of(uid)) and last_id(probe) == uid, [s.reason for s in probe.statuses]
    wait_for(lambda: probe.trajectories, 10, "the trajectory")
    traj = probe.trajectories[-1]
    assert list(traj.joint_names) == urdf_movable_joints()
    done = [s for s in probe.statuses if s.utterance_id == uid and s.state == DONE][-1]
    last = traj.points[-1].time_from_start
    fps = 20.0
    assert len(traj.points) == round(done.motion_s * fps)
    assert last.sec + last.nanosec * 1e-9 == pytest.approx((len(traj.points) - 1) / fps, abs=1e-6)
    assert all(len(p.positions) == len(traj.joint_names) for p in traj.points)
    assert done.audio_s == pytest.approx(len(instruction) / 16000, abs=0.6)
    assert 0.0 < done.latency_s < 30.0
    # joint_states play the clip back with the same joints
    wait_for(lambda: probe.joint_states, 5, "joint_states playback")
    assert list(probe.joint_states[-1].name) == list(traj.joint_names)


def test_audio_that_stops_mid_speech_still_ends_the_utterance(motion_node, probe, instruction):
    """A sender that quits right after the last word (no trailing silence): the stall ends the utterance."""
    probe.wait_connected()
    before = last_id(probe)
    probe.send(with_silence(instruction, after_s=0.0), speed=4.0)
    wait_for(lambda: last_id(probe) > before, 30, "the utterance to end although the audio stopped")
    wait_done(probe, last_id(probe))
    assert answered(probe.states_of(last_id(probe)))


def test_a_short_pause_publishes_at_once_and_speech_after_it_replaces_that(start_node, probe, instruction):
    """publish_after_s: 0.3 s of silence answers (stall_s 30 s: nothing else ends the utterance meanwhile);
    speech after that pause makes the same utterance answer again, with a trajectory that replaces the first."""
    node = start_node("a2m_ros.motion_node", "--ros-args", "-p", "model_preset:=tiny", "-p", "backend:=torch",
                      "-p", "stall_s:=30.0", "-r", "__ns:=/early")
    early = Probe(probe.node.context, namespace="/early")
    loud = np.flatnonzero(np.abs(instruction) > 0.01)
    speech = instruction[loud[0]:loud[-1] + 1]  # without espeak-ng's own leading and trailing silence
    try:
        early.wait_connected()
        early.send(with_silence(speech, after_s=0.3), speed=4.0)
        # a pause inside the sentence (its comma) may answer first: wait for the answer holding all of it
        whole_s = 0.9 * len(speech) / 16000
        wait_for(lambda: any(s.state == DONE and s.audio_s >= whole_s for s in list(early.statuses)
                             if s.utterance_id == 1), 25, "the answer holding the whole sentence")
        first = [s for s in early.statuses if s.utterance_id == 1]
        assert answered([s.state for s in first]) and "pause" in first[-3].reason, [(s.state, s.reason) for s in first]
        published = sum(s.state == DONE for s in first)
        wait_for(lambda: len(early.trajectories) == published, 10, "the trajectories published at the pauses")
        early.send(with_silence(speech, before_s=0.0), speed=4.0)  # the pause stays 0.3 s of stream time
        def answers() -> list:
            return [s for s in list(early.statuses) if s.utterance_id == 1 and s.state == DONE]

        # the second sentence's own pauses may publish (and replace) too: the last answer holds both sentences
        wait_for(lambda: answers()[-1].audio_s >= first[-1].audio_s + 0.9 * len(speech) / 16000, 30,
                 "the longer utterance's answer")
        wait_settled(early)
        assert early.states_of(1)[-1] == DONE and last_id(early) == 1
        assert len(early.trajectories) == len(answers()) >= 2  # one trajectory per answer, the last one replacing
        assert "replaced by the longer utterance" in node.log()
    finally:
        early.close()
    assert node.stop(signal.SIGINT) == 0, node.log()


def test_sigusr1_prints_every_threads_stack_and_the_node_goes_on(motion_node, probe, instruction):
    """For a node that stopped answering: `kill -USR1 PID` shows what each thread is doing."""
    probe.wait_connected()  # up: before a2m_ros.node_tools.run, SIGUSR1 would end the process
    stacks = motion_node.stacks()
    assert stacks.count("(most recent call first)") >= 4, stacks  # main, the generation worker, two tickers
    assert "jobs.py" in stacks and "node_tools.py" in stacks, stacks
    before = last_id(probe)
    probe.send(with_silence(instruction), speed=4.0)
    wait_for(lambda: last_id(probe) > before, 30, "an utterance after the stacks were printed")
    wait_done(probe, last_id(probe))
    assert motion_node.proc.poll() is None


def test_bad_chunks_are_rejected_with_reasons_and_the_node_goes_on(motion_node, probe, instruction):
    from std_msgs.msg import Header

    from a2m_ros.msg import AudioChunk

    probe.wait_connected()
    nan = np.full(1600, np.nan, np.float32)
    probe.send(nan, encoding="float32")
    probe.audio_pub.publish(AudioChunk(header=Header(), sample_rate=0, channels=1, encoding="int16", samples=bytes(320)))
    probe.audio_pub.publish(AudioChunk(header=Header(), sample_rate=16000, channels=1, encoding="mp3", samples=bytes(320)))
    probe.audio_pub.publish(AudioChunk(header=Header(), sample_rate=16000, channels=1, encoding="int16", samples=b""))
    probe.audio_pub.publish(AudioChunk(header=Header(), sample_rate=16000, channels=2, encoding="int16", samples=bytes(6)))
    reasons = ["NaN or Inf", "sample rate 0", "'mp3' is not supported", "empty", "whole int16 frames"]
    wait_for(lambda: all(any(r in s.reason for s in probe.statuses if s.state == REJECTED) for r in reasons), 10,
             f"rejections mentioning {reasons}")
    # the next good utterance, at 44.1 kHz stereo this time, is answered
    before = last_id(probe)
    stereo_44k = np.repeat(load_audio_at(instruction, 44100)[:, None], 2, axis=1)
    probe.send(with_silence_at(stereo_44k, 44100), sample_rate_hz=44100, speed=4.0)
    wait_for(lambda: last_id(probe) > before, 30, "the good utterance after bad chunks")
    wait_done(probe, last_id(probe))
    assert probe.states_of(last_id(probe))[-1] == DONE


def load_audio_at(x: np.ndarray, rate: int) -> np.ndarray:
    from a2m_core.audio.io import resample

    return resample(x, 16000, rate)


def with_silence_at(x: np.ndarray, rate: int) -> np.ndarray:
    pad = np.zeros((int(rate * 0.5),) + x.shape[1:], np.float32)
    return np.concatenate([pad, x, pad, pad])


def test_flood_100x_real_time_is_bounded_and_the_node_recovers(motion_node, probe, instruction):
    """8 utterances in 0.35 s: the audio queue absorbs them, the job queue (2) rejects any surplus
    as busy; every utterance that got a number ends DONE or REJECTED, and the next one is answered."""
    probe.wait_connected()
    before = last_id(probe)
    burst = np.concatenate([with_silence(instruction, 0.2, 0.8)] * 8)
    probe.send(burst, speed=100.0, chunk_s=0.2)
    wait_for(lambda: last_id(probe) >= before + 2, 30, "the flood's utterances to be accepted or rejected")
    wait_settled(probe)
    flood = sorted({s.utterance_id for s in probe.statuses if s.utterance_id > before})
    for uid in flood:
        assert answered(probe.states_of(uid), or_rejected=True), probe.states_of(uid)
    rejected = [s.reason for s in probe.statuses if s.utterance_id in flood and s.state == REJECTED]
    assert all("busy" in r for r in rejected), rejected
    assert motion_node.proc.poll() is None
    after = last_id(probe)
    probe.send(with_silence(instruction), speed=4.0)
    wait_for(lambda: last_id(probe) > after, 30, "the utterance after the flood")
    wait_done(probe, last_id(probe))
    assert answered(probe.states_of(last_id(probe))), [s.reason for s in probe.statuses]


def test_ten_minutes_of_speech_keeps_memory_bounded(motion_node, probe, instruction):
    """10 minutes of speech without a pause, at 100x real time: cut at max_utterance_s into parts, each one
    generated or refused as busy naming the audio dropped; memory flat."""
    probe.wait_connected()

    def rss_mb() -> float:
        for line in open(f"/proc/{motion_node.proc.pid}/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    loud = np.flatnonzero(np.abs(instruction) > 0.01)
    words = instruction[loud[0]:loud[-1] + 1]  # no pause as long as hangover_s, even where the tiles meet
    talk = np.tile(words, int(600 * 16000 / len(words)) + 1)[: 600 * 16000]
    before_id, rss0 = last_id(probe), rss_mb()
    # Sent in 30 s bursts, each once the node has cut the parts of all but the last burst. Sent in one
    # go, a node slowed by a loaded machine fell minutes behind and best-effort DDS dropped much of the
    # talk (see docs/ros.md).
    block, part_s = 30 * 16000, 6.02  # max_utterance_s 6 in whole 32 ms VAD frames

    def part_ids() -> set[int]:
        return {s.utterance_id for s in list(probe.statuses) if s.utterance_id > before_id}

    for start in range(0, len(talk), block):
        due = int(max(0, start - block) / 16000 / part_s) - 1
        wait_for(lambda: len(part_ids()) >= due, 120,
                 lambda: f"{due} parts before sending from {start / 16000:.0f} s on; heard {len(part_ids())}")
        probe.send(talk[start:start + block], speed=100.0, chunk_s=0.5)
    probe.send(np.zeros(16000, np.float32), speed=100.0, chunk_s=0.5)  # 1 s of silence ends the last part
    wait_settled(probe, quiet_s=5.0, timeout_s=180)

    def reasons(uid: int) -> str:
        return " ".join(s.reason for s in list(probe.statuses) if s.utterance_id == uid)

    parts = range(min(part_ids()), last_id(probe) + 1)
    assert "max_utterance_s" in reasons(parts[0]), "continuous speech must be cut at max_utterance_s"
    for uid in parts:  # each part generated or refused as busy, naming the audio dropped
        states = probe.states_of(uid)
        assert answered(states, or_rejected=True), (uid, states)
        if states == [REJECTED]:
            reason = [s.reason for s in probe.statuses if s.utterance_id == uid][0]
            assert "busy" in reason and "s of audio dropped" in reason, reason
    # nothing skipped between parts: together they hold the whole talk
    heard_s = sum(max(s.audio_s for s in probe.statuses if s.utterance_id == uid) for uid in parts)
    assert heard_s == pytest.approx(len(talk) / 16000, abs=1.0)
    grown = rss_mb() - rss0
    assert grown < 150, f"RSS grew by {grown:.0f} MB over 10 minutes of audio"
    assert motion_node.proc.poll() is None


def test_generate_motion_action_feedback_result_and_cancel(motion_node, probe, instruction):

    from a2m_ros.action import GenerateMotion
    from a2m_ros.messages import audio_chunk
    from std_msgs.msg import Header

    probe.wait_connected()
    assert probe.action.wait_for_server(timeout_sec=20)
    goal = GenerateMotion.Goal(audio=audio_chunk(instruction, 16000, Header()), motion_s=3.0)
    feedback = []
    send = probe.action.send_goal_async(goal, feedback_callback=lambda f: feedback.append(f.feedback.stage))
    wait_for(send.done, 20, "the goal to be accepted")
    handle = send.result()
    assert handle.accepted
    result_future = handle.get_result_async()
    wait_for(result_future.done, 60, "the action result")
    result = result_future.result()
    assert result.status == 4, result.result.message  # SUCCEEDED
    assert len(result.result.trajectory.points) == 60  # 3 s at 20 fps, as asked
    assert list(result.result.trajectory.joint_names) == urdf_movable_joints()
    assert "generating" in feedback
    # cancel right after acceptance: no result, state CANCELED
    send = probe.action.send_goal_async(goal)
    wait_for(send.done, 20, "the second goal to be accepted")
    handle = send.result()
    cancel = handle.cancel_goal_async()
    wait_for(cancel.done, 20, "the cancel response")
    result_future = handle.get_result_async()
    wait_for(result_future.done, 60, "the cancelled goal's result")
    assert result_future.result().status == 5  # CANCELED
    # a recording longer than max_utterance_s (6 s here) is refused with the reason, not generated from
    long_goal = GenerateMotion.Goal(audio=audio_chunk(np.tile(instruction, 3), 16000, Header()))
    send = probe.action.send_goal_async(long_goal)
    wait_for(send.done, 20, "the long goal")
    result_future = send.result().get_result_async()
    wait_for(result_future.done, 20, "the long goal's result")
    assert result_future.result().status == 6 and "max_utterance_s" in result_future.result().result.message
    # text goals are refused with a reason (no text model loaded)
    send = probe.action.send_goal_async(GenerateMotion.Goal(text="wave"))
    wait_for(send.done, 20, "the text goal")
    result_future = send.result().get_result_async()
    wait_for(result_future.done, 20, "the text goal's result")
    assert result_future.result().status == 6 and "text model" in result_future.result().result.message  # ABORTED


def test_missing_model_is_reported_and_picked_up_once_it_exists(ros_env, start_node, probe, instruction, tmp_path):
    from a2m_core.model import preset_model, save_model

    model_dir = tmp_path / "model"
    node = start_node("a2m_ros.motion_node", "--ros-args", "-p", f"model_path:={model_dir}", "-r", "__ns:=/missing")

    ns_probe = Probe(probe.node.context, namespace="/missing")
    try:
        ns_probe.wait_connected()
        wait_for(lambda: "model folder not found" in node.log(), 30, "the node to log the missing model")
        ns_probe.send(with_silence(instruction), speed=4.0)
        wait_for(lambda: last_id(ns_probe) >= 1 and REJECTED in ns_probe.states_of(1), 30, "the utterance's rejection")
        assert "model not loaded" in [s for s in ns_probe.statuses if s.utterance_id == 1][-1].reason
        save_model(preset_model("tiny"), model_dir)
        ns_probe.send(with_silence(instruction), speed=4.0)
        wait_for(lambda: DONE in ns_probe.states_of(2), 60, "the next utterance to be answered with the model")
        assert node.proc.poll() is None
    finally:
        ns_probe.close()
    assert node.stop(signal.SIGTERM) == 0, node.log()


def test_audio_file_node_process_plays_a_44k_stereo_file_into_the_motion_node(motion_node, probe, speech, start_node,
                                                                              tmp_path):
    from a2m_core.audio.io import resample, save_wav

    mono = load_audio(speech("step to the left and clap")).samples
    stereo_44k = np.repeat(resample(mono, 16000, 44100)[:, None], 2, axis=1)
    path = tmp_path / "stereo44k.wav"
    save_wav(path, stereo_44k, 44100)
    probe.wait_connected()
    before = last_id(probe)
    player = start_node("a2m_ros.audio_file_node", "--ros-args", "-p", f"path:={path}", "-p", "speed:=2.0")
    wait_for(lambda: last_id(probe) > before, 60, "the file's utterance")
    assert player.proc.wait(30) == 0, player.log()  # exits by itself at the end of the file
    wait_done(probe, last_id(probe))
    done = [s for s in probe.statuses if s.utterance_id == last_id(probe)]
    assert answered([s.state for s in done])
    assert done[-1].audio_s == pytest.approx(len(mono) / 16000, abs=0.6)


@pytest.fixture(scope="module")
def tiny_text_model(tmp_path_factory):
    """A randomly initialised text-conditioned model (MiniLM front-end, tiny transformers) in a folder."""
    from dataclasses import replace

    from a2m_core.model import AudioToMotion, save_model
    from a2m_core.model.config import frontend_dim
    from a2m_core.model.presets import preset_config
    from a2m_core.model.text_encoder import TextFrontendConfig

    config, frontend = preset_config("tiny"), TextFrontendConfig()
    config = replace(config, frontend=frontend, condition=replace(config.condition, dim_in=frontend_dim(frontend)))
    return save_model(AudioToMotion(config).eval(), tmp_path_factory.mktemp("text_model") / "model")


def test_typed_instructions_with_a_text_model(ros_env, start_node, rclpy_context, tiny_text_model):
    from std_msgs.msg import String

    from a2m_ros.action import GenerateMotion

    node = start_node("a2m_ros.motion_node", "--ros-args", "-p", f"model_path:={tiny_text_model}",
                      "-r", "__ns:=/text")
    probe = Probe(rclpy_context, namespace="/text")
    try:
        instruction = probe.node.create_publisher(String, "instruction", 10)
        probe.wait_connected(60)
        wait_for(lambda: instruction.get_subscription_count() > 0, 20, "the instruction subscription")
        instruction.publish(String(data="wave with your right hand"))
        wait_for(lambda: DONE in probe.states_of(1), 60, f"the typed instruction's motion: {node.log()[-2000:]}")
        assert answered(probe.states_of(1))
        wait_for(lambda: probe.trajectories, 10, "the trajectory")  # another topic: may arrive after DONE
        assert len(probe.trajectories[0].points) > 0
        instruction.publish(String(data="   "))
        wait_for(lambda: REJECTED in probe.states_of(2), 30, "the empty instruction's rejection")
        assert "empty" in [s for s in probe.statuses if s.utterance_id == 2][-1].reason
        assert probe.action.wait_for_server(timeout_sec=20)
        send = probe.action.send_goal_async(GenerateMotion.Goal(text="jump", motion_s=1.0))
        wait_for(send.done, 20, "the text goal")
        result = send.result().get_result_async()
        wait_for(result.done, 60, "the text goal's result")
        assert result.result().status == 4 and len(result.result().result.trajectory.points) == 20
    finally:
        probe.close()
    assert node.stop(signal.SIGINT) == 0, node.log()
