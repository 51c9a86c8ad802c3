"""Which ONNX operators TensorRT 10 parses, and a check of an exported graph against that list.

TensorRT cannot be installed on the development machines (project docs), so the graphs are
checked here against the operator support matrix of onnx-tensorrt (docs/operators.md of the
TensorRT 8.5 release, plus LayerNormalization, parsed natively since TensorRT 8.6), restricted
to the operators and restrictions that matter for a2m's graphs. The list is kept conservative:
an operator is only on it when TensorRT 10 parses it in the form our exporter writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx

TENSORRT10_OPS = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast Ceil Celu
Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace DequantizeLinear Div
Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather GatherElements GatherND Gemm
GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual GridSample GRU HardSigmoid HardSwish
Identity If ImageScaler InstanceNormalization IsNaN LayerNormalization LeakyRelu Less LessOrEqual Log
LogSoftmax Loop LRN LSTM LpNormalization LpPool MatMul Max MaxPool Mean MeanVarianceNormalization Min Mod
Mul Neg NonMaxSuppression NonZero Not OneHot Or Pad ParametricSoftplus Pow PRelu QuantizeLinear Range
Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd
ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RNN RoiAlign Round ScaledTanh Scan Scatter
ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax Softplus Softsign
SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze
Upsample Where Xor
""".split())

# Operators whose named input must be a constant (an initializer or a Constant node) for TensorRT.
CONSTANT_INPUTS = {"TopK": (1, "K"), "CumSum": (1, "axis")}
RESIZE_MODES = {"nearest", "linear"}
RESIZE_TRANSFORMS = {"half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners"}


@dataclass(frozen=True)
class OpProblem:
    """One node TensorRT 10 would refuse, and why."""

    graph: str
    node: str
    op_type: str
    reason: str

    def __str__(self) -> str:
        return f"{self.graph}: {self.op_type} node {self.node!r}: {self.reason}"


def _constants(graph: onnx.GraphProto) -> set[str]:
    names = {init.name for init in graph.initializer}
    names.update(out for node in graph.node if node.op_type == "Constant" for out in node.output)
    return names


def _attribute(node: onnx.NodeProto, name: str, default):
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def tensorrt_problems(model: onnx.ModelProto, graph_name: str = "graph") -> list[OpProblem]:
    """Every node of model (subgraphs included) that TensorRT 10 would not parse; empty when all are fine."""
    problems: list[OpProblem] = []

    def visit(graph: onnx.GraphProto) -> None:
        constants = _constants(graph)
        for node in graph.node:
            where = (graph_name, node.name or node.output[0], node.op_type)
            if node.domain not in ("", "ai.onnx"):
                problems.append(OpProblem(*where, f"custom domain {node.domain!r}"))
                continue
            if node.op_type not in TENSORRT10_OPS:
                problems.append(OpProblem(*where, "not in TensorRT 10's ONNX operator list"))
            if node.op_type in CONSTANT_INPUTS:
                index, what = CONSTANT_INPUTS[node.op_type]
                if len(node.input) <= index or node.input[index] not in constants:
                    problems.append(OpProblem(*where, f"its {what} input must be a constant"))
            if node.op_type == "Resize":
                mode = _attribute(node, "mode", b"nearest").decode()
                transform = _attribute(node, "coordinate_transformation_mode", b"half_pixel").decode()
                if mode not in RESIZE_MODES or transform not in RESIZE_TRANSFORMS:
                    problems.append(OpProblem(*where, f"resize mode {mode}/{transform} is not supported"))
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    visit(attr.g)

    visit(model.graph)
    return problems

