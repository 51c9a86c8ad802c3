"""The built-in instruction corpus: procedural clips with captions, spoken-style rewrites and speech.

Layout (HumanML3D's, so every loader and metric treats it like HumanML3D):

    OUT/new_joint_vecs/ID.npy   (t-1 263) float32 features
    OUT/new_joints/ID.npy       (t-1 22 3) float32 joints recovered from the features
    OUT/texts/ID.txt            captions, `caption#lemma/POS ...#0.0#0.0`
    OUT/oral_texts/ID.txt       spoken-style rewrites, same format (tokens left empty)
    OUT/audio/original/ID_K.wav, OUT/audio/oral/ID_K.wav   16 kHz mono speech
    OUT/audio/manifest.jsonl    one line per utterance: clip, split, style, text, speaker, voice settings
    OUT/Mean.npy, OUT/Std.npy   feature statistics of the train split (HumanML3D's per-group std)
    OUT/train.txt, val.txt, test.txt, all.txt
    OUT/records/ID.json         what was built for each clip (written last: the resume marker)
    OUT/corpus.json             build options and statistics

Every clip is a pure function of (seed, index), so workers, order and restarts do not change
the result. Splits test generalisation: val and test clips are spoken by speakers and in
rewrite frames that train never uses.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache, partial
from pathlib import Path

import numpy as np

from a2m_core.audio.io import SAMPLE_RATE_HZ, save_wav
from a2m_core.audio.speech import synthesize
from a2m_core.errors import InputError
from a2m_core.files import check_writable, remove_stale_temp_files, save_npy, write_text
from a2m_core.motion.features import FeatureCodec
from a2m_core.motion.skeleton import HUMANML3D
from training.data.captions import describe_many, order_pair, write_texts
from training.data.files import run_resumable, write_json
from training.data.plausibility import PlausibilityReport, check_motion
from training.data.rewrite import rewrite
from training.data.sequences import KIND_WEIGHTINGS, OVERLONG, Clip, sample_clip
from training.data.spec import ActionSpec
from training.data.track import FPS
from training.data.splits import frames_of_split, split_of_clip
from training.data.voices import SPLITS, pick_voice, voice_pool, voices_for_split

MAX_SKATE_RATIO = 0.05  # a clip that skates more is redrawn (HumanML3D's fixture clip: 0.136)
MAX_CLIPS = 1_000_000
MAX_DRAWS = 20  # motions drawn for one clip before the build gives up on it
MAX_SEATED_HOLD_S = 5.0


def corpus_codec() -> FeatureCodec:
    """The corpus's feature codec: HumanML3D's, with its yaw wrap fixed.

    The dataset's encoding stores the yaw velocity with the wrong sign on a frame where the facing
    passes straight backwards, so decoding turns the rest of the clip by that step; procedural
    clips turn through that direction often (turn around, spin, walk in a circle). The layout and
    meaning of every channel stay HumanML3D's.
    """
    return FeatureCodec(HUMANML3D, fix_yaw_wrap=True)


def draw_motion(rng: np.random.Generator, codec: FeatureCodec, weighting: str = "kinds",
                seated_hold: int = 0, seated_endings: float = 0.0,
                overlong: str = "redraw") -> tuple[Clip, np.ndarray, PlausibilityReport]:
    """A random clip whose stored form is plausible: (clip, features (t-1 d), report of the stored joints).

    The check runs on the joints decoded from the features (what `new_joints` holds) against the
    motion they were encoded from, so a storage error is redrawn like an implausible motion.
    """
    for _ in range(MAX_DRAWS):
        clip = sample_clip(rng, weighting=weighting, seated_hold=seated_hold, seated_endings=seated_endings,
                           overlong=overlong)
        features = codec.encode(clip.joints)  # (t-1 263)
        report = check_motion(codec.decode(features), MAX_SKATE_RATIO, encoded_from=codec.canonical_joints(clip.joints))
        if not report.problems:
            return clip, features, report
    raise RuntimeError(f"no plausible motion in {MAX_DRAWS} draws ({report.problems})")


@dataclass(frozen=True)
class CorpusConfig:
    """What to build; everything but num_clips must match when a build resumes."""

    num_clips: int
    seed: int = 0
    num_captions: int = 5  # per clip
    num_rewrites: int = 3  # per caption
    num_utterances: int = 3  # per clip: the first speaks a caption (original), the others rewrites (oral)
    num_espeak_voices: int = 48
    audio: bool = True
    kind_weighting: str = "kinds"  # training.data.sequences.KIND_WEIGHTINGS
    seated_hold_s: float = 0.0  # longest random sitting still after a clip's final sit-down
    seated_endings: float = 0.0  # share of clips drawn to end seated (0: as the kind weighting draws them)
    overlong: str = "redraw"  # a chain too long for a clip: training.data.sequences.OVERLONG

    def __post_init__(self) -> None:
        if self.kind_weighting not in KIND_WEIGHTINGS:
            raise InputError(f"--kind-weighting must be one of {', '.join(KIND_WEIGHTINGS)}, "
                             f"got {self.kind_weighting!r}")
        if not 0.0 <= self.seated_hold_s <= MAX_SEATED_HOLD_S:
            raise InputError(f"--seated-hold-s must be between 0 and {MAX_SEATED_HOLD_S:g}, got {self.seated_hold_s}")
        if not 0.0 <= self.seated_endings <= 1.0:
            raise InputError(f"--seated-endings must be a share between 0 and 1, got {self.seated_endings}")
        if self.overlong not in OVERLONG:
            raise InputError(f"--overlong must be one of {', '.join(OVERLONG)}, got {self.overlong!r}")
        if not 1 <= self.num_clips <= MAX_CLIPS:
            raise InputError(f"--clips must be between 1 and {MAX_CLIPS}, got {self.num_clips}")
        if self.num_captions < 1 or self.num_rewrites < 1:
            raise InputError(f"need >= 1 caption and rewrite, got {self.num_captions}, {self.num_rewrites}")
        if not 0 <= self.num_utterances <= self.num_captions * (1 + self.num_rewrites):
            raise InputError(f"--utterances must be 0..{self.num_captions * (1 + self.num_rewrites)}, "
                             f"got {self.num_utterances}")

    def matches(self, other: CorpusConfig) -> bool:
        a, b = asdict(self), asdict(other)
        a.pop("num_clips"), b.pop("num_clips")
        return a == b


def clip_id(index: int) -> str:
    return f"{index:06d}"


def clip_actions(data: Path) -> Callable[[str], tuple[ActionSpec, ...]]:
    """clip -> the actions its record (DATA/records/CLIP.json) lists, in order; records read once each."""
    folder = data / "records"
    if not folder.is_dir():
        raise InputError(f"{folder} not found: selecting clips by their actions needs the built-in corpus's records "
                         "(`a2m data corpus`)")

    @cache
    def actions(clip: str) -> tuple[ActionSpec, ...]:
        path = folder / f"{clip}.json"
        try:
            return tuple(ActionSpec(**a) for a in json.loads(path.read_text())["actions"])
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"bad action record {path}: {exc}; rebuild the corpus") from None

    return actions


def clip_order_pairs(data: Path) -> Callable[[str], tuple[str, str] | None]:
    """clip -> the fixed-wording caption of its actions in order and reversed, or None where they read
    the same (training.data.captions.order_pair)."""
    actions = clip_actions(data)

    def pair(clip: str) -> tuple[str, str] | None:
        return order_pair(actions(clip))

    return pair


def build_clip(out: Path, config: CorpusConfig, item: str) -> dict:
    """Build every file of one clip (all but its record) and return the record."""
    index = int(item)
    rng = np.random.default_rng([config.seed, index])
    split = split_of_clip(index)
    codec = corpus_codec()
    try:
        clip, features, report = draw_motion(rng, codec, config.kind_weighting, round(config.seated_hold_s * FPS),
                                               config.seated_endings, config.overlong)
    except RuntimeError as exc:
        raise RuntimeError(f"clip {item}: {exc}") from None
    captions = describe_many(list(clip.specs), config.num_captions, rng)
    frames = frames_of_split(split)
    rewrites = [rewrite(c.text, config.num_rewrites, rng, frames) for c in captions]
    save_npy(out / "new_joint_vecs" / f"{item}.npy", features)
    save_npy(out / "new_joints" / f"{item}.npy", codec.decode(features))
    write_texts(out / "texts" / f"{item}.txt", captions)
    write_text(out / "oral_texts" / f"{item}.txt",
               "".join(f"{r.text}##0.0#0.0\n" for per_caption in rewrites for r in per_caption))

    utterances = []
    voices = voices_for_split(voice_pool(config.num_espeak_voices), split)
    for k in range(config.num_utterances):
        caption_index = k % len(captions)
        if k == 0:
            style, text, frame = "original", captions[0].text, None
        else:
            chosen = rewrites[caption_index][(k - 1) % len(rewrites[caption_index])]
            style, text, frame = "oral", chosen.text, chosen.frame
        voice = pick_voice(voices, rng)
        path = Path("audio") / style / f"{item}_{k}.wav"
        duration = None
        if config.audio:
            audio = synthesize(text, voice)
            save_wav(out / path, audio)
            duration = len(audio) / SAMPLE_RATE_HZ
        utterances.append({"path": str(path), "style": style, "text": text, "frame": frame,
                           "caption_index": caption_index, "duration_s": duration, "voice": voice.to_json()})
    return {
        "id": item, "split": split, "num_frames": int(features.shape[0]),
        "actions": [asdict(s) for s in clip.specs],
        "captions": [c.text for c in captions],
        "rewrites": [[{"text": r.text, "frame": r.frame} for r in per] for per in rewrites],
        "utterances": utterances,
        "skate_ratio": report.skate_ratio,
    }


def feature_statistics(paths: list[Path], codec: FeatureCodec) -> tuple[np.ndarray, np.ndarray]:
    """Mean and Std as HumanML3D computes them: per-dimension mean; std averaged within each feature group.

    Streams the files (float64 sums), so memory does not grow with the corpus.
    """
    total = total_sq = None
    count = 0
    for path in paths:
        x = np.load(path).astype(np.float64)  # (t d)
        total = x.sum(0) if total is None else total + x.sum(0)
        total_sq = (x**2).sum(0) if total_sq is None else total_sq + (x**2).sum(0)
        count += len(x)
    if not count:
        raise InputError("no training features to compute Mean/Std from; build at least one train clip")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    layout = codec.layout
    for group in (layout.root_yaw_velocity, layout.root_xz_velocity, layout.root_height, layout.ric, layout.rot6d,
                  layout.local_velocity, layout.foot_contacts):
        value = std[group].mean()
        std[group] = value if value > 1e-8 else 1.0  # a constant group: leave it unscaled
    return mean.astype(np.float32), std.astype(np.float32)


def _summary(config: CorpusConfig, records: list[dict], seconds: float) -> dict:
    utterances = [u for r in records for u in r["utterances"]]
    return {
        "config": asdict(config),
        "clips": len(records),
        "clips_per_split": {s: sum(r["split"] == s for r in records) for s in SPLITS},
        "motion_hours": sum(r["num_frames"] for r in records) / FPS / 3600,
        "captions": sum(len(r["captions"]) for r in records),
        "rewrites": sum(len(per) for r in records for per in r["rewrites"]),
        "utterances": len(utterances),
        "speakers": len({u["voice"]["speaker_id"] for u in utterances}),
        "audio_hours": sum(u["duration_s"] or 0.0 for u in utterances) / 3600,
        "action_kinds": len({a["kind"] for r in records for a in r["actions"]}),
        "max_skate_ratio": max((r["skate_ratio"] for r in records), default=0.0),
        "build_seconds": seconds,
    }


def build_corpus(out: Path, config: CorpusConfig, workers: int = 1) -> dict:
    """Build (or finish building) the corpus in `out`; returns the statistics also saved in corpus.json."""
    out = Path(out)
    check_writable(out)
    options = out / "build.json"
    if options.is_file():
        previous = CorpusConfig(**json.loads(options.read_text()))
        if not previous.matches(config):
            raise InputError(f"{out} holds a corpus built with other options ({asdict(previous)}); "
                             "rerun with the same options to resume, or choose a new --out")
    write_json(options, asdict(config))
    remove_stale_temp_files(out)
    start = time.perf_counter()
    items = [clip_id(i) for i in range(config.num_clips)]
    records = run_resumable(items, partial(build_clip, out, config), out / "records", workers, "clips")

    for split in SPLITS:
        write_text(out / f"{split}.txt", "".join(r["id"] + "\n" for r in records if r["split"] == split))
    write_text(out / "all.txt", "".join(r["id"] + "\n" for r in records))
    train = [out / "new_joint_vecs" / f"{r['id']}.npy" for r in records if r["split"] == "train"]
    mean, std = feature_statistics(train or [out / "new_joint_vecs" / f"{records[0]['id']}.npy"],
                                   FeatureCodec(HUMANML3D))
    save_npy(out / "Mean.npy", mean)
    save_npy(out / "Std.npy", std)
    lines = [json.dumps({"clip": r["id"], "split": r["split"], **u}) for r in records for u in r["utterances"]]
    write_text(out / "audio" / "manifest.jsonl", "".join(line + "\n" for line in lines))
    summary = _summary(config, records, time.perf_counter() - start)
    write_json(out / "corpus.json", summary)
    return summary
