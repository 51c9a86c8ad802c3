"""`Backend`: the one interface every runtime backend offers, audio in, `Motion` out.

    gen = load_backend("auto", model_dir="models/default")  # a2m_core.runtime.backends
    motion = gen.generate(audio, 16000, length=None, seed=0)  # Motion: joints (t j 3), skeleton, features
    motions = gen.generate_batch([a, b], 16000, seeds=[0, 1])

A backend only runs the two graphs (`a2m_core.runtime.graphs`) on prepared arrays; everything
else lives here once: checking and resampling the audio, padding a batch, drawing the Gumbel
noise from the seed (numpy, so every backend gets the same noise for the same seed and tokens
can be compared across backends), and cutting each sample's motion to its length.
Typed instructions go through the same interface (`check_text`, `from_text`): a backend of an
audio model refuses them with what to do instead, and the text-conditioned model's backend
(`a2m_core.runtime.text_backend`) refuses audio, so the motion node never asks which kind of
model it holds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from a2m_core.audio.io import SAMPLE_RATE_HZ, check_samples, resample, to_mono
from a2m_core.errors import InputError
from a2m_core.motion.motion import Motion
from a2m_core.motion.skeleton import SKELETONS, Skeleton
from a2m_core.runtime.interface import GraphOutputs, GraphSpec

MIN_AUDIO_SAMPLES = 400  # 25 ms: one analysis window of either front-end


def gumbel_noise(shape: tuple[int, ...], seed: int | None) -> np.ndarray:
    """Standard Gumbel samples (float32) from a seed; None: fresh randomness."""
    uniform = np.random.default_rng(seed).random(shape, dtype=np.float32)
    uniform = np.clip(uniform, 1e-10, 1.0 - 1e-7)
    return -np.log(-np.log(uniform))


class Backend(ABC):
    """Audio -> Motion with one backend; subclasses implement `run_graphs`."""

    name: str = "backend"

    def __init__(self, spec: GraphSpec):
        self.spec = spec
        self.skeleton: Skeleton = SKELETONS[spec.dataset]

    @abstractmethod
    def run_graphs(self, audio: np.ndarray, audio_lens: np.ndarray, lengths: np.ndarray,
                   noise: np.ndarray) -> GraphOutputs:
        """audio (b s) float32 16 kHz zero padded, audio_lens (b) int64, lengths (b) int64 frames
        (0: predicted), noise (b steps n k) float32 -> GraphOutputs."""

    def describe(self) -> str:
        """One line naming the backend and where it runs (for logs and benchmarks)."""
        return self.name

    def check_text(self, text: str) -> None:
        """InputError unless this backend takes typed instructions (those of text-conditioned models do)."""
        raise InputError("the loaded model is not text-conditioned: speak the instruction, "
                         "or load a text model to send typed instructions")

    def from_text(self, text: str, motion_s: float | None = None, seed: int = 0) -> np.ndarray:
        """A typed instruction -> raw features (t d) float32; motion_s None: length predicted."""
        self.check_text(text)
        raise NotImplementedError(f"{type(self).__name__} accepts text but does not implement from_text")

    def warm_up(self) -> None:
        """Run the model once on a placeholder input (onnxruntime and torch set up their kernels on the first run)."""
        self(np.zeros(SAMPLE_RATE_HZ, np.float32), seed=0)

    # ------------------------------------------------------------------ public API

    def generate(self, audio: np.ndarray, sample_rate: int, length: int | None = None,
                 seed: int | None = None) -> Motion:
        """One utterance -> Motion. audio (n) or (n c) float at sample_rate; length in frames at
        the model's fps (None: predicted from the audio); the same seed gives the same motion."""
        return self.generate_batch([audio], sample_rate, None if length is None else [length],
                                   None if seed is None else [seed])[0]

    def generate_batch(self, audios: list[np.ndarray], sample_rate: int, lengths: list[int | None] | None = None,
                       seeds: list[int | None] | None = None) -> list[Motion]:
        """Several utterances in one run of the graphs; one Motion each, in order."""
        out = self.run_graphs(*self.graph_inputs(audios, sample_rate, lengths, seeds))
        return [self._motion(out, i) for i in range(len(audios))]

    def graph_inputs(self, audios: list[np.ndarray], sample_rate: int, lengths: list[int | None] | None = None,
                     seeds: list[int | None] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Checked clips, lengths and seeds -> run_graphs' inputs: audio (b s), audio_lens (b), lengths (b), noise."""
        if not audios:
            raise InputError("generate_batch got no audio: expected a list of at least one clip")
        b = len(audios)
        lengths = [None] * b if lengths is None else list(lengths)
        seeds = [None] * b if seeds is None else list(seeds)
        if len(lengths) != b or len(seeds) != b:
            raise InputError(f"got {b} clips but {len(lengths)} lengths and {len(seeds)} seeds: give one each")
        clips = [self.prepare_audio(a, sample_rate) for a in audios]
        audio = np.zeros((b, max(len(c) for c in clips)), np.float32)  # (b s)
        for i, clip in enumerate(clips):
            audio[i, : len(clip)] = clip
        audio_lens = np.array([len(c) for c in clips], np.int64)
        frames = np.array([self.check_length(n) for n in lengths], np.int64)
        noise = np.stack([gumbel_noise(self.spec.noise_dims, s) for s in seeds])  # (b steps n k)
        return audio, audio_lens, frames, noise

    def __call__(self, audio: np.ndarray, motion_s: float | None = None, seed: int = 0) -> np.ndarray:
        """What `MotionPipeline` calls (a2m_core.runtime.pipeline): audio (n) 16 kHz -> raw features (t d)."""
        length = None if motion_s is None or motion_s <= 0 else max(1, round(motion_s * self.spec.fps))
        features = self.generate(audio, SAMPLE_RATE_HZ, length, seed).features
        assert features is not None  # every backend returns features
        return features

    # ------------------------------------------------------------------ helpers

    def prepare_audio(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Check, downmix and resample one clip -> (n) float32 16 kHz; InputError when unusable."""
        samples = np.asarray(audio)
        if not np.issubdtype(samples.dtype, np.floating):
            raise InputError(f"audio must be float samples in [-1, 1], got dtype {samples.dtype}; "
                             "convert int16 with samples / 32768")
        check_samples(samples)
        samples = resample(to_mono(samples), sample_rate, SAMPLE_RATE_HZ)
        if len(samples) < MIN_AUDIO_SAMPLES:
            raise InputError(f"audio of {len(samples)} samples at 16 kHz is too short: "
                             f"expected at least {MIN_AUDIO_SAMPLES} (25 ms) of speech")
        max_samples = int(self.spec.max_audio_s * SAMPLE_RATE_HZ)
        if len(samples) > max_samples:
            raise InputError(f"audio of {len(samples) / SAMPLE_RATE_HZ:.1f} s is longer than this model's "
                             f"{self.spec.max_audio_s:.0f} s limit: split the instruction (or use VAD)")
        return samples

    def check_length(self, length: int | None) -> int:
        """Motion length in frames -> the graph's lengths entry (0 means: predict it)."""
        if length is None:
            return 0
        if int(length) != length or not 1 <= length <= self.spec.max_frames:
            raise InputError(f"motion length {length!r}: expected whole frames between 1 and "
                             f"{self.spec.max_frames} ({self.spec.max_frames / self.spec.fps:.1f} s at "
                             f"{self.spec.fps:g} fps), or None to predict it")
        return int(length)

    def _motion(self, out: GraphOutputs, i: int) -> Motion:
        frames = int(out.lengths[i])
        return Motion(joints=np.ascontiguousarray(out.joints[i, :frames], np.float32), skeleton=self.skeleton,
                      features=np.ascontiguousarray(out.features[i, :frames], np.float32))
