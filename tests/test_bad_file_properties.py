"""Generated bad files thrown at the command line and the loaders (hypothesis).

For every example: the command exits 0 or 2 (2 with one `a2m: error:` line), never raises (no
traceback), returns within a time limit (no hang), and leaves each output either absent or
complete, with no temporary file beside it. Commands run in-process through `main`, with a tiny
model, and each property tries few examples, so the whole suite stays within the default run.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import signal
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from a2m_cli.main import main
from a2m_core.errors import InputError
from a2m_core.model import load_model, preset_model, save_model

FIXTURE = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "humanml3d"
LIMIT_S = 60  # one command on one generated file; the slowest real case here takes a few seconds
FEW = settings(max_examples=12, deadline=None, derandomize=True, database=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class Hang(Exception):
    """A command ran past LIMIT_S."""


@contextlib.contextmanager
def time_limit(seconds: float):
    def fire(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(argv: list, outputs: list[Path], is_complete) -> int:
    """main(argv) under the time limit; checks the exit code, the error line and every output."""
    err = io.StringIO()
    with time_limit(LIMIT_S), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([str(a) for a in argv])
    assert code in (0, 2), err.getvalue()
    event(f"exit {code}" if code == 0 else f"exit 2: {err.getvalue().split(':')[-1].strip()[:40]}")
    if code == 2:
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("a2m: error:"), err.getvalue()
    for out in outputs:
        assert not [p.name for p in out.parent.glob(f".{out.name}.*")], "a temporary file was left behind"
        if out.exists():
            assert code == 0, f"{out} written by a command that failed"
            is_complete(out)
            shutil.rmtree(out) if out.is_dir() else out.unlink()
    return code


def npy_complete(path: Path) -> None:
    np.load(path, allow_pickle=False)


def bvh_complete(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("HIERARCHY") and "MOTION" in text


def gif_complete(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        image.seek(image.n_frames - 1)


# ---------------------------------------------------------------- audio files


def wav_bytes(fmt: int, channels: int, rate: int, bits: int, claimed: int, payload: bytes) -> bytes:
    """A RIFF/WAVE file whose header says whatever it is told, whatever the data holds."""
    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * block & 0xFFFFFFFF, block & 0xFFFF, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + b"data" + struct.pack("<I", claimed)
    return b"RIFF" + struct.pack("<I", (len(body) + claimed) & 0xFFFFFFFF) + body + payload


def float_wav(samples: list[float], rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(samples, np.float32), rate, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


@st.composite
def speech_like_wav(draw) -> bytes:
    """A well-formed file (a chirp at any rate, channel count and level), possibly with damaged header bytes
    or cut short."""
    rate = draw(st.sampled_from([8000, 16000, 22050, 44100, 48000]))
    seconds = draw(st.sampled_from([1.5, 3.0, 0.5, 0.01]))
    t = np.arange(int(rate * seconds)) / rate
    level = draw(st.sampled_from([0.3, 1.0, 4.0, 1e-4, 0.0]))
    chirp = level * np.sin(2 * np.pi * (200 + 300 * t) * t)
    channels = draw(st.integers(1, 3))
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(np.repeat(chirp[:, None], channels, 1), -1, 1).astype(np.float32), rate, format="WAV",
             subtype=draw(st.sampled_from(["PCM_16", "FLOAT", "PCM_U8"])))
    data = bytearray(buffer.getvalue())
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        data[draw(st.integers(0, 43))] = draw(st.integers(0, 255))
    return bytes(data[: max(1, int(len(data) * draw(st.sampled_from([1.0, 1.0, 0.7, 0.1]))))])


audio_files = st.one_of(
    speech_like_wav(),
    speech_like_wav(),
    st.binary(max_size=3000),
    st.builds(wav_bytes, st.sampled_from([1, 3, 0xFFFE, 2, 0]), st.integers(0, 70_000), st.integers(0, 2**32 - 1),
              st.sampled_from([0, 8, 16, 24, 32, 7]), st.integers(0, 2**32 - 1), st.binary(max_size=4000)),
    st.builds(float_wav, st.lists(st.floats(width=32), min_size=0, max_size=4000),
              st.sampled_from([4000, 8000, 16000, 44100, 192000])),
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny") / "model"
    model = preset_model("tiny")
    if (FIXTURE / "Mean.npy").is_file():
        model.normalization = (np.load(FIXTURE / "Mean.npy").astype(np.float32),
                               np.load(FIXTURE / "Std.npy").astype(np.float32))
    return save_model(model, folder)


@FEW
@given(data=audio_files)
def test_generate_on_generated_audio(tmp_path, tiny_model, data):
    wav = tmp_path / "in.wav"
    wav.write_bytes(data)
    out, joints = tmp_path / "o.npy", tmp_path / "j.npy"
    run(["generate", "--model", tiny_model, "--audio", wav, "--out", out, "--joints", joints], [out, joints],
        npy_complete)


def wav_complete(path: Path) -> None:
    assert len(sf.read(path)[0]) > 0


@settings(FEW, max_examples=8)
@given(data=audio_files)
def test_data_noise_on_generated_audio(tmp_path, data):
    wav = tmp_path / "in.wav"
    wav.write_bytes(data)
    out = tmp_path / "noisy.wav"
    run(["data", "noise", wav, "--snr", 10, "--out", out], [out], wav_complete)


@FEW
@given(data=audio_files)
def test_load_audio_on_generated_files(tmp_path, data):
    from a2m_core.audio.io import load_audio

    path = tmp_path / "in.wav"
    path.write_bytes(data)
    with time_limit(LIMIT_S):
        try:
            audio = load_audio(path)
        except InputError:
            return
    assert audio.samples.dtype == np.float32 and np.isfinite(audio.samples).all()


# ---------------------------------------------------------------- motion files

shapes = st.one_of(
    st.tuples(st.integers(0, 300), st.sampled_from([263, 251, 262, 1])),
    st.tuples(st.integers(0, 300), st.sampled_from([22, 21, 5]), st.sampled_from([3, 2])),
    st.lists(st.integers(0, 6), min_size=0, max_size=4).map(tuple),
)
values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.floats(-2.0, 2.0, width=32))


@st.composite
def motion_arrays(draw) -> np.ndarray:
    shape = draw(shapes)
    dtype = draw(st.sampled_from(["float32", "float64", "int16", "bool", "complex64", "float16"]))
    fill = draw(values)
    scale = draw(st.sampled_from([1.0, 1e-3, 1e3, 1e30]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    array = rng.normal(0, 1, shape) * scale
    if shape and shape[0] and draw(st.booleans()):
        array.flat[draw(st.integers(0, max(array.size - 1, 0)))] = fill
    with np.errstate(invalid="ignore", over="ignore"):
        return array.astype(dtype)


def motion_file(path: Path, kind: str, array: np.ndarray, raw: bytes) -> None:
    if kind == "npy":
        np.save(path, array)
    elif kind == "pickle":
        np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    elif kind == "truncated":
        buffer = io.BytesIO()
        np.save(buffer, array)
        path.write_bytes(buffer.getvalue()[: max(1, len(buffer.getvalue()) // 2)])
    else:
        path.write_bytes(raw)


motion_kinds = st.sampled_from(["npy", "npy", "npy", "pickle", "truncated", "bytes"])


@FEW
@given(kind=motion_kinds, array=motion_arrays(), raw=st.binary(max_size=500),
       command=st.sampled_from(["decode", "bvh", "encode"]))
def test_motion_commands_on_generated_files(tmp_path, kind, array, raw, command):
    path = tmp_path / "motion.npy"
    motion_file(path, kind, array, raw)
    suffix, complete = (".bvh", bvh_complete) if command == "bvh" else (".npy", npy_complete)
    out = tmp_path / f"out{suffix}"
    run(["motion", command, path, "--out", out], [out], complete)


@settings(FEW, max_examples=6)
@given(kind=motion_kinds, array=motion_arrays(), raw=st.binary(max_size=500))
def test_motion_render_on_generated_files(tmp_path, kind, array, raw):
    path = tmp_path / "motion.npy"
    motion_file(path, kind, array, raw)
    out = tmp_path / "out.gif"
    run(["motion", "render", path, "--out", out, "--max-frames", 8], [out], gif_complete)


statistics = st.one_of(st.builds(lambda v: np.full(263, v, np.float32), st.sampled_from([0.5, 2e3, 1e30, -1.0, np.nan])),
                       st.builds(lambda v: np.full(263, v, np.float32), values), motion_arrays())


def model_complete(path: Path) -> None:
    load_model(path)


@settings(FEW, max_examples=8)
@given(mean=statistics, std=statistics, kind=motion_kinds, raw=st.binary(max_size=200))
def test_model_init_on_generated_statistics(tmp_path, mean, std, kind, raw):
    motion_file(tmp_path / "Mean.npy", kind, mean, raw)
    np.save(tmp_path / "Std.npy", std)
    out = tmp_path / "model"
    run(["model", "init", "--preset", "tiny", "--out", out, "--force", "--mean", tmp_path / "Mean.npy", "--std",
         tmp_path / "Std.npy"], [out], model_complete)  # what init writes, load must read


def test_model_init_refuses_statistics_that_loading_would_refuse(tmp_path, capsys):
    np.save(tmp_path / "Mean.npy", np.full(263, 1e30, np.float32))
    np.save(tmp_path / "Std.npy", np.ones(263, np.float32))
    assert main(["model", "init", "--preset", "tiny", "--out", str(tmp_path / "model"), "--mean",
                 str(tmp_path / "Mean.npy"), "--std", str(tmp_path / "Std.npy")]) == 2
    assert "--mean: values up to 1e+30" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()


# ---------------------------------------------------------------- model folders


def leaves(value, path=()):
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaves(child, (*path, key))
    else:
        yield path


json_values = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                        st.text(max_size=8), st.lists(st.integers(-5, 5), max_size=3), st.just({}),
                        st.sampled_from([0, -1, 1, 2, 3, 4096, 10**6, 10**9]))


@st.composite
def config_edits(draw):
    """A function editing a config document: one value replaced, or one key removed."""
    reference = preset_model("tiny").config.to_dict()
    paths = sorted(leaves(reference))
    path = draw(st.sampled_from(paths))
    cut = draw(st.integers(1, len(path)))  # edit the leaf or one of the sections above it
    remove = draw(st.booleans())
    value = draw(json_values)

    def edit(config: dict) -> None:
        node = config
        for key in path[: cut - 1]:
            node = node[key]
        if remove:
            node.pop(path[cut - 1], None)
        else:
            node[path[cut - 1]] = value

    return edit


@settings(FEW, max_examples=25)
@given(edit=config_edits())
def test_model_info_on_generated_configs(tmp_path, tiny_model, edit):
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    for path in tiny_model.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    document = json.loads((folder / "config.json").read_text())
    edit(document["config"])
    (folder / "config.json").write_text(json.dumps(document))
    run(["model", "info", folder], [], None)


@FEW
@given(cut=st.floats(0, 1), noise=st.binary(min_size=0, max_size=64))
def test_model_info_on_damaged_weights(tmp_path, tiny_model, cut, noise):
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    for path in tiny_model.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    weights = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(noise + weights[: int(cut * len(weights))])
    run(["model", "info", folder], [], None)


# ---------------------------------------------------------------- export.json and retarget maps


@FEW
@given(edit=config_edits(), spec_value=json_values)
def test_read_export_on_generated_documents(tmp_path, edit, spec_value):
    from a2m_core.runtime.export import EXPORT_FORMAT, EXPORT_FORMAT_VERSION, META_FILE, read_export

    config = preset_model("tiny").config.to_dict()
    edit(config)
    document = {"format": EXPORT_FORMAT, "format_version": EXPORT_FORMAT_VERSION, "model_config": config,
                "spec": {"max_frames": spec_value, "noise_dims": [1, 2, 3]}}
    (tmp_path / META_FILE).write_text(json.dumps(document))
    with time_limit(LIMIT_S), pytest.raises(InputError):
        read_export(tmp_path)


yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=True), st.text(max_size=12),
              st.sampled_from(["pelvis", "left_ankle", "left_foot", "pelvis_link", "up", "x", "y"])),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(["human", "link", "offset", "keypoints", "feet", "left",
                                                                "right", "sole_points", "human_joints", "orientation",
                                                                "position_weight", "y", "z"]), children, max_size=4)),
    max_leaves=20)


@FEW
@given(raw=yaml_values)
def test_keypoint_map_on_generated_yaml(tmp_path, raw):
    from a2m_core.motion.skeleton import HUMANML3D
    from a2m_core.retarget.keypoint_map import load_keypoint_map

    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump(raw))
    with time_limit(LIMIT_S):
        try:
            load_keypoint_map(path, HUMANML3D)
        except InputError:
            pass
