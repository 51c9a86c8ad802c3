"""Corpus builder on a tiny corpus: layout, formats, statistics, splits, determinism, resume, bad input."""

import json

import numpy as np
import pytest
import soundfile as sf

from a2m_core.errors import InputError
from a2m_core.motion.features import FeatureCodec, Normalizer
from a2m_core.motion.skeleton import HUMANML3D
from training.data.captions import read_texts
from training.data.corpus import CorpusConfig, build_clip, build_corpus, feature_statistics
from training.data.splits import HELD_OUT_FRAMES
from training.data.voices import voice_pool, voices_for_split


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    summary = build_corpus(out, CorpusConfig(num_clips=10, seed=3), workers=2)
    return out, summary


def test_layout_is_humanml3d(corpus):
    out, summary = corpus
    ids = (out / "all.txt").read_text().split()
    assert len(ids) == 10 == summary["clips"]
    splits = {s: (out / f"{s}.txt").read_text().split() for s in ("train", "val", "test")}
    assert sorted(sum(splits.values(), [])) == sorted(ids) and all(splits.values())
    codec = FeatureCodec(HUMANML3D)
    for clip in ids:
        features = np.load(out / "new_joint_vecs" / f"{clip}.npy")
        joints = np.load(out / "new_joints" / f"{clip}.npy")
        assert features.dtype == np.float32 and features.shape[1] == 263 and 40 <= len(features) <= 195
        assert joints.shape == (len(features), 22, 3)
        assert np.abs(codec.decode(features) - joints).max() < 1e-5
        captions = read_texts(out / "texts" / f"{clip}.txt")
        assert len(captions) >= 5 and len({c.text for c in captions}) == len(captions)
        oral = (out / "oral_texts" / f"{clip}.txt").read_text().splitlines()
        assert len(oral) >= 3 * len(captions)
    mean, std = np.load(out / "Mean.npy"), np.load(out / "Std.npy")
    assert mean.shape == std.shape == (263,) and (std > 0).all()
    normalizer = Normalizer(mean, std)
    assert np.isfinite(normalizer.normalize(np.load(out / "new_joint_vecs" / f"{ids[0]}.npy"))).all()


def test_audio_manifest_and_held_out_speakers_and_frames(corpus):
    out, summary = corpus
    lines = [json.loads(line) for line in (out / "audio" / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == 30 == summary["utterances"]
    pool = voice_pool()
    train_speakers = {v.speaker_id for v in voices_for_split(pool, "train")}
    for u in lines:
        info = sf.info(str(out / u["path"]))
        assert (info.samplerate, info.channels) == (16000, 1) and info.frames > 8000
        assert abs(info.frames / 16000 - u["duration_s"]) < 1e-3
        assert u["text"] and u["voice"]["speaker_id"]
        assert u["style"] == ("original" if u["path"].endswith("_0.wav") else "oral")
        if u["split"] != "train":
            assert u["voice"]["speaker_id"] not in train_speakers
            assert u["frame"] is None or u["frame"] in HELD_OUT_FRAMES
        elif u["frame"] is not None:
            assert u["frame"] not in HELD_OUT_FRAMES
    assert summary["audio_hours"] > 0 and summary["max_skate_ratio"] <= 0.05


def test_clips_are_deterministic_and_resume_skips_finished_ones(corpus, tmp_path):
    out, _ = corpus
    config = CorpusConfig(num_clips=10, seed=3, audio=False)
    record = build_clip(tmp_path, config, "000004")
    assert np.array_equal(np.load(tmp_path / "new_joint_vecs" / "000004.npy"),
                          np.load(out / "new_joint_vecs" / "000004.npy"))
    stamp = (out / "records" / "000004.json").stat().st_mtime_ns
    summary = build_corpus(out, CorpusConfig(num_clips=10, seed=3), workers=1)  # already complete: no work
    assert (out / "records" / "000004.json").stat().st_mtime_ns == stamp
    assert summary["clips"] == 10
    assert record["captions"] == json.loads((out / "records" / "000004.json").read_text())["captions"]


def test_other_options_in_the_same_folder_are_refused(corpus):
    out, _ = corpus
    with pytest.raises(InputError, match="other options"):
        build_corpus(out, CorpusConfig(num_clips=10, seed=4), workers=1)


def test_bad_options_and_unwritable_folder(tmp_path):
    with pytest.raises(InputError, match="--clips"):
        CorpusConfig(num_clips=0)
    with pytest.raises(InputError, match="--utterances"):
        CorpusConfig(num_clips=1, num_utterances=999)
    with pytest.raises(InputError, match="--kind-weighting"):
        CorpusConfig(num_clips=1, kind_weighting="uniform")
    with pytest.raises(InputError, match="--seated-hold-s"):
        CorpusConfig(num_clips=1, seated_hold_s=-1.0)
    for share in (-0.1, 1.5, float("nan")):
        with pytest.raises(InputError, match="--seated-endings"):
            CorpusConfig(num_clips=1, seated_endings=share)
    with pytest.raises(InputError, match="--overlong"):
        CorpusConfig(num_clips=1, overlong="trim")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(InputError, match="cannot create folder"):  # works as root too, unlike chmod
        build_corpus(blocker / "corpus", CorpusConfig(num_clips=1), workers=1)
    assert blocker.read_text() == "not a folder"


def test_std_is_averaged_per_feature_group(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.npy"
        np.save(path, rng.normal(size=(50, 263)).astype(np.float32) * np.linspace(0.5, 2, 263))
        paths.append(path)
    mean, std = feature_statistics(paths, FeatureCodec(HUMANML3D))
    layout = FeatureCodec(HUMANML3D).layout
    assert np.allclose(std[layout.ric], std[layout.ric][0]) and not np.isclose(std[0], std[layout.ric][0])
    data = np.concatenate([np.load(p) for p in paths])
    assert np.allclose(mean, data.mean(0), atol=1e-5)
