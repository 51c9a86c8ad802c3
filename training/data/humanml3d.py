"""Original and Oral audio for HumanML3D / KIT-ML folders a user has (the paper's two audio sets).

Given DATASET in its standard layout (texts/ID.txt, optionally train.txt / val.txt / test.txt),
`speak_dataset` writes one WAV per caption line:

    OUT/original/ID_K.wav   caption K of clip ID, as written (the "Original" set)
    OUT/oral/ID_K.wav       caption K rewritten in a spoken style (the "Oral" set)
    OUT/STYLE/manifest.jsonl, OUT/STYLE/records/ITEM.json, OUT/STYLE/summary.json

OUT defaults to DATASET/audio. Speakers come from the same pool as the built-in corpus,
disjoint between splits; val/test oral rewrites use frames train never sees. Every clip is
a pure function of (seed, clip id), so reruns are idempotent and a killed build resumes.
"""

from __future__ import annotations

import json
import time
import zlib
from functools import partial
from pathlib import Path

import numpy as np

from a2m_core.audio.io import SAMPLE_RATE_HZ, save_wav
from a2m_core.audio.speech import synthesize
from a2m_core.errors import InputError
from a2m_core.files import check_writable, remove_stale_temp_files, write_text
from training.data.captions import read_texts
from training.data.files import run_resumable, write_json
from training.data.llm_rewrite import LLMConfig, LLMRewriter
from training.data.rewrite import clean_caption, rewrite
from training.data.splits import frames_of_split
from training.data.voices import SPLITS, pick_voice, voice_pool, voices_for_split

STYLES = ("original", "oral")


def dataset_clips(dataset: Path) -> dict[str, str]:
    """clip id -> split, from the split files (clips in none of them: train) or from texts/ alone."""
    texts = dataset / "texts"
    if not texts.is_dir():
        raise InputError(f"{dataset} has no texts/ folder; expected a HumanML3D or KIT-ML folder "
                         "(texts/ID.txt with caption#tokens#start#end lines)")
    clips = {p.stem: "train" for p in sorted(texts.glob("*.txt"))}
    if not clips:
        raise InputError(f"{texts} holds no .txt caption files")
    for split in SPLITS:
        path = dataset / f"{split}.txt"
        if path.is_file():
            for name in path.read_text().split():
                if name in clips:
                    clips[name] = split
    return clips


def speak_clip(dataset: Path, out: Path, style: str, seed: int, num_espeak_voices: int, llm: LLMConfig | None,
               item: str) -> dict:
    """Speak every caption of one clip (item = "SPLIT-ID"); returns its record.

    Oral rewrites come from the rule-based rewriter, or from the chat endpoint of `llm` when given.
    """
    split, clip = item.split("-", 1)
    rng = np.random.default_rng([seed, zlib.crc32(clip.encode())])
    try:
        captions = read_texts(dataset / "texts" / f"{clip}.txt")
        if not captions:
            raise ValueError("no caption lines")
    except (ValueError, UnicodeDecodeError) as exc:
        return {"id": clip, "split": split, "skipped": f"unreadable captions: {exc}", "utterances": []}
    voices = voices_for_split(voice_pool(num_espeak_voices), split)
    utterances = []
    for k, caption in enumerate(captions):
        try:
            text = clean_caption(caption.text)
            frame = None
            if style == "oral":
                if llm is None:
                    chosen = rewrite(caption.text, 1, rng, frames_of_split(split))[0]
                else:
                    chosen = LLMRewriter(llm).rewrite(caption.text, 1)[0]
                text, frame = chosen.text, chosen.frame
            voice = pick_voice(voices, rng)
            audio = synthesize(text, voice)
        except InputError as exc:  # a caption no voice can speak: recorded, the rest go on
            utterances.append({"caption_index": k, "skipped": str(exc)})
            continue
        path = out / style / f"{clip}_{k}.wav"
        save_wav(path, audio)
        utterances.append({"path": str(path.relative_to(out)), "style": style, "caption_index": k, "caption": caption.text,
                           "text": text, "frame": frame, "duration_s": len(audio) / SAMPLE_RATE_HZ,
                           "voice": voice.to_json()})
    return {"id": clip, "split": split, "utterances": utterances}


def speak_dataset(dataset: Path, style: str, out: Path | None = None, workers: int = 1, seed: int = 0,
                  num_espeak_voices: int = 48, limit: int | None = None, llm: LLMConfig | None = None) -> dict:
    """Build OUT/STYLE for a HumanML3D / KIT-ML folder; returns the summary also saved beside it.

    `llm`: rewrite the Oral captions through that chat endpoint instead of the rules (not reproducible
    from the seed; the endpoint decides).
    """
    if style not in STYLES:
        raise InputError(f"--style must be one of {STYLES}, got {style!r}")
    dataset = Path(dataset)
    if not dataset.is_dir():
        raise InputError(f"dataset folder not found: {dataset}")
    out = Path(out) if out is not None else dataset / "audio"
    check_writable(out / style)
    remove_stale_temp_files(out / style)
    clips = dataset_clips(dataset)
    items = [f"{split}-{clip}" for clip, split in clips.items()][:limit]
    start = time.perf_counter()
    work = partial(speak_clip, dataset, out, style, seed, num_espeak_voices, llm)
    records = run_resumable(items, work, out / style / "records", workers, f"{style} audio")
    spoken = [dict(u, clip=r["id"], split=r["split"]) for r in records for u in r["utterances"] if "path" in u]
    write_text(out / style / "manifest.jsonl", "".join(json.dumps(u) + "\n" for u in spoken))
    summary = {
        "dataset": str(dataset), "style": style, "clips": len(records),
        "clips_skipped": [r["id"] for r in records if "skipped" in r],
        "captions_skipped": sum("skipped" in u for r in records for u in r["utterances"]),
        "utterances": len(spoken), "speakers": len({u["voice"]["speaker_id"] for u in spoken}),
        "audio_hours": sum(u["duration_s"] for u in spoken) / 3600,
        "build_seconds": time.perf_counter() - start,
    }
    write_json(out / style / "summary.json", summary)
    return summary
