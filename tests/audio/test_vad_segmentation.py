"""VAD and utterance segmentation on espeak-ng speech, silence and noise."""

from __future__ import annotations

import numpy as np
import pytest

from a2m_core.audio.segmentation import SegmenterConfig, UtteranceSegmenter
from a2m_core.audio.vad import SileroVad, WebRtcVad, make_vad
from a2m_core.errors import InputError

RATE = 16000


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def add_noise(x: np.ndarray, snr_db: float, speech_power: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (x + rng.normal(0, np.sqrt(speech_power / 10 ** (snr_db / 10)), len(x))).astype(np.float32)


def stream_of(parts: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Concatenate; return the (first, last) audible sample of every non-silent part.

    espeak-ng pads its speech with up to 0.3 s of near-silence, so spans come from the level.
    """
    spans, pos = [], 0
    for p in parts:
        if np.any(p):
            loud = np.flatnonzero(np.abs(p) > 0.01)
            spans.append((pos + loud[0], pos + loud[-1] + 1))
        pos += len(p)
    return np.concatenate(parts), spans


def feed(segmenter: UtteranceSegmenter, x: np.ndarray, chunk: int = 1000):
    out = []
    for i in range(0, len(x), chunk):
        out += segmenter.push(x[i:i + chunk])
    return out + segmenter.flush()


@pytest.fixture(scope="module")
def two_instructions(speak):
    a = speak("walk forward, then wave with your right hand")
    b = speak("jump twice", voice="en-gb-scotland+m3")
    return stream_of([silence(1.0), a, silence(1.5), b, silence(1.0)])


@pytest.mark.parametrize("backend,end_tol_s", [("silero", 0.1), ("webrtc", 0.25)])  # webrtc trails speech
def test_segmenter_finds_each_instruction(two_instructions, backend, end_tol_s):
    x, spans = two_instructions
    vad = SileroVad() if backend == "silero" else WebRtcVad(aggressiveness=3)
    utts = feed(UtteranceSegmenter(vad), x)
    assert len(utts) == 2, [(u.start, u.speech_end) for u in utts]
    for u, (start, end) in zip(utts, spans):
        # the utterance starts with pre-roll (0.3 s) before the detected onset, which is
        # detected within a frame or two; speech ends where the audible signal ends
        assert start - 0.4 * RATE <= u.start <= start
        assert end - 0.1 * RATE <= u.speech_end <= end + end_tol_s * RATE
        assert not u.truncated
        np.testing.assert_array_equal(u.samples, x[u.start:u.start + len(u.samples)])


def test_silero_ignores_noise_and_keeps_speech_at_10db(two_instructions):
    x, spans = two_instructions
    power = float(np.mean(np.concatenate([x[s:e] for s, e in spans]) ** 2))
    noisy = add_noise(x, snr_db=10, speech_power=power)
    utts = feed(UtteranceSegmenter(SileroVad()), noisy)
    assert len(utts) == 2
    assert feed(UtteranceSegmenter(SileroVad()), add_noise(silence(5.0), 10, power)) == []


def test_long_speech_is_cut_into_consecutive_parts_and_memory_stays_bounded(speak):
    sentence = speak("keep talking about motion without a pause")
    x = np.concatenate([sentence] * 12)  # about 25 s of speech, no pause long enough to end it
    config = SegmenterConfig(max_utterance_s=4.0, hangover_s=0.5)
    seg = UtteranceSegmenter(SileroVad(), config)
    utts = []
    for i in range(0, len(x), 1600):
        utts += seg.push(x[i:i + 1600])
        held = sum(len(f) for f in seg._frames) + sum(len(f) for f in seg._pre_roll)
        assert held <= (config.max_utterance_s + config.pre_roll_s) * RATE + 1024
    utts += seg.flush()
    assert len(utts) >= 6, [(u.start, u.duration_s) for u in utts]
    assert all(u.truncated and u.duration_s == pytest.approx(4.0, abs=0.05) for u in utts[:-1])
    assert not utts[-1].truncated
    # nothing of the speech is skipped: each part starts where the one before ended
    for before, after in zip(utts, utts[1:]):
        assert after.start == before.start + len(before.samples)
    np.testing.assert_array_equal(np.concatenate([u.samples for u in utts]), x[utts[0].start:utts[-1].start + len(utts[-1].samples)])
    assert utts[-1].speech_end >= len(x) - 0.3 * RATE


def test_an_early_utterance_at_a_short_pause_is_the_final_one_unless_speech_resumes(speak):
    def loud(x):
        idx = np.flatnonzero(np.abs(x) > 0.01)
        return x[idx[0]:idx[-1] + 1]

    a, b = loud(speak("walk forward")), loud(speak("then turn left"))
    x = np.concatenate([silence(0.5), a, silence(0.3), b, silence(1.0)])  # 0.3 s: past early_end_s, within hangover_s
    config = SegmenterConfig(hangover_s=0.5, early_end_s=0.2)
    utts = feed(UtteranceSegmenter(SileroVad(), config), x)
    early = [u for u in utts if not u.final]
    final = [u for u in utts if u.final]
    assert len(final) == 1 and len(early) == 2, [(u.start, u.speech_end, u.final) for u in utts]
    # the first early one ends inside the pause (void: speech resumed); the second is the final one, sample for sample
    assert early[0].speech_end < 0.5 * RATE + len(a) + 0.3 * RATE
    assert (early[1].start, early[1].speech_end) == (final[0].start, final[0].speech_end)
    np.testing.assert_array_equal(early[1].samples, final[0].samples)
    # without early_end_s the same audio gives the same one utterance
    plain = feed(UtteranceSegmenter(SileroVad(), SegmenterConfig(hangover_s=0.5)), x)
    assert [(u.start, u.speech_end) for u in plain] == [(final[0].start, final[0].speech_end)]


def test_short_clicks_are_not_utterances():
    click = np.zeros(RATE, np.float32)
    click[RATE // 2:RATE // 2 + 80] = 0.9
    assert feed(UtteranceSegmenter(SileroVad()), np.tile(click, 3)) == []


def test_make_vad_backends():
    assert make_vad("auto").name == "silero"
    assert make_vad("webrtc").name == "webrtc"
    with pytest.raises(InputError, match="VAD backend"):
        make_vad("whisper")
    with pytest.raises(InputError, match="not found"):
        SileroVad("/nonexistent/model.onnx")


def test_config_is_validated():
    with pytest.raises(ValueError, match="neg_threshold"):
        SegmenterConfig(threshold=0.3, neg_threshold=0.5)
    with pytest.raises(ValueError, match="max_utterance_s"):
        SegmenterConfig(max_utterance_s=0.1)
    with pytest.raises(ValueError, match="early_end_s"):
        SegmenterConfig(hangover_s=0.3, early_end_s=0.4)
