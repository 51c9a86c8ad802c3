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
