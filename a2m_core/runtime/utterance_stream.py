"""One live audio stream turned into generation decisions, on stream time: the motion node's audio logic without ROS.

    stream = UtteranceStream(UtteranceSegmenter(make_vad(), config), new_id)
    for event in stream.push(samples_16k, arrival_s):  # per chunk, in order
        ...  # EARLY: start generating; PUBLISH: publish that result now; KEEP: the utterance ended there
        ...  # (publish it, if not yet); DROP: speech resumed (discard it, or replace it if published)
        ...  # FINAL: generate and publish
    for event in stream.tick(now_s):  # every `tick_s`, from the thread that pushes
        ...  # STALL (say why), then the FINAL / KEEP of the utterance the sender left open

Utterance boundaries count samples (`UtteranceSegmenter`), so chunks that arrive late or in a
burst give the same utterances as chunks on time. Arrival times serve only to time the answer
(`speech_end_s`: when the chunk holding the end of speech arrived) and the stall rule: an
utterance left open ends early only when no chunk came for `stall_s` AND for `stall_ticks`
consecutive ticks, so a consumer that was itself stalled (its ticks did not run, chunks queued
meanwhile) never ends an utterance that is still arriving.

An early utterance (segmenter `early_end_s`) takes the id its final utterance will have; if
speech resumes it is dropped and the longer utterance keeps that id, so ids count utterances
out, whatever was tried on the way. Three pauses, shortest first: `early_end_s` starts the
work on speculation (invisible if speech resumes), `publish_after_s` makes its result public
(replaced by the longer utterance's if speech resumes), `hangover_s` ends the utterance.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from a2m_core.audio.io import SAMPLE_RATE_HZ
from a2m_core.audio.segmentation import Utterance, UtteranceSegmenter

EARLY, PUBLISH, KEEP, DROP, FINAL, STALL = "early", "publish", "keep", "drop", "final", "stall"
ARRIVAL_HISTORY = 4096  # chunks remembered to time the answer (minutes at usual chunk sizes)


@dataclass(frozen=True)
class StreamEvent:
    """What to do now. EARLY and FINAL carry the utterance; PUBLISH, KEEP and DROP name an earlier EARLY; STALL says why."""

    kind: str
    utterance_id: int = 0
    utterance: Utterance | None = None
    speech_end_s: float = 0.0  # arrival time (the caller's clock) of the chunk holding the end of speech
    note: str = ""


class UtteranceStream:
    """Chunks of one stream in (any size, any arrival pattern), `StreamEvent`s out."""

    def __init__(self, segmenter: UtteranceSegmenter, new_id: Callable[[], int], stall_s: float = 2.0,
                 tick_s: float = 0.25, publish_after_s: float | None = None):
        """publish_after_s: silence after which an EARLY's result is published (PUBLISH); None: only at KEEP."""
        if stall_s <= 0 or tick_s <= 0:
            raise ValueError(f"stall_s and tick_s must be > 0, got {stall_s}, {tick_s}")
        if publish_after_s is not None and publish_after_s < 0:
            raise ValueError(f"publish_after_s must be >= 0, got {publish_after_s}")
        self._publish_after = None if publish_after_s is None else round(publish_after_s * SAMPLE_RATE_HZ)
        self.segmenter, self._new_id = segmenter, new_id
        self.stall_s, self.tick_s = stall_s, tick_s
        self.stall_ticks = max(2, math.ceil(stall_s / tick_s))
        self._fed = 0  # samples pushed so far
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=ARRIVAL_HISTORY)  # (samples fed after chunk, time)
        self._last_arrival_s = -math.inf
        self._quiet_ticks = 0
        self._early: StreamEvent | None = None  # the EARLY not yet kept or dropped
        self._early_published = False  # a PUBLISH named it
        self._reserved_id = 0  # the id of the utterance in progress, once an EARLY took it

    @property
    def in_speech(self) -> bool:
        return self.segmenter.in_speech

    @property
    def position_s(self) -> float:
        """Stream time: seconds of audio pushed so far."""
        return self._fed / SAMPLE_RATE_HZ

    def push(self, samples: np.ndarray, arrival_s: float) -> list[StreamEvent]:
        """Audio (n) float32 mono 16 kHz that arrived at `arrival_s` -> events, in stream order."""
        self._fed += len(samples)
        self._arrivals.append((self._fed, arrival_s))
        self._last_arrival_s, self._quiet_ticks = arrival_s, 0
        events = self._decide(self.segmenter.push(samples))
        early = self._early
        if early is not None and self.segmenter.last_speech_end != early.utterance.speech_end:  # speech resumed
            events.append(StreamEvent(DROP, early.utterance_id, note="speech resumed after the pause"))
            self._early = None
        elif (early is not None and not self._early_published and self._publish_after is not None
              and self.segmenter.position - early.utterance.speech_end >= self._publish_after):
            events.append(StreamEvent(PUBLISH, early.utterance_id))
            self._early_published = True
        return events

    def tick(self, now_s: float) -> list[StreamEvent]:
        """The stall rule: end an utterance the sender left open (STALL, then its FINAL or KEEP)."""
        self._quiet_ticks += 1
        quiet_s = now_s - self._last_arrival_s
        if not self.segmenter.in_speech or self._quiet_ticks < self.stall_ticks or quiet_s < self.stall_s:
            return []
        note = (f"no audio for {quiet_s:.1f} s ({self._quiet_ticks} checks in a row) in the middle of speech: "
                f"the sender stopped; ending the utterance at {self.position_s:.2f} s of the stream")
        return [StreamEvent(STALL, self._reserved_id, note=note), *self.close()]

    def close(self) -> list[StreamEvent]:
        """End of the stream: the utterance in progress, if any. Pushing again starts a new one."""
        events = self._decide(self.segmenter.flush())
        if self._early is not None:  # flush found too little speech; cannot happen after an EARLY, but never leak one
            events.append(StreamEvent(DROP, self._early.utterance_id, note="stream ended"))
            self._early, self._reserved_id = None, 0
        return events

    def _decide(self, utterances: list[Utterance]) -> list[StreamEvent]:
        events = []
        for utterance in utterances:
            speech_end_s = self._arrival_of(utterance.speech_end)
            early = self._early
            if early is not None:
                self._early = None
                same = (early.utterance.start, early.utterance.speech_end) == (utterance.start, utterance.speech_end)
                if utterance.final and same and not utterance.truncated:
                    events.append(StreamEvent(KEEP, early.utterance_id, utterance, early.speech_end_s))
                    self._reserved_id = 0
                    continue
                events.append(StreamEvent(DROP, early.utterance_id, note="speech resumed after the pause"))
            utterance_id = self._reserved_id or self._new_id()
            if utterance.final:
                self._reserved_id = 0
                events.append(StreamEvent(FINAL, utterance_id, utterance, speech_end_s))
            else:
                self._reserved_id = utterance_id
                self._early, self._early_published = StreamEvent(EARLY, utterance_id, utterance, speech_end_s), False
                events.append(self._early)
        return events

    def _arrival_of(self, sample: int) -> float:
        """When the chunk holding sample `sample` arrived."""
        for fed, arrived in self._arrivals:
            if fed >= sample:
                return arrived
        return self._last_arrival_s
