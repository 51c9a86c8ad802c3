"""Bounds on a model config (config.json, an export's copy), checked before anything is built from it.

Model folders are downloaded and shared, so their config.json is user input: a layer count of
1e9 would build layers until memory runs out, a width of 1e6 would ask for terabytes. Every
setting is checked against a bound here first (the bounds are several times the paper's sizes);
`a2m_core.model.size` then estimates the parameter count without allocating. Each message names
the key by its full path and the limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from a2m_core.errors import InputError

# Per-key bounds; the paper's model uses 6 layers, 6 heads, widths up to 768 (WavLM 3072 inside),
# 512 codes, 6 quantizers, 49 tokens.
KEY_LIMITS: dict[str, int] = {
    "num_layers": 64, "num_hidden_layers": 64, "num_heads": 64, "num_attention_heads": 64,
    "num_codes": 65536, "num_quantizers": 64, "num_memory": 16384, "num_cond_tokens": 1024,
    "max_tokens": 4096, "max_frames": 100_000, "max_text_tokens": 4096, "ff_mult": 16, "res_depth": 32,
    "num_down": 8, "dilation_growth": 16, "num_mels": 1024, "n_fft": 65536, "win_len": 65536, "hop_len": 65536,
    "kernel_size": 1024, "pool": 4096, "sample_rate_hz": 384_000,
}
MAX_WIDTH = 16384  # any width: dim, dim_*, *_dim, width, hidden_size, intermediate_size
MAX_INT = 1_000_000  # any other integer setting
MAX_AUDIO_S = 600.0  # max_audio_s: the longest audio a model may accept (attention grows with its square)
_REAL_SUFFIXES = ("_s", "_hz", "dropout", "_prob", "_weight", "decay", "threshold")  # keys holding any number
_SECTIONS = ("frontend", "condition", "rvq_vae", "masked", "residual", "length")


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(dotted path, leaf value) of every number in nested dicts and lists."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _walk(child, f"{path}.{key}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _walk(child, f"{path}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


def _is_width(key: str) -> bool:
    return key in ("dim", "width", "hidden_size", "intermediate_size") or key.startswith("dim_") or key.endswith("_dim")


def _limit(key: str) -> int:
    if key in KEY_LIMITS:
        return KEY_LIMITS[key]
    return MAX_WIDTH if _is_width(key) else MAX_INT


def check_numbers(value: Any, path: str, source: str) -> None:
    """InputError naming the first number under `value` (dicts, lists) that is not finite or beyond its key's bound."""
    for where, number in _walk(value, path):
        key = where.rsplit(".", 1)[-1].split("[", 1)[0]
        if not math.isfinite(number):
            raise InputError(f"{source}: {where} is {number}; expected a finite number")
        if key == "max_audio_s" and number > MAX_AUDIO_S:
            raise InputError(f"{source}: {where} = {number:g} exceeds the limit {MAX_AUDIO_S:g} s")
        if isinstance(number, int) and abs(number) > _limit(key):
            raise InputError(f"{source}: {where} = {number} exceeds the limit {_limit(key)}; "
                             "this is not a model a2m can build (a corrupt or hostile config?)")


def check_config_bounds(config: Any, source: str, root: str = "config") -> None:
    """InputError naming (from `root`) the first key of a model config dict that is missing, not finite or
    beyond its bound."""
    if not isinstance(config, dict):
        raise InputError(f"{source}: `{root}` must be an object with the sections {', '.join(_SECTIONS)}")
    for section in _SECTIONS:
        if not isinstance(config.get(section), dict):
            what = "is missing" if section not in config else "must be an object"
            raise InputError(f"{source}: key {root}.{section} {what}; re-save or re-download the model")
    if not isinstance(config["rvq_vae"].get("quantizer"), dict):
        raise InputError(f"{source}: key {root}.rvq_vae.quantizer is missing or not an object")
    sections = {root: config, **{f"{root}.{name}": config[name] for name in _SECTIONS},
                f"{root}.rvq_vae.quantizer": config["rvq_vae"]["quantizer"]}
    for path, section in sections.items():
        for key, value in section.items():
            if (key in KEY_LIMITS or _is_width(key)) and (isinstance(value, bool) or not isinstance(value, int)):
                raise InputError(f"{source}: {path}.{key} is {value!r}; expected a whole number")
            if key.endswith(_REAL_SUFFIXES) and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise InputError(f"{source}: {path}.{key} is {value!r}; expected a number")
    check_numbers(config, root, source)
