"""Shared test fixtures: the read-only ground-truth data of ../shared, and real speech (espeak-ng)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from a2m_core.audio.io import resample
from a2m_core.audio.speech import espeak

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


@pytest.fixture(scope="session")
def speak():
    """speak(text, voice) -> float32 mono 16 kHz speech synthesised by espeak-ng (resampled from its 22.05 kHz)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng absent: scripts/setup.sh installs it (apt)")

    def speak(text: str, voice: str = "en-us") -> np.ndarray:
        return resample(*espeak(text, voice))

    return speak
