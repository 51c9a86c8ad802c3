"""`a2m eval`: a model on a dataset split with the paper's metrics, repeated, with 95 % intervals.

Protocol (T2M's, as MoMask and the paper run it): every test utterance's motion is generated at
the ground-truth length; per repeat the utterances are shuffled into batches of 32 for
R-precision, the whole set gives FID against the real motions, and 300 random pairs give
Diversity; MultiModality generates `mm_generations` motions for each of `mm_conditions`
utterances, drawn afresh in every repeat. Audio can be degraded first (white noise at an exact
SNR; a lower recording rate), and a text-conditioned model reads the captions instead, or with
`asr` what the recogniser heard in the (degraded) audio: the cascade baseline. `respeak` has the
words of every selected utterance spoken again by one of festival's voices before that: the
engine-disjoint test of a model trained on espeak-ng alone, on exactly the utterances (and
`limit` subset) of the speaker-disjoint one. `min_actions` keeps the clips of at least that many
actions (the corpus's records), e.g. the multi-action part of the test split; from 2 on, the
order accuracy asks whether each motion is closer to a fixed-wording caption of its actions in
order than to the same caption with the actions reversed (0.5: order-blind; clips whose actions
read the same reversed are left out). Metrics use the contrastive evaluator (training/evaluator);
"real" rows measure the ground-truth motion with the same evaluator.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from a2m_core.audio.io import SAMPLE_RATE_HZ
from a2m_core.audio.speech import ENGINES
from a2m_core.decoding import pad_audio
from a2m_core.errors import InputError
from a2m_core.files import write_text
from a2m_core.runtime.interface import DecodingConfig
from training.data.voices import check_engines
from training.instruction_slots import NUM_SLOTS
from training.metrics import (Estimate, diversity, frechet_distance, matching_score, multimodality, order_accuracy,
                              r_precision)


@dataclass(frozen=True)
class EvalConfig:
    split: str = "test"
    repeats: int = 20
    batch_size: int = 32  # the R-precision batch and the generation batch
    noise_snr_db: float | None = None
    resample_from_hz: int | None = None
    limit: int | None = None  # evaluate a fixed random subset of this many utterances
    styles: tuple[str, ...] = ("original", "oral")
    engines: tuple[str, ...] = ENGINES  # ("festival",): the engine-disjoint test of a model trained on espeak-ng
    mm_conditions: int = 100
    mm_generations: int = 30
    asr: str | None = None  # "pocketsphinx": a text model reads the ASR's transcripts (the cascade)
    respeak: str | None = None  # "festival": each utterance's words spoken again by a festival voice
    min_actions: int = 1  # only clips of at least this many actions (records/CLIP.json of the corpus)
    decoding: DecodingConfig = DecodingConfig()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.repeats < 1 or self.batch_size < 2 or (self.limit is not None and self.limit < self.batch_size):
            raise InputError(f"need repeats >= 1, batch_size >= 2 and limit >= batch_size, got {self.repeats}, "
                             f"{self.batch_size}, {self.limit}")
        if self.mm_conditions < 0 or (self.mm_conditions and self.mm_generations < 10):
            raise InputError(f"MultiModality needs mm_generations >= 10 (or mm_conditions 0 to skip), got "
                             f"{self.mm_generations}")
        try:
            check_engines(self.engines)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if self.asr not in (None, "pocketsphinx"):
            raise InputError(f"unknown ASR {self.asr!r}: the cascade runs with 'pocketsphinx'")
        if self.respeak not in (None, "festival"):
            raise InputError(f"cannot re-speak with {self.respeak!r}: expected 'festival'")
        if not 1 <= self.min_actions <= NUM_SLOTS:
            raise InputError(f"min_actions must be 1..{NUM_SLOTS}, got {self.min_actions}")


@dataclass
class _Utterance:
    audio: np.ndarray
    caption: str  # what the evaluator's text side reads
    spoken: str  # the words in the audio
    instruction: str  # what a text model reads: the caption, or the ASR's transcript of the audio
    motion: np.ndarray  # (t f) normalised with the dataset's statistics
    length: int
    clip: str


def _degrade(audio: np.ndarray, config: EvalConfig, index: int) -> np.ndarray:
    from training.data.augment import add_noise, through_rate

    if config.resample_from_hz is not None:
        audio = through_rate(audio, SAMPLE_RATE_HZ, config.resample_from_hz)
    if config.noise_snr_db is not None:
        audio = add_noise(audio, config.noise_snr_db, np.random.default_rng([config.seed, index]))
    return audio.astype(np.float32)


def _respeaker(config: EvalConfig):
    """(utterance index, text) -> (audio, speaker id): a voice of config.respeak's engine drawn per index and seed."""
    from a2m_core.audio.speech import synthesize
    from training.data.voices import voice_pool

    voices = [v for v in voice_pool() if v.engine == config.respeak]

    def speak(index: int, text: str) -> tuple[np.ndarray, str]:
        voice = voices[int(np.random.default_rng([config.seed, index, 2]).integers(len(voices)))]
        return synthesize(text, voice), voice.speaker_id

    return speak


def _order_captions(data: Path, utterances: list[_Utterance]) -> tuple[np.ndarray, list[str], list[str]]:
    """The utterances whose actions read differently reversed (rows), and the fixed-wording caption
    (training.data.captions.plain_caption) of each one's actions in order and reversed."""
    from training.data.corpus import clip_order_pairs

    order_pairs = clip_order_pairs(data)
    pairs = [order_pairs(u.clip) for u in utterances]
    rows = np.array([row for row, pair in enumerate(pairs) if pair], dtype=np.int64)
    return rows, [pairs[r][0] for r in rows], [pairs[r][1] for r in rows]


def _load_utterances(data: Path, config: EvalConfig, progress: bool = False) -> tuple[list[_Utterance], dict | None]:
    """The selected utterances (degraded as the config asks), and what re-speaking them used (None without)."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    from training.stage_data import Utterances

    dataset = Utterances(data, config.split, random_crop=False, styles=config.styles, engines=config.engines)
    order = np.arange(len(dataset))
    if config.min_actions > 1:
        from training.data.corpus import clip_actions

        actions = clip_actions(data)
        order = order[[len(actions(dataset.dataset.entries[i].clip)) >= config.min_actions for i in order]]
    if config.limit is not None and config.limit < len(order):
        order = np.sort(np.random.default_rng(config.seed).choice(order, config.limit, replace=False))
    utterances = []
    for index in order:
        item = dataset[int(index)]
        length = int(item["length"])
        utterances.append(_Utterance(item["audio"].numpy(), item["caption"], item["text"], item["caption"],
                                     item["motion"][:length].numpy(), length, item["clip"]))
    respoken = None
    if config.respeak:
        speak = _respeaker(config)
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:  # the synthesizer is a subprocess
            jobs = pool.map(speak, [int(i) for i in order], [u.spoken for u in utterances])
            spoken = list(tqdm(jobs, total=len(utterances), desc=f"speaking ({config.respeak})", disable=not progress))
        for u, (audio, _) in zip(utterances, spoken):
            u.audio = audio
        speakers = Counter(speaker for _, speaker in spoken)
        respoken = {"engine": config.respeak, "speakers": dict(sorted(speakers.items()))}
    for index, u in zip(order, utterances):
        u.audio = _degrade(u.audio, config, int(index))
    return utterances, respoken


def multimodality_conditions(num_utterances: int, num_conditions: int, seed: int, repeat: int) -> np.ndarray:
    """The utterances MultiModality generates for in this repeat (sorted indices).

    Drawn afresh in every repeat, as T2M's evaluation does, so that the interval covers the choice
    of utterances too; a fixed first few of the (sorted) subset were often the same handful of clips,
    whose spoken variants sit next to each other. A random stream of its own keeps every other
    metric the same whatever num_conditions is.
    """
    rng = np.random.default_rng([seed, repeat, 1])
    return np.sort(rng.choice(num_utterances, min(num_conditions, num_utterances), replace=False))


# what the cascade's text model reads where the recogniser heard no word (it needs a non-empty text)
NOTHING_HEARD = "nothing"


def _transcribe(utterances: list[_Utterance], progress: bool) -> dict:
    """The cascade's first half: every utterance's instruction becomes pocketsphinx's transcript."""
    from tqdm import tqdm

    from a2m_core.runtime.cascade import PocketsphinxAsr
    from training.metrics import word_error_rate

    asr = PocketsphinxAsr()
    started = time.perf_counter()
    heard = [asr.transcribe(u.audio) for u in tqdm(utterances, desc="ASR", disable=not progress)]
    seconds = time.perf_counter() - started
    for u, words in zip(utterances, heard):
        u.instruction = words or NOTHING_HEARD
    return {"asr": "pocketsphinx", "word_error_rate": word_error_rate([u.spoken for u in utterances], heard),
            "nothing_heard": sum(not words for words in heard),
            "real_time_factor": seconds / (sum(len(u.audio) for u in utterances) / SAMPLE_RATE_HZ),
            "examples": [{"spoken": u.spoken, "heard": h} for u, h in zip(utterances[:5], heard)]}


class _MotionSampler:
    """Batches of utterances -> generated motion (normalised with the dataset's statistics).

    graphs: an ONNX backend of the same model (e.g. its int8 export) to generate with instead of
    eager PyTorch, fed the same noise, so the two differ only by the graphs' arithmetic.
    """

    def __init__(self, model, data_stats: tuple[np.ndarray, np.ndarray], config: EvalConfig, graphs=None):
        self.model, self.config, self.graphs = model, config, graphs
        mean, std = model.normalization if model.normalization is not None else data_stats
        self.to_data = (torch.from_numpy(np.asarray(mean, np.float32)), torch.from_numpy(np.asarray(std, np.float32)),
                        torch.from_numpy(data_stats[0].astype(np.float32)), torch.from_numpy(data_stats[1].astype(np.float32)))
        self.seconds, self.samples = 0.0, 0

    @torch.no_grad()
    def __call__(self, batch: list[_Utterance], seed: int) -> list[np.ndarray]:
        from a2m_core.decoding import generate, generate_from_condition, make_noise

        model = self.model
        lengths = torch.tensor([u.length for u in batch])
        decoding = self.config.decoding
        noise = make_noise(model, len(batch), decoding.num_iters, seed=seed)
        options = decoding.to_dict()
        started = time.perf_counter()
        if model.config.condition_input == "text":
            cond, cond_valid = model.encode_text([u.instruction for u in batch])
            out = generate_from_condition(model, cond, cond_valid, lengths, noise, **options)
        else:
            audio, audio_lens = pad_audio([u.audio for u in batch])
            if self.graphs is None:
                out = generate(model, audio, audio_lens, lengths, noise, **options)
            else:  # graph (b) returns features already in model units (raw, when the model has statistics)
                out = self.graphs.run_graphs(audio.numpy(), audio_lens.numpy(), lengths.numpy(), noise.numpy())
        self.seconds += time.perf_counter() - started
        self.samples += len(batch)
        model_mean, model_std, data_mean, data_std = self.to_data
        raw = torch.as_tensor(out.features)
        if self.graphs is None or model.normalization is None:
            raw = raw * model_std + model_mean
        features = (raw - data_mean) / data_std  # (b t f) in the data's units
        return [features[row, :int(out.lengths[row])].numpy() for row in range(len(batch))]

    @torch.no_grad()
    def predicted_frames(self, batch: list[_Utterance]) -> np.ndarray:
        """The motion length (frames) the model's length predictor gives each utterance at the decoding's
        length quantile (eager PyTorch)."""
        model = self.model
        if model.config.condition_input == "text":
            cond, cond_valid = model.encode_text([u.instruction for u in batch])
        else:
            cond, cond_valid = model.encode_audio(*pad_audio([u.audio for u in batch]))
        quantile = self.config.decoding.length_quantile
        return (model.length_predictor.predict(cond, cond_valid, quantile) * model.config.rvq_vae.downsample).numpy()


def _onnx_graphs(model, model_dir: str | Path, onnx_dir: Path, config: EvalConfig):
    """The onnxruntime backend of an export of exactly this model, decoded as the config asks."""
    from a2m_core.runtime.export import check_current, read_export
    from a2m_core.runtime.onnx_backend import OnnxRuntimeBackend

    if model.config.condition_input != "audio":
        raise InputError(f"--onnx runs exported audio models; {model_dir} is {model.config.condition_input}-conditioned")
    info = read_export(onnx_dir)
    check_current(info, model_dir)
    if info.decoding != config.decoding:
        raise InputError(f"{onnx_dir} was exported with {info.decoding}, the evaluation asks for {config.decoding}: "
                         "give the same decoding options to both")
    return OnnxRuntimeBackend(info, ["CPUExecutionProvider"])


@torch.no_grad()
def _embed_motion(evaluator, motions: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
    rows = []
    for start in range(0, len(motions), batch_size):
        chunk = motions[start:start + batch_size]
        lengths = torch.tensor([len(m) for m in chunk])
        padded = torch.zeros(len(chunk), int(lengths.max()), chunk[0].shape[1])
        for row, m in enumerate(chunk):
            padded[row, :len(m)] = torch.from_numpy(m)
        rows.append(evaluator.embed_motion(padded, lengths).numpy())
    return np.concatenate(rows)


def evaluate(model_dir: str | Path, data: str | Path, evaluator_dir: str | Path, config: EvalConfig,
             progress: bool = True, onnx_dir: str | Path | None = None) -> dict:
    """All metrics of a model on a dataset split; a JSON-able dict (see write_report).

    onnx_dir: generate with this ONNX export of the model (onnxruntime on CPU) instead of PyTorch.
    """
    from tqdm import tqdm

    from a2m_core.model import load_model
    from a2m_core.motion.features import Normalizer
    from training.evaluator.model import Evaluator

    data = Path(data)
    model = load_model(model_dir)
    evaluator = Evaluator.load(evaluator_dir)
    stats = Normalizer.from_files(data / "Mean.npy", data / "Std.npy")
    if config.asr and model.config.condition_input != "text":
        raise InputError(f"the cascade (--asr) feeds transcripts to a text-conditioned model; {model_dir} is an "
                         "audio model")
    utterances, respoken = _load_utterances(data, config, progress)
    if len(utterances) < config.batch_size:
        raise InputError(f"split {config.split!r} of {data} has {len(utterances)} utterances; R-precision needs "
                         f"at least {config.batch_size}")
    cascade = _transcribe(utterances, progress) if config.asr else None
    graphs = None
    if onnx_dir is not None:
        graphs = _onnx_graphs(model, model_dir, Path(onnx_dir), config)
    sampler = _MotionSampler(model, (stats.mean, stats.std), config, graphs)
    with torch.no_grad():
        text = evaluator.embed_text([u.caption for u in utterances]).numpy()
    real = _embed_motion(evaluator, [u.motion for u in utterances])
    order_rows = order_text = None
    if config.min_actions > 1:  # every clip has several actions: is the motion closer to them in order than reversed?
        order_rows, *texts = _order_captions(data, utterances)
        if not len(order_rows):
            raise InputError(f"no clip of {len(utterances)} utterances has actions that read differently reversed")
        with torch.no_grad():
            order_text = [evaluator.embed_text(t).numpy() for t in texts]
    batches = [utterances[start:start + config.batch_size] for start in range(0, len(utterances), config.batch_size)]
    predicted = np.concatenate([sampler.predicted_frames(batch) for batch in batches])
    true = np.array([u.length for u in utterances])
    lengths = {"true_s": float(true.mean() / model.config.fps), "predicted_s": float(predicted.mean() / model.config.fps),
               "ratio": float(np.mean(predicted / true))}
    values: dict[str, list[float]] = {}
    bar = tqdm(total=config.repeats, desc="eval repeats", disable=not progress)
    for repeat in range(config.repeats):
        rng = np.random.default_rng([config.seed, repeat])
        generated = [None] * len(utterances)
        for b, start in enumerate(range(0, len(utterances), config.batch_size)):
            rows = list(range(start, min(start + config.batch_size, len(utterances))))
            for row, motion in zip(rows, sampler([utterances[r] for r in rows], seed=repeat * 100_003 + b)):
                generated[row] = motion
        gen = _embed_motion(evaluator, generated)
        order = rng.permutation(len(utterances))  # batches of 32 for R-precision differ per repeat
        top = r_precision(text[order], gen[order], batch_size=config.batch_size)
        real_top = r_precision(text[order], real[order], batch_size=config.batch_size)
        sample = {"r_top1": top[0], "r_top2": top[1], "r_top3": top[2], "fid": frechet_distance(real, gen),
                  "mm_dist": matching_score(text, gen),
                  "diversity": diversity(gen, rng, min(300, len(gen))),
                  "real_r_top1": real_top[0], "real_r_top2": real_top[1], "real_r_top3": real_top[2],
                  "real_mm_dist": matching_score(text, real), "real_diversity": diversity(real, rng, min(300, len(real)))}
        if order_text is not None:
            sample["order_acc"] = order_accuracy(gen[order_rows], *order_text)
            sample["real_order_acc"] = order_accuracy(real[order_rows], *order_text)
        if config.mm_conditions:
            per_condition = []
            mm_rows = multimodality_conditions(len(utterances), config.mm_conditions, config.seed, repeat)
            for c, item in enumerate(utterances[r] for r in mm_rows):
                motions = []
                for start in range(0, config.mm_generations, config.batch_size):
                    count = min(config.batch_size, config.mm_generations - start)
                    motions += sampler([item] * count, seed=10**9 + repeat * 10_007 + c * 101 + start)
                per_condition.append(_embed_motion(evaluator, motions))
            sample["multimodality"] = multimodality(np.stack(per_condition), rng)
        for key, value in sample.items():
            values.setdefault(key, []).append(float(value))
        bar.update(1)
    bar.close()
    return {"model": str(model_dir), "data": str(data), "evaluator": str(evaluator_dir), "config": asdict(config),
            "num_utterances": len(utterances), "condition_input": model.config.condition_input, "cascade": cascade,
            "respoken": respoken, "lengths": lengths,
            "generated_with": "PyTorch" if graphs is None else f"{graphs.describe()} export {onnx_dir}",
            "samples_per_s": sampler.samples / max(sampler.seconds, 1e-9),
            "metrics": {k: asdict(Estimate.of(v)) for k, v in values.items()}}


_ROWS = (("r_top1", "R-prec top-1 ↑"), ("r_top2", "R-prec top-2 ↑"), ("r_top3", "R-prec top-3 ↑"), ("fid", "FID ↓"),
         ("mm_dist", "MM-Dist ↓"), ("diversity", "Diversity →"), ("multimodality", "MultiModality ↑"),
         ("order_acc", "Order: closer to the actions in order than reversed ↑"))


def _cell(estimate: dict) -> str:
    return f"{estimate['mean']:.3f} ± {estimate['ci95']:.3f}"


def write_report(result: dict, path: str | Path, command: str) -> tuple[Path, Path]:
    """The metrics table as Markdown at `path` and the whole result as JSON beside it (same name, .json)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metrics = result["metrics"]
    config = result["config"]
    conditions = [f"split {config['split']}", f"{result['num_utterances']} utterances", f"{config['repeats']} repeats"]
    if config["min_actions"] > 1:
        conditions.append(f"clips of {config['min_actions']} or more actions")
    respoken = result.get("respoken")
    if respoken:
        conditions.append(f"every utterance re-spoken by {respoken['engine']} ({len(respoken['speakers'])} voices)")
    if config["noise_snr_db"] is not None:
        conditions.append(f"white noise at {config['noise_snr_db']:g} dB SNR")
    if config["resample_from_hz"] is not None:
        conditions.append(f"recorded at {config['resample_from_hz']} Hz")
    d = config["decoding"]
    conditions.append(f"{d['num_iters']} decoding iterations, guidance {d['cfg_scale']:g} / {d['res_cfg_scale']:g} "
                      f"(residual)")
    cascade = result.get("cascade")
    lengths = result["lengths"]
    condition = f"{result['condition_input']} condition"
    if cascade:
        condition = (f"cascade: {cascade['asr']} ASR (word error rate {cascade['word_error_rate']:.3f}, nothing heard "
                     f"in {cascade['nothing_heard']}) -> text model")
    lines = [f"# Evaluation of {result['model']}", "", f"`{command}`", "",
             f"Data {result['data']} ({', '.join(conditions)}); evaluator {result['evaluator']}; "
             f"{condition}; ground-truth lengths (the length predictor's at quantile "
             f"{config['decoding'].get('length_quantile', 0.5):g}: {lengths['predicted_s']:.2f} s on "
             f"average where the clips last {lengths['true_s']:.2f} s, ratio {lengths['ratio']:.2f}); generated with "
             f"{result.get('generated_with', 'PyTorch')}, {result['samples_per_s']:.2f} samples/s here.", "",
             "| metric | generated | real motion |", "|---|---|---|"]
    for key, name in _ROWS:
        if key in metrics:
            real = metrics.get(f"real_{key}")
            lines.append(f"| {name} | {_cell(metrics[key])} | {_cell(real) if real else '-'} |")
    lines += ["", "± is the half-width of the 95 % confidence interval over the repeats."]
    write_text(path, "\n".join(lines) + "\n")
    json_path = path.with_suffix(".json")
    write_text(json_path, json.dumps({**result, "command": command}, indent=2) + "\n")
    return path, json_path
