"""A contrastive evaluator: motion, text and audio encoders into one embedding space.

It plays the role of the T2M evaluator (Guo et al. 2022), whose weights cannot be downloaded
here: the metrics in training.metrics compare its embeddings. Trained with symmetric InfoNCE
between each motion and its caption, and between each motion and its spoken instruction, so
that caption, speech and motion of one clip land close together.

- motion: normalised features (b t f) -> strided Conv1d stack -> masked mean -> linear; with
  time_parts > 1 the means over that many equal parts of the clip are concatenated to the whole
  clip's, so the embedding can say what happens first (a mean over the whole clip cannot)
- text: word embeddings over the training captions' vocabulary -> bidirectional GRU -> masked
  mean -> linear (T2M's evaluator reads GloVe vectors with a GRU; GloVe is not available here,
  and a frozen MiniLM cost 0.1 s per caption on the shared CPU, so the words are learned)
- audio (optional, audio_weight > 0): log-mel front-end (a2m_core's, trained here) -> conv
  blocks -> masked mean -> MLP
Embeddings are L2-normalised, so Euclidean distance ranks as cosine similarity does.
With order_weight > 0, training adds a term that tells a multi-action clip's fixed-wording caption
from the same words with the actions reversed (training.evaluator.train), the only pairs in a batch
that differ in order alone.

A saved evaluator is a folder: config.json (with the vocabulary) + model.safetensors.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from a2m_core.errors import InputError
from a2m_core.files import atomic_dir
from a2m_core.model.frontend_logmel import LogMelFrontend, LogMelFrontendConfig
from a2m_core.model.layers import lengths_to_mask, masked_mean

FORMAT = "a2m-evaluator"
_WORD = re.compile(r"[a-z]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class EvaluatorConfig:
    vocabulary: tuple[str, ...]  # id 0 is padding, 1 unknown words, then these
    dim_motion: int = 263
    dim: int = 256  # embedding width
    word_dim: int = 128
    width: int = 256  # motion conv width
    num_down: int = 2  # motion encoder downsampling 2**num_down
    audio_dim: int = 128
    audio_layers: int = 2
    temperature: float = 0.07
    audio_weight: float = 0.0  # weight of the motion-audio InfoNCE term; 0: no audio encoder
    time_parts: int = 1  # motion pooled over the whole clip and, above 1, over this many equal parts of it
    order_weight: float = 0.0  # weight of the in-order vs reversed caption term (training only)

    def __post_init__(self) -> None:
        values = dict(dim_motion=self.dim_motion, dim=self.dim, width=self.width, audio_dim=self.audio_dim,
                      temperature=self.temperature, word_dim=self.word_dim, vocabulary=len(self.vocabulary))
        bad = [k for k, v in values.items() if not v > 0]
        non_negative = dict(num_down=self.num_down, audio_layers=self.audio_layers, audio_weight=self.audio_weight,
                            order_weight=self.order_weight, time_parts=self.time_parts - 1)
        bad += [k for k, v in non_negative.items() if v < 0]
        if bad:
            raise ValueError(f"EvaluatorConfig: bad values of {bad}")


class MotionEncoder(nn.Module):
    """features (b t f), lengths (b) frames -> (b dim)."""

    def __init__(self, config: EvaluatorConfig):
        super().__init__()
        self.num_down = config.num_down
        self.time_parts = config.time_parts
        layers: list[nn.Module] = [nn.Conv1d(config.dim_motion, config.width, 3, padding=1), nn.GELU()]
        for _ in range(config.num_down):
            layers += [nn.Conv1d(config.width, config.width, 4, stride=2, padding=1), nn.GELU(),
                       nn.Conv1d(config.width, config.width, 3, padding=1), nn.GELU()]
        self.net = nn.Sequential(*layers)
        pools = 1 + (config.time_parts if config.time_parts > 1 else 0)
        self.out = nn.Linear(pools * config.width, config.dim)

    def forward(self, motion: Tensor, lengths: Tensor) -> Tensor:
        h = self.net(motion.transpose(1, 2)).transpose(1, 2)  # (b t/4 w)
        steps = torch.div(lengths, 2**self.num_down, rounding_mode="floor").clamp(min=1)  # (b)
        valid = lengths_to_mask(steps, h.shape[1])  # (b t/4)
        pooled = [masked_mean(h, valid)]
        if self.time_parts > 1:  # part k: the steps whose place in the clip is in [k/parts, (k+1)/parts)
            part = torch.arange(h.shape[1], device=h.device)[None] * self.time_parts // steps[:, None]  # (b t/4)
            pooled += [masked_mean(h, valid & (part == k)) for k in range(self.time_parts)]
        return self.out(torch.cat(pooled, dim=-1))  # (b dim)


class TextEncoder(nn.Module):
    """word ids (b m), counts (b) -> (b dim)."""

    def __init__(self, config: EvaluatorConfig):
        super().__init__()
        self.index = {w: i + 2 for i, w in enumerate(config.vocabulary)}
        self.embed = nn.Embedding(len(config.vocabulary) + 2, config.word_dim, padding_idx=0)
        self.gru = nn.GRU(config.word_dim, config.word_dim, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * config.word_dim, config.dim)

    def tokenize(self, texts: list[str]) -> tuple[Tensor, Tensor]:
        """texts (b) -> ids (b m) int64 (0 padding, 1 unknown), counts (b)."""
        ids = [[self.index.get(w, 1) for w in words(t)] or [1] for t in texts]
        counts = torch.tensor([len(i) for i in ids])
        padded = torch.zeros(len(ids), int(counts.max()), dtype=torch.long)
        for row, seq in enumerate(ids):
            padded[row, :len(seq)] = torch.tensor(seq)
        return padded, counts

    def forward(self, texts: list[str]) -> Tensor:
        ids, counts = self.tokenize(texts)
        device = self.embed.weight.device
        h, _ = self.gru(self.embed(ids.to(device)))  # (b m 2w)
        return self.out(masked_mean(h, lengths_to_mask(counts.to(device), ids.shape[1])))


class AudioEncoder(nn.Module):
    """audio (b s) 16 kHz, lengths (b) samples -> (b dim)."""

    def __init__(self, config: EvaluatorConfig):
        super().__init__()
        self.frontend = LogMelFrontend(LogMelFrontendConfig(dim=config.audio_dim, num_layers=config.audio_layers))
        self.out = nn.Sequential(nn.Linear(config.audio_dim, config.dim), nn.GELU(), nn.Linear(config.dim, config.dim))

    def forward(self, audio: Tensor, audio_lens: Tensor) -> Tensor:
        feats, feat_lens = self.frontend(audio, audio_lens)  # (b n c)
        return self.out(masked_mean(feats, lengths_to_mask(feat_lens, feats.shape[1])))


class Evaluator(nn.Module):
    def __init__(self, config: EvaluatorConfig):
        super().__init__()
        self.config = config
        self.motion = MotionEncoder(config)
        self.text = TextEncoder(config)
        self.audio = AudioEncoder(config) if config.audio_weight > 0 else None

    def embed_motion(self, motion: Tensor, lengths: Tensor) -> Tensor:
        """Normalised features (b t f), lengths (b) -> unit embeddings (b dim)."""
        return F.normalize(self.motion(motion, lengths), dim=-1)

    def embed_text(self, texts: list[str]) -> Tensor:
        """Captions (b) -> unit embeddings (b dim)."""
        return F.normalize(self.text(texts), dim=-1)

    def embed_audio(self, audio: Tensor, audio_lens: Tensor) -> Tensor:
        """audio (b s) 16 kHz, audio_lens (b) -> unit embeddings (b dim); needs audio_weight > 0."""
        if self.audio is None:
            raise InputError("this evaluator was trained without audio (audio_weight 0)")
        return F.normalize(self.audio(audio, audio_lens), dim=-1)

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        with atomic_dir(directory) as staging:
            (staging / "config.json").write_text(json.dumps({"format": FORMAT, "config": asdict(self.config)}, indent=2))
            save_file({k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()},
                      staging / "model.safetensors")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Evaluator:
        directory = Path(directory)
        try:
            document = json.loads((directory / "config.json").read_text())
            if document.get("format") != FORMAT:
                raise ValueError(f"not an {FORMAT} config")
            config = dict(document["config"], vocabulary=tuple(document["config"]["vocabulary"]))
            evaluator = cls(EvaluatorConfig(**config))
            evaluator.load_state_dict(load_file(directory / "model.safetensors"))
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
            raise InputError(f"cannot load the evaluator from {directory} ({exc}): train one with "
                             "`a2m train evaluator --data CORPUS --out DIR` and pass DIR/model") from exc
        return evaluator.eval()


def info_nce(a: Tensor, b: Tensor, temperature: float) -> Tensor:
    """Symmetric InfoNCE between unit embeddings a (n d) and b (n d) paired by row."""
    logits = a @ b.t() / temperature  # (n n)
    target = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
