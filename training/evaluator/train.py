"""`a2m train evaluator`: the contrastive evaluator on a corpus's train split, through training.loop."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor, nn

from a2m_core.errors import InputError
from a2m_core.files import write_text
from training.evaluator.model import Evaluator, EvaluatorConfig, info_nce, words
from training.loop import LoopConfig, TrainResult

MODEL_DIR = "model"


class EvaluatorStage(nn.Module):
    """batch: motion (b t f), length (b), caption (b) [, audio (b s), audio_len (b)] -> InfoNCE losses."""

    def __init__(self, evaluator: Evaluator):
        super().__init__()
        self.evaluator = evaluator

    def forward(self, batch: dict) -> dict[str, Tensor]:
        ev = self.evaluator
        motion = ev.embed_motion(batch["motion"], batch["length"])
        text = ev.embed_text(batch["caption"])
        losses = {"text": info_nce(motion, text, ev.config.temperature)}
        if ev.config.audio_weight > 0:
            audio = ev.embed_audio(batch["audio"], batch["audio_len"])
            losses["audio"] = info_nce(motion, audio, ev.config.temperature)
        losses["loss"] = losses["text"] + ev.config.audio_weight * losses.get("audio", 0.0)
        with torch.no_grad():
            losses["text_top1"] = ((motion @ text.t()).argmax(1) == torch.arange(len(text), device=text.device)).float().mean()
        return losses


def run_evaluator(data: str | Path, out: str | Path, loop: LoopConfig, *, config: EvaluatorConfig | None = None,
                  resume: bool = False, progress: bool = True) -> TrainResult:
    """Train the evaluator on DATA's train split into OUT; OUT/model once finished."""
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
        config = EvaluatorConfig(vocabulary=tuple(vocabulary), dim_motion=dataset.dataset.normalizer.dim)
    stage = EvaluatorStage(Evaluator(config))
    info = {"stage": "evaluator", "data": str(data.resolve()),
            "evaluator": {k: v for k, v in asdict(config).items() if k != "vocabulary"}}
    result = train(stage, dataset, collate, loop, out, resume=resume, info=info, progress=progress)
    if result.steps >= loop.max_steps:
        stage.evaluator.save(out / MODEL_DIR)
        write_text(out / "train_summary.json", json.dumps(
            {**info, "loop": asdict(loop), "steps": result.steps, "last_losses": result.last_losses,
             "num_items": len(dataset)}, indent=2) + "\n")
    return result
