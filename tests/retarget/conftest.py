"""Fixtures for retargeting tests: the Unitree G1 from ../shared (skipped where absent) and the shipped map."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pinocchio", reason="pinocchio (the `retarget` extra) is not installed")

REPO = Path(__file__).resolve().parents[2]
SHARED_DIR = REPO / ".." / "shared"
G1_URDF = SHARED_DIR / "robots" / "unitree_g1" / "g1_29dof_rev_1_0.urdf"
G1_MAP = REPO / "config" / "retarget" / "unitree_g1.yaml"
FIXTURE_JOINTS = SHARED_DIR / "fixtures" / "humanml3d" / "new_joints_012314.npy"


@pytest.fixture(scope="session")
def g1_urdf() -> Path:
    if not G1_URDF.is_file():
        pytest.skip(f"Unitree G1 URDF absent: {G1_URDF} (the shared robot descriptions are not checked out here)")
    return G1_URDF


@pytest.fixture
def g1(g1_urdf):
    from a2m_core.retarget.robot import RobotModel

    return RobotModel(g1_urdf)


@pytest.fixture(scope="session")
def g1_map():
    from a2m_core.motion.skeleton import HUMANML3D
    from a2m_core.retarget.keypoint_map import load_keypoint_map

    return load_keypoint_map(G1_MAP, HUMANML3D)


@pytest.fixture(scope="session")
def fixture_motion():
    from a2m_core.motion.io import load_motion

    if not FIXTURE_JOINTS.is_file():
        pytest.skip(f"HumanML3D reference clip absent: {FIXTURE_JOINTS} (the shared fixtures are not checked out here)")
    return load_motion(FIXTURE_JOINTS)
