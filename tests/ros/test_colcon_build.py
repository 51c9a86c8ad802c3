"""`colcon build` of a workspace holding this repository, with the pip-installed ROS wheels,
and a node started from the install space (not from the checkout or the venv's copy)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ros_helpers import REPO, NodeProcess, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_colcon_build_and_run_from_the_install_space(ros_env, tmp_path):
    colcon = Path(sys.executable).parent / "colcon"
    if not colcon.exists():
        pytest.skip("colcon absent: pip install colcon-common-extensions (the 'dev' extra)")
    source = tmp_path / "ws" / "src" / "a2m_ros"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in tracked.decode().split("\0"):
        if name and (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    venv = sys.prefix
    env = dict(ros_env, AMENT_PREFIX_PATH=venv, CMAKE_PREFIX_PATH=venv)
    ws = tmp_path / "ws"
    build = subprocess.run(
        [str(colcon), "--log-base", "log", "build", "--base-paths", "src", "--build-base", "build",
         "--install-base", "install", "--cmake-args", f"-DPython3_EXECUTABLE={sys.executable}", "-DBUILD_TESTING=OFF"],
        cwd=ws, env=env, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]

    prefix = ws / "install" / "a2m_ros"
    site = prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    for path in ("lib/a2m_ros/motion_node", "lib/a2m_ros/microphone_node", "lib/a2m_ros/audio_file_node",
                 "share/a2m_ros/config/a2m.yaml", "share/a2m_ros/launch/a2m.launch.py", "share/a2m_ros/rviz/a2m.rviz",
                 "share/a2m_ros/urdf/avatar.urdf", "share/a2m_ros/msg/AudioChunk.msg"):
        assert (prefix / path).exists(), path
    # ours (extend_path, no rclpy) replaced the empty __init__.py rosidl generates
    assert (site / "a2m_ros" / "__init__.py").read_text() == (REPO / "a2m_ros" / "__init__.py").read_text()

    run_env = dict(env, PYTHONPATH=str(site))
    where = subprocess.run([sys.executable, "-c", "import a2m_ros.motion_node as m, a2m_core; print(m.__file__); "
                            "print(a2m_core.__file__)"], cwd=tmp_path, env=run_env, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(site)) for line in where.stdout.split()), where.stdout

    node = NodeProcess([str(prefix / "lib" / "a2m_ros" / "motion_node"), "--ros-args", "-p", "model_preset:=tiny",
                        "-r", "__ns:=/installed"], run_env, tmp_path / "installed_motion_node.log", cwd=tmp_path)
    try:
        wait_for(lambda: "listening on /installed/audio" in node.log() or node.proc.poll() is not None, 60,
                 "the installed motion node to start")
        assert node.proc.poll() is None, node.log()
    finally:
        assert node.stop(signal.SIGINT) == 0, node.log()
