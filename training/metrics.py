"""The text-to-motion metrics as the field computes them (Guo et al. 2022, T2M; used by MoMask and the paper).

All work on evaluator embeddings (numpy arrays, one row per sample):

- R-precision top-1/2/3: in batches of 32 (text, motion) pairs, each text ranks the 32 motions by
  Euclidean distance; the share of texts whose own motion is among the k nearest. Samples that
  do not fill a last batch of 32 are left out, as in the reference code.
- MM-Dist: mean Euclidean distance between each text and its own motion.
- FID: Frechet distance between Gaussians fitted to real and generated motion embeddings.
- Diversity: mean distance over 300 random pairs of generated motions.
- MultiModality: per condition, mean distance over 10 random pairs of its repeated generations
  (30 per condition), averaged over conditions.
- Word error rate (the cascade's ASR): word-level edit distance over the reference's word count,
  summed over utterances.
- Repeats: every metric is measured `repeats` times (20 in the paper) and reported as the mean
  and the half-width of its 95 % confidence interval, 1.96 * std / sqrt(repeats).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

R_PRECISION_BATCH = 32
DIVERSITY_PAIRS = 300
MULTIMODALITY_PAIRS = 10


def euclidean_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a (n d), b (m d) -> (n m) Euclidean distances."""
    squared = (a**2).sum(1)[:, None] - 2 * a @ b.T + (b**2).sum(1)[None, :]
    return np.sqrt(np.maximum(squared, 0.0))


def r_precision(text: np.ndarray, motion: np.ndarray, top_k: int = 3,
                batch_size: int = R_PRECISION_BATCH) -> np.ndarray:
    """text (n d), motion (n d) paired row by row -> (top_k,) share of texts whose motion ranks within k."""
    _check_pairs(text, motion)
    num_batches = len(text) // batch_size
    if num_batches == 0:
        raise ValueError(f"R-precision needs at least {batch_size} pairs, got {len(text)}")
    hits = np.zeros(top_k)
    for i in range(num_batches):
        rows = slice(i * batch_size, (i + 1) * batch_size)
        dist = euclidean_distances(text[rows], motion[rows])  # (32 32)
        # rank of the true motion among the 32: how many are strictly closer (ties count for the truth)
        rank = (dist < np.diag(dist)[:, None]).sum(1)  # (32)
        hits += [(rank < k).sum() for k in range(1, top_k + 1)]
    return hits / (num_batches * batch_size)


def matching_score(text: np.ndarray, motion: np.ndarray) -> float:
    """MM-Dist: mean distance between paired rows."""
    _check_pairs(text, motion)
    return float(np.linalg.norm(text - motion, axis=1).mean())


def order_accuracy(motion: np.ndarray, in_order: np.ndarray, reversed_: np.ndarray) -> float:
    """Share of motions closer to the caption of their actions in order than to the same words reversed.

    motion, in_order, reversed_: (n d) paired row by row; 0.5 is what an order-blind model scores.
    """
    _check_pairs(in_order, motion)
    _check_pairs(reversed_, motion)
    return float((np.linalg.norm(in_order - motion, axis=1) < np.linalg.norm(reversed_ - motion, axis=1)).mean())


def frechet_distance(real: np.ndarray, generated: np.ndarray) -> float:
    """FID between Gaussian fits (mean, covariance) of two sets of embeddings (n d), (m d)."""
    if real.ndim != 2 or generated.ndim != 2 or real.shape[1] != generated.shape[1] or min(len(real), len(generated)) < 2:
        raise ValueError(f"FID needs two sets of >= 2 embeddings of one width, got {real.shape} and {generated.shape}")
    mu1, mu2 = real.mean(0), generated.mean(0)
    sigma1, sigma2 = np.cov(real, rowvar=False), np.cov(generated, rowvar=False)
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():  # near-singular product: regularise as the reference code does
        offset = np.eye(len(sigma1)) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def diversity(motion: np.ndarray, rng: np.random.Generator, num_pairs: int = DIVERSITY_PAIRS) -> float:
    """Mean distance between num_pairs random pairs of rows (two index draws without replacement)."""
    if len(motion) < num_pairs:
        raise ValueError(f"Diversity over {num_pairs} pairs needs at least {num_pairs} samples, got {len(motion)}")
    first = rng.choice(len(motion), num_pairs, replace=False)
    second = rng.choice(len(motion), num_pairs, replace=False)
    return float(np.linalg.norm(motion[first] - motion[second], axis=1).mean())


def multimodality(motion: np.ndarray, rng: np.random.Generator, num_pairs: int = MULTIMODALITY_PAIRS) -> float:
    """motion (c r d): r generations for each of c conditions -> mean distance over num_pairs pairs each."""
    if motion.ndim != 3 or motion.shape[1] < num_pairs:
        raise ValueError(f"MultiModality needs (conditions, >= {num_pairs} repeats, dim), got {motion.shape}")
    first = rng.choice(motion.shape[1], num_pairs, replace=False)
    second = rng.choice(motion.shape[1], num_pairs, replace=False)
    return float(np.linalg.norm(motion[:, first] - motion[:, second], axis=2).mean())


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """(substitutions + insertions + deletions) / reference words, over all pairs; words are
    lower-case letter runs (punctuation and case do not count)."""
    import re

    if len(references) != len(hypotheses):
        raise ValueError(f"expected paired texts, got {len(references)} references and {len(hypotheses)} hypotheses")
    errors = words = 0
    for reference, hypothesis in zip(references, hypotheses):
        ref, hyp = re.findall(r"[a-z']+", reference.lower()), re.findall(r"[a-z']+", hypothesis.lower())
        row = list(range(len(hyp) + 1))  # edit distances of ref[:0] to every prefix of hyp
        for i, r in enumerate(ref, 1):
            previous, row[0] = row[0], i
            for j, h in enumerate(hyp, 1):
                previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
        errors, words = errors + row[-1], words + len(ref)
    if words == 0:
        raise ValueError("the references hold no words")
    return errors / words


@dataclass(frozen=True)
class Estimate:
    """Mean over repeats and the half-width of its 95 % confidence interval."""

    mean: float
    ci95: float
    repeats: int

    @classmethod
    def of(cls, values) -> Estimate:
        values = np.asarray(list(values), dtype=np.float64)
        if values.size == 0 or not np.isfinite(values).all():
            raise ValueError(f"need finite values to summarise, got {values}")
        return cls(float(values.mean()), float(1.96 * values.std() / np.sqrt(values.size)), int(values.size))

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.ci95:.3f}"


def _check_pairs(text: np.ndarray, motion: np.ndarray) -> None:
    if text.ndim != 2 or text.shape != motion.shape:
        raise ValueError(f"expected paired embeddings of one shape (n d), got {text.shape} and {motion.shape}")
