"""Soak: many spoken instructions with varied voices and pauses through the motion node; utterances in = out.

The instructions (espeak-ng, a different voice each) are joined with pauses drawn from
`pause_s` into one recording, which audio_file_node plays in real time into the motion node
(both in this process, talking over DDS as `a2m ros up` runs them). Every instruction must come
out as exactly one utterance, DONE, whose audio is as long as the instruction (plus pre-roll
and a little trailing silence); the motion node's RSS is read before and after.
"""

from __future__ import annotations

import random
import resource
import threading
from dataclasses import dataclass

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from a2m_core.audio.io import SAMPLE_RATE_HZ
from a2m_ros.latency_bench import SENTENCES, speak
from a2m_ros.msg import MotionStatus

VOICES = ("en-us", "en-gb", "en-gb-scotland+m3", "en-029+f2", "en-us-nyc+m7", "en-gb-x-rp+f4", "en-us+m2",
          "en-gb-x-gbclan+f1")
AUDIO_TOLERANCE_S = 0.6  # an utterance's audio vs its instruction's: pre-roll 0.3 s, trailing silence, VAD onset


@dataclass(frozen=True)
class SoakPlan:
    """The recording: where each instruction's speech is (samples), in order."""

    samples: np.ndarray  # (n) float32 16 kHz
    spans: list[tuple[int, int]]  # (first, last + 1) audible sample of each instruction
    texts: list[str]


def soak_plan(count: int, seed: int, pause_s: tuple[float, float]) -> SoakPlan:
    """`count` instructions, voice and text cycling, separated by pauses drawn uniformly from `pause_s`."""
    rng = random.Random(seed)
    parts, spans, texts, position = [np.zeros(SAMPLE_RATE_HZ // 2, np.float32)], [], [], SAMPLE_RATE_HZ // 2
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

    @property
    def ok(self) -> bool:
        return (self.utterances == self.done == self.instructions and not self.rejected
                and not self.audio_mismatch)

    def summary(self) -> str:
        lines = [f"instructions in: {self.instructions}; utterances out: {self.utterances} "
                 f"({self.done} done, {len(self.rejected)} rejected)",
                 f"motion node process RSS: {self.rss_start_mb:.0f} MB at start, {self.rss_end_mb:.0f} MB at the end"]
        lines += [f"rejected: {reason}" for reason in self.rejected]
        lines += [f"utterance {uid}: {got:.2f} s of audio for an instruction of {want:.2f} s"
                  for uid, got, want in self.audio_mismatch]
        lines.append("soak passed" if self.ok else "soak FAILED")
        return "\n".join(lines)


def rss_mb() -> float:
    """This process's resident memory now (the motion node runs in it)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def soak_report(plan: SoakPlan, statuses: list[MotionStatus], rss_start_mb: float) -> SoakReport:
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
    return SoakReport(len(plan.spans), len(ids), len(done), rejected, mismatch, rss_start_mb, rss_mb())


def finished(statuses: list[MotionStatus]) -> bool:
    """Every numbered utterance has its last word (DONE or REJECTED)."""
    ids = {s.utterance_id for s in statuses if s.utterance_id > 0}
    ended = {s.utterance_id for s in statuses if s.state in (MotionStatus.STATE_DONE, MotionStatus.STATE_REJECTED)}
    return ids <= ended
