"""Voice activity detection on 16 kHz mono float32 audio, one fixed-size frame at a time.

Silero VAD (its ONNX model, shipped in the silero-vad wheel, run with onnxruntime: no torch)
is the default; webrtcvad is the fallback where the model or onnxruntime is missing. At 10 dB
SNR white noise Silero flagged only the speech, webrtcvad also some noise (measured here).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Protocol

import numpy as np

from a2m_core.audio.io import SAMPLE_RATE_HZ, Audio, encode_samples
from a2m_core.errors import InputError

BACKENDS = ("auto", "silero", "webrtc")


class VoiceActivityDetector(Protocol):
    """Speech probability per frame of `frame_len` samples; keeps state across frames."""

    name: str
    frame_len: int

    def __call__(self, frame: np.ndarray) -> float: ...

    def reset(self) -> None: ...


def silero_model_path() -> Path | None:
    """Where the silero-vad wheel keeps its ONNX model, found without importing the package (it imports torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    return path if path.is_file() else None


class SileroVad:
    """Silero VAD v5 through onnxruntime: 512 new samples + 64 samples of context per call."""

    name = "silero"
    frame_len = 512
    _context_len = 64

    def __init__(self, model_path: str | Path | None = None, num_threads: int = 1):
        import onnxruntime

        model_path = Path(model_path) if model_path else silero_model_path()
        if model_path is None or not Path(model_path).is_file():
            raise InputError(f"Silero VAD model not found ({model_path or 'silero-vad not installed'}): "
                             "pip install silero-vad (without extras), or use the webrtc VAD backend")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = num_threads  # 130 us a frame; more threads only add overhead
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._sr = np.array(SAMPLE_RATE_HZ, np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), np.float32)
        self._context = np.zeros(self._context_len, np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        x = np.concatenate([self._context, frame.astype(np.float32, copy=False)])[None]  # (1 576)
        prob, self._state = self._session.run(None, {"input": x, "state": self._state, "sr": self._sr})
        self._context = x[0, -self._context_len:]
        return float(prob[0, 0])


class WebRtcVad:
    """Google's WebRTC VAD on 30 ms frames; its 0/1 decision is the probability."""

    name = "webrtc"
    frame_len = 480

    def __init__(self, aggressiveness: int = 2):
        import webrtcvad

        if aggressiveness not in range(4):
            raise InputError(f"webrtc VAD aggressiveness {aggressiveness}: expected 0 (least) to 3 (most)")
        self._vad = webrtcvad.Vad(aggressiveness)

    def reset(self) -> None:
        pass  # webrtcvad keeps no state between frames that matters here

    def __call__(self, frame: np.ndarray) -> float:
        return float(self._vad.is_speech(encode_samples(frame, "int16"), SAMPLE_RATE_HZ))


def make_vad(backend: str = "auto") -> VoiceActivityDetector:
    """The VAD named by `backend`; "auto" takes Silero and falls back to webrtcvad."""
    if backend not in BACKENDS:
        raise InputError(f"VAD backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend == "webrtc":
        return WebRtcVad()
    try:
        return SileroVad()
    except (InputError, ImportError):
        if backend == "silero":
            raise
        return WebRtcVad()


SPEECH_THRESHOLD = 0.5  # frame probability that counts as speech (the segmenter's default start threshold)
MIN_SPEECH_S = 0.1  # less speech than this in a whole file: nothing was said


def speech_warnings(audio: Audio, vad: VoiceActivityDetector | None = None) -> tuple[str, ...]:
    """A warning when the VAD the nodes use hears no speech in `audio` (16 kHz mono); () otherwise.

    Digital silence is left to `check_samples`, which already warns about it.
    """
    samples = np.asarray(audio.samples, np.float32)
    if audio.sample_rate_hz != SAMPLE_RATE_HZ or not samples.size or not np.abs(samples).max() > 0:
        return ()
    vad = vad or make_vad()
    vad.reset()
    n = len(samples) // vad.frame_len
    frames = samples[: n * vad.frame_len].reshape(n, vad.frame_len)  # (n frame_len)
    speech_s = sum(vad(frame) >= SPEECH_THRESHOLD for frame in frames) * vad.frame_len / SAMPLE_RATE_HZ
    if speech_s >= MIN_SPEECH_S:
        return ()
    return (f"no speech heard in {audio.duration_s:.1f} s of audio (voice activity detector: "
            f"{speech_s:.2f} s of speech): the motion will not follow an instruction; check the file or the microphone",)
