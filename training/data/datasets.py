"""PyTorch datasets of (spoken instruction, motion) pairs for HumanML3D, KIT-ML and the built-in corpus.

One item is one utterance: its audio (16 kHz float32) or cached audio front-end features,
the normalised motion it describes (zero-padded to `max_motion_len`), the motion length,
the caption, the spoken text and the speaker. Motion handling follows MoMask's text-to-motion
dataset: clips shorter than `min_motion_len` or of 200 frames and more are dropped; captions
with start/end tags describe that part of the clip only; training crops a random window whose
length is the clip length rounded down to a multiple of `unit_length` (a third of the time one
unit shorter).

Utterances come from manifests: the corpus's OUT/audio/manifest.jsonl and the Original/Oral
builders' AUDIO/STYLE/manifest.jsonl. Paths in a manifest are relative to the folder above it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from a2m_core.audio.io import SAMPLE_RATE_HZ
from a2m_core.audio.speech import ENGINES
from a2m_core.errors import InputError
from a2m_core.files import save_npy
from a2m_core.motion.features import Normalizer
from training.data.captions import read_texts
from training.data.voices import check_engines

FPS_BY_DIM = {263: 20.0, 251: 12.5}  # HumanML3D, KIT-ML
MAX_CLIP_FRAMES = 200  # MoMask drops clips of this length and more


@dataclass(frozen=True)
class MotionAudioConfig:
    """Which utterances and how motion is cut; validated on creation."""

    split: str  # "train", "val" or "test": the dataset's split file
    styles: tuple[str, ...] = ("original", "oral")
    engines: tuple[str, ...] = ENGINES  # speech engines whose utterances are used (engine-disjoint splits)
    min_motion_len: int = 40  # frames; MoMask: 40 for HumanML3D, 24 for KIT-ML
    max_motion_len: int = 196
    unit_length: int = 4  # the motion tokenizer's downsampling
    random_crop: bool = True  # training; False: take the clip from its start (evaluation)

    def __post_init__(self) -> None:
        if not 0 < self.min_motion_len <= self.max_motion_len < MAX_CLIP_FRAMES:
            raise ValueError(f"need 0 < min_motion_len <= max_motion_len < {MAX_CLIP_FRAMES}, got "
                             f"{self.min_motion_len}, {self.max_motion_len}")
        if self.unit_length < 1 or not self.styles:
            raise ValueError(f"unit_length must be >= 1 and styles non-empty, got {self.unit_length}, {self.styles}")
        check_engines(self.engines)


class FeatureCache:
    """Audio front-end outputs on disk, keyed by the front-end's config and the audio file's identity.

    A changed config (another model, layer or hop) or a rewritten WAV gives a new key, so stale
    features are never returned. With `variants` > 1 the cache also holds `variants - 1` renderings
    of each utterance through `transform` (e.g. another speaker: training.data.augment.speaker_augment),
    each seeded by the file and its variant number, so a frozen front-end's training hears every
    utterance several ways while the front-end runs once per rendering.
    """

    def __init__(self, folder: Path, frontend: Callable[[np.ndarray], np.ndarray], frontend_config: dict,
                 variants: int = 1, transform: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None):
        if variants < 1 or (variants > 1) != (transform is not None):
            raise ValueError(f"FeatureCache needs variants >= 1 and a transform exactly when variants > 1, got "
                             f"{variants} and {transform}")
        self.folder = Path(folder)
        self.frontend = frontend
        self.variants, self.transform = variants, transform
        self.config_key = hashlib.sha1(json.dumps(frontend_config, sort_keys=True).encode()).hexdigest()[:16]

    def _key(self, audio_path: Path) -> str:
        stat = audio_path.stat()
        return hashlib.sha1(f"{audio_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()

    def _path(self, audio_path: Path, variant: int) -> Path:
        if not 0 <= variant < self.variants:
            raise ValueError(f"variant {variant} out of range: this cache holds {self.variants}")
        key = self._key(audio_path)
        name = f"{key}_{self.transform.__name__}{variant}" if variant else key
        return self.folder / self.config_key / key[:2] / f"{name}.npy"

    def _rendering(self, audio_path: Path, load: Callable[[Path], np.ndarray], variant: int) -> np.ndarray:
        audio = load(audio_path)
        if variant:
            audio = self.transform(audio, np.random.default_rng([int(self._key(audio_path)[:12], 16), variant]))
        return audio

    def features(self, audio_path: Path, load: Callable[[Path], np.ndarray], variant: int = 0) -> np.ndarray:
        """The front-end's output for rendering `variant` (0: the file as it is) of an utterance."""
        path = self._path(audio_path, variant)
        if path.is_file():
            return np.load(path, allow_pickle=False)
        features = np.asarray(self.frontend(self._rendering(audio_path, load, variant)), dtype=np.float32)
        save_npy(path, features)
        return features

    def fill(self, audio_paths: list[Path], load: Callable[[Path], np.ndarray],
             batch_frontend: Callable[[list[np.ndarray]], list[np.ndarray]], batch_size: int = 16,
             progress: bool = True) -> int:
        """Compute every missing rendering of `audio_paths` in batches of similar length (several times
        faster than one utterance at a time on a CPU); returns how many were computed. batch_frontend
        must give each clip the features `frontend` gives it alone."""
        from tqdm import tqdm

        todo = [(path, v) for v in range(self.variants) for path in audio_paths if not self._path(path, v).is_file()]
        todo.sort(key=lambda item: item[0].stat().st_size)
        with tqdm(total=len(todo), desc="feature cache", unit="clip", disable=not progress or not todo) as bar:
            for start in range(0, len(todo), batch_size):
                batch = todo[start:start + batch_size]
                outputs = batch_frontend([self._rendering(path, load, v) for path, v in batch])
                for (path, v), features in zip(batch, outputs):
                    save_npy(self._path(path, v), np.asarray(features, dtype=np.float32))
                bar.update(len(batch))
        return len(todo)


@dataclass(frozen=True)
class _Entry:
    clip: str
    audio: Path
    text: str
    caption: str
    speaker: str
    start: int  # motion frames [start, stop) this caption describes
    stop: int


def _read_manifest(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read manifest {path}: {exc}; rebuild it with `a2m data corpus` or "
                         "`a2m data speak`") from None


class MotionAudioDataset:
    """Utterance-level (audio, motion) pairs of one split; a torch Dataset (len, getitem) of dicts.

    root: dataset folder (new_joint_vecs/, texts/, Mean.npy, Std.npy, SPLIT.txt);
    manifests: utterance manifests (defaults: the corpus's and the builders' under root/audio);
    normalizer: how motion is normalised (default: root's Mean.npy / Std.npy).
    """

    def __init__(self, root: Path, config: MotionAudioConfig, manifests: list[Path] | None = None,
                 cache: FeatureCache | None = None, seed: int = 0,
                 audio_transform: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
                 normalizer: Normalizer | None = None):
        if cache is not None and audio_transform is not None:
            raise ValueError("audio_transform changes the audio on every read, so its features cannot be cached; "
                             "give one of cache (with its own renderings) and audio_transform")
        self.root, self.config, self.cache = Path(root), config, cache
        self.audio_transform = audio_transform  # e.g. noise at a random SNR (training.data.augment)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._rng_worker: int | None = None  # the DataLoader worker whose seed _rng comes from
        self._rng_given = False  # a caller set `rng` (e.g. seeded per item): keep theirs
        split_file = self.root / f"{config.split}.txt"
        if not split_file.is_file():
            raise InputError(f"{split_file} not found; expected the dataset's split files (train/val/test.txt)")
        self.normalizer = normalizer or Normalizer.from_files(self.root / "Mean.npy", self.root / "Std.npy")
        self.fps = FPS_BY_DIM.get(self.normalizer.dim)
        if self.fps is None:
            raise InputError(f"Mean.npy has {self.normalizer.dim} dims; expected 263 (HumanML3D) or 251 (KIT-ML)")
        clips = set(split_file.read_text().split())
        if manifests is None:
            manifests = [p for p in (self.root / "audio" / "manifest.jsonl", *(self.root / "audio" / s / "manifest.jsonl"
                                                                             for s in ("original", "oral")))
                         if p.is_file()]
        if not manifests:
            raise InputError(f"no utterance manifest under {self.root / 'audio'}; build the audio with "
                             "`a2m data corpus` or `a2m data speak`")
        self.motions: dict[str, np.ndarray] = {}
        self.entries: list[_Entry] = []
        for manifest in manifests:
            base = manifest.parent.parent
            for u in _read_manifest(manifest):
                if u["clip"] in clips and u["style"] in config.styles and u["voice"]["engine"] in config.engines:
                    entry = self._entry(u, base)
                    if entry is not None:
                        self.entries.append(entry)
        if not self.entries:
            raise InputError(f"no utterances of split {config.split!r}, styles {config.styles} and engines "
                             f"{config.engines} with a motion of "
                             f"{config.min_motion_len}..{MAX_CLIP_FRAMES - 1} frames under {self.root}")

    def _motion(self, clip: str) -> np.ndarray | None:
        if clip not in self.motions:
            path = self.root / "new_joint_vecs" / f"{clip}.npy"
            self.motions[clip] = np.load(path, allow_pickle=False) if path.is_file() else None
        return self.motions[clip]

    def _entry(self, u: dict, base: Path) -> _Entry | None:
        motion = self._motion(u["clip"])
        if motion is None:
            return None
        start, stop = 0, len(motion)
        captions = read_texts(self.root / "texts" / f"{u['clip']}.txt")
        caption = captions[u["caption_index"]] if u["caption_index"] < len(captions) else None
        if caption is not None and (caption.start_s or caption.end_s):  # a caption of part of the clip
            start, stop = int(caption.start_s * self.fps), int(caption.end_s * self.fps)
        if not self.config.min_motion_len <= stop - start < MAX_CLIP_FRAMES:
            return None
        return _Entry(clip=u["clip"], audio=base / u["path"], text=u["text"],
                      caption=caption.text if caption is not None else u.get("caption", ""),
                      speaker=u["voice"]["speaker_id"], start=start, stop=stop)

    @property
    def rng(self) -> np.random.Generator:
        """The crop/augmentation generator; each DataLoader worker gets its own stream (torch's worker seed)."""
        from torch.utils.data import get_worker_info

        info = get_worker_info()
        if info is not None and info.id != self._rng_worker and not self._rng_given:
            self._rng = np.random.default_rng([self.seed, info.seed % 2**32])
            self._rng_worker = info.id
        return self._rng

    @rng.setter
    def rng(self, generator: np.random.Generator) -> None:
        """Use this generator from now on (no per-worker reseeding), e.g. one seeded per item."""
        self._rng, self._rng_given = generator, True

    def __len__(self) -> int:
        return len(self.entries)

    def _crop(self, motion: np.ndarray) -> tuple[np.ndarray, int]:
        """MoMask's cut: a multiple of unit_length (a third of the time one unit less), randomly placed."""
        unit = self.config.unit_length
        length = min(len(motion), self.config.max_motion_len)
        if self.config.random_crop and unit < 10 and self.rng.random() < 1 / 3 and length // unit > 1:
            length = (length // unit - 1) * unit
        else:
            length = max(length // unit, 1) * unit
        offset = int(self.rng.integers(0, len(motion) - length + 1)) if self.config.random_crop else 0
        return motion[offset:offset + length], length

    @staticmethod
    def load_audio(path: Path) -> np.ndarray:
        """An utterance's WAV as float32 (n) samples; InputError unless 16 kHz mono."""
        import soundfile as sf

        samples, rate = sf.read(str(path), dtype="float32")
        if rate != SAMPLE_RATE_HZ or samples.ndim != 1:
            raise InputError(f"{path}: {rate} Hz, {samples.ndim} channel dims; expected 16 kHz mono")
        return samples

    def __getitem__(self, index: int) -> dict:
        import torch

        entry = self.entries[index]
        motion, length = self._crop(self._motion(entry.clip)[entry.start:entry.stop])
        padded = np.zeros((self.config.max_motion_len, self.normalizer.dim), dtype=np.float32)  # (n d)
        padded[:length] = self.normalizer.normalize(motion)

        if not entry.audio.is_file():
            raise InputError(f"audio {entry.audio} listed in the manifest is missing; rerun the audio build")
        item = {"motion": torch.from_numpy(padded), "length": length, "caption": entry.caption,
                "text": entry.text, "speaker": entry.speaker, "clip": entry.clip}
        if self.cache is not None:
            variant = int(self.rng.integers(self.cache.variants)) if self.cache.variants > 1 else 0
            item["audio_features"] = torch.from_numpy(self.cache.features(entry.audio, self.load_audio, variant))
        else:
            samples = self.load_audio(entry.audio)
            if self.audio_transform is not None:
                samples = np.asarray(self.audio_transform(samples, self.rng), dtype=np.float32)
            item["audio"] = torch.from_numpy(samples)
        return item


def collate(items: list[dict]) -> dict:
    """Batch items: audio (b n) zero-padded with audio_len (b), or audio_features (b f d) with
    features_len (b); motion (b n d); length (b); slots (b s f) and teacher_condition (b m d) where
    given; the strings as lists."""
    import torch

    batch = {"motion": torch.stack([i["motion"] for i in items]),
             "length": torch.tensor([i["length"] for i in items])}
    for key, length_key in (("audio", "audio_len"), ("audio_features", "features_len")):
        if key in items[0]:
            tensors = [i[key] for i in items]
            batch[key] = torch.nn.utils.rnn.pad_sequence(tensors, batch_first=True)
            batch[length_key] = torch.tensor([len(t) for t in tensors])
    for key in ("slots", "teacher_condition"):  # the condition stage's targets (training.stages)
        if key in items[0]:
            batch[key] = torch.stack([i[key] for i in items])
    for key in ("caption", "text", "speaker", "clip"):
        batch[key] = [i[key] for i in items]
    return batch
