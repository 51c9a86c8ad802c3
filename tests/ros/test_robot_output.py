"""The motion node's robot output over real DDS: speech in, a G1 trajectory out, within the URDF's limits.

The model is the randomly initialised `tiny` preset (fast on CPU); its motions are meaningless but
often extreme, which is what the limit checks want. The G1 URDF is read from ../shared; the
limits the test checks against are parsed here from the URDF text, not taken from the node's code.
"""

from __future__ import annotations

import signal
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from a2m_core.audio.io import load_audio
from ros_helpers import NodeProcess, Probe, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

G1_URDF = Path(__file__).resolve().parents[2] / ".." / "shared" / "robots" / "unitree_g1" / "g1_29dof_rev_1_0.urdf"
SPEED_SCALE = 0.5
BLEND_S = 1.0
STATE_TOPIC = "/g1/joint_states"
DONE, REJECTED = 2, 3


def g1_limits() -> dict[str, tuple[float, float, float]]:
    """name -> (lower, upper, velocity) of every movable joint, in URDF order."""
    if not G1_URDF.is_file():
        pytest.skip(f"G1 URDF absent: {G1_URDF} (the shared robots folder of this machine)")
    pytest.importorskip("pinocchio", reason="pinocchio absent: install the pip extra 'retarget'")
    limits = {}
    for joint in ET.parse(G1_URDF).getroot().iter("joint"):
        if joint.get("type") in ("revolute", "prismatic"):
            limit = joint.find("limit")
            limits[joint.get("name")] = (float(limit.get("lower")), float(limit.get("upper")), float(limit.get("velocity")))
    return limits


def seconds(d) -> float:
    return d.sec + d.nanosec * 1e-9


def with_silence(x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros(8000, np.float32), x, np.zeros(16000, np.float32)])


@pytest.fixture(scope="module")
def instruction(speech):
    return load_audio(speech("walk forward, then wave with your right hand")).samples


def start_motion_node(env, log: Path, *params: str, namespace: str = "/") -> NodeProcess:
    args = ["--ros-args", "-r", f"__ns:={namespace}", "-p", "model_preset:=tiny", "-p", "max_utterance_s:=6.0"]
    for p in params:
        args += ["-p", p]
    return NodeProcess.module("a2m_ros.motion_node", args, env, log)


class RobotProbe:
    """The probe plus subscriptions to the robot topics and a publisher of a fake robot state."""

    def __init__(self, probe):
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import JointState
        from trajectory_msgs.msg import JointTrajectory

        self.probe = probe
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.trajectories, self.states = [], []
        self.trajectory_sub = probe.node.create_subscription(JointTrajectory, "robot/joint_trajectory",
                                                             self.trajectories.append, reliable)
        self.state_sub = probe.node.create_subscription(JointState, "robot/joint_states", self.states.append, reliable)
        self.robot_state_pub = probe.node.create_publisher(JointState, STATE_TOPIC, 10)

    def speak(self, samples) -> int:
        """Send one utterance; wait for it to be DONE; return its id."""
        self.probe.wait_connected()
        before = max((s.utterance_id for s in self.probe.statuses), default=0)
        self.probe.send(with_silence(samples), speed=3.0)
        wait_for(lambda: any(s.utterance_id > before and s.state in (DONE, REJECTED) for s in self.probe.statuses),
                 60, "the utterance to finish")
        done = [s for s in self.probe.statuses if s.utterance_id > before and s.state == DONE]
        assert done, [s.reason for s in self.probe.statuses]
        return done[0].utterance_id


@pytest.fixture(scope="module")
def g1_node(ros_env, tmp_path_factory):
    g1_limits()
    node = start_motion_node(ros_env, tmp_path_factory.mktemp("g1") / "motion_node.log", f"robot_urdf:={G1_URDF}",
                             f"max_joint_speed_scale:={SPEED_SCALE}", f"robot_blend_s:={BLEND_S}",
                             f"robot_state_topic:={STATE_TOPIC}")
    yield node
    assert node.stop(signal.SIGINT) == 0, node.log()


def check_within_limits(traj, limits):
    names = list(traj.joint_names)
    lower, upper, velocity = (np.array([limits[n][i] for n in names]) for i in range(3))
    positions = np.array([p.positions for p in traj.points])  # (p n)
    velocities = np.array([p.velocities for p in traj.points])  # (p n)
    times = np.array([seconds(p.time_from_start) for p in traj.points])  # (p)
    assert positions.shape == velocities.shape == (len(times), len(names))
    assert np.all(np.diff(times) > 0) and times[0] > 0
    assert np.all(positions >= lower - 1e-9) and np.all(positions <= upper + 1e-9)
    assert np.all(np.abs(velocities) <= SPEED_SCALE * velocity + 1e-9)
    # the straight line between neighbouring points is within the scaled limits too
    assert np.all(np.abs(np.diff(positions, axis=0)) / np.diff(times)[:, None] <= SPEED_SCALE * velocity + 1e-6)
    return positions, times


def test_speech_becomes_a_g1_trajectory_within_its_limits(g1_node, probe, instruction):
    limits = g1_limits()
    robot = RobotProbe(probe)
    wait_for(lambda: robot.states, 30, "robot/joint_states of the rest pose")
    uid = robot.speak(instruction)
    wait_for(lambda: robot.trajectories, 60, f"robot/joint_trajectory of utterance {uid}\n{g1_node.log()}")
    traj = robot.trajectories[-1]
    assert list(traj.joint_names) == list(limits) and len(limits) == 29
    positions, times = check_within_limits(traj, limits)
    # without a robot state, the first frame is the first point, after the blend
    assert times[0] == pytest.approx(BLEND_S, abs=1e-6)
    assert np.ptp(positions, axis=0).max() > 0.05, "the random motion should move some joint"
    # robot/joint_states play the trajectory back, within the limits as well
    count = len(robot.states)
    wait_for(lambda: len(robot.states) > count + 5, 10, "robot/joint_states playback")
    lower, upper = (np.array([limits[n][i] for n in traj.joint_names]) for i in (0, 1))
    for state in robot.states[count:]:
        assert list(state.name) == list(traj.joint_names)
        assert np.all(np.array(state.position) >= lower - 1e-9) and np.all(np.array(state.position) <= upper + 1e-9)
    wait_for(lambda: "retargeted" in g1_node.log(), 10, "the node to log the retargeting")


def test_the_trajectory_starts_from_the_robots_current_state(g1_node, probe, instruction):
    from sensor_msgs.msg import JointState

    limits = g1_limits()
    robot = RobotProbe(probe)
    names = list(limits)
    lower, upper, velocity = (np.array([limits[n][i] for n in names]) for i in range(3))
    current = lower + 0.2 * (upper - lower)  # far from any standing pose the retargeter gives
    stop = threading.Event()

    def publish_state():  # like a joint_state_broadcaster: continuously, 50 Hz
        while not stop.is_set():
            robot.robot_state_pub.publish(JointState(name=names, position=current.tolist()))
            time.sleep(0.02)

    publisher = threading.Thread(target=publish_state, daemon=True)
    publisher.start()
    try:
        wait_for(lambda: robot.robot_state_pub.get_subscription_count() > 0, 20, f"the node to subscribe {STATE_TOPIC}")
        count = len(robot.trajectories)
        robot.speak(instruction)
        wait_for(lambda: len(robot.trajectories) > count, 60, "the robot trajectory")
    finally:
        stop.set()
        publisher.join(2)
    traj = robot.trajectories[-1]
    positions, times = check_within_limits(traj, limits)
    # the first point is the first step of the blend from the state: early, close to it, and reached
    # no faster than the scaled limits allow
    assert times[0] < 0.2 * BLEND_S
    assert np.abs(positions[0] - current).max() < 0.02
    assert np.all(np.abs(positions[0] - current) <= SPEED_SCALE * velocity * times[0] + 1e-6)
    assert times[-1] > BLEND_S
    # the node logs the blend just after publishing: wait for the line rather than race it
    wait_for(lambda: "from its current state" in g1_node.log(), 10, "the node to log the blend from the state")
    # the clip itself starts elsewhere (else the check above proves nothing): the blend covers the distance
    assert np.abs(positions[-1] - current).max() > 0.1


def test_a_broken_urdf_leaves_the_node_up_with_the_avatar_working(ros_env, tmp_path, rclpy_context, instruction):
    broken = tmp_path / "broken.urdf"
    broken.write_text("<robot name='x'><link name='a'/><joint name='j' type='revolute'>")
    # a namespace of its own: the G1 node of the other tests may still be running
    node = start_motion_node(ros_env, tmp_path / "motion_node.log", f"robot_urdf:={broken}", namespace="/broken")
    probe = Probe(rclpy_context, namespace="/broken")
    try:
        robot = RobotProbe(probe)
        uid = robot.speak(instruction)
        wait_for(lambda: probe.trajectories, 10, "the avatar trajectory")
        done = [s for s in probe.statuses if s.utterance_id == uid and s.state == DONE][0]
        assert "robot output off" in done.reason and "broken.urdf" in done.reason
        assert "robot output off" in node.log() and "not a parseable URDF" in node.log()
        # no robot topics at all (not merely nothing sent yet): the node made no robot publishers, while the
        # probe sees its avatar ones
        assert robot.trajectory_sub.get_publisher_count() == 0 and robot.state_sub.get_publisher_count() == 0
        assert probe.trajectory_sub.get_publisher_count() == 1
        assert not robot.trajectories and not robot.states
        assert node.proc.poll() is None
    finally:
        probe.close()
        assert node.stop(signal.SIGINT) == 0, node.log()
