"""Cuts a live 16 kHz audio stream into utterances with a VAD: pre-roll, hangover, maximum length.

Memory stays bounded whatever arrives: the pre-roll ring holds `pre_roll_s`, an utterance
at most `max_utterance_s` (+ hangover); speech that runs past the maximum is cut there and
the rest of it is skipped until the speaker pauses (an instruction is not minutes long).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from a2m_core.audio.io import SAMPLE_RATE_HZ
from a2m_core.audio.vad import VoiceActivityDetector


@dataclass(frozen=True)
class SegmenterConfig:
    """How speech is told from silence and cut into utterances (seconds at 16 kHz)."""

    threshold: float = 0.5  # speech probability that starts or continues speech
    neg_threshold: float = 0.35  # below this counts toward the hangover (hysteresis band between)
    min_speech_s: float = 0.25  # utterances with less speech than this are noise bursts: dropped
    pre_roll_s: float = 0.3  # audio kept from before the speech onset (onsets are detected late)
    hangover_s: float = 0.5  # this much silence ends an utterance
    max_utterance_s: float = 10.0  # longer speech is cut here

    def __post_init__(self):
        if not 0.0 < self.neg_threshold <= self.threshold < 1.0:
            raise ValueError(f"need 0 < neg_threshold <= threshold < 1, got {self.neg_threshold}, {self.threshold}")
        for name in ("min_speech_s", "pre_roll_s", "hangover_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_utterance_s <= self.min_speech_s:
            raise ValueError(f"max_utterance_s ({self.max_utterance_s}) must exceed min_speech_s ({self.min_speech_s})")


@dataclass(frozen=True)
class Utterance:
    """One stretch of speech with its pre-roll. Sample indices count from the stream's start.

    samples (n) float32 at 16 kHz; speech_end: index just past the last speech frame.
    """

    samples: np.ndarray
    start: int
    speech_end: int
    truncated: bool  # cut at max_utterance_s

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE_HZ


class UtteranceSegmenter:
    """Feed audio with `push`; get the utterances that ended in it."""

    def __init__(self, vad: VoiceActivityDetector, config: SegmenterConfig = SegmenterConfig()):
        self.vad, self.config = vad, config
        frame = vad.frame_len
        self._pre_roll = deque(maxlen=max(1, round(config.pre_roll_s * SAMPLE_RATE_HZ / frame)))
        self._hangover_frames = max(1, round(config.hangover_s * SAMPLE_RATE_HZ / frame))
        self._min_speech_frames = round(config.min_speech_s * SAMPLE_RATE_HZ / frame)
        self._max_frames = max(1, round(config.max_utterance_s * SAMPLE_RATE_HZ / frame))
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next sample starts a new stream at index 0."""
        self.vad.reset()
        self._pre_roll.clear()
        self._remainder = np.zeros(0, np.float32)
        self._frames: list[np.ndarray] = []  # the utterance being collected
        self._start = 0
        self._speech_frames = 0
        self._silent_run = 0
        self._last_speech_end = 0
        self._skipping = False  # inside speech that ran past the maximum
        self._position = 0  # samples fed to the VAD so far

    @property
    def in_speech(self) -> bool:
        return bool(self._frames) or self._skipping

    def push(self, samples: np.ndarray) -> list[Utterance]:
        """Audio (n) float32 mono 16 kHz -> utterances that ended within it."""
        data = np.concatenate([self._remainder, np.asarray(samples, np.float32)])
        n = self.vad.frame_len
        whole = len(data) // n * n
        self._remainder = data[whole:]
        done = []
        for frame in data[:whole].reshape(-1, n):
            if (utterance := self._step(frame)) is not None:
                done.append(utterance)
        return done

    def flush(self) -> list[Utterance]:
        """End of stream: the utterance in progress, if it has enough speech."""
        utterance = self._finish(truncated=False) if self._frames else None
        self.reset()
        return [utterance] if utterance is not None else []

    def _step(self, frame: np.ndarray) -> Utterance | None:
        prob = self.vad(frame)
        self._position += len(frame)
        cfg = self.config
        if self._skipping:
            self._silent_run = self._silent_run + 1 if prob < cfg.neg_threshold else 0
            if self._silent_run >= self._hangover_frames:
                self._skipping, self._silent_run = False, 0
            return None
        if not self._frames:
            if prob >= cfg.threshold:
                self._start = self._position - len(frame) - sum(len(f) for f in self._pre_roll)
                self._frames = [*self._pre_roll, frame]
                self._pre_roll.clear()
                self._speech_frames, self._silent_run = 1, 0
                self._last_speech_end = self._position
            else:
                self._pre_roll.append(frame)
            return None
        self._frames.append(frame)
        if prob >= cfg.threshold or (prob >= cfg.neg_threshold and self._silent_run == 0):
            self._speech_frames += 1
            self._silent_run = 0
            self._last_speech_end = self._position
        else:
            self._silent_run += 1
        if self._silent_run >= self._hangover_frames:
            return self._finish(truncated=False)
        if len(self._frames) >= self._max_frames:
            self._skipping, self._silent_run = True, 0
            return self._finish(truncated=True)
        return None

    def _finish(self, truncated: bool) -> Utterance | None:
        frames, speech_frames = self._frames, self._speech_frames
        self._frames, self._speech_frames, self._silent_run = [], 0, 0
        if speech_frames < self._min_speech_frames:
            return None
        # keep as much trailing silence as pre-roll: the hangover beyond it is only waiting time
        end = min(self._last_speech_end + len(self._pre_roll) * self.vad.frame_len, self._position)
        samples = np.concatenate(frames)[: end - self._start]
        return Utterance(samples, self._start, self._last_speech_end, truncated)
