"""motion_node: audio in, motion out.

Subscribes to `audio` (AudioChunk, sensor-data QoS), cuts utterances with a VAD, generates
motion on a worker thread behind a bounded queue, and publishes `joint_trajectory` (the whole
clip), `joint_states` and `skeleton_markers` (played back in real time) and `motion_status`
(accepted / generating / done / rejected, per utterance). Serves the `generate_motion` action.

Everything that is not ROS (resampling, VAD, generation, joint angles) is in a2m_core; this
node converts messages, holds parameters and schedules work. Bad input never stops it: it
says why on `motion_status` and in its log, and goes on with the next utterance.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from rclpy.action import ActionServer, CancelResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Header, String
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

from a2m_core.audio.io import SAMPLE_RATE_HZ, StreamResampler, check_sample_rate, check_samples, resample, to_mono
from a2m_core.audio.segmentation import SegmenterConfig, UtteranceSegmenter
from a2m_core.audio.vad import BACKENDS as VAD_BACKENDS
from a2m_core.audio.vad import make_vad
from a2m_core.errors import InputError
from a2m_core.runtime.pipeline import MotionClip, MotionPipeline
from a2m_core.runtime.torch_generator import GenerationConfig, TorchGenerator
from a2m_ros.action import GenerateMotion
from a2m_ros.messages import chunk_samples, joint_state, joint_trajectory, skeleton_markers, status_marker
from a2m_ros.msg import AudioChunk, MotionStatus
from a2m_ros.node_tools import declare, run

BACKENDS = ("torch",)  # onnxruntime / tensorrt plug in here once a2m_core.runtime has them
MODEL_PRESETS = ("paper", "edge", "tiny")
STATE_NAMES = {MotionStatus.STATE_ACCEPTED: "accepted", MotionStatus.STATE_GENERATING: "generating",
               MotionStatus.STATE_DONE: "done", MotionStatus.STATE_REJECTED: "rejected"}
AUDIO_QUEUE_DEPTH = 200  # chunks held by DDS for the audio callback (20 s of 0.1 s chunks)
ARRIVAL_HISTORY = 4096  # chunks remembered for latency (minutes at usual chunk sizes)


@dataclass(frozen=True)
class MotionNodeConfig:
    """The motion node's parameters, read once at start (see `declare_config` for their meaning)."""

    model_path: str
    model_preset: str
    backend: str
    device: str
    vad_backend: str
    segmenter: SegmenterConfig
    generation: GenerationConfig
    seed: int
    queue_size: int
    frame_id: str
    joint_prefix: str
    playback_rate: float
    max_chunk_s: float


def declare_config(node: Node) -> MotionNodeConfig:
    """Declare every parameter with its description and range; return them as one config."""
    d = SegmenterConfig()
    g = GenerationConfig()
    return MotionNodeConfig(
        model_path=declare(node, "model_path", "", "Model folder (config.json + model.safetensors); "
                           "empty: a randomly initialised model_preset (plumbing only, no meaningful motion)"),
        model_preset=declare(node, "model_preset", "paper", "Architecture of the random model when model_path is empty",
                             choices=MODEL_PRESETS),
        backend=declare(node, "backend", "torch", "Inference backend", choices=BACKENDS),
        device=declare(node, "device", "cpu", "Torch device: cpu, cuda, cuda:1, ..."),
        vad_backend=declare(node, "vad_backend", "auto", "Voice activity detector: silero (ONNX), webrtc, "
                            "or auto (silero, else webrtc)", choices=VAD_BACKENDS),
        segmenter=SegmenterConfig(
            threshold=declare(node, "vad_threshold", d.threshold, "Speech probability that starts speech", 0.05, 0.95),
            neg_threshold=declare(node, "vad_neg_threshold", d.neg_threshold,
                                  "Speech probability below which audio counts as silence", 0.01, 0.95),
            min_speech_s=declare(node, "min_speech_s", d.min_speech_s, "Shorter speech bursts are ignored", 0.0, 5.0),
            pre_roll_s=declare(node, "pre_roll_s", d.pre_roll_s, "Audio kept from before the speech onset", 0.0, 2.0),
            hangover_s=declare(node, "hangover_s", d.hangover_s, "Silence that ends an utterance", 0.05, 5.0),
            max_utterance_s=declare(node, "max_utterance_s", d.max_utterance_s,
                                    "Longer speech is cut here; the rest until a pause is skipped", 1.0, 60.0)),
        generation=GenerationConfig(
            num_iters=declare(node, "iterations", g.num_iters, "MaskGIT decoding iterations", 1, 50),
            cfg_scale=declare(node, "guidance_scale", g.cfg_scale, "Classifier-free guidance, base layer", 0.0, 20.0),
            res_cfg_scale=declare(node, "residual_guidance_scale", g.res_cfg_scale,
                                  "Classifier-free guidance, residual layers", 0.0, 20.0),
            temperature=declare(node, "temperature", g.temperature, "Sampling temperature", 0.01, 10.0)),
        seed=declare(node, "seed", 0, "Seed of utterance 1; utterance i uses seed + i - 1", 0, 2**31 - 1),
        queue_size=declare(node, "queue_size", 2, "Utterances waiting for generation; more are rejected", 1, 100),
        frame_id=declare(node, "frame_id", "world", "Frame of joint_trajectory and skeleton_markers (the URDF's root link)"),
        joint_prefix=declare(node, "joint_prefix", "", "Prefix of every joint name (as given to the avatar URDF)"),
        playback_rate=declare(node, "playback_rate", 1.0, "Speed of joint_states playback; 1 is real time", 0.05, 20.0),
        max_chunk_s=declare(node, "max_chunk_s", 5.0, "Longer AudioChunks are rejected (a stream, not a file)", 0.01, 600.0),
    )


@dataclass
class Job:
    """One piece of work for the generation worker: an utterance or an action goal."""

    utterance_id: int
    audio: np.ndarray  # (n) float32 16 kHz; empty for a typed instruction
    speech_end_time: float  # time.monotonic() when the end of speech (or the typed instruction) arrived
    text: str = ""  # a typed instruction, for text-conditioned models
    motion_s: float | None = None
    truncated: bool = False
    for_action: bool = False
    stage: str = GenerateMotion.Feedback.STAGE_QUEUED
    cancelled: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    clip: MotionClip | None = None
    generation_s: float = 0.0  # model + joint conversion, seconds
    error: str = ""


class MotionNode(Node):
    """`on_clip(utterance_id, clip)`, when given, sees every clip published (the bringup renders them)."""

    def __init__(self, on_clip: Callable[[int, MotionClip], None] | None = None, **node_options):
        super().__init__("motion_node", **node_options)
        self._on_clip = on_clip
        self.cfg = declare_config(self)
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.trajectory_pub = self.create_publisher(JointTrajectory, "joint_trajectory", reliable)
        self.state_pub = self.create_publisher(JointState, "joint_states", reliable)
        self.marker_pub = self.create_publisher(MarkerArray, "skeleton_markers", reliable)
        self.status_pub = self.create_publisher(MotionStatus, "motion_status", QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))

        self.segmenter = UtteranceSegmenter(make_vad(self.cfg.vad_backend), self.cfg.segmenter)
        self._resampler: StreamResampler | None = None
        self._fed = 0  # 16 kHz samples given to the segmenter
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=ARRIVAL_HISTORY)  # (samples fed after chunk, time)
        self._next_id = 1
        self._id_lock = threading.Lock()
        self._last_reject: dict[str, float] = {}
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=self.cfg.queue_size)
        self._pipeline: MotionPipeline | None = None
        self._playback: tuple[MotionClip, float] | None = None  # (clip, start time)
        self._playback_lock = threading.Lock()

        try:  # before subscribing: torch's import and the model load hold the GIL for seconds
            rest = self._load_pipeline().rest_clip()
            self._playback = (rest, time.monotonic())  # robot_state_publisher gets a pose before any motion
        except InputError as exc:
            self._reject(0, str(exc))
        # Sensor-data QoS (best effort, so it matches any microphone), with a deeper reader queue
        # than its 5: chunks wait there rather than being dropped while generation holds the GIL.
        audio_qos = QoSProfile(depth=AUDIO_QUEUE_DEPTH, reliability=qos_profile_sensor_data.reliability,
                               durability=qos_profile_sensor_data.durability)
        audio_group = MutuallyExclusiveCallbackGroup()
        self.create_subscription(AudioChunk, "audio", self._on_audio, audio_qos, callback_group=audio_group)
        self._last_chunk_time = time.monotonic()
        self.create_timer(0.25, self._check_stalled_stream, callback_group=audio_group)
        self.create_subscription(String, "instruction", self._on_instruction, 10)
        # every goal is accepted; _execute_goal checks it, so the reason reaches the caller in the result
        self._action = ActionServer(self, GenerateMotion, "generate_motion", self._execute_goal,
                                    cancel_callback=lambda _: CancelResponse.ACCEPT,
                                    callback_group=ReentrantCallbackGroup())
        self._worker = threading.Thread(target=self._work, name="a2m-generation", daemon=True)
        self._worker.start()
        self.create_timer(0.05, self._play, callback_group=MutuallyExclusiveCallbackGroup())
        self.get_logger().info(f"listening on {self.resolve_topic_name('audio')} (VAD: {self.segmenter.vad.name})")

    # ---------------------------------------------------------------- audio in

    def _on_audio(self, msg: AudioChunk) -> None:
        try:
            samples = self._chunk_to_16k(msg)  # (n) float32 16 kHz mono
        except InputError as exc:
            self._reject(0, f"audio chunk dropped: {exc}")
            return
        self._last_chunk_time = time.monotonic()
        self._fed += len(samples)
        self._arrivals.append((self._fed, self._last_chunk_time))
        for utterance in self.segmenter.push(samples):
            self._submit(Job(self._new_id(), utterance.samples, self._arrival_of(utterance.speech_end),
                             truncated=utterance.truncated))

    def _check_stalled_stream(self) -> None:
        """Audio stopped mid-utterance (the sender quit or paused): end the utterance as if silence followed."""
        stalled_s = max(1.0, 2 * self.cfg.segmenter.hangover_s)
        if not self.segmenter.in_speech or time.monotonic() - self._last_chunk_time < stalled_s:
            return
        self.get_logger().info(f"no audio for {stalled_s:g} s in the middle of speech: ending the utterance")
        utterances = self.segmenter.flush()  # also restarts the segmenter's sample count at 0
        arrivals = [self._arrival_of(u.speech_end) for u in utterances]
        self._fed, self._resampler = 0, None
        self._arrivals.clear()
        for utterance, arrived in zip(utterances, arrivals):
            self._submit(Job(self._new_id(), utterance.samples, arrived, truncated=utterance.truncated))

    def _chunk_to_16k(self, msg: AudioChunk) -> np.ndarray:
        rate = check_sample_rate(msg.sample_rate)
        samples = chunk_samples(msg)  # (n c)
        if len(samples) > self.cfg.max_chunk_s * rate:
            raise InputError(f"{len(samples) / rate:.1f} s in one chunk, more than max_chunk_s "
                             f"({self.cfg.max_chunk_s:g} s): send audio as a stream of short chunks, "
                             "or use the generate_motion action for whole recordings")
        check_samples(samples, what="audio chunk")
        if self._resampler is None or self._resampler.from_hz != rate:
            self._resampler = StreamResampler(rate, SAMPLE_RATE_HZ)
        return self._resampler.push(to_mono(samples))

    def _arrival_of(self, sample: int) -> float:
        """When the chunk holding 16 kHz sample `sample` arrived."""
        for fed, arrived in self._arrivals:
            if fed >= sample:
                return arrived
        return time.monotonic()

    def _on_instruction(self, msg: String) -> None:
        if self._pipeline is None or self._pipeline.generator.condition_input != "text":
            self._reject(0, f"typed instruction {msg.data[:40]!r} ignored: the loaded model is not text-conditioned; "
                            "speak it, or load a text model to use `instruction`")
            return
        self._submit(Job(self._new_id(), np.zeros(0, np.float32), time.monotonic(), text=msg.data))

    # ---------------------------------------------------------------- scheduling

    def _new_id(self) -> int:
        with self._id_lock:
            self._next_id += 1
            return self._next_id - 1

    def _submit(self, job: Job) -> bool:
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            self._reject(job.utterance_id, f"busy: {self.cfg.queue_size} utterance(s) already waiting "
                                           "(queue_size); speak again when the avatar has moved", len(job.audio))
            job.error = "queue full"
            job.done.set()
            return False
        note = f"cut at max_utterance_s ({self.cfg.segmenter.max_utterance_s:g} s)" if job.truncated else ""
        self._status(job.utterance_id, MotionStatus.STATE_ACCEPTED, note, len(job.audio))
        return True

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                self._run(job)
            finally:
                job.done.set()
                self._jobs.task_done()

    def _run(self, job: Job) -> None:
        """Generate one job's clip; publish it unless it is for an action or was cancelled."""
        if job.cancelled.is_set():
            return
        started = time.monotonic()
        try:
            job.stage = GenerateMotion.Feedback.STAGE_GENERATING
            self._status(job.utterance_id, MotionStatus.STATE_GENERATING, "", len(job.audio))
            pipeline = self._load_pipeline()
            seed = self.cfg.seed + job.utterance_id - 1
            if job.text:
                features = pipeline.generator.from_text(job.text, motion_s=job.motion_s, seed=seed)  # (t d)
            else:
                check_samples(job.audio, what="utterance")
                features = pipeline.generator(job.audio, motion_s=job.motion_s, seed=seed)  # (t d)
            job.stage = GenerateMotion.Feedback.STAGE_CONVERTING
            job.clip = pipeline.clip_from_features(features)
            job.generation_s = time.monotonic() - started
        except Exception as exc:  # noqa: BLE001 - any failure rejects this utterance, never the node
            job.error = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
            self._reject(job.utterance_id, f"generation failed: {job.error}", len(job.audio))
            if not isinstance(exc, InputError):
                self.get_logger().error(f"utterance {job.utterance_id}: {job.error}")
            return
        if not job.for_action and not job.cancelled.is_set():
            self._publish_clip(job)

    def _load_pipeline(self) -> MotionPipeline:
        """The pipeline, loaded at start and, after a failure, tried again for each utterance (a fixed model is picked up)."""
        if self._pipeline is None:
            cfg = self.cfg
            try:
                generator = TorchGenerator.from_path_or_preset(cfg.model_path, cfg.model_preset, cfg.device, cfg.generation)
            except Exception as exc:
                raise InputError(f"model not loaded: {exc}") from exc
            self._pipeline = MotionPipeline(generator, cfg.joint_prefix)
            what = cfg.model_path or f"random {cfg.model_preset} model"
            self.get_logger().info(f"model ready: {what} on {cfg.device}")
        return self._pipeline

    def _publish_clip(self, job: Job) -> None:
        clip = job.clip
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.cfg.frame_id)
        self.trajectory_pub.publish(joint_trajectory(clip, header))
        latency = time.monotonic() - job.speech_end_time
        with self._playback_lock:
            self._playback = (clip, time.monotonic())
        self._status(job.utterance_id, MotionStatus.STATE_DONE, "", len(job.audio), clip.duration_s, latency)
        if self._on_clip is not None:
            self._on_clip(job.utterance_id, clip)
        self.get_logger().info(f"utterance {job.utterance_id}: {len(job.audio) / SAMPLE_RATE_HZ:.2f} s of audio -> "
                               f"{clip.duration_s:.2f} s of motion, {latency * 1000:.0f} ms after the end of speech "
                               f"(generation {job.generation_s * 1000:.0f} ms)")

    # ---------------------------------------------------------------- playback

    def _play(self) -> None:
        with self._playback_lock:
            playback = self._playback
        if playback is None:
            return
        clip, start = playback
        frame = min(int((time.monotonic() - start) * self.cfg.playback_rate * clip.fps), clip.num_frames - 1)
        stamp = self.get_clock().now().to_msg()
        self.state_pub.publish(joint_state(clip, frame, stamp))
        self.marker_pub.publish(skeleton_markers(clip, frame, Header(stamp=stamp, frame_id=self.cfg.frame_id)))

    # ---------------------------------------------------------------- status

    def _status(self, utterance_id: int, state: int, reason: str = "", num_samples: int = 0,
                motion_s: float = 0.0, latency_s: float = 0.0) -> None:
        """Publish on motion_status, and as a text marker (the status overlay in RViz)."""
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.cfg.frame_id)
        self.status_pub.publish(MotionStatus(
            header=header, utterance_id=utterance_id, state=state, reason=reason,
            audio_s=num_samples / SAMPLE_RATE_HZ, motion_s=float(motion_s), latency_s=float(latency_s)))
        text = f"utterance {utterance_id}: {STATE_NAMES[state]}"
        if state == MotionStatus.STATE_DONE:
            text += f", {motion_s:.1f} s of motion, {latency_s * 1000:.0f} ms"
        self.marker_pub.publish(status_marker(f"{text}\n{reason[:80]}" if reason else text, header))

    def _reject(self, utterance_id: int, reason: str, num_samples: int = 0) -> None:
        """Say why on motion_status and in the log; input rejected before it became an utterance at most once a second per reason."""
        if utterance_id == 0:
            key = reason.split(":")[0] + reason[-40:]
            now = time.monotonic()
            if now - self._last_reject.get(key, -1e9) < 1.0:
                return
            self._last_reject[key] = now
        self.get_logger().warning(f"rejected{f' utterance {utterance_id}' if utterance_id else ''}: {reason}")
        self._status(utterance_id, MotionStatus.STATE_REJECTED, reason, num_samples)

    # ---------------------------------------------------------------- action

    def _execute_goal(self, goal_handle) -> GenerateMotion.Result:
        started = time.monotonic()
        goal: GenerateMotion.Goal = goal_handle.request
        result = GenerateMotion.Result()
        audio = np.zeros(0, np.float32)
        try:
            text_model = self._pipeline is not None and self._pipeline.generator.condition_input == "text"
            if goal.text and not text_model:
                raise InputError("text goals need a text model; this node has an audio model: send audio")
            if not goal.text:
                audio = chunk_samples(goal.audio)  # (n c)
                check_samples(audio, what="goal audio")
                audio = resample(to_mono(audio), check_sample_rate(goal.audio.sample_rate), SAMPLE_RATE_HZ)
                if len(audio) > self.cfg.segmenter.max_utterance_s * SAMPLE_RATE_HZ:
                    raise InputError(f"goal audio is {len(audio) / SAMPLE_RATE_HZ:.1f} s, longer than max_utterance_s "
                                     f"({self.cfg.segmenter.max_utterance_s:g} s): send one instruction per goal")
        except InputError as exc:
            result.message = str(exc)
            self._reject(0, f"goal rejected: {exc}")
            goal_handle.abort()
            return result
        job = Job(self._new_id(), audio, started, text=goal.text, motion_s=goal.motion_s or None, for_action=True)
        if not self._submit(job):
            result.message = job.error
            goal_handle.abort()
            return result
        stage = ""
        while not job.done.wait(0.02):
            if goal_handle.is_cancel_requested:
                job.cancelled.set()
            if job.stage != stage:
                stage = job.stage
                goal_handle.publish_feedback(GenerateMotion.Feedback(stage=stage))
        if goal_handle.is_cancel_requested or job.cancelled.is_set():
            goal_handle.canceled()
            result.message = "cancelled"
            self._reject(job.utterance_id, "goal cancelled by its client", len(audio))
            return result
        if job.clip is None:
            result.message = job.error
            goal_handle.abort()
            return result
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.cfg.frame_id)
        result.trajectory = joint_trajectory(job.clip, header)
        result.latency_s = time.monotonic() - started
        self._status(job.utterance_id, MotionStatus.STATE_DONE, "generate_motion goal", len(audio),
                     job.clip.duration_s, result.latency_s)
        goal_handle.succeed()
        return result

    @property
    def playing(self) -> bool:
        """joint_states playback of the latest clip has not reached its last frame yet."""
        with self._playback_lock:
            if self._playback is None:
                return False
            clip, start = self._playback
        return (time.monotonic() - start) * self.cfg.playback_rate < clip.duration_s

    @property
    def idle(self) -> bool:
        """No utterance in the segmenter, the queue or the worker."""
        return not self.segmenter.in_speech and self._jobs.unfinished_tasks == 0

    def destroy_node(self) -> None:
        """Stop the worker after the job in hand (it is a daemon thread: never blocks exit)."""
        try:
            self._jobs.put_nowait(None)
        except queue.Full:
            pass
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    return run(MotionNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
