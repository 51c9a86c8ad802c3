"""A tiny end-to-end overfit: two spoken instructions (espeak-ng) paired with two pieces of the
real HumanML3D clip. After training every part on CPU, generation from the audio alone (predicted
length, greedy noise) reproduces each clip's tokens, hence its motion.

Guidance is off (scale 1) here: the unconditional branch of an overfit model is as sharp as the
conditional one, and scale 4 in logit space then amplifies near-zero probabilities (a known
property of logit-space guidance, harmless with a broad unconditional model trained on a dataset).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from a2m_core.audio.io import resample
from a2m_core.audio.speech import espeak
from a2m_core.decoding import generate, noise_shape
from a2m_core.model import AudioToMotion
from a2m_core.model.layers import lengths_to_mask
from a2m_core.model.presets import preset_config

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "humanml3d"


def _speech(tmp_path: Path, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    clips = []
    for i, text in enumerate(texts):
        clips.append(torch.from_numpy(resample(*espeak(text))))
    lens = torch.tensor([len(c) for c in clips])
    audio = torch.zeros(len(clips), int(lens.max()))
    for i, clip in enumerate(clips):
        audio[i, : len(clip)] = clip
    return audio, lens


@pytest.mark.slow
def test_tiny_model_overfits_and_generation_reproduces(tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng absent: apt-get install espeak-ng")
    if not (SHARED / "new_joint_vecs_012314.npy").is_file():
        pytest.skip(f"HumanML3D reference clip absent: {SHARED}")
    torch.manual_seed(0)
    features = np.load(SHARED / "new_joint_vecs_012314.npy")
    normalised = ((features - np.load(SHARED / "Mean.npy")) / np.load(SHARED / "Std.npy")).astype(np.float32)
    frames = torch.tensor([32, 24])
    motion = torch.zeros(2, 32, 263)
    motion[0] = torch.from_numpy(normalised[0:32])
    motion[1, :24] = torch.from_numpy(normalised[100:124])
    num_tokens = frames // 4
    audio, audio_lens = _speech(tmp_path, ["walk forward", "wave your right hand"])

    tiny = preset_config("tiny")
    no_dropout = dict(dropout=0.0)
    config = replace(tiny, masked=replace(tiny.masked, **no_dropout), residual=replace(tiny.residual, **no_dropout),
                     condition=replace(tiny.condition, **no_dropout), length=replace(tiny.length, **no_dropout))
    model = AudioToMotion(config).train()

    optimiser = torch.optim.AdamW(model.rvq_vae.parameters(), lr=5e-3)  # stage 1: the tokenizer
    for _ in range(150):
        losses = model.rvq_vae.loss(motion)
        optimiser.zero_grad()
        losses["total"].backward()
        optimiser.step()
    model.rvq_vae.eval()
    codes = model.rvq_vae.encode(motion)  # (2 8 q)

    with torch.no_grad():  # the front-end stays as initialised, like the paper's frozen WavLM
        feats, feat_lens = model.frontend(audio, audio_lens)
    parts = [model.condition, model.masked, model.residual, model.length_predictor]
    optimiser = torch.optim.AdamW([p for part in parts for p in part.parameters()], lr=3e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=800)
    for _ in range(800):  # stage 2: condition, transformers, length predictor
        cond, cond_valid = model.condition(feats, feat_lens)
        loss = (model.masked.loss(codes[..., 0], num_tokens, cond, cond_valid)[0]
                + model.residual.loss(codes, num_tokens, cond, cond_valid)[0]
                + model.length_predictor.loss(cond, cond_valid, num_tokens))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()

    model.eval()
    out = generate(model, audio, audio_lens, noise=torch.zeros(noise_shape(model, 2)), cfg_scale=1.0, res_cfg_scale=1.0)
    assert out.lengths.tolist() == frames.tolist()
    valid = lengths_to_mask(num_tokens, 8)
    assert torch.equal(out.tokens[valid], codes[valid])
    target = model.rvq_vae.decode(codes, num_tokens)
    torch.testing.assert_close(out.features, target, rtol=1e-4, atol=1e-4)
    error = (out.features - motion).abs()[lengths_to_mask(frames, 32)].mean()
    assert error < 0.3 * motion.abs()[lengths_to_mask(frames, 32)].mean()  # the tokenizer learned the clips too
