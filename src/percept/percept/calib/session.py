"""Calibration sessions: collect views from a stream of images, calibrate, write results.

The same session serves ``percept calibrate`` (images from a folder or a bag) and the
calibration node (images from topics): each image is searched for the board, the view
selection keeps new views, and ``calibrate`` turns the kept views into a result, with
errors that say how many images had a board. ``write`` puts the camera_info YAML
files, the PNG report and a JSON summary into one folder (``calibration/<robot>/``).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from percept.calib.board import BoardSpec, Detection, detect_board, to_uint8
from percept.calib.report import mono_report, stereo_report, write_png
from percept.calib.solve import (
    CalibrationConfig,
    MonoCalibration,
    StereoCalibration,
    calibrate_mono,
    calibrate_stereo,
)
from percept.calib.views import Coverage, Verdict, ViewSelector, view_params
from percept.calib.yaml_io import write_camera_info_yaml
from percept.errors import CalibrationError, PerceptError

__all__ = [
    "MonoSession",
    "SelectionConfig",
    "StereoSession",
    "detect_all",
    "detect_all_pairs",
    "mono_summary",
    "run_mono",
    "run_stereo",
    "stereo_summary",
]

T = TypeVar("T")
V = TypeVar("V")

_log = logging.getLogger(__name__)
# Images kept for the report are scaled to this width (memory stays small on a robot).
_THUMB_WIDTH = 320


@dataclass(frozen=True, slots=True)
class SelectionConfig:
    """View selection settings (see ``percept.calib.views``).

    Attributes:
        min_distance: L1 distance in (x, y, size, skew) a new view needs to every kept
            one; 0 keeps every view with a board.
        max_views: stop collecting after this many views (0: no limit).
        max_speed_px: largest mean corner motion between consecutive frames (0: off).
    """

    min_distance: float = 0.2
    max_views: int = 0
    max_speed_px: float = 0.0

    def __post_init__(self) -> None:
        if self.min_distance < 0 or self.max_views < 0 or self.max_speed_px < 0:
            msg = f"selection settings must be >= 0, got {self}"
            raise ValueError(msg)


def _thumbnail(image: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    img = to_uint8(image)
    width = img.shape[1]
    if width <= _THUMB_WIDTH:
        return np.ascontiguousarray(img)
    height = round(img.shape[0] * _THUMB_WIDTH / width)
    return np.asarray(
        cv2.resize(img, (_THUMB_WIDTH, height), interpolation=cv2.INTER_AREA), dtype=np.uint8
    )


class _Session(Generic[V]):
    """What mono and stereo sessions share: the board, the source, the view selection.

    Args:
        board: the target.
        selection: view selection settings.
        source: name of the image source used in error messages.
    """

    def __init__(self, board: BoardSpec, selection: SelectionConfig | None, source: str) -> None:
        sel = selection or SelectionConfig()
        self.board = board
        self.source = source
        self.selector: ViewSelector[V] = ViewSelector(
            min_distance=sel.min_distance, max_views=sel.max_views, max_speed_px=sel.max_speed_px
        )
        self.last_verdict = Verdict(False, "no image yet")

    def _consider(self, detection: Detection, view: V) -> Verdict:
        """Keep ``view`` when ``detection`` is new (see ``ViewSelector.consider``)."""
        verdict = self.selector.consider(view_params(detection, self.board), view, detection)
        self.last_verdict = verdict
        return verdict

    def _require(self, *checks: tuple[bool, str]) -> None:
        """Raise for the first check that fails, its message after the source's name.

        Raises:
            CalibrationError: a check failed.
        """
        for ok, reason in checks:
            if not ok:
                msg = f"{self.source}: {reason}"
                raise CalibrationError(msg)


class MonoSession(_Session[tuple[Detection, npt.NDArray[np.uint8]]]):
    """Collects views of one camera and calibrates it.

    Args:
        board: the target.
        selection: view selection settings.
        source: name of the image source (folder, topic) used in error messages.
    """

    def __init__(
        self, board: BoardSpec, selection: SelectionConfig | None = None, source: str = "images"
    ) -> None:
        super().__init__(board, selection, source)
        self.n_images = 0
        self.n_detected = 0
        self.image_size: tuple[int, int] | None = None

    def add(self, image: npt.NDArray[np.generic], name: str = "") -> Verdict:
        """Search one image for the board and keep the view when it is new.

        Args:
            image: (H, W) mono or (H, W, 3) bgr8 image (16-bit is scaled).
            name: where it came from (file name, topic and stamp).

        Returns:
            Whether the view was kept, and why (not).
        """
        self.n_images += 1
        detection = detect_board(image, self.board, source=name)
        if detection is None:
            self.last_verdict = Verdict(False, "no board found")
            return self.last_verdict
        self.n_detected += 1
        self.image_size = detection.image_size
        return self._consider(detection, (detection, _thumbnail(image)))

    @property
    def detections(self) -> list[Detection]:
        """Kept views."""
        return [d for d, _ in self.selector.views]

    def coverage(self) -> Coverage:
        """Coverage of the kept views."""
        return self.selector.coverage()

    def _check_found(self, config: CalibrationConfig) -> None:
        kept = len(self.selector.views)
        self._require(
            (self.n_images != 0, "no images"),
            (
                self.n_detected != 0,
                f"no board found in any of {self.n_images} images "
                f"(looking for {self.board}); check --board (chessboard sizes count inner "
                f"corners) and that the whole board is in view",
            ),
            (
                kept >= config.min_views,
                f"too few views: board found in {self.n_detected} of "
                f"{self.n_images} images, {kept} different enough to use; need at least "
                f"{config.min_views} (move the board to new places, distances and tilts)",
            ),
        )

    def calibrate(self, config: CalibrationConfig | None = None) -> MonoCalibration:
        """Calibrate from the kept views.

        Raises:
            CalibrationError: no board found, too few views, degenerate coverage.
        """
        cfg = config or CalibrationConfig()
        self._check_found(cfg)
        return calibrate_mono(self.detections, self.board, cfg, what=self.source)

    def write(
        self, out_dir: str | Path, result: MonoCalibration, camera_name: str = "camera"
    ) -> list[Path]:
        """Write ``<camera_name>.yaml``, ``<camera_name>_report.png`` and ``_calibration.json``.

        Returns:
            The files written.

        Raises:
            CalibrationError: a file cannot be written.
        """
        out = Path(out_dir)
        yaml_path = write_camera_info_yaml(out / f"{camera_name}.yaml", result.camera, camera_name)
        images = [t for _, t in self.selector.views]
        report = mono_report(
            images, self.detections, self.board, result, title=f"{camera_name}: {self.source}"
        )
        png = write_png(out / f"{camera_name}_report.png", report)
        summary = mono_summary(result, self.detections)
        summary.update(
            {"board": str(self.board), "images": self.n_images, "with_board": self.n_detected}
        )
        js = _write_json(out / f"{camera_name}_calibration.json", summary)
        return [yaml_path, png, js]


class StereoSession(
    _Session[tuple[Detection, Detection, npt.NDArray[np.uint8], npt.NDArray[np.uint8]]]
):
    """Collects synchronised left/right views and calibrates the pair.

    A pair is kept when the left view is new (cameracalibrator's rule); views with the
    board in one image only are kept for that camera's own calibration.

    Args:
        board: the target.
        selection: view selection settings.
        source: name of the image source used in error messages.
    """

    def __init__(
        self, board: BoardSpec, selection: SelectionConfig | None = None, source: str = "images"
    ) -> None:
        super().__init__(board, selection, source)
        self.n_pairs = 0
        self.n_left = 0
        self.n_right = 0
        self.n_both = 0

    def add(
        self, left: npt.NDArray[np.generic], right: npt.NDArray[np.generic], name: str = ""
    ) -> Verdict:
        """Search a synchronised pair for the board and keep it when it is new.

        Returns:
            Whether the pair was kept, and why (not).
        """
        self.n_pairs += 1
        det_l = detect_board(left, self.board, source=f"{name} left" if name else "left")
        det_r = detect_board(right, self.board, source=f"{name} right" if name else "right")
        self.n_left += det_l is not None
        self.n_right += det_r is not None
        if det_l is None or det_r is None:
            which = (
                "either image"
                if det_l is None and det_r is None
                else ("the left image" if det_l is None else "the right image")
            )
            self.last_verdict = Verdict(False, f"no board found in {which}")
            return self.last_verdict
        self.n_both += 1
        return self._consider(det_l, (det_l, det_r, _thumbnail(left), _thumbnail(right)))

    @property
    def pairs(self) -> list[tuple[Detection, Detection]]:
        """Kept pairs."""
        return [(a, b) for a, b, _, _ in self.selector.views]

    def coverage(self) -> Coverage:
        """Coverage of the kept pairs (left image)."""
        return self.selector.coverage()

    def calibrate(self, config: CalibrationConfig | None = None) -> StereoCalibration:
        """Calibrate the pair from the kept views.

        Raises:
            CalibrationError: no board found, too few views, degenerate coverage.
        """
        cfg = config or CalibrationConfig()
        kept = len(self.selector.views)
        self._require(
            (self.n_pairs != 0, "no image pairs"),
            (
                self.n_both != 0,
                f"no board found in both images of any of {self.n_pairs} "
                f"pairs (left: {self.n_left}, right: {self.n_right} with a board; looking "
                f"for {self.board}); check --board and that both cameras see the whole board",
            ),
            (
                kept >= cfg.min_views,
                f"too few views: board found in both images of "
                f"{self.n_both} of {self.n_pairs} pairs, {kept} different enough to use; "
                f"need at least {cfg.min_views}",
            ),
        )
        return calibrate_stereo(self.pairs, self.board, cfg, what=self.source)

    def write(
        self,
        out_dir: str | Path,
        result: StereoCalibration,
        left_name: str = "left",
        right_name: str = "right",
    ) -> list[Path]:
        """Write the two YAML files, ``stereo_report.png`` and ``stereo_calibration.json``.

        Returns:
            The files written.

        Raises:
            CalibrationError: a file cannot be written.
        """
        out = Path(out_dir)
        written = [
            write_camera_info_yaml(out / f"{left_name}.yaml", result.left, left_name),
            write_camera_info_yaml(out / f"{right_name}.yaml", result.right, right_name),
        ]
        images = [(a, b) for _, _, a, b in self.selector.views]
        report = stereo_report(images, self.pairs, self.board, result, title=self.source)
        written.append(write_png(out / "stereo_report.png", report))
        summary = stereo_summary(result, self.pairs)
        summary.update(
            {"board": str(self.board), "pairs": self.n_pairs, "with_board_in_both": self.n_both}
        )
        written.append(_write_json(out / "stereo_calibration.json", summary))
        return written


def _clean(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def mono_summary(result: MonoCalibration, detections: list[Detection]) -> dict[str, object]:
    """JSON-ready figures of a mono calibration."""
    return {
        "distortion_model": result.camera.distortion_model,
        "image_size": [result.camera.width, result.camera.height],
        "rms_px": result.rms_px,
        "views_used": len(result.used),
        "per_view_rms_px": {
            detections[i].source or str(i): float(e)
            for i, e in zip(result.used, result.per_view_rms_px, strict=True)
        },
        "rejected_views": {detections[i].source or str(i): e for i, e in result.rejected},
        "K": result.camera.K.tolist(),
        "D": result.camera.D.tolist(),
        "std": {k: _clean(v) for k, v in result.std.items()},
        "coverage": {
            p.name: {"low": p.low, "high": p.high, "progress": p.progress}
            for p in result.coverage.params
        },
    }


def stereo_summary(
    result: StereoCalibration, pairs: list[tuple[Detection, Detection]]
) -> dict[str, object]:
    """JSON-ready figures of a stereo calibration."""
    return {
        "rms_px": result.rms_px,
        "pairs_used": len(result.used),
        "per_pair_rms_px": {
            pairs[i][0].source or str(i): e.tolist()
            for i, e in zip(result.used, result.per_view_rms_px, strict=True)
        },
        "rejected_pairs": {pairs[i][0].source or str(i): e for i, e in result.rejected},
        "baseline_m": result.baseline_m,
        "rotation_deg": result.rotation_deg,
        "T_right_left": result.T_right_left.as_matrix().tolist(),
        "epipolar_rms_px": result.epipolar_rms_px,
        "left": mono_summary(result.left_mono, [p[0] for p in pairs]),
        "right": mono_summary(result.right_mono, [p[1] for p in pairs]),
    }


def _write_json(path: Path, data: dict[str, object]) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    except OSError as err:
        msg = f"{path}: cannot write: {err.strerror}"
        raise CalibrationError(msg) from err
    return path


# -- whole runs (what ``percept calibrate`` calls) ---------------------------------------


def _progress(iterable: Iterable[T], total: int | None, desc: str, enabled: bool) -> Iterable[T]:
    from tqdm import tqdm

    bar: Iterable[T] = tqdm(
        iterable,
        total=total,
        desc=desc,
        unit="img",
        disable=not enabled or not sys.stderr.isatty(),
        file=sys.stderr,
    )
    return bar


def _length(source: object) -> int | None:
    try:
        return len(source)  # type: ignore[arg-type]
    except (TypeError, PerceptError):
        return None


def run_mono(
    source: Iterable[tuple[str, npt.NDArray[np.generic]]],
    board: BoardSpec,
    out_dir: str | Path,
    *,
    config: CalibrationConfig | None = None,
    selection: SelectionConfig | None = None,
    camera_name: str = "camera",
    source_name: str = "images",
    progress: bool = True,
) -> tuple[MonoCalibration, list[Path]]:
    """Calibrate one camera from an image source and write the results.

    Args:
        source: ``(name, image)`` items (``FolderImages``, ``BagImages``).
        board: the target.
        out_dir: folder for ``<camera_name>.yaml``, the report and the JSON summary.
        config: model and thresholds.
        selection: view selection settings.
        camera_name: camera_name field and file name.
        source_name: the source in messages (folder or bag and topic).
        progress: show a progress bar on a terminal.

    Returns:
        The calibration and the files written.

    Raises:
        CalibrationError: no board found, too few views, degenerate coverage, I/O.
    """
    session = MonoSession(board, selection, source=source_name)
    for name, image in _progress(source, _length(source), "detecting", progress):
        session.add(image, name)
    result = session.calibrate(config)
    return result, session.write(out_dir, result, camera_name)


def run_stereo(
    source: Iterable[tuple[str, npt.NDArray[np.generic], npt.NDArray[np.generic]]],
    board: BoardSpec,
    out_dir: str | Path,
    *,
    config: CalibrationConfig | None = None,
    selection: SelectionConfig | None = None,
    names: tuple[str, str] = ("left", "right"),
    source_name: str = "images",
    progress: bool = True,
) -> tuple[StereoCalibration, list[Path]]:
    """Calibrate a stereo pair from a source of image pairs and write the results.

    Args:
        source: ``(name, left, right)`` items (``FolderStereoImages``, ``BagStereoImages``).
        board: the target.
        out_dir: folder for the two YAML files, the report and the JSON summary.
        config: model and thresholds.
        selection: view selection settings.
        names: camera names (and file names) of the left and right cameras.
        source_name: the source in messages.
        progress: show a progress bar on a terminal.

    Returns:
        The calibration and the files written.

    Raises:
        CalibrationError: no board found, too few views, degenerate coverage, I/O.
    """
    session = StereoSession(board, selection, source=source_name)
    for name, left, right in _progress(source, _length(source), "detecting", progress):
        session.add(left, right, name)
    result = session.calibrate(config)
    return result, session.write(out_dir, result, *names)


def detect_all(
    source: Iterable[tuple[str, npt.NDArray[np.generic]]],
    board: BoardSpec,
    *,
    progress: bool = True,
) -> tuple[list[Detection], int]:
    """Every detection in a mono source (no selection), and the number of images."""
    found: list[Detection] = []
    n = 0
    for name, image in _progress(source, _length(source), "detecting", progress):
        n += 1
        det = detect_board(image, board, source=name)
        if det is not None:
            found.append(det)
    return found, n


def detect_all_pairs(
    source: Iterable[tuple[str, npt.NDArray[np.generic], npt.NDArray[np.generic]]],
    board: BoardSpec,
    *,
    progress: bool = True,
) -> tuple[list[tuple[Detection, Detection]], int]:
    """Every pair with the board in both images (no selection), and the number of pairs."""
    found: list[tuple[Detection, Detection]] = []
    n = 0
    for name, left, right in _progress(source, _length(source), "detecting", progress):
        n += 1
        det_l = detect_board(left, board, source=f"{name} left")
        det_r = detect_board(right, board, source=f"{name} right")
        if det_l is not None and det_r is not None:
            found.append((det_l, det_r))
    return found, n
