"""RVQ-VAE and its residual quantiser: round trips, EMA learning, dead codes, dropout, and that
reconstruction improves as residual layers are added after a short overfit."""

from __future__ import annotations

import pytest
import torch

from a2m_core.model.quantizer import EMACodebook, QuantizerConfig, ResidualVQ
from a2m_core.model.rvq_vae import RVQVAE, RVQVAEConfig


@pytest.mark.parametrize("num_quantizers", [1, 4])
def test_rvq_ids_decode_to_the_quantised_vectors(num_quantizers):
    torch.manual_seed(0)
    rvq = ResidualVQ(QuantizerConfig(num_quantizers=num_quantizers, num_codes=16, code_dim=8)).eval()
    x = torch.randn(2, 10, 8)
    quantised, ids, _ = rvq(x)
    assert ids.shape == (2, 10, num_quantizers) and (ids >= 0).all()
    torch.testing.assert_close(rvq.decode_ids(ids), quantised)


def test_more_layers_quantise_closer():
    torch.manual_seed(0)
    rvq = ResidualVQ(QuantizerConfig(num_quantizers=4, num_codes=32, code_dim=8))
    x = torch.randn(4, 16, 8)
    rvq.train()
    rvq(x)  # first training call initialises the codebooks from the data
    rvq.eval()
    errors = [float((rvq(x, num_layers=k)[0] - x).pow(2).mean()) for k in range(1, 5)]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors


def test_unused_layers_get_minus_one_and_decode_skips_them():
    rvq = ResidualVQ(QuantizerConfig(num_quantizers=3, num_codes=8, code_dim=4)).eval()
    x = torch.randn(1, 5, 4)
    quantised, ids, _ = rvq(x, num_layers=2)
    assert (ids[..., 2] == -1).all()
    torch.testing.assert_close(rvq.decode_ids(ids), quantised)


def test_quantizer_dropout_trains_with_fewer_layers():
    torch.manual_seed(0)
    rvq = ResidualVQ(QuantizerConfig(num_quantizers=4, num_codes=8, code_dim=4, quantizer_dropout=1.0)).train()
    used = {int((rvq(torch.randn(2, 6, 4))[1][0, 0] >= 0).sum()) for _ in range(30)}
    assert used - {4} and used <= {1, 2, 3, 4}


def test_ema_moves_codes_towards_their_assigned_vectors():
    codebook = EMACodebook(num_codes=2, code_dim=2, decay=0.5, dead_code_threshold=0.0)
    codebook.codes.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    codebook.code_sum.copy_(codebook.codes)
    codebook.usage.fill_(1.0)
    x = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    codebook.update(x, codebook.nearest(x))
    assert 0.0 < float(codebook.codes[0, 0]) <= 1.0  # pulled from 0 towards 1
    torch.testing.assert_close(codebook.codes[1], torch.tensor([10.0, 10.0]), rtol=1e-3, atol=1e-3)


def test_dead_codes_are_reset_to_batch_vectors():
    codebook = EMACodebook(num_codes=4, code_dim=2, decay=0.5, dead_code_threshold=0.6)
    codebook.codes.copy_(torch.tensor([[0.0, 0.0], [100.0, 100.0], [200.0, 200.0], [300.0, 300.0]]))
    codebook.code_sum.copy_(codebook.codes)
    codebook.usage.fill_(1.0)
    x = torch.randn(8, 2) * 0.1
    codebook.update(x, codebook.nearest(x))  # only code 0 is used; the others decay to 0.5 < 0.6
    far = codebook.codes[1:].abs().max()
    assert float(far) < 1.0  # reset to vectors drawn from x


def test_quantiser_trains_in_float32_under_bfloat16_autocast():
    """Mixed-precision training (the loop's bf16 autocast on CUDA; CPU autocast shows the same
    dtypes): codes, EMA statistics and dead-code resets stay float32."""
    vae = RVQVAE(RVQVAEConfig(width=32, quantizer=QuantizerConfig(num_quantizers=2, num_codes=16, code_dim=8,
                                                                  dead_code_threshold=2.0))).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for _ in range(3):  # the first step initialises, later ones update and reset dead codes
            losses = vae.loss(torch.randn(4, 24, 263))
    assert torch.isfinite(losses["total"])
    for codebook in vae.quantizer.layers:
        assert codebook.codes.dtype == codebook.code_sum.dtype == torch.float32


def test_rvq_vae_shapes_and_length_check():
    vae = RVQVAE(RVQVAEConfig(width=32, quantizer=QuantizerConfig(num_quantizers=2, num_codes=16, code_dim=8))).eval()
    recon, ids, _ = vae(torch.randn(2, 24, 263))
    assert recon.shape == (2, 24, 263) and ids.shape == (2, 6, 2)
    assert vae.decode(ids).shape == (2, 24, 263)
    with pytest.raises(ValueError, match="multiple of 4"):
        vae(torch.randn(1, 22, 263))
    with pytest.raises(ValueError, match="263"):
        vae(torch.randn(1, 24, 251))


@pytest.mark.slow
def test_overfit_reconstruction_improves_with_each_layer():
    """A tiny RVQ-VAE overfit on a few random-walk clips: error falls as residual layers are added."""
    torch.manual_seed(0)
    config = RVQVAEConfig(dim_motion=263, width=32, res_depth=1,
                          quantizer=QuantizerConfig(num_quantizers=4, num_codes=8, code_dim=16, quantizer_dropout=0.2))
    vae = RVQVAE(config)
    motion = torch.randn(8, 16, 263).cumsum(1) * 0.1  # smooth, motion-like; 32 latents for 8 codes
    optimiser = torch.optim.AdamW(vae.parameters(), lr=3e-3)
    vae.train()
    recon = []
    for _ in range(120):
        losses = vae.loss(motion)
        optimiser.zero_grad()
        losses["total"].backward()
        optimiser.step()
        recon.append(float(losses["recon"].detach()))
    vae.eval()
    with torch.no_grad():
        errors = [float((vae(motion, num_layers=k)[0] - motion).pow(2).mean()) for k in range(1, 5)]
    assert recon[-1] < 0.7 * recon[0]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
