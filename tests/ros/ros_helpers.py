"""Helpers for the ROS tests: node processes, the probe node, waiting with a reason."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class NodeProcess:
    """A node running as its own process, its output kept in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path, cwd: Path = REPO):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    @classmethod
    def module(cls, module: str, args: list[str], env: dict[str, str], log_path: Path) -> "NodeProcess":
        """`python -m a2m_ros.<node> ARGS` from the checkout."""
        return cls([sys.executable, "-m", module, *args], env, log_path)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stacks(self) -> str:
        """Every thread's stack now (a2m nodes print them on SIGUSR1, see a2m_ros.node_tools.run)."""
        if self.proc.poll() is not None:
            return f"(the process has exited with {self.proc.returncode})"
        before = len(self.log())
        self.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: "most recent call first" in self.log()[before:], 5, "the stacks after SIGUSR1")
        time.sleep(0.2)  # the other threads' stacks follow the first
        return self.log()[before:]

    def stop(self, sig: int, timeout_s: float = 15.0) -> int:
        """Send `sig`, wait for the exit code.

        A process still running after `timeout_s` gets SIGABRT, so that Python's faulthandler
        (PYTHONFAULTHANDLER in `ros_env`) writes every thread's stack into the log, and the
        failure shows that log.
        """
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            raise AssertionError(f"{self.proc.args} did not exit {timeout_s:.0f} s after signal {sig}; "
                                 f"its log, with the stacks at SIGABRT:\n{self.log()[-12000:]}") from None
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


def wait_for(predicate, timeout_s: float, what, poll_s: float = 0.02, spin=None):
    """Poll `predicate` (spinning `spin(poll_s)` between polls) until true; fail saying `what` (or what it
    returns, if callable: the state at the moment of failure)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if spin is not None:
            spin(poll_s)
        else:
            time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what() if callable(what) else what}")


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
