"""Soak: many spoken instructions with varied voices and pauses through the motion node; utterances in = out.

The instructions (espeak-ng, a different voice each) are joined with pauses drawn from
`pause_s` into one recording, played in real time into the motion node: by audio_file_node in
the caller's process (`a2m ros up`'s arrangement), or with every node its own process talking
over DDS (`soak_processes`): audio_file_node, or microphone_node recording a PulseAudio null
sink that the recording is played into. Every instruction must come out as exactly one
utterance, DONE, whose audio is as long as the instruction (plus pre-roll and a little trailing
silence); the motion node's RSS is read before and after.
"""

from __future__ import annotations

import os
import random
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from a2m_core.audio.io import SAMPLE_RATE_HZ
from a2m_ros.latency_bench import SENTENCES, finished, speak
from a2m_ros.msg import AudioChunk, MotionStatus
from a2m_ros.null_sink import NullSink

VOICES = ("en-us", "en-gb", "en-gb-scotland+m3", "en-029+f2", "en-us-nyc+m7", "en-gb-x-rp+f4", "en-us+m2",
          "en-gb-x-gbclan+f1")
AUDIO_TOLERANCE_S = 0.6  # an utterance's audio vs its instruction's: pre-roll 0.3 s, trailing silence, VAD onset
QUIET_S = 5.0  # recording played, every utterance answered: this long without a status ends the run
STALL_LOG = "the sender stopped"  # the motion node's log line when it ends an utterance on a stall
MIC_LOSS_LOG = "audio block(s) lost"  # the microphone node's warning when it could not keep up
LEAD_IN_S = 2.0  # silence before the first instruction: playing starts once the soak hears the microphone
# node's first chunk, and under load the motion node may not have matched that publisher yet


@dataclass(frozen=True)
class SoakPlan:
    """The recording: where each instruction's speech is (samples), in order."""

    samples: np.ndarray  # (n) float32 16 kHz
    spans: list[tuple[int, int]]  # (first, last + 1) audible sample of each instruction
    texts: list[str]


def soak_plan(count: int, seed: int, pause_s: tuple[float, float]) -> SoakPlan:
    """`count` instructions, voice and text cycling, separated by pauses drawn uniformly from `pause_s`."""
    rng = random.Random(seed)
    lead_in = int(LEAD_IN_S * SAMPLE_RATE_HZ)
    parts, spans, texts, position = [np.zeros(lead_in, np.float32)], [], [], lead_in
    for i in range(count):
        text = SENTENCES[i % len(SENTENCES)]
        speech = speak(text, voice=VOICES[i % len(VOICES)])
        loud = np.flatnonzero(np.abs(speech) > 0.01)
        speech = speech[loud[0]:loud[-1] + 1]
        spans.append((position, position + len(speech)))
        pause = np.zeros(int(rng.uniform(*pause_s) * SAMPLE_RATE_HZ), np.float32)
        parts += [speech, pause]
        texts.append(text)
        position += len(speech) + len(pause)
    return SoakPlan(np.concatenate(parts), spans, texts)


class StatusLog(Node):
    """Keeps every MotionStatus the motion node sends."""

    def __init__(self, **node_options):
        super().__init__("a2m_soak_status", **node_options)
        self.statuses: list[MotionStatus] = []
        self._lock = threading.Lock()
        self.create_subscription(MotionStatus, "motion_status", self._on_status,
                                 QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE))

    def _on_status(self, msg: MotionStatus) -> None:
        with self._lock:
            self.statuses.append(msg)

    def snapshot(self) -> list[MotionStatus]:
        with self._lock:
            return list(self.statuses)


@dataclass(frozen=True)
class SoakReport:
    instructions: int
    utterances: int  # numbered utterances the node made of the recording
    done: int
    rejected: list[str]  # reasons
    audio_mismatch: list[tuple[int, float, float]]  # (utterance id, its audio s, the instruction's s) beyond tolerance
    rss_start_mb: float
    rss_end_mb: float
    latency_ms: tuple[float, float]  # end of speech -> DONE as the node reports it: p50, p95 (0 when none)

    @property
    def ok(self) -> bool:
        return (self.utterances == self.done == self.instructions and not self.rejected
                and not self.audio_mismatch)

    def summary(self) -> str:
        lines = [f"instructions in: {self.instructions}; utterances out: {self.utterances} "
                 f"({self.done} done, {len(self.rejected)} rejected)",
                 f"motion node process RSS: {self.rss_start_mb:.0f} MB at start, {self.rss_end_mb:.0f} MB at the end",
                 f"node latency p50 / p95: {self.latency_ms[0]:.0f} / {self.latency_ms[1]:.0f} ms"]
        lines += [f"rejected: {reason}" for reason in self.rejected]
        lines += [f"utterance {uid}: {got:.2f} s of audio for an instruction of {want:.2f} s"
                  for uid, got, want in self.audio_mismatch]
        lines.append("soak passed" if self.ok else "soak FAILED")
        return "\n".join(lines)


def rss_mb(pid: int | str = "self") -> float:
    """A process's resident memory now (default: this one)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if pid == "self" else float("nan")


def soak_report(plan: SoakPlan, statuses: list[MotionStatus], rss_start_mb: float, rss_end_mb: float) -> SoakReport:
    """Match the node's utterances (ids from 1, in order) to the plan's instructions."""
    ids = sorted({s.utterance_id for s in statuses if s.utterance_id > 0})
    done = {s.utterance_id: s for s in statuses if s.state == MotionStatus.STATE_DONE and s.utterance_id > 0}
    rejected = [s.reason for s in statuses if s.state == MotionStatus.STATE_REJECTED and s.utterance_id > 0]
    mismatch = []
    for uid, (start, end) in zip(ids, plan.spans):
        want = (end - start) / SAMPLE_RATE_HZ
        got = done[uid].audio_s if uid in done else 0.0
        if abs(got - want) > AUDIO_TOLERANCE_S:
            mismatch.append((uid, got, want))
    latencies = [s.latency_s * 1000 for s in done.values()]
    latency_ms = (float(np.percentile(latencies, 50)), float(np.percentile(latencies, 95))) if latencies else (0.0, 0.0)
    return SoakReport(len(plan.spans), len(ids), len(done), rejected, mismatch, rss_start_mb, rss_end_mb, latency_ms)


def log_about(log: str, utterance_ids: list[int], context: int = 3) -> str:
    """The lines of a node's log that name one of `utterance_ids`, each with `context` lines either side."""
    lines = log.splitlines()
    named = re.compile(r"utterance (" + "|".join(map(str, utterance_ids)) + r")\b")
    keep = sorted({j for i, line in enumerate(lines) if named.search(line)
                   for j in range(max(0, i - context), min(len(lines), i + context + 1))})
    return "\n".join(lines[j] for j in keep) or "(no line names them)"


class NodeProcess:
    """One node as its own process (`python -m MODULE --ros-args ...`), its output in a log file."""

    def __init__(self, module: str, ros_args: list[str], log_path: Path, env: dict[str, str]):
        self.name = module.rsplit(".", 1)[-1]
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", module, *ros_args], env=env,
                                         stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def died(self) -> str | None:
        """What went wrong when the process has exited on its own with an error, else None."""
        rc = self.proc.poll()
        return None if rc in (None, 0) else f"{self.name} exited with status {rc}: {self.log()[-3000:]}"

    def stop(self) -> int:
        """SIGINT (the nodes exit 0 on it), then SIGKILL if it has not gone within 30 s; its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def _wait(done: Callable[[], bool], spin: Callable[[], None], processes: list[NodeProcess], timeout_s: float,
          what: str) -> None:
    """Spin until `done()`; RuntimeError when `timeout_s` passes or one of `processes` fails first."""
    deadline = time.monotonic() + timeout_s
    while not done():
        for process in processes:
            if (why := process.died()) is not None:
                raise RuntimeError(f"while waiting for {what}: {why}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        spin()


def soak_processes(plan: SoakPlan, wav: Path, params: list[Path], folder: Path, wait_s: float,
                   mic: bool) -> tuple[SoakReport, list[str]]:
    """Play `wav` (the plan's recording) through motion_node and a source, each its own process.

    The source is audio_file_node, or with `mic` microphone_node recording the monitor of a
    PulseAudio null sink (started here, in `folder`) that paplay plays the recording into in
    real time. This process only listens to motion_status (rclpy must be initialised). Returns the
    report and notes: stalls the motion node logged, node processes that did not exit cleanly.
    """
    from rclpy.executors import SingleThreadedExecutor

    ros_args = ["--ros-args"] + [arg for path in params for arg in ("--params-file", str(path))]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    status_log = StatusLog()
    executor = SingleThreadedExecutor()
    executor.add_node(status_log)

    def spin() -> None:
        executor.spin_once(timeout_sec=0.05)

    sink = NullSink(folder) if mic else None
    player: subprocess.Popen | None = None
    motion = NodeProcess("a2m_ros.motion_node", ros_args, folder / "motion_node.log", env)
    processes, notes = [motion], []
    try:
        # the node subscribes to `audio` once its model is loaded and warmed up
        _wait(lambda: status_log.count_subscribers("audio") > 0, spin, processes, wait_s,
              "the motion node to load its model and subscribe to audio")
        rss_start = rss_mb(motion.proc.pid)
        if sink is not None:
            sink.start()
            source = NodeProcess("a2m_ros.microphone_node", ros_args, folder / "microphone_node.log",
                                 dict(env, PULSE_SERVER=sink.address))
            processes.append(source)
            heard = threading.Event()
            audio = status_log.create_subscription(AudioChunk, "audio", lambda _chunk: heard.set(),
                                                   qos_profile_sensor_data)
            _wait(heard.is_set, spin, processes, 60, "the microphone node's first chunk from the null sink's monitor")
            status_log.destroy_subscription(audio)
            player = sink.play(wav)  # the recording starts with LEAD_IN_S of silence
            played = lambda: player.poll() is not None  # noqa: E731
        else:
            source = NodeProcess("a2m_ros.audio_file_node", ros_args, folder / "audio_file_node.log", env)
            played = lambda: source.proc.poll() is not None  # noqa: E731
            processes.append(source)
        _wait(played, spin, processes, len(plan.samples) / SAMPLE_RATE_HZ + wait_s, "the recording to be played")
        for process in processes:  # audio_file_node has exited: with 0 only when it played the whole file
            if (why := process.died()) is not None:
                raise RuntimeError(f"while the recording played: {why}")
        if player is not None and player.returncode != 0:
            raise RuntimeError(f"paplay exited with status {player.returncode}; PulseAudio's log: "
                               f"{sink.log.read_text(errors='replace')[-2000:]}")
        count, changed = 0, time.monotonic()

        def settled() -> bool:
            nonlocal count, changed
            statuses = status_log.snapshot()
            if len(statuses) != count:
                count, changed = len(statuses), time.monotonic()
            return finished(statuses) and time.monotonic() - changed > QUIET_S

        _wait(settled, spin, [motion], wait_s, "the motion node's last answers")
        report = soak_report(plan, status_log.snapshot(), rss_start, rss_mb(motion.proc.pid))
    finally:
        if player is not None and player.poll() is None:
            player.terminate()
            player.wait(10)
        for process in reversed(processes):
            if (rc := process.stop()) != 0:
                notes.append(f"{process.name} exited with status {rc} on SIGINT: {process.log()[-2000:]}")
        if sink is not None:
            sink.stop()
        executor.shutdown()
        status_log.destroy_node()
    notes.insert(0, f"stalls in the motion node's log: {motion.log().count(STALL_LOG)}")
    if report.audio_mismatch:
        notes.append("the motion node's log about those utterances:\n"
                     + log_about(motion.log(), [uid for uid, _, _ in report.audio_mismatch]))
    if sink is not None:
        notes.insert(1, f"warnings of lost blocks in the microphone node's log: {source.log().count(MIC_LOSS_LOG)}")
    return report, notes
