"""The keypoint map: which human joint drives which robot link, how strongly, and where the feet are.

Loaded from a small YAML file (config/retarget/unitree_g1.yaml is the G1's), validated against
the human skeleton on load and against the robot's links by `check_links`; every problem is an
`InputError` naming the file, the entry and the fix.

An orientation target is a frame built from human joints: `orientation: {y: [right_hip, left_hip],
z: [pelvis, spine3]}` means the link's y axis points from right_hip to left_hip and its z axis
from pelvis to spine3 (the first axis listed is kept exactly, the second is made orthogonal to it;
`up` instead of a joint pair means the world's up). The axes are the link's own axes in the URDF,
in the ROS frame (x forward, y left, z up).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from a2m_core.errors import InputError
from a2m_core.motion.skeleton import Skeleton

AXES = ("x", "y", "z")
MAX_MAP_BYTES = 1_000_000  # a map is a few kB of YAML; refuse anything that could not be one before parsing it
MAX_OFFSET_M = 10.0  # keypoint offsets and sole points, from their link's origin
MAX_WEIGHT = 1e6  # position and orientation weights
MAX_SOLE_POINTS = 64  # per foot
UP = "up"


@dataclass(frozen=True)
class Keypoint:
    """One human joint pulling a point on a robot link towards it (and optionally the link's orientation)."""

    human: str
    link: str
    offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)  # the point on the link, in the link frame
    position_weight: float = 1.0
    orientation_weight: float = 0.0
    # ((axis, (from_joint, to_joint) or "up"), (axis, ...)): primary axis first
    orientation: tuple[tuple[str, tuple[str, str] | str], ...] = ()

    def __post_init__(self) -> None:
        if self.position_weight < 0 or self.orientation_weight < 0:
            raise ValueError(f"keypoint {self.human}: weights must be >= 0")
        if self.orientation_weight > 0 and len(self.orientation) != 2:
            raise ValueError(f"keypoint {self.human}: orientation_weight > 0 needs an orientation with two axes")


@dataclass(frozen=True)
class Foot:
    """A robot foot: its link and the sole's contact points (link frame, metres), and the human joints that drive it."""

    side: str
    link: str
    sole_points_m: tuple[tuple[float, float, float], ...]
    human_joints: tuple[str, ...]  # ankle, toe: the contact detector watches these


@dataclass(frozen=True)
class KeypointMap:
    """A robot's keypoints and feet, with the file they came from."""

    robot: str
    keypoints: tuple[Keypoint, ...]
    feet: tuple[Foot, ...]
    source: str = "<map>"

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        return tuple(k.human for k in self.keypoints)

    def check_links(self, link_exists) -> None:
        """InputError listing map links the robot lacks; `link_exists(name) -> bool` asks the robot."""
        names = [k.link for k in self.keypoints] + [f.link for f in self.feet]
        missing = sorted({n for n in names if not link_exists(n)})
        if missing:
            raise InputError(f"{self.source}: links {missing} are not in the robot's URDF; "
                             "fix the map's `link:` entries to name links of this URDF")


def _vector3(value, what: str, source: str) -> tuple[float, float, float]:
    try:
        array = np.asarray(value, dtype=np.float64) if isinstance(value, (list, tuple)) else np.zeros(0)
    except (TypeError, ValueError):
        array = np.zeros(0)
    if array.shape != (3,) or not np.isfinite(array).all():
        raise InputError(f"{source}: {what} must be a list of 3 finite numbers, got {value!r}")
    if np.abs(array).max() > MAX_OFFSET_M:
        raise InputError(f"{source}: {what} {value!r} is more than {MAX_OFFSET_M:g} m from its link; "
                         "expected metres in the link's frame")
    return tuple(float(v) for v in array)


def _orientation(spec, human: str, joint_names: tuple[str, ...], source: str):
    if not isinstance(spec, dict) or len(spec) != 2 or not set(spec) <= set(AXES):
        raise InputError(f"{source}: keypoint {human}: orientation must name two of the link axes x, y, z, "
                         f"e.g. {{y: [right_hip, left_hip], z: [pelvis, spine3]}}; got {spec!r}")
    axes = []
    for axis, direction in spec.items():
        if direction == UP:
            axes.append((axis, UP))
            continue
        if not (isinstance(direction, list) and len(direction) == 2 and all(d in joint_names for d in direction)):
            raise InputError(f"{source}: keypoint {human}: orientation axis {axis} must be `up` or a pair of "
                             f"human joints from {', '.join(joint_names)}; got {direction!r}")
        axes.append((axis, (direction[0], direction[1])))
    return tuple(axes)


def _number(entry: dict, key: str, default: float, where: str) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
        raise InputError(f"{where}: {key} must be a number >= 0, got {value!r}")
    if value > MAX_WEIGHT:
        raise InputError(f"{where}: {key} = {value:g} exceeds the limit {MAX_WEIGHT:g}; weights are relative, "
                         "scale them all down")
    return float(value)


def load_keypoint_map(path: str | Path, skeleton: Skeleton) -> KeypointMap:
    """Read and validate a keypoint map YAML for motions on `skeleton`."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise InputError(f"{path}: no such keypoint map; pass a YAML like config/retarget/unitree_g1.yaml with --map")
    if path.stat().st_size > MAX_MAP_BYTES:
        raise InputError(f"{path}: {path.stat().st_size / 1e6:.1f} MB is too big for a keypoint map (limit "
                         f"{MAX_MAP_BYTES / 1e6:g} MB; the shipped ones are about 2 kB)")
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("keypoints"), list) or not raw["keypoints"]:
        raise InputError(f"{path}: expected a mapping with a non-empty `keypoints:` list (see config/retarget/unitree_g1.yaml)")
    names = skeleton.joint_names
    keypoints = []
    for i, entry in enumerate(raw["keypoints"]):
        where = f"{source}: keypoints[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("human"), str) or not isinstance(entry.get("link"), str):
            raise InputError(f"{where}: each keypoint needs `human:` (a joint name) and `link:` (a URDF link name)")
        if entry["human"] not in names:
            raise InputError(f"{where}: unknown human joint {entry['human']!r}; choose from {', '.join(names)}")
        orientation_weight = _number(entry, "orientation_weight", 0.0, where)
        orientation = ()
        if "orientation" in entry:
            orientation = _orientation(entry["orientation"], entry["human"], names, where)
        if orientation_weight > 0 and not orientation:
            raise InputError(f"{where}: orientation_weight > 0 needs an `orientation:` with two axes")
        keypoints.append(Keypoint(
            human=entry["human"], link=entry["link"],
            offset_m=_vector3(entry.get("offset", [0.0, 0.0, 0.0]), "offset", where),
            position_weight=_number(entry, "position_weight", 1.0, where),
            orientation_weight=orientation_weight, orientation=orientation,
        ))
    duplicates = sorted({k.human for k in keypoints if [j.human for j in keypoints].count(k.human) > 1})
    if duplicates:
        raise InputError(f"{source}: human joints {duplicates} appear more than once; give each one keypoint")
    feet = []
    raw_feet = raw.get("feet")
    if not isinstance(raw_feet, dict) or set(raw_feet) != {"left", "right"}:
        raise InputError(f"{source}: expected `feet:` with `left:` and `right:` (link, sole_points, human_joints)")
    for side, entry in raw_feet.items():
        where = f"{source}: feet.{side}"
        if not isinstance(entry, dict) or not isinstance(entry.get("link"), str):
            raise InputError(f"{where}: needs `link:`, `sole_points:` and `human_joints:`")
        points = entry.get("sole_points")
        if not isinstance(points, list) or not 0 < len(points) <= MAX_SOLE_POINTS:
            raise InputError(f"{where}: sole_points must be a list of 1 to {MAX_SOLE_POINTS} [x, y, z] points in the foot "
                           "link's frame")
        human_joints = entry.get("human_joints")
        if not isinstance(human_joints, list) or not human_joints or any(j not in names for j in human_joints):
            raise InputError(f"{where}: human_joints must list joints from {', '.join(names)}, got {human_joints!r}")
        feet.append(Foot(side=side, link=entry["link"],
                         sole_points_m=tuple(_vector3(p, "a sole point", where) for p in points),
                         human_joints=tuple(human_joints)))
    mapped = {k.human for k in keypoints}
    for foot in feet:
        if not mapped & set(foot.human_joints):
            raise InputError(f"{source}: feet.{foot.side}: none of its human_joints {list(foot.human_joints)} is a "
                             "keypoint; map the foot's ankle or toe as a keypoint too (it is what gets pinned)")
    return KeypointMap(robot=str(raw.get("robot", path.stem)), keypoints=tuple(keypoints), feet=tuple(feet), source=source)
