"""Inputs the command-line tests share: real speech, the shipped model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile

from a2m_core.audio.speech import espeak
from a2m_core.paths import SHIPPED_MODEL_DIR


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory) -> Path:
    """A spoken instruction (espeak-ng, 22.05 kHz WAV)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng absent: scripts/setup.sh installs it (apt)")
    path = tmp_path_factory.mktemp("speech") / "walk.wav"
    soundfile.write(path, *espeak("walk forward and wave", "en-us"))
    return path


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The shipped default model (trained, with Mean/Std)."""
    if not (SHIPPED_MODEL_DIR / "config.json").is_file():
        pytest.skip(f"the shipped model is absent: {SHIPPED_MODEL_DIR}")
    return SHIPPED_MODEL_DIR
