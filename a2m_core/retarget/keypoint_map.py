"""The keypoint map: which human joint drives which robot link, how strongly, and where the feet are.

Loaded from a small YAML file (config/retarget/unitree_g1.yaml is the G1's), validated against
the human skeleton on load and against the robot's links by `check_links`; every problem is an
`InputError` naming the file, the entry and the fix.

An orientation target is a frame built from human joints: `orientation: {y: [right_hip, left_hip],
z: [pelvis, spine3]}` means the link's y axis points from right_hip to left_hip and its z axis
from pelvis to spine3 (the first axis listed is kept exactly, the second is made orthogonal to it;
`up` instead of a joint pair means the world's up). The axes are the link's own axes in the URDF,
in the ROS frame (x forward, y left, z up).

The file's schema is declared once, on the dataclasses below: each field that a YAML key fills
carries its key and the function that checks and converts that key's value (`_key`); `_load`
reads any of them from a YAML mapping, refuses unknown and missing keys, and names the entry in
every error. Checks that relate several entries live in the dataclasses' `__post_init__`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields, replace
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


def _key(parse: Callable, yaml_key: str | None = None, **default):
    """A dataclass field filled from the YAML key `yaml_key` (the field's name if None) by
    `parse(value, where, key, joints)`; a field without `default=` is a required key."""
    return field(metadata={"parse": parse, "key": yaml_key}, **default)


def _name(value, where: str, key: str, joints: tuple[str, ...]) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: {key} must be a name, got {value!r}")
    return value


def _joint(value, where: str, key: str, joints: tuple[str, ...]) -> str:
    if value not in joints:
        raise InputError(f"{where}: unknown human joint {value!r}; choose from {', '.join(joints)}")
    return value


def _joint_list(value, where: str, key: str, joints: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or any(j not in joints for j in value):
        raise InputError(f"{where}: {key} must list joints from {', '.join(joints)}, got {value!r}")
    return tuple(value)


def _weight(value, where: str, key: str, joints: tuple[str, ...]) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
        raise InputError(f"{where}: {key} must be a number >= 0, got {value!r}")
    if value > MAX_WEIGHT:
        raise InputError(f"{where}: {key} = {value:g} exceeds the limit {MAX_WEIGHT:g}; weights are relative, "
                         "scale them all down")
    return float(value)


def _vector3(value, where: str, key: str, joints: tuple[str, ...] = ()) -> tuple[float, float, float]:
    try:
        array = np.asarray(value, dtype=np.float64) if isinstance(value, (list, tuple)) else np.zeros(0)
    except (TypeError, ValueError):
        array = np.zeros(0)
    if array.shape != (3,) or not np.isfinite(array).all():
        raise InputError(f"{where}: {key} must be a list of 3 finite numbers, got {value!r}")
    if np.abs(array).max() > MAX_OFFSET_M:
        raise InputError(f"{where}: {key} {value!r} is more than {MAX_OFFSET_M:g} m from its link; "
                         "expected metres in the link's frame")
    return tuple(float(v) for v in array)


def _sole_points(value, where: str, key: str, joints: tuple[str, ...]) -> tuple[tuple[float, float, float], ...]:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_SOLE_POINTS:
        raise InputError(f"{where}: {key} must be a list of 1 to {MAX_SOLE_POINTS} [x, y, z] points in the foot "
                         "link's frame")
    return tuple(_vector3(point, where, "a sole point") for point in value)


def _orientation(value, where: str, key: str, joints: tuple[str, ...]):
    if not isinstance(value, dict) or len(value) != 2 or not set(value) <= set(AXES):
        raise InputError(f"{where}: {key} must name two of the link axes x, y, z, "
                         f"e.g. {{y: [right_hip, left_hip], z: [pelvis, spine3]}}; got {value!r}")
    axes = []
    for axis, direction in value.items():
        if direction == UP:
            axes.append((axis, UP))
        elif isinstance(direction, list) and len(direction) == 2 and all(d in joints for d in direction):
            axes.append((axis, (direction[0], direction[1])))
        else:
            raise InputError(f"{where}: {key} axis {axis} must be `up` or a pair of human joints from "
                             f"{', '.join(joints)}; got {direction!r}")
    return tuple(axes)


def _load(cls, raw, where: str, joints: tuple[str, ...], **given):
    """An instance of dataclass `cls` from the YAML mapping `raw` by the fields' `_key` declarations;
    `given` fills the fields no key fills. InputError naming `where` on any mistake."""
    declared = {f.metadata["key"] or f.name: f for f in fields(cls) if "parse" in f.metadata}
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a mapping with {', '.join(declared)}, got {raw!r}")
    unknown = sorted(str(k) for k in raw if k not in declared)
    if unknown:
        raise InputError(f"{where}: unknown keys {unknown}; expected {', '.join(declared)}")
    missing = [k for k, f in declared.items() if k not in raw and f.default is MISSING]
    if missing:
        raise InputError(f"{where}: missing {', '.join(f'`{k}:`' for k in missing)}; expected {', '.join(declared)}")
    values = {f.name: f.metadata["parse"](raw[k], where, k, joints) for k, f in declared.items() if k in raw}
    try:
        return cls(**values, **given)
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None


def _keypoints(value, where: str, key: str, joints: tuple[str, ...]) -> tuple[Keypoint, ...]:
    if not isinstance(value, list) or not value:
        raise InputError(f"{where}: expected a non-empty `{key}:` list (see config/retarget/unitree_g1.yaml)")
    return tuple(_load(Keypoint, entry, f"{where}: {key}[{i}]", joints) for i, entry in enumerate(value))


def _feet(value, where: str, key: str, joints: tuple[str, ...]) -> tuple[Foot, ...]:
    if not isinstance(value, dict) or set(value) != {"left", "right"}:
        raise InputError(f"{where}: expected `{key}:` with `left:` and `right:` (link, sole_points, human_joints)")
    return tuple(_load(Foot, entry, f"{where}: {key}.{side}", joints, side=side) for side, entry in value.items())


@dataclass(frozen=True)
class Keypoint:
    """One human joint pulling a point on a robot link towards it (and optionally the link's orientation)."""

    human: str = _key(_joint)
    link: str = _key(_name)  # a URDF link
    offset_m: tuple[float, float, float] = _key(_vector3, "offset", default=(0.0, 0.0, 0.0))  # link frame
    position_weight: float = _key(_weight, default=1.0)
    orientation_weight: float = _key(_weight, default=0.0)
    # ((axis, (from_joint, to_joint) or "up"), (axis, ...)): primary axis first
    orientation: tuple[tuple[str, tuple[str, str] | str], ...] = _key(_orientation, default=())

    def __post_init__(self) -> None:
        if self.position_weight < 0 or self.orientation_weight < 0:
            raise ValueError(f"keypoint {self.human}: weights must be >= 0")
        if self.orientation_weight > 0 and len(self.orientation) != 2:
            raise ValueError(f"keypoint {self.human}: orientation_weight > 0 needs an `orientation:` with two axes")


@dataclass(frozen=True)
class Foot:
    """A robot foot: its link and the sole's contact points (link frame, metres), and the human joints that drive it."""

    side: str
    link: str = _key(_name)
    sole_points_m: tuple[tuple[float, float, float], ...] = _key(_sole_points, "sole_points")
    human_joints: tuple[str, ...] = _key(_joint_list)  # ankle, toe: the contact detector watches these


@dataclass(frozen=True)
class KeypointMap:
    """A robot's keypoints and feet, with the file they came from."""

    keypoints: tuple[Keypoint, ...] = _key(_keypoints)
    feet: tuple[Foot, ...] = _key(_feet)
    robot: str = _key(_name, default="")  # the file's name without suffix if empty
    source: str = "<map>"

    def __post_init__(self) -> None:
        humans = [k.human for k in self.keypoints]
        duplicates = sorted({h for h in humans if humans.count(h) > 1})
        if duplicates:
            raise ValueError(f"human joints {duplicates} appear more than once; give each one keypoint")
        for foot in self.feet:
            if not set(humans) & set(foot.human_joints):
                raise ValueError(f"feet.{foot.side}: none of its human_joints {list(foot.human_joints)} is a "
                                 "keypoint; map the foot's ankle or toe as a keypoint too (it is what gets pinned)")

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


def load_keypoint_map(path: str | Path, skeleton: Skeleton) -> KeypointMap:
    """Read and validate a keypoint map YAML for motions on `skeleton`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such keypoint map; pass a YAML like config/retarget/unitree_g1.yaml with --map")
    if path.stat().st_size > MAX_MAP_BYTES:
        raise InputError(f"{path}: {path.stat().st_size / 1e6:.1f} MB is too big for a keypoint map (limit "
                         f"{MAX_MAP_BYTES / 1e6:g} MB; the shipped ones are about 2 kB)")
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict) or "keypoints" not in raw:
        raise InputError(f"{path}: expected a mapping with a non-empty `keypoints:` list (see config/retarget/unitree_g1.yaml)")
    kmap = _load(KeypointMap, raw, str(path), skeleton.joint_names, source=str(path))
    return kmap if kmap.robot else replace(kmap, robot=path.stem)
