"""Conversions between a2m_core arrays and ROS messages; no logic beyond the mapping."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point
from sensor_msgs.msg import JointState
from std_msgs.msg import ColorRGBA, Header
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
from visualization_msgs.msg import Marker, MarkerArray

from a2m_core.audio.io import decode_samples, encode_samples
from a2m_core.retarget.trajectory import JointTrajectoryPoints
from a2m_core.runtime.pipeline import MotionClip
from a2m_ros.msg import AudioChunk


def audio_chunk(samples: np.ndarray, sample_rate_hz: int, header: Header, encoding: str = AudioChunk.ENCODING_INT16) -> AudioChunk:
    """Float samples (n) or (n c), full scale 1.0 -> AudioChunk."""
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    return AudioChunk(header=header, sample_rate=int(sample_rate_hz), channels=channels, encoding=encoding,
                      samples=encode_samples(samples, encoding))


def chunk_samples(msg: AudioChunk) -> np.ndarray:
    """AudioChunk -> float32 (n c), full scale 1.0; InputError when its layout is inconsistent."""
    return decode_samples(bytes(msg.samples), msg.encoding, msg.channels)


def duration(seconds: float) -> Duration:
    nanoseconds = int(round(seconds * 1e9))
    return Duration(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def joint_trajectory(clip: MotionClip, header: Header) -> JointTrajectory:
    """The whole clip as one JointTrajectory, point i at time_from_start i / fps."""
    msg = JointTrajectory(header=header, joint_names=list(clip.joint_names))
    velocities = np.gradient(clip.positions, 1.0 / clip.fps, axis=0) if len(clip.positions) > 1 \
        else np.zeros_like(clip.positions)  # (t k)
    msg.points = [JointTrajectoryPoint(positions=p.tolist(), velocities=v.tolist(), time_from_start=duration(i / clip.fps))
                  for i, (p, v) in enumerate(zip(clip.positions.astype(float), velocities.astype(float)))]
    return msg


def robot_joint_trajectory(points: JointTrajectoryPoints, header: Header) -> JointTrajectory:
    """Retargeted robot points as the JointTrajectory ros2_control's joint_trajectory_controller takes."""
    msg = JointTrajectory(header=header, joint_names=list(points.joint_names))
    msg.points = [JointTrajectoryPoint(positions=p.tolist(), velocities=v.tolist(), time_from_start=duration(t))
                  for p, v, t in zip(points.positions_rad.astype(float), points.velocities_rad_s.astype(float),
                                     points.times_from_start_s.astype(float))]
    return msg


def joint_state(joint_names: tuple[str, ...], positions: np.ndarray, stamp: Time) -> JointState:
    """Joint positions (k) as a JointState (what robot_state_publisher turns into TF)."""
    return JointState(header=Header(stamp=stamp), name=list(joint_names), position=positions.astype(float).tolist())


_BONE_COLOUR = ColorRGBA(r=0.2, g=0.6, b=1.0, a=1.0)
_JOINT_COLOUR = ColorRGBA(r=1.0, g=0.5, b=0.1, a=1.0)


def skeleton_markers(clip: MotionClip, frame: int, header: Header, namespace: str = "a2m") -> MarkerArray:
    """Bones as a LINE_LIST and joints as a SPHERE_LIST for one frame of the clip (ROS frame, metres)."""
    joints = clip.joints[frame]  # (j 3)
    points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in joints]
    bones = Marker(header=header, ns=namespace, id=0, type=Marker.LINE_LIST, action=Marker.ADD, color=_BONE_COLOUR)
    bones.scale.x = 0.02
    bones.pose.orientation.w = 1.0
    bones.points = [points[i] for child, parent in enumerate(clip.skeleton.parents) if parent >= 0
                    for i in (parent, child)]
    spheres = Marker(header=header, ns=namespace, id=1, type=Marker.SPHERE_LIST, action=Marker.ADD, color=_JOINT_COLOUR)
    spheres.scale.x = spheres.scale.y = spheres.scale.z = 0.05
    spheres.pose.orientation.w = 1.0
    spheres.points = points
    return MarkerArray(markers=[bones, spheres])


def status_marker(text: str, header: Header, height_m: float = 2.1) -> MarkerArray:
    """The latest status as text floating above the world origin (namespace `status`), for RViz."""
    marker = Marker(header=header, ns="status", id=0, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD,
                    text=text, color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0))
    marker.scale.z = 0.15  # text height, metres
    marker.pose.position.z = height_m
    marker.pose.orientation.w = 1.0
    return MarkerArray(markers=[marker])
