"""Instruction slots: what a corpus clip's instruction asks for, as class targets per action.

The paper's audio front-end is WavLM, pretrained on 94 k hours of speech, so its features
already carry words; this project's default front-end is a log-mel convolution trained from
scratch on a few hours of synthetic speech, and the masked-token loss alone teaches it the
words of an instruction only very slowly (the first CPU-trained default model ignored its
condition entirely). The corpus knows what every utterance asks for (records/CLIP.json: 1-3
actions with kind, side, direction, count and speed), so the `condition` training stage
supervises the pooled condition with these slots directly: a linear probe per slot and field,
trained with the front-end and the condition encoder, then dropped (it is not part of the
shipped model). The token transformers then learn on a condition that already separates
"left" from "right" and "wave" from "kick".

The slots alone are a sparse signal (measured: kind accuracy still at chance after 400 steps of
32 utterances), so the stage also asks the per-frame states, before they are compressed into the
condition, which words the utterance contains (`WordProbe`: one logit per word and frame, the
maximum over frames against the bag of words, as in weakly supervised keyword spotting): every
word of the transcript is a target, and the frames that carry it get the gradient.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from a2m_core.errors import InputError
from training.data.sequences import MAX_ACTIONS
from training.data.spec import ACTION_KINDS, SIDES_LRB, SPEEDS

# Each field's classes; index 0 (None) is "no such action" or "the action takes no such parameter".
SLOT_FIELDS: dict[str, tuple] = {
    "kind": (None, *ACTION_KINDS),
    "side": (None, *SIDES_LRB),
    "direction": (None, "forward", "backward", "left", "right"),
    "count": (None, *sorted({c for k in ACTION_KINDS.values() for c in k.counts})),
    "speed": (None, *SPEEDS),
}
NUM_SLOTS = MAX_ACTIONS


def slot_targets(actions: list[dict]) -> np.ndarray:
    """A clip record's actions -> (NUM_SLOTS, len(SLOT_FIELDS)) int64 class indices (0 past the last action)."""
    if not 1 <= len(actions) <= NUM_SLOTS:
        raise ValueError(f"expected 1..{NUM_SLOTS} actions, got {len(actions)}")
    targets = np.zeros((NUM_SLOTS, len(SLOT_FIELDS)), dtype=np.int64)
    for slot, action in enumerate(actions):
        for f, (field, classes) in enumerate(SLOT_FIELDS.items()):
            value = action.get(field)
            if value not in classes:
                raise ValueError(f"action field {field}={value!r} is not one of {classes}")
            targets[slot, f] = classes.index(value)
    return targets


class ClipSlots:
    """Slot targets of every clip of a corpus folder (its records/CLIP.json files)."""

    def __init__(self, root: str | Path):
        folder = Path(root) / "records"
        if not folder.is_dir():
            raise InputError(f"{folder} not found: the condition stage needs the built-in corpus's action records "
                             "(`a2m data corpus`); HumanML3D / KIT-ML have none, train them with `transformers`")
        self.folder = folder
        self._targets: dict[str, np.ndarray] = {}

    def __call__(self, clip: str) -> np.ndarray:
        if clip not in self._targets:
            path = self.folder / f"{clip}.json"
            try:
                self._targets[clip] = slot_targets(json.loads(path.read_text())["actions"])
            except (OSError, KeyError, ValueError) as exc:
                raise InputError(f"bad action record {path}: {exc}; rebuild the corpus") from exc
        return self._targets[clip]


class SlotProbe(nn.Module):
    """Pooled condition (b d) -> logits of every slot and field; a linear map, so that the
    condition itself, not the probe, has to hold the instruction."""

    def __init__(self, dim: int):
        super().__init__()
        self.sizes = [len(classes) for classes in SLOT_FIELDS.values()]
        self.proj = nn.Linear(dim, NUM_SLOTS * sum(self.sizes))

    def forward(self, pooled: Tensor) -> list[Tensor]:
        """(b d) -> one (b NUM_SLOTS classes) logit tensor per field."""
        logits = self.proj(pooled).reshape(pooled.shape[0], NUM_SLOTS, -1)
        return list(logits.split(self.sizes, dim=-1))

    def loss(self, pooled: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """Cross entropy summed over fields (mean over slots and batch), and the kind accuracy of real actions.

        targets (b NUM_SLOTS fields) int64 from slot_targets.
        """
        losses, kind_logits = [], None
        for f, logits in enumerate(self(pooled)):
            losses.append(F.cross_entropy(logits.flatten(0, 1), targets[..., f].flatten()))
            if f == 0:
                kind_logits = logits
        real = targets[..., 0] > 0  # (b slots): slots holding an action
        kind_correct = (kind_logits.argmax(-1) == targets[..., 0])[real].float().mean()
        return {"slots": torch.stack(losses).sum(), "kind_acc": kind_correct}

    def read(self, pooled: Tensor) -> list[list[dict]]:
        """(b d) -> per item, the actions it reads in order: {field: value} per slot, up to the first
        slot it reads as empty."""
        best = [logits.argmax(-1) for logits in self(pooled)]  # per field (b slots)
        readings = []
        for row in range(pooled.shape[0]):
            actions = []
            for slot in range(NUM_SLOTS):
                action = {field: classes[int(b[row, slot])] for (field, classes), b in zip(SLOT_FIELDS.items(), best)}
                if action["kind"] is None:
                    break
                actions.append(action)
            readings.append(actions)
        return readings


def load_slot_probe(checkpoint: str | Path, model) -> SlotProbe:
    """The slot probe of a condition-stage checkpoint (RUN/checkpoints/step_N), to read what `model`'s
    condition holds.

    A linear probe reads only the condition it was trained with, so a checkpoint whose condition
    weights are not the model's (within float16 rounding: a shipped model stores float16) is refused.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from training.loop import WEIGHTS

    path = Path(checkpoint) / WEIGHTS
    if not path.is_file():
        raise InputError(f"{path} not found: give a condition-stage checkpoint folder, RUN/checkpoints/step_N")
    try:
        weights = load_file(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path} cannot be read as safetensors ({exc}): the checkpoint is damaged") from exc
    probe_weights = {k.removeprefix("slot_probe."): v for k, v in weights.items() if k.startswith("slot_probe.")}
    if not probe_weights:
        raise InputError(f"{path} holds no slot probe: give a checkpoint of the condition stage (`a2m train condition`)")
    for name, value in model.condition.state_dict().items():
        stored = weights.get(f"model.condition.{name}")
        if stored is None or stored.shape != value.shape or not torch.allclose(stored.float(), value.float(),
                                                                               rtol=1e-3, atol=1e-4):
            raise InputError(f"{path} was trained with another condition than the model's (condition.{name} "
                             "differs): give the checkpoint of the condition run this model was trained from")
    probe = SlotProbe(model.config.condition.dim)
    try:
        probe.load_state_dict(probe_weights)
    except RuntimeError as exc:
        raise InputError(f"{path}: its slot probe does not fit this a2m's slots ({exc})") from exc
    return probe.eval()


def pooled_condition(cond: Tensor, cond_valid: Tensor) -> Tensor:
    """Mean of the valid condition tokens: (b m d), (b m) -> (b d)."""
    weight = cond_valid.to(cond.dtype)[..., None]  # (b m 1)
    return (cond * weight).sum(1) / weight.sum(1).clamp(min=1.0)


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def corpus_transcripts(root: str | Path, split: str, styles: tuple[str, ...]) -> list[str]:
    """The spoken texts of a corpus split's utterances of the given styles (its audio manifest)."""
    manifest = Path(root) / "audio" / "manifest.jsonl"
    try:
        lines = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {manifest}: {exc}; the condition stage needs the built-in corpus") from None
    return [u["text"] for u in lines if u["split"] == split and u["style"] in styles]


class WordProbe(nn.Module):
    """Per-frame states (b n d) -> which vocabulary words the utterance contains.

    vocabulary: the words of at least 20 training transcripts (of 2 % where there are fewer than
    1000), sorted, so that a resumed run rebuilds the same probe.
    """

    def __init__(self, dim: int, vocabulary: list[str]):
        super().__init__()
        if not vocabulary:
            raise ValueError("WordProbe needs a non-empty vocabulary")
        self.vocabulary = vocabulary
        self.index = {w: i for i, w in enumerate(vocabulary)}
        self.proj = nn.Linear(dim, len(vocabulary))

    @staticmethod
    def vocabulary_of(texts: Iterable[str]) -> list[str]:
        texts = list(texts)
        min_count = max(1, min(20, len(texts) // 50))
        counts = Counter(w for text in texts for w in set(words_of(text)))
        return sorted(w for w, c in counts.items() if c >= min_count)

    def targets(self, texts: list[str], device: torch.device) -> Tensor:
        """(b vocabulary) 1.0 where the word occurs in the text."""
        bag = torch.zeros(len(texts), len(self.vocabulary), device=device)
        for row, text in enumerate(texts):
            hits = [self.index[w] for w in words_of(text) if w in self.index]
            bag[row, hits] = 1.0
        return bag

    def loss(self, frames: Tensor, frames_valid: Tensor, texts: list[str]) -> dict[str, Tensor]:
        """Binary cross entropy of the per-word maximum over valid frames, per word present;
        and the share of present words whose maximum logit is positive (recall)."""
        logits = self.proj(frames).masked_fill(~frames_valid[..., None], float("-inf")).amax(1)  # (b v)
        targets = self.targets(texts, frames.device)
        bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / targets.sum().clamp(min=1.0)
        recall = ((logits > 0) & (targets > 0)).sum() / targets.sum().clamp(min=1.0)
        return {"words": bce, "word_recall": recall}
