"""Make a trained model folder small enough to live in the repository (models/default, <= 40 MB).

Weights are stored as float16 (loading casts them back to the model's float32) and the RVQ-VAE
encoder is left out: only training turns motion into tokens (a2m_core.model.io.INFERENCE_OPTIONAL).
A shipped folder therefore generates like the full one (to float16 rounding) but cannot seed
further training; keep the full run folder for that.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from a2m_core.files import atomic_path
from a2m_core.model.io import CONFIG_FILE, INFERENCE_OPTIONAL, MEAN_FILE, STD_FILE, WEIGHTS_FILE


def ship_model(model_dir: str | Path, out: str | Path, evaluator_dir: str | Path | None = None) -> int:
    """Write the inference-only copy of model_dir to out (plus a float16 evaluator/ when given); returns its bytes."""
    model_dir, out = Path(model_dir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = load_file(model_dir / WEIGHTS_FILE)
    small = {k: v for k, v in _half(state).items() if not k.startswith(INFERENCE_OPTIONAL)}
    with atomic_path(out / WEIGHTS_FILE) as tmp:  # each file whole: out may hold other files (eval reports)
        save_file(small, tmp, metadata={"format": "a2m-model", "dtype": "float16", "inference_only": "1"})
    for name in (CONFIG_FILE, MEAN_FILE, STD_FILE):
        with atomic_path(out / name) as tmp:
            shutil.copyfile(model_dir / name, tmp)
    if evaluator_dir is not None:
        evaluator_dir = Path(evaluator_dir)
        with atomic_path(out / "evaluator" / "config.json") as tmp:
            shutil.copyfile(evaluator_dir / "config.json", tmp)
        with atomic_path(out / "evaluator" / "model.safetensors") as tmp:
            save_file(_half(load_file(evaluator_dir / "model.safetensors")), tmp)
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


def _half(state: dict) -> dict:
    return {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}


def is_inference_only(model_dir: str | Path) -> bool:
    """True for a folder written by ship_model (no RVQ-VAE encoder weights)."""
    from safetensors import safe_open

    with safe_open(str(Path(model_dir) / WEIGHTS_FILE), framework="pt") as weights:
        return not any(k.startswith(INFERENCE_OPTIONAL) for k in weights.keys())

