"""The onnxruntime backend: the two exported graphs in onnxruntime sessions.

Execution providers, fastest first where present: TensorRT, CUDA, CPU. The CPU provider is in
every onnxruntime build, so this backend runs wherever onnxruntime installs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from a2m_core.runtime.backend import Backend
from a2m_core.runtime.export import FLOAT32, ExportError, ExportInfo, read_export
from a2m_core.runtime.interface import CONDITION_INPUTS, MOTION_INPUTS, GraphOutputs

PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def available_providers() -> list[str]:
    """The execution providers of this onnxruntime build, in the order this backend prefers them."""
    import onnxruntime

    present = set(onnxruntime.get_available_providers())
    return [p for p in PREFERRED_PROVIDERS if p in present]


def _session(path: Path, providers: list, threads: int | None, spin: bool = True):
    """spin=False: the session's idle CPU workers sleep at once instead of spinning for more work."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: the TensorRT/CUDA providers warn about unused fallbacks
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types for unreadable graphs
        raise ExportError(f"onnxruntime cannot load {path} ({type(exc).__name__}: {exc}); re-export it with "
                          "a2m export onnx") from exc


class OnnxRuntimeBackend(Backend):
    """Runs an ONNX export folder (a2m export onnx) in onnxruntime."""

    name = "onnxruntime"

    def __init__(self, export_dir: str | Path | ExportInfo, providers: list | None = None,
                 threads: int | None = None):
        """providers: onnxruntime's list (names, or (name, options) pairs); None: `available_providers()`."""
        info = export_dir if isinstance(export_dir, ExportInfo) else read_export(export_dir)
        super().__init__(info.spec)
        self.info = info
        self.providers = list(providers) if providers else available_providers()
        # Each session has its own CPU thread pool. Graph (a)'s workers, left spinning after it ran,
        # took the cores from graph (b) that follows at once: end to end 1.4x slower on 2 cores
        # (docs/performance.md, "Two thread pools"). Graph (b), thousands of small nodes, keeps spinning.
        self.condition = _session(info.condition_path, self.providers, threads, spin=False)
        self.motion = _session(info.motion_path, self.providers, threads)

    def describe(self) -> str:
        precision = "" if self.info.precision == FLOAT32 else f" {self.info.precision}"
        return f"onnxruntime {self.condition.get_providers()[0]}{precision}"

    def run_graphs(self, audio: np.ndarray, audio_lens: np.ndarray, lengths: np.ndarray,
                   noise: np.ndarray) -> GraphOutputs:
        cond, cond_valid = self.condition.run(None, dict(zip(CONDITION_INPUTS, (audio, audio_lens))))
        outputs = self.motion.run(None, dict(zip(MOTION_INPUTS, (cond, cond_valid, lengths, noise))))
        return GraphOutputs(*outputs)
