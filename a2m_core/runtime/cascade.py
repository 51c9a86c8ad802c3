"""The cascade baseline of the benchmark: offline ASR (pocketsphinx) -> text-conditioned model.

The paper compares its end-to-end model with Whisper + a text model; here the ASR is
pocketsphinx (the offline recogniser that installs on these machines) and the text model is
the `text` variant of AudioToMotion in eager PyTorch, decoded by the same graph (b) as every
backend. It implements `Backend`, so the benchmark times it like any backend.
"""

from __future__ import annotations

import numpy as np

from a2m_core.audio.io import SAMPLE_RATE_HZ
from a2m_core.errors import InputError
from a2m_core.runtime.backend import Backend
from a2m_core.runtime.interface import DecodingConfig, GraphOutputs, GraphSpec


class PocketsphinxAsr:
    """16 kHz float audio -> lower-case words, with pocketsphinx's bundled US English model."""

    def __init__(self):
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise InputError("the cascade baseline needs pocketsphinx: pip install 'a2m[audio]'") from exc
        self.decoder = Decoder(samprate=SAMPLE_RATE_HZ)

    def transcribe(self, samples: np.ndarray) -> str:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hypothesis = self.decoder.hyp()
        return hypothesis.hypstr.strip() if hypothesis is not None else ""


class CascadeBackend(Backend):
    """ASR per clip, then the text model's condition through graph (b)."""

    name = "cascade"

    def __init__(self, text_model, decoding: DecodingConfig = DecodingConfig()):
        from a2m_core.runtime.graphs import MotionGraph

        if text_model.config.condition_input != "text":
            raise InputError("the cascade needs a text-conditioned model (preset 'text')")
        super().__init__(GraphSpec.from_model(text_model, decoding.num_iters))
        self.asr = PocketsphinxAsr()
        self.model = text_model.eval()
        self.motion = MotionGraph(text_model, decoding).eval()
        self.last_transcripts: list[str] = []

    def describe(self) -> str:
        return "pocketsphinx ASR + text model (torch cpu)"

    def run_graphs(self, audio: np.ndarray, audio_lens: np.ndarray, lengths: np.ndarray,
                   noise: np.ndarray) -> GraphOutputs:
        import torch

        texts = [self.asr.transcribe(audio[i, :n]) for i, n in enumerate(audio_lens)]
        if not all(texts):
            raise InputError(f"the ASR heard no words in clip(s) {[i for i, t in enumerate(texts) if not t]}")
        self.last_transcripts = texts
        with torch.no_grad():
            cond, cond_valid = self.model.encode_text(texts)
            outputs = self.motion(cond, cond_valid, torch.from_numpy(lengths), torch.from_numpy(noise))
        return GraphOutputs(*(o.numpy() for o in outputs))
