"""Pick and load a backend: `load_backend(backend, model_dir=..., onnx_dir=...) -> Backend`.

backend: `torch`, `onnxruntime`, `onnxruntime-int8` (CPU graphs with int8 weights: faster, slightly
different motion), `tensorrt` or `auto` (the fastest float backend that works here: TensorRT on a
CUDA device, else onnxruntime, else eager PyTorch; measured order, see docs/performance.md).
An ONNX export that is missing, damaged, foreign or made from another version of the model is
rebuilt from model_dir when one is given (logged); where that cannot work either, `auto` falls
back to the next backend and logs why, and a named backend raises an InputError that says what
to do. Exports and engines made on demand live in a cache folder keyed by the model's hash
($A2M_CACHE_DIR, default ~/.cache/a2m).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from a2m_core.errors import InputError
from a2m_core.paths import SHIPPED_MODEL_DIR
from a2m_core.runtime.export import (
    FLOAT32,
    INT8,
    ExportError,
    ExportInfo,
    check_current,
    export_onnx,
    model_hash,
    read_export,
)
from a2m_core.runtime.backend import Backend
from a2m_core.runtime.interface import BACKENDS, DecodingConfig
from a2m_core.runtime.quantize import quantize_export
from a2m_core.runtime.text_backend import TextBackend, is_text_model

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where exports and engines made on demand are kept."""
    return Path(os.environ.get("A2M_CACHE_DIR") or Path.home() / ".cache" / "a2m")


def preset_model_dir(preset: str, seed: int = 0) -> Path:
    """A preset with seeded random weights, saved in the cache (same seed, same files, same export).

    For plumbing and benchmarks where no trained model exists; its motion is meaningless.
    """
    import torch

    from a2m_core.model import preset_model, save_model

    torch.manual_seed(seed)
    return save_model(preset_model(preset), cache_dir() / "presets" / f"{preset}-seed{seed}")


def model_to_load(model_path: str, model_preset: str) -> tuple[Path, str]:
    """The model folder a node loads, and how to name it in the log.

    model_path if given (it must exist); else the shipped model; else, or when model_preset is
    set, a random model of that preset (paper by default) for plumbing.
    """
    if model_path:
        if not Path(model_path).is_dir():
            raise InputError(f"model folder not found: {model_path}; expected a folder with config.json and "
                             "model.safetensors (a2m train writes one), or leave model_path empty for the shipped model")
        return Path(model_path), model_path
    if not model_preset and SHIPPED_MODEL_DIR.is_dir():
        return SHIPPED_MODEL_DIR, f"the shipped model {SHIPPED_MODEL_DIR}"
    preset = model_preset or "paper"
    why = "model_preset is set" if model_preset else f"{SHIPPED_MODEL_DIR} is absent"
    return preset_model_dir(preset), f"a random {preset} model ({why}; plumbing only, no meaningful motion)"


def load_model_backend(backend: str, model_dir: Path, decoding: DecodingConfig = DecodingConfig(),
                       device: str = "cpu") -> Backend:
    """The backend for whatever the folder holds: a text-conditioned model runs in torch, an audio model on `backend`."""
    if is_text_model(model_dir):
        return TextBackend.from_dir(model_dir, decoding, device)
    return load_backend(backend, model_dir=model_dir, decoding=decoding, device=device)


def backend_precision(backend: str) -> str:
    """The precision of the ONNX export a backend runs ("int8" for onnxruntime-int8, else "float32")."""
    return INT8 if backend == "onnxruntime-int8" else FLOAT32


def usable_export(model_dir: Path | None, onnx_dir: Path | None, decoding: DecodingConfig | None,
                  precision: str = FLOAT32) -> ExportInfo:
    """An export of the given precision that matches model_dir (when given), rebuilding it when needed.

    onnx_dir None: the cache folder of model_dir's hash and the precision. decoding None: the
    decoding a named onnx_dir was exported with; the paper's for the cache and for an export made
    here. An int8 export is quantised from the float one (a2m_core.runtime.quantize); a named
    onnx_dir of the other precision is refused, not replaced. Raises ExportError when no usable
    export exists and none can be made.
    """
    named = onnx_dir is not None
    if onnx_dir is None:
        if model_dir is None:
            raise InputError("give a model folder or an ONNX export folder")
        suffix = "" if precision == FLOAT32 else f"-{precision}"
        onnx_dir = cache_dir() / "onnx" / f"{model_hash(model_dir)[:20]}{suffix}"
        decoding = decoding or DecodingConfig()  # the cache may hold another caller's decoding
    other_precision = False
    try:
        info = read_export(onnx_dir)
        if info.precision != precision:
            other_precision = True
            raise ExportError(f"{onnx_dir} holds {info.precision} graphs, {precision} was asked for: make them with "
                              f"a2m export onnx{' --int8' if precision == INT8 else ''}")
        if model_dir is not None:
            check_current(info, model_dir)
        if decoding is not None and info.decoding != decoding:
            raise ExportError(f"{onnx_dir} was exported with decoding {info.decoding}, {decoding} was asked for")
        return info
    except ExportError as exc:
        if model_dir is None or (named and other_precision):  # never overwrite a named export of the other kind
            raise
        if onnx_dir.exists():
            log.warning("%s; rebuilding it from %s", exc, model_dir)
        else:
            log.info("exporting %s to %s ONNX in %s (once; later runs reuse it)", model_dir, precision, onnx_dir)
        try:
            if precision == INT8:
                return quantize_export(usable_export(model_dir, None, decoding), onnx_dir)
            return export_onnx(model_dir, onnx_dir, decoding=decoding or DecodingConfig(), progress=False)
        except OSError as write_error:
            raise ExportError(f"cannot write an ONNX export to {onnx_dir} ({write_error}): give a writable "
                              "folder or set A2M_CACHE_DIR") from write_error


def _load(backend: str, model_dir: Path | None, onnx_dir: Path | None, decoding: DecodingConfig | None, device: str,
          threads: int | None) -> Backend:
    if backend == "torch":
        if model_dir is None:
            raise InputError("the torch backend needs a model folder (--model), not only an ONNX export")
        from a2m_core.runtime.torch_backend import TorchBackend

        if threads:
            import torch

            torch.set_num_threads(threads)
        return TorchBackend.from_dir(model_dir, decoding or DecodingConfig(), device)
    if backend == "onnxruntime":
        from a2m_core.runtime.onnx_backend import OnnxRuntimeBackend

        from a2m_core.runtime.onnx_backend import available_providers

        if device == "cpu":
            providers = ["CPUExecutionProvider"]
        else:  # the TensorRT provider builds engines per session unless told to cache them
            trt_options = {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache_dir() / "ort-trt")}
            providers = [(p, trt_options) if p == "TensorrtExecutionProvider" else p for p in available_providers()]
        return OnnxRuntimeBackend(usable_export(model_dir, onnx_dir, decoding), providers, threads)
    if backend == "onnxruntime-int8":  # CPU only: the other providers do not run MatMulInteger faster
        from a2m_core.runtime.onnx_backend import OnnxRuntimeBackend

        info = usable_export(model_dir, onnx_dir, decoding, backend_precision(backend))
        return OnnxRuntimeBackend(info, ["CPUExecutionProvider"], threads)
    if backend == "tensorrt":
        from a2m_core.runtime.tensorrt_backend import TensorRTBackend, tensorrt_unavailable

        reason = tensorrt_unavailable()
        if reason:
            raise InputError(reason)
        return TensorRTBackend(usable_export(model_dir, onnx_dir, decoding), cache_dir() / "engines")
    raise InputError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")


def load_backend(backend: str = "auto", *, model_dir: str | Path | None = None, onnx_dir: str | Path | None = None,
                 decoding: DecodingConfig | None = None, device: str = "cpu",
                 threads: int | None = None) -> Backend:
    """A ready Backend; see the module docstring for how backends are chosen and what happens on failure.

    decoding None: a named export (onnx_dir) runs with the decoding it was exported with; otherwise
    the paper's decoding (DecodingConfig()).
    """
    model_dir = Path(model_dir) if model_dir is not None else None
    onnx_dir = Path(onnx_dir) if onnx_dir is not None else None
    if backend != "auto":
        return _load(backend, model_dir, onnx_dir, decoding, device, threads)
    order = ["onnxruntime", "torch"] if device == "cpu" else ["tensorrt", "onnxruntime", "torch"]
    failures = []
    for name in order:
        try:
            loaded = _load(name, model_dir, onnx_dir, decoding, device, threads)
        except InputError as exc:
            failures.append(f"{name}: {exc}")
            if name != order[-1]:
                log.warning("backend %s unavailable (%s); trying %s", name, exc, order[order.index(name) + 1])
            continue
        return loaded
    raise InputError("no backend could load: " + " | ".join(failures))
