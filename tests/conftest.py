"""Shared test fixtures: where the read-only ground-truth data of ../shared lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DIR = Path(__file__).resolve().parents[1] / ".." / "shared"


@pytest.fixture(scope="session")
def humanml3d_fixture_dir() -> Path:
    """../shared/fixtures/humanml3d (one real clip, 012314, with Mean/Std); skips where it is absent."""
    path = SHARED_DIR / "fixtures" / "humanml3d"
    if not (path / "new_joint_vecs_012314.npy").is_file():
        pytest.skip(f"HumanML3D reference clip absent: {path} (the shared fixtures are not checked out here)")
    return path


@pytest.fixture
def unwritable_dir(tmp_path) -> Path:
    """A folder no file can be created in: a read-only folder, or sysfs when running as root (root ignores modes)."""
    if os.geteuid() == 0:
        yield Path("/sys")
        return
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)
