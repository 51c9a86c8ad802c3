"""`a2m train evaluator`: the contrastive evaluator on a corpus's train split, through training.loop."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from a2m_core.errors import InputError
from a2m_core.files import write_text
from training.evaluator.model import Evaluator, EvaluatorConfig, info_nce, words
from training.loop import LoopConfig, TrainResult

MODEL_DIR = "model"


class EvaluatorStage(nn.Module):
    """batch: motion (b t f), length (b), caption (b), clip (b) [, audio (b s), audio_len (b)] -> InfoNCE losses.

    order_pairs: clip -> the fixed-wording caption of its actions in order and reversed, or None
    (training.data.corpus.clip_order_pairs); needed when the config's order_weight > 0.
    """

    def __init__(self, evaluator: Evaluator, order_pairs: Callable[[str], tuple[str, str] | None] | None = None):
        super().__init__()
        if evaluator.config.order_weight > 0 and order_pairs is None:
            raise ValueError("order_weight > 0 needs order_pairs")
        self.evaluator = evaluator
        self.order_pairs = order_pairs

    def forward(self, batch: dict) -> dict[str, Tensor]:
        ev = self.evaluator
        motion = ev.embed_motion(batch["motion"], batch["length"])
        text = ev.embed_text(batch["caption"])
        losses = {"text": info_nce(motion, text, ev.config.temperature)}
        if ev.config.audio_weight > 0:
            audio = ev.embed_audio(batch["audio"], batch["audio_len"])
            losses["audio"] = info_nce(motion, audio, ev.config.temperature)
        if ev.config.order_weight > 0:
            losses.update(self._order(motion, batch["clip"]))
        losses["loss"] = (losses["text"] + ev.config.audio_weight * losses.get("audio", 0.0)
                          + ev.config.order_weight * losses.get("order", 0.0))
        with torch.no_grad():
            losses["text_top1"] = ((motion @ text.t()).argmax(1) == torch.arange(len(text), device=text.device)).float().mean()
        return losses

    def _order(self, motion: Tensor, clips: list[str]) -> dict[str, Tensor]:
        """Two-way cross entropy of each multi-action motion against its actions' caption in order and reversed."""
        pairs = [self.order_pairs(clip) for clip in clips]
        rows = [i for i, pair in enumerate(pairs) if pair]
        if not rows:
            zero = motion.new_zeros(())
            return {"order": zero, "order_acc": zero}
        texts = self.evaluator.embed_text([pairs[i][0] for i in rows] + [pairs[i][1] for i in rows])
        texts = texts.view(2, len(rows), -1)  # (2 n d): in order, reversed
        logits = torch.einsum("nd,knd->nk", motion[rows], texts) / self.evaluator.config.temperature  # (n 2)
        with torch.no_grad():
            accuracy = (logits[:, 0] > logits[:, 1]).float().mean()
        return {"order": F.cross_entropy(logits, logits.new_zeros(len(rows), dtype=torch.long)), "order_acc": accuracy}


def run_evaluator(data: str | Path, out: str | Path, loop: LoopConfig, *, config: EvaluatorConfig | None = None,
                  options: dict | None = None, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train the evaluator on DATA's train split into OUT; OUT/model once finished.

    options: EvaluatorConfig fields (the run config's `evaluator:` mapping) where config is None.
    """
    from training.data.corpus import clip_order_pairs
    from training.data.datasets import collate
    from training.loop import train
    from training.stage_data import Utterances

    data, out = Path(data), Path(out)
    if not data.is_dir():
        raise InputError(f"--data {data} is not a folder: build one with `a2m data corpus`")
    torch.manual_seed(loop.seed)
    dataset = Utterances(data, "train")
    if config is None:
        vocabulary = sorted({w for entry in dataset.dataset.entries for w in words(entry.caption)})
        try:
            config = EvaluatorConfig(**{"vocabulary": tuple(vocabulary), "dim_motion": dataset.dataset.normalizer.dim,
                                        **(options or {})})
        except (TypeError, ValueError) as exc:
            raise InputError(f"bad evaluator options {options}: {exc}") from exc
    stage = EvaluatorStage(Evaluator(config), clip_order_pairs(data) if config.order_weight > 0 else None)
    info = {"stage": "evaluator", "data": str(data.resolve()),
            "evaluator": {k: v for k, v in asdict(config).items() if k != "vocabulary"}}
    result = train(stage, dataset, collate, loop, out, resume=resume, info=info, progress=progress)
    if result.steps >= loop.max_steps:
        stage.evaluator.save(out / MODEL_DIR)
        write_text(out / "train_summary.json", json.dumps(
            {**info, "loop": asdict(loop), "steps": result.steps, "last_losses": result.last_losses,
             "num_items": len(dataset)}, indent=2) + "\n")
    return result
