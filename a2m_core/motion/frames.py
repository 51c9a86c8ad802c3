"""The one place where motion crosses from the dataset frame into the ROS frame.

Dataset frame (HumanML3D, KIT-ML after facing normalisation): Y up, the person initially
facing +Z, metres; for a person facing +Z with Y up, their left is +X (Y x Z = X).
ROS frame (REP 103): X forward, Y left, Z up; metres, radians.

So dataset +Z (forward) -> ROS +X, dataset +X (left) -> ROS +Y, dataset +Y (up) -> ROS +Z:
a cyclic permutation of the axes, a proper rotation (det +1), never a mirror. Lengths and
angles are unchanged; a rotation by an angle about dataset +Y is the same angle about ROS +Z.
The axis conversions keep units; HumanML3D is in metres but KIT-ML in millimetres, so scale by
`metres_per_unit(skeleton)` before anything leaves for ROS.
Quaternions are (w, x, y, z) like the rest of a2m_core.
"""

from __future__ import annotations

import numpy as np

from a2m_core.errors import InputError
from a2m_core.motion.skeleton import HUMANML3D, KIT, Skeleton

_METRES_PER_UNIT = {HUMANML3D.name: 1.0, KIT.name: 0.001}  # KIT-ML stores millimetres

DATASET_TO_ROS = np.array(
    [
        [0.0, 0.0, 1.0],  # ROS x (forward) = dataset z
        [1.0, 0.0, 0.0],  # ROS y (left)    = dataset x
        [0.0, 1.0, 0.0],  # ROS z (up)      = dataset y
    ]
)
DATASET_TO_ROS.setflags(write=False)
"""(3, 3) rotation taking dataset-frame vectors to ROS-frame vectors: p_ros = DATASET_TO_ROS @ p_dataset."""


def metres_per_unit(skeleton: Skeleton) -> float:
    """Metres per unit of the skeleton's dataset positions (HumanML3D 1, KIT-ML 0.001)."""
    if skeleton.name not in _METRES_PER_UNIT:
        raise ValueError(f"unknown length unit for skeleton {skeleton.name!r}; known: {', '.join(_METRES_PER_UNIT)}")
    return _METRES_PER_UNIT[skeleton.name]


MAX_DISTANCE_M = 1000.0  # no motion a2m handles puts a joint 1 km from the origin: such values are garbage


def check_within_reach(values: np.ndarray, skeleton: Skeleton, what: str) -> None:
    """InputError when `values` (positions, or position-like features, in the skeleton's units) hold
    anything non-finite or beyond MAX_DISTANCE_M: scaled, corrupted or wrongly typed data."""
    values = np.asarray(values)
    if not np.isfinite(values).all():
        raise InputError(f"{what}: {int((~np.isfinite(values)).sum())} NaN or infinite values; expected finite numbers")
    limit = MAX_DISTANCE_M / metres_per_unit(skeleton)
    peak = float(np.abs(values).max(initial=0.0))
    if peak > limit:
        raise InputError(f"{what}: values up to {peak:.3g} ({peak * metres_per_unit(skeleton):.3g} m) are beyond "
                         f"{MAX_DISTANCE_M:g} m; expected {skeleton.name} motion in "
                         f"{'metres' if metres_per_unit(skeleton) == 1 else 'millimetres'} (wrong units or a corrupt file?)")


def _check_last_dims(array: np.ndarray, dims: tuple[int, ...], what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim < len(dims) or array.shape[array.ndim - len(dims) :] != dims:
        raise ValueError(f"{what} must have shape (..., {', '.join(map(str, dims))}), got {array.shape}")
    return array


def positions_to_ros(positions: np.ndarray) -> np.ndarray:
    """Points or vectors (..., 3) in the dataset frame -> the same in the ROS frame (metres)."""
    positions = _check_last_dims(positions, (3,), "positions")
    return positions[..., [2, 0, 1]]


def positions_from_ros(positions: np.ndarray) -> np.ndarray:
    """Points or vectors (..., 3) in the ROS frame -> the same in the dataset frame (metres)."""
    positions = _check_last_dims(positions, (3,), "positions")
    return positions[..., [1, 2, 0]]


def matrices_to_ros(rotations: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) acting on dataset-frame vectors -> the same rotations acting on ROS-frame vectors."""
    rotations = _check_last_dims(rotations, (3, 3), "rotation matrices")
    return DATASET_TO_ROS @ rotations @ DATASET_TO_ROS.T


def matrices_from_ros(rotations: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) acting on ROS-frame vectors -> the same rotations acting on dataset-frame vectors."""
    rotations = _check_last_dims(rotations, (3, 3), "rotation matrices")
    return DATASET_TO_ROS.T @ rotations @ DATASET_TO_ROS


def quaternions_to_ros(quaternions: np.ndarray) -> np.ndarray:
    """Quaternions (..., 4) wxyz in the dataset frame -> the same rotations in the ROS frame (wxyz).

    A proper change of basis keeps the scalar part and rotates the vector part like a position.
    """
    quaternions = _check_last_dims(quaternions, (4,), "quaternions")
    return quaternions[..., [0, 3, 1, 2]]


def quaternions_from_ros(quaternions: np.ndarray) -> np.ndarray:
    """Quaternions (..., 4) wxyz in the ROS frame -> the same rotations in the dataset frame (wxyz)."""
    quaternions = _check_last_dims(quaternions, (4,), "quaternions")
    return quaternions[..., [0, 2, 3, 1]]


def heading_yaw(forward: np.ndarray) -> np.ndarray:
    """ROS yaw (radians, about +Z from +X, counter-clockwise seen from above) of dataset-frame directions (..., 3).

    A person facing dataset +Z has yaw 0; facing dataset +X (their initial left) has yaw +pi/2.
    Only the horizontal part of the direction counts.
    """
    forward_ros = positions_to_ros(forward)
    return np.arctan2(forward_ros[..., 1], forward_ros[..., 0])

