"""The model shipped in models/default: small enough for the repository, loads, and `a2m generate` uses it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from a2m_cli.main import main
from a2m_core.audio.speech import espeak
from a2m_core.model import load_model

DEFAULT = Path(__file__).resolve().parents[2] / "models" / "default"


def test_shipped_model_is_within_40_mb_and_loads():
    files = [p for p in DEFAULT.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 40_000_000
    model = load_model(DEFAULT)
    assert model.normalization is not None and model.config.frontend.kind == "speech_embedding"
    report = json.loads((DEFAULT / "eval_test.json").read_text())
    assert report["num_utterances"] >= 32 and "r_top1" in report["metrics"]


@pytest.mark.slow
def test_generate_without_model_uses_the_shipped_one(tmp_path):
    speech = tmp_path / "raise.wav"
    soundfile.write(speech, *espeak("raise your right hand", "en-us"))
    out = tmp_path / "motion.npy"
    assert main(["generate", "--audio", str(speech), "--out", str(out), "--joints", str(tmp_path / "j.npy")]) == 0
    features = np.load(out)
    assert features.ndim == 2 and features.shape[1] == 263 and np.isfinite(features).all()
    joints = np.load(tmp_path / "j.npy")
    assert joints.shape == (len(features), 22, 3)


@pytest.mark.slow
def test_shipped_model_follows_spoken_instructions():
    """The instruction benchmark (training/instruction_eval.py) on the shipped model, voices of the test split
    (never heard in training): far above the measured chance rate, clean and at 10 dB SNR, and the
    side of a raised hand is right more often than not. Recorded with these 2 voices: clean 0.77 (chance
    0.00), 10 dB 0.69 (chance 0.03), raised hands 1.00; the margins below leave room for another CPU's
    rounding."""
    from training.instruction_eval import CASES, eval_voices, evaluate_instructions, speak_cases

    model = load_model(DEFAULT)
    speech = speak_cases(CASES, eval_voices("test", 2, seed=0))
    clean = evaluate_instructions(model, speech, seed=0)
    assert clean.accuracy >= 0.3 and clean.accuracy > clean.chance + 0.2
    hands = [clean.per_case[c.instruction] for c in CASES if c.kind.startswith("raise")]
    assert np.mean(hands) > 0.5
    noisy = evaluate_instructions(model, speech, noise_snr_db=10.0, seed=0)
    assert noisy.accuracy > noisy.chance + 0.1


@pytest.mark.slow
def test_shipped_model_motion_does_not_jump_at_its_ends():
    """A clip's first and last frame-to-frame steps are no faster than its middle ones (the corpus's clips
    start and end standing still). Medians over these 10 clips: 0.51 / 0.86 times the clip's median step
    (the model shipped before, a tenth of its decoders' clips ending seated: 0.44 / 0.62; the one before
    it, trained on a corpus where few clips end seated: 0.58 / 1.33 with the median length; the distilled
    model: 0.52 / 0.92, and decoded without held ends, rvq_vae.HELD_TOKENS = 0: 1.97 / 2.40)."""
    from training.instruction_eval import CASES, eval_voices, generate_joints, speak_cases

    model = load_model(DEFAULT)
    speech = [a for spoken in speak_cases(CASES[::3], eval_voices("test", 2, seed=0)) for a in spoken]
    ends = []
    for joints in generate_joints(model, speech):
        speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1).mean(-1)  # (t-1) mean joint speed per frame
        ends.append((speed[0], speed[-1]) / np.median(speed[2:-2]))
    first, last = np.median(ends, axis=0)
    assert first < 1.5 and last < 1.5, f"end steps {first:.2f} / {last:.2f} times the median step"
