"""`a2m data ...` end to end, including a corpus build killed with SIGKILL and resumed."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from a2m_cli.main import main
from a2m_core.audio.io import save_wav
from a2m_core.audio.speech import synthesize
from training.data.augment import snr_db
from training.data.voices import voice_pool


def test_rewrite_prints_three_rewrites(capsys):
    assert main(["data", "rewrite", "a person kicks in the air, runs forward and trots back"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all("kick in the air, run forward and trot back" in line for line in lines)


def test_rewrite_llm_without_configuration_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.delenv("A2M_LLM_URL", raising=False)
    assert main(["data", "rewrite", "--llm", "a person waves"]) == 2
    assert "A2M_LLM_URL" in capsys.readouterr().err


def test_noise_writes_the_requested_snr(tmp_path, capsys):
    speech = synthesize("Wave with your right hand.", voice_pool()[0])
    clean = tmp_path / "clean.wav"
    save_wav(clean, speech)
    out = tmp_path / "noisy.wav"
    assert main(["data", "noise", str(clean), "--snr", "10", "--out", str(out)]) == 0
    noisy, rate = sf.read(str(out), dtype="float32")
    ref, _ = sf.read(str(clean), dtype="float32")
    assert rate == 16000 and len(noisy) == len(ref)
    scale = np.dot(noisy, ref) / np.dot(ref, ref)  # the CLI may scale both parts to avoid clipping
    assert abs(snr_db(ref * scale, noisy - ref * scale) - 10) < 0.2  # 16-bit rounding on top of exact SNR
    assert main(["data", "noise", str(tmp_path / "missing.wav"), "--snr", "10", "--out", str(out)]) == 2
    assert "not found" in capsys.readouterr().err


def _count_records(out):
    records = out / "records"
    return len(list(records.glob("*.json"))) if records.is_dir() else 0


@pytest.mark.slow
def test_corpus_killed_midway_resumes_without_corrupt_files(tmp_path):
    out = tmp_path / "corpus"
    cmd = [sys.executable, "-m", "a2m_cli", "data", "corpus", "--out", str(out), "--clips", "24",
           "--workers", "2", "--seed", "7"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while _count_records(out) < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the build finished before it could be killed; raise --clips"
    os.killpg(proc.pid, signal.SIGKILL)  # the build and its worker processes, mid-write
    proc.wait()
    done_before = _count_records(out)
    assert 4 <= done_before < 24

    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "24 clips" in result.stdout
    assert not list(out.rglob("*.tmp"))
    ids = (out / "all.txt").read_text().split()
    assert len(ids) == 24 and len(list((out / "new_joint_vecs").glob("*.npy"))) == 24
    for clip in ids:
        assert np.isfinite(np.load(out / "new_joint_vecs" / f"{clip}.npy")).all()
        assert np.load(out / "new_joints" / f"{clip}.npy").shape[1:] == (22, 3)
    wavs = sorted((out / "audio").rglob("*.wav"))
    assert len(wavs) == 72
    for wav in wavs:
        data, rate = sf.read(str(wav))
        assert rate == 16000 and len(data) > 8000
    manifest = (out / "audio" / "manifest.jsonl").read_text().splitlines()
    assert len(manifest) == 72 and all(json.loads(line)["clip"] in ids for line in manifest)
