"""A model is a folder: config.json, model.safetensors and, once trained, Mean.npy + Std.npy.

Nothing is unpickled: weights are safetensors, the config is JSON, the normalisation statistics
are .npy files read with allow_pickle=False. Every failure names the file and says what to do.
Saving stages the folder beside its target and swaps it in (`a2m_core.files.atomic_dir`), so a
killed save never leaves half a model behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from a2m_core import __version__
from a2m_core.documents import read_document
from a2m_core.errors import InputError
from a2m_core.files import atomic_dir
from a2m_core.limits import check_config_bounds
from a2m_core.model.audio_to_motion import AudioToMotion
from a2m_core.model.config import AudioToMotionConfig
from a2m_core.model.size import check_model_size
from a2m_core.motion.frames import check_within_reach
from a2m_core.motion.skeleton import SKELETONS

FORMAT = "a2m-model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MEAN_FILE, STD_FILE = "Mean.npy", "Std.npy"  # the HumanML3D names


def save_model(model: AudioToMotion, directory: str | Path) -> Path:
    """Write model to directory (replacing a model already there); returns the directory."""
    directory = Path(directory)
    document = {"format": FORMAT, "format_version": FORMAT_VERSION, "a2m_version": __version__,
                "config": model.config.to_dict()}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_dir(directory) as staging:
        (staging / CONFIG_FILE).write_text(json.dumps(document, indent=2) + "\n")
        save_file(state, staging / WEIGHTS_FILE, metadata={"format": FORMAT})
        if model.normalization is not None:
            mean, std = model.normalization
            np.save(staging / MEAN_FILE, np.asarray(mean, dtype=np.float32))
            np.save(staging / STD_FILE, np.asarray(std, dtype=np.float32))
    return directory


def read_config(directory: str | Path) -> AudioToMotionConfig:
    """The model config stored in directory/config.json."""
    path = Path(directory) / CONFIG_FILE
    if not Path(directory).is_dir():
        raise InputError(f"model folder {directory} does not exist: give a folder made by `a2m model init` or training")
    if not path.is_file():
        raise InputError(f"{path} is missing: a model folder holds {CONFIG_FILE} and {WEIGHTS_FILE}")
    document = read_document(path, FORMAT, FORMAT_VERSION, "an a2m model config",
                             "re-save or re-download the model (a newer format needs a newer a2m)")
    check_config_bounds(document.get("config"), str(path))
    try:
        return AudioToMotionConfig.from_dict(document["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path} holds an unusable model config: {exc}") from exc


def _check_header(path: Path, expected: dict[str, tuple[int, ...]]) -> None:
    """InputError when the weights file's header (read without its data) disagrees with the shapes the
    config implies, so that a config edited to an oversized model is refused before anything is allocated."""
    if not path.is_file():
        raise InputError(f"{path} is missing: the model folder has a config but no weights")
    try:
        with safe_open(str(path), framework="pt") as weights:
            stored = {key: tuple(weights.get_slice(key).get_shape()) for key in weights.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path} cannot be read as safetensors ({exc}): the file is truncated or damaged; "
                         "re-save or re-download the model") from exc
    wrong = sorted(k for k in expected.keys() & stored.keys() if expected[k] != stored[k])
    missing = sorted(k for k in expected.keys() - stored.keys() if not k.startswith(INFERENCE_OPTIONAL))
    if wrong or missing:
        keys = wrong or missing
        raise InputError(f"{path} does not match its config.json ({'wrong shape' if wrong else 'missing'}: "
                         f"{', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}): the files come from different models")


def _read_weights(path: Path, device: str) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InputError(f"{path} is missing: the model folder has a config but no weights")
    try:
        return load_file(path, device=device)
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path} cannot be read as safetensors ({exc}): the file is truncated or damaged; "
                         "re-save or re-download the model") from exc


# Only training turns motion into tokens, so a model folder made for inference may leave the
# RVQ-VAE encoder out (the shipped default model does, to stay small); it then keeps its initial values.
INFERENCE_OPTIONAL = ("rvq_vae.encoder.",)


def _check_state(model: AudioToMotion, state: dict[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(k for k in set(expected) - set(state) if not k.startswith(INFERENCE_OPTIONAL))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        details = "; ".join(f"{what}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
                            for what, keys in (("missing", missing), ("unexpected", unexpected),
                                               ("wrong shape", wrong)) if keys)
        raise InputError(f"{path} does not match its config.json ({details}): the files come from different models")


def _read_normalization(directory: Path, dim_motion: int, dataset: str) -> tuple[np.ndarray, np.ndarray] | None:
    paths = [directory / MEAN_FILE, directory / STD_FILE]
    present = [p.is_file() for p in paths]
    if not any(present):
        return None
    if not all(present):
        raise InputError(f"{paths[present.index(False)]} is missing: {MEAN_FILE} and {STD_FILE} come as a pair")
    arrays = []
    for path in paths:
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{path} cannot be read as a .npy array ({exc})") from exc
        if array.shape != (dim_motion,) or not np.isfinite(array).all():
            raise InputError(f"{path} must hold {dim_motion} finite numbers, got shape {array.shape}")
        check_within_reach(array, SKELETONS[dataset], str(path))  # statistics of motion, not of garbage
        arrays.append(array.astype(np.float32))
    if (arrays[1] <= 0).any():
        raise InputError(f"{paths[1]} has standard deviations <= 0")
    return arrays[0], arrays[1]


def load_model(directory: str | Path, map_location: str | torch.device = "cpu") -> AudioToMotion:
    """Model from a folder written by save_model, in eval mode, on map_location."""
    directory = Path(directory)
    config = read_config(directory)
    weights_path = directory / WEIGHTS_FILE
    _check_header(weights_path, check_model_size(config, str(directory / CONFIG_FILE)))
    state = _read_weights(weights_path, str(map_location))
    normalization = _read_normalization(directory, config.rvq_vae.dim_motion, config.dataset)
    model = AudioToMotion(config)
    _check_state(model, state, weights_path)
    model.load_state_dict(state, strict=False)  # _check_state allowed only INFERENCE_OPTIONAL keys to be missing
    model.normalization = normalization
    return model.to(map_location).eval()
