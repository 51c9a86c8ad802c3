"""The eager PyTorch backend of `MotionGenerator`: one utterance in, raw dataset features out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from a2m_core.errors import InputError
from a2m_core.motion.skeleton import SKELETONS


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings (paper: 10 iterations, guidance 4 for the base layer and 5 for the residual layers)."""

    num_iters: int = 10
    cfg_scale: float = 4.0
    res_cfg_scale: float = 5.0
    temperature: float = 1.0

    def __post_init__(self):
        if self.num_iters < 1:
            raise ValueError(f"num_iters must be >= 1, got {self.num_iters}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")


class TorchGenerator:
    """Runs `a2m_core.generation.generate` on one utterance with a loaded AudioToMotion model.

    A model without saved normalisation statistics (a randomly initialised one) yields its
    features as they are: fine for plumbing, meaningless as motion.
    """

    def __init__(self, model, config: GenerationConfig = GenerationConfig(), threads: int | None = None):
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.model = model.eval()
        self.config = config
        self.skeleton = SKELETONS[model.config.dataset]
        self.fps = float(model.config.fps)

    @classmethod
    def from_path_or_preset(cls, model_path: str, preset: str, device: str = "cpu",
                            config: GenerationConfig = GenerationConfig()) -> "TorchGenerator":
        """Load the model folder at `model_path`, or a randomly initialised `preset` when the path is empty."""
        from a2m_core.model.audio_to_motion import AudioToMotion

        if model_path:
            if not Path(model_path).is_dir():
                raise InputError(f"model folder not found: {model_path}; expected a folder with config.json and "
                                 "model.safetensors (a2m train writes one), or leave model_path empty for a random model")
            model = AudioToMotion.load(model_path, map_location=device)
        else:
            model = AudioToMotion.from_preset(preset)
        return cls(model.to(device), config)

    @property
    def condition_input(self) -> str:
        """'audio', or 'text' for a text-conditioned model (text baseline, cascade)."""
        return self.model.config.condition_input

    def __call__(self, audio: np.ndarray, motion_s: float | None = None, seed: int = 0) -> np.ndarray:
        """audio (n) float32 16 kHz -> features (t d) float32, raw (denormalised) where the model knows how."""
        import torch

        from a2m_core.generation import generate

        if self.condition_input != "audio":
            raise InputError("this model is text-conditioned: send a typed instruction, not audio")
        device = self.model.device
        audio_t = torch.as_tensor(np.ascontiguousarray(audio, np.float32), device=device)[None]  # (1 s)
        audio_lens = torch.tensor([audio_t.shape[1]], device=device)
        return self._run(generate, (self.model, audio_t, audio_lens), motion_s, seed)

    def from_text(self, text: str, motion_s: float | None = None, seed: int = 0) -> np.ndarray:
        """A typed instruction -> features (t d) float32 (text-conditioned models only)."""
        from a2m_core.generation import generate_from_text

        if self.condition_input != "text":
            raise InputError("this model is audio-conditioned: speak the instruction, or load a text model")
        if not text.strip():
            raise InputError("the instruction is empty: type what the avatar should do")
        return self._run(generate_from_text, (self.model, [text]), motion_s, seed)

    def _run(self, generate_fn, inputs: tuple, motion_s: float | None, seed: int) -> np.ndarray:
        import torch

        from a2m_core.generation import make_noise

        device = self.model.device
        lengths = None
        if motion_s is not None and motion_s > 0:
            lengths = torch.tensor([max(1, round(motion_s * self.fps))], device=device)
        cfg = self.config
        noise = make_noise(self.model, 1, cfg.num_iters, seed=seed, device=device)
        with torch.no_grad():
            out = generate_fn(*inputs, lengths, noise, num_iters=cfg.num_iters, cfg_scale=cfg.cfg_scale,
                              res_cfg_scale=cfg.res_cfg_scale, temperature=cfg.temperature)
        features = out.features[0, : int(out.lengths[0])].float().cpu().numpy()  # (t d)
        if self.model.normalization is not None:
            mean, std = self.model.normalization
            features = features * std + mean
        return features.astype(np.float32)
