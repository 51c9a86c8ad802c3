"""Export a model folder to the two ONNX graphs of `a2m_core.runtime.graphs`, and read an export back.

An export is a folder: condition.onnx (graph (a): audio -> condition, dynamic batch and audio
length), motion.onnx (graph (b): condition + lengths + noise -> tokens, features, joints; dynamic
batch, fixed token count, iterations unrolled) and export.json (model config, decoding settings,
opset, export time, the source model's hash and each graph's hash). Each graph also carries the
same facts as ONNX metadata properties, so a lone .onnx file still says where it came from.

Graph (a) goes through the dynamo exporter (torch.export), which keeps the audio length
symbolic; the TorchScript tracer bakes the traced frame count into the attention reshapes.
Graph (b) goes through the TorchScript tracer, which unrolls the decoding loops into a plain
graph; its only dynamic axis is the batch. Writing is atomic (a staging folder renamed), so a
killed export never leaves a half folder that looks complete.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime
import hashlib
import json
import logging
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from a2m_core import __version__
from a2m_core.audio.io import SAMPLE_RATE_HZ
from a2m_core.documents import read_document
from a2m_core.errors import InputError
from a2m_core.files import atomic_dir
from a2m_core.limits import check_config_bounds, check_numbers
from a2m_core.runtime.interface import (
    CONDITION_INPUTS,
    CONDITION_OUTPUTS,
    MOTION_INPUTS,
    MOTION_OUTPUTS,
    DecodingConfig,
    GraphSpec,
)

EXPORT_FORMAT = "a2m-onnx"
EXPORT_FORMAT_VERSION = 4  # 2: the median length, not the mode; 3: clip ends decoded held; 4: decoding.length_quantile
CONDITION_FILE, MOTION_FILE, META_FILE = "condition.onnx", "motion.onnx", "export.json"
DEFAULT_OPSET = 18
MODEL_FILES = ("config.json", "model.safetensors", "Mean.npy", "Std.npy")  # a2m_core.model.io names
EXPORT_BATCH = 2  # traced batch; 1 would let the exporters specialise the batch axis to 1
FLOAT32, INT8 = "float32", "int8"  # export precisions; int8: a2m_core.runtime.quantize


class ExportError(InputError):
    """An ONNX export folder that cannot be used: missing, foreign, damaged or stale."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_hash(model_dir: str | Path) -> str:
    """sha256 over the files that define a model folder (config, weights, normalisation)."""
    model_dir = Path(model_dir)
    digest = hashlib.sha256()
    for name in MODEL_FILES:
        path = model_dir / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + file_sha256(path).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class ExportInfo:
    """What export.json says about an export folder."""

    directory: Path
    model_config: dict
    decoding: DecodingConfig
    opset: int
    exported_at: str
    source_model: str
    source_model_hash: str
    graph_sha256: dict[str, str]
    spec: GraphSpec
    precision: str = FLOAT32  # or INT8: MatMul weights quantised (a2m_core.runtime.quantize), CPU only

    @property
    def condition_path(self) -> Path:
        return self.directory / CONDITION_FILE

    @property
    def motion_path(self) -> Path:
        return self.directory / MOTION_FILE

    @property
    def onnx_hash(self) -> str:
        """One hash for both graphs (keys the TensorRT engine cache)."""
        return hashlib.sha256("".join(self.graph_sha256[f] for f in (CONDITION_FILE, MOTION_FILE)).encode()).hexdigest()

    def to_dict(self) -> dict:
        return {"format": EXPORT_FORMAT, "format_version": EXPORT_FORMAT_VERSION, "a2m_version": __version__,
                "model_config": self.model_config, "decoding": self.decoding.to_dict(), "opset": self.opset,
                "exported_at": self.exported_at, "source_model": self.source_model,
                "source_model_hash": self.source_model_hash, "graph_sha256": self.graph_sha256,
                "spec": asdict(self.spec), "precision": self.precision}


@contextlib.contextmanager
def _attention_fast_path_off() -> Iterator[None]:
    """Eval-mode transformer layers otherwise call fused kernels that have no ONNX form."""
    import torch

    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(before)


def fold_weight_norm(module) -> None:
    """Replace weight-norm reparametrisations (WavLM's positional conv) by plain weights, in place."""
    import torch
    from torch.nn.utils import parametrize

    for sub in module.modules():
        if parametrize.is_parametrized(sub):
            for name in list(sub.parametrizations.keys()):
                parametrize.remove_parametrizations(sub, name, leave_parametrized=True)
        elif hasattr(sub, "weight_g") and hasattr(sub, "weight_v"):
            torch.nn.utils.remove_weight_norm(sub)


@contextlib.contextmanager
def quiet_onnx_tools() -> Iterator[None]:
    """The exporter, its optimiser and onnxruntime's quantiser print progress and INFO/WARNING
    chatter (the quantiser through the root logger); keep errors only."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir", "torch.export", "")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _export_condition(graph, audio, audio_lens, path: Path, opset: int, max_samples: int) -> None:
    """Dynamo export, then constant folding only.

    The exporter's own optimiser (optimize=True) also applies onnxscript's no-op rewrites, whose
    "x + 0" rule matches any constant within 1e-8 of zero: it deleted the log-mel's `+ 1e-10`,
    and zero-padded audio then gave log(0) = -inf and NaN conditions. Folding constants alone
    still turns the exporter's sequence ops and CastLike nodes into plain, TensorRT-parsable ones.
    """
    import onnx
    import torch
    from onnxscript import ir
    from onnxscript.optimizer import fold_constants_ir, remove_unused_nodes

    batch = torch.export.Dim("batch", min=1, max=1024)
    samples = torch.export.Dim("samples", min=400, max=max_samples)
    with quiet_onnx_tools():
        torch.onnx.export(graph, (audio, audio_lens), str(path), input_names=list(CONDITION_INPUTS),
                          output_names=list(CONDITION_OUTPUTS), opset_version=opset, dynamo=True,
                          dynamic_shapes={"audio": {0: batch, 1: samples}, "audio_lens": {0: batch}},
                          optimize=False, external_data=False, verbose=False)
        model = ir.serde.deserialize_model(onnx.load(str(path)))
        fold_constants_ir(model, onnx_shape_inference=True)
        remove_unused_nodes(model)
        onnx.save(ir.serde.serialize_model(model), str(path))


def _export_motion(graph, inputs, path: Path, opset: int) -> None:
    import torch

    dynamic = {name: {0: "batch"} for name in MOTION_INPUTS + MOTION_OUTPUTS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python values taken from tensors in input checks
        torch.onnx.export(graph, inputs, str(path), input_names=list(MOTION_INPUTS), output_names=list(MOTION_OUTPUTS),
                          dynamic_axes=dynamic, opset_version=opset, dynamo=False)


def _stamp(path: Path, properties: dict[str, str]) -> None:
    """Write metadata properties into an ONNX file and check the result."""
    import onnx

    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, properties)
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path), full_check=True)


def export_onnx(model_dir: str | Path, out_dir: str | Path, *, decoding: DecodingConfig = DecodingConfig(),
                opset: int = DEFAULT_OPSET, progress: bool = True) -> ExportInfo:
    """Export the model folder model_dir to out_dir (replacing an export there); returns its ExportInfo."""
    import torch
    from tqdm import tqdm

    from a2m_core.decoding import make_noise
    from a2m_core.model import load_model
    from a2m_core.runtime.graphs import ConditionGraph, MotionGraph

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    model = load_model(model_dir)
    if model.config.condition_input != "audio":
        raise InputError(f"{model_dir} is a text-conditioned model; only audio models export to ONNX")
    model = copy.deepcopy(model)
    fold_weight_norm(model)
    info = ExportInfo(directory=out_dir, model_config=model.config.to_dict(), decoding=decoding, opset=opset,
                      exported_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                      source_model=str(model_dir.resolve()), source_model_hash=model_hash(model_dir),
                      graph_sha256={}, spec=GraphSpec.from_model(model, decoding.num_iters))
    steps = tqdm(total=3, desc="export onnx", unit="step", disable=not progress)
    try:
        with atomic_dir(out_dir) as staging, torch.no_grad(), _attention_fast_path_off():
            condition, motion = ConditionGraph(model).eval(), MotionGraph(model, decoding).eval()
            seconds = 2
            audio = torch.randn(EXPORT_BATCH, SAMPLE_RATE_HZ * seconds, generator=torch.Generator().manual_seed(0)) * 0.1
            audio_lens = torch.tensor([SAMPLE_RATE_HZ * seconds, SAMPLE_RATE_HZ * seconds // 2])
            steps.set_postfix_str("graph (a) audio -> condition")
            _export_condition(condition, audio, audio_lens, staging / CONDITION_FILE, opset,
                              int(model.config.max_audio_s * SAMPLE_RATE_HZ))
            steps.update()
            cond, cond_valid = condition(audio, audio_lens)
            lengths = torch.tensor([model.config.max_frames, 0])  # a given and a predicted length
            noise = make_noise(model, EXPORT_BATCH, decoding.num_iters, seed=0)
            steps.set_postfix_str("graph (b) condition -> motion")
            _export_motion(motion, (cond, cond_valid, lengths, noise), staging / MOTION_FILE, opset)
            steps.update()
            steps.set_postfix_str("metadata and checks")
            info = finish_export(staging, info)
            steps.update()
    finally:
        steps.close()
    return info


def finish_export(staging: Path, info: ExportInfo) -> ExportInfo:
    """Stamp both graphs in staging with info's facts, check them, hash them and write export.json."""
    properties = {"a2m_format": EXPORT_FORMAT, "model_config": json.dumps(info.model_config),
                  "decoding": json.dumps(info.decoding.to_dict()), "opset": str(info.opset),
                  "exported_at": info.exported_at, "source_model_hash": info.source_model_hash,
                  "precision": info.precision, "a2m_version": __version__}
    hashes = {}
    for name in (CONDITION_FILE, MOTION_FILE):
        _stamp(staging / name, {**properties, "graph": name})
        hashes[name] = file_sha256(staging / name)
    info = dataclasses.replace(info, graph_sha256=hashes)
    (staging / META_FILE).write_text(json.dumps(info.to_dict(), indent=2) + "\n")
    return info


def read_export(directory: str | Path, verify: bool = True) -> ExportInfo:
    """ExportInfo of an export folder; ExportError saying what is wrong and what to do otherwise.

    verify: also check each graph against the hash export.json recorded (catches truncated,
    damaged or swapped files).
    """
    directory = Path(directory)
    fix = f"re-export it: a2m export onnx --model MODEL_DIR --out {directory}"
    meta = directory / META_FILE
    if not meta.is_file():
        raise ExportError(f"{directory} is not an ONNX export ({META_FILE} missing): {fix}")
    doc = read_document(meta, EXPORT_FORMAT, EXPORT_FORMAT_VERSION, "an a2m ONNX export", fix, ExportError)
    try:
        check_config_bounds(doc.get("model_config"), str(meta), root="model_config")
        check_numbers(doc.get("spec"), "spec", str(meta))
    except InputError as exc:
        raise ExportError(f"{exc}: {fix}") from None
    try:
        info = ExportInfo(directory=directory, model_config=dict(doc["model_config"]),
                          decoding=DecodingConfig(**doc["decoding"]), opset=int(doc["opset"]),
                          exported_at=str(doc["exported_at"]), source_model=str(doc["source_model"]),
                          source_model_hash=str(doc["source_model_hash"]), graph_sha256=dict(doc["graph_sha256"]),
                          spec=GraphSpec.from_dict(doc["spec"]), precision=str(doc.get("precision", FLOAT32)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ExportError(f"{meta} lacks or garbles a field ({exc}): {fix}") from exc
    for name in (CONDITION_FILE, MOTION_FILE):
        path = directory / name
        if not path.is_file():
            raise ExportError(f"{path} is missing: {fix}")
        if verify and file_sha256(path) != info.graph_sha256.get(name):
            raise ExportError(f"{path} does not match the hash in {META_FILE} (damaged, truncated or replaced): {fix}")
    return info


def check_current(info: ExportInfo, model_dir: str | Path) -> None:
    """ExportError when the export was made from another version of model_dir's model."""
    current = model_hash(model_dir)
    if current != info.source_model_hash:
        raise ExportError(f"{info.directory} was exported from another model than {model_dir} "
                          f"(model hash {current[:12]}, export made from {info.source_model_hash[:12]}): "
                          f"re-export it: a2m export onnx --model {model_dir} --out {info.directory}")
