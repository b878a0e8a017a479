"""Smooth analytic trajectories of ``base_link`` around a scene's aisle loop.

Positions and angles are sums of sinusoids in time, so every derivative is exact: the
IMU simulated from them (``percept.synth.imu``) integrates back to the trajectory. Two
motions:

- ``ground``: a wheeled robot, ``base_link`` on the floor (z = 0), heading along its
  velocity (non-holonomic), about 1 m/s around the loop with a gentle lateral weave.
- ``handheld``: a 6-DoF rig (a person or a drone) at about 1.4 m, weaving in all three
  axes, looking around by +-20 degrees of yaw and tilting by up to +-7 degrees.

Frames: world ``map`` (REP 103, z up); body ``base_link`` (x forward, y left, z up).
Angular velocities and accelerations are expressed in the world frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from percept.synth.scene import AisleLoop

__all__ = ["MOTIONS", "LoopTrajectory", "Sinusoids", "TrajectorySample"]

#: Motion kinds: ``percept synth --motion``.
MOTIONS: Final = ("ground", "handheld")

_Z: Final = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True, slots=True, eq=False)
class Sinusoids:
    """``offset + sum_k amplitude_k * sin(omega_k * t + phase_k)`` and its derivatives.

    Attributes:
        offset: constant term.
        amplitude: (K,) float64 amplitudes.
        omega_rad_s: (K,) float64 angular frequencies, rad/s.
        phase_rad: (K,) float64 phases, rad.
    """

    offset: float
    amplitude: npt.NDArray[np.float64]
    omega_rad_s: npt.NDArray[np.float64]
    phase_rad: npt.NDArray[np.float64]

    def __call__(self, t_s: npt.NDArray[np.float64], order: int = 0) -> npt.NDArray[np.float64]:
        """The ``order``-th time derivative at times ``t_s`` ((N,) float64, seconds).

        >>> s = Sinusoids(1.0, np.array([2.0]), np.array([1.0]), np.array([0.0]))
        >>> s(np.array([0.0]), 1).tolist()  # d/dt 2 sin(t) at 0
        [2.0]
        """
        t = np.asarray(t_s, dtype=np.float64)[:, None]
        arg = self.omega_rad_s * t + self.phase_rad + order * np.pi / 2
        out = (self.amplitude * self.omega_rad_s**order * np.sin(arg)).sum(axis=1)
        result: npt.NDArray[np.float64] = out + (self.offset if order == 0 else 0.0)
        return result


def _sinusoids(offset: float, *terms: tuple[float, float, float]) -> Sinusoids:
    arr = np.asarray(terms, dtype=np.float64).reshape(-1, 3)
    return Sinusoids(offset, arr[:, 0], arr[:, 1], arr[:, 2])


@dataclass(frozen=True, slots=True, eq=False)
class TrajectorySample:
    """The body's state at N times.

    Attributes:
        t_s: (N,) float64 times, seconds from the start of the sequence.
        position_m: (N, 3) float64 ``base_link`` origin, metres, world frame.
        velocity_m_s: (N, 3) float64, world frame.
        acceleration_m_s2: (N, 3) float64, world frame (no gravity).
        rotation: N rotations ``R_world_body``.
        angular_velocity_rad_s: (N, 3) float64 body angular velocity, world frame.
        angular_acceleration_rad_s2: (N, 3) float64, world frame.
    """

    t_s: npt.NDArray[np.float64]
    position_m: npt.NDArray[np.float64]
    velocity_m_s: npt.NDArray[np.float64]
    acceleration_m_s2: npt.NDArray[np.float64]
    rotation: Rotation
    angular_velocity_rad_s: npt.NDArray[np.float64]
    angular_acceleration_rad_s2: npt.NDArray[np.float64]

    def matrices(self) -> npt.NDArray[np.float64]:
        """(N, 4, 4) float64 ``T_world_body``."""
        T = np.zeros((self.t_s.shape[0], 4, 4))
        T[:, :3, :3] = self.rotation.as_matrix()
        T[:, :3, 3] = self.position_m
        T[:, 3, 3] = 1.0
        return T


def _heading(
    dx: list[npt.NDArray[np.float64]], dy: list[npt.NDArray[np.float64]]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Heading atan2(y', x') of a planar curve and its first two time derivatives.

    ``dx``/``dy`` hold the first three derivatives of x(t) and y(t).
    """
    x1, x2, x3 = dx
    y1, y2, y3 = dy
    num = x1 * y2 - y1 * x2
    den = x1 * x1 + y1 * y1
    num_dot = x1 * y3 - y1 * x3
    den_dot = 2.0 * (x1 * x2 + y1 * y2)
    return np.arctan2(y1, x1), num / den, (num_dot * den - num * den_dot) / (den * den)


class LoopTrajectory:
    """A seeded trajectory around an ``AisleLoop``.

    Args:
        loop: the aisle (its clearance bounds the weave).
        motion: ``ground`` or ``handheld``.
        seed: selects start point, direction and weave phases.
        speed_m_s: mean speed along the loop.

    Raises:
        ValueError: unknown motion or non-positive speed.
    """

    def __init__(
        self, loop: AisleLoop, motion: str = "ground", seed: int = 0, speed_m_s: float | None = None
    ) -> None:
        if motion not in MOTIONS:
            msg = f"motion must be one of {MOTIONS}, got {motion!r}"
            raise ValueError(msg)
        speed = (1.0 if motion == "ground" else 0.8) if speed_m_s is None else speed_m_s
        if not speed > 0:
            msg = f"speed_m_s must be > 0, got {speed}"
            raise ValueError(msg)
        self.loop = loop
        self.motion = motion
        rng = np.random.default_rng([seed, 0x7AC])
        a, b = loop.semi_axes_m
        cx, cy = loop.centre_xy_m
        # Ramanujan's ellipse perimeter gives the rate for the requested mean speed.
        h = ((a - b) / (a + b)) ** 2
        perimeter = np.pi * (a + b) * (1 + 3 * h / (10 + np.sqrt(4 - 3 * h)))
        direction = 1.0 if rng.uniform() < 0.5 else -1.0
        w = direction * 2.0 * np.pi * speed / perimeter
        theta0 = float(rng.uniform(0.0, 2.0 * np.pi))
        # Weave: at most 0.4 * clearance sideways, slow enough that the speed stays > 0.
        amp = min(0.2, 0.2 * loop.clearance_m)
        ph = rng.uniform(0.0, 2.0 * np.pi, 12)
        self.x = _sinusoids(cx, (a, w, theta0 + np.pi / 2), (amp, 0.31, ph[0]), (amp, 0.53, ph[1]))
        self.y = _sinusoids(cy, (b, w, theta0), (amp, 0.37, ph[2]), (amp, 0.61, ph[3]))
        if motion == "ground":
            self.z = _sinusoids(0.0)
            self.look = _sinusoids(0.0)
            self.pitch = _sinusoids(0.0)
            self.roll = _sinusoids(0.0)
        else:
            self.z = _sinusoids(1.4, (0.15, 0.43, ph[4]), (0.05, 1.3, ph[5]))
            self.look = _sinusoids(0.0, (0.25, 0.35, ph[6]), (0.1, 0.9, ph[7]))
            self.pitch = _sinusoids(0.02, (0.08, 0.47, ph[8]), (0.03, 1.7, ph[9]))
            self.roll = _sinusoids(0.0, (0.06, 0.57, ph[10]), (0.03, 2.1, ph[11]))

    def sample(self, t_s: npt.ArrayLike) -> TrajectorySample:
        """The state at times ``t_s`` ((N,) seconds; any real times, the motion is periodic).

        Returns:
            The sample, exact to floating point.
        """
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        dx = [self.x(t, k) for k in range(4)]
        dy = [self.y(t, k) for k in range(4)]
        dz = [self.z(t, k) for k in range(3)]
        heading, heading_1, heading_2 = _heading(dx[1:], dy[1:])
        yaw = heading + self.look(t)
        yaw_1 = heading_1 + self.look(t, 1)
        yaw_2 = heading_2 + self.look(t, 2)
        pitch, pitch_1, pitch_2 = (self.pitch(t, k) for k in range(3))
        roll, roll_1, roll_2 = (self.roll(t, k) for k in range(3))
        # R = Rz(yaw) Ry(pitch) Rx(roll): intrinsic ZYX. Its angular velocity (world) is
        # yaw' z + pitch' e2 + roll' e3, with e2 = Rz y and e3 = Rz Ry x.
        rotation = Rotation.from_euler("ZYX", np.stack([yaw, pitch, roll], axis=1))
        cy, sy = np.cos(yaw), np.sin(yaw)
        cp, sp = np.cos(pitch), np.sin(pitch)
        e2 = np.stack([-sy, cy, np.zeros_like(cy)], axis=1)
        e3 = np.stack([cy * cp, sy * cp, -sp], axis=1)
        z = np.broadcast_to(_Z, e2.shape)
        omega = yaw_1[:, None] * z + pitch_1[:, None] * e2 + roll_1[:, None] * e3
        e2_dot = np.cross(yaw_1[:, None] * z, e2)
        e3_dot = np.cross(yaw_1[:, None] * z + pitch_1[:, None] * e2, e3)
        alpha = (
            yaw_2[:, None] * z
            + pitch_2[:, None] * e2
            + pitch_1[:, None] * e2_dot
            + roll_2[:, None] * e3
            + roll_1[:, None] * e3_dot
        )
        return TrajectorySample(
            t_s=t,
            position_m=np.stack([dx[0], dy[0], dz[0]], axis=1),
            velocity_m_s=np.stack([dx[1], dy[1], dz[1]], axis=1),
            acceleration_m_s2=np.stack([dx[2], dy[2], dz[2]], axis=1),
            rotation=rotation,
            angular_velocity_rad_s=omega,
            angular_acceleration_rad_s2=alpha,
        )
