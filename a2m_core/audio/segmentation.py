"""Cuts a live 16 kHz audio stream into utterances with a VAD: pre-roll, hangover, maximum length.

Everything counts samples (stream time), never arrival time: the same audio gives the same
utterances however late or bunched its chunks arrive. Memory stays bounded whatever arrives:
the pre-roll ring holds `pre_roll_s`, an utterance at most `max_utterance_s`; speech that runs
past the maximum is cut there into consecutive parts, each an utterance of its own.

With `early_end_s` set, a pause that long also yields the utterance so far as an early one
(`final=False`): a caller can start generating before the hangover is over. Unless speech
resumes, the same utterance (same start and speech_end) follows as the final one once the
hangover has passed; if it resumes, the early one is void and a longer one follows.
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
    max_utterance_s: float = 10.0  # longer speech is cut here into consecutive parts
    early_end_s: float = 0.0  # this much silence yields an early utterance (see the module docstring); 0: never

    def __post_init__(self):
        if not 0.0 < self.neg_threshold <= self.threshold < 1.0:
            raise ValueError(f"need 0 < neg_threshold <= threshold < 1, got {self.neg_threshold}, {self.threshold}")
        for name in ("min_speech_s", "pre_roll_s", "hangover_s", "early_end_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_utterance_s <= self.min_speech_s:
            raise ValueError(f"max_utterance_s ({self.max_utterance_s}) must exceed min_speech_s ({self.min_speech_s})")
        if self.early_end_s > self.hangover_s:
            raise ValueError(f"early_end_s ({self.early_end_s}) must not exceed hangover_s ({self.hangover_s})")


@dataclass(frozen=True)
class Utterance:
    """One stretch of speech with its pre-roll. Sample indices count from the stream's start.

    samples (n) float32 at 16 kHz; speech_end: index just past the last speech frame.
    """

    samples: np.ndarray
    start: int
    speech_end: int
    truncated: bool  # cut at max_utterance_s: the speech goes on in the next utterance
    final: bool = True  # False: an early utterance at a pause of early_end_s

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE_HZ


class UtteranceSegmenter:
    """Feed audio with `push`; get the utterances that ended in it (and early ones, see the module docstring)."""

    def __init__(self, vad: VoiceActivityDetector, config: SegmenterConfig = SegmenterConfig()):
        self.vad, self.config = vad, config
        frame = vad.frame_len
        self._pre_roll = deque(maxlen=max(1, round(config.pre_roll_s * SAMPLE_RATE_HZ / frame)))
        self._hangover_frames = max(1, round(config.hangover_s * SAMPLE_RATE_HZ / frame))
        self._early_frames = min(round(config.early_end_s * SAMPLE_RATE_HZ / frame), self._hangover_frames)
        # trailing silence kept after the last speech frame: as much as the pre-roll, and no more than an
        # early utterance has seen, so that an early utterance and its final one hold the same samples
        self._tail_frames = self._pre_roll.maxlen if not self._early_frames else min(self._pre_roll.maxlen,
                                                                                      self._early_frames)
        self._min_speech_frames = round(config.min_speech_s * SAMPLE_RATE_HZ / frame)
        self._max_frames = max(1, round(config.max_utterance_s * SAMPLE_RATE_HZ / frame))
        self.position = 0  # samples of the stream consumed so far (stream time)
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next sample starts a new stream at index 0."""
        self.position = 0
        self._restart()

    def _restart(self) -> None:
        self.vad.reset()
        self._pre_roll.clear()
        self._remainder = np.zeros(0, np.float32)
        self._frames: list[np.ndarray] = []  # the utterance being collected
        self._start = 0
        self._speech_frames = 0
        self._silent_run = 0
        self._last_speech_end = 0
        self._continued = False  # the utterance being collected goes on from one cut at max_utterance_s

    @property
    def in_speech(self) -> bool:
        """An utterance is being collected (or the next part of one cut at max_utterance_s is due)."""
        return bool(self._frames) or self._continued

    @property
    def last_speech_end(self) -> int:
        """Stream index just past the last speech frame of the utterance being collected."""
        return self._last_speech_end

    def push(self, samples: np.ndarray) -> list[Utterance]:
        """Audio (n) float32 mono 16 kHz -> utterances that ended within it, in stream order."""
        data = np.concatenate([self._remainder, np.asarray(samples, np.float32)])
        n = self.vad.frame_len
        whole = len(data) // n * n
        self._remainder = data[whole:]
        done = []
        for frame in data[:whole].reshape(-1, n):
            done += self._step(frame)
        return done

    def flush(self) -> list[Utterance]:
        """End of stream (or the sender stopped): the utterance in progress, if it has enough speech.

        The stream position goes on counting, so that sample indices stay comparable.
        """
        utterance = self._finish(truncated=False) if self._frames else None
        self.position += len(self._remainder)
        self._restart()
        return [utterance] if utterance is not None else []

    def _step(self, frame: np.ndarray) -> list[Utterance]:
        prob = self.vad(frame)
        self.position += len(frame)
        cfg = self.config
        if not self._frames:
            if self._continued:  # the next part of speech cut at max_utterance_s: no onset to wait for
                self._open([frame], speech=prob >= cfg.neg_threshold)
            elif prob >= cfg.threshold:
                self._open([*self._pre_roll, frame], speech=True)
            else:
                self._pre_roll.append(frame)
            return []
        self._frames.append(frame)
        if prob >= cfg.threshold or (prob >= cfg.neg_threshold and self._silent_run == 0):
            self._speech_frames += 1
            self._silent_run = 0
            self._last_speech_end = self.position
        else:
            self._silent_run += 1
        if self._silent_run >= self._hangover_frames:
            return self._finished(self._finish(truncated=False))
        if len(self._frames) >= self._max_frames:
            utterance = self._finish(truncated=True)
            self._continued = True
            return self._finished(utterance)
        if self._early_frames and self._silent_run == self._early_frames:
            return self._finished(self._utterance(truncated=False, final=False))
        return []

    def _open(self, frames: list[np.ndarray], speech: bool) -> None:
        self._start = self.position - sum(len(f) for f in frames)
        self._frames = frames
        self._pre_roll.clear()
        self._speech_frames, self._silent_run = int(speech), 0 if speech else 1
        self._last_speech_end = self.position if speech else self._start

    @staticmethod
    def _finished(utterance: Utterance | None) -> list[Utterance]:
        return [utterance] if utterance is not None else []

    def _utterance(self, truncated: bool, final: bool) -> Utterance | None:
        """The utterance collected so far, or None if it holds too little speech."""
        # a part that continues speech cut at max_utterance_s is speech however short it is
        least = 1 if self._continued else self._min_speech_frames
        if self._speech_frames < max(1, least):
            return None
        if truncated:  # the next part starts right here: keep every sample
            end = self.position
        else:  # keep a little trailing silence: the hangover beyond it is only waiting time
            end = min(self._last_speech_end + self._tail_frames * self.vad.frame_len, self.position)
        samples = np.concatenate(self._frames)[: end - self._start]
        return Utterance(samples, self._start, self._last_speech_end, truncated, final)

    def _finish(self, truncated: bool) -> Utterance | None:
        utterance = self._utterance(truncated, final=True)
        self._frames, self._speech_frames, self._silent_run, self._continued = [], 0, 0, False
        return utterance
