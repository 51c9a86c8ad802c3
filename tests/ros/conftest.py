"""Shared set-up for tests that talk ROS 2 over real DDS.

Every test session gets its own random ROS_DOMAIN_ID, discovery limited to localhost, and a
ROS_HOME in a temp dir (rclpy writes logs there), so parallel runs and other machines on the
network never see each other. Node processes started by the tests inherit the same settings.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _need_interfaces() -> None:
    pytest.importorskip("rclpy", reason="rclpy absent: install the pip extra 'ros' (scripts/setup.sh)")
    try:
        import a2m_ros.msg  # noqa: F401
    except ModuleNotFoundError:
        pytest.skip("a2m_ros interfaces not built: run scripts/setup.sh (it builds msg/ and action/)")


@pytest.fixture(scope="session")
def ros_env(tmp_path_factory) -> dict[str, str]:
    """Environment for this session's ROS processes; also applied to this process."""
    _need_interfaces()
    settings = {
        "ROS_DOMAIN_ID": str(random.SystemRandom().randint(1, 100)),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "ROS_HOME": str(tmp_path_factory.mktemp("ros_home")),
        "PYTHONUNBUFFERED": "1",
    }
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    yield dict(os.environ)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def rclpy_context(ros_env):
    """An initialised rclpy context of its own for one test, shut down afterwards."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    yield context
    context.try_shutdown()


class NodeProcess:
    """A node started as its own Python process (`python -m a2m_ros.<module>`), logs kept."""

    def __init__(self, module: str, args: list[str], env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=REPO, env=env,
            stdout=self._log, stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int, timeout_s: float = 15.0) -> int:
        """Send `sig`, wait for the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout_s)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


@pytest.fixture
def start_node(ros_env, tmp_path):
    """Start node processes; whatever a test leaves running is killed at teardown."""
    started: list[NodeProcess] = []

    def start(module: str, *args: str, env: dict[str, str] | None = None) -> NodeProcess:
        name = module.rsplit(".", 1)[-1]
        node = NodeProcess(module, list(args), env or ros_env, tmp_path / f"{name}-{len(started)}.log")
        started.append(node)
        return node

    yield start
    for node in started:
        node.kill()


def wait_for(predicate, timeout_s: float, what: str, poll_s: float = 0.02, spin=None):
    """Poll `predicate` (spinning `spin(poll_s)` between polls) until true; fail saying `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if spin is not None:
            spin(poll_s)
        else:
            time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@pytest.fixture(scope="session")
def speech(tmp_path_factory):
    """speech(text, voice) -> path of a 16 kHz mono WAV of espeak-ng speech."""
    import shutil

    from a2m_core.audio.io import load_audio, save_wav

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng absent: scripts/setup.sh installs it (apt)")
    folder = tmp_path_factory.mktemp("speech")

    def speech(text: str, voice: str = "en-us") -> Path:
        raw, path = folder / f"raw{abs(hash((text, voice)))}.wav", folder / f"{abs(hash((text, voice)))}.wav"
        if not path.exists():
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
            save_wav(path, load_audio(raw).samples)
        return path

    return speech


class Probe:
    """The test's own node: publishes AudioChunks, sends goals, records what the motion node says.

    Spins on a background thread; received messages are appended to lists.
    """

    def __init__(self, context, namespace: str = ""):
        import threading

        from rclpy.action import ActionClient
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import JointState
        from trajectory_msgs.msg import JointTrajectory

        from a2m_ros.action import GenerateMotion
        from a2m_ros.msg import AudioChunk, MotionStatus

        self.node = Node("a2m_test_probe", context=context, namespace=namespace)
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.statuses, self.trajectories, self.joint_states = [], [], []
        self.audio_pub = self.node.create_publisher(AudioChunk, "audio", qos_profile_sensor_data)
        self.status_sub = self.node.create_subscription(MotionStatus, "motion_status", self.statuses.append, reliable)
        self.trajectory_sub = self.node.create_subscription(JointTrajectory, "joint_trajectory",
                                                            self.trajectories.append, reliable)
        self.state_sub = self.node.create_subscription(JointState, "joint_states", self.joint_states.append, reliable)
        self.action = ActionClient(self.node, GenerateMotion, "generate_motion")
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._stop = False
        self._thread.start()

    def _spin(self):
        while not self._stop:
            self.executor.spin_once(timeout_sec=0.02)

    def wait_connected(self, timeout_s: float = 30.0) -> None:
        """Until the motion node's subscription and publishers have matched ours (and a bit more)."""
        wait_for(lambda: self.audio_pub.get_subscription_count() > 0
                 and self.status_sub.get_publisher_count() > 0 and self.trajectory_sub.get_publisher_count() > 0,
                 timeout_s, "the motion node to match the probe's topics")
        time.sleep(0.2)  # samples sent in the first ~80 ms after discovery can arrive late

    def send(self, samples, sample_rate_hz: int = 16000, chunk_s: float = 0.1, speed: float = 5.0,
             encoding: str = "int16") -> None:
        """Publish float samples (n) or (n c) as AudioChunks, `speed` times faster than real time."""
        from std_msgs.msg import Header

        from a2m_ros.messages import audio_chunk

        step = max(1, int(chunk_s * sample_rate_hz))
        start = time.monotonic()
        for i in range(0, len(samples), step):
            due = start + i / sample_rate_hz / speed
            time.sleep(max(0.0, due - time.monotonic()))
            self.audio_pub.publish(audio_chunk(samples[i:i + step], sample_rate_hz, Header(), encoding))

    def states_of(self, utterance_id: int) -> list[int]:
        return [s.state for s in list(self.statuses) if s.utterance_id == utterance_id]

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.node.destroy_node()


@pytest.fixture
def probe(rclpy_context):
    p = Probe(rclpy_context)
    yield p
    p.close()
