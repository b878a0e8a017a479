"""Constant-velocity box Kalman filter, batched over every track of a frame.

The model is ByteTrack's (Zhang et al., ECCV 2022): state ``[cx, cy, a, h, vcx, vcy, va,
vh]`` (box centre, aspect ratio w / h, height, and their velocities per frame), measurement
``[cx, cy, a, h]``, noise standard deviations proportional to the box height (1/20 for
positions, 1/160 for velocities), with the aspect ratio's noise independent of the box size.

The filter is written out here over stacked states ``(N, 8)`` and covariances ``(N, 8, 8)``
because no maintained library batches Kalman filters across tracks: ``filterpy``'s
``KalmanFilter`` holds one state and is stepped from Python, about 20 ms a frame for
300 tracks on one core, against about 1 ms for the batch. The equations are
``filterpy.kalman.KalmanFilter``'s, term for term (``x = F x``, ``P = F P F^T + Q``; gain
``K = P H^T S^-1`` with ``S = H P H^T + R``, ``x += K (z - H x)`` and the Joseph form
``P = (I - K H) P (I - K H)^T + K R K^T``), so a batch agrees with one ``KalmanFilter`` per
track to rounding; ``tests/unit/track/test_kalman.py`` checks that on random sequences.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "STD_POSITION",
    "STD_VELOCITY",
    "F",
    "H",
    "boxes_to_xyah",
    "initiate",
    "measurement_noise",
    "predict",
    "process_noise",
    "update",
    "xyah_to_boxes",
]

STD_POSITION = 1.0 / 20.0
STD_VELOCITY = 1.0 / 160.0

#: (8, 8) state transition: positions move by their velocities each frame.
F = np.eye(8)
F[:4, 4:] = np.eye(4)
#: (4, 8) measurement matrix: the box, not its velocities.
H = np.eye(4, 8)
_I = np.eye(8)

# Noise variances as (terms scaled by h^2) + (constant terms).
_P, _V = STD_POSITION, STD_VELOCITY
_Q_SCALED = np.diag(np.array([_P, _P, 0.0, _P, _V, _V, 0.0, _V]) ** 2)
_Q_FIXED = np.diag(np.array([0.0, 0.0, 1e-2, 0.0, 0.0, 0.0, 1e-5, 0.0]) ** 2)
_R_SCALED = np.diag(np.array([_P, _P, 0.0, _P]) ** 2)
_R_FIXED = np.diag(np.array([0.0, 0.0, 1e-1, 0.0]) ** 2)


def process_noise(h: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(N, 8, 8) process noise ``Q`` of tracks of heights ``h`` (N,), pixels."""
    return _Q_SCALED[None] * (h * h)[:, None, None] + _Q_FIXED[None]


def measurement_noise(h: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(N, 4, 4) measurement noise ``R`` of boxes of heights ``h`` (N,), pixels."""
    return _R_SCALED[None] * (h * h)[:, None, None] + _R_FIXED[None]


def boxes_to_xyah(boxes_xyxy: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """(N, 4) measurements ``[cx, cy, w / h, h]`` of (N, 4) boxes (sides at least 1e-3 px).

    Corners are subtracted and centred in the boxes' own dtype (float32 from the detector),
    then widened to float64.
    """
    b = np.asarray(boxes_xyxy).reshape(-1, 4)
    w = np.maximum((b[:, 2] - b[:, 0]).astype(np.float64), 1e-3)
    h = np.maximum((b[:, 3] - b[:, 1]).astype(np.float64), 1e-3)
    cx = (b[:, 0] + (w / 2).astype(b.dtype)).astype(np.float64)
    cy = (b[:, 1] + (h / 2).astype(b.dtype)).astype(np.float64)
    return np.stack([cx, cy, w / h, h], axis=1)


def xyah_to_boxes(states: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """(N, 4) boxes ``[x0, y0, x1, y1]`` of (N, >= 4) states (height >= 1e-3, ratio >= 1e-6)."""
    s = np.asarray(states, dtype=np.float64)
    s = s.reshape(-1, s.shape[-1])
    h = np.maximum(s[:, 3], 1e-3)
    w = np.maximum(s[:, 2], 1e-6) * h
    cx, cy = s[:, 0], s[:, 1]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def initiate(
    boxes_xyxy: npt.NDArray[np.floating],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """New tracks at (N, 4) boxes: states (N, 8) at rest and covariances (N, 8, 8)."""
    z = boxes_to_xyah(boxes_xyxy)
    n = z.shape[0]
    x = np.concatenate([z, np.zeros((n, 4))], axis=1)
    h = z[:, 3]
    pos, vel = 2 * STD_POSITION * h, 10 * STD_VELOCITY * h
    std = np.stack([pos, pos, np.full(n, 1e-2), pos, vel, vel, np.full(n, 1e-5), vel], axis=1)
    p = np.zeros((n, 8, 8))
    p[:, np.arange(8), np.arange(8)] = std**2
    return x, p


def predict(
    x: npt.NDArray[np.float64], p: npt.NDArray[np.float64], steps: int = 1
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """States (N, 8) and covariances (N, 8, 8) ``steps`` frames on (new arrays).

    Each step's process noise follows the height the step starts from, as one
    ``KalmanFilter.predict(Q=...)`` a step does.
    """
    for _ in range(steps):
        q = process_noise(x[:, 3])
        x = x @ F.T
        p = F @ p @ F.T + q
    return x, p


def update(
    x: npt.NDArray[np.float64],
    p: npt.NDArray[np.float64],
    boxes_xyxy: npt.NDArray[np.floating],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Correct states (N, 8) and covariances (N, 8, 8) by (N, 4) boxes (new arrays)."""
    z = boxes_to_xyah(boxes_xyxy)
    r = measurement_noise(z[:, 3])
    y = z - x @ H.T  # (N, 4) innovations
    pht = p @ H.T  # (N, 8, 4)
    s = H @ pht + r
    k = pht @ np.linalg.inv(s)  # (N, 8, 4)
    x = x + (k @ y[:, :, None])[:, :, 0]
    i_kh = _I - k @ H
    p = i_kh @ p @ i_kh.transpose(0, 2, 1) + k @ r @ k.transpose(0, 2, 1)
    return x, p
