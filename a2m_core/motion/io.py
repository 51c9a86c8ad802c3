"""Reading motion files a user hands over: features (raw or normalised) or joint positions.

Every failure is an `InputError` that names the file and says what was expected.
Arrays load with allow_pickle=False: nothing a user hands over is unpickled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from a2m_core.errors import InputError
from a2m_core.motion.frames import check_within_reach
from a2m_core.motion.motion import Motion
from a2m_core.motion.skeleton import SKELETONS, Skeleton

NORMALISED_LIMIT = 1000.0  # normalised features: standard deviations from the dataset mean; real data stays below 100
EXPECTED = "features (frames, 263) for HumanML3D or (frames, 251) for KIT-ML, or joints (frames, 22, 3) or (frames, 21, 3)"


def load_array(path: str | Path, what: str = "array") -> np.ndarray:
    """A float32 array from a .npy file, or an InputError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file (expected a .npy {what})")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy {what} ({exc})") from None
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.number) \
            or np.issubdtype(array.dtype, np.complexfloating):
        raise InputError(f"{path}: expected a real-valued .npy {what}, got dtype {getattr(array, 'dtype', type(array))}")
    if array.ndim == 0:
        raise InputError(f"{path}: holds a single number; expected a .npy {what} array")
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf, which the checks refuse
        return array.astype(np.float32, copy=False)


def skeleton_for_joints(shape: tuple[int, ...]) -> Skeleton | None:
    """The skeleton whose joint count matches a (frames, joints, 3) shape, if any."""
    if len(shape) == 3 and shape[2] == 3:
        for skeleton in SKELETONS.values():
            if shape[1] == skeleton.num_joints:
                return skeleton
    return None


def motion_from_array(
    array: np.ndarray,
    source: str,
    dataset: str | None = None,
    mean: np.ndarray | None = None,
    std: np.ndarray | None = None,
) -> Motion:
    """A Motion from features or joints; `mean`/`std` given means the features are normalised."""
    from a2m_core.motion.features import Normalizer, codec_for_features

    if array.size == 0 or array.shape[0] == 0:
        raise InputError(f"{source}: empty array {array.shape}; expected {EXPECTED}")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise InputError(f"{source}: {bad} NaN or infinite values; expected finite {EXPECTED}")
    if dataset is not None and dataset not in SKELETONS:
        raise InputError(f"unknown dataset {dataset!r}: choose one of {', '.join(SKELETONS)}")

    skeleton = skeleton_for_joints(array.shape)
    if skeleton is not None:
        if dataset is not None and skeleton.name != dataset:
            raise InputError(f"{source}: joints {array.shape} belong to {skeleton.name}, not {dataset}")
        if mean is not None or std is not None:
            raise InputError(f"{source}: --mean/--std apply to features, but this file holds joints {array.shape}")
        check_within_reach(array, skeleton, source)
        return Motion(joints=array, skeleton=skeleton)

    if array.ndim != 2:
        raise InputError(f"{source}: shape {array.shape}; expected {EXPECTED}")
    try:
        codec = codec_for_features(array)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    if dataset is not None and codec.skeleton.name != dataset:
        raise InputError(f"{source}: {array.shape[1]}-d features are {codec.skeleton.name}, not {dataset}")
    if (mean is None) != (std is None):
        raise InputError("give both --mean and --std (the dataset's Mean.npy and Std.npy), or neither")
    if mean is not None:
        peak = float(np.abs(array).max())
        if peak > NORMALISED_LIMIT:
            raise InputError(f"{source}: normalised features reach {peak:.3g} standard deviations (limit "
                             f"{NORMALISED_LIMIT:g}); expected normalised {codec.skeleton.name} features: raw features "
                             "need no --mean/--std, and a scaled or corrupt file cannot be decoded")
        try:
            array = Normalizer(mean, std).denormalize(array)
        except InputError as exc:
            raise InputError(f"{source}: {exc}") from None
    check_within_reach(array, codec.skeleton, f"{source} (features)")
    joints = codec.decode(array)
    check_within_reach(joints, codec.skeleton, f"{source} (decoded joints)")
    return Motion(joints=joints, skeleton=codec.skeleton, features=array)


def load_motion(
    path: str | Path,
    dataset: str | None = None,
    mean_path: str | Path | None = None,
    std_path: str | Path | None = None,
) -> Motion:
    """A Motion from a .npy of features (raw, or normalised when Mean/Std files are given) or joints."""
    array = load_array(path, "motion")
    mean = load_array(mean_path, "mean") if mean_path is not None else None
    std = load_array(std_path, "std") if std_path is not None else None
    return motion_from_array(array, str(path), dataset=dataset, mean=mean, std=std)
