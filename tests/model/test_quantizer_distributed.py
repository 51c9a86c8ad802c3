"""EMA codebooks under torch.distributed (gloo, 2 CPU processes): ranks see different data but keep
identical codebooks (without the all-reduce and rank-0 initialisation they would differ)."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from a2m_core.model.quantizer import QuantizerConfig, ResidualVQ

CONFIG = QuantizerConfig(num_quantizers=2, num_codes=8, code_dim=4, quantizer_dropout=0.0, dead_code_threshold=0.0)


def _data(rank: int, step: int) -> torch.Tensor:
    return torch.randn(2, 6, 4, generator=torch.Generator().manual_seed(100 * step + rank))


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(0)
    rvq = ResidualVQ(CONFIG).train()
    for step in range(5):
        rvq(_data(rank, step))
    torch.save({k: v.clone() for k, v in rvq.state_dict().items()}, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


@pytest.mark.slow
def test_ranks_keep_identical_codebooks(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_worker, args=(port, str(tmp_path)), nprocs=2, start_method="spawn", join=True)
    states = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for key in states[0]:
        torch.testing.assert_close(states[0][key], states[1][key], msg=key)
    assert not torch.equal(states[0]["layers.0.codes"], ResidualVQ(CONFIG).state_dict()["layers.0.codes"])
