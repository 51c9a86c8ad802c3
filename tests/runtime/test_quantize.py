"""INT8 dynamic quantisation of exports: the weight rewrite, the quantised graphs, the int8 backend."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from a2m_cli.main import main
from a2m_core.runtime import tensorrt_backend
from a2m_core.runtime.backend import Backend
from a2m_core.runtime.backends import load_backend
from a2m_core.runtime.export import ExportError, read_export
from a2m_core.runtime.interface import GraphOutputs, GraphSpec
from a2m_core.runtime.quantize import INT8, expose_weights, quantize_export, quantize_graph, token_agreement


def _shared_weight_graph() -> onnx.ModelProto:
    """x (3 16) -> two Gemm(transB=1) on one square weight, then a MatMul whose weight arrives through
    Identity: the two shapes the TorchScript tracer gives the unrolled decoding iterations."""
    rng = np.random.default_rng(0)
    square = numpy_helper.from_array(rng.normal(0, 0.3, (16, 16)).astype(np.float32), "square")
    bias = numpy_helper.from_array(rng.normal(0, 0.1, 16).astype(np.float32), "bias")
    tall = numpy_helper.from_array(rng.normal(0, 0.3, (16, 8)).astype(np.float32), "tall")
    nodes = [helper.make_node("Gemm", ["x", "square", "bias"], ["h1"], transB=1, name="first"),
             helper.make_node("Relu", ["h1"], ["r1"]),
             helper.make_node("Gemm", ["r1", "square", "bias"], ["h2"], transB=1, name="second"),
             helper.make_node("Identity", ["tall"], ["tall_alias"]),
             helper.make_node("MatMul", ["h2", "tall_alias"], ["y"], name="last")]
    graph = helper.make_graph(nodes, "shared", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 8])], [square, bias, tall])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)


def _run(model_or_path, x: np.ndarray) -> np.ndarray:
    source = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else str(model_or_path)
    return onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def test_expose_weights_keeps_the_function_and_leaves_plain_matmuls():
    x = np.random.default_rng(1).normal(size=(3, 16)).astype(np.float32)
    before = _run(_shared_weight_graph(), x)
    exposed = expose_weights(_shared_weight_graph())
    onnx.checker.check_model(exposed, full_check=True)
    constants = {t.name for t in exposed.graph.initializer}
    assert {n.op_type for n in exposed.graph.node} == {"MatMul", "Add", "Relu"}
    assert all(n.input[1] in constants for n in exposed.graph.node if n.op_type == "MatMul")
    assert "square" not in constants and "square.T" in constants  # one transposed copy serves both
    np.testing.assert_allclose(_run(exposed, x), before, rtol=1e-5, atol=1e-5)


def test_quantised_shared_weight_stays_close_to_float(tmp_path):
    """onnxruntime's own Gemm rewrite transposes a shared weight once per user (here twice: not at
    all), which on this graph gives a relative error near 1; after expose_weights only int8 rounding is left."""
    x = np.random.default_rng(2).normal(size=(3, 16)).astype(np.float32)
    onnx.save(_shared_weight_graph(), str(tmp_path / "float.onnx"))
    quantize_graph(tmp_path / "float.onnx", tmp_path / "int8.onnx")
    quantized = onnx.load(str(tmp_path / "int8.onnx"))
    assert sum(n.op_type in ("MatMulInteger", "DynamicQuantizeMatMul") for n in quantized.graph.node) == 3
    before, after = _run(tmp_path / "float.onnx", x), _run(tmp_path / "int8.onnx", x)
    assert np.linalg.norm(after - before) / np.linalg.norm(before) < 0.05
    assert not (tmp_path / "int8.exposed.onnx").exists()


@pytest.mark.slow
def test_int8_export_runs_and_stays_near_the_float_condition(tiny_export, tmp_path, speech_like):
    info = quantize_export(read_export(tiny_export), tmp_path / "int8")
    again = read_export(tmp_path / "int8")  # hashes verified
    assert again.precision == info.precision == INT8 and again.source_model_hash == read_export(tiny_export).source_model_hash
    for name in ("condition.onnx", "motion.onnx"):
        props = {p.key: p.value for p in onnx.load(str(tmp_path / "int8" / name)).metadata_props}
        assert props["precision"] == INT8
    float_gen = load_backend("onnxruntime", onnx_dir=tiny_export, threads=1)
    int8_gen = load_backend("onnxruntime-int8", onnx_dir=tmp_path / "int8", threads=1)
    with pytest.raises(ExportError, match="holds int8 graphs, float32 was asked for"):
        load_backend("onnxruntime", onnx_dir=tmp_path / "int8")  # not by accident through the float name
    assert "int8" in int8_gen.describe() and "int8" not in float_gen.describe()
    audio = speech_like(1.5, 4)[None]
    lens = np.array([audio.shape[1]])
    feeds = dict(zip(("audio", "audio_lens"), (audio, lens)))
    cond_float, valid = float_gen.condition.run(None, feeds)
    cond_int8, valid_int8 = int8_gen.condition.run(None, feeds)
    np.testing.assert_array_equal(valid, valid_int8)
    assert np.linalg.norm(cond_int8 - cond_float) / np.linalg.norm(cond_float) < 0.1
    motion = int8_gen.generate(audio[0], 16000, length=40, seed=0)
    assert motion.joints.shape == (40, 22, 3) and np.isfinite(motion.joints).all()


@pytest.mark.slow
def test_int8_backend_quantises_once_into_the_cache_and_keeps_named_exports(tiny_model_dir, tiny_export, tmp_path,
                                                                              monkeypatch, caplog):
    monkeypatch.setenv("A2M_CACHE_DIR", str(tmp_path / "cache"))
    first = load_backend("onnxruntime-int8", model_dir=tiny_model_dir, threads=1)
    assert first.info.precision == INT8 and first.info.directory.name.endswith("-int8")
    float_cache = [d for d in (tmp_path / "cache" / "onnx").iterdir() if not d.name.endswith("-int8")]
    assert len(float_cache) == 1 and read_export(float_cache[0]).precision == "float32"  # quantised from it
    stamp = (first.info.directory / "motion.onnx").stat().st_mtime_ns
    with caplog.at_level("INFO"):
        second = load_backend("onnxruntime-int8", model_dir=tiny_model_dir, threads=1)
    assert (second.info.directory / "motion.onnx").stat().st_mtime_ns == stamp and "exporting" not in caplog.text
    before = read_export(tiny_export).graph_sha256
    with pytest.raises(ExportError, match="holds float32 graphs, int8 was asked for.*--int8"):
        load_backend("onnxruntime-int8", model_dir=tiny_model_dir, onnx_dir=tiny_export)
    assert read_export(tiny_export).graph_sha256 == before  # refused, not replaced


@pytest.mark.slow
def test_export_int8_command_and_tensorrt_refuses_it(tiny_model_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "nested" / "int8"
    assert main(["export", "onnx", "--int8", "--model", str(tiny_model_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "int8 MatMul weights" in printed and "% of tokens equal" in printed and read_export(out).precision == INT8
    assert sorted(p.name for p in out.parent.iterdir()) == ["int8"]  # no float or staging folder left
    monkeypatch.setattr(tensorrt_backend, "tensorrt_unavailable", lambda: None)  # reach the export check
    assert main(["export", "trt", "--onnx", str(out), "--out", str(tmp_path / "engines")]) == 2
    assert "float export" in capsys.readouterr().err


class _FixedOutputs(Backend):
    """Returns given graph outputs: token_agreement's counting checked on a hand-made case (no model needed)."""

    def __init__(self, tokens: np.ndarray, lengths: list[int]):
        super().__init__(GraphSpec(dataset="humanml3d", fps=20.0, max_frames=12, max_audio_s=30.0,
                                   noise_dims=(2, 3, 5), has_normalization=False))
        self.outputs = GraphOutputs(tokens, np.zeros((2, 12, 263), np.float32), np.zeros((2, 12, 22, 3), np.float32),
                                    np.array(lengths))

    def run_graphs(self, audio, audio_lens, lengths, noise) -> GraphOutputs:
        return self.outputs


def test_token_agreement_counts_tokens_within_the_reference_length():
    tokens = np.arange(12).reshape(2, 3, 2)  # (b n q): 3 positions of 4 frames, 2 RVQ layers
    other = tokens.copy()
    other[0, 0, 1] = -1  # counted: sample 0 has 8 frames = positions 0 and 1
    other[1, 2, :] = -1  # not counted: sample 1 has 4 frames = position 0 only
    clips = [np.random.default_rng(k).normal(0, 0.1, 16000).astype(np.float32) for k in range(2)]
    result = token_agreement(_FixedOutputs(tokens, [8, 4]), _FixedOutputs(other, [8, 8]), clips, [0, 1])
    assert result == {"tokens": 5 / 6, "base_tokens": 1.0, "lengths": 0.5, "samples": 2}
