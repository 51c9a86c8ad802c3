"""Quaternion, rotation-matrix and 6D helpers, vectorised over leading dimensions.

Quaternions are (w, x, y, z), scalar first, everywhere in a2m; `quat_rotate(q, v)` is q v q^-1.
Generic rotation algebra (applying, matrix conversions, axis-angle) is scipy's `Rotation`;
this module only adapts it to that order and to numpy broadcasting over any leading
dimensions. The product is written out: it runs once per frame along a clip (twist
continuity), where a `Rotation` per call cost 0.15 ms, a third of turning a generated clip
into joint angles. What is specific stays here: HumanML3D's continuous 6D (the first two
columns of the rotation matrix, column 0 then column 1, decoded by its Gram-Schmidt), the
datasets' `qbetween` and `qfix`, turns about the vertical (+Y up, facing +Z) and twist
continuity along a clip. Inputs broadcast against each other like numpy arrays; results are
float64. The model's own rotation code (`a2m_core/model`) stays in torch: it must stay
differentiable and exportable to ONNX, which numpy and scipy are not.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])


def _as_float(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _flat(a: np.ndarray, lead: tuple[int, ...]) -> np.ndarray:
    """a (... k) broadcast to leading shape `lead` and flattened to a writable (n k) array, as scipy wants."""
    return np.array(np.broadcast_to(a, lead + a.shape[-1:]).reshape(-1, a.shape[-1]))


def _rotation(q: np.ndarray, lead: tuple[int, ...]) -> Rotation:
    """scipy rotations of quaternions (... 4) broadcast to leading shape `lead`, as a flat stack."""
    return Rotation.from_quat(_flat(q, lead), scalar_first=True)


def quat_multiply(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Hamilton product q r of unit quaternions: (... 4), (... 4) -> (... 4); applying it rotates by r first, then q."""
    q, r = np.broadcast_arrays(_as_float(q), _as_float(r))
    qw, qv, rw, rv = q[..., :1], q[..., 1:], r[..., :1], r[..., 1:]
    w = qw * rw - (qv * rv).sum(-1, keepdims=True)
    return np.concatenate([w, qw * rv + rw * qv + np.cross(qv, rv)], axis=-1)


def quat_inverse(q: np.ndarray) -> np.ndarray:
    """Inverse of unit quaternions (the conjugate): (... 4) -> (... 4)."""
    q = _as_float(q)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternions: (... 4) -> (... 4)."""
    q = _as_float(q)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v by unit quaternions q: (... 4), (... 3) -> (... 3)."""
    q, v = _as_float(q), _as_float(v)
    lead = np.broadcast_shapes(q.shape[:-1], v.shape[:-1])
    if not np.prod(lead, dtype=int):
        return np.zeros(lead + (3,))
    return _rotation(q, lead).apply(_flat(v, lead)).reshape(lead + (3,))


def quat_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Shortest-arc unit quaternion turning direction u onto direction v: (... 3), (... 3) -> (... 4).

    Same formula as the datasets' `qbetween` (w = |u||v| + u.v, xyz = u x v, normalised),
    which is undefined for opposite directions; there this returns a half turn about an
    axis perpendicular to u instead of NaN.
    """
    u, v = np.broadcast_arrays(_as_float(u), _as_float(v))
    w = np.sqrt((u * u).sum(-1) * (v * v).sum(-1)) + (u * v).sum(-1)  # (...)
    q = np.concatenate([w[..., None], np.cross(u, v)], axis=-1)  # (... 4)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    scale = np.sqrt((u * u).sum(-1) * (v * v).sum(-1))[..., None]
    opposite = (norm <= 1e-12 * np.maximum(scale, 1e-300))[..., 0]
    if opposite.any():
        uo = u[opposite]
        # any axis perpendicular to u: cross with the coordinate axis u is least aligned with
        helper = np.eye(3)[np.argmin(np.abs(uo), axis=-1)]
        axis = np.cross(uo, helper)
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        q[opposite] = np.concatenate([np.zeros((len(uo), 1)), axis], axis=-1)
        norm[opposite] = 1.0
    return q / norm


def quat_heading_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Turn about +Y taking horizontal direction u onto horizontal v: (... 3), (... 3) -> (... 4), w >= 0.

    Only the x and z components count. For horizontal directions this is `quat_between`'s
    shortest arc, but it stays a turn about the vertical when u and v are (nearly) opposite:
    there `quat_between` takes its fallback axis from rounding noise (a facing of
    (-1e-16, 0, -1) gives a half turn about X, which puts the body upside down).
    """
    u, v = np.broadcast_arrays(_as_float(u), _as_float(v))
    angle = np.arctan2(u[..., 2] * v[..., 0] - u[..., 0] * v[..., 2], u[..., 0] * v[..., 0] + u[..., 2] * v[..., 2])
    return quat_from_yaw(angle)


def quat_fix(q: np.ndarray) -> np.ndarray:
    """Choose q or -q per frame so consecutive quaternions stay close: (t ... 4) -> (t ... 4).

    The datasets' `qfix`: flips every frame after a negative dot product with its predecessor.
    """
    q = _as_float(q).copy()
    flips = (q[1:] * q[:-1]).sum(-1) < 0  # (t-1 ...)
    odd = np.cumsum(flips, axis=0) % 2 == 1
    q[1:][odd] *= -1.0
    return q


def quat_continuous_twist(aims: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Per frame, aims[t] twisted about `axes` to lie nearest the previous result: (t ... 4), (... 3) -> (t ... 4).

    aim * (rotation about the axis) turns the axis the same way as aim does, so the twist is free
    when only a bone's direction is known. The shortest arc onto a direction flips that twist
    abruptly where the direction passes opposite the axis; following on from the previous frame
    keeps the rotations continuous instead. Frame 0 keeps its aim. Where the previous rotation is
    a half turn across the axis away, no twist is nearer and the aim is kept.
    """
    aims = _as_float(aims)
    axes = _as_float(axes) / np.linalg.norm(axes, axis=-1, keepdims=True)
    out = aims.copy()
    for frame in range(1, len(aims)):
        relative = quat_multiply(quat_inverse(aims[frame]), out[frame - 1])  # (... 4) from this aim to the last result
        # the nearest rotation about the axis: the scalar part and the axis-parallel vector part
        twist = np.concatenate([relative[..., :1], axes * (relative[..., 1:] * axes).sum(-1, keepdims=True)], axis=-1)
        norm = np.linalg.norm(twist, axis=-1, keepdims=True)
        usable = norm > 1e-9
        twist = np.where(usable, twist / np.where(usable, norm, 1.0), IDENTITY)
        out[frame] = quat_multiply(aims[frame], twist)
    return out


def quat_from_axis_angle(axis: np.ndarray, angle_rad: np.ndarray) -> np.ndarray:
    """Rotation of angle_rad about unit axis: (... 3), (...) -> (... 4)."""
    rotvec = _as_float(axis) * _as_float(angle_rad)[..., None]  # (... 3)
    if not rotvec.size:
        return np.zeros(rotvec.shape[:-1] + (4,))
    return Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_quat(scalar_first=True).reshape(rotvec.shape[:-1] + (4,))


def quat_from_yaw(angle_rad: np.ndarray) -> np.ndarray:
    """Rotation of angle_rad about +Y (up): (...) -> (... 4)."""
    return quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), angle_rad)


def quat_yaw(q: np.ndarray) -> np.ndarray:
    """Heading angle about +Y of the rotated +Z axis, in (-pi, pi]: (... 4) -> (...)."""
    forward = quat_rotate(q, np.array([0.0, 0.0, 1.0]))  # (... 3)
    return np.arctan2(forward[..., 0], forward[..., 2])


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices of quaternions (normalised first): (... 4) -> (... 3 3)."""
    q = _as_float(q)
    if not q[..., 0].size:
        return np.zeros(q.shape[:-1] + (3, 3))
    return _rotation(q, q.shape[:-1]).as_matrix().reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Unit quaternions (w >= 0) of rotation matrices: (... 3 3) -> (... 4)."""
    m = _as_float(m)
    if not m[..., 0, 0].size:
        return np.zeros(m.shape[:-2] + (4,))
    q = Rotation.from_matrix(np.array(m.reshape(-1, 3, 3))).as_quat(canonical=True, scalar_first=True)
    return q.reshape(m.shape[:-2] + (4,))


def matrix_to_cont6d(m: np.ndarray) -> np.ndarray:
    """HumanML3D's continuous 6D: columns 0 and 1 of the matrix: (... 3 3) -> (... 6)."""
    m = _as_float(m)
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def quat_to_cont6d(q: np.ndarray) -> np.ndarray:
    """Quaternions to HumanML3D's continuous 6D: (... 4) -> (... 6)."""
    return matrix_to_cont6d(quat_to_matrix(q))


def cont6d_to_matrix(d6: np.ndarray) -> np.ndarray:
    """Continuous 6D to rotation matrices by Gram-Schmidt, as HumanML3D does: (... 6) -> (... 3 3).

    Column 0 is the normalised first vector; column 2 is normalised(col0 x second vector);
    column 1 is col2 x col0.
    """
    d6 = _as_float(d6)
    x = d6[..., :3] / np.linalg.norm(d6[..., :3], axis=-1, keepdims=True)
    z = np.cross(x, d6[..., 3:])
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


def cont6d_to_quat(d6: np.ndarray) -> np.ndarray:
    """Continuous 6D to unit quaternions (w >= 0): (... 6) -> (... 4)."""
    return matrix_to_quat(cont6d_to_matrix(d6))
