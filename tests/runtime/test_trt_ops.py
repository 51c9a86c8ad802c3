"""The TensorRT 10 operator check: what it refuses, and that the exported graphs pass it."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from a2m_core.runtime.export import CONDITION_FILE, MOTION_FILE
from a2m_core.runtime.trt_ops import tensorrt_problems


def _graph(nodes, initializers=()) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in nodes[-1].output[:1]]
    return helper.make_model(helper.make_graph(nodes, "g", [x], outputs, initializer=list(initializers)))


def test_topk_needs_a_constant_k():
    k = helper.make_tensor("k", TensorProto.INT64, [1], [3])
    constant = _graph([helper.make_node("TopK", ["x", "k"], ["v", "i"])], [k])
    assert tensorrt_problems(constant) == []
    computed = _graph([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("TopK", ["x", "s"], ["v", "i"])])
    [problem] = tensorrt_problems(computed)
    assert problem.op_type == "TopK" and "K input must be a constant" in str(problem)


def test_unknown_ops_and_custom_domains_are_refused():
    nodes = [helper.make_node("Unique", ["x"], ["u"]), helper.make_node("Relu", ["u"], ["r"], domain="com.example"),
             helper.make_node("Relu", ["r"], ["y"])]
    problems = tensorrt_problems(_graph(nodes), "test")
    assert [(p.op_type, "list" in p.reason or "domain" in p.reason) for p in problems] == [("Unique", True),
                                                                                         ("Relu", True)]


def test_resize_modes_are_checked():
    cubic = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="cubic")
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [2], [1.0, 2.0])
    [problem] = tensorrt_problems(_graph([cubic], [scales]))
    assert "cubic" in problem.reason


@pytest.mark.slow
def test_exported_graphs_use_only_tensorrt_ops(tiny_export):
    for name in (CONDITION_FILE, MOTION_FILE):
        problems = tensorrt_problems(onnx.load(str(tiny_export / name)), name)
        assert problems == [], "\n".join(map(str, problems))
