"""A model's size from its config alone, so that a config asking for an oversized model is refused
before anything is allocated.

The parameter count is estimated from modules built on torch's meta device and compared with
MAX_PARAMETERS and the memory the machine has free; the loader then compares the shapes with the
weights file's header before reading it.
"""

from __future__ import annotations

import math
import os

import torch

from a2m_core.errors import InputError
from a2m_core.model.condition import ConditionEncoder
from a2m_core.model.config import AudioToMotionConfig
from a2m_core.model.frontend_logmel import LogMelFrontend
from a2m_core.model.frontend_wavlm import WavLMFrontendConfig
from a2m_core.model.length_predictor import LengthPredictor
from a2m_core.model.masked_transformer import MaskedTransformer
from a2m_core.model.residual_transformer import ResidualTransformer
from a2m_core.model.rvq_vae import RVQVAE

MAX_PARAMETERS = 2_000_000_000  # 8 GB of float32 weights; the environment's A2M_MAX_PARAMETERS replaces it


def _max_parameters() -> int:
    text = os.environ.get("A2M_MAX_PARAMETERS")
    if text is None:
        return MAX_PARAMETERS
    try:
        return int(float(text))
    except ValueError:
        raise InputError(f"A2M_MAX_PARAMETERS={text!r}: expected a number of parameters, e.g. 4e9") from None


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _wavlm_parameters(hf: dict) -> int:
    """WavLM's parameter count from its config (transformers does not build it on the meta device)."""
    h, inner, layers = int(hf["hidden_size"]), int(hf["intermediate_size"]), int(hf["num_hidden_layers"])
    convs = list(zip([1, *hf["conv_dim"][:-1]], hf["conv_dim"], hf["conv_kernel"]))
    return (layers * (4 * h * h + 2 * h * inner) + sum(i * o * k for i, o, k in convs)
            + h * h // int(hf.get("num_conv_pos_embedding_groups", 16)) * int(hf.get("num_conv_pos_embeddings", 128)))


def meta_shapes(config: AudioToMotionConfig) -> dict[str, tuple[int, ...]]:
    """Shapes of AudioToMotion(config).state_dict(), from modules built on the meta device (nothing allocated).

    WavLM and pretrained text front-ends are left out: transformers allocates them whatever the device.
    """
    parts = {"condition": (ConditionEncoder, config.condition), "rvq_vae": (RVQVAE, config.rvq_vae),
             "masked": (MaskedTransformer, config.masked), "residual": (ResidualTransformer, config.residual),
             "length_predictor": (LengthPredictor, config.length)}
    if config.frontend.kind == "logmel":
        parts["frontend"] = (LogMelFrontend, config.frontend)
    shapes = {}
    with torch.device("meta"):
        for name, (module_cls, part_config) in parts.items():
            shapes.update({f"{name}.{key}": tuple(t.shape) for key, t in module_cls(part_config).state_dict().items()})
    return shapes


def estimate_parameters(config: AudioToMotionConfig, shapes: dict[str, tuple[int, ...]] | None = None) -> int:
    """Numbers AudioToMotion(config).state_dict() holds (parameters and buffers), counted without allocating."""
    shapes = meta_shapes(config) if shapes is None else shapes
    total = sum(math.prod(shape) for shape in shapes.values())
    if isinstance(config.frontend, WavLMFrontendConfig):
        total += _wavlm_parameters(config.frontend.hf_config)
    return total  # a pretrained text front-end adds its file's size, which a config cannot inflate


def check_model_size(config: AudioToMotionConfig, source: str) -> dict[str, tuple[int, ...]]:
    """InputError when the model would exceed MAX_PARAMETERS or the free memory; returns its `meta_shapes`."""
    shapes = meta_shapes(config)
    count = estimate_parameters(config, shapes)
    gigabytes = 4 * count / 1e9  # float32
    limit = _max_parameters()
    if count > limit:
        raise InputError(f"{source}: the model would have {count / 1e6:,.0f} M parameters ({gigabytes:.1f} GB), over the "
                         f"limit of {limit / 1e6:,.0f} M; set A2M_MAX_PARAMETERS to load it anyway")
    available = _available_bytes()
    if available is not None and 4 * count > available:
        raise InputError(f"{source}: the model needs {gigabytes:.1f} GB for its weights alone; "
                         f"{available / 1e9:.1f} GB of memory is free")
    return shapes
