"""Real speech for the audio tests: espeak-ng, resampled by our own loader."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from a2m_core.audio.io import load_audio


@pytest.fixture(scope="session")
def speak(tmp_path_factory):
    """speak(text, voice) -> float32 mono 16 kHz speech synthesised by espeak-ng (22.05 kHz WAV)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng absent: scripts/setup.sh installs it (apt)")
    folder = tmp_path_factory.mktemp("speech")

    def speak(text: str, voice: str = "en-us") -> np.ndarray:
        path = folder / f"{abs(hash((text, voice)))}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
        return load_audio(path).samples

    return speak
