"""`a2m data ...`: build the instruction corpus, speak HumanML3D / KIT-ML captions, rewrite, add noise."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from a2m_core.errors import InputError


def _default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _corpus(args: argparse.Namespace) -> int:
    from training.data.corpus import CorpusConfig, build_corpus

    config = CorpusConfig(num_clips=args.clips, seed=args.seed, num_utterances=args.utterances,
                          num_espeak_voices=args.voices, audio=not args.no_audio,
                          kind_weighting=args.kind_weighting, seated_hold_s=args.seated_hold_s,
                          seated_endings=args.seated_endings, overlong=args.overlong)
    s = build_corpus(args.out, config, workers=args.workers)
    print(f"{args.out}: {s['clips']} clips ({s['clips_per_split']}), {s['motion_hours']:.2f} h of motion, "
          f"{s['action_kinds']} action kinds, {s['captions']} captions, {s['rewrites']} rewrites, "
          f"{s['utterances']} utterances by {s['speakers']} speakers ({s['audio_hours']:.2f} h of audio), "
          f"max foot-skating ratio {s['max_skate_ratio']:.3f}, {s['build_seconds']:.0f} s")
    return 0


def _speak(args: argparse.Namespace) -> int:
    from training.data.humanml3d import speak_dataset

    llm = None
    if args.llm:
        from training.data.llm_rewrite import LLMConfig

        if args.style != "oral":
            raise InputError("--llm rewrites captions, which only the oral style uses; add --style oral")
        llm = LLMConfig.from_env()
    s = speak_dataset(args.dataset, args.style, out=args.out, workers=args.workers, seed=args.seed,
                      num_espeak_voices=args.voices, limit=args.limit, llm=llm)
    print(f"{args.style}: {s['utterances']} utterances of {s['clips']} clips by {s['speakers']} speakers "
          f"({s['audio_hours']:.2f} h), {len(s['clips_skipped'])} clips and {s['captions_skipped']} captions "
          f"skipped, {s['build_seconds']:.0f} s")
    return 0


def _rewrite(args: argparse.Namespace) -> int:
    import numpy as np

    if args.llm:
        from training.data.llm_rewrite import LLMConfig, LLMRewriter

        rewrites = LLMRewriter(LLMConfig.from_env()).rewrite(args.caption, args.num)
    else:
        from training.data.rewrite import rewrite

        rewrites = rewrite(args.caption, args.num, np.random.default_rng(args.seed))
    for r in rewrites:
        print(f"{r.frame}\t{r.text}")
    return 0


def _noise(args: argparse.Namespace) -> int:
    import numpy as np

    from a2m_cli.paths import check_distinct, output_path
    from a2m_core.audio.io import load_audio, save_wav
    from training.data.augment import add_noise, snr_db

    check_distinct({"--out": output_path(args.out, (".wav",))}, {"INPUT": args.input, "--noise": args.noise})
    speech = load_audio(args.input)
    noise = load_audio(args.noise, speech.sample_rate_hz).samples if args.noise else None
    noisy = add_noise(speech.samples, args.snr, np.random.default_rng(args.seed), noise=noise)
    peak = float(np.abs(noisy).max())
    if peak > 1.0:  # scale both parts alike: the SNR stays exact, the WAV does not clip
        noisy = noisy / peak
        print(f"scaled by {1 / peak:.3f} to avoid clipping")
    save_wav(args.out, noisy, speech.sample_rate_hz)
    scale = 1.0 / peak if peak > 1.0 else 1.0
    print(f"{args.out}: SNR {snr_db(speech.samples * scale, noisy - speech.samples * scale):.2f} dB")
    return 0


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="build the instruction corpus and audio datasets",
                                 description="Build the built-in instruction corpus, speak HumanML3D / KIT-ML "
                                             "captions (Original and Oral sets), rewrite captions, add noise.")
    commands = data.add_subparsers(dest="data_command", metavar="COMMAND")

    corpus = commands.add_parser(
        "corpus", help="build the procedural instruction corpus (HumanML3D layout + speech)",
        description="Procedural clips of 1-3 actions with captions, spoken-style rewrites and speech by many "
                    "synthetic speakers, in HumanML3D's layout. Resumable: rerun the same command after an "
                    "interruption and it continues where it stopped.")
    corpus.add_argument("--out", type=Path, required=True, help="output folder")
    corpus.add_argument("--clips", type=int, required=True, help="number of clips")
    corpus.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    corpus.add_argument("--workers", type=int, default=_default_workers(), help="parallel processes")
    corpus.add_argument("--utterances", type=int, default=3,
                        help="spoken utterances per clip: one original caption, the rest oral rewrites (default 3)")
    corpus.add_argument("--voices", type=int, default=48, help="espeak-ng speakers in the pool (default 48)")
    corpus.add_argument("--no-audio", action="store_true", help="motion and texts only")
    corpus.add_argument("--kind-weighting", choices=("kinds", "meanings"), default="kinds",
                        help="how often each action is drawn: every kind alike (default), or every side and "
                             "direction of a kind as often as a kind without one (walking forward as often as "
                             "sitting down)")
    corpus.add_argument("--seated-hold-s", type=float, default=0.0,
                        help="after a clip's final sit-down, sit still for a random 0 to this many seconds, so "
                             "a lone sit-down is not always shorter than sitting down and standing up "
                             "(default 0: the clip ends when the sit-down does)")
    corpus.add_argument("--seated-endings", type=float, default=0.0, metavar="SHARE",
                        help="share of clips drawn to end by sitting down, e.g. 0.1 (default 0: as the kind "
                             "weighting draws them, about 2 in 100), so a model does not learn that every "
                             "motion ends standing")
    corpus.add_argument("--overlong", choices=("redraw", "shorten"), default="redraw",
                        help="a chain of actions too long for one clip (9.8 s): drawn again (default; long "
                             "actions such as walks then come out rarer than the weighting asks), or cut to "
                             "its longest first part that fits")
    corpus.set_defaults(func=_corpus)

    speak = commands.add_parser(
        "speak", help="write Original or Oral audio for a HumanML3D / KIT-ML folder",
        description="Speak each caption of DATASET/texts/*.txt (original) or a spoken-style rewrite of it (oral) "
                    "with the synthetic speaker pool; writes DATASET/audio/STYLE/ID_K.wav and a manifest. "
                    "Resumable and idempotent.")
    speak.add_argument("--dataset", type=Path, required=True, help="HumanML3D or KIT-ML folder (with texts/)")
    speak.add_argument("--style", choices=("original", "oral"), required=True)
    speak.add_argument("--out", type=Path, help="audio folder (default DATASET/audio)")
    speak.add_argument("--workers", type=int, default=_default_workers(), help="parallel processes")
    speak.add_argument("--seed", type=int, default=0)
    speak.add_argument("--voices", type=int, default=48, help="espeak-ng speakers in the pool (default 48)")
    speak.add_argument("--limit", type=int, help="only the first N clips (a quick look)")
    speak.add_argument("--llm", action="store_true",
                       help="oral rewrites from the OpenAI-compatible endpoint in A2M_LLM_URL / A2M_LLM_MODEL / "
                            "A2M_LLM_API_KEY instead of the rules")
    speak.set_defaults(func=_speak)

    rewrite = commands.add_parser("rewrite", help="print spoken-style rewrites of a caption",
                                  description="Rule-based (default) or LLM (--llm; A2M_LLM_URL, A2M_LLM_MODEL, "
                                              "A2M_LLM_API_KEY) spoken-style rewrites of a motion caption.")
    rewrite.add_argument("caption", help='e.g. "a person kicks in the air, runs forward and trots back"')
    rewrite.add_argument("--num", type=int, default=3, help="how many rewrites (default 3)")
    rewrite.add_argument("--seed", type=int, default=0)
    rewrite.add_argument("--llm", action="store_true", help="use the OpenAI-compatible endpoint from the env")
    rewrite.set_defaults(func=_rewrite)

    noise = commands.add_parser("noise", help="add white (or given) noise to a WAV at an exact SNR")
    noise.add_argument("input", type=Path, help="speech WAV")
    noise.add_argument("--snr", type=float, required=True, help="signal-to-noise ratio in dB")
    noise.add_argument("--out", type=Path, required=True, help="output WAV")
    noise.add_argument("--noise", type=Path, help="noise recording to use instead of white noise (looped)")
    noise.add_argument("--seed", type=int, default=0)
    noise.set_defaults(func=_noise)

    data.set_defaults(func=lambda args: data.print_help() or 2)
