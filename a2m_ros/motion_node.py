"""motion_node: audio in, motion out.

Subscribes to `audio` (AudioChunk, sensor-data QoS), cuts utterances on stream time with a VAD
(a2m_core.runtime.utterance_stream: generation starts at a short pause and its result is kept
unless speech resumes), generates motion on a worker thread behind a bounded queue
(a2m_core.runtime.jobs), and publishes `joint_trajectory` (the whole clip), `joint_states` and
`skeleton_markers` (played back in real time) and `motion_status` (accepted / generating /
done / rejected, per utterance). Serves the `generate_motion` action.
With `robot_urdf` set, the worker also retargets each published clip onto that robot and sends
`robot/joint_trajectory` (for a joint_trajectory_controller, starting from the robot's state on
`robot_state_topic` when it is known) and plays it back on `robot/joint_states`.

Everything that is not ROS (resampling, VAD, utterance stream, job queue, playback, generation,
joint angles) is in a2m_core; this node converts messages, holds parameters and callbacks. Bad input never stops it: it
says why on `motion_status` and in its log, and goes on with the next utterance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

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
from a2m_core.motion.skeleton import HUMANML3D
from a2m_core.paths import CHECKOUT  # relative retarget_map paths fall back to the checkout
from a2m_core.retarget.trajectory import JointTrajectoryPoints, TrajectoryConfig, joint_trajectory_points
from a2m_core.runtime.backends import BACKENDS, load_model_backend, model_to_load
from a2m_core.runtime.interface import DecodingConfig
from a2m_core.runtime.jobs import CONVERTING, Job, JobQueue
from a2m_core.runtime.pipeline import MotionClip, MotionPipeline
from a2m_core.runtime.playback import Playback, RobotState
from a2m_core.runtime.utterance_stream import DROP, EARLY, FINAL, KEEP, PUBLISH, STALL, StreamEvent, UtteranceStream
from a2m_ros.action import GenerateMotion
from a2m_ros.messages import (
    chunk_samples, joint_state, joint_trajectory, robot_joint_trajectory, skeleton_markers, status_marker,
)
from a2m_ros.msg import AudioChunk, MotionStatus
from a2m_ros.node_tools import Ticker, declare, run

if TYPE_CHECKING:  # pinocchio is imported only when robot_urdf is set
    from a2m_core.retarget.keypoint_map import KeypointMap
    from a2m_core.retarget.robot import RobotModel

MODEL_PRESETS = ("", "paper", "edge", "tiny")  # "": no random model, the shipped one
STATE_NAMES = {MotionStatus.STATE_ACCEPTED: "accepted", MotionStatus.STATE_GENERATING: "generating",
               MotionStatus.STATE_DONE: "done", MotionStatus.STATE_REJECTED: "rejected"}
AUDIO_QUEUE_DEPTH = 200  # chunks held by DDS for the audio callback (20 s of 0.1 s chunks)
STALL_CHECK_S = 0.25  # period of the stall rule's check
PLAY_PERIOD_S = 0.05  # joint_states and skeleton_markers playback: 20 Hz
EARLY_NOTE = "published at a pause; a later trajectory replaces it if speech resumes"
ROBOT_STATE_MAX_AGE_S = 1.0  # older robot joint positions count as unknown (the robot stopped publishing)


@dataclass(frozen=True)
class MotionNodeConfig:
    """The motion node's parameters, read once at start (see `declare_config` for their meaning)."""

    model_path: str
    model_preset: str
    backend: str
    device: str
    vad_backend: str
    segmenter: SegmenterConfig
    publish_after_s: float
    stall_s: float
    decoding: DecodingConfig
    seed: int
    queue_size: int
    frame_id: str
    joint_prefix: str
    playback_rate: float
    max_chunk_s: float
    robot_urdf: str
    retarget_map: str
    robot_trajectory: TrajectoryConfig
    robot_state_topic: str


def declare_config(node: Node) -> MotionNodeConfig:
    """Declare every parameter with its description and range; return them as one config."""
    d = SegmenterConfig()
    g = DecodingConfig()
    r = TrajectoryConfig()
    return MotionNodeConfig(
        model_path=declare(node, "model_path", "", "Model folder (config.json + model.safetensors); empty: "
                           "the shipped models/default, or a random model_preset when that is set or models/default is absent"),
        model_preset=declare(node, "model_preset", "", "With model_path empty: a randomly initialised model of this "
                             "architecture (plumbing only, no meaningful motion); empty: the shipped model", choices=MODEL_PRESETS),
        backend=declare(node, "backend", "auto", "Inference backend; auto: the fastest that loads here (TensorRT on "
                        "CUDA, else onnxruntime, else torch), the choice and any fallback logged; onnxruntime-int8: "
                        "int8 CPU graphs, 1.5-1.8x faster on CPU, slightly different motion (docs/performance.md); "
                        "text-conditioned models always run in torch", choices=BACKENDS),
        device=declare(node, "device", "cpu", "Device: cpu, cuda, cuda:1, ..."),
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
                                    "Longer speech is cut here into consecutive parts, each generated", 1.0, 60.0),
            early_end_s=declare(node, "early_end_s", 0.03, "Silence after which generation starts on speculation "
                                "(its result is published after publish_after_s; discarded if speech resumes "
                                "before that); 0: at hangover_s", 0.0, 5.0)),
        publish_after_s=declare(node, "publish_after_s", 0.09, "Silence after which the result started at "
                                "early_end_s is published; if speech resumes within hangover_s, the longer "
                                "utterance's trajectory (same utterance_id) replaces it. At least hangover_s: "
                                "published only once the utterance has ended, never replaced", 0.0, 5.0),
        stall_s=declare(node, "stall_s", 2.0, "With speech in progress and no audio chunk for this long (and none "
                        "waiting), the sender stopped: the utterance ends there", 0.5, 60.0),
        decoding=DecodingConfig(
            num_iters=declare(node, "iterations", g.num_iters, "MaskGIT decoding iterations", 1, 50),
            cfg_scale=declare(node, "guidance_scale", g.cfg_scale, "Classifier-free guidance, base layer", 0.0, 20.0),
            res_cfg_scale=declare(node, "residual_guidance_scale", g.res_cfg_scale,
                                  "Classifier-free guidance, residual layers", 0.0, 20.0),
            temperature=declare(node, "temperature", g.temperature, "Sampling temperature", 0.01, 10.0),
            topk=declare(node, "top_k", 0, "Sample among the k likeliest tokens only; 0: all", 0, 65536) or None,
            length_quantile=declare(node, "length_quantile", g.length_quantile, "The motion lasts this quantile of "
                                    "the length predictor's distribution (0.5: the median)", 0.05, 0.95)),
        seed=declare(node, "seed", 0, "Seed of utterance 1; utterance i uses seed + i - 1", 0, 2**31 - 1),
        queue_size=declare(node, "queue_size", 2, "Utterances waiting for generation; more are rejected", 1, 100),
        frame_id=declare(node, "frame_id", "world", "Frame of joint_trajectory and skeleton_markers (the URDF's root link)"),
        joint_prefix=declare(node, "joint_prefix", "", "Prefix of every joint name (as given to the avatar URDF)"),
        playback_rate=declare(node, "playback_rate", 1.0, "Speed of joint_states playback; 1 is real time", 0.05, 20.0),
        max_chunk_s=declare(node, "max_chunk_s", 5.0, "Longer AudioChunks are rejected (a stream, not a file)", 0.01, 600.0),
        robot_urdf=declare(node, "robot_urdf", "", "URDF of a humanoid robot that every clip is also retargeted onto "
                           "(robot/joint_trajectory, robot/joint_states); empty: avatar only"),
        retarget_map=declare(node, "retarget_map", "config/retarget/unitree_g1.yaml", "Keypoint map of that robot "
                             "(YAML); a relative path is looked up in the working directory, then in the a2m checkout"),
        robot_trajectory=TrajectoryConfig(
            max_joint_speed_scale=declare(node, "max_joint_speed_scale", r.max_joint_speed_scale,
                                          "Robot joints move at most this fraction of their URDF velocity limits "
                                          "(lower it for first tests on hardware)", 0.01, 1.0),
            blend_s=declare(node, "robot_blend_s", r.blend_s, "Shortest time from the robot's current state (or, when "
                            "unknown, from wherever it is) to the first retargeted frame", 0.1, 60.0)),
        robot_state_topic=declare(node, "robot_state_topic", "/joint_states", "The robot's sensor_msgs/JointState "
                                  "topic; its latest positions start each robot trajectory"),
    )


@dataclass(frozen=True)
class Robot:
    """The robot clips are retargeted onto; only the worker thread uses it (RobotModel holds pinocchio work data)."""

    model: RobotModel
    keypoint_map: KeypointMap

    def rest_points(self) -> JointTrajectoryPoints:
        """Every joint at 0 (clipped into its limits): what robot/joint_states show before any motion."""
        rest = np.clip(np.zeros(self.model.num_joints), self.model.lower_rad, self.model.upper_rad)[None]  # (1 n)
        return JointTrajectoryPoints(self.model.joint_names, rest, np.zeros_like(rest), np.array([0.0]))


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

        publish_after_s = self.cfg.publish_after_s if self.cfg.publish_after_s < self.cfg.segmenter.hangover_s else None
        self.stream = UtteranceStream(UtteranceSegmenter(make_vad(self.cfg.vad_backend), self.cfg.segmenter),
                                      self._new_id, self.cfg.stall_s, STALL_CHECK_S, publish_after_s)
        self._resampler: StreamResampler | None = None
        self._stream_lock = threading.Lock()  # the audio callback and the stall check take turns at the stream
        self._early_jobs: dict[int, Job] = {}  # early jobs waiting for KEEP or DROP
        self._next_id = 1
        self._id_lock = threading.Lock()
        self._last_reject: dict[str, float] = {}
        self._pipeline: MotionPipeline | None = None
        self._playback = Playback(self.cfg.playback_rate)  # of MotionClip
        self._robot_playback = Playback(self.cfg.playback_rate)  # of JointTrajectoryPoints

        try:  # before subscribing: torch's import, the model load and the first run hold the GIL for seconds
            pipeline = self._load_pipeline()
            rest = pipeline.rest_clip()
            self._playback.start(rest, rest.duration_s)  # robot_state_publisher gets a pose before any motion
            self._warm_up(pipeline)
        except InputError as exc:
            self._reject(0, str(exc))
        self._robot_state = RobotState(ROBOT_STATE_MAX_AGE_S)
        self._robot, self._robot_off = None, ""  # the robot, or why there is none although robot_urdf is set
        if self.cfg.robot_urdf:
            self._load_robot()
        self._jobs = JobQueue(self.cfg.queue_size, self._generate, self._on_generating, self._on_generated)
        # Sensor-data QoS (best effort, so it matches any microphone), with a deeper reader queue
        # than its 5: chunks wait there rather than being dropped while generation holds the GIL.
        audio_qos = QoSProfile(depth=AUDIO_QUEUE_DEPTH, reliability=qos_profile_sensor_data.reliability,
                               durability=qos_profile_sensor_data.durability)
        audio_group = MutuallyExclusiveCallbackGroup()
        self.create_subscription(AudioChunk, "audio", self._on_audio, audio_qos, callback_group=audio_group)
        # the stall rule's check runs beside the executor: even while a backlog of chunks is being cut
        self._stall_ticker = Ticker(STALL_CHECK_S, self._check_stall, "a2m-stall-check", self)
        self.create_subscription(String, "instruction", self._on_instruction, 10)
        if self._robot is not None:
            # best effort matches the robot's publisher whichever reliability it uses
            self.create_subscription(JointState, self.cfg.robot_state_topic,
                                     lambda msg: self._robot_state.update(msg.name, msg.position), qos_profile_sensor_data)
        # every goal is accepted; _execute_goal checks it, so the reason reaches the caller in the result
        self._action = ActionServer(self, GenerateMotion, "generate_motion", self._execute_goal,
                                    cancel_callback=lambda _: CancelResponse.ACCEPT,
                                    callback_group=ReentrantCallbackGroup())
        self._play_ticker = Ticker(PLAY_PERIOD_S, self._play, "a2m-playback", self)
        self.get_logger().info(f"listening on {self.resolve_topic_name('audio')} (VAD: {self.stream.segmenter.vad.name})")

    # ---------------------------------------------------------------- audio in

    def _on_audio(self, msg: AudioChunk) -> None:
        arrived = time.monotonic()
        with self._stream_lock:
            try:
                samples = self._chunk_to_16k(msg)  # (n) float32 16 kHz mono
            except InputError as exc:
                self._reject(0, f"audio chunk dropped: {exc}")
                return
            self._on_stream(self.stream.push(samples, arrived))

    def _check_stall(self) -> None:
        with self._stream_lock:
            self._on_stream(self.stream.tick(time.monotonic()))

    def _on_stream(self, events: list[StreamEvent]) -> None:
        """Act on the utterance stream's decisions (holding the stream lock)."""
        for event in events:
            if event.kind == STALL:
                self.get_logger().info(event.note)
                self._resampler = None  # a new sender may start at another rate
            elif event.kind == EARLY:
                job = Job(event.utterance_id, event.utterance.samples, event.speech_end_s, early=True)
                self._early_jobs[job.utterance_id] = job
                self._jobs.put(job)  # when full: put when published or kept (or rejected as busy then)
            elif event.kind in (PUBLISH, KEEP):
                job = self._early_jobs.pop(event.utterance_id) if event.kind == KEEP else self._early_jobs[event.utterance_id]
                if job.decided.is_set():  # published already
                    continue
                note = EARLY_NOTE if event.kind == PUBLISH else ""
                if job.queued:  # generating or generated already, held for this decision
                    self._status(job.utterance_id, MotionStatus.STATE_ACCEPTED, note, len(job.audio))
                    job.decide(keep=True)
                elif event.kind == KEEP:  # the queue was full at the pause: queued now, or rejected as busy
                    self._submit(Job(job.utterance_id, job.audio, job.speech_end_time))
                else:  # the queue was full at the pause: publish now if there is room
                    job = Job(job.utterance_id, job.audio, job.speech_end_time)
                    if self._jobs.put(job, self._announce_accepted(job, note)):
                        self._early_jobs[job.utterance_id] = job  # still to be kept or dropped
            elif event.kind == DROP:
                job = self._early_jobs.pop(event.utterance_id)
                published = job.decided.is_set()
                job.decide(keep=False)
                log = self.get_logger().info if published else self.get_logger().debug
                log(f"utterance {job.utterance_id}: {event.note}: the result started at the pause is "
                    + ("replaced by the longer utterance's" if published else "discarded"))
            elif event.kind == FINAL:
                utterance = event.utterance
                self._submit(Job(event.utterance_id, utterance.samples, event.speech_end_s, truncated=utterance.truncated))

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

    def _on_instruction(self, msg: String) -> None:
        try:
            self._text_accepted(msg.data)
        except InputError as exc:
            self._reject(0, f"typed instruction {msg.data[:40]!r} ignored: {exc}")
            return
        self._submit(Job(self._new_id(), np.zeros(0, np.float32), time.monotonic(), text=msg.data))

    def _text_accepted(self, text: str) -> None:
        """InputError unless the loaded model takes typed instructions (its backend says)."""
        if self._pipeline is None:
            raise InputError("no model is loaded yet; typed instructions need a text model")
        self._pipeline.backend.check_text(text)

    # ---------------------------------------------------------------- scheduling

    def _new_id(self) -> int:
        with self._id_lock:
            self._next_id += 1
            return self._next_id - 1

    def _announce_accepted(self, job: Job, note: str) -> Callable[[], None]:
        """What the job queue calls once it has room for `job`: its ACCEPTED status."""
        return partial(self._status, job.utterance_id, MotionStatus.STATE_ACCEPTED, note, len(job.audio))

    def _submit(self, job: Job) -> bool:
        note = (f"cut at max_utterance_s ({self.cfg.segmenter.max_utterance_s:g} s); the speech goes on in "
                "the next utterance") if job.truncated else ""
        if not self._jobs.put(job, self._announce_accepted(job, note)):
            dropped = f"{len(job.audio) / SAMPLE_RATE_HZ:.1f} s of audio dropped" if len(job.audio) else "dropped"
            self._reject(job.utterance_id, f"busy: {self.cfg.queue_size} utterance(s) already waiting (queue_size): "
                                           f"{dropped}; speak again when the avatar has moved"
                                           + (f" ({note})" if note else ""), len(job.audio))
            job.error = "queue full"
            job.done.set()
            return False
        return True

    def _on_generating(self, job: Job) -> None:
        """The worker starts a job; a kept early job is reported once kept, its generation under way or done."""
        self._status(job.utterance_id, MotionStatus.STATE_GENERATING, "started at the pause" if job.early else "",
                     len(job.audio))

    def _on_generated(self, job: Job) -> None:
        """Publish a job's clip unless it is for an action; or say why there is none."""
        if job.error:
            self._reject(job.utterance_id, f"generation failed: {job.error}", len(job.audio))
        elif not job.for_action:
            self._publish_clip(job)

    def _generate(self, job: Job) -> None:
        """Set job.clip, or job.error saying why not."""
        started = time.monotonic()
        try:
            pipeline = self._load_pipeline()
            seed = self.cfg.seed + job.utterance_id - 1
            if job.text:
                features = pipeline.backend.from_text(job.text, motion_s=job.motion_s, seed=seed)  # (t d)
            else:
                check_samples(job.audio, what="utterance")
                features = pipeline.backend(job.audio, motion_s=job.motion_s, seed=seed)  # (t d)
            job.stages.append(CONVERTING)
            job.clip = pipeline.clip_from_features(features)
            job.generation_s = time.monotonic() - started
        except Exception as exc:  # noqa: BLE001 - any failure rejects this utterance, never the node
            job.error = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, InputError):
                self.get_logger().error(f"utterance {job.utterance_id}: {job.error}")

    def _load_pipeline(self) -> MotionPipeline:
        """The pipeline, loaded at start and, after a failure, tried again for each utterance (a fixed model is picked up)."""
        if self._pipeline is None:
            cfg = self.cfg
            try:
                model_dir, what = model_to_load(cfg.model_path, cfg.model_preset)
                backend = load_model_backend(cfg.backend, model_dir, cfg.decoding, cfg.device)
            except Exception as exc:
                raise InputError(f"model not loaded: {exc}") from exc
            self._pipeline = MotionPipeline(backend, cfg.joint_prefix)
            log = self.get_logger().warning if "random" in what else self.get_logger().info
            log(f"model ready: {what}; backend {backend.describe()} (asked: {cfg.backend})")
        return self._pipeline

    def _warm_up(self, pipeline: MotionPipeline) -> None:
        """Run the model once (onnxruntime and torch set up their kernels on the first run), before audio comes."""
        started = time.monotonic()
        try:
            pipeline.backend.warm_up()
        except Exception as exc:  # noqa: BLE001 - each utterance will say why generation fails
            self.get_logger().error(f"model warm-up failed: {type(exc).__name__}: {exc}")
            return
        self.get_logger().info(f"model warmed up in {(time.monotonic() - started) * 1000:.0f} ms")

    def _publish_clip(self, job: Job) -> None:
        clip = job.clip
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.cfg.frame_id)
        self.trajectory_pub.publish(joint_trajectory(clip, header))
        latency = time.monotonic() - job.speech_end_time
        self._playback.start(clip, clip.duration_s)
        self._status(job.utterance_id, MotionStatus.STATE_DONE, self._robot_off, len(job.audio), clip.duration_s, latency)
        if self._on_clip is not None:
            self._on_clip(job.utterance_id, clip)
        self.get_logger().info(f"utterance {job.utterance_id}: {len(job.audio) / SAMPLE_RATE_HZ:.2f} s of audio -> "
                               f"{clip.duration_s:.2f} s of motion, {latency * 1000:.0f} ms after the end of speech "
                               f"(generation {job.generation_s * 1000:.0f} ms)")
        if self._robot is not None:
            self._publish_robot(job.utterance_id, clip)

    # ---------------------------------------------------------------- robot

    def _load_robot(self) -> None:
        """Load robot_urdf and retarget_map; on failure, say why and leave robot output off (the avatar goes on)."""
        try:
            from a2m_core.retarget.keypoint_map import load_keypoint_map
            from a2m_core.retarget.robot import RobotModel
        except ImportError as exc:
            self._robot_off = f"robot output off: {exc}; install the retarget extra (pip install -e .[retarget])"
        else:
            skeleton = HUMANML3D if self._pipeline is None else self._pipeline.backend.skeleton
            map_path = Path(self.cfg.retarget_map)
            if not map_path.is_absolute() and not map_path.exists():
                map_path = CHECKOUT / map_path
            try:
                robot = Robot(RobotModel(self.cfg.robot_urdf), load_keypoint_map(map_path, skeleton))
                robot.keypoint_map.check_links(robot.model.has_link)
            except InputError as exc:
                self._robot_off = f"robot output off: {exc}"
            else:
                self._robot = robot
                reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
                self.robot_trajectory_pub = self.create_publisher(JointTrajectory, "robot/joint_trajectory", reliable)
                self.robot_state_pub = self.create_publisher(JointState, "robot/joint_states", reliable)
                self._robot_playback.start(robot.rest_points(), 0.0)
                self.get_logger().info(f"robot ready: {robot.model.num_joints} joints of {self.cfg.robot_urdf}, "
                                       f"map {map_path}; its state from {self.resolve_topic_name(self.cfg.robot_state_topic)}")
                return
        self.get_logger().error(self._robot_off)
        self._status(0, MotionStatus.STATE_REJECTED, self._robot_off)

    def _publish_robot(self, utterance_id: int, clip: MotionClip) -> None:
        """Retarget the clip and send it to the robot (worker thread); a failure is logged and loses only this clip."""
        from a2m_core.retarget.retarget import retarget

        started = time.monotonic()
        model = self._robot.model
        try:
            trajectory = retarget(clip.motion, model, self._robot.keypoint_map)
            try:
                start = self._robot_state.positions(model.joint_names)  # (n) or None: unknown
            except InputError as exc:
                self.get_logger().warning(f"robot state ignored: {exc}")
                start = None
            points = joint_trajectory_points(trajectory, model.lower_rad, model.upper_rad, model.velocity_limit,
                                             self.cfg.robot_trajectory, start)
        except Exception as exc:  # noqa: BLE001 - the avatar clip is out already; only the robot's copy is lost
            self.get_logger().error(f"utterance {utterance_id}: no robot trajectory: {type(exc).__name__}: {exc}")
            return
        retarget_s = time.monotonic() - started
        # stamp 0: the controller starts the trajectory when it arrives
        self.robot_trajectory_pub.publish(robot_joint_trajectory(points, Header(frame_id=self.cfg.frame_id)))
        self._robot_playback.start(points, float(points.times_from_start_s[-1]))
        flagged = int(trajectory.best_effort.sum())
        self.get_logger().info(
            f"utterance {utterance_id}: robot trajectory of {len(points.times_from_start_s)} points, "
            f"{points.times_from_start_s[-1]:.2f} s, from {'its current state' if start is not None else 'a blend'}; "
            f"retargeted {trajectory.num_frames} frames in {retarget_s * 1000:.0f} ms"
            + (f" ({flagged} frames best effort: keypoints out of reach)" if flagged else ""))

    # ---------------------------------------------------------------- playback

    def _play(self) -> None:
        stamp = self.get_clock().now().to_msg()
        if (avatar := self._playback.now()) is not None:
            clip, elapsed_s = avatar
            frame = min(int(elapsed_s * clip.fps), clip.num_frames - 1)
            self.state_pub.publish(joint_state(clip.joint_names, clip.positions[frame], stamp))
            self.marker_pub.publish(skeleton_markers(clip, frame, Header(stamp=stamp, frame_id=self.cfg.frame_id)))
        if (robot := self._robot_playback.now()) is not None:
            points, elapsed_s = robot
            self.robot_state_pub.publish(joint_state(points.joint_names, points.positions_at(elapsed_s), stamp))

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
            if goal.text:
                self._text_accepted(goal.text)
            else:
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
        sent = 0  # stages sent as feedback
        while True:
            finished = job.done.wait(0.02)
            if goal_handle.is_cancel_requested:
                job.cancelled.set()
            for stage in job.stages[sent:]:
                goal_handle.publish_feedback(GenerateMotion.Feedback(stage=stage))
                sent += 1
            if finished:
                break
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
        """joint_states playback of the latest clip (or robot/joint_states of its robot trajectory) is not over yet."""
        return self._playback.playing or self._robot_playback.playing

    @property
    def idle(self) -> bool:
        """No utterance in the stream, the queue or the worker."""
        return not self.stream.in_speech and self._jobs.idle

    def destroy_node(self) -> None:
        """Stop the tickers, then the worker after the job in hand (a daemon thread: never blocks exit)."""
        self._play_ticker.stop()
        self._stall_ticker.stop()
        self._jobs.close()
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    return run(MotionNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
