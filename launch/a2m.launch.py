"""Speak, and watch the avatar move: `ros2 launch a2m_ros a2m.launch.py`.

Starts microphone_node (or audio_file_node with audio_file:=FILE), motion_node,
robot_state_publisher with the avatar URDF (urdf/avatar.urdf, or generated for
joint_prefix) and rviz2 with rviz/a2m.rviz. Parameters come from config/a2m.yaml; the launch
arguments below override the common ones. Without ROS launch (these pip-wheel machines),
`a2m ros up` starts the same nodes with the same parameter file.
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

# Empty model, backend, device, robot_urdf and retarget_map leave the parameter file's value.
ARGUMENTS = {
    "model": ("", "model folder (config.json + model.safetensors); empty: the shipped models/default"),
    "backend": ("", "inference backend: auto (fastest that loads, logged), torch, onnxruntime, tensorrt"),
    "device": ("", "device: cpu, cuda, cuda:1, ..."),
    "robot_urdf": ("", "URDF of a humanoid robot that every clip is also retargeted onto; empty: avatar only"),
    "retarget_map": ("", "keypoint map of that robot (YAML); empty: config/retarget/unitree_g1.yaml"),
    "audio_file": ("", "play this audio file instead of listening to the microphone"),
    "mic_device": ("", "microphone: input device name or index; empty: the default input"),
    "joint_prefix": ("", "prefix of every avatar joint name"),
    "rviz": ("true", "start rviz2"),
    "params": ("", "parameter file; empty: the package's config/a2m.yaml"),
}


def _nodes(context):
    share = Path(get_package_share_directory("a2m_ros"))
    arg = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    params = arg["params"] or str(share / "config" / "a2m.yaml")
    prefix = arg["joint_prefix"]
    if prefix:
        from a2m_core.motion.avatar import avatar_urdf

        robot_description = avatar_urdf(prefix=prefix)
    else:
        robot_description = (share / "urdf" / "avatar.urdf").read_text()

    given = {"model_path": arg["model"], "backend": arg["backend"], "device": arg["device"],
             "robot_urdf": arg["robot_urdf"], "retarget_map": arg["retarget_map"]}
    motion = {name: value for name, value in given.items() if value} | {"joint_prefix": prefix}
    nodes = [Node(package="a2m_ros", executable="motion_node", name="motion_node", output="screen",
                  parameters=[params, motion])]
    if arg["audio_file"]:
        nodes.append(Node(package="a2m_ros", executable="audio_file_node", name="audio_file_node", output="screen",
                          parameters=[params, {"path": arg["audio_file"]}]))
    else:
        nodes.append(Node(package="a2m_ros", executable="microphone_node", name="microphone_node", output="screen",
                          parameters=[params, {"device": arg["mic_device"]}]))
    nodes.append(Node(package="robot_state_publisher", executable="robot_state_publisher", output="screen",
                      parameters=[{"robot_description": robot_description}]))
    if arg["rviz"].lower() in ("true", "1", "yes"):
        nodes.append(Node(package="rviz2", executable="rviz2", arguments=["-d", str(share / "rviz" / "a2m.rviz")],
                          output="screen"))
    return nodes


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, (default, text) in ARGUMENTS.items()]
        + [OpaqueFunction(function=_nodes)])
