"""Generation: schedule, guidance formula, top-k, determinism given noise, lengths, batching, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from a2m_core.decoding import (
    generate,
    generate_from_condition,
    guide,
    guided_logits,
    make_noise,
    mask_schedule,
    noise_shape,
    pad_audio,
    top_k_filter,
)
from a2m_core.errors import InputError
from a2m_core.model import AudioToMotion, preset_model


@pytest.fixture(scope="module")
def tiny() -> AudioToMotion:
    torch.manual_seed(0)
    return preset_model("tiny")


def _audio(b: int = 2, seconds: float = 1.5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    s = int(seconds * 16000)
    audio = torch.randn(b, s, generator=g) * 0.1
    lens = torch.tensor([s] + [s // 2] * (b - 1))
    audio[1:, s // 2 :] = 0
    return audio, lens


def test_cosine_schedule():
    schedule = mask_schedule(10)
    expected = [math.cos(math.pi / 2 * (t + 1) / 10) for t in range(10)]
    torch.testing.assert_close(schedule[:-1], torch.tensor(expected[:-1]))
    assert schedule[-1] == 0 and (schedule[1:] < schedule[:-1]).all()


def test_guidance_at_scale_one_runs_only_the_conditional_branch(tiny):
    """Scale 1 needs no unconditional logits: the transformer sees b rows, not 2b, and returns
    the guided formula's result."""
    audio, lens = _audio(3)
    cond, cond_valid = tiny.encode_audio(audio, lens)
    ids = torch.randint(0, tiny.config.masked.num_codes, (3, 5))
    valid = torch.ones(3, 5, dtype=torch.bool)
    rows = []
    hook = tiny.masked.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[0]))
    try:
        with torch.no_grad():
            plain = guided_logits(tiny.masked, (ids,), valid, cond, cond_valid, 1.0)
            guided = guided_logits(tiny.masked, (ids,), valid, cond, cond_valid, 4.0)
            cond_logits = tiny.masked(ids, valid, cond, cond_valid, torch.zeros(3, dtype=torch.bool))
            uncond_logits = tiny.masked(ids, valid, cond, cond_valid, torch.ones(3, dtype=torch.bool))
    finally:
        hook.remove()
    assert rows[:2] == [3, 6]
    torch.testing.assert_close(plain, cond_logits)
    torch.testing.assert_close(guided, guide(cond_logits, uncond_logits, 4.0), atol=1e-4, rtol=1e-4)


def test_guidance_formula():
    cond, uncond = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 1.0])
    torch.testing.assert_close(guide(cond, uncond, 4.0), torch.tensor([5.0, -7.0]))
    torch.testing.assert_close(guide(cond, uncond, 1.0), cond)
    torch.testing.assert_close(guide(cond, uncond, 0.0), uncond)


def test_top_k_keeps_the_k_largest():
    logits = torch.tensor([[0.1, 3.0, 2.0, -1.0]])
    assert torch.isinf(top_k_filter(logits, 2)).tolist() == [[True, False, False, True]]
    assert torch.equal(top_k_filter(logits, None), logits)


def test_same_noise_same_motion_other_noise_other_motion(tiny):
    audio, lens = _audio()
    lengths = torch.tensor([40, 24])
    a = generate(tiny, audio, lens, lengths, make_noise(tiny, 2, seed=3))
    b = generate(tiny, audio, lens, lengths, make_noise(tiny, 2, seed=3))
    c = generate(tiny, audio, lens, lengths, make_noise(tiny, 2, seed=4))
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.features, b.features)
    assert not torch.equal(a.tokens, c.tokens)


def test_shapes_lengths_and_zero_padding(tiny):
    audio, lens = _audio()
    out = generate(tiny, audio, lens, torch.tensor([41, 9]), make_noise(tiny, 2, seed=0))
    q = tiny.config.residual.num_quantizers
    assert out.tokens.shape == (2, 10, q) and out.lengths.tolist() == [40, 8]
    assert out.features.shape == (2, 40, 263)
    assert (out.features[1, 8:] == 0).all() and (out.features[1, :8] != 0).any()
    assert (out.tokens[1, 2:] == 0).all()
    num_codes = tiny.config.masked.num_codes
    assert ((out.tokens >= 0) & (out.tokens < num_codes)).all()  # no mask ids left


def test_a_sample_does_not_depend_on_its_batch_mates(tiny):
    audio, lens = _audio(3)
    noise = make_noise(tiny, 3, seed=5)
    lengths = torch.tensor([48, 20, 32])
    together = generate(tiny, audio, lens, lengths, noise)
    alone = generate(tiny, audio[1:2, : int(lens[1])], lens[1:2], lengths[1:2], noise[1:2])
    assert torch.equal(together.tokens[1, :5], alone.tokens[0])
    torch.testing.assert_close(together.features[1, :20], alone.features[0], rtol=1e-4, atol=1e-5)


def test_predicted_lengths_are_in_range(tiny):
    audio, lens = _audio()
    out = generate(tiny, audio, lens, noise=make_noise(tiny, 2, seed=0))
    assert ((out.lengths >= 4) & (out.lengths <= tiny.config.max_frames)).all()
    assert (out.lengths % 4 == 0).all()


def test_a_higher_length_quantile_never_gives_a_shorter_motion(tiny):
    audio, lens = _audio(4)
    noise = make_noise(tiny, 4, seed=0)
    lengths = [generate(tiny, audio, lens, noise=noise, length_quantile=q).lengths for q in (0.1, 0.5, 0.9)]
    assert (lengths[0] <= lengths[1]).all() and (lengths[1] <= lengths[2]).all()
    assert (lengths[0] < lengths[2]).all()  # a random model spreads its mass over many lengths


def test_zero_noise_is_greedy_and_each_step_uses_its_own_noise_slice(tiny):
    audio, lens = _audio(1)
    lengths = torch.tensor([32])
    zero = torch.zeros(noise_shape(tiny, 1))
    a = generate(tiny, audio[:, : int(lens[0])], lens, lengths, zero)
    b = generate(tiny, audio[:, : int(lens[0])], lens, lengths, zero.clone())
    assert torch.equal(a.tokens, b.tokens)
    last_layer = zero.clone()
    last_layer[:, -1] = make_noise(tiny, 1, seed=0)[:, -1] * 50  # only the last residual layer's slice
    c = generate(tiny, audio[:, : int(lens[0])], lens, lengths, last_layer)
    assert torch.equal(c.tokens[..., :-1], a.tokens[..., :-1])
    assert not torch.equal(c.tokens[..., -1], a.tokens[..., -1])


def test_fixed_positions_give_the_same_motion(tiny):
    """Export pads to max_tokens; the valid part must equal eager generation at the batch's length."""
    audio, lens = _audio(1)
    cond, cond_valid = tiny.encode_audio(audio, lens[:1])
    noise = make_noise(tiny, 1, seed=2)
    eager = generate_from_condition(tiny, cond, cond_valid, torch.tensor([36]), noise)
    fixed = generate_from_condition(tiny, cond, cond_valid, torch.tensor([36]), noise,
                                    num_positions=tiny.config.masked.max_tokens)
    assert torch.equal(fixed.tokens[:, :9], eager.tokens)
    torch.testing.assert_close(fixed.features[:, :36], eager.features, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "audio,lens,match",
    [
        (torch.zeros(0, 100), torch.zeros(0, dtype=torch.long), "empty"),
        (torch.full((1, 800), float("nan")), torch.tensor([800]), "NaN"),
        (torch.zeros(1, 2, 800), torch.tensor([800]), "batch, samples"),
        (torch.zeros(1, 800), torch.tensor([900]), "between"),
        (torch.zeros(1, 800), torch.tensor([800.0]), "integers"),
        (torch.zeros(1, 16000 * 31), torch.tensor([16000 * 31]), "longer"),
    ],
)
def test_bad_audio_is_an_input_error(tiny, audio, lens, match):
    with pytest.raises(InputError, match=match):
        generate(tiny, audio, lens)


def test_bad_lengths_and_noise_are_input_errors(tiny):
    audio, lens = _audio(1)
    with pytest.raises(InputError, match="between 1 and"):
        generate(tiny, audio, lens, torch.tensor([500]))
    with pytest.raises(InputError, match="noise must have shape"):
        generate(tiny, audio, lens, torch.tensor([40]), torch.zeros(1, 2, 3, 4))
    with pytest.raises(InputError, match="temperature"):
        generate(tiny, audio, lens, torch.tensor([40]), temperature=0.0)
    with pytest.raises(InputError, match="length_quantile must be in"):
        generate(tiny, audio, lens, length_quantile=1.0)


def test_pad_audio_zero_pads_utterances_of_any_length_and_dtype():
    audio, lens = pad_audio([np.ones(3, dtype=np.float64), np.full(5, 0.5, dtype=np.float32)])
    assert audio.dtype == torch.float32 and audio.shape == (2, 5) and lens.tolist() == [3, 5]
    assert audio[0].tolist() == [1, 1, 1, 0, 0] and audio[1].tolist() == [0.5] * 5
