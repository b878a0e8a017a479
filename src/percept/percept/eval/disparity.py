"""Disparity and depth accuracy in the Middlebury conventions; PFM and scaled-PNG files.

Scoring follows the Middlebury v3 SDK (``evaldisp``): pixels whose ground truth is
unknown are left out; an estimate that is missing (a hole: Inf, NaN, or 0 in a PNG)
counts as an error in ``bad_*_total`` and is left out of ``bad_*_valid``, EPE and RMS; a
pixel is bad when ``|d - d_gt| > threshold`` (strictly). Density is the share of scored
pixels that have an estimate.

File conventions: PFM (Middlebury 2014 and later) stores float disparities, Inf =
unknown; 8- and 16-bit PNGs (Middlebury 2001-2006, KITTI) store ``disparity * scale``
with 0 = unknown (Middlebury 2006 third size: scale 3, 2003 quarter size: 4, KITTI: 256).
Readers return float32 disparities with Inf where unknown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from percept.errors import EvalError
from percept.geometry.camera import CameraModel

__all__ = [
    "DEFAULT_BANDS_M",
    "DEFAULT_THRESHOLDS_PX",
    "DepthBand",
    "DisparityMetrics",
    "depth_error_by_band",
    "depth_from_disparity",
    "disparity_error_map",
    "disparity_from_depth",
    "disparity_metrics",
    "read_disparity",
    "read_pfm",
    "rectify_depth",
    "write_disparity_png",
    "write_pfm",
]

FloatArray = npt.NDArray[np.float32]

#: Middlebury's bad-pixel thresholds, pixels.
DEFAULT_THRESHOLDS_PX: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
#: Ground-truth depth bands for the relative depth error, metres [lo, hi).
DEFAULT_BANDS_M: tuple[tuple[float, float], ...] = ((0.0, 2.0), (2.0, 5.0), (5.0, 10.0))


# --------------------------------------------------------------------------- files

_PFM_HEADER = re.compile(rb"^(PF|Pf)\s+(\d+)\s+(\d+)\s+([-+0-9.eE]+)\s", re.ASCII)


def read_pfm(path: Path | str) -> FloatArray:
    """Read a Portable Float Map (Middlebury ``disp0GT.pfm``).

    Rows are stored bottom to top; the sign of the scale field gives the byte order
    (negative: little-endian).

    Returns:
        (H, W) float32 for ``Pf`` or (H, W, 3) float32 for ``PF``, top row first.

    Raises:
        EvalError: not a PFM file or truncated data.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as err:
        msg = f"{p}: cannot read PFM: {err}"
        raise EvalError(msg) from err
    match = _PFM_HEADER.match(raw)
    if match is None:
        msg = f"{p}: not a PFM file (header must be 'Pf' or 'PF', width, height, scale)"
        raise EvalError(msg)
    channels = 3 if match.group(1) == b"PF" else 1
    width, height = int(match.group(2)), int(match.group(3))
    scale = float(match.group(4))
    dtype = np.dtype("<f4") if scale < 0 else np.dtype(">f4")
    count = width * height * channels
    body = raw[match.end() :]
    if len(body) < 4 * count:
        msg = f"{p}: PFM data truncated: {len(body)} bytes for {width}x{height}x{channels} floats"
        raise EvalError(msg)
    data = np.frombuffer(body, dtype=dtype, count=count).astype(np.float32)
    shape = (height, width) if channels == 1 else (height, width, 3)
    out: FloatArray = np.ascontiguousarray(np.flipud(data.reshape(shape)))
    return out


def write_pfm(path: Path | str, image: npt.ArrayLike) -> Path:
    """Write (H, W) or (H, W, 3) floats as PFM (little-endian, bottom row first).

    Raises:
        ValueError: wrong shape.
    """
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[2] == 3:
        kind = b"PF"
    elif arr.ndim == 2:
        kind = b"Pf"
    else:
        msg = f"image must be (H, W) or (H, W, 3), got {arr.shape}"
        raise ValueError(msg)
    height, width = arr.shape[:2]
    header = kind + f"\n{width} {height}\n-1\n".encode("ascii")
    body = np.flipud(arr).astype("<f4").tobytes()
    out = Path(path)
    out.write_bytes(header + body)
    return out


def read_disparity(path: Path | str, scale: float = 1.0) -> FloatArray:
    """Read a disparity map with Inf where it is unknown.

    Args:
        path: ``.pfm`` (floats, Inf or NaN unknown) or an 8/16-bit ``.png`` (value /
            ``scale``, 0 unknown). Other image formats OpenCV reads are treated like PNG.
        scale: PNG value per pixel of disparity (Middlebury 2006 third size: 3, 2003
            quarter size: 4, KITTI: 256). Ignored for PFM.

    Returns:
        (H, W) float32 disparity, pixels; Inf = unknown.

    Raises:
        EvalError: unreadable file, colour PNG, or scale <= 0.
    """
    p = Path(path)
    if p.suffix.lower() == ".pfm":
        disp = read_pfm(p)
        if disp.ndim == 3:
            msg = f"{p}: expected a one-channel PFM (Pf) disparity, got three channels"
            raise EvalError(msg)
        out: FloatArray = disp.copy()
        out[~np.isfinite(out)] = np.inf
        return out
    if not scale > 0:
        msg = f"{p}: scale must be > 0, got {scale}"
        raise EvalError(msg)
    raw = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if raw is None:
        msg = f"{p}: cannot read image"
        raise EvalError(msg)
    if raw.ndim == 3:
        channels = raw.shape[2]
        if (
            channels in (3, 4)
            and np.array_equal(raw[..., 0], raw[..., 1])
            and np.array_equal(raw[..., 0], raw[..., 2])
        ):
            raw = raw[..., 0]  # grey saved as colour
        else:
            msg = f"{p}: disparity PNG must have one channel, got {channels}"
            raise EvalError(msg)
    disp32: FloatArray = raw.astype(np.float32) / np.float32(scale)
    disp32[raw == 0] = np.inf
    return disp32


def write_disparity_png(path: Path | str, disparity: npt.ArrayLike, scale: float = 256.0) -> Path:
    """Write disparities as a 16-bit PNG of ``round(d * scale)``, 0 where unknown.

    Args:
        path: output ``.png``.
        disparity: (H, W) float pixels; non-finite or <= 0 = unknown.
        scale: value per pixel of disparity (KITTI: 256).

    Raises:
        EvalError: a disparity does not fit 16 bits at this scale, or scale <= 0.
    """
    if not scale > 0:
        msg = f"scale must be > 0, got {scale}"
        raise EvalError(msg)
    d = np.asarray(disparity, dtype=np.float64)
    known = np.isfinite(d) & (d > 0)
    values = np.zeros(d.shape, dtype=np.float64)
    values[known] = np.round(d[known] * scale)
    if values.max(initial=0) > 65535:
        msg = f"{path}: disparity {d[known].max():.2f} x scale {scale} does not fit in 16 bits"
        raise EvalError(msg)
    out = Path(path)
    if not cv2.imwrite(str(out), values.astype(np.uint16)):
        msg = f"{out}: cannot write PNG"
        raise EvalError(msg)
    return out


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True, slots=True)
class DisparityMetrics:
    """Middlebury-style disparity scores.

    Attributes:
        thresholds_px: the bad-pixel thresholds.
        bad_total_pct: threshold -> % of scored pixels that are bad or missing
            (Middlebury ``totbad``).
        bad_valid_pct: threshold -> % of scored pixels with an estimate that are bad.
        epe_px: mean absolute error over pixels with an estimate (Middlebury ``avgErr``).
        rms_px: root-mean-square error over pixels with an estimate.
        density_pct: % of scored pixels that have an estimate.
        scored_px: pixels with known ground truth (inside the mask, if any).
        invalid_px: scored pixels without an estimate.
        bad_px: threshold -> scored pixels with an estimate that are bad.
        error_sum_px: sum of absolute errors over pixels with an estimate.
        error_sq_sum_px2: sum of squared errors over pixels with an estimate.
    """

    thresholds_px: tuple[float, ...]
    bad_total_pct: dict[float, float]
    bad_valid_pct: dict[float, float]
    epe_px: float
    rms_px: float
    density_pct: float
    scored_px: int
    invalid_px: int
    bad_px: dict[float, int]
    error_sum_px: float
    error_sq_sum_px2: float

    @classmethod
    def from_counts(
        cls,
        thresholds_px: tuple[float, ...],
        scored_px: int,
        invalid_px: int,
        bad_px: dict[float, int],
        error_sum_px: float,
        error_sq_sum_px2: float,
    ) -> DisparityMetrics:
        """Scores from pixel counts and error sums (also used to pool frames).

        Raises:
            EvalError: no pixel was scored.
        """
        n = scored_px
        if n <= 0:
            msg = "no pixel to score: ground truth unknown everywhere (or mask empty)"
            raise EvalError(msg)
        n_valid = n - invalid_px
        nan = float("nan")
        return cls(
            thresholds_px=thresholds_px,
            bad_total_pct={t: 100.0 * (bad_px[t] + invalid_px) / n for t in thresholds_px},
            bad_valid_pct={
                t: 100.0 * bad_px[t] / n_valid if n_valid else nan for t in thresholds_px
            },
            epe_px=error_sum_px / n_valid if n_valid else nan,
            rms_px=float(np.sqrt(error_sq_sum_px2 / n_valid)) if n_valid else nan,
            density_pct=100.0 * n_valid / n,
            scored_px=n,
            invalid_px=invalid_px,
            bad_px=dict(bad_px),
            error_sum_px=error_sum_px,
            error_sq_sum_px2=error_sq_sum_px2,
        )

    @classmethod
    def pool(cls, frames: Sequence[DisparityMetrics]) -> DisparityMetrics:
        """Scores over all pixels of several frames (same thresholds).

        Raises:
            EvalError: no frames, or frames scored with different thresholds.
        """
        if not frames:
            msg = "no disparity frames to pool"
            raise EvalError(msg)
        thresholds = frames[0].thresholds_px
        if any(f.thresholds_px != thresholds for f in frames):
            msg = "cannot pool disparity scores made with different thresholds"
            raise EvalError(msg)
        return cls.from_counts(
            thresholds,
            sum(f.scored_px for f in frames),
            sum(f.invalid_px for f in frames),
            {t: sum(f.bad_px[t] for f in frames) for t in thresholds},
            float(sum(f.error_sum_px for f in frames)),
            float(sum(f.error_sq_sum_px2 for f in frames)),
        )

    def as_dict(self) -> dict[str, object]:
        """Summary for metrics.json (``bad_2.0_total_pct``-style keys)."""
        out: dict[str, object] = {}
        for t in self.thresholds_px:
            out[f"bad_{t:g}_total_pct"] = self.bad_total_pct[t]
            out[f"bad_{t:g}_valid_pct"] = self.bad_valid_pct[t]
        out.update(
            epe_px=self.epe_px,
            rms_px=self.rms_px,
            density_pct=self.density_pct,
            scored_px=self.scored_px,
            invalid_px=self.invalid_px,
        )
        return out


def _check_pair(est: npt.ArrayLike, gt: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    e = np.asarray(est, dtype=np.float32)
    g = np.asarray(gt, dtype=np.float32)
    if e.shape != g.shape or e.ndim != 2:
        msg = f"estimate and ground truth must be (H, W) of one size, got {e.shape} and {g.shape}"
        raise EvalError(msg)
    return e, g


def disparity_error_map(
    estimate: npt.ArrayLike, ground_truth: npt.ArrayLike
) -> npt.NDArray[np.float32]:
    """(H, W) float32 ``|d - d_gt|``, pixels; NaN where either is unknown."""
    e, g = _check_pair(estimate, ground_truth)
    err: FloatArray = np.abs(e - g)
    err[~(np.isfinite(e) & np.isfinite(g))] = np.nan
    return err


def disparity_metrics(
    estimate: npt.ArrayLike,
    ground_truth: npt.ArrayLike,
    *,
    thresholds_px: Sequence[float] = DEFAULT_THRESHOLDS_PX,
    mask: npt.ArrayLike | None = None,
    max_disparity_px: float | None = None,
) -> DisparityMetrics:
    """Score a disparity map against ground truth (Middlebury ``evaldisp``).

    Args:
        estimate: (H, W) disparity, pixels; non-finite = no estimate.
        ground_truth: (H, W) disparity, pixels; non-finite = unknown (left out).
        thresholds_px: bad-pixel thresholds; bad means error > threshold.
        mask: (H, W) bool, True where to score (e.g. non-occluded); None: everywhere.
        max_disparity_px: clip estimates to [0, max] first, as evaldisp's ``maxdisp``.

    Returns:
        the scores.

    Raises:
        EvalError: shapes differ or no pixel can be scored.

    >>> gt = np.array([[10.0, 20.0], [np.inf, 5.0]])
    >>> est = np.array([[10.4, 23.0], [1.0, np.inf]])
    >>> m = disparity_metrics(est, gt)
    >>> m.bad_total_pct[1.0], m.bad_valid_pct[1.0], m.density_pct
    (66.66666666666667, 50.0, 66.66666666666667)
    """
    e, g = _check_pair(estimate, ground_truth)
    scored = np.isfinite(g)
    if mask is not None:
        mk = np.asarray(mask, dtype=bool)
        if mk.shape != g.shape:
            msg = f"mask must be {g.shape}, got {mk.shape}"
            raise EvalError(msg)
        scored &= mk
    n = int(np.count_nonzero(scored))
    d = e[scored].astype(np.float64)
    valid = np.isfinite(d)
    if max_disparity_px is not None:
        d[valid] = np.clip(d[valid], 0.0, max_disparity_px)
    err = np.abs(d[valid] - g[scored][valid].astype(np.float64))
    thresholds = tuple(float(t) for t in thresholds_px)
    return DisparityMetrics.from_counts(
        thresholds,
        n,
        n - int(err.size),
        {t: int(np.count_nonzero(err > t)) for t in thresholds},
        float(err.sum()),
        float(np.sum(err**2)),
    )


# --------------------------------------------------------------------------- depth


def depth_from_disparity(
    disparity_px: npt.ArrayLike, focal_length_px: float, baseline_m: float
) -> FloatArray:
    """(H, W) float32 depth ``f * B / d``, metres; Inf where d <= 0 or unknown.

    >>> depth_from_disparity(np.array([[10.0, 0.0]]), 500.0, 0.1).tolist()
    [[5.0, inf]]
    """
    d = np.asarray(disparity_px, dtype=np.float32)
    out = np.full(d.shape, np.inf, dtype=np.float32)
    ok = np.isfinite(d) & (d > 0)
    out[ok] = np.float32(focal_length_px * baseline_m) / d[ok]
    return out


def disparity_from_depth(
    depth_m: npt.ArrayLike, focal_length_px: float, baseline_m: float
) -> FloatArray:
    """(H, W) float32 disparity ``f * B / z``, pixels; Inf where z <= 0 or unknown."""
    return depth_from_disparity(depth_m, focal_length_px, baseline_m)


def rectify_depth(depth_m: npt.ArrayLike, model: CameraModel) -> FloatArray:
    """Depth of the raw (distorted) camera seen from its rectified camera.

    Ground truth rendered for the raw image (``percept synth``) and disparity computed on
    rectified images differ by the lens distortion and the rectification rotation R.
    For each rectified pixel the raw pixel it comes from (``initUndistortRectifyMap``) is
    looked up, nearest neighbour so that depth edges stay sharp, and its depth is turned
    into the rectified camera's z: ``z_rect = z_raw / (R^T P^-1 [u, v, 1])_z``.

    Args:
        depth_m: (H, W) depth of the raw camera, metres; non-finite or <= 0 unknown.
        model: the camera's calibration (K, D, R, P as in its camera_info), H x W.

    Returns:
        (H, W) float32 depth along the rectified optical axis, metres; Inf unknown.

    Raises:
        EvalError: the depth image and the calibration differ in size, or P is unusable.
    """
    z = np.asarray(depth_m, dtype=np.float32)
    h, w = z.shape
    if (model.width, model.height) != (w, h):
        msg = f"depth is {w}x{h} but the camera_info is {model.width}x{model.height}"
        raise EvalError(msg)
    P3 = model.P[:, :3]
    if not (np.isfinite(P3).all() and abs(np.linalg.det(P3)) > 0):
        msg = "camera_info P is not a usable projection (uncalibrated camera?)"
        raise EvalError(msg)
    if model.distortion_model == "equidistant":
        map_x, map_y = cv2.fisheye.initUndistortRectifyMap(
            model.K, model.D[:4], model.R, P3, (w, h), cv2.CV_32FC1
        )
    else:
        map_x, map_y = cv2.initUndistortRectifyMap(
            model.K, model.D, model.R, P3, (w, h), cv2.CV_32FC1
        )
    cols = np.rint(map_x).astype(np.int64)
    rows = np.rint(map_y).astype(np.int64)
    inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    sampled = np.full((h, w), np.inf, dtype=np.float64)
    sampled[inside] = z[rows[inside], cols[inside]]
    sampled[~(np.isfinite(sampled) & (sampled > 0))] = np.inf
    v, u = np.mgrid[0:h, 0:w]
    rays = np.stack([u, v, np.ones_like(u)], axis=-1).reshape(-1, 3).astype(np.float64)
    raw_rays = rays @ np.linalg.inv(P3).T @ model.R  # (R^T P^-1 p) for every pixel, as rows
    ray_z = raw_rays[:, 2].reshape(h, w)
    out = np.full((h, w), np.inf, dtype=np.float32)
    ok = np.isfinite(sampled) & (ray_z > 0)
    out[ok] = (sampled[ok] / ray_z[ok]).astype(np.float32)
    return out


@dataclass(frozen=True, slots=True)
class DepthBand:
    """Depth error over the pixels whose true depth lies in ``[lo_m, hi_m)``.

    Kept as counts and sums so that frames pool exactly (:meth:`pool`).

    Attributes:
        lo_m: band start, metres.
        hi_m: band end, metres.
        pixels: pixels of known true depth in the band.
        valid_px: of those, pixels with an estimate.
        abs_rel_sum: sum of ``|z - z_gt| / z_gt`` over pixels with an estimate.
        abs_err_sum_m: sum of ``|z - z_gt|``, metres.
        sq_err_sum_m2: sum of ``(z - z_gt)^2``, m^2.
    """

    lo_m: float
    hi_m: float
    pixels: int
    valid_px: int
    abs_rel_sum: float
    abs_err_sum_m: float
    sq_err_sum_m2: float

    @property
    def name(self) -> str:
        """``2-5m``-style label."""
        return f"{self.lo_m:g}-{self.hi_m:g}m"

    @property
    def density_pct(self) -> float:
        """% of the band's pixels with an estimate (NaN for an empty band)."""
        return 100.0 * self.valid_px / self.pixels if self.pixels else float("nan")

    @property
    def abs_rel_mean(self) -> float:
        """Mean relative error ``|z - z_gt| / z_gt`` (NaN without estimates)."""
        return self.abs_rel_sum / self.valid_px if self.valid_px else float("nan")

    @property
    def abs_err_mean_m(self) -> float:
        """Mean absolute error, metres."""
        return self.abs_err_sum_m / self.valid_px if self.valid_px else float("nan")

    @property
    def rmse_m(self) -> float:
        """Root-mean-square error, metres."""
        return float(np.sqrt(self.sq_err_sum_m2 / self.valid_px)) if self.valid_px else float("nan")

    @classmethod
    def pool(cls, bands: Sequence[DepthBand]) -> DepthBand:
        """The same band over several frames.

        Raises:
            EvalError: no bands, or bands with different limits.
        """
        if not bands or any((b.lo_m, b.hi_m) != (bands[0].lo_m, bands[0].hi_m) for b in bands):
            msg = "pool needs one or more depth bands with the same limits"
            raise EvalError(msg)
        return cls(
            bands[0].lo_m,
            bands[0].hi_m,
            sum(b.pixels for b in bands),
            sum(b.valid_px for b in bands),
            float(sum(b.abs_rel_sum for b in bands)),
            float(sum(b.abs_err_sum_m for b in bands)),
            float(sum(b.sq_err_sum_m2 for b in bands)),
        )

    def as_dict(self) -> dict[str, float | int]:
        """Summary for metrics.json."""
        return {
            "pixels": self.pixels,
            "density_pct": self.density_pct,
            "abs_rel_mean": self.abs_rel_mean,
            "abs_err_mean_m": self.abs_err_mean_m,
            "rmse_m": self.rmse_m,
        }


def depth_error_by_band(
    estimate_m: npt.ArrayLike,
    ground_truth_m: npt.ArrayLike,
    bands_m: Sequence[tuple[float, float]] = DEFAULT_BANDS_M,
) -> list[DepthBand]:
    """Relative depth error per band of true depth.

    Args:
        estimate_m: (H, W) depth, metres; non-finite or <= 0 = no estimate.
        ground_truth_m: (H, W) true depth, metres; non-finite or <= 0 = unknown.
        bands_m: [lo, hi) bands of true depth, metres.

    Returns:
        one ``DepthBand`` per band.

    Raises:
        EvalError: shapes differ or a band is empty/inverted.
    """
    e, g = _check_pair(estimate_m, ground_truth_m)
    known = np.isfinite(g) & (g > 0)
    has = np.isfinite(e) & (e > 0)
    out: list[DepthBand] = []
    for lo, hi in bands_m:
        if not hi > lo:
            msg = f"depth band must have hi > lo, got [{lo}, {hi})"
            raise EvalError(msg)
        inside = known & (g >= lo) & (g < hi)
        sel = inside & has
        z_gt = g[sel].astype(np.float64)
        err = e[sel].astype(np.float64) - z_gt
        out.append(
            DepthBand(
                lo_m=float(lo),
                hi_m=float(hi),
                pixels=int(np.count_nonzero(inside)),
                valid_px=int(err.size),
                abs_rel_sum=float(np.sum(np.abs(err) / z_gt)),
                abs_err_sum_m=float(np.sum(np.abs(err))),
                sq_err_sum_m2=float(np.sum(err**2)),
            )
        )
    return out
