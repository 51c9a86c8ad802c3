"""One training loop for every stage (RVQ-VAE, transformers, length predictor, evaluator).

A stage is an `nn.Module` whose `forward(batch)` returns a dict of scalar losses with the one to
minimise under "loss"; its trainable parameters are those with requires_grad. The loop owns
everything else: AdamW at the paper's 2e-4 after a linear warm-up, gradient clipping, bf16
autocast on CUDA, seeds, TensorBoard scalars, a tqdm bar with the loss and ETA, atomic
checkpoints and resume, and DistributedDataParallel under `torchrun`.

Reproducibility: the data order is a pure function of (seed, step): epoch e visits the items in
`randperm(n, seed + e)` order, cut into global batches, and process r of w takes every w-th item
of each global batch. Each item's own randomness (crops) comes from a generator seeded by
(seed, epoch, index), and the torch RNG state is saved in every checkpoint, so a run killed with
SIGKILL and resumed from its last checkpoint gives the same weights as one never interrupted.

Checkpoint layout (RUN/checkpoints/step_0001000/): weights.safetensors (the stage's state dict),
optimizer.pt (optimizer state and RNG states: tensors only, loaded with weights_only=True),
state.json (step, configs). A checkpoint is written into a temporary sibling folder and renamed
into place, so a killed run never leaves half a checkpoint that resume would read.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from a2m_core.errors import InputError
from a2m_core.files import atomic_dir

CHECKPOINTS = "checkpoints"
WEIGHTS, OPTIMIZER, STATE = "weights.safetensors", "optimizer.pt", "state.json"


@dataclass(frozen=True)
class LoopConfig:
    max_steps: int = 10_000
    batch_size: int = 64  # global: split evenly over the processes of a distributed run
    lr: float = 2e-4  # the paper's learning rate, reached after warm-up
    warmup_steps: int = 500
    schedule: str = "constant"  # after warm-up: constant (the paper's), or cosine down to lr / 10 at max_steps
    weight_decay: float = 0.01
    grad_clip: float = 1.0  # max global L2 norm of the gradients; 0 disables clipping
    checkpoint_every: int = 500
    keep_checkpoints: int = 2  # older checkpoints are deleted once a newer one is complete
    log_every: int = 10
    seed: int = 0
    amp: bool = True  # bf16 autocast where CUDA is used; ignored on CPU
    num_workers: int = 0  # DataLoader worker processes
    bucket_batches: int = 0  # > 1: batch items of similar cost (audio length) within runs of this many batches

    def __post_init__(self) -> None:
        positive = dict(max_steps=self.max_steps, batch_size=self.batch_size, lr=self.lr,
                        checkpoint_every=self.checkpoint_every, keep_checkpoints=self.keep_checkpoints,
                        log_every=self.log_every)
        bad = [f"{k}={v}" for k, v in positive.items() if not v > 0]
        if bad or min(self.warmup_steps, self.weight_decay, self.grad_clip, self.num_workers, self.bucket_batches) < 0:
            raise ValueError(f"LoopConfig: need positive {', '.join(positive)} and non-negative warmup_steps, "
                             f"weight_decay, grad_clip, num_workers; bad: {bad or 'a non-negative field'}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"LoopConfig.schedule must be 'constant' or 'cosine', got {self.schedule!r}")


@dataclass(frozen=True)
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Distributed:
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                   int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def lr_at(step: int, config: LoopConfig) -> float:
    """Linear warm-up from lr / warmup_steps to lr over warmup_steps, then constant (the paper's lr)
    or a cosine decay to lr / 10 at max_steps."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return config.lr
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps))
    return config.lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))


def epoch_order(num_items: int, epoch: int, config: LoopConfig, costs: np.ndarray | None = None) -> np.ndarray:
    """The items of one epoch's full batches in visiting order: a pure function of (seed, epoch).

    With costs (num_items) and bucket_batches > 1, each run of bucket_batches batches is sorted
    by cost before it is cut into batches, and those batches are visited in a random order:
    batches of similar audio length waste little compute on padding.
    """
    size = config.batch_size
    generator = torch.Generator().manual_seed(config.seed + epoch)
    order = torch.randperm(num_items, generator=generator).numpy()[:num_items // size * size]
    if costs is None or config.bucket_batches <= 1:
        return order
    chunk = size * config.bucket_batches
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(costs[part], kind="stable")]
        batches += [part[i:i + size] for i in range(0, len(part), size)]
    visit = torch.randperm(len(batches), generator=generator).numpy()
    return np.concatenate([batches[i] for i in visit])


def batch_indices(num_items: int, step: int, config: LoopConfig, dist: Distributed,
                  costs: np.ndarray | None = None) -> tuple[int, list[int]]:
    """The epoch and this process's item indices of global batch `step`: a pure function of (seed, step)."""
    per_epoch = num_items // config.batch_size
    if per_epoch == 0:
        raise InputError(f"the dataset has {num_items} items, fewer than one batch of {config.batch_size}: "
                         "lower batch_size or build more data")
    epoch, position = divmod(step, per_epoch)
    order = epoch_order(num_items, epoch, config, costs)
    global_batch = order[position * config.batch_size:(position + 1) * config.batch_size]
    return epoch, global_batch[dist.rank::dist.world_size].tolist()


class SeededItems(torch.utils.data.Dataset):
    """Wraps a dataset so item (epoch, index) draws its randomness from rng(seed, epoch, index).

    The wrapped dataset has `item(index, rng)` (rng: a numpy Generator), or is a plain dataset
    without randomness. It may also have `costs`, an array of per-item costs for bucketing.
    """

    def __init__(self, dataset, seed: int):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        if hasattr(self.dataset, "item"):
            return self.dataset.item(index, np.random.default_rng([self.seed, epoch, index]))
        return self.dataset[index]


def _batches(num_items: int, start: int, config: LoopConfig, dist: Distributed,
             costs: np.ndarray | None) -> Iterator[list[tuple[int, int]]]:
    for step in range(start, config.max_steps):
        epoch, indices = batch_indices(num_items, step, config, dist, costs)
        yield [(epoch, i) for i in indices]


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _rng_state() -> dict[str, Tensor]:
    state = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict[str, Tensor]) -> None:
    torch.set_rng_state(state["torch_cpu"])
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["torch_cuda"])


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (temporary folders of a killed save are ignored)."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith("step_") and (p / STATE).is_file())


def save_checkpoint(run_dir: Path, step: int, stage: nn.Module, optimizer: torch.optim.Optimizer,
                    info: dict[str, Any], keep: int) -> Path:
    """Write checkpoint `step` atomically (temp folder, then rename); prune to the newest `keep`."""
    folder = Path(run_dir) / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step_{step:07d}"  # replaced when a previous run reached this step and was resumed earlier
    weights = {k: v.detach().contiguous().cpu() for k, v in stage.state_dict().items()}
    with atomic_dir(final) as staging:
        save_file(weights, staging / WEIGHTS)
        torch.save({"optimizer": optimizer.state_dict(), "rng": _rng_state()}, staging / OPTIMIZER)
        (staging / STATE).write_text(json.dumps({"step": step, **info}, indent=2) + "\n")
    for old in checkpoint_dirs(run_dir)[:-keep]:
        shutil.rmtree(old)
    return final


def load_checkpoint(path: Path, stage: nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Restore stage weights, optimizer and RNG states from a checkpoint folder; returns its step."""
    try:
        state = json.loads((path / STATE).read_text())
        stage.load_state_dict(load_file(path / WEIGHTS))
        saved = torch.load(path / OPTIMIZER, weights_only=True, map_location="cpu")
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise InputError(f"checkpoint {path} cannot be read ({exc}); delete it to resume from the one before") from exc
    optimizer.load_state_dict(saved["optimizer"])
    _set_rng_state(saved["rng"])
    return int(state["step"])


@dataclass
class TrainResult:
    steps: int  # the step the run stopped at (== max_steps when it finished)
    last_losses: dict[str, float]
    wall_s: float  # this call's wall time: since the start, or since the resume


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def _init_distributed(dist: Distributed) -> torch.device:
    if torch.cuda.is_available():
        device = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if dist.world_size > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def train(stage: nn.Module, dataset, collate: Callable[[list], Any], config: LoopConfig, run_dir: str | Path,
          *, resume: bool = False, info: dict[str, Any] | None = None, progress: bool = True,
          stop_after: int | None = None) -> TrainResult:
    """Train `stage` on `dataset` until config.max_steps; returns where it stopped.

    resume: continue from the newest checkpoint in run_dir/checkpoints (a fresh start where none
    exists); without it, an existing checkpoint is an error, so a run is never overwritten by
    mistake. info: JSON-able facts saved in every checkpoint (stage config, data folder).
    stop_after: stop after this many steps of this call (tests and time-boxed runs); the state is
    checkpointed before returning.
    """
    run_dir = Path(run_dir)
    dist = Distributed.from_env()
    if config.batch_size % dist.world_size:
        raise InputError(f"batch_size {config.batch_size} must be a multiple of the {dist.world_size} processes")
    device = _init_distributed(dist)
    _seed_everything(config.seed)
    stage.to(device)
    params = [p for p in stage.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"stage {type(stage).__name__} has no trainable parameters")
    optimizer = torch.optim.AdamW(params, lr=config.lr, betas=(0.9, 0.99), weight_decay=config.weight_decay)
    info = {"loop": asdict(config), **(info or {})}

    existing = checkpoint_dirs(run_dir)
    if existing and not resume:
        raise InputError(f"{run_dir} already holds checkpoints (newest {existing[-1].name}): pass --resume to "
                         "continue that run, or choose another --out")
    start = load_checkpoint(existing[-1], stage, optimizer) if existing else 0
    stage.to(device)

    model = stage
    if dist.world_size > 1:
        model = nn.parallel.DistributedDataParallel(stage, device_ids=[device.index] if device.type == "cuda" else None,
                                                    find_unused_parameters=True)
    writer = None
    if dist.is_main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start)
    loader = torch.utils.data.DataLoader(SeededItems(dataset, config.seed),
                                         batch_sampler=_batches(len(dataset), start, config, dist,
                                                                getattr(dataset, "costs", None)),
                                         collate_fn=collate, num_workers=config.num_workers,
                                         generator=torch.Generator().manual_seed(config.seed))  # not the global RNG
    end = config.max_steps if stop_after is None else min(config.max_steps, start + stop_after)
    bar = None
    if progress and dist.is_main:
        from tqdm import tqdm

        bar = tqdm(total=config.max_steps, initial=start, desc=type(stage).__name__, unit="step", dynamic_ncols=True)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if config.amp and device.type == "cuda" else None
    started = time.time()
    step, last = start, {}
    stage.train()
    try:
        for batch in loader:
            if step >= end:
                break
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, config)
            batch = _to_device(batch, device)
            if autocast is not None:
                with autocast:
                    losses = model(batch)
            else:
                losses = model(batch)
            loss = losses["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {float(loss)} at step {step}: lower lr or check the data "
                                         f"(the last checkpoint is in {run_dir / CHECKPOINTS})")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                losses["grad_norm"] = nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            step += 1
            if step % config.log_every == 0 or step == end:
                last = {k: float(v.detach()) for k, v in losses.items()}
                if writer is not None:
                    for key, value in last.items():
                        writer.add_scalar(f"train/{key}", value, step)
                    writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], step)
                if bar is not None:
                    bar.set_postfix(loss=f"{last['loss']:.4f}")
            if bar is not None:
                bar.update(1)
            if step % config.checkpoint_every == 0 or step == end:
                if dist.is_main:
                    save_checkpoint(run_dir, step, stage, optimizer, info, config.keep_checkpoints)
                if dist.world_size > 1:
                    torch.distributed.barrier()
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
    stage.eval()
    return TrainResult(steps=step, last_losses=last, wall_s=time.time() - started)

