"""The TensorRT backend: engines built from the ONNX export through the TensorRT 10 Python API.

Engines are cached in a folder per key: GPU name, TensorRT version, the export's ONNX hash and
the build options (precision, largest batch and audio length). A change to any of them selects
another folder, so a stale engine is never loaded; a damaged engine file (it fails to
deserialise) is rebuilt. Buffers are torch CUDA tensors, so no other CUDA binding is needed.

TensorRT is not installable on the development machines (project docs); this module imports
`tensorrt` only inside functions, and `tensorrt_unavailable()` says why it cannot run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from a2m_core.audio.io import SAMPLE_RATE_HZ
from a2m_core.errors import InputError
from a2m_core.files import atomic_dir
from a2m_core.runtime.backend import MIN_AUDIO_SAMPLES, Backend
from a2m_core.runtime.export import CONDITION_FILE, MOTION_FILE, ExportInfo
from a2m_core.runtime.interface import (
    CONDITION_INPUTS,
    CONDITION_OUTPUTS,
    MOTION_INPUTS,
    MOTION_OUTPUTS,
    GraphOutputs,
)

log = logging.getLogger(__name__)
WORKSPACE_BYTES = 4 << 30
MANIFEST = "engines.json"


def tensorrt_unavailable() -> str | None:
    """None when TensorRT and a CUDA device are usable here, else one line saying why not."""
    try:
        import tensorrt  # noqa: F401
    except ImportError as exc:
        return (f"TensorRT is not installed ({exc}); install TensorRT 10 for this CUDA version "
                "(e.g. JetPack on a Jetson, or NVIDIA's tensorrt wheels) or use --backend onnxruntime")
    import torch

    if not torch.cuda.is_available():
        return "TensorRT needs a CUDA device and torch sees none; use --backend onnxruntime"
    return None


@dataclass(frozen=True)
class EngineOptions:
    """Build options that change the engine (all part of the cache key)."""

    fp16: bool = False
    max_batch: int = 8
    max_audio_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_batch < 1 or not self.max_audio_s > 0:
            raise InputError(f"engine options need max_batch >= 1 and max_audio_s > 0, got {self.max_batch}, "
                             f"{self.max_audio_s}")


def engine_key(gpu_name: str, trt_version: str, onnx_hash: str, options: EngineOptions) -> str:
    """Folder name of an engine pair: a readable prefix and a hash of everything that matters."""
    blob = json.dumps({"gpu": gpu_name, "tensorrt": trt_version, "onnx": onnx_hash, **asdict(options)}, sort_keys=True)
    return f"trt{trt_version.split('.')[0]}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}"


def _profile_shapes(network, name: str, options: EngineOptions) -> tuple[tuple, tuple, tuple]:
    """(min, opt, max) shapes of one network input; opt is batch 1 with 3 s of audio."""
    shape = list(network.get_input(_input_index(network, name)).shape)
    max_samples = int(options.max_audio_s * SAMPLE_RATE_HZ)
    frames = max_samples // 320 + 1  # front-end frames at 50 per second
    low, opt, high = list(shape), list(shape), list(shape)
    low[0], opt[0], high[0] = 1, 1, options.max_batch
    if name == "audio":
        low[1], opt[1], high[1] = MIN_AUDIO_SAMPLES, min(3 * SAMPLE_RATE_HZ, max_samples), max_samples
    elif name in ("cond", "cond_valid") and shape[1] == -1:  # per-frame condition
        low[1], opt[1], high[1] = 1, min(151, frames), frames
    return tuple(low), tuple(opt), tuple(high)


def _input_index(network, name: str) -> int:
    for i in range(network.num_inputs):
        if network.get_input(i).name == name:
            return i
    raise InputError(f"the ONNX graph has no input {name!r}: it is not an a2m export; re-export it")


def _build_engine(onnx_path: Path, inputs: tuple[str, ...], options: EngineOptions) -> bytes:
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: networks are always explicit-batch
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise InputError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if options.fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for name in inputs:
        profile.set_shape(name, *_profile_shapes(network, name, options))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise InputError(f"TensorRT could not build an engine from {onnx_path} (see the TensorRT log above)")
    return bytes(serialized)


def build_engines(info: ExportInfo, cache_dir: str | Path, options: EngineOptions = EngineOptions(),
                  progress: bool = True) -> Path:
    """Engines for both graphs of an export, built or taken from the cache; returns their folder."""
    import tensorrt as trt
    import torch
    from tqdm import tqdm

    gpu = torch.cuda.get_device_name()
    folder = Path(cache_dir) / engine_key(gpu, trt.__version__, info.onnx_hash, options)
    manifest = {"gpu": gpu, "tensorrt": trt.__version__, "onnx_hash": info.onnx_hash, "options": asdict(options),
                "export": str(info.directory)}
    if (folder / MANIFEST).is_file():
        return folder
    jobs = ((CONDITION_FILE, CONDITION_INPUTS), (MOTION_FILE, MOTION_INPUTS))
    with atomic_dir(folder) as staging:  # a build stopped half-way leaves no folder to mistake for a cache hit
        for onnx_name, inputs in tqdm(jobs, desc="build TensorRT engines", unit="engine", disable=not progress):
            data = _build_engine(info.directory / onnx_name, inputs, options)
            (staging / onnx_name.replace(".onnx", ".engine")).write_bytes(data)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


_DTYPES = {"FLOAT": "float32", "HALF": "float16", "INT32": "int32", "INT64": "int64", "BOOL": "bool"}


class _Engine:
    """One deserialised engine and its execution context, run on torch CUDA tensors."""

    def __init__(self, runtime, path: Path):
        engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is None:
            raise InputError(f"{path} is not a TensorRT engine for this GPU and TensorRT version (damaged?)")
        self.engine = engine
        self.context = engine.create_execution_context()

    def run(self, inputs: dict[str, np.ndarray], output_names: tuple[str, ...], stream) -> list[np.ndarray]:
        import torch

        keep = []  # the input tensors must outlive the execution that reads their addresses
        for name, array in inputs.items():
            tensor = torch.from_numpy(np.ascontiguousarray(array)).cuda()
            keep.append(tensor)
            self.context.set_input_shape(name, tuple(tensor.shape))
            self.context.set_tensor_address(name, tensor.data_ptr())
        outputs = []
        for name in output_names:
            dtype = getattr(torch, _DTYPES[self.engine.get_tensor_dtype(name).name])
            tensor = torch.empty(tuple(self.context.get_tensor_shape(name)), dtype=dtype, device="cuda")
            self.context.set_tensor_address(name, tensor.data_ptr())
            outputs.append(tensor)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("TensorRT execution failed (see the TensorRT log)")
        stream.synchronize()
        return [o.cpu().numpy() for o in outputs]


class TensorRTBackend(Backend):
    """Runs an export's graphs as TensorRT engines (built and cached on first use)."""

    name = "tensorrt"

    def __init__(self, info: ExportInfo, cache_dir: str | Path, options: EngineOptions = EngineOptions()):
        import tensorrt as trt
        import torch

        super().__init__(info.spec)
        self.options = options
        folder = build_engines(info, cache_dir, options)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        try:
            self.condition = _Engine(runtime, folder / CONDITION_FILE.replace(".onnx", ".engine"))
            self.motion = _Engine(runtime, folder / MOTION_FILE.replace(".onnx", ".engine"))
        except (InputError, OSError) as exc:
            log.warning("cached TensorRT engines in %s are unusable (%s): rebuilding", folder, exc)
            (folder / MANIFEST).unlink(missing_ok=True)
            folder = build_engines(info, cache_dir, options)
            self.condition = _Engine(runtime, folder / CONDITION_FILE.replace(".onnx", ".engine"))
            self.motion = _Engine(runtime, folder / MOTION_FILE.replace(".onnx", ".engine"))
        self.stream = torch.cuda.current_stream()  # the stream torch copies the inputs on: no extra sync

    def describe(self) -> str:
        import torch

        return f"tensorrt {torch.cuda.get_device_name()}{' fp16' if self.options.fp16 else ''}"

    def run_graphs(self, audio: np.ndarray, audio_lens: np.ndarray, lengths: np.ndarray,
                   noise: np.ndarray) -> GraphOutputs:
        if audio.shape[0] > self.options.max_batch:
            raise InputError(f"batch of {audio.shape[0]} exceeds the engine's {self.options.max_batch}: "
                             "rebuild with a larger max_batch")
        cond, cond_valid = self.condition.run(dict(zip(CONDITION_INPUTS, (audio, audio_lens))), CONDITION_OUTPUTS,
                                              self.stream)
        outputs = self.motion.run(dict(zip(MOTION_INPUTS, (cond, cond_valid, lengths, noise))), MOTION_OUTPUTS,
                                  self.stream)
        return GraphOutputs(*outputs)
