"""Original/Oral audio for a HumanML3D-style folder, on a tiny fake tree made here."""

import json

import pytest
import soundfile as sf

from a2m_core.errors import InputError
from training.data.humanml3d import dataset_clips, speak_dataset
from training.data.llm_rewrite import LLMConfig
from training.data.rewrite import content_words
from training.data.splits import HELD_OUT_FRAMES


def _fake_dataset(root):
    (root / "texts").mkdir(parents=True)
    (root / "texts" / "000001.txt").write_text(
        "a man kicks with his left leg.#a/DET man/NOUN kick/VERB with/ADP his/DET left/ADJ leg/NOUN#0.0#0.0\n"
        "a person kicks in the air, runs forward and trots back#a/DET person/NOUN#0.0#nan\n")
    (root / "texts" / "000002.txt").write_text("someone waves with both hands.#someone/PRON wave/VERB#0.0#0.0\n")
    (root / "texts" / "M000002.txt").write_text("\u00bf\u00bf\u00bf#x#0.0#0.0\nthe person bows.#x#0.0#0.0\n")
    (root / "texts" / "000003.txt").write_text("")  # a broken clip: no captions
    (root / "train.txt").write_text("000001\n000003\n")
    (root / "test.txt").write_text("000002\nM000002\n")
    return root


def test_splits_come_from_the_split_files(tmp_path):
    clips = dataset_clips(_fake_dataset(tmp_path / "HumanML3D"))
    assert clips == {"000001": "train", "000002": "test", "000003": "train", "M000002": "test"}
    with pytest.raises(InputError, match="texts/"):
        dataset_clips(tmp_path)


@pytest.mark.parametrize("style", ["original", "oral"])
def test_speaks_every_caption_and_is_idempotent(tmp_path, style):
    dataset = _fake_dataset(tmp_path / "HumanML3D")
    summary = speak_dataset(dataset, style, workers=2)
    assert summary["utterances"] == 4 and summary["clips_skipped"] == ["000003"]
    assert summary["captions_skipped"] == 1  # the caption with no English words
    lines = [json.loads(x) for x in (dataset / "audio" / style / "manifest.jsonl").read_text().splitlines()]
    assert sorted(u["path"] for u in lines) == sorted(
        f"{style}/{c}.wav" for c in ("000001_0", "000001_1", "000002_0", "M000002_1"))
    for u in lines:
        info = sf.info(str(dataset / "audio" / u["path"]))
        assert (info.samplerate, info.channels) == (16000, 1) and info.frames > 4000
        if style == "original":
            assert u["text"] == u["caption"].lower().rstrip(".")
        else:
            assert content_words(u["text"]) == content_words(u["caption"])  # meaning kept
            assert not u["text"].lower().startswith(("a man", "a person", "someone", "the person"))
            if u["split"] == "test":
                assert u["frame"] in HELD_OUT_FRAMES
    before = {p: p.stat().st_mtime_ns for p in (dataset / "audio" / style).glob("*.wav")}
    again = speak_dataset(dataset, style, workers=1)
    assert again["utterances"] == 4
    assert {p: p.stat().st_mtime_ns for p in (dataset / "audio" / style).glob("*.wav")} == before


def test_bad_dataset_input(tmp_path):
    with pytest.raises(InputError, match="not found"):
        speak_dataset(tmp_path / "missing", "oral")
    with pytest.raises(InputError, match="--style"):
        speak_dataset(_fake_dataset(tmp_path / "H"), "shouted")


def test_oral_rewrites_from_an_llm_endpoint(tmp_path, endpoint):
    """The oral set through the LLM client (the endpoint is the local test double in conftest.py)."""
    endpoint.responses = [(200, endpoint.chat("Please do what I describe, step by step."))]
    dataset = _fake_dataset(tmp_path / "HumanML3D")
    config = LLMConfig(base_url=endpoint.url, model="m", max_retries=0)
    summary = speak_dataset(dataset, "oral", workers=1, llm=config)
    assert summary["utterances"] == 4
    lines = [json.loads(x) for x in (dataset / "audio" / "oral" / "manifest.jsonl").read_text().splitlines()]
    assert {u["text"] for u in lines} == {"Please do what I describe, step by step."}
    assert {u["frame"] for u in lines} == {"llm"}
    asked = [body["messages"][1]["content"] for _, _, body in endpoint.requests]
    assert any("kicks with his left leg" in a for a in asked)
