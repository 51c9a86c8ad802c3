"""Features -> joint positions as a tensor function, so the exported motion graph emits joints too.

The same computation as `a2m_core.motion.features.FeatureCodec.decode` (the reference
`recover_from_ric`), written for fixed-size batched tensors: the root's yaw only turns about
the up axis, so the quaternion algebra reduces to a 2D rotation in the xz plane, and the two
running sums along time are products with a constant lower-triangular matrix (no CumSum op,
whose TensorRT support depends on the version). Only the root channels and the ric block are
read, as in the reference.
"""

from __future__ import annotations

import torch
from torch import Tensor


def cumulative_sum_matrix(num_frames: int) -> Tensor:
    """(t t) float32 lower-triangular ones: tri @ x (t ...) is the running sum of x along t."""
    return torch.tril(torch.ones(num_frames, num_frames))


def features_to_joints(features: Tensor, num_joints: int, tri: Tensor) -> Tensor:
    """Raw features (b t f) -> joint positions (b t j 3), dataset frame and units.

    tri: cumulative_sum_matrix(t). Frame 0 starts at yaw 0 and the xz origin, as in the reference.
    """
    b, t, _ = features.shape
    shifted = torch.cat([torch.zeros_like(features[:, :1, :3]), features[:, :-1, :3]], dim=1)  # (b t 3)
    # The stored yaw velocity is half the yaw change; the root quaternion (cos a, 0, sin a, 0)
    # turns by 2a, and decoding applies its inverse, a turn by -2a about +Y.
    yaw = 2.0 * torch.einsum("st,bt->bs", tri, shifted[..., 0])  # (b t) radians
    cos, sin = torch.cos(yaw), torch.sin(yaw)
    step_x, step_z = shifted[..., 1], shifted[..., 2]  # (b t) velocity in the root frame
    world_x = cos * step_x - sin * step_z
    world_z = sin * step_x + cos * step_z
    root_x = torch.einsum("st,bt->bs", tri, world_x)  # (b t)
    root_z = torch.einsum("st,bt->bs", tri, world_z)
    root_y = features[..., 3]
    ric = features[..., 4 : 4 + (num_joints - 1) * 3].reshape(b, t, num_joints - 1, 3)  # (b t j-1 3)
    rx, ry, rz = ric.unbind(-1)
    c, s = cos[..., None], sin[..., None]  # (b t 1)
    joints_x = c * rx - s * rz + root_x[..., None]
    joints_z = s * rx + c * rz + root_z[..., None]
    body = torch.stack([joints_x, ry, joints_z], dim=-1)  # (b t j-1 3)
    root = torch.stack([root_x, root_y, root_z], dim=-1)[:, :, None]  # (b t 1 3)
    return torch.cat([root, body], dim=2)
