"""Skeleton definitions of the two standard motion datasets.

HumanML3D uses the first 22 joints of SMPL; KIT-ML the 21 joints of its MMM-derived
skeleton. Both are stored Y up; HumanML3D faces +Z after its facing normalisation.
`raw_offsets` are the unit rest-pose bone directions the datasets' inverse kinematics
rotates from; `chains` are the kinematic chains those datasets walk in that order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    """A tree of named joints with rest-pose bone directions and the dataset's landmark joints."""

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]  # parents[0] == -1: the root
    raw_offsets: tuple[tuple[float, float, float], ...]  # unit rest direction of the bone to each joint
    chains: tuple[tuple[int, ...], ...]  # kinematic chains, each starting at a joint already placed
    foot_left: tuple[int, int]  # (ankle, toe) joints used for foot contacts
    foot_right: tuple[int, int]
    face_joints: tuple[int, int, int, int]  # (right hip, left hip, right shoulder, left shoulder)
    leg_joints: tuple[int, int]  # (knee, ankle) of one leg: its length scales skeletons
    fps: float

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if not (len(self.parents) == len(self.raw_offsets) == n):
            raise ValueError(f"{self.name}: {n} names, {len(self.parents)} parents, {len(self.raw_offsets)} offsets")
        if self.parents[0] != -1 or any(not 0 <= p < j for j, p in enumerate(self.parents) if j > 0):
            raise ValueError(f"{self.name}: parents must list the root first and each parent before its child")
        for chain in self.chains:
            for parent, child in zip(chain[:-1], chain[1:]):
                if self.parents[child] != parent:
                    raise ValueError(f"{self.name}: chain {chain} says {parent}->{child}, parents say {self.parents[child]}")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def raw_offsets_np(self) -> np.ndarray:
        """(J, 3) float64 unit rest directions."""
        return np.asarray(self.raw_offsets, dtype=np.float64)

    def index(self, joint_name: str) -> int:
        return self.joint_names.index(joint_name)


def _parents_from_chains(num_joints: int, chains: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    parents = [-1] * num_joints
    for chain in chains:
        for parent, child in zip(chain[:-1], chain[1:]):
            parents[child] = parent
    return tuple(parents)


_HUMANML3D_CHAINS = ((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20))

HUMANML3D = Skeleton(
    name="humanml3d",
    joint_names=(
        "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
        "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
        "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist",
    ),
    parents=_parents_from_chains(22, _HUMANML3D_CHAINS),
    raw_offsets=(
        (0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, -1, 0), (0, 1, 0), (0, -1, 0),
        (0, -1, 0), (0, 1, 0), (0, 0, 1), (0, 0, 1), (0, 1, 0), (1, 0, 0), (-1, 0, 0), (0, 0, 1),
        (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0),
    ),
    chains=_HUMANML3D_CHAINS,
    foot_left=(7, 10),
    foot_right=(8, 11),
    face_joints=(2, 1, 17, 16),
    leg_joints=(5, 8),
    fps=20.0,
)

# KIT side names follow HumanML3D's labels (face joints "r_hip, l_hip, sdr_r, sdr_l" = 11, 16, 5, 8;
# right foot 14, 15), which match where those joints lie in the processed data: after the facing
# normalisation joint 11 is on the -X side, the figure's right. MMM's own names are the other way
# round (5 = "LS", 11 = "LH"), and KIT's raw_offsets put 5 and 11 at +X: the dataset's IK turns
# those bones by large angles. Positions are millimetres.
_KIT_CHAINS = ((0, 11, 12, 13, 14, 15), (0, 16, 17, 18, 19, 20), (0, 1, 2, 3, 4), (3, 5, 6, 7), (3, 8, 9, 10))

KIT = Skeleton(
    name="kit",
    joint_names=(
        "root", "torso", "chest", "neck", "head", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle",
        "right_midfoot", "right_toe", "left_hip", "left_knee", "left_ankle", "left_midfoot", "left_toe",
    ),
    parents=_parents_from_chains(21, _KIT_CHAINS),
    raw_offsets=(
        (0, 0, 0), (0, 1, 0), (0, 1, 0), (0, 1, 0), (0, 1, 0), (1, 0, 0), (0, -1, 0), (0, -1, 0),
        (-1, 0, 0), (0, -1, 0), (0, -1, 0), (1, 0, 0), (0, -1, 0), (0, -1, 0), (0, 0, 1), (0, 0, 1),
        (-1, 0, 0), (0, -1, 0), (0, -1, 0), (0, 0, 1), (0, 0, 1),
    ),
    chains=_KIT_CHAINS,
    foot_left=(19, 20),
    foot_right=(14, 15),
    face_joints=(11, 16, 5, 8),
    leg_joints=(17, 18),
    fps=12.5,
)

SKELETONS = {s.name: s for s in (HUMANML3D, KIT)}
