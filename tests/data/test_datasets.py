"""Utterance-level (audio, motion) datasets on a tiny corpus and a fake HumanML3D tree with real speech."""

import json

import numpy as np
import pytest
import torch

from a2m_core.errors import InputError
from training.data.augment import add_noise, snr_db
from training.data.corpus import CorpusConfig, build_corpus
from training.data.datasets import FeatureCache, MotionAudioConfig, MotionAudioDataset, collate
from training.data.humanml3d import speak_dataset


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    build_corpus(out, CorpusConfig(num_clips=3, seed=1, num_utterances=2), workers=1)
    return out


def test_corpus_items_and_batches(corpus):
    data = MotionAudioDataset(corpus, MotionAudioConfig(split="train"))
    assert len(data) == 6  # 3 train clips x 2 utterances
    item = data[0]
    assert item["motion"].shape == (196, 263) and item["motion"].dtype == torch.float32
    assert item["length"] % 4 == 0 and 36 <= item["length"] <= 196
    assert torch.all(item["motion"][item["length"]:] == 0) and torch.any(item["motion"][: item["length"]] != 0)
    assert item["audio"].ndim == 1 and len(item["audio"]) > 16000
    assert item["caption"] and item["text"] and item["speaker"].startswith(("espeak-ng:", "festival:"))
    batch = collate([data[i] for i in range(4)])
    assert batch["motion"].shape == (4, 196, 263) and batch["audio"].shape[0] == 4
    assert batch["audio_len"].max() == batch["audio"].shape[1] and len(batch["speaker"]) == 4
    oral = MotionAudioDataset(corpus, MotionAudioConfig(split="train", styles=("oral",)))
    assert len(oral) == 3 and all(e.audio.parent.name == "oral" for e in oral.entries)


def test_audio_transform_augments_each_read(corpus):
    data = MotionAudioDataset(corpus, MotionAudioConfig(split="train"),
                              audio_transform=lambda x, rng: add_noise(x, 5.0, rng))
    clean = MotionAudioDataset(corpus, MotionAudioConfig(split="train"))[0]["audio"].numpy()
    noisy = data[0]["audio"].numpy()
    assert noisy.shape == clean.shape and abs(snr_db(clean, noisy - clean) - 5.0) < 0.1
    with pytest.raises(ValueError, match="cache"):
        MotionAudioDataset(corpus, MotionAudioConfig(split="train"), audio_transform=lambda x, rng: x,
                           cache=FeatureCache(corpus, lambda x: x, {}))


def test_dataloader_workers_draw_different_crops(corpus):
    manifest = corpus / "audio" / "manifest.jsonl"
    data = MotionAudioDataset(corpus, MotionAudioConfig(split="train"), manifests=[manifest, manifest])
    half = len(data) // 2  # entry i and i + half are the same utterance
    order = [i for pair in zip(range(half), range(half, 2 * half)) for i in pair]
    loader = torch.utils.data.DataLoader(data, batch_size=1, sampler=order, num_workers=2, collate_fn=collate)
    items = list(loader)  # worker 0 gets the first copy of each utterance, worker 1 the second
    same = [torch.equal(a["motion"], b["motion"]) for a, b in zip(items[0::2], items[1::2])]
    assert not all(same)  # one shared random stream would crop both copies alike
    data.rng = np.random.default_rng(5)  # a caller's generator is kept (per-item seeding)
    first = data[0]["motion"]
    data.rng = np.random.default_rng(5)
    assert torch.equal(data[0]["motion"], first)


def test_evaluation_takes_the_clip_from_its_start(corpus):
    data = MotionAudioDataset(corpus, MotionAudioConfig(split="train", random_crop=False))
    raw = np.load(corpus / "new_joint_vecs" / f"{data.entries[0].clip}.npy")
    item = data[0]
    expected = data.normalizer.normalize(raw[: item["length"]])
    assert np.allclose(item["motion"][: item["length"]].numpy(), expected)
    assert item["length"] == min(len(raw), 196) // 4 * 4


def test_feature_cache_is_keyed_by_frontend_config(corpus, tmp_path):
    calls = []

    def frontend(samples):  # a stand-in front-end: RMS per 20 ms frame, (f 1)
        calls.append(1)
        frames = samples[: len(samples) // 320 * 320].reshape(-1, 320)
        return np.sqrt((frames**2).mean(1, keepdims=True))

    cache = FeatureCache(tmp_path, frontend, {"name": "rms", "hop": 320})
    data = MotionAudioDataset(corpus, MotionAudioConfig(split="train"), cache=cache)
    first = data[0]["audio_features"]
    assert first.shape[1] == 1 and len(calls) == 1
    assert torch.equal(data[0]["audio_features"], first) and len(calls) == 1  # from the cache
    other = MotionAudioDataset(corpus, MotionAudioConfig(split="train"),
                               cache=FeatureCache(tmp_path, frontend, {"name": "rms", "hop": 160}))
    other[0]
    assert len(calls) == 2  # another config: computed again
    batch = collate([data[0], data[1]])
    assert batch["audio_features"].shape[0] == 2 and "features_len" in batch


def _fake_dataset(root, dim):
    rng = np.random.default_rng(0)
    (root / "texts").mkdir(parents=True)
    (root / "new_joint_vecs").mkdir()
    np.save(root / "new_joint_vecs" / "000001.npy", rng.normal(size=(120, dim)).astype(np.float32))
    np.save(root / "new_joint_vecs" / "000002.npy", rng.normal(size=(20, dim)).astype(np.float32))  # too short
    (root / "texts" / "000001.txt").write_text("a person waves.#a/DET#0.0#0.0\n"
                                               "a person jumps.#a/DET#1.0#4.0\n")
    (root / "texts" / "000002.txt").write_text("a person bows.#a/DET#0.0#0.0\n")
    (root / "train.txt").write_text("000001\n000002\n")
    np.save(root / "Mean.npy", np.zeros(dim, np.float32))
    np.save(root / "Std.npy", np.ones(dim, np.float32))
    return root


@pytest.mark.parametrize("dim, fps, min_len", [(263, 20, 40), (251, 12.5, 24)])  # HumanML3D, KIT-ML
def test_dataset_folder_with_sub_clip_captions(tmp_path, dim, fps, min_len):
    root = _fake_dataset(tmp_path / "data", dim)
    speak_dataset(root, "original", workers=1)
    data = MotionAudioDataset(root, MotionAudioConfig(split="train", random_crop=False, min_motion_len=min_len))
    start, stop = int(1.0 * fps), int(4.0 * fps)
    assert [(e.clip, e.start, e.stop) for e in data.entries] == [("000001", 0, 120), ("000001", start, stop)]
    item = data[1]
    raw = np.load(root / "new_joint_vecs" / "000001.npy")
    length = (stop - start) // 4 * 4
    assert item["length"] == length and item["motion"].shape == (196, dim)
    assert np.allclose(item["motion"][:length].numpy(), raw[start:start + length], atol=1e-6)
    assert item["caption"] == "a person jumps."


def test_bad_dataset_folders(tmp_path, corpus):
    with pytest.raises(InputError, match="train.txt"):
        MotionAudioDataset(tmp_path, MotionAudioConfig(split="train"))
    with pytest.raises(ValueError, match="min_motion_len"):
        MotionAudioConfig(split="train", min_motion_len=0)
    broken = tmp_path / "manifest.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(InputError, match="manifest"):
        MotionAudioDataset(corpus, MotionAudioConfig(split="train"), manifests=[broken])
    lines = (corpus / "audio" / "manifest.jsonl").read_text().splitlines()
    gone = tmp_path / "gone.jsonl"
    gone.write_text(json.dumps(dict(json.loads(lines[0]), path="audio/oral/nothing.wav")) + "\n")
    data = MotionAudioDataset(corpus, MotionAudioConfig(split=json.loads(lines[0])["split"]), manifests=[gone])
    with pytest.raises(InputError, match="missing"):
        data[0]


def _rms_frontend(samples):  # a stand-in front-end: RMS per 20 ms frame, (f 1)
    frames = samples[: len(samples) // 320 * 320].reshape(-1, 320)
    return np.sqrt((frames**2).mean(1, keepdims=True))


def test_feature_cache_holds_seeded_renderings_beside_the_clean_file(corpus, tmp_path):
    def louder(samples, rng):
        return samples * float(rng.uniform(2.0, 3.0))

    cache = FeatureCache(tmp_path / "one", _rms_frontend, {"name": "rms"}, variants=3, transform=louder)
    data = MotionAudioDataset(corpus, MotionAudioConfig(split="train"))
    entry = data.entries[0]
    clean = _rms_frontend(data[0]["audio"].numpy())

    def load(path):
        import soundfile as sf
        return sf.read(str(path), dtype="float32")[0]

    assert np.allclose(cache.features(entry.audio, load, 0), clean)
    one, two = cache.features(entry.audio, load, 1), cache.features(entry.audio, load, 2)
    ratio_one, ratio_two = float(np.median(one / clean)), float(np.median(two / clean))
    assert 2.0 <= ratio_one <= 3.0 and 2.0 <= ratio_two <= 3.0 and ratio_one != ratio_two
    again = FeatureCache(tmp_path / "other", _rms_frontend, {"name": "rms"}, variants=3, transform=louder)
    assert np.array_equal(again.features(entry.audio, load, 1), one)  # seeded by file and variant
    assert len(list((tmp_path / "one").rglob(f"*_{louder.__name__}1.npy"))) == 1
    with pytest.raises(ValueError, match="out of range"):
        cache.features(entry.audio, load, 3)
    with pytest.raises(ValueError, match="transform"):
        FeatureCache(tmp_path, _rms_frontend, {}, variants=2)
    reads = MotionAudioDataset(corpus, MotionAudioConfig(split="train"), cache=cache)
    seen = set()
    for seed in range(12):
        reads.rng = np.random.default_rng(seed)
        seen.add(round(float(np.median(reads[0]["audio_features"].numpy() / clean)), 4))
    assert len(seen) == 3  # every read draws one of the three renderings


def test_engines_select_the_utterances_of_a_speech_engine(corpus):
    every = MotionAudioDataset(corpus, MotionAudioConfig(split="train"))
    by_engine = {engine: MotionAudioDataset(corpus, MotionAudioConfig(split="train", engines=(engine,))).entries
                 for engine in {e.speaker.split(":")[0] for e in every.entries}}
    assert sum(len(v) for v in by_engine.values()) == len(every)
    for engine, entries in by_engine.items():
        assert all(e.speaker.startswith(engine + ":") for e in entries)
    with pytest.raises(ValueError, match="engines"):
        MotionAudioConfig(split="train", engines=("say",))


def test_feature_cache_fill_computes_each_missing_rendering_once_in_batches(corpus, tmp_path):
    def louder(samples, rng):
        return samples * float(rng.uniform(2.0, 3.0))

    calls = []

    def batch_frontend(clips):
        calls.append(len(clips))
        return [_rms_frontend(c) for c in clips]

    data = MotionAudioDataset(corpus, MotionAudioConfig(split="train"))
    paths = sorted({e.audio for e in data.entries})
    cache = FeatureCache(tmp_path, lambda audio: pytest.fail("fill should have computed it"), {"name": "rms"},
                         variants=2, transform=louder)
    assert cache.fill(paths, data.load_audio, batch_frontend, batch_size=4, progress=False) == 2 * len(paths)
    assert sum(calls) == 2 * len(paths) and max(calls) == 4
    assert cache.fill(paths, data.load_audio, batch_frontend, progress=False) == 0  # nothing left to do
    one_by_one = FeatureCache(tmp_path / "single", _rms_frontend, {"name": "rms"}, variants=2, transform=louder)
    for path in paths:
        for variant in (0, 1):
            assert np.array_equal(cache.features(path, data.load_audio, variant),
                                  one_by_one.features(path, data.load_audio, variant))
