"""INT8 dynamic quantisation of an ONNX export, for onnxruntime on CPUs.

Every MatMul with a constant weight gets int8 weights (one scale per output channel) and
activations quantised per call (onnxruntime's dynamic quantisation: DynamicQuantizeLinear +
MatMulInteger). On 2 cores this runs the default model 1.5-1.8x faster end to end; what it costs
in token agreement and evaluator metrics is measured in docs/performance.md ("INT8"). The
result is an export folder like any other, with precision "int8" in export.json; TensorRT does
not parse MatMulInteger, so engines are built from the float export.

Two rewrites come first, because onnxruntime's quantiser handles only the plain case:
- The TorchScript tracer hands a weight shared by the unrolled decoding iterations to each copy
  through an Identity node. The quantiser only quantises a MatMul whose weight is a graph
  constant itself, so these Identity nodes are removed.
- The quantiser turns Gemm(transB=1) into MatMul by transposing the weight in place, once per
  Gemm node. Graph (b) uses each attention output projection in ten Gemm nodes: the weight came
  out transposed ten times, that is not at all, and being square it raised no error, it just
  gave other motion (none of the base tokens agreed with the float graph). Here every such Gemm
  becomes MatMul + Add on one shared transposed copy of its weight.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import numpy as np

from a2m_core.audio.io import SAMPLE_RATE_HZ
from a2m_core.errors import InputError
from a2m_core.files import atomic_dir
from a2m_core.runtime.backend import Backend
from a2m_core.runtime.export import (
    CONDITION_FILE,
    FLOAT32,
    INT8,
    MOTION_FILE,
    ExportInfo,
    finish_export,
    quiet_onnx_tools,
)


def expose_weights(model):
    """The same function with every constant weight a direct input of its MatMul (see module doc).

    model: an onnx.ModelProto, changed in place and returned.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    constants = {t.name: t for t in graph.initializer}
    graph_outputs = {o.name for o in graph.output}
    alias = {n.output[0]: n.input[0] for n in graph.node
             if n.op_type == "Identity" and n.input[0] in constants and n.output[0] not in graph_outputs}
    transposed: dict[str, str] = {}
    nodes = []
    for node in graph.node:
        if node.op_type == "Identity" and node.output[0] in alias:
            continue
        for i, name in enumerate(node.input):
            node.input[i] = alias.get(name, name)
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain_gemm = (node.op_type == "Gemm" and node.input[1] in constants and attrs.get("transA", 0) == 0
                      and attrs.get("transB", 0) == 1 and attrs.get("alpha", 1.0) == 1.0
                      and attrs.get("beta", 1.0) == 1.0)
        if not plain_gemm:
            nodes.append(node)
            continue
        weight = node.input[1]
        if weight not in transposed:
            array = np.ascontiguousarray(numpy_helper.to_array(constants[weight]).T)
            graph.initializer.append(numpy_helper.from_array(array, f"{weight}.T"))
            transposed[weight] = f"{weight}.T"
        has_bias = len(node.input) > 2 and node.input[2]
        product = f"{node.output[0]}.matmul" if has_bias else node.output[0]
        nodes.append(helper.make_node("MatMul", [node.input[0], transposed[weight]], [product], name=f"{node.name}.matmul"))
        if has_bias:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]], name=f"{node.name}.bias"))
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    unused = [t for t in graph.initializer if t.name not in used and t.name not in graph_outputs]
    for tensor in unused:  # the untransposed weights
        graph.initializer.remove(tensor)
    return model


def quantize_graph(source: Path, target: Path) -> None:
    """One float ONNX graph -> its int8 dynamic quantisation (MatMul weights), via `expose_weights`."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    exposed = target.with_suffix(".exposed.onnx")
    onnx.save(expose_weights(onnx.load(str(source))), str(exposed))
    try:
        with quiet_onnx_tools():
            quantize_dynamic(str(exposed), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                             per_channel=True)
    finally:
        exposed.unlink(missing_ok=True)


def quantize_export(info: ExportInfo, out_dir: str | Path) -> ExportInfo:
    """A float export -> an int8 export in out_dir (replaced if it exists, written atomically)."""
    if info.precision != FLOAT32:
        raise InputError(f"{info.directory} is already a {info.precision} export: quantise the float export")
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as staging:
        for name in (CONDITION_FILE, MOTION_FILE):
            quantize_graph(info.directory / name, staging / name)
        quantized = dataclasses.replace(
            info, directory=out_dir, precision=INT8, graph_sha256={},
            exported_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        quantized = finish_export(staging, quantized)
    return quantized


def token_agreement(reference: Backend, candidate: Backend, clips: list[np.ndarray], seeds: list[int]) -> dict:
    """How closely candidate's motion tokens follow reference's, from the same 16 kHz clips and noise.

    A strict measure: MaskGIT sampling is chaotic (one token drawn differently in an early
    iteration changes what is unmasked next), so small arithmetic differences show up as whole
    different token runs; the evaluator metrics (`a2m eval --onnx`) say what that costs.
    Returns the share of equal tokens over all RVQ layers and over the base layer, within each
    reference motion's length, and the share of equal predicted lengths.
    """
    inputs = reference.graph_inputs(clips, SAMPLE_RATE_HZ, None, seeds)
    ref, cand = reference.run_graphs(*inputs), candidate.run_graphs(*inputs)
    frames_per_token = reference.spec.max_frames // reference.spec.noise_dims[1]
    positions = np.arange(ref.tokens.shape[1])
    valid = positions[None, :] < -(-ref.lengths[:, None] // frames_per_token)  # (b n)
    equal = ref.tokens == cand.tokens  # (b n q)
    return {"tokens": float(equal[valid].mean()), "base_tokens": float(equal[..., 0][valid].mean()),
            "lengths": float((ref.lengths == cand.lengths).mean()), "samples": len(clips)}
