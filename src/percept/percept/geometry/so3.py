"""SO(3): rotation matrices, rotation vectors and Hamilton quaternions.

The exponential and logarithm maps follow kornia's ``kornia/geometry/liegroup/so3.py``;
SciPy's ``Rotation`` does the numerics, which stay stable near 0 and near pi. Every
function takes one element or a batch: leading dimensions ``...`` pass through.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

__all__ = ["exp", "hat", "log", "matrix_from_quat_xyzw", "quat_xyzw_from_matrix", "vee"]

FloatArray = npt.NDArray[np.float64]


def _last_dims(values: npt.ArrayLike, shape: tuple[int, ...], name: str) -> FloatArray:
    """``values`` as float64, checked to end in ``shape``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape[arr.ndim - len(shape) :] != shape or arr.ndim < len(shape):
        expected = ", ".join(map(str, shape))
        msg = f"{name} must have shape (..., {expected}), got {arr.shape}"
        raise ValueError(msg)
    return arr


def hat(omega: npt.ArrayLike) -> FloatArray:
    """Skew-symmetric matrix of a vector: ``hat(a) @ b == cross(a, b)``.

    Args:
        omega: (..., 3) float64 vector.

    Returns:
        (..., 3, 3) float64 skew-symmetric matrix.

    Raises:
        ValueError: when ``omega`` does not end in 3.

    >>> hat([1.0, 2.0, 3.0]).tolist()
    [[0.0, -3.0, 2.0], [3.0, 0.0, -1.0], [-2.0, 1.0, 0.0]]
    """
    w = _last_dims(omega, (3,), "omega")
    out = np.zeros((*w.shape[:-1], 3, 3))
    out[..., 0, 1] = -w[..., 2]
    out[..., 0, 2] = w[..., 1]
    out[..., 1, 0] = w[..., 2]
    out[..., 1, 2] = -w[..., 0]
    out[..., 2, 0] = -w[..., 1]
    out[..., 2, 1] = w[..., 0]
    return out


def vee(omega_hat: npt.ArrayLike) -> FloatArray:
    """Vector of a skew-symmetric matrix, the inverse of :func:`hat`.

    Args:
        omega_hat: (..., 3, 3) float64 skew-symmetric matrix.

    Returns:
        (..., 3) float64 vector.

    Raises:
        ValueError: when ``omega_hat`` does not end in (3, 3).

    >>> vee(hat([1.0, 2.0, 3.0])).tolist()
    [1.0, 2.0, 3.0]
    """
    m = _last_dims(omega_hat, (3, 3), "omega_hat")
    return np.stack([m[..., 2, 1], m[..., 0, 2], m[..., 1, 0]], axis=-1)


def exp(rotvec_rad: npt.ArrayLike) -> FloatArray:
    """Rotation matrix of a rotation vector (axis times angle).

    Args:
        rotvec_rad: (..., 3) float64 rotation vector, radians.

    Returns:
        (..., 3, 3) float64 rotation matrix.

    Raises:
        ValueError: when ``rotvec_rad`` does not end in 3.

    >>> np.round(exp([0.0, 0.0, np.pi / 2]), 12).tolist()
    [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    w = _last_dims(rotvec_rad, (3,), "rotvec_rad")
    flat = Rotation.from_rotvec(w.reshape(-1, 3)).as_matrix()
    return np.asarray(flat, dtype=np.float64).reshape(*w.shape[:-1], 3, 3)


def log(R: npt.ArrayLike) -> FloatArray:
    """Rotation vector of a rotation matrix, the inverse of :func:`exp`.

    The angle is in [0, pi]; at exactly pi the sign of the axis is SciPy's choice.

    Args:
        R: (..., 3, 3) float64 rotation matrix.

    Returns:
        (..., 3) float64 rotation vector, radians.

    Raises:
        ValueError: when ``R`` does not end in (3, 3).

    >>> np.round(log(exp([0.1, -0.2, 0.3])), 12).tolist()
    [0.1, -0.2, 0.3]
    """
    m = _last_dims(R, (3, 3), "R")
    flat = Rotation.from_matrix(m.reshape(-1, 3, 3)).as_rotvec()
    return np.asarray(flat, dtype=np.float64).reshape(*m.shape[:-2], 3)


def matrix_from_quat_xyzw(quat_xyzw: npt.ArrayLike) -> FloatArray:
    """Rotation matrix of a Hamilton quaternion.

    Args:
        quat_xyzw: (..., 4) float64 Hamilton quaternion, xyzw order (ROS / SciPy order);
            normalised here.

    Returns:
        (..., 3, 3) float64 rotation matrix.

    Raises:
        ValueError: when ``quat_xyzw`` does not end in 4.

    >>> matrix_from_quat_xyzw([0.0, 0.0, 0.0, 1.0]).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    q = _last_dims(quat_xyzw, (4,), "quat_xyzw")
    flat = Rotation.from_quat(q.reshape(-1, 4)).as_matrix()
    return np.asarray(flat, dtype=np.float64).reshape(*q.shape[:-1], 3, 3)


def quat_xyzw_from_matrix(R: npt.ArrayLike) -> FloatArray:
    """Hamilton quaternion of a rotation matrix.

    Args:
        R: (..., 3, 3) float64 rotation matrix.

    Returns:
        (..., 4) float64 unit Hamilton quaternion, xyzw order, ``w >= 0``
        (SciPy's canonical sign).

    Raises:
        ValueError: when ``R`` does not end in (3, 3).

    >>> quat_xyzw_from_matrix(np.eye(3)).tolist()
    [0.0, 0.0, 0.0, 1.0]
    """
    m = _last_dims(R, (3, 3), "R")
    flat = Rotation.from_matrix(m.reshape(-1, 3, 3)).as_quat(canonical=True)
    return np.asarray(flat, dtype=np.float64).reshape(*m.shape[:-2], 4)
