"""The Backend interface and backend loading: bad input, stale or damaged exports, fallbacks, TensorRT."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from a2m_cli.main import main
from a2m_core.errors import InputError
from a2m_core.runtime.backend import gumbel_noise
from a2m_core.runtime.backends import load_backend, load_model_backend, model_to_load
from a2m_core.runtime.export import MOTION_FILE, ExportError, model_hash, read_export
from a2m_core.runtime.tensorrt_backend import EngineOptions, engine_key, tensorrt_unavailable


@pytest.fixture(scope="module")
def torch_gen(tiny_model_dir):
    return load_backend("torch", model_dir=tiny_model_dir)


def test_generate_returns_motion_of_the_asked_length(torch_gen, speech_like):
    motion = torch_gen.generate(speech_like(1.2, 0, rate=48000)[:, None].repeat(2, axis=1), 48000, length=37, seed=1)
    assert motion.joints.shape == (36, 22, 3) and motion.features.shape == (36, 263)  # whole tokens of 4 frames
    assert motion.skeleton.name == "humanml3d" and np.isfinite(motion.joints).all()


def test_an_audio_models_backend_refuses_typed_instructions_with_what_to_do(torch_gen):
    with pytest.raises(InputError, match="not text-conditioned: speak the instruction"):
        torch_gen.check_text("walk forward")
    with pytest.raises(InputError, match="not text-conditioned"):
        torch_gen.from_text("walk forward")


@pytest.mark.parametrize("audio, rate, length, match", [
    (np.zeros(0, np.float32), 16000, None, "empty"),
    (np.full(16000, np.nan, np.float32), 16000, None, "NaN"),
    (np.zeros(16000, np.int16), 16000, None, "float samples"),
    (np.zeros(100, np.float32), 16000, None, "too short"),
    (np.zeros(16000 * 31, np.float32), 16000, None, "longer than"),
    (np.zeros(16000, np.float32), 123, None, "sample rate"),
    (np.zeros(16000, np.float32), 16000, 500, "between 1 and 196"),
    (np.zeros(16000, np.float32), 16000, 2.5, "whole frames"),
])
def test_bad_input_is_an_input_error(torch_gen, audio, rate, length, match):
    with pytest.raises(InputError, match=match):
        torch_gen.generate(audio, rate, length)


def test_batch_needs_one_length_and_seed_per_clip(torch_gen, speech_like):
    clips = [speech_like(1.0, 1), speech_like(2.0, 2)]
    with pytest.raises(InputError, match="2 clips but 1 lengths"):
        torch_gen.generate_batch(clips, 16000, lengths=[20], seeds=[0, 1])
    batch = torch_gen.generate_batch(clips, 16000, lengths=[20, 40], seeds=[5, 6])
    alone = torch_gen.generate(clips[1], 16000, length=40, seed=6)
    assert [m.num_frames for m in batch] == [20, 40]
    np.testing.assert_allclose(batch[1].joints, alone.joints, atol=1e-4)  # batch mates do not matter


def test_pipeline_protocol_gives_raw_features(torch_gen, speech_like):
    features = torch_gen(speech_like(1.0, 3), motion_s=2.0, seed=0)
    assert features.shape == (40, 263) and features.dtype == np.float32


def test_gumbel_noise_is_seeded():
    a, b = gumbel_noise((3, 4), 1), gumbel_noise((3, 4), 1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, gumbel_noise((3, 4), 2)) and np.isfinite(a).all()


def test_unknown_backend_and_missing_model_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="unknown backend"):
        load_backend("cuda-magic", model_dir=tmp_path)
    with pytest.raises(InputError, match="needs a model folder"):
        load_backend("torch", onnx_dir=tmp_path)


@pytest.mark.slow
def test_damaged_export_without_model_is_a_clear_error(tiny_export, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_export, broken)
    (broken / MOTION_FILE).write_bytes(b"not an onnx file")
    with pytest.raises(ExportError, match="does not match the hash"):
        load_backend("onnxruntime", onnx_dir=broken)


@pytest.mark.slow
def test_a_lone_export_runs_with_its_own_decoding(tiny_model_dir, tmp_path, speech_like):
    """Without a model folder and a decoding, the export is used as exported; a decoding that
    contradicts it cannot be honoured (nothing to rebuild from) and says so."""
    from a2m_core.runtime.export import export_onnx
    from a2m_core.runtime.interface import DecodingConfig

    cheap = DecodingConfig(num_iters=3, res_cfg_scale=1.0)
    export = export_onnx(tiny_model_dir, tmp_path / "cheap", decoding=cheap, progress=False).directory
    generator = load_backend("onnxruntime", onnx_dir=export, threads=1)
    quantizers = read_export(export).model_config["residual"]["num_quantizers"]
    assert generator.spec.noise_dims[0] == 3 + quantizers - 1  # noise for 3 iterations, not the default 10
    assert generator.generate(speech_like(1.0, 0), 16000, seed=0).num_frames > 0
    with pytest.raises(ExportError, match="was exported with decoding"):
        load_backend("onnxruntime", onnx_dir=export, decoding=DecodingConfig())


def test_auto_falls_back_to_torch_when_no_export_can_be_made(tiny_model_dir, tmp_path, caplog):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="a2m_core.runtime.backends"):
        generator = load_backend("auto", model_dir=tiny_model_dir, onnx_dir=blocker / "onnx")
    assert generator.name == "torch"
    [record] = caplog.records
    assert "backend onnxruntime unavailable" in record.getMessage() and "cannot write" in record.getMessage()


@pytest.mark.slow
def test_stale_or_damaged_export_is_rebuilt_from_the_model(tiny_export, tiny_model_dir, tmp_path, caplog,
                                                           speech_like):
    stale = tmp_path / "stale"
    shutil.copytree(tiny_export, stale)
    (stale / MOTION_FILE).write_bytes((stale / MOTION_FILE).read_bytes()[:1000])
    with caplog.at_level(logging.WARNING, logger="a2m_core.runtime.backends"):
        generator = load_backend("onnxruntime", model_dir=tiny_model_dir, onnx_dir=stale, threads=1)
    assert any("rebuilding it from" in r.getMessage() for r in caplog.records)
    info = read_export(stale)  # whole again, and made from this model
    assert info.source_model_hash == model_hash(tiny_model_dir)
    assert generator.generate(speech_like(1.0, 0), 16000, seed=0).num_frames > 0


def test_engine_cache_key_changes_with_gpu_tensorrt_onnx_and_options():
    base = dict(gpu_name="NVIDIA H200", trt_version="10.13.0", onnx_hash="a" * 64, options=EngineOptions())
    key = engine_key(**base)
    assert key == engine_key(**base) and key.startswith("trt10-")
    changes = [{"gpu_name": "Orin"}, {"trt_version": "10.14.1"}, {"onnx_hash": "b" * 64},
               {"options": EngineOptions(fp16=True)}, {"options": EngineOptions(max_batch=16)},
               {"options": EngineOptions(max_audio_s=10.0)}]
    assert len({engine_key(**{**base, **change}) for change in changes} | {key}) == len(changes) + 1


@pytest.mark.skipif(tensorrt_unavailable() is None, reason="TensorRT is installed here; this checks its absence")
def test_export_trt_without_tensorrt_says_so_in_one_line(tmp_path, capsys):
    assert main(["export", "trt", "--onnx", str(tmp_path), "--out", str(tmp_path / "engines")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "TensorRT" in err and "onnxruntime" in err


@pytest.mark.skipif(tensorrt_unavailable() is not None, reason=f"TensorRT unusable here: {tensorrt_unavailable()}")
@pytest.mark.gpu
def test_tensorrt_matches_onnxruntime(tiny_export, tiny_model_dir, tmp_path, speech_like, monkeypatch):
    """Engines build, are reused from the cache, and agree with onnxruntime on tokens."""
    monkeypatch.setenv("A2M_CACHE_DIR", str(tmp_path))
    trt = load_backend("tensorrt", model_dir=tiny_model_dir, onnx_dir=tiny_export, device="cuda")
    ort = load_backend("onnxruntime", model_dir=tiny_model_dir, onnx_dir=tiny_export)
    audio = speech_like(3.0, 0)
    a, b = trt.generate(audio, 16000, seed=1), ort.generate(audio, 16000, seed=1)
    assert a.num_frames == b.num_frames
    np.testing.assert_allclose(a.joints, b.joints, atol=1e-2)
    engines = list((tmp_path / "engines").iterdir())
    load_backend("tensorrt", model_dir=tiny_model_dir, onnx_dir=tiny_export, device="cuda")
    assert list((tmp_path / "engines").iterdir()) == engines  # cached, not rebuilt


def test_seeded_preset_folders_hash_alike(tmp_path, monkeypatch):
    """Same preset and seed, same files: a cached export of it stays valid across runs."""
    from a2m_core.runtime.backends import preset_model_dir

    monkeypatch.setenv("A2M_CACHE_DIR", str(tmp_path))
    first = model_hash(preset_model_dir("tiny", seed=1))
    assert model_hash(preset_model_dir("tiny", seed=1)) == first
    assert model_hash(preset_model_dir("tiny", seed=2)) != first


@pytest.mark.slow
def test_onnxruntime_backend_runs_without_importing_torch(tiny_export):
    """Deployment without torch: loading the export and generating never imports it."""
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from a2m_core.runtime.backends import load_backend\n"
            f"g = load_backend('onnxruntime', onnx_dir={str(tiny_export)!r}, threads=1)\n"
            "m = g.generate(np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), 16000, seed=0)\n"
            "assert m.num_frames > 0 and 'torch' not in sys.modules, sorted(k for k in sys.modules if 'torch' in k)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_only_the_motion_graph_keeps_its_cpu_workers_spinning(tiny_export):
    """Graph (a)'s idle workers must not spin into graph (b), which runs right after it on the same
    cores (the cost is measured in docs/performance.md, not timed here)."""
    g = load_backend("onnxruntime", onnx_dir=tiny_export, threads=2)

    def spins(session) -> bool:
        try:  # onnxruntime spins unless the entry says "0"; an unset entry raises
            return session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") != "0"
        except RuntimeError:
            return True

    assert not spins(g.condition)
    assert spins(g.motion)


def test_model_to_load_takes_the_folder_given_else_the_shipped_model_else_a_preset(tiny_model_dir, tmp_path):
    from a2m_core.paths import SHIPPED_MODEL_DIR

    assert model_to_load(str(tiny_model_dir), "") == (tiny_model_dir, str(tiny_model_dir))
    with pytest.raises(InputError, match="model folder not found"):
        model_to_load(str(tmp_path / "missing"), "")
    if SHIPPED_MODEL_DIR.is_dir():
        assert model_to_load("", "")[0] == SHIPPED_MODEL_DIR
    folder, what = model_to_load("", "tiny")
    assert (folder / "config.json").is_file() and "random tiny model" in what


def test_load_model_generator_serves_audio_models_on_the_backend_asked(tiny_model_dir):
    generator = load_model_backend("torch", tiny_model_dir)
    assert generator.name == "torch" and generator.skeleton.fps > 0

