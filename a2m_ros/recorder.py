"""Records a2m's topics into an MCAP file (ros2msg schemas, CDR messages), like `ros2 bag record -s mcap`.

Messages are taken as the raw bytes DDS delivered (no re-serialisation), so the file opens in
Foxglove, `ros2 bag` (Jazzy and later) and any MCAP reader. The schemas are the .msg files the
interface packages install under share/, each with its dependencies appended.
"""

from __future__ import annotations

import os
import re
import sys
from contextlib import ExitStack
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

from a2m_core.errors import InputError
from a2m_core.files import atomic_path
from a2m_ros.msg import AudioChunk, MotionStatus

TOPICS = {"audio": AudioChunk, "motion_status": MotionStatus, "joint_trajectory": JointTrajectory,
          "joint_states": JointState, "skeleton_markers": MarkerArray}
PRIMITIVES = {"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
              "uint32", "int64", "uint64", "string", "wstring"}
_SEPARATOR = "=" * 80


def type_name(msg_type) -> str:
    """'pkg/msg/Type' of a generated message class."""
    package = msg_type.__module__.split(".")[0]
    return f"{package}/msg/{msg_type.__name__}"


def _msg_file(package: str, name: str) -> Path:
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p] + [sys.prefix]
    for prefix in prefixes:
        path = Path(prefix) / "share" / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path
    raise InputError(f"no definition of {package}/msg/{name} under share/ of {', '.join(prefixes)}")


def _field_types(text: str, package: str) -> list[tuple[str, str]]:
    """(package, Type) of every non-primitive field in a .msg text."""
    found = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        base = re.sub(r"(\[[^\]]*\]|<=\d+)", "", line.split()[0])
        if base in PRIMITIVES:
            continue
        pkg, _, name = base.rpartition("/")
        found.append((pkg or package, name))
    return found


def msg_schema(full_name: str) -> str:
    """ros2msg schema text: the type's .msg followed by each dependency's, as rosbag2 writes it."""
    package, _, name = full_name.split("/")
    main = _msg_file(package, name).read_text()
    parts, seen, todo = [main.strip()], set(), _field_types(main, package)
    while todo:
        dep = todo.pop(0)
        if dep in seen:
            continue
        seen.add(dep)
        text = _msg_file(*dep).read_text()
        parts.append(f"{_SEPARATOR}\nMSG: {dep[0]}/{dep[1]}\n{text.strip()}")
        todo += _field_types(text, dep[0])
    return "\n".join(parts) + "\n"


class Recorder(Node):
    """Subscribes to TOPICS (raw) and writes every message to `path` until destroyed."""

    def __init__(self, path: str | Path):
        from mcap.writer import Writer

        self.path = Path(path)
        try:  # before the node exists, so that a failure leaves nothing for rclpy's shutdown to destroy
            with ExitStack() as stack:
                self._file = stack.enter_context(open(stack.enter_context(atomic_path(self.path)), "wb"))
                self._output = stack.pop_all()  # closed in destroy_node: renames the finished file into place
        except OSError as exc:
            raise InputError(f"cannot record to {self.path} ({exc.strerror}); choose a writable .mcap path") from None
        self._writer = Writer(self._file)
        self._writer.start(profile="ros2", library="a2m")
        super().__init__("a2m_recorder")
        self.counts: dict[str, int] = {}
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        # best effort matches the audio publishers; a deep history keeps chunks while the process is busy generating
        audio = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT)
        for topic, msg_type in TOPICS.items():
            full = type_name(msg_type)
            schema = self._writer.register_schema(name=full, encoding="ros2msg", data=msg_schema(full).encode())
            resolved = self.resolve_topic_name(topic)
            channel = self._writer.register_channel(topic=resolved, message_encoding="cdr", schema_id=schema)
            qos = audio if topic == "audio" else reliable
            self.create_subscription(msg_type, topic, self._writer_for(channel, resolved), qos, raw=True)

    def _writer_for(self, channel: int, topic: str):
        def write(data: bytes) -> None:
            now = self.get_clock().now().nanoseconds
            self._writer.add_message(channel_id=channel, log_time=now, publish_time=now, data=data)
            self.counts[topic] = self.counts.get(topic, 0) + 1
        return write

    def destroy_node(self) -> None:
        self._writer.finish()
        self._output.close()  # closes the file and renames it to `path`, complete
        super().destroy_node()
