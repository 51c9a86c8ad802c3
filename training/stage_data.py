"""What each training stage reads: motion windows (RVQ-VAE) or utterances (everything else).

Both expose `item(index, rng)` so that the training loop can give every item its own seeded
generator (see training.loop.SeededItems): the crop of an item is then a function of
(seed, epoch, index), which is what makes a resumed run repeat an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from a2m_core.audio.speech import ENGINES
from a2m_core.errors import InputError
from a2m_core.motion.features import Normalizer
from training.data.datasets import FeatureCache, MotionAudioConfig, MotionAudioDataset


class MotionWindows:
    """Normalised windows of `window_len` frames from every clip of a split (MoMask's VQ data).

    root: a HumanML3D-layout folder (new_joint_vecs/, Mean.npy, Std.npy, SPLIT.txt); normalizer: how
    motion is normalised (default: root's Mean.npy / Std.npy).
    """

    def __init__(self, root: str | Path, split: str = "train", window_len: int = 64,
                 normalizer: Normalizer | None = None):
        root = Path(root)
        split_file = root / f"{split}.txt"
        if not split_file.is_file():
            raise InputError(f"{split_file} not found: --data must be a corpus folder (`a2m data corpus`) "
                             "or a HumanML3D / KIT-ML folder with split files")
        self.window_len = window_len
        self.normalizer = normalizer or Normalizer.from_files(root / "Mean.npy", root / "Std.npy")
        self.clips: list[np.ndarray] = []
        for clip in split_file.read_text().split():
            path = root / "new_joint_vecs" / f"{clip}.npy"
            if path.is_file():
                motion = np.load(path, allow_pickle=False)
                if len(motion) >= window_len and np.isfinite(motion).all():
                    self.clips.append(self.normalizer.normalize(motion).astype(np.float32))
        if not self.clips:
            raise InputError(f"no clip of split {split!r} under {root} has {window_len} frames or more")

    def __len__(self) -> int:
        return len(self.clips)

    def item(self, index: int, rng: np.random.Generator) -> torch.Tensor:
        motion = self.clips[index]
        start = int(rng.integers(0, len(motion) - self.window_len + 1))
        return torch.from_numpy(motion[start:start + self.window_len])  # (w f)


def stack_windows(items: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    return {"motion": torch.stack(items)}  # (b w f)


class Utterances:
    """MotionAudioDataset with per-item seeded crops (it draws from its `rng` attribute).

    slots: the clips' instruction slots (training.instruction_slots.ClipSlots), added to each item
    as "slots" (the condition stage); audio_transform: augmentation applied on every read;
    feature_transform: the same for cached front-end features (e.g. augment.mask_features);
    teacher: an utterance's audio file -> the condition (m d) a teacher model gives it, added as
    "teacher_condition" (the condition stage's distillation target).
    """

    def __init__(self, root: str | Path, split: str, *, random_crop: bool = True,
                 styles: tuple[str, ...] = ("original", "oral"), engines: tuple[str, ...] = ENGINES,
                 cache: FeatureCache | None = None,
                 slots: Callable[[str], np.ndarray] | None = None,
                 audio_transform: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
                 feature_transform: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
                 teacher: Callable[[Path], np.ndarray] | None = None, normalizer: Normalizer | None = None):
        self.dataset = MotionAudioDataset(Path(root), MotionAudioConfig(split=split, styles=styles, engines=engines,
                                                                         random_crop=random_crop), cache=cache,
                                          audio_transform=audio_transform, normalizer=normalizer)
        self.slots = slots
        self.feature_transform = feature_transform
        self.teacher = teacher

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def costs(self) -> np.ndarray:
        """Audio file sizes: what a batch's padded length, and so its compute, follows."""
        if not hasattr(self, "_costs"):
            self._costs = np.array([e.audio.stat().st_size if e.audio.is_file() else 0 for e in self.dataset.entries])
        return self._costs

    def item(self, index: int, rng: np.random.Generator) -> dict:
        self.dataset.rng = rng
        return self[index]

    def __getitem__(self, index: int) -> dict:
        item = self.dataset[index]
        if self.feature_transform is not None and "audio_features" in item:
            item["audio_features"] = torch.from_numpy(self.feature_transform(item["audio_features"].numpy(),
                                                                             self.dataset.rng))
        if self.slots is not None:
            item["slots"] = torch.from_numpy(self.slots(item["clip"]))
        if self.teacher is not None:
            item["teacher_condition"] = torch.from_numpy(self.teacher(self.dataset.entries[index].audio))
        return item

