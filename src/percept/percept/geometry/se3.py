"""SE(3): rigid transforms as (4, 4) float64 matrices ``T_a_b``.

``T_a_b`` takes points from frame b to frame a (the pose of b in a), so
``T_a_c = compose(T_a_b, T_b_c)``. A tangent vector is ``xi = (rho, phi)``, translation
part first, as in Sophus and kornia's ``kornia/geometry/liegroup/se3.py``. Every function
takes one transform or a batch: leading dimensions ``...`` pass through.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from percept.geometry import so3

__all__ = [
    "compose",
    "exp",
    "from_rotation_translation",
    "inverse",
    "log",
    "transform_points",
]

FloatArray = npt.NDArray[np.float64]

# Below this angle (radians) the V-matrix coefficients use their Taylor series: the closed
# forms divide by theta**2 and theta**3 and lose all digits near 0.
_SMALL_ANGLE_RAD = 1e-4


def _transforms(T: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(T, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-2:] != (4, 4):
        msg = f"{name} must have shape (..., 4, 4), got {arr.shape}"
        raise ValueError(msg)
    return arr


def from_rotation_translation(R: npt.ArrayLike, t: npt.ArrayLike) -> FloatArray:
    """Homogeneous transform from a rotation and a translation.

    Args:
        R: (..., 3, 3) float64 rotation ``R_a_b``.
        t: (..., 3) float64 translation ``t_a_b``, metres, frame a.

    Returns:
        (..., 4, 4) float64 ``T_a_b``.

    Raises:
        ValueError: when ``R`` does not end in (3, 3) or ``t`` in 3.

    >>> from_rotation_translation(np.eye(3), [1.0, 2.0, 3.0])[:3, 3].tolist()
    [1.0, 2.0, 3.0]
    """
    rot = np.asarray(R, dtype=np.float64)
    trans = np.asarray(t, dtype=np.float64)
    if rot.ndim < 2 or rot.shape[-2:] != (3, 3) or trans.ndim < 1 or trans.shape[-1] != 3:
        msg = f"R must have shape (..., 3, 3) and t (..., 3), got {rot.shape} and {trans.shape}"
        raise ValueError(msg)
    batch = np.broadcast_shapes(rot.shape[:-2], trans.shape[:-1])
    T = np.zeros((*batch, 4, 4))
    T[..., :3, :3] = rot
    T[..., :3, 3] = trans
    T[..., 3, 3] = 1.0
    return T


def inverse(T_a_b: npt.ArrayLike) -> FloatArray:
    """Inverse of a rigid transform, ``T_b_a``, from the transpose of its rotation.

    Exact for a rigid transform and cheaper than ``np.linalg.inv`` (evo's ``se3_inverse``).

    Args:
        T_a_b: (..., 4, 4) float64 rigid transform.

    Returns:
        (..., 4, 4) float64 ``T_b_a``.

    Raises:
        ValueError: when ``T_a_b`` does not end in (4, 4).

    >>> T = from_rotation_translation(so3.exp([0.0, 0.0, np.pi / 2]), [1.0, 0.0, 0.0])
    >>> (np.round(inverse(T)[:3, 3], 12) + 0.0).tolist()
    [0.0, 1.0, 0.0]
    """
    T = _transforms(T_a_b, "T_a_b")
    rt = np.swapaxes(T[..., :3, :3], -1, -2)
    inv = np.zeros_like(T)
    inv[..., :3, :3] = rt
    inv[..., :3, 3] = -np.einsum("...ij,...j->...i", rt, T[..., :3, 3])
    inv[..., 3, 3] = 1.0
    return inv


def compose(T_a_b: npt.ArrayLike, T_b_c: npt.ArrayLike) -> FloatArray:
    """Chain two transforms: ``T_a_c = T_a_b @ T_b_c``.

    Args:
        T_a_b: (..., 4, 4) float64 transform.
        T_b_c: (..., 4, 4) float64 transform; batch dimensions broadcast.

    Returns:
        (..., 4, 4) float64 ``T_a_c``.

    Raises:
        ValueError: when either does not end in (4, 4).

    >>> compose(np.eye(4), np.eye(4)).shape
    (4, 4)
    """
    out: FloatArray = _transforms(T_a_b, "T_a_b") @ _transforms(T_b_c, "T_b_c")
    return out


def transform_points(T_a_b: npt.ArrayLike, points_b: npt.ArrayLike) -> FloatArray:
    """Move points from frame b to frame a.

    Args:
        T_a_b: (4, 4) float64 transform.
        points_b: (..., 3) float64 points, frame b.

    Returns:
        (..., 3) float64 points, frame a.

    Raises:
        ValueError: when ``T_a_b`` is not (4, 4) or ``points_b`` does not end in 3.

    >>> T = from_rotation_translation(np.eye(3), [0.0, 0.0, 1.0])
    >>> transform_points(T, [[1.0, 2.0, 3.0]]).tolist()
    [[1.0, 2.0, 4.0]]
    """
    T = np.asarray(T_a_b, dtype=np.float64)
    points = np.asarray(points_b, dtype=np.float64)
    if T.shape != (4, 4) or points.ndim < 1 or points.shape[-1] != 3:
        msg = f"T_a_b must be (4, 4) and points_b (..., 3), got {T.shape} and {points.shape}"
        raise ValueError(msg)
    out: FloatArray = points @ T[:3, :3].T + T[:3, 3]
    return out


def _v_coefficients(theta: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``(1 - cos t) / t**2`` and ``(t - sin t) / t**3``, series below the small angle."""
    small = theta < _SMALL_ANGLE_RAD
    safe = np.where(small, 1.0, theta)
    theta2 = theta * theta
    a = np.where(small, 0.5 - theta2 / 24.0, (1.0 - np.cos(safe)) / safe**2)
    b = np.where(small, 1.0 / 6.0 - theta2 / 120.0, (safe - np.sin(safe)) / safe**3)
    return a, b


def exp(xi: npt.ArrayLike) -> FloatArray:
    """Rigid transform of a tangent vector ``xi = (rho, phi)``.

    ``R = so3.exp(phi)`` and ``t = V(phi) @ rho`` with
    ``V = I + (1 - cos t) / t**2 hat(phi) + (t - sin t) / t**3 hat(phi)**2``.

    Args:
        xi: (..., 6) float64: ``rho`` (metres) then ``phi`` (rotation vector, radians).

    Returns:
        (..., 4, 4) float64 transform.

    Raises:
        ValueError: when ``xi`` does not end in 6.

    >>> exp([1.0, 2.0, 3.0, 0.0, 0.0, 0.0])[:3, 3].tolist()
    [1.0, 2.0, 3.0]
    """
    v = np.asarray(xi, dtype=np.float64)
    if v.ndim < 1 or v.shape[-1] != 6:
        msg = f"xi must have shape (..., 6), got {v.shape}"
        raise ValueError(msg)
    rho, phi = v[..., :3], v[..., 3:]
    K = so3.hat(phi)
    a, b = _v_coefficients(np.linalg.norm(phi, axis=-1))
    V = np.eye(3) + a[..., None, None] * K + b[..., None, None] * (K @ K)
    return from_rotation_translation(so3.exp(phi), np.einsum("...ij,...j->...i", V, rho))


def log(T: npt.ArrayLike) -> FloatArray:
    """Tangent vector of a rigid transform, the inverse of :func:`exp`.

    ``rho = V(phi)^-1 @ t`` with
    ``V^-1 = I - hat(phi) / 2 + (1 - (t / 2) cot(t / 2)) / t**2 hat(phi)**2``, which stays
    finite at ``t = pi``.

    Args:
        T: (..., 4, 4) float64 rigid transform.

    Returns:
        (..., 6) float64 ``(rho, phi)``: metres, then radians.

    Raises:
        ValueError: when ``T`` does not end in (4, 4).

    >>> xi = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6]
    >>> np.allclose(log(exp(xi)), xi, atol=1e-12)
    True
    """
    m = _transforms(T, "T")
    phi = so3.log(m[..., :3, :3])
    theta = np.linalg.norm(phi, axis=-1)
    small = theta < _SMALL_ANGLE_RAD
    safe = np.where(small, 1.0, theta)
    half = safe / 2.0
    c = np.where(small, 1.0 / 12.0 + theta**2 / 720.0, (1.0 - half / np.tan(half)) / safe**2)
    K = so3.hat(phi)
    V_inv = np.eye(3) - 0.5 * K + c[..., None, None] * (K @ K)
    rho = np.einsum("...ij,...j->...i", V_inv, m[..., :3, 3])
    return np.concatenate([rho, phi], axis=-1)
