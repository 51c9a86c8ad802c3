"""The eager PyTorch backend: the graphs of `a2m_core.runtime.graphs` run as modules, on CPU or CUDA."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from a2m_core.runtime.backend import Backend
from a2m_core.runtime.interface import DecodingConfig, GraphOutputs, GraphSpec


class TorchBackend(Backend):
    """Runs a loaded AudioToMotion eagerly; the reference every other backend is compared with."""

    name = "torch"

    def __init__(self, model, decoding: DecodingConfig = DecodingConfig(), device: str = "cpu"):
        from a2m_core.runtime.graphs import ConditionGraph, MotionGraph

        super().__init__(GraphSpec.from_model(model, decoding.num_iters))
        model = model.to(device).eval()
        self.model = model
        self.device = device
        self.decoding = decoding
        self.condition = ConditionGraph(model).eval()
        self.motion = MotionGraph(model, decoding).eval()

    @classmethod
    def from_dir(cls, model_dir: str | Path, decoding: DecodingConfig = DecodingConfig(),
                 device: str = "cpu") -> TorchBackend:
        from a2m_core.model import load_model

        return cls(load_model(model_dir, map_location=device), decoding, device)

    def describe(self) -> str:
        return f"torch {self.device}"

    def run_graphs(self, audio: np.ndarray, audio_lens: np.ndarray, lengths: np.ndarray,
                   noise: np.ndarray) -> GraphOutputs:
        import torch

        def tensor(a: np.ndarray):
            return torch.from_numpy(a).to(self.device)

        with torch.no_grad():
            cond, cond_valid = self.condition(tensor(audio), tensor(audio_lens))
            outputs = self.motion(cond, cond_valid, tensor(lengths), tensor(noise))
        return GraphOutputs(*(o.cpu().numpy() for o in outputs))
