"""Calibration targets: board specifications and their detection in images.

Chessboards are found with OpenCV's classic detector (``findChessboardCorners`` +
``cornerSubPix``: fast, and it finds boards near the image border and at steep angles)
and, when that fails, with the sector-based ``findChessboardCornersSB``. ChArUco boards
go through ``cv2.aruco.CharucoDetector``; a partial view is usable as long as enough
corners that are not all on one line are seen.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from percept.calib.render import board_object_points, make_charuco_board
from percept.errors import CalibrationError

__all__ = ["BoardSpec", "Detection", "detect_board", "parse_board", "to_uint8"]

_log = logging.getLogger(__name__)

# ROS cameracalibrator rejects boards with a corner this close to the image border
# (cut-off boards give biased corners).
_BORDER_PX = 8
# Smallest number of ChArUco corners for a view to constrain the intrinsics.
_MIN_CHARUCO_CORNERS = 8
# Detection runs on a copy scaled to at most this width (as cameracalibrator does);
# the corners are then refined at full resolution.
_DETECT_MAX_WIDTH = 1280
_SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 0.01)


@dataclass(frozen=True, slots=True)
class BoardSpec:
    """A planar calibration target.

    Attributes:
        kind: ``chessboard`` or ``charuco``.
        cols: chessboard: inner corners along x (OpenCV ``patternSize[0]``); ChArUco:
            squares along x (as ``cv2.aruco.CharucoBoard``).
        rows: inner corners (chessboard) or squares (ChArUco) along y.
        square_m: square side, metres.
        marker_m: ArUco marker side, metres (ChArUco only).
        dictionary: ``cv2.aruco`` predefined dictionary (ChArUco only).
    """

    kind: Literal["chessboard", "charuco"]
    cols: int
    rows: int
    square_m: float
    marker_m: float = 0.0
    dictionary: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("chessboard", "charuco"):
            msg = f"board kind must be chessboard or charuco, got {self.kind!r}"
            raise ValueError(msg)
        least = 2 if self.kind == "chessboard" else 3
        if self.cols < least or self.rows < least:
            msg = f"{self.kind} needs at least {least}x{least}, got {self.cols}x{self.rows}"
            raise ValueError(msg)
        if not self.square_m > 0:
            msg = f"square size must be > 0 m, got {self.square_m}"
            raise ValueError(msg)
        if self.kind == "charuco" and not 0 < self.marker_m < self.square_m:
            msg = f"marker size must be in (0, {self.square_m}) m, got {self.marker_m}"
            raise ValueError(msg)

    @property
    def corner_grid(self) -> tuple[int, int]:
        """(cols, rows) of the grid of detectable corners."""
        if self.kind == "charuco":
            return self.cols - 1, self.rows - 1
        return self.cols, self.rows

    @property
    def n_corners(self) -> int:
        """Number of corners of a full view."""
        cols, rows = self.corner_grid
        return cols * rows

    def object_points(self) -> npt.NDArray[np.float32]:
        """(n_corners, 3) float32 corner positions, metres, board frame (z = 0), by id."""
        cols, rows = self.corner_grid
        return board_object_points(cols, rows, self.square_m)

    def outline_points(self) -> npt.NDArray[np.float32]:
        """(4, 3) float32 outer corners of the corner grid, metres, board frame.

        Order: top-left, top-right, bottom-right, bottom-left.
        """
        cols, rows = self.corner_grid
        w, h = (cols - 1) * self.square_m, (rows - 1) * self.square_m
        return np.array([[0, 0, 0], [w, 0, 0], [w, h, 0], [0, h, 0]], dtype=np.float32)

    def __str__(self) -> str:
        base = f"{self.kind}:{self.cols}x{self.rows}:{self.square_m:g}"
        if self.kind == "charuco":
            return f"{base}:{self.marker_m:g}:{self.dictionary}"
        return base


def parse_board(text: str) -> BoardSpec:
    """Parse ``chessboard:COLSxROWS:SQUARE_M`` or ``charuco:COLSxROWS:SQUARE_M:MARKER_M:DICT``.

    Args:
        text: board description; chessboard sizes count inner corners, ChArUco sizes
            count squares (as OpenCV does for each).

    Returns:
        The board.

    Raises:
        CalibrationError: the text does not describe a board.

    >>> parse_board("chessboard:9x6:0.025").n_corners
    54
    """
    usage = (
        "expected chessboard:COLSxROWS:SQUARE_M (inner corners, e.g. chessboard:9x6:0.025) "
        "or charuco:COLSxROWS:SQUARE_M:MARKER_M:DICT (squares, e.g. "
        "charuco:7x5:0.04:0.03:DICT_5X5_100)"
    )
    parts = text.strip().split(":")
    kind = parts[0].lower()
    n_parts = {"chessboard": 3, "charuco": 5}.get(kind)
    if n_parts is None or len(parts) != n_parts:
        msg = f"board {text!r}: {usage}"
        raise CalibrationError(msg)
    size = re.fullmatch(r"(\d+)[xX](\d+)", parts[1])
    if size is None:
        msg = f"board {text!r}: size {parts[1]!r} must be COLSxROWS; {usage}"
        raise CalibrationError(msg)
    try:
        square_m = float(parts[2])
        marker_m = float(parts[3]) if kind == "charuco" else 0.0
    except ValueError as err:
        msg = f"board {text!r}: sizes must be numbers in metres; {usage}"
        raise CalibrationError(msg) from err
    dictionary = parts[4].upper() if kind == "charuco" else ""
    if kind == "charuco" and not isinstance(getattr(cv2.aruco, dictionary, None), int):
        msg = f"board {text!r}: unknown ArUco dictionary {parts[4]!r}, e.g. DICT_5X5_100"
        raise CalibrationError(msg)
    try:
        return BoardSpec(
            kind,  # type: ignore[arg-type]
            int(size.group(1)),
            int(size.group(2)),
            square_m,
            marker_m,
            dictionary,
        )
    except ValueError as err:
        msg = f"board {text!r}: {err}"
        raise CalibrationError(msg) from err


@dataclass(frozen=True, slots=True, eq=False)
class Detection:
    """The corners of one board found in one image.

    Attributes:
        corners_uv: (N, 2) float32 sub-pixel corner positions, pixels, ``uv``.
        ids: (N,) int32 corner ids (index into ``BoardSpec.object_points``).
        image_size: (width, height) of the image, pixels.
    """

    corners_uv: npt.NDArray[np.float32]
    ids: npt.NDArray[np.int32]
    image_size: tuple[int, int]
    source: str = field(default="")

    def object_points(self, board: BoardSpec) -> npt.NDArray[np.float32]:
        """(N, 3) float32 board-frame positions of the detected corners, metres."""
        return board.object_points()[self.ids]

    def is_complete(self, board: BoardSpec) -> bool:
        """True when every corner of the board was found."""
        return len(self.ids) == board.n_corners


def to_uint8(image: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """An image as uint8, other dtypes stretched from their finite min..max to 0..255.

    Args:
        image: (H, W) or (H, W, C) array of any dtype (mono16, 32FC1 with NaN...).

    Returns:
        Same shape, uint8; all-NaN or constant images become 0.
    """
    img = np.asarray(image)
    if img.dtype == np.uint8:
        return np.ascontiguousarray(img)
    f = img.astype(np.float64)
    finite = f[np.isfinite(f)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    out = np.nan_to_num((f - lo) * scale, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(out, 0, 255).astype(np.uint8)


def _to_mono(image: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    # 16-bit and float images are stretched to 8 bits, as cameracalibrator does for mono16.
    img = to_uint8(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3 and img.shape[2] in (3, 4):
        code = cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        img = np.asarray(cv2.cvtColor(np.ascontiguousarray(img), code), dtype=np.uint8)
    if img.ndim != 2:
        msg = f"image must be (H, W) mono or (H, W, 3|4) bgr, got shape {img.shape}"
        raise ValueError(msg)
    return np.ascontiguousarray(img, dtype=np.uint8)


def _order_top_first(corners: npt.NDArray[np.float32], cols: int, rows: int) -> npt.NDArray[Any]:
    """Make the corner order unique: the first corner is the upper one of the two ends.

    Detectors may return a board rotated by 180 degrees; stereo pairs and view
    parameters need one convention (cameracalibrator's).
    """
    if cols != rows:
        if corners[0, 1] > corners[-1, 1]:
            return np.ascontiguousarray(corners[::-1])
        return corners
    grid = corners.reshape(rows, cols, 2)
    direction = corners[-1] - corners[0] >= 0
    if direction.all():
        return corners
    if not direction.any():
        return np.ascontiguousarray(corners[::-1])
    # Square boards may also come rotated by 90 degrees.
    k = 1 if direction[0] else 3
    return np.ascontiguousarray(np.rot90(grid, k).reshape(-1, 2), dtype=np.float32)


def _near_border(corners: npt.NDArray[np.float32], width: int, height: int) -> bool:
    u, v = corners[:, 0], corners[:, 1]
    inside = (
        (u > _BORDER_PX) & (u < width - _BORDER_PX) & (v > _BORDER_PX) & (v < height - _BORDER_PX)
    )
    return not bool(inside.all())


def _detect_chessboard(mono: npt.NDArray[np.uint8], board: BoardSpec) -> npt.NDArray[Any] | None:
    width = mono.shape[1]
    pattern = (board.cols, board.rows)
    scale = 1.0
    small: npt.NDArray[Any] = mono
    if width > _DETECT_MAX_WIDTH:
        scale = _DETECT_MAX_WIDTH / width
        small = cv2.resize(mono, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
    found, corners = cv2.findChessboardCorners(small, pattern, flags=flags)
    if found:
        corners = np.asarray(corners, dtype=np.float32).reshape(-1, 1, 2) / scale
        # Search window: about half the smallest distance between neighbouring corners.
        pts = corners.reshape(board.rows, board.cols, 2)
        spacing = min(
            float(np.linalg.norm(np.diff(pts, axis=1), axis=2).min()),
            float(np.linalg.norm(np.diff(pts, axis=0), axis=2).min()),
        )
        win = int(np.clip(spacing * 0.4, 2, 11))
        corners = cv2.cornerSubPix(mono, corners, (win, win), (-1, -1), _SUBPIX_CRITERIA)
        return np.asarray(corners, dtype=np.float32).reshape(-1, 2)
    # The sector-based detector copes with blur and noise the classic one does not.
    sb_flags = cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_EXHAUSTIVE | cv2.CALIB_CB_ACCURACY
    found, corners = cv2.findChessboardCornersSB(small, pattern, flags=sb_flags)
    if not found:
        return None
    corners = np.asarray(corners, dtype=np.float32).reshape(-1, 2) / scale
    if scale != 1.0:
        corners = cv2.cornerSubPix(
            mono, corners.reshape(-1, 1, 2), (5, 5), (-1, -1), _SUBPIX_CRITERIA
        ).reshape(-1, 2)
    return np.asarray(corners, dtype=np.float32)


def _charuco_detector(board: BoardSpec) -> cv2.aruco.CharucoDetector:
    cv_board = make_charuco_board(
        board.cols, board.rows, board.square_m, board.marker_m, board.dictionary
    )
    return cv2.aruco.CharucoDetector(cv_board)


def _refine_charuco(
    mono: npt.NDArray[np.uint8], corners: npt.NDArray[np.float32], board: BoardSpec
) -> npt.NDArray[np.float32]:
    """Sub-pixel saddle points of the ChArUco corners, whatever the OpenCV version.

    OpenCV 4.8's CharucoDetector reports corners half a pixel off (5.x does not); a
    ``cornerSubPix`` pass with a window that stays clear of the markers gives the same
    corners on both.
    """
    diff = corners[:, None, :] - corners[None, :, :]
    dist = np.linalg.norm(diff, axis=2)
    np.fill_diagonal(dist, np.inf)
    square_px = float(np.median(dist.min(axis=1)))
    # The marker edge is (1 - marker/square) / 2 of a square away from the corner.
    margin = (1.0 - board.marker_m / board.square_m) / 2.0 * square_px
    win = int(np.clip(margin * 0.8, 2, 11))
    refined = cv2.cornerSubPix(
        mono, corners.reshape(-1, 1, 2).copy(), (win, win), (-1, -1), _SUBPIX_CRITERIA
    )
    return np.asarray(refined, dtype=np.float32).reshape(-1, 2)


def _collinear(points: npt.NDArray[np.float32]) -> bool:
    centred = points - points.mean(axis=0)
    sv = np.linalg.svd(centred.astype(np.float64), compute_uv=False)
    return bool(sv[-1] < 1e-3 * sv[0] or sv[-1] < 1.0)


def detect_board(
    image: npt.NDArray[np.generic], board: BoardSpec, *, source: str = ""
) -> Detection | None:
    """Find the board's corners in an image.

    Args:
        image: (H, W) mono or (H, W, 3) bgr8 image; 16-bit images are scaled to 8 bits.
        board: the target.
        source: where the image came from (file, topic and stamp), kept for reports.

    Returns:
        The detection, or None when no (usable) board is seen: not found, a chessboard
        corner within 8 px of the border, or a ChArUco view with fewer than 8 corners
        or corners all on one line.

    Raises:
        ValueError: the image has an unsupported shape.
    """
    mono = _to_mono(image)
    height, width = mono.shape
    cols, rows = board.corner_grid
    if width < 4 * (cols + 1) or height < 4 * (rows + 1):
        return None  # too small to hold the board (and OpenCV's detectors assert on it)
    try:
        return _detect(mono, board, source)
    except cv2.error as err:
        _log.debug("%s: board detection failed in OpenCV: %s", source or "image", err)
        return None


def _detect(mono: npt.NDArray[np.uint8], board: BoardSpec, source: str) -> Detection | None:
    height, width = mono.shape
    if board.kind == "chessboard":
        corners = _detect_chessboard(mono, board)
        if corners is None:
            return None
        if _near_border(corners, width, height):
            _log.debug("%s: board touches the image border, skipped", source or "image")
            return None
        corners = _order_top_first(corners, board.cols, board.rows)
        ids = np.arange(board.n_corners, dtype=np.int32)
        return Detection(corners.astype(np.float32), ids, (width, height), source)
    charuco_corners, charuco_ids, _, _ = _charuco_detector(board).detectBoard(mono)
    if charuco_ids is None or len(charuco_ids) < _MIN_CHARUCO_CORNERS:
        return None
    corners = np.asarray(charuco_corners, dtype=np.float32).reshape(-1, 2)
    if _collinear(corners):
        return None
    corners = _refine_charuco(mono, corners, board)
    ids = np.asarray(charuco_ids, dtype=np.int32).reshape(-1)
    order = np.argsort(ids)
    return Detection(corners[order], ids[order], (width, height), source)
