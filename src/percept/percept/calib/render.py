"""Synthetic images of planar calibration targets seen through a known camera.

Tests of calibration and rectification need images whose ground truth is exact: a
board texture on the plane ``z = 0``, a pose, a camera model with its distortion. For
every output pixel the renderer undistorts the pixel to a ray (the inverse of the
model, checked by projecting the ray back), intersects the ray with the plane and
samples the texture with ``cv2.remap``; supersampling anti-aliases the edges. This is
the image_pipeline ``TestArtificial`` idea done for any distortion model, without
drawing polygons.

Plane frame: the texture covers ``(0, 0)`` to ``size_m`` on ``z = 0``, x to the right
along texture columns, y down along texture rows; its normal z points away from a
camera that sees the texture the right way round.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from percept.geometry.camera import CameraModel
from percept.geometry.pose import Pose
from percept.geometry.se3 import from_rotation_translation

__all__ = [
    "board_object_points",
    "charuco_texture",
    "chessboard_texture",
    "distort_normalized",
    "make_charuco_board",
    "project_points",
    "random_board_poses",
    "render_plane",
    "texture_size_m",
    "undistort_pixels",
]

_log = logging.getLogger(__name__)

# A ray whose projection misses its pixel by more than this lies where the distortion
# polynomial folds back (outside the model's valid field of view): it shows background.
_ROUND_TRIP_TOL_PX = 0.05
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-12)


def undistort_pixels(
    pixels_uv: npt.NDArray[np.float64], model: CameraModel
) -> npt.NDArray[np.float64]:
    """Normalised image coordinates ``(x/z, y/z)`` of raw pixels (the model's inverse).

    Args:
        pixels_uv: (N, 2) float64 raw pixel coordinates, ``uv`` = (x=col, y=row).
        model: camera with distortion_model plumb_bob, rational_polynomial, equidistant
            or empty (no distortion).

    Returns:
        (N, 2) float64 normalised coordinates on the plane z = 1, camera optical frame.

    Raises:
        ValueError: the model's distortion model is unknown.
    """
    pts = np.ascontiguousarray(pixels_uv, dtype=np.float64).reshape(-1, 1, 2)
    if model.distortion_model == "equidistant":
        out = cv2.fisheye.undistortPoints(pts, model.K, model.D[:4], criteria=_UNDISTORT_CRITERIA)
    elif model.distortion_model in ("plumb_bob", "rational_polynomial", ""):
        if hasattr(cv2, "undistortPointsIter"):  # OpenCV 4: criteria in a separate function
            eye = np.eye(3)
            out = cv2.undistortPointsIter(pts, model.K, model.D, eye, eye, _UNDISTORT_CRITERIA)
        else:
            out = cv2.undistortPoints(pts, model.K, model.D, criteria=_UNDISTORT_CRITERIA)
    else:
        msg = f"distortion_model {model.distortion_model!r} unknown"
        raise ValueError(msg)
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def project_points(
    points_cam: npt.NDArray[np.float64], model: CameraModel
) -> npt.NDArray[np.float64]:
    """Raw pixel coordinates of 3-D points through the model's distortion.

    Same equations as ``cv2.projectPoints`` / ``cv2.fisheye.projectPoints`` (without
    their Jacobians, so it is vectorised numpy and fast on a million points).

    Args:
        points_cam: (N, 3) float64, metres, camera optical frame (z > 0).
        model: camera (plumb_bob, rational_polynomial, equidistant or no distortion).

    Returns:
        (N, 2) float64 pixel coordinates, ``uv``.

    Raises:
        ValueError: the model's distortion model is unknown.
    """
    pts = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = pts[:, 0] / pts[:, 2]
        y = pts[:, 1] / pts[:, 2]
    xd, yd = distort_normalized(x, y, model)
    K = model.K
    # Skew K[0, 1] is ignored, as cv2.projectPoints and cv2.undistortPoints do.
    u = K[0, 0] * xd + K[0, 2]
    v = K[1, 1] * yd + K[1, 2]
    return np.stack([u, v], axis=1)


def distort_normalized(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], model: CameraModel
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Apply the model's lens distortion to normalised coordinates.

    Args:
        x: (N,) float64 ``X / Z``, camera optical frame.
        y: (N,) float64 ``Y / Z``.
        model: camera; plumb_bob and rational_polynomial follow OpenCV's
            ``k1 k2 p1 p2 k3 k4 k5 k6 s1 s2 s3 s4`` order (tilt terms must be zero),
            equidistant is ``cv2.fisheye`` (``k1..k4`` on the angle).

    Returns:
        Distorted ``(x, y)``, each (N,) float64.

    Raises:
        ValueError: unknown model, or a 14-coefficient model with tilt.
    """
    D = model.D
    if model.distortion_model == "equidistant":
        k = np.zeros(4)
        k[: min(4, D.size)] = D[:4]
        r = np.hypot(x, y)
        theta = np.arctan(r)
        t2 = theta * theta
        theta_d = theta * (1 + t2 * (k[0] + t2 * (k[1] + t2 * (k[2] + t2 * k[3]))))
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(r > 1e-12, theta_d / r, 1.0)
        return x * scale, y * scale
    if model.distortion_model not in ("plumb_bob", "rational_polynomial", ""):
        msg = f"distortion_model {model.distortion_model!r} unknown"
        raise ValueError(msg)
    c = np.zeros(14)
    c[: min(14, D.size)] = D[:14]
    if c[12] != 0 or c[13] != 0:
        msg = "tilted-sensor distortion (tau_x, tau_y) is not supported"
        raise ValueError(msg)
    k1, k2, p1, p2, k3, k4, k5, k6, s1, s2, s3, s4 = c[:12]
    r2 = x * x + y * y
    r4 = r2 * r2
    r6 = r4 * r2
    radial = (1 + k1 * r2 + k2 * r4 + k3 * r6) / (1 + k4 * r2 + k5 * r4 + k6 * r6)
    xy2 = 2 * x * y
    xd = x * radial + p1 * xy2 + p2 * (r2 + 2 * x * x) + s1 * r2 + s2 * r4
    yd = y * radial + p1 * (r2 + 2 * y * y) + p2 * xy2 + s3 * r2 + s4 * r4
    return xd, yd


@functools.lru_cache(maxsize=4)
def _ray_grid(
    key: tuple[int, int, str, tuple[float, ...], tuple[float, ...]], supersample: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Normalised ray coordinates x/z, y/z of every sub-pixel sample, (H*s, W*s) each.

    NaN where the model cannot be inverted (outside its valid field of view).
    """
    width, height, distortion_model, k_flat, d = key
    model = CameraModel(width, height, distortion_model, np.asarray(k_flat), np.asarray(d))
    s = supersample
    # Sample centres of an s x s grid inside each pixel (pixel centres at integers).
    offsets = (np.arange(s) + 0.5) / s - 0.5
    us = (np.arange(width)[:, None] + offsets[None, :]).reshape(-1)
    vs = (np.arange(height)[:, None] + offsets[None, :]).reshape(-1)
    grid_u, grid_v = np.meshgrid(us, vs)
    pixels = np.stack([grid_u.ravel(), grid_v.ravel()], axis=1)
    xy = undistort_pixels(pixels, model)
    rays = np.concatenate([xy, np.ones((xy.shape[0], 1))], axis=1)
    # The inverse is iterative: keep only rays that project back onto their pixel.
    back = project_points(rays, model)
    valid = np.linalg.norm(back - pixels, axis=1) < _ROUND_TRIP_TOL_PX
    xy[~valid] = np.nan
    ray_x = xy[:, 0].reshape(height * s, width * s).astype(np.float32)
    ray_y = xy[:, 1].reshape(height * s, width * s).astype(np.float32)
    ray_x.setflags(write=False)
    ray_y.setflags(write=False)
    return ray_x, ray_y


def render_plane(
    texture: npt.NDArray[np.uint8],
    size_m: tuple[float, float],
    T_cam_plane: Pose,
    model: CameraModel,
    *,
    background: int = 128,
    supersample: int = 2,
) -> npt.NDArray[np.uint8]:
    """Render a textured plane into a raw (distorted) image of ``model``.

    Args:
        texture: (h, w) uint8 mono or (h, w, 3) uint8 bgr8 image covering the plane
            from (0, 0) to ``size_m``.
        size_m: (width, height) of the textured area, metres, plane frame.
        T_cam_plane: pose of the plane in the camera optical frame (takes plane
            points to the camera frame).
        model: camera; distortion plumb_bob, rational_polynomial or equidistant is
            applied exactly.
        background: grey value where the plane is not seen.
        supersample: samples per pixel along each axis (anti-aliasing), >= 1.

    Returns:
        (model.height, model.width[, 3]) uint8 image, same channels as ``texture``.

    Raises:
        ValueError: bad texture, size or supersample.
    """
    tex = np.asarray(texture)
    if tex.dtype != np.uint8 or tex.ndim not in (2, 3) or (tex.ndim == 3 and tex.shape[2] != 3):
        msg = f"texture must be (h, w) or (h, w, 3) uint8, got {tex.shape} {tex.dtype}"
        raise ValueError(msg)
    if size_m[0] <= 0 or size_m[1] <= 0:
        msg = f"size_m must be positive, got {size_m}"
        raise ValueError(msg)
    if supersample < 1:
        msg = f"supersample must be >= 1, got {supersample}"
        raise ValueError(msg)
    s = int(supersample)
    width, height = model.width, model.height
    key = (
        width,
        height,
        model.distortion_model,
        tuple(model.K.ravel().tolist()),
        tuple(model.D.tolist()),
    )
    ray_x, ray_y = _ray_grid(key, s)

    # Rays (x, y, 1) and plane points (qx, qy, 1) are related by the homography
    # H = [r1 r2 t] (camera = H @ plane, scaled by the depth): plane = H^-1 @ ray, whose
    # third component is 1 / depth, positive in front of the camera. The texture's
    # pixel scale (pixel centres at integers) is folded into the same matrix.
    T = T_cam_plane.as_matrix()
    H = np.column_stack([T[:3, 0], T[:3, 1], T[:3, 3]])
    tex_h, tex_w = tex.shape[:2]
    to_texture = np.array(
        [[tex_w / size_m[0], 0.0, -0.5], [0.0, tex_h / size_m[1], -0.5], [0.0, 0.0, 1.0]]
    )
    try:
        M = (to_texture @ np.linalg.inv(H)).astype(np.float32)
    except np.linalg.LinAlgError:  # the camera centre lies on the plane: seen edge-on
        M = np.zeros((3, 3), dtype=np.float32)
    w = M[2, 0] * ray_x + M[2, 1] * ray_y + M[2, 2]
    in_front = w > 1e-9  # NaN rays (outside the model's valid field) compare False
    w = np.where(in_front, w, np.float32(1.0))
    map_x = np.where(in_front, (M[0, 0] * ray_x + M[0, 1] * ray_y + M[0, 2]) / w, -1e4)
    map_y = np.where(in_front, (M[1, 0] * ray_x + M[1, 1] * ray_y + M[1, 2]) / w, -1e4)
    map_x = map_x.astype(np.float32, copy=False)
    map_y = map_y.astype(np.float32, copy=False)
    border = (background,) * 3 if tex.ndim == 3 else background
    fine = cv2.remap(
        tex,
        map_x,
        map_y,
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border,
    )
    if s == 1:
        return np.asarray(fine, dtype=np.uint8)
    # INTER_AREA with an integer factor is the exact s x s block mean.
    small = cv2.resize(fine, (width, height), interpolation=cv2.INTER_AREA)
    return np.asarray(small, dtype=np.uint8)


def chessboard_texture(
    cols: int, rows: int, square_px: int, border_squares: int = 1
) -> tuple[npt.NDArray[np.uint8], float]:
    """A black/white chessboard with ``cols`` x ``rows`` inner corners and a white border.

    The board has ``cols + 1`` x ``rows + 1`` squares, the top-left one black (as
    OpenCV's pattern), surrounded by ``border_squares`` squares of white (the quiet
    zone a detector needs).

    Args:
        cols: inner corners along x (OpenCV ``patternSize[0]``), >= 2.
        rows: inner corners along y, >= 2.
        square_px: texture pixels per square, >= 2.
        border_squares: white margin, in squares.

    Returns:
        ``(texture, first_corner_sq)``: (h, w) uint8 texture, and the plane coordinate
        of the first inner corner in squares (the same along x and y), so that inner
        corner ``(i, j)`` lies at ``((first_corner_sq + i) * square_m,
        (first_corner_sq + j) * square_m)`` on the plane (``board_object_points``).

    Raises:
        ValueError: sizes out of range.

    >>> tex, first = chessboard_texture(3, 2, 10)
    >>> tex.shape, first
    ((50, 60), 2.0)
    """
    if cols < 2 or rows < 2 or square_px < 2 or border_squares < 0:
        msg = (
            f"need cols, rows >= 2, square_px >= 2, border_squares >= 0; got {cols}, {rows}, "
            f"{square_px}, {border_squares}"
        )
        raise ValueError(msg)
    n_x, n_y = cols + 1, rows + 1
    jj, ii = np.meshgrid(np.arange(n_x), np.arange(n_y))
    board = np.where((ii + jj) % 2 == 0, 0, 255).astype(np.uint8)
    board = np.repeat(np.repeat(board, square_px, axis=0), square_px, axis=1)
    pad = border_squares * square_px
    texture = np.pad(board, pad, constant_values=255)
    return texture, float(border_squares + 1)


def charuco_texture(
    cols: int,
    rows: int,
    square_px: int,
    marker_ratio: float = 0.7,
    dictionary: str = "DICT_5X5_100",
    border_squares: int = 1,
) -> tuple[npt.NDArray[np.uint8], float]:
    """A ChArUco board texture with ``cols`` x ``rows`` squares (OpenCV's board layout).

    Unlike ``chessboard_texture`` the size is in squares, as ``cv2.aruco.CharucoBoard``
    counts them; the board has ``(cols - 1) * (rows - 1)`` ChArUco corners.

    Args:
        cols: squares along x, >= 3.
        rows: squares along y, >= 3.
        square_px: texture pixels per square, >= 20 so that markers stay decodable.
        marker_ratio: marker side / square side, in (0, 1).
        dictionary: ``cv2.aruco`` predefined dictionary name, ``DICT_5X5_100``.
        border_squares: white margin, in squares.

    Returns:
        ``(texture, first_corner_sq)`` as for ``chessboard_texture``: the first
        ChArUco corner (id 0) lies ``first_corner_sq`` squares from the texture's
        top-left along x and y.

    Raises:
        ValueError: sizes out of range or unknown dictionary.
    """
    if cols < 3 or rows < 3 or square_px < 20 or not 0.0 < marker_ratio < 1.0:
        msg = (
            f"need cols, rows >= 3, square_px >= 20, 0 < marker_ratio < 1; got {cols}, "
            f"{rows}, {square_px}, {marker_ratio}"
        )
        raise ValueError(msg)
    board = make_charuco_board(cols, rows, 1.0, marker_ratio, dictionary)
    size = (cols * square_px, rows * square_px)
    image = board.generateImage(size, marginSize=0, borderBits=1)
    pad = border_squares * square_px
    texture = np.pad(np.asarray(image, dtype=np.uint8), pad, constant_values=255)
    return texture, float(border_squares + 1)


def make_charuco_board(
    cols: int, rows: int, square_m: float, marker_m_or_ratio: float, dictionary: str
) -> cv2.aruco.CharucoBoard:
    """``cv2.aruco.CharucoBoard`` of ``cols`` x ``rows`` squares.

    Args:
        cols: squares along x.
        rows: squares along y.
        square_m: square side, metres.
        marker_m_or_ratio: marker side in metres, or as a fraction of ``square_m`` when
            ``square_m`` is 1.
        dictionary: ``cv2.aruco`` predefined dictionary name (``DICT_5X5_100``).

    Raises:
        ValueError: unknown dictionary.
    """
    code = getattr(cv2.aruco, dictionary, None)
    if not isinstance(code, int) or not dictionary.startswith("DICT_"):
        msg = f"unknown ArUco dictionary {dictionary!r}; expected e.g. DICT_5X5_100"
        raise ValueError(msg)
    aruco_dict = cv2.aruco.getPredefinedDictionary(code)
    return cv2.aruco.CharucoBoard((cols, rows), square_m, marker_m_or_ratio, aruco_dict)


def board_object_points(
    cols: int, rows: int, square_m: float, first_corner_sq: float = 0.0
) -> npt.NDArray[np.float32]:
    """Inner-corner positions of a ``cols`` x ``rows`` corner grid on the plane z = 0.

    Order as OpenCV reports chessboard corners and ChArUco ids: x fastest, row by row.

    Args:
        cols: corners along x.
        rows: corners along y.
        square_m: square side, metres.
        first_corner_sq: offset of corner 0 from the plane origin, in squares (0 gives
            the board frame of ``cv2.calibrateCamera``; the value a texture helper
            returns gives the render plane frame).

    Returns:
        (cols * rows, 3) float32, metres, plane frame.

    >>> board_object_points(2, 2, 0.1).tolist()[3]
    [0.10000000149011612, 0.10000000149011612, 0.0]
    """
    jj, ii = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    pts = np.zeros((rows * cols, 3), dtype=np.float64)
    pts[:, 0] = (ii.ravel() + first_corner_sq) * square_m
    pts[:, 1] = (jj.ravel() + first_corner_sq) * square_m
    return pts.astype(np.float32)


def texture_size_m(
    texture: npt.NDArray[np.uint8], square_px: int, square_m: float
) -> tuple[float, float]:
    """(width, height) in metres of a texture with ``square_px`` pixels per square."""
    h, w = texture.shape[:2]
    return (w / square_px * square_m, h / square_px * square_m)


def random_board_poses(
    n: int,
    rng: np.random.Generator,
    model: CameraModel,
    size_m: tuple[float, float],
    *,
    distance_m: tuple[float, float] | None = None,
    max_tilt_deg: float = 40.0,
    margin_px: float = 10.0,
    keep_out: Sequence[npt.NDArray[np.float64]] = (),
    max_tries: int = 2000,
) -> list[Pose]:
    """Poses ``T_cam_plane`` that show the whole plane at varied places, sizes and tilts.

    The plane centre is aimed at a random pixel, the distance drawn between the bounds
    and the plane tilted about x and y by up to ``max_tilt_deg`` and rolled by up to
    15 degrees; a pose is kept when the plane's outline (sampled along its edges) stays
    ``margin_px`` inside the image.

    Args:
        n: number of poses.
        rng: seeded generator.
        model: camera the poses are for.
        size_m: (width, height) of the plane, metres.
        distance_m: (near, far) distance of the plane centre; by default the plane
            spans about 70 % to 30 % of the image width.
        max_tilt_deg: largest tilt out of the fronto-parallel orientation.
        margin_px: distance the outline keeps from the image border.
        keep_out: extra cameras' (4, 4) ``T_cam_other`` transforms; a pose is kept only
            when the plane is also fully seen from there (stereo pairs).
        max_tries: give up after this many rejected draws.

    Returns:
        ``n`` poses.

    Raises:
        ValueError: no pose fits after ``max_tries`` draws (board too big for the view).
    """
    fx = float(model.K[0, 0])
    diag = float(np.hypot(*size_m))
    if distance_m is None:
        distance_m = (fx * size_m[0] / (0.7 * model.width), fx * size_m[0] / (0.3 * model.width))
    edge = np.linspace(0.0, 1.0, 9)
    outline = np.concatenate(
        [
            np.stack([edge, np.zeros_like(edge)], 1),
            np.stack([edge, np.ones_like(edge)], 1),
            np.stack([np.zeros_like(edge), edge], 1),
            np.stack([np.ones_like(edge), edge], 1),
        ]
    ) * np.asarray(size_m)
    outline3 = np.concatenate([outline, np.zeros((outline.shape[0], 1))], axis=1)
    centre = np.array([size_m[0] / 2, size_m[1] / 2, 0.0])
    views = [np.eye(4), *(np.asarray(T, dtype=np.float64) for T in keep_out)]
    poses: list[Pose] = []
    tries = 0
    while len(poses) < n:
        tries += 1
        if tries > max_tries:
            msg = (
                f"random_board_poses: only {len(poses)} of {n} poses fit a {size_m} m plane "
                f"in {model.width}x{model.height} after {max_tries} draws"
            )
            raise ValueError(msg)
        dist = rng.uniform(*distance_m)
        target_uv = rng.uniform([0.2, 0.2], [0.8, 0.8]) * [model.width, model.height]
        ray = np.append(undistort_pixels(target_uv[None, :], model)[0], 1.0)
        ray /= np.linalg.norm(ray)
        tilt_x, tilt_y = rng.uniform(-max_tilt_deg, max_tilt_deg, 2)
        roll = rng.uniform(-15.0, 15.0)
        rot = Rotation.from_euler("xyz", [tilt_x, tilt_y, roll], degrees=True)
        # Place the rotated plane so that its centre lies on the ray at ``dist``.
        t = ray * dist - rot.apply(centre)
        T = from_rotation_translation(rot.as_matrix(), t)
        if dist < diag * 0.5:
            continue
        ok = True
        for T_view_cam in views:
            pts = (T_view_cam @ T @ np.c_[outline3, np.ones(len(outline3))].T).T[:, :3]
            if (pts[:, 2] <= 0.05).any():
                ok = False
                break
            uv = project_points(pts, model)
            inside = (
                (uv[:, 0] >= margin_px)
                & (uv[:, 0] <= model.width - 1 - margin_px)
                & (uv[:, 1] >= margin_px)
                & (uv[:, 1] <= model.height - 1 - margin_px)
            )
            if not inside.all():
                ok = False
                break
        if ok:
            poses.append(Pose.from_matrix(T))
    _log.debug("random_board_poses: %d poses from %d draws", n, tries)
    return poses
