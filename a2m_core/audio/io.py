"""Audio in and out of the model's format: float32 mono at 16 kHz, full scale 1.0.

Loads any file soundfile reads (WAV at any rate and channel count, FLAC, OGG), checks it,
resamples it (scipy's polyphase filter, also as a stream for live input), and converts
samples to and from the little-endian bytes that travel in an AudioChunk message
(int16 or float32). Nothing here imports rclpy: the ROS nodes call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from a2m_core.errors import InputError
from a2m_core.files import atomic_path

SAMPLE_RATE_HZ = 16000  # what the audio front-ends expect
MIN_SAMPLE_RATE_HZ = 4000
MAX_SAMPLE_RATE_HZ = 384000
ENCODINGS = {"int16": np.dtype("<i2"), "float32": np.dtype("<f4")}
INT16_FULL_SCALE = 32768.0
CLIP_LEVEL = 0.999  # |x| at or above this counts as clipped
CLIP_WARN_FRACTION = 0.001  # warn when more than 0.1 % of the samples are clipped
MAX_FILE_S = 600.0  # longest audio file read (10 min, 19 MB at 16 kHz); models refuse far less (max_audio_s)


@dataclass(frozen=True)
class Audio:
    """Model-ready audio and what was noticed while preparing it.

    samples (n) float32 mono at `sample_rate_hz`; warnings: problems that did not stop use.
    """

    samples: np.ndarray
    sample_rate_hz: int
    warnings: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate_hz


def check_sample_rate(sample_rate_hz: int) -> int:
    """The rate as an int, or InputError when no microphone or file could have it."""
    if int(sample_rate_hz) != sample_rate_hz or not MIN_SAMPLE_RATE_HZ <= sample_rate_hz <= MAX_SAMPLE_RATE_HZ:
        raise InputError(f"sample rate {sample_rate_hz!r} Hz is not usable: expected an integer between "
                         f"{MIN_SAMPLE_RATE_HZ} and {MAX_SAMPLE_RATE_HZ} Hz; set the rate the audio was recorded at")
    return int(sample_rate_hz)


def check_samples(samples: np.ndarray, what: str = "audio") -> list[str]:
    """InputError for audio that cannot be used (empty, NaN/Inf); warnings for audio that can.

    samples (n) or (n c), float, full scale 1.0 -> warnings
    """
    if samples.size == 0:
        raise InputError(f"{what} is empty (0 samples): expected speech; check the file or the microphone")
    if samples.ndim not in (1, 2):
        raise InputError(f"{what} has shape {samples.shape}: expected (samples,) or (samples, channels)")
    finite = np.isfinite(samples)
    if not finite.all():
        bad = samples.size - int(finite.sum())
        raise InputError(f"{what} holds {bad} NaN or Inf samples of {samples.size}: expected finite values; "
                         "the recording or the conversion upstream is broken")
    warnings = []
    clipped = float(np.mean(np.abs(samples) >= CLIP_LEVEL))
    if clipped > CLIP_WARN_FRACTION:
        warnings.append(f"{what} is clipped ({100 * clipped:.1f} % of samples at full scale): "
                        "lower the input gain")
    if float(np.max(np.abs(samples))) == 0.0:
        warnings.append(f"{what} is pure digital silence: check that the right input device is selected")
    return warnings


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels: (n c) or (n) -> (n) float32."""
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return np.ascontiguousarray(samples, dtype=np.float32)


def resample(samples: np.ndarray, from_hz: int, to_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Polyphase resampling of a whole signal: (n) -> (n * to_hz / from_hz) float32."""
    from_hz, to_hz = check_sample_rate(from_hz), check_sample_rate(to_hz)
    if from_hz == to_hz:
        return np.asarray(samples, dtype=np.float32)
    g = gcd(from_hz, to_hz)
    return resample_poly(samples, to_hz // g, from_hz // g).astype(np.float32)


class StreamResampler:
    """Resamples a signal that arrives in pieces, matching `resample` on the whole signal.

    Output lags input by a few milliseconds (the filter's half length): each input sample is
    released once the filter's right-hand support has arrived. Memory is bounded by the
    filter length plus one chunk.
    """

    def __init__(self, from_hz: int, to_hz: int = SAMPLE_RATE_HZ):
        self.from_hz, self.to_hz = check_sample_rate(from_hz), check_sample_rate(to_hz)
        g = gcd(self.from_hz, self.to_hz)
        self._up, self._down = self.to_hz // g, self.from_hz // g
        # resample_poly's default filter spans 10 * max(up, down) taps each side at the
        # upsampled rate; round the context in input samples up to a multiple of `down`
        # so that every window starts on an output sample.
        half_in = -(-10 * max(self._up, self._down) // self._up) + 1
        self._context = -(-half_in // self._down) * self._down
        self._left = np.zeros(self._context, np.float32)  # already released input (zeros = start padding)
        self._pending = np.zeros(0, np.float32)  # input not released yet

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Feed (n) float32 at from_hz; get the (m) float32 at to_hz that are final now."""
        if self._up == self._down:
            return np.asarray(samples, np.float32)
        self._pending = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        ready = (len(self._pending) - self._context) // self._down * self._down
        if ready <= 0:
            return np.zeros(0, np.float32)
        return self._release(ready, right=self._pending[ready:ready + self._context])

    def flush(self) -> np.ndarray:
        """The rest of the output, as if the signal ended here (zero padding on the right)."""
        if self._up == self._down or len(self._pending) == 0:
            return np.zeros(0, np.float32)
        n = len(self._pending)
        return self._release(n, right=np.zeros(self._context, np.float32), exact_len=-(-n * self._up // self._down))

    def _release(self, n: int, right: np.ndarray, exact_len: int | None = None) -> np.ndarray:
        window = np.concatenate([self._left, self._pending[:n], right])
        y = resample_poly(window, self._up, self._down)
        start = self._context * self._up // self._down
        length = exact_len if exact_len is not None else n * self._up // self._down
        out = y[start:start + length].astype(np.float32)
        self._left = np.concatenate([self._left, self._pending[:n]])[-self._context:]
        self._pending = self._pending[n:]
        return out


def load_audio(path: str | Path, sample_rate_hz: int = SAMPLE_RATE_HZ, max_duration_s: float = MAX_FILE_S) -> Audio:
    """Read an audio file at any rate and channel count as float32 mono at `sample_rate_hz`.

    Files longer than max_duration_s are refused from their header, before any sample is read.
    """
    import soundfile

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an audio file; give the path of a WAV file")
    if not path.is_file():
        raise InputError(f"audio file not found: {path}; give the path of a WAV file")
    unreadable = (soundfile.LibsndfileError, RuntimeError, ValueError)
    try:
        info = soundfile.info(str(path))  # the header only: refuse what is too long before reading it
    except unreadable as exc:
        raise InputError(f"cannot read audio file {path}: {exc}; expected a WAV (or FLAC/OGG) file") from None
    if info.frames > max_duration_s * info.samplerate:
        raise InputError(f"audio file {path} is {info.frames / max(info.samplerate, 1):.0f} s long; the limit is "
                         f"{max_duration_s:g} s (a spoken instruction lasts seconds): cut the file, or split it "
                         "into utterances (the ROS motion node does that with its voice activity detector)")
    try:
        data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)  # (n c)
    except unreadable as exc:
        raise InputError(f"cannot read audio file {path}: {exc}; expected a WAV (or FLAC/OGG) file") from None
    warnings = check_samples(data, what=f"audio file {path.name}")
    if "should be" in info.extra_info:  # libsndfile: a chunk size in the header exceeds the file
        warnings.append(f"audio file {path.name} is truncated: its header promises more audio than the file holds "
                        f"(read {len(data) / file_rate:.2f} s); the recording or the copy was cut off")
    samples = resample(to_mono(data), check_sample_rate(file_rate), sample_rate_hz)
    return Audio(samples, sample_rate_hz, tuple(warnings))


def save_wav(path: str | Path, samples: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
    """Write (n) or (n c) float samples as 16-bit PCM WAV, whole or not at all (`a2m_core.files.atomic_path`)."""
    import soundfile

    with atomic_path(path) as tmp:
        soundfile.write(str(tmp), np.asarray(samples, np.float32), int(sample_rate_hz), subtype="PCM_16", format="WAV")


def encode_samples(samples: np.ndarray, encoding: str) -> bytes:
    """Float samples (n) or (n c), full scale 1.0 -> interleaved little-endian bytes in `encoding`."""
    dtype = _dtype(encoding)
    samples = np.asarray(samples, np.float32)
    if dtype.kind == "i":
        samples = np.clip(np.round(samples * INT16_FULL_SCALE), -INT16_FULL_SCALE, INT16_FULL_SCALE - 1)
    return samples.astype(dtype).tobytes()


def decode_samples(data: bytes, encoding: str, channels: int) -> np.ndarray:
    """Interleaved little-endian bytes -> float32 (n c), full scale 1.0. InputError on a bad layout."""
    dtype = _dtype(encoding)
    if channels < 1:
        raise InputError(f"channel count {channels}: expected 1 or more")
    frame_bytes = dtype.itemsize * channels
    if len(data) % frame_bytes:
        raise InputError(f"{len(data)} bytes do not hold whole {encoding} frames of {channels} channel(s) "
                         f"({frame_bytes} bytes each): the sender's encoding or channel count is wrong")
    samples = np.frombuffer(data, dtype).reshape(-1, channels).astype(np.float32)  # (n c)
    if dtype.kind == "i":
        samples /= INT16_FULL_SCALE
    return samples


def _dtype(encoding: str) -> np.dtype:
    try:
        return ENCODINGS[encoding]
    except KeyError:
        raise InputError(f"audio encoding {encoding!r} is not supported: expected one of "
                         f"{', '.join(ENCODINGS)}") from None
