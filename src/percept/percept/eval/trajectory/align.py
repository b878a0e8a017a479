"""Alignment of an associated estimate: Umeyama SE(3)/Sim(3), yaw-only 4-DoF, origin.

As ``evo.core.geometry.umeyama_alignment`` and ``PosePath3D.align``; the 4-DoF yaw +
translation alignment is rpg_trajectory_evaluation's ``posyaw``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from percept.errors import EvalError
from percept.eval.trajectory.poses import FloatArray, Trajectory
from percept.geometry import se3

__all__ = ["ALIGNMENTS", "Alignment", "Sim3", "align_trajectory", "umeyama", "yaw_alignment"]

Alignment = Literal["none", "origin", "se3", "sim3", "4dof"]
#: Alignments :func:`align_trajectory` knows.
ALIGNMENTS: tuple[str, ...] = ("none", "origin", "se3", "sim3", "4dof")


@dataclass(frozen=True, slots=True, eq=False)
class Sim3:
    """A similarity ``x -> scale * R @ x + t`` applied to an estimate to align it.

    Attributes:
        rotation: (3, 3) float64.
        translation_m: (3,) float64, metres.
        scale: dimensionless, 1 for rigid alignments.
    """

    rotation: FloatArray = field(default_factory=lambda: np.eye(3))
    translation_m: FloatArray = field(default_factory=lambda: np.zeros(3))
    scale: float = 1.0

    def apply(self, trajectory: Trajectory) -> Trajectory:
        """The trajectory with every pose mapped: ``T' = [R, t] @ [R_i, s p_i]``."""
        pos = self.scale * trajectory.positions_m @ self.rotation.T + self.translation_m
        rot = np.einsum("ij,njk->nik", self.rotation, trajectory.rotations)
        return Trajectory(pos, rot, trajectory.stamps_ns, trajectory.name)

    def as_matrix(self) -> FloatArray:
        """(4, 4) float64 ``[[s R, t], [0, 1]]``."""
        T = np.eye(4)
        T[:3, :3] = self.scale * self.rotation
        T[:3, 3] = self.translation_m
        return T


def umeyama(source: npt.ArrayLike, target: npt.ArrayLike, *, with_scale: bool = False) -> Sim3:
    """Least-squares similarity taking ``source`` points onto ``target`` (Umeyama 1991).

    Args:
        source: (N, 3) points, e.g. estimated positions.
        target: (N, 3) points, e.g. ground-truth positions.
        with_scale: also estimate the scale (Sim(3)); otherwise it is 1 (SE(3)).

    Returns:
        the transform minimising ``sum |target_i - (s R source_i + t)|^2``.

    Raises:
        EvalError: the points are degenerate (collinear or fewer than three distinct).

    >>> pts = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    >>> round(umeyama(pts, 2 * pts + 1, with_scale=True).scale, 9)
    2.0
    """
    x = np.asarray(source, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2 or x.shape[1] != 3:
        msg = f"source and target must both be (N, 3), got {x.shape} and {y.shape}"
        raise ValueError(msg)
    n = x.shape[0]
    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - mean_x, y - mean_y
    sigma_x = float(np.sum(xc**2)) / n  # eq. 36
    cov = yc.T @ xc / n  # eq. 38
    u, d, vt = np.linalg.svd(cov)
    # evo's rank test, plus a relative one: collinear points leave rounding noise in d[1].
    if np.count_nonzero(d > np.finfo(d.dtype).eps) < 2 or d[1] <= 1e-12 * d[0]:
        msg = f"Umeyama alignment impossible: degenerate point set ({n} positions, collinear?)"
        raise EvalError(msg)
    s = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0.0:
        s[2, 2] = -1.0  # a rotation, not a reflection (Kabsch)
    rot = u @ s @ vt
    scale = float(np.trace(np.diag(d) @ s)) / sigma_x if with_scale else 1.0
    return Sim3(rot, mean_y - scale * rot @ mean_x, scale)


def yaw_alignment(source: npt.ArrayLike, target: npt.ArrayLike) -> Sim3:
    """Least-squares rotation about z plus translation taking ``source`` onto ``target``.

    The 4-DoF alignment for visual-inertial odometry, whose roll and pitch are observable
    from gravity: world z must be up in both trajectories.

    Args:
        source: (N, 3) points, e.g. estimated positions.
        target: (N, 3) points.

    Returns:
        ``Sim3`` with a yaw-only rotation and scale 1.

    >>> pts = np.array([[1.0, 0, 0], [0, 2, 0], [0, 0, 3]])
    >>> R = Rotation.from_euler("z", 30, degrees=True).as_matrix()
    >>> tf = yaw_alignment(pts, pts @ R.T + [1, 2, 3])
    >>> round(float(Rotation.from_matrix(tf.rotation).as_euler("zyx", degrees=True)[0]), 6)
    30.0
    """
    x = np.asarray(source, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2 or x.shape[1] != 3:
        msg = f"source and target must both be (N, 3), got {x.shape} and {y.shape}"
        raise ValueError(msg)
    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    # maximise trace(Rz(yaw) H) with H = sum x_i y_i^T: c (H00 + H11) + s (H01 - H10).
    H = (x - mean_x).T @ (y - mean_y)
    yaw = math.atan2(H[0, 1] - H[1, 0], H[0, 0] + H[1, 1])
    rot = Rotation.from_euler("z", yaw).as_matrix()
    return Sim3(rot, mean_y - rot @ mean_x, 1.0)


def align_trajectory(
    estimate: Trajectory,
    reference: Trajectory,
    method: Alignment = "se3",
    *,
    n_to_align: int = -1,
) -> tuple[Trajectory, Sim3]:
    """Align an associated estimate to its reference (evo ``-a``, ``-as``, ``--align_origin``).

    Args:
        estimate: poses paired one to one with ``reference`` (see :func:`associate`).
        reference: ground truth.
        method: ``none``; ``origin`` (first poses made equal); ``se3``; ``sim3``
            (scale too, for monocular); ``4dof`` (yaw and translation, for VIO).
        n_to_align: align on the first n poses only (-1: all), as evo's ``--n_to_align``.

    Returns:
        (aligned estimate, the transform applied).

    Raises:
        ValueError: unknown method or unpaired trajectories.
        EvalError: degenerate positions.
    """
    if len(estimate) != len(reference):
        msg = f"align needs paired trajectories, got {len(estimate)} and {len(reference)} poses"
        raise ValueError(msg)
    if method == "none":
        return estimate, Sim3()
    if method == "origin":
        T = reference.matrices()[0] @ se3.inverse(estimate.matrices()[:1])[0]
        tf = Sim3(T[:3, :3].copy(), T[:3, 3].copy(), 1.0)
        return tf.apply(estimate), tf
    n = len(estimate) if n_to_align == -1 else n_to_align
    if not 1 <= n <= len(estimate):
        msg = f"n_to_align must be -1 or 1..{len(estimate)}, got {n_to_align}"
        raise ValueError(msg)
    src, dst = estimate.positions_m[:n], reference.positions_m[:n]
    if method in ("se3", "sim3"):
        tf = umeyama(src, dst, with_scale=method == "sim3")
    elif method == "4dof":
        tf = yaw_alignment(src, dst)
    else:
        msg = f"alignment must be one of {ALIGNMENTS}, got {method!r}"
        raise ValueError(msg)
    return tf.apply(estimate), tf
