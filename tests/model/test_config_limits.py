"""A model folder's config.json (and an export's copy of it) is bounded before anything is built from it."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from a2m_cli.main import main
from a2m_core.errors import InputError
from a2m_core.limits import KEY_LIMITS, MAX_WIDTH, check_config_bounds
from a2m_core.model import preset_model, save_model
from a2m_core.model.presets import preset_config
from a2m_core.model.size import estimate_parameters, meta_shapes


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return save_model(preset_model("tiny"), tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture
def model_copy(tmp_path, tiny_dir) -> Path:
    copy = tmp_path / "model"
    copy.mkdir()
    for path in tiny_dir.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    return copy


def edit_config(folder: Path, edit) -> None:
    document = json.loads((folder / "config.json").read_text())
    edit(document["config"])
    (folder / "config.json").write_text(json.dumps(document))


def run_info(folder: Path, capsys) -> str:
    code = main(["model", "info", str(folder)])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("a2m: error:"), err
    return lines[0]


@pytest.mark.parametrize("key, value, limit", [("num_layers", 10**9, KEY_LIMITS["num_layers"]),
                                               ("dim", 10**6, MAX_WIDTH)])
def test_huge_setting_is_refused_before_anything_is_built(model_copy, capsys, key, value, limit):
    edit_config(model_copy, lambda c: c["masked"].update({key: value}))
    line = run_info(model_copy, capsys)
    assert f"config.masked.{key} = {value} exceeds the limit {limit}" in line


def run_info_with_peak(model_dir, capsys) -> tuple[str, int]:
    """run_info's line and the peak bytes Python allocated meanwhile."""
    tracemalloc.start()
    try:
        line = run_info(model_dir, capsys)
        return line, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_parameter_estimate_is_checked_before_allocation(model_copy, capsys):
    # every value within its own bound, together about 48 G parameters: counted on the meta device
    edit_config(model_copy, lambda c: c["masked"].update({"dim": 8192, "num_layers": 60, "num_heads": 8}))
    line, peak = run_info_with_peak(model_copy, capsys)
    assert "M parameters" in line and "A2M_MAX_PARAMETERS" in line
    assert peak < 200e6


def test_missing_section_is_named_in_full(model_copy, capsys):
    edit_config(model_copy, lambda c: c.pop("masked"))
    assert "key config.masked is missing" in run_info(model_copy, capsys)
    edit_config(model_copy, lambda c: c.update({"masked": {}}) or c["rvq_vae"].pop("quantizer"))
    assert "config.rvq_vae.quantizer is missing" in run_info(model_copy, capsys)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["masked"].update({"dim": "256"}), "config.masked.dim is '256'; expected a whole number"),
    (lambda c: c["rvq_vae"]["quantizer"].update({"num_codes": 5.5}), "quantizer.num_codes is 5.5; expected a whole"),
    (lambda c: c["condition"].update({"dropout": None}), "config.condition.dropout is None; expected a number"),
    (lambda c: c.update({"max_audio_s": "30"}), "config.max_audio_s is '30'; expected a number"),
])
def test_wrongly_typed_values_are_named(model_copy, capsys, edit, message):
    edit_config(model_copy, edit)
    assert message in run_info(model_copy, capsys)


def test_non_finite_number_is_refused(model_copy, capsys):
    edit_config(model_copy, lambda c: c.update({"max_audio_s": float("inf")}))
    assert "config.max_audio_s is inf" in run_info(model_copy, capsys)


@pytest.mark.parametrize("preset", ["paper", "edge", "text", "tiny"])
def test_every_preset_is_within_the_bounds(preset):
    config = preset_config(preset, "humanml3d")
    check_config_bounds(config.to_dict(), preset)
    assert estimate_parameters(config) > 0


def test_meta_shapes_are_what_the_model_holds():
    model = preset_model("tiny")
    state = model.state_dict()
    assert meta_shapes(model.config) == {k: tuple(v.shape) for k, v in state.items()}
    assert estimate_parameters(model.config) == sum(v.numel() for v in state.values())


def test_config_inflated_within_the_limits_is_refused_from_the_weights_header(model_copy, capsys):
    # 8192 wide, 2 layers: 1.6 G parameters, under the limit; the weights file's header disagrees,
    # so nothing is built or read
    edit_config(model_copy, lambda c: c["masked"].update({"dim": 8192, "num_layers": 2, "num_heads": 8}))
    line, peak = run_info_with_peak(model_copy, capsys)
    assert "does not match its config.json (wrong shape: masked." in line
    assert peak < 200e6


def test_export_json_with_a_huge_model_config_is_refused(tmp_path):
    from a2m_core.runtime.export import EXPORT_FORMAT, EXPORT_FORMAT_VERSION, META_FILE, ExportError, read_export

    document = {"format": EXPORT_FORMAT, "format_version": EXPORT_FORMAT_VERSION,
                "model_config": {**preset_config("tiny", "humanml3d").to_dict()}}
    document["model_config"]["residual"]["num_layers"] = 10**9
    (tmp_path / META_FILE).write_text(json.dumps(document))
    with pytest.raises(ExportError, match=r"model_config\.residual\.num_layers = 1000000000 exceeds"):
        read_export(tmp_path)
    with pytest.raises(InputError):
        check_config_bounds([], "x")


def test_parameter_limit_comes_from_the_environment(model_copy, capsys, monkeypatch):
    monkeypatch.setenv("A2M_MAX_PARAMETERS", "1e4")
    assert "over the limit of 0 M" in run_info(model_copy, capsys)
    monkeypatch.setenv("A2M_MAX_PARAMETERS", "lots")
    assert "A2M_MAX_PARAMETERS='lots'" in run_info(model_copy, capsys)
    monkeypatch.setenv("A2M_MAX_PARAMETERS", "4e9")
    assert main(["model", "info", str(model_copy)]) == 0
