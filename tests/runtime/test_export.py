"""`a2m export onnx`: checked graphs, metadata, dynamic axes, and clear errors for damaged exports."""

from __future__ import annotations

import datetime
import json
import shutil

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from a2m_cli.main import main
from a2m_core.model import load_model
from a2m_core.runtime.export import (
    CONDITION_FILE,
    META_FILE,
    MOTION_FILE,
    ExportError,
    check_current,
    fold_weight_norm,
    model_hash,
    read_export,
)


@pytest.mark.slow
def test_graphs_pass_the_checker_and_carry_metadata(tiny_export, tiny_model_dir):
    info = read_export(tiny_export)
    config = load_model(tiny_model_dir).config.to_dict()
    assert info.model_config == config and info.opset == 18
    assert info.source_model_hash == model_hash(tiny_model_dir)
    exported = datetime.datetime.fromisoformat(info.exported_at)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - exported).total_seconds()) < 3600
    for name in (CONDITION_FILE, MOTION_FILE):
        onnx.checker.check_model(str(tiny_export / name), full_check=True)
        model = onnx.load(str(tiny_export / name))
        props = {p.key: p.value for p in model.metadata_props}
        assert json.loads(props["model_config"]) == config
        assert props["source_model_hash"] == info.source_model_hash and props["opset"] == "18"
        assert {o.domain: o.version for o in model.opset_import}[""] == 18


@pytest.mark.slow
def test_condition_graph_takes_any_batch_and_audio_length(tiny_export, tiny_model_dir):
    """Graph (a) was traced at batch 2 and 2 s; other shapes, and zero-padded rows, give what the
    torch modules give."""
    from a2m_core.runtime.graphs import ConditionGraph

    session = onnxruntime.InferenceSession(str(tiny_export / CONDITION_FILE), providers=["CPUExecutionProvider"])
    graph = ConditionGraph(load_model(tiny_model_dir)).eval()
    for b, seconds in ((1, 0.5), (3, 4.7)):
        audio = np.random.default_rng(b).normal(0, 0.1, (b, int(seconds * 16000))).astype(np.float32)
        lens = np.full(b, audio.shape[1], np.int64)
        lens[-1] = audio.shape[1] // 2
        audio[-1, lens[-1] :] = 0.0  # zero padding: log-mel of silence must stay finite
        cond, valid = session.run(None, {"audio": audio, "audio_lens": lens})
        with torch.no_grad():
            expected, expected_valid = graph(torch.from_numpy(audio), torch.from_numpy(lens))
        np.testing.assert_allclose(cond, expected.numpy(), atol=1e-4)
        np.testing.assert_array_equal(valid, expected_valid.numpy())


@pytest.mark.slow
def test_damaged_or_foreign_exports_are_named_errors(tiny_export, tmp_path):
    def copy(name: str):
        target = tmp_path / name
        shutil.copytree(tiny_export, target)
        return target

    truncated = copy("truncated")
    data = (truncated / MOTION_FILE).read_bytes()
    (truncated / MOTION_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ExportError, match="does not match the hash.*a2m export onnx"):
        read_export(truncated)

    missing = copy("missing")
    (missing / CONDITION_FILE).unlink()
    with pytest.raises(ExportError, match="condition.onnx is missing"):
        read_export(missing)

    foreign = copy("foreign")
    (foreign / META_FILE).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ExportError, match="not an a2m ONNX export"):
        read_export(foreign)

    garbled = copy("garbled")
    (garbled / META_FILE).write_text("{not json")
    with pytest.raises(ExportError, match="damaged"):
        read_export(garbled)

    with pytest.raises(ExportError, match="export.json missing"):
        read_export(tmp_path / "nothing")


@pytest.mark.slow
def test_an_export_of_another_model_version_is_stale(tiny_export, tiny_model_dir, tmp_path):
    info = read_export(tiny_export)
    check_current(info, tiny_model_dir)  # the model it came from: fine
    changed = tmp_path / "changed"
    shutil.copytree(tiny_model_dir, changed)
    std = np.load(changed / "Std.npy")
    np.save(changed / "Std.npy", std * 1.5)
    with pytest.raises(ExportError, match="exported from another model"):
        check_current(info, changed)


@pytest.mark.slow
def test_topk_exports_as_a_constant_k(tiny_model_dir, tmp_path):
    """Graph (b) with top-k sampling holds TopK nodes whose K TensorRT accepts."""
    from a2m_core.decoding import make_noise
    from a2m_core.runtime.export import _attention_fast_path_off, _export_motion
    from a2m_core.runtime.graphs import MotionGraph
    from a2m_core.runtime.interface import DecodingConfig
    from a2m_core.runtime.trt_ops import tensorrt_problems

    model = load_model(tiny_model_dir)
    graph = MotionGraph(model, DecodingConfig(num_iters=2, topk=5)).eval()
    cond, valid = torch.randn(2, 1, 32), torch.ones(2, 1, dtype=torch.bool)
    with torch.no_grad(), _attention_fast_path_off():
        _export_motion(graph, (cond, valid, torch.tensor([40, 0]), make_noise(model, 2, 2, seed=0)),
                       tmp_path / MOTION_FILE, 18)
    exported = onnx.load(str(tmp_path / MOTION_FILE))
    assert sum(n.op_type == "TopK" for n in exported.graph.node) == 2 + 2  # masked iterations + residual layers
    assert tensorrt_problems(exported) == []


def test_graph_b_predicts_lengths_at_its_decoding_length_quantile(tiny_model_dir):
    """lengths <= 0 ask graph (b) for the predicted length, at the quantile baked in with the decoding."""
    from a2m_core.decoding import make_noise
    from a2m_core.runtime.graphs import MotionGraph
    from a2m_core.runtime.interface import DecodingConfig

    model = load_model(tiny_model_dir)
    cond, valid = torch.randn(3, 1, 32, generator=torch.Generator().manual_seed(0)), torch.ones(3, 1, dtype=torch.bool)
    noise = make_noise(model, 3, 2, seed=0)
    lengths = {}
    for q in (0.1, 0.9):
        graph = MotionGraph(model, DecodingConfig(num_iters=2, length_quantile=q)).eval()
        with torch.no_grad():
            lengths[q] = graph(cond, valid, torch.tensor([0, 0, 40]), noise)[3]
    expected = {q: model.length_predictor.predict(cond, valid, q) * model.config.rvq_vae.downsample for q in (0.1, 0.9)}
    assert torch.equal(lengths[0.1][:2], expected[0.1][:2]) and torch.equal(lengths[0.9][:2], expected[0.9][:2])
    assert (lengths[0.1][:2] < lengths[0.9][:2]).all() and lengths[0.1][2] == lengths[0.9][2] == 40


def test_cli_refuses_a_missing_model(tmp_path, capsys):
    assert main(["export", "onnx", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no model folder" in err and not (tmp_path / "out").exists()


def test_weight_norm_folds_into_plain_weights():
    """WavLM's positional convolution uses weight norm; folding keeps its output and drops the reparametrisation."""
    from torch.nn.utils import parametrize
    from torch.nn.utils.parametrizations import weight_norm

    conv = weight_norm(torch.nn.Conv1d(4, 4, 3, padding=1), dim=2)
    x = torch.randn(1, 4, 10)
    with torch.no_grad():
        before = conv(x)
        fold_weight_norm(conv)
        after = conv(x)
    assert not parametrize.is_parametrized(conv)
    torch.testing.assert_close(after, before)
