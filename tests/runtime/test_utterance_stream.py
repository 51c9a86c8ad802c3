"""The utterance stream on real speech (espeak-ng, Silero VAD), fed as a consumer late by seconds would feed it.

No DDS and no wall clock: a small simulation delivers the chunks and the stall-rule ticks in
the order a stalled consumer sees them, so each case is the same on every run and machine.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from a2m_core.audio.segmentation import SegmenterConfig, UtteranceSegmenter
from a2m_core.audio.vad import SileroVad
from a2m_core.runtime.utterance_stream import DROP, EARLY, FINAL, KEEP, PUBLISH, STALL, UtteranceStream

RATE = 16000
CONFIG = SegmenterConfig(hangover_s=0.5, early_end_s=0.2, max_utterance_s=4.0)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def loud(x: np.ndarray) -> np.ndarray:
    """espeak-ng pads its speech with near-silence: keep the audible part."""
    idx = np.flatnonzero(np.abs(x) > 0.01)
    return x[idx[0]:idx[-1] + 1]


def new_stream(config: SegmenterConfig = CONFIG, publish_after_s: float | None = None) -> UtteranceStream:
    return UtteranceStream(UtteranceSegmenter(SileroVad(), config), itertools.count(1).__next__, stall_s=2.0, tick_s=0.25,
                           publish_after_s=publish_after_s)


def simulate(stream: UtteranceStream, x: np.ndarray, chunk_s: float = 0.1, stalls=(), until_s: float | None = None):
    """The sender sends chunk i at (i + 1) * chunk_s; the consumer handles chunks and ticks (every tick_s, until
    `until_s`) when they are due, except inside each (start, end) of `stalls`: it is frozen then, and on waking
    runs one late tick first (the worst order), then every chunk that queued meanwhile.

    -> [(consumer time, event)]
    """
    step = round(chunk_s * RATE)
    due = [((i // step + 1) * chunk_s, 1, x[i:i + step]) for i in range(0, len(x), step)]
    end = until_s if until_s is not None else due[-1][0] + 3 * stream.stall_s
    due += [(k * stream.tick_s, 0, None) for k in range(1, int(end / stream.tick_s) + 1)]
    woken = []
    for t, order, chunk in sorted(due, key=lambda d: (d[0], d[1])):
        for start, stop in stalls:
            if start <= t < stop:
                t = stop
        woken.append((t, order, chunk))
    out, ticked_at = [], set()
    for t, order, chunk in sorted(woken, key=lambda d: (d[0], d[1])):
        if chunk is None:
            if t in ticked_at:  # ticks that fell into a stall run once, late
                continue
            ticked_at.add(t)
            out += [(t, e) for e in stream.tick(t)]
        else:
            out += [(t, e) for e in stream.push(chunk, t)]
    return out


def outcomes(events) -> list[tuple[int, int, int]]:
    """(id, start, samples) of every utterance that is generated and kept: the FINALs and the kept EARLYs."""
    return [(e.utterance_id, e.utterance.start, len(e.utterance.samples)) for _, e in events if e.kind in (FINAL, KEEP)]


@pytest.fixture(scope="module")
def instruction(speak):
    return np.concatenate([silence(0.5), loud(speak("stand up and raise both arms")), silence(1.0)])


@pytest.mark.parametrize("stall", [(1.0, 4.5), (0.6, 1.2), (1.3, 1.4)])
def test_a_consumer_stalled_mid_speech_still_gets_one_utterance(instruction, stall):
    """The motion node's executor stalled for seconds (model load, a busy machine): chunks queue, nothing is cut."""
    on_time = outcomes(simulate(new_stream(), instruction))
    assert len(on_time) == 1
    late = simulate(new_stream(), instruction, stalls=[stall])
    assert outcomes(late) == on_time
    assert not [e for _, e in late if e.kind == STALL]


def test_chunks_in_any_size_and_bunching_give_the_same_utterance(instruction):
    reference = outcomes(simulate(new_stream(), instruction))
    for chunk_s in (0.02, 0.064, 0.5, 1.3):
        assert outcomes(simulate(new_stream(), instruction, chunk_s=chunk_s)) == reference, chunk_s


def test_a_sender_that_stops_mid_speech_ends_the_utterance_after_stall_s(instruction):
    speech_only = instruction[: -len(silence(1.0))]  # the sender quits right after the last word
    events = simulate(new_stream(), speech_only)
    stalls = [(t, e) for t, e in events if e.kind == STALL]
    assert len(stalls) == 1 and "the sender stopped" in stalls[0][1].note
    last_chunk_s = np.ceil(len(speech_only) / RATE / 0.1) * 0.1
    assert stalls[0][0] >= last_chunk_s + 2.0
    ended = outcomes(events)
    assert len(ended) == 1 and ended[0][1] + ended[0][2] >= len(speech_only) - 0.05 * RATE


def test_an_early_start_is_kept_or_dropped_and_ids_count_utterances_out(speak):
    a, b = loud(speak("walk forward")), loud(speak("then turn left"))
    x = np.concatenate([silence(0.5), a, silence(0.3), b, silence(1.5), a, silence(1.0)])
    events = [e for _, e in simulate(new_stream(), x)]
    kinds = [(e.kind, e.utterance_id) for e in events]
    # a pause of 0.3 s: generation starts early, speech resumes, that try is dropped; the utterance keeps its id
    assert kinds == [(EARLY, 1), (DROP, 1), (EARLY, 1), (KEEP, 1), (EARLY, 2), (KEEP, 2)], kinds
    kept = [e for e in events if e.kind == KEEP][0]
    assert kept.utterance.start < 0.5 * RATE and kept.utterance.speech_end > (0.5 + 0.3) * RATE + len(a)


def test_a_pause_past_publish_after_s_publishes_and_a_shorter_one_stays_speculation(speak):
    """early_end_s 0.06 starts the work, publish_after_s 0.25 makes it public, hangover_s 0.5 ends the utterance."""
    a, b = loud(speak("walk forward")), loud(speak("then turn left"))
    config = SegmenterConfig(hangover_s=0.5, early_end_s=0.06, max_utterance_s=4.0)
    for pause_s, published in ((0.15, False), (0.4, True)):
        x = np.concatenate([silence(0.5), a, silence(pause_s), b, silence(1.0)])
        events = [e for _, e in simulate(new_stream(config, publish_after_s=0.25), x, chunk_s=0.02)]
        at_pause = [(e.kind, e.utterance_id) for e in events][:3]
        assert at_pause == [(EARLY, 1)] + ([(PUBLISH, 1), (DROP, 1)] if published else [(DROP, 1), (EARLY, 1)]), at_pause
        assert [(e.kind, e.utterance_id) for e in events][-3:] == [(EARLY, 1), (PUBLISH, 1), (KEEP, 1)]
        early = [e for e in events if e.kind == EARLY][-1]
        assert early.utterance.speech_end > (0.5 + pause_s) * RATE + len(a)  # the published answer holds both parts
    with pytest.raises(ValueError, match="publish_after_s"):
        new_stream(publish_after_s=-1.0)


def test_long_speech_is_cut_into_parts_that_are_all_generated(speak):
    sentence = loud(speak("keep talking about motion without a pause"))
    x = np.concatenate([silence(0.5)] + [sentence, silence(0.1)] * 8 + [silence(1.0)])
    events = [e for _, e in simulate(new_stream(), x, chunk_s=0.5)]
    parts = [e for e in events if e.kind in (FINAL, KEEP)]
    assert len(parts) >= 4
    assert [e.utterance_id for e in parts] == list(range(1, len(parts) + 1))
    assert all(e.utterance.truncated for e in parts[:-1]) and not parts[-1].utterance.truncated
    for before, after in zip(parts, parts[1:]):
        assert after.utterance.start == before.utterance.start + len(before.utterance.samples)
    assert parts[-1].utterance.speech_end >= len(x) - 1.2 * RATE


def test_stall_settings_are_checked():
    with pytest.raises(ValueError, match="stall_s"):
        UtteranceStream(UtteranceSegmenter(SileroVad()), itertools.count(1).__next__, stall_s=0)
