"""The package installs, its CLI answers, and the library stays ROS-free."""

import subprocess
import sys

import pytest


def test_core_is_ros_free():
    code = (
        "import sys, a2m_core, a2m_core.motion.skeleton, a2m_core.motion.io, a2m_cli.main;"
        "a2m_cli.main.build_parser();"
        "assert 'rclpy' not in sys.modules, 'a2m_core pulled in rclpy'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("argv", [["--help"], ["motion", "--help"], ["demo", "--help"]])
def test_cli_help(argv):
    result = subprocess.run([sys.executable, "-m", "a2m_cli", *argv], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "usage: a2m" in result.stdout


def test_cli_without_command_prints_help_and_fails():
    result = subprocess.run([sys.executable, "-m", "a2m_cli"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "COMMAND" in result.stdout


def test_test_module_names_are_unique():
    """tests/ folders are not packages, so pytest imports test files by basename: two alike stop collection."""
    from collections import Counter
    from pathlib import Path

    names = Counter(p.name for p in Path(__file__).parent.rglob("test_*.py"))
    assert not [n for n, c in names.items() if c > 1], names
