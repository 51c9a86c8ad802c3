"""End of speech -> JointTrajectory latency of the motion node, measured over DDS.

A sender node publishes speech (espeak-ng) in real time as AudioChunks; the time the chunk
holding the last audible sample went out is the end of speech; the time the last JointTrajectory
for that speech arrives at a second node is the answer (a trajectory published at a pause inside
the sentence is replaced by a later one, so it is not the answer). The motion node runs in the same process but talks
to both through the middleware, as it would to a microphone node and a controller.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory

from a2m_core.audio.io import SAMPLE_RATE_HZ, resample
from a2m_core.audio.speech import espeak
from a2m_ros.messages import audio_chunk
from a2m_ros.msg import AudioChunk, MotionStatus

SENTENCES = ("walk forward, then wave with your right hand", "jump twice", "turn around and sit down",
             "raise both arms above your head", "take three steps to the left")


@dataclass(frozen=True)
class LatencySample:
    sentence: str
    speech_s: float
    latency_s: float  # end of speech (sent) -> trajectory (received)
    node_latency_s: float  # as the node reports it on motion_status
    motion_s: float
    utterances: int  # utterances the node made of the sentence: 1, unless it split it


def speak(text: str, voice: str = "en-us") -> np.ndarray:
    """espeak-ng speech as float32 mono 16 kHz."""
    return resample(*espeak(text, voice))


def finished(statuses: list[MotionStatus]) -> bool:
    """Every numbered utterance has its last word: its latest status is DONE or REJECTED.

    Latest, not any: an answer published at a pause is followed by ACCEPTED again when speech went on.
    """
    latest = {s.utterance_id: s.state for s in statuses if s.utterance_id > 0}
    return all(state in (MotionStatus.STATE_DONE, MotionStatus.STATE_REJECTED) for state in latest.values())


class LatencyProbe(Node):
    """Sends utterances in real time and times the trajectories that come back."""

    def __init__(self, chunk_s: float = 0.05, **node_options):
        super().__init__("a2m_latency_probe", **node_options)
        self.chunk_len = round(chunk_s * SAMPLE_RATE_HZ)
        self.audio_pub = self.create_publisher(AudioChunk, "audio", qos_profile_sensor_data)
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.arrivals: list[float] = []  # time.monotonic() of each JointTrajectory received
        self.statuses: list[MotionStatus] = []
        self.status_came = threading.Condition()
        self.create_subscription(JointTrajectory, "joint_trajectory", self._on_trajectory, reliable)
        self.create_subscription(MotionStatus, "motion_status", self._on_status,
                                 QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))

    def _on_status(self, msg: MotionStatus) -> None:
        with self.status_came:
            self.statuses.append(msg)
            self.status_came.notify_all()

    def _on_trajectory(self, _msg: JointTrajectory) -> None:
        with self.status_came:
            self.arrivals.append(time.monotonic())
            self.status_came.notify_all()

    def send(self, speech: np.ndarray, silence_s: float) -> float:
        """Publish 0.3 s silence + speech + silence in real time; return when the end of speech went out.

        All of the silence is sent even when the answer comes sooner, so that a node that split the
        speech shows it (two utterances) rather than leaving the rest unsent.
        """
        loud = np.flatnonzero(np.abs(speech) > 0.01)
        lead = int(0.3 * SAMPLE_RATE_HZ)
        speech_end = lead + (loud[-1] + 1 if len(loud) else len(speech))
        stream = np.concatenate([np.zeros(lead, np.float32), speech, np.zeros(int(silence_s * SAMPLE_RATE_HZ), np.float32)])
        start, end_sent = time.monotonic(), None
        for i in range(0, len(stream), self.chunk_len):
            time.sleep(max(0.0, start + (i + self.chunk_len) / SAMPLE_RATE_HZ - time.monotonic()))  # a mic's pace
            self.audio_pub.publish(audio_chunk(stream[i:i + self.chunk_len], SAMPLE_RATE_HZ, Header()))
            if end_sent is None and i + self.chunk_len >= speech_end:
                end_sent = time.monotonic()
        return end_sent

    def answered(self, statuses_seen: int, trajectories_seen: int) -> bool:
        """Every utterance since then ended (see `finished`), and each DONE's trajectory came."""
        statuses = self.statuses[statuses_seen:]
        done = sum(s.state == MotionStatus.STATE_DONE for s in statuses)
        return bool(statuses) and finished(statuses) and len(self.arrivals) - trajectories_seen >= done


def summarise(samples: list[LatencySample]) -> str:
    lat = [s.latency_s * 1000 for s in samples]
    lines = [f"{'sentence':48s} {'speech s':>8s} {'motion s':>8s} {'utts':>4s} {'latency ms':>10s} {'node ms':>8s}"]
    lines += [f"{s.sentence[:48]:48s} {s.speech_s:8.2f} {s.motion_s:8.2f} {s.utterances:4d} {s.latency_s * 1000:10.0f} "
              f"{s.node_latency_s * 1000:8.0f}" for s in samples]
    p95 = statistics.quantiles(lat, n=20, method="inclusive")[-1] if len(lat) > 1 else lat[0]
    lines.append(f"end of speech -> trajectory: median {statistics.median(lat):.0f} ms, p95 {p95:.0f} ms, "
                 f"min {min(lat):.0f} ms, max {max(lat):.0f} ms over {len(lat)} utterances")
    return "\n".join(lines)


def run_latency_bench(executor, probe: LatencyProbe, runs: int, silence_s: float = 2.0,
                      timeout_s: float = 120.0) -> list[LatencySample]:
    """Spin `executor` (holding the motion node and the probe) while timing `runs` utterances."""
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        return _time_utterances(probe, runs, silence_s, timeout_s)
    finally:  # stop spinning before the caller destroys the nodes: rclpy aborts on nodes torn down mid-spin
        executor.shutdown(timeout_sec=10)
        spinner.join(10)


def _time_utterances(probe: LatencyProbe, runs: int, silence_s: float, timeout_s: float) -> list[LatencySample]:
    deadline = time.monotonic() + 30
    while probe.audio_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let discovery settle before timing
    samples = []
    for i in range(runs):
        sentence = SENTENCES[i % len(SENTENCES)]
        speech = speak(sentence)
        with probe.status_came:
            seen, received = len(probe.statuses), len(probe.arrivals)
        end_sent = probe.send(speech, silence_s)
        with probe.status_came:  # trajectories and statuses travel on two topics: either comes first
            answered = probe.status_came.wait_for(lambda: probe.answered(seen, received), timeout_s)
            statuses = probe.statuses[seen:]
            if not answered or len(probe.arrivals) == received:
                raise RuntimeError(f"no trajectory {timeout_s if not answered else 0:g} s after the end of speech; "
                                   f"statuses: {[(s.utterance_id, s.state, s.reason) for s in statuses[-5:]]}")
            latency = probe.arrivals[-1] - end_sent
        done = [s for s in statuses if s.state == MotionStatus.STATE_DONE]
        node_latency, motion_s = (done[-1].latency_s, done[-1].motion_s) if done else (float("nan"),) * 2
        utterances = len({s.utterance_id for s in statuses if s.state == MotionStatus.STATE_ACCEPTED})
        samples.append(LatencySample(sentence, len(speech) / SAMPLE_RATE_HZ, latency, node_latency, motion_s,
                                     utterances))
    return samples
