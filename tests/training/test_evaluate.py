"""`a2m eval` end to end on a tiny model, a tiny evaluator and the tiny corpus."""

from __future__ import annotations

import json

import pytest

from a2m_core.errors import InputError
from a2m_core.model import AudioToMotion
from training.evaluate import EvalConfig, evaluate, write_report
from training.evaluator.model import Evaluator, EvaluatorConfig


@pytest.mark.slow
def test_eval_writes_table_and_json_with_intervals(tiny_corpus, tmp_path):
    model = AudioToMotion.from_preset("tiny")
    import numpy as np

    model.normalization = (np.load(tiny_corpus / "Mean.npy"), np.load(tiny_corpus / "Std.npy"))
    model.save(tmp_path / "model")
    Evaluator(EvaluatorConfig(vocabulary=("a", "person"))).save(tmp_path / "ev")
    config = EvalConfig(split="train", repeats=3, batch_size=4, mm_conditions=2, mm_generations=10,
                        noise_snr_db=10.0, resample_from_hz=12000)
    result = evaluate(tmp_path / "model", tiny_corpus, tmp_path / "ev", config, progress=False)
    metrics = result["metrics"]
    for key in ("r_top1", "r_top3", "fid", "mm_dist", "diversity", "multimodality", "real_r_top1"):
        assert metrics[key]["repeats"] == 3 and metrics[key]["ci95"] >= 0
    assert 0 <= metrics["r_top1"]["mean"] <= metrics["r_top3"]["mean"] <= 1
    report, data = write_report(result, tmp_path / "report.md", "a2m eval ...")
    assert "| FID ↓ |" in report.read_text() and "10 dB SNR" in report.read_text()
    assert json.loads(data.read_text())["metrics"]["fid"]["mean"] == pytest.approx(metrics["fid"]["mean"])


def test_eval_config_rejects_too_few_generations():
    with pytest.raises(InputError, match="mm_generations"):
        EvalConfig(mm_generations=5)
