"""Shared set-up for tests that talk ROS 2 over real DDS.

Every test session gets its own random ROS_DOMAIN_ID, discovery limited to localhost, and a
ROS_HOME in a temp dir (rclpy writes logs there), so parallel runs and other machines on the
network never see each other. Node processes started by the tests inherit the same settings.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from ros_helpers import NodeProcess, Probe


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
        "PYTHONFAULTHANDLER": "1",  # a node that hangs and gets SIGABRT logs its threads' stacks
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


@pytest.fixture
def start_node(ros_env, tmp_path):
    """Start node processes; whatever a test leaves running is killed at teardown."""
    started: list[NodeProcess] = []

    def start(module: str, *args: str, env: dict[str, str] | None = None) -> NodeProcess:
        name = module.rsplit(".", 1)[-1]
        node = NodeProcess.module(module, list(args), env or ros_env, tmp_path / f"{name}-{len(started)}.log")
        started.append(node)
        return node

    yield start
    for node in started:
        node.kill()


@pytest.fixture(scope="session")
def speech(tmp_path_factory):
    """speech(text, voice) -> path of a 16 kHz mono WAV of espeak-ng speech."""
    from a2m_core.audio.io import resample, save_wav
    from a2m_core.audio.speech import espeak

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng absent: scripts/setup.sh installs it (apt)")
    folder = tmp_path_factory.mktemp("speech")

    def speech(text: str, voice: str = "en-us") -> Path:
        path = folder / f"{abs(hash((text, voice)))}.wav"
        if not path.exists():
            save_wav(path, resample(*espeak(text, voice)))
        return path

    return speech


@pytest.fixture
def probe(rclpy_context):
    p = Probe(rclpy_context)
    yield p
    p.close()


@pytest.fixture
def pulse(tmp_path):
    from a2m_ros.null_sink import NullSink, pulseaudio_missing

    if (why := pulseaudio_missing()) is not None:
        pytest.skip(why)
    folder = tmp_path / "pulse"
    folder.mkdir()
    server = NullSink(folder)
    yield server
    server.stop()
