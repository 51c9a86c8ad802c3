"""The backend of a text-conditioned model (the text baseline): typed instruction -> motion.

The other backends (`a2m_core.runtime.backends`) serve audio-conditioned models; a text model
has no audio graph to export, so it runs here in eager PyTorch through the same decoding graph
(b) and the same seeded Gumbel noise as every backend (`a2m_core.runtime.backend`). It offers
the same interface and refuses audio with what to do instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from a2m_core.errors import InputError
from a2m_core.runtime.backend import Backend, gumbel_noise
from a2m_core.runtime.interface import DecodingConfig, GraphOutputs, GraphSpec

_AUDIO_REFUSED = "this model is text-conditioned: send a typed instruction, not audio"


def is_text_model(model_dir: str | Path) -> bool:
    """Whether the model folder holds a text-conditioned model (reads config.json only)."""
    from a2m_core.model.io import read_config

    return read_config(model_dir).condition_input == "text"


class TextBackend(Backend):
    """`from_text(text, motion_s, seed) -> raw features (t d)`; audio is refused with what to do instead."""

    name = "torch text"

    def __init__(self, model, decoding: DecodingConfig = DecodingConfig(), device: str = "cpu"):
        from a2m_core.runtime.graphs import MotionGraph

        if model.config.condition_input != "text":
            raise InputError("TextBackend needs a text-conditioned model; load audio models with load_backend")
        super().__init__(GraphSpec.from_model(model, decoding.num_iters))
        self.model = model.to(device).eval()
        self.device = device
        self.motion = MotionGraph(self.model, decoding).eval()

    @classmethod
    def from_dir(cls, model_dir: str | Path, decoding: DecodingConfig = DecodingConfig(),
                 device: str = "cpu") -> TextBackend:
        from a2m_core.model import load_model

        return cls(load_model(model_dir, map_location=device), decoding, device)

    def describe(self) -> str:
        return f"torch {self.device} (text-conditioned model)"

    def run_graphs(self, audio: np.ndarray, audio_lens: np.ndarray, lengths: np.ndarray,
                   noise: np.ndarray) -> GraphOutputs:
        raise InputError(_AUDIO_REFUSED)

    def generate_batch(self, audios: list[np.ndarray], sample_rate: int, lengths: list[int | None] | None = None,
                       seeds: list[int | None] | None = None) -> list:
        raise InputError(_AUDIO_REFUSED)  # before the audio is checked: no audio is right for this model

    def check_text(self, text: str) -> None:
        """Typed instructions are what this backend takes (an empty one is refused by from_text)."""

    def warm_up(self) -> None:
        self.from_text("stand still", seed=0)

    def from_text(self, text: str, motion_s: float | None = None, seed: int = 0) -> np.ndarray:
        """A typed instruction -> features (t d) float32; motion_s None: length predicted from the text."""
        import torch

        if not text.strip():
            raise InputError("the instruction is empty: type what the avatar should do")
        frames = 0 if motion_s is None or motion_s <= 0 else max(1, round(motion_s * self.spec.fps))
        if frames > self.spec.max_frames:
            raise InputError(f"motion of {motion_s:g} s is longer than this model's "
                             f"{self.spec.max_frames / self.spec.fps:.1f} s: ask for less")
        noise = torch.from_numpy(gumbel_noise(self.spec.noise_dims, seed)[None]).to(self.device)  # (1 steps n k)
        with torch.no_grad():
            cond, cond_valid = self.model.encode_text([text])
            _, features, _, lengths = self.motion(cond, cond_valid, torch.tensor([frames], device=self.device), noise)
        return np.ascontiguousarray(features[0, : int(lengths[0])].float().cpu().numpy(), np.float32)  # (t d)
