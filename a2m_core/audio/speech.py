"""Offline speech synthesis: the one place a2m runs a speech engine (espeak-ng, festival).

`synthesize(text, voice)` gives 16 kHz mono float32 (the training corpus, the demo, the
instruction evaluation); `espeak(text, ...)` gives espeak-ng's own output at its own rate
(22.05 kHz), for the speed benchmarks and for tests that need audio at another rate than 16 kHz.
Both engines run as subprocesses, and the text goes through stdin, never the command line, so a
caption starting with "-" cannot be taken for an option. sox converts whatever rate an engine
produces to 16 kHz mono with `-G` (guard against clipping).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from a2m_core.audio.io import SAMPLE_RATE_HZ
from a2m_core.errors import InputError

ENGINES = ("espeak-ng", "festival")
# festival voice -> its diphone pitch model (mean, std Hz) that int_lr_params retargets; None: HTS voice
FESTIVAL_VOICES = {"kal_diphone": (105.0, 14.0), "ked_diphone": (105.0, 14.0), "cmu_us_slt_arctic_hts": None}
ESPEAK_DEFAULT_PITCH, ESPEAK_DEFAULT_RATE_WPM = 50, 175  # what espeak-ng uses without -p / -s
MAX_TEXT_CHARS = 400  # HumanML3D's longest captions are about 300 characters
_PACKAGES = {"espeak-ng": "espeak-ng", "text2wave": "festival", "sox": "sox"}


@dataclass(frozen=True)
class Voice:
    """One speaker identity: an engine, a voice and its pitch and rate settings."""

    engine: str  # "espeak-ng" or "festival"
    name: str  # espeak-ng voice "en-gb-scotland+m7" or festival voice "kal_diphone"
    pitch: int  # espeak-ng: -p 0..99; festival: shift of the mean F0 in Hz
    rate: int  # espeak-ng: words per minute; festival: % of normal speed

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be 'espeak-ng' or 'festival', got {self.engine!r}")
        if self.engine == "espeak-ng" and not (0 <= self.pitch <= 99 and 80 <= self.rate <= 450):
            raise ValueError(f"espeak-ng pitch 0..99 and rate 80..450 wpm, got {self.pitch}, {self.rate}")
        if self.engine == "festival" and (self.name not in FESTIVAL_VOICES or not 50 <= self.rate <= 200):
            raise ValueError(f"festival voice one of {list(FESTIVAL_VOICES)} and rate 50..200 %, got "
                             f"{self.name!r}, {self.rate}")

    @property
    def speaker_id(self) -> str:
        return f"{self.engine}:{self.name}:p{self.pitch}:r{self.rate}"

    def to_json(self) -> dict:
        return {"speaker_id": self.speaker_id, **asdict(self)}


def require_tool(tool: str) -> str:
    """Path of `tool`, or an InputError naming the Debian package that provides it."""
    path = shutil.which(tool)
    if path is None:
        raise InputError(f"{tool} not found on PATH: install the Debian package {_PACKAGES[tool]} "
                         f"(sudo apt-get install {_PACKAGES[tool]}) or run scripts/setup.sh")
    return path


def _to_16k_mono(wav_bytes: bytes, effects: tuple[str, ...] = ()) -> np.ndarray:
    """sox: any WAV -> 16 kHz mono 16-bit (after sox `effects`); returned as float32 in [-1, 1]."""
    out = subprocess.run([require_tool("sox"), "-G", "-t", "wav", "-", "-r", str(SAMPLE_RATE_HZ), "-c", "1",
                          "-b", "16", "-t", "wav", "-", *effects], input=wav_bytes, capture_output=True, check=True)
    audio, rate = sf.read(io.BytesIO(out.stdout), dtype="float32")
    assert rate == SAMPLE_RATE_HZ
    return audio


def _espeak(text: str, voice: Voice) -> tuple[bytes, tuple[str, ...]]:
    cmd = [require_tool("espeak-ng"), "-v", voice.name, "-p", str(voice.pitch), "-s", str(voice.rate), "--stdout"]
    return subprocess.run(cmd, input=text.encode(), capture_output=True, check=True).stdout, ()


_HTS_F0_HZ = 180.0  # rough mean F0 of the HTS voice, to turn a shift in Hz into cents for sox


def _festival(text: str, voice: Voice) -> tuple[bytes, tuple[str, ...]]:
    """Diphone voices take pitch and rate inside festival; the HTS voice ignores both, so sox applies them."""
    evals = [f"(voice_{voice.name})"]
    effects: tuple[str, ...] = ()
    model = FESTIVAL_VOICES[voice.name]
    if model is None:
        cents = 1200.0 * np.log2((_HTS_F0_HZ + voice.pitch) / _HTS_F0_HZ)
        effects = ("tempo", "-s", f"{voice.rate / 100.0:.4f}", "pitch", f"{cents:.1f}")
    else:
        mean, std = model
        evals.append(f"(Parameter.set 'Duration_Stretch {100.0 / voice.rate:.4f})")
        evals.append(f"(set! int_lr_params '((target_f0_mean {mean + voice.pitch}) (target_f0_std {std}) "
                     f"(model_f0_mean 170) (model_f0_std 34)))")
    with tempfile.TemporaryDirectory(prefix="a2m_tts_") as tmp:
        out = Path(tmp) / "out.wav"
        cmd = [require_tool("text2wave"), "-o", str(out)]
        for e in evals:
            cmd += ["-eval", e]
        subprocess.run(cmd, input=text.encode(), capture_output=True, check=True)
        return out.read_bytes(), effects


def _engine_wav(text: str, voice: Voice) -> tuple[bytes, tuple[str, ...]]:
    """(the engine's WAV for `text`, sox effects still to apply); InputError for unusable text or a failed engine."""
    if not text.strip():
        raise InputError("got empty text to speak; expected a sentence")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"got {len(text)} characters to speak; expected an instruction of at most {MAX_TEXT_CHARS} "
                         "(split long texts into sentences)")
    if not text.isascii():
        raise InputError(f"got non-ASCII text {text[:40]!r}; the English voices expect ASCII (clean it first)")
    engine = _espeak if voice.engine == "espeak-ng" else _festival
    try:
        return engine(text, voice)
    except subprocess.CalledProcessError as exc:
        raise InputError(f"{voice.engine} failed for voice {voice.speaker_id}: {exc.stderr.decode()[-300:]}") from exc


def synthesize(text: str, voice: Voice) -> np.ndarray:
    """Speech for `text` in `voice`: float32 (n,) at 16 kHz mono."""
    wav, effects = _engine_wav(text, voice)
    try:
        audio = _to_16k_mono(wav, effects)
    except subprocess.CalledProcessError as exc:
        raise InputError(f"{voice.engine} failed for voice {voice.speaker_id}: {exc.stderr.decode()[-300:]}") from exc
    if audio.size == 0 or not np.isfinite(audio).all():
        raise InputError(f"{voice.engine} produced no usable audio for {text[:40]!r} with {voice.speaker_id}")
    return audio


def espeak(text: str, voice: str = "en", rate_wpm: int = ESPEAK_DEFAULT_RATE_WPM) -> tuple[np.ndarray, int]:
    """espeak-ng's own output for `text` in `voice` at its default pitch: (float32 mono samples, their rate in Hz)."""
    wav, _ = _engine_wav(text, Voice("espeak-ng", voice, ESPEAK_DEFAULT_PITCH, rate_wpm))
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return audio, rate
