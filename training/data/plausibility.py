"""Checks that a motion is physically plausible: bone lengths, floor contact, foot skating, joint ranges, upright.

Foot skating is the project's one definition, `a2m_core.motion.metrics.foot_skating` (GMD's ratio:
share of frame steps in which a toe within 5 cm of the floor slides faster than 0.5 m/s), so the
corpus, generated motion and the real HumanML3D clip are measured alike.

Check the joints as they are stored, i.e. decoded from the features, and pass what they were
encoded from: a motion that renders well can still be stored wrongly (a root frame turned upside
down put clip 000079's head 1.5 m below the floor while its pelvis and feet stayed in place).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from a2m_core.motion.metrics import foot_skating
from a2m_core.motion.skeleton import HUMANML3D, Skeleton


def bone_length_spread(joints: np.ndarray, skeleton: Skeleton = HUMANML3D) -> float:
    """Largest change of any bone's length over the clip (metres): (t j 3) -> float."""
    parents = np.asarray(skeleton.parents)
    lengths = np.linalg.norm(joints[:, 1:] - joints[:, parents[1:]], axis=-1)  # (t j-1)
    return float((lengths.max(0) - lengths.min(0)).max())


def _interior_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at b between b->a and b->c in degrees: (t 3) x3 -> (t)."""
    u, v = a - b, c - b
    cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


@dataclass(frozen=True)
class PlausibilityReport:
    """Measurements of one clip and the list of violated limits (empty: plausible)."""

    bone_spread_m: float
    floor_penetration_m: float  # how far the lowest joint goes below the lowest foot contact
    min_knee_deg: float
    min_elbow_deg: float
    knee_backward_m: float  # largest backward bend of a knee (hyperextension), metres
    skate_ratio: float  # a2m_core.motion.metrics.foot_skating
    head_over_knees_m: float  # lowest height of the head above the higher knee; below 0: upside down
    round_trip_m: float  # largest joint distance to the motion the clip was encoded from (0 if not given)
    problems: tuple[str, ...]


MAX_ROUND_TRIP_M = 1e-3  # float32 storage moves a joint by about 1e-7 m


def check_motion(joints: np.ndarray, max_skate_ratio: float, encoded_from: np.ndarray | None = None) -> PlausibilityReport:
    """Measure a HumanML3D-skeleton clip (t 22 3, metres, floor at y = 0) and list what is out of human range.

    `encoded_from` (t' 22 3, t' >= t): when `joints` were decoded from features, the motion the
    features were encoded from, as `FeatureCodec.canonical_joints` returns it; the two must agree
    on their first t frames within MAX_ROUND_TRIP_M.
    """
    j = np.asarray(joints, dtype=np.float64)
    round_trip = 0.0
    if encoded_from is not None:
        source = np.asarray(encoded_from, np.float64)
        if source.ndim != 3 or source.shape[1:] != j.shape[1:] or len(source) < len(j):
            raise ValueError(f"encoded_from has shape {source.shape}; expected (>= {len(j)}, {j.shape[1]}, 3)")
        round_trip = float(np.linalg.norm(j - source[:len(j)], axis=-1).max())
    floor = j[:, [7, 8, 10, 11], 1].min()
    knees = [_interior_angle(j[:, hip], j[:, knee], j[:, ankle]) for hip, knee, ankle in ((1, 4, 7), (2, 5, 8))]
    elbows = [_interior_angle(j[:, s], j[:, e], j[:, w]) for s, e, w in ((16, 18, 20), (17, 19, 21))]
    # a knee bends forward: its offset from the hip-ankle line points along the toes
    backward = 0.0
    for hip, knee, ankle, toe in ((1, 4, 7, 10), (2, 5, 8, 11)):
        mid = 0.5 * (j[:, hip] + j[:, ankle])
        toe_dir = j[:, toe] - j[:, ankle]
        toe_dir[:, 1] = 0
        toe_dir /= np.maximum(np.linalg.norm(toe_dir, axis=-1, keepdims=True), 1e-9)
        backward = max(backward, float(np.max(-np.sum((j[:, knee] - mid) * toe_dir, -1))))
    report = dict(
        bone_spread_m=bone_length_spread(j),
        floor_penetration_m=float(max(floor - j[..., 1].min(), 0.0)),
        min_knee_deg=float(min(k.min() for k in knees)),
        min_elbow_deg=float(min(e.min() for e in elbows)),
        knee_backward_m=backward,
        skate_ratio=foot_skating(j, HUMANML3D),
        head_over_knees_m=float((j[:, 15, 1] - j[:, [4, 5], 1].max(-1)).min()),
        round_trip_m=round_trip,
    )
    problems = []
    if report["bone_spread_m"] > 1e-4:
        problems.append(f"bone lengths change by {report['bone_spread_m']:.5f} m")
    if report["floor_penetration_m"] > 0.03:
        problems.append(f"a joint goes {report['floor_penetration_m']:.3f} m below the floor")
    if report["min_knee_deg"] < 30 or report["min_elbow_deg"] < 25:
        problems.append(f"knee {report['min_knee_deg']:.0f} / elbow {report['min_elbow_deg']:.0f} deg: "
                        "folded past the human range")
    if backward > 0.03:
        problems.append(f"a knee bends backwards by {backward:.3f} m")
    if report["skate_ratio"] > max_skate_ratio:
        problems.append(f"foot skating ratio {report['skate_ratio']:.3f} > {max_skate_ratio:.3f}")
    if report["head_over_knees_m"] < 0:
        problems.append(f"the head goes {-report['head_over_knees_m']:.3f} m below a knee: upside down")
    if round_trip > MAX_ROUND_TRIP_M:
        problems.append(f"the features decode {round_trip:.3f} m away from the motion they were encoded from")
    return PlausibilityReport(**report, problems=tuple(problems))
