"""`a2m bench`: latency, throughput and memory of each backend, beside two baselines, in one run.

For every backend x batch x audio length: p50/p95 latency of a whole `generate_batch` call
(audio in, joints out; warm-up runs excluded), samples/s and motion frames/s at the median,
and the process's peak RSS while that row ran (reset through /proc/self/clear_refs). In the
same run and on the same audio, at batch 1: the paper-size model in eager PyTorch and the
cascade (pocketsphinx + text model); each backend's batch-1 rows carry its speed-up over both.
The audio is spoken instructions from espeak-ng, repeated to the wanted length (seeded noise
with a speech-like envelope where espeak-ng is missing; the report says which).

Speed targets are evaluated here and printed with the table; tests never time things.
"""

from __future__ import annotations

import gc
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from a2m_core.runtime.backend import Backend

INSTRUCTIONS = (
    "walk forward, then wave with your right hand",
    "jump twice and turn around",
    "raise both arms above your head",
    "take three steps back and sit down",
    "kick with your left leg",
)


@dataclass(frozen=True)
class BenchSettings:
    batches: tuple[int, ...] = (1, 8)
    audio_s: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)
    warmup: int = 2
    min_repeats: int = 5
    max_repeats: int = 20
    budget_s: float = 15.0  # per row: stop repeating after this once min_repeats are done
    baseline_min_repeats: int = 3
    baseline_max_repeats: int = 10

    @classmethod
    def quick(cls) -> BenchSettings:
        """One small row per backend, for tests and smoke runs (numbers not meant to be stable)."""
        return cls(batches=(1,), audio_s=(1.0,), warmup=1, min_repeats=2, max_repeats=2, budget_s=0.0,
                   baseline_min_repeats=1, baseline_max_repeats=1)


@dataclass
class Row:
    name: str
    device: str
    batch: int
    audio_s: float
    repeats: int
    p50_ms: float
    p95_ms: float
    samples_per_s: float
    frames_per_s: float
    peak_rss_mb: float
    speedup_vs_paper: float | None = None
    speedup_vs_cascade: float | None = None


@dataclass
class Report:
    machine: dict
    command: str
    settings: dict
    audio_source: str
    rows: list[Row] = field(default_factory=list)
    baselines: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"machine": self.machine, "command": self.command, "settings": self.settings,
                "audio_source": self.audio_source, "rows": [asdict(r) for r in self.rows],
                "baselines": [asdict(r) for r in self.baselines], "notes": self.notes,
                "targets": target_checks(self)}


# ---------------------------------------------------------------- audio


def _espeak(text: str, voice_seed: int) -> np.ndarray | None:
    """16 kHz float32 speech of text from espeak-ng, or None where it is missing."""
    from a2m_core.audio.io import resample
    from a2m_core.audio.speech import espeak

    if shutil.which("espeak-ng") is None:
        return None
    return resample(*espeak(text, rate_wpm=150 + 10 * (voice_seed % 4)))


def instruction_audio(seconds: float, seed: int) -> tuple[np.ndarray, str]:
    """(samples (n) float32 16 kHz of exactly `seconds`, source) spoken instructions back to back."""
    n = int(seconds * 16000)
    pieces, total, i = [], 0, seed
    while total < n:
        speech = _espeak(INSTRUCTIONS[i % len(INSTRUCTIONS)], i)
        if speech is None:
            rng = np.random.default_rng(seed)
            t = np.arange(n) / 16000
            envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
            return (rng.normal(0, 0.1, n) * envelope).astype(np.float32), "noise with a speech-like envelope"
        pieces += [speech, np.zeros(3200, np.float32)]  # 0.2 s pause between instructions
        total += len(speech) + 3200
        i += 1
    return np.concatenate(pieces)[:n], "espeak-ng instructions"


# ---------------------------------------------------------------- measuring


def reset_peak_rss() -> None:
    """Restart the kernel's peak-RSS counter (VmHWM) of this process, where Linux allows it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    """Peak resident memory of this process since the last reset, in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(backend: Backend, name: str, clips: list[np.ndarray], audio_s: float, warmup: int,
            min_repeats: int, max_repeats: int, budget_s: float) -> Row:
    """Time generate_batch on clips (one batch) after warm-up runs."""
    seeds = list(range(len(clips)))
    for _ in range(warmup):
        backend.generate_batch(clips, 16000, seeds=seeds)
    reset_peak_rss()
    latencies, frames = [], 0
    start = time.perf_counter()
    while len(latencies) < max_repeats and (len(latencies) < min_repeats or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        motions = backend.generate_batch(clips, 16000, seeds=seeds)
        latencies.append(time.perf_counter() - t0)
        frames = sum(m.num_frames for m in motions)
    p50, p95 = float(np.percentile(latencies, 50)), float(np.percentile(latencies, 95))
    return Row(name=name, device=backend.describe(), batch=len(clips), audio_s=audio_s, repeats=len(latencies),
               p50_ms=1000 * p50, p95_ms=1000 * p95, samples_per_s=len(clips) / p50, frames_per_s=frames / p50,
               peak_rss_mb=peak_rss_mb())


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores_usable": len(os.sched_getaffinity(0)), "load_average_1m": os.getloadavg()[0],
            "python": platform.python_version(), "platform": platform.platform()}
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    import torch

    info["torch"] = torch.__version__
    info["gpu"] = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return info


# ---------------------------------------------------------------- the run


Loader = Callable[[], Backend]


def run_benchmark(backends: dict[str, Loader], reference: Loader | None, cascade: Loader | None,
                  settings: BenchSettings, command: str, progress: bool = True) -> Report:
    """Measure every backend, then the baselines at batch 1, on the same audio; fill in the ratios."""
    from tqdm import tqdm

    audio = {s: instruction_audio(s, seed=k) for k, s in enumerate(settings.audio_s)}
    report = Report(machine=machine_info(), command=command, settings=asdict(settings),
                    audio_source=next(iter(audio.values()))[1])
    jobs = [(name, loader, settings.batches, settings.min_repeats, settings.max_repeats)
            for name, loader in backends.items()]
    for name, loader in (("paper eager", reference), ("cascade", cascade)):
        if loader is not None:
            jobs.append((name, loader, (1,), settings.baseline_min_repeats, settings.baseline_max_repeats))
    total = sum(len(batches) * len(settings.audio_s) for _, _, batches, _, _ in jobs)
    bar = tqdm(total=total, desc="bench", unit="row", disable=not progress)
    for name, loader, batches, min_repeats, max_repeats in jobs:
        backend = loader()
        for batch in batches:
            for seconds in settings.audio_s:
                bar.set_postfix_str(f"{name} b{batch} {seconds:g}s")
                clips = [audio[seconds][0]] * batch
                row = measure(backend, name, clips, seconds, settings.warmup, min_repeats, max_repeats,
                              settings.budget_s)
                (report.baselines if name in ("paper eager", "cascade") else report.rows).append(row)
                bar.update()
        if name == "cascade":
            report.notes.append(f"cascade ASR heard: {backend.last_transcripts[0]!r}")
        del backend
        gc.collect()
    bar.close()
    _fill_ratios(report)
    return report


def _fill_ratios(report: Report) -> None:
    base = {(r.name, r.audio_s): r.p50_ms for r in report.baselines}
    for row in report.rows:
        if row.batch == 1:
            if ("paper eager", row.audio_s) in base:
                row.speedup_vs_paper = base[("paper eager", row.audio_s)] / row.p50_ms
            if ("cascade", row.audio_s) in base:
                row.speedup_vs_cascade = base[("cascade", row.audio_s)] / row.p50_ms


def target_checks(report: Report) -> list[dict]:
    """The CPU targets, evaluated on the fastest backend's rows where the run has them."""
    checks = []
    b1 = {(r.name, r.audio_s): r for r in report.rows if r.batch == 1}
    names = sorted({r.name for r in report.rows})
    if not names:
        return checks
    at3 = {n: b1[(n, 3.0)] for n in names if (n, 3.0) in b1}
    if at3:
        best = min(at3.values(), key=lambda r: r.p50_ms)
        checks.append({"target": "3 s instruction, batch 1, p50 <= 100 ms", "backend": best.name,
                       "value": round(best.p50_ms, 1), "met": best.p50_ms <= 100})
        if best.speedup_vs_paper is not None:
            checks.append({"target": ">= 3x faster than the paper-size eager pipeline", "backend": best.name,
                           "value": round(best.speedup_vs_paper, 2), "met": best.speedup_vs_paper >= 3})
        if best.speedup_vs_cascade is not None:
            checks.append({"target": ">= 10x faster than the cascade", "backend": best.name,
                           "value": round(best.speedup_vs_cascade, 2), "met": best.speedup_vs_cascade >= 10})
        if (best.name, 30.0) in b1:
            ratio = b1[(best.name, 30.0)].p50_ms / best.p50_ms
            checks.append({"target": "30 s audio within 3x the 3 s latency", "backend": best.name,
                           "value": round(ratio, 2), "met": ratio <= 3})
    return checks


def markdown(report: Report) -> str:
    """The report as markdown tables (rows, baselines, targets)."""
    def ratio(value: float | None) -> str:
        return "" if value is None else f"{value:.1f}x"

    m = report.machine
    lines = [f"Machine: {m['cpu']}, {m['cores_usable']} usable cores, load average {m['load_average_1m']:.1f} "
             f"at start; GPU: {m['gpu'] or 'none'}; torch {m['torch']}, onnxruntime {m.get('onnxruntime', '-')}.",
             f"Command: `{report.command}`", f"Audio: {report.audio_source}.", "",
             "| backend | device | batch | audio s | p50 ms | p95 ms | samples/s | frames/s | peak RSS MB "
             "| vs paper eager | vs cascade | runs |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report.rows + report.baselines:
        lines.append(f"| {r.name} | {r.device} | {r.batch} | {r.audio_s:g} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | "
                     f"{r.samples_per_s:.2f} | {r.frames_per_s:.0f} | {r.peak_rss_mb:.0f} | "
                     f"{ratio(r.speedup_vs_paper)} | {ratio(r.speedup_vs_cascade)} | {r.repeats} |")
    checks = target_checks(report)
    if checks:
        lines += ["", "| target | backend | measured | met |", "|---|---|---:|---|"]
        lines += [f"| {c['target']} | {c['backend']} | {c['value']} | {'yes' if c['met'] else 'no'} |" for c in checks]
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"
