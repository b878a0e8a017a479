"""CalibrationNode: collects board views from image topics and writes a calibration.

The node-side of ``percept calibrate``, like ROS cameracalibrator without the GUI: every
image is searched for the board, new views are kept (same selection as the CLI), and
the progress (views, coverage of x, y, size and skew) is on /diagnostics. The operator
triggers the solve and the write from the command line with a parameter::

    ros2 param set /calibration write true

The set is refused with the reason (too few views, degenerate coverage...) when the
calibration fails, so the reason shows in the ``ros2 param set`` reply; on success the
YAML files, the report and the JSON summary are in ``output_dir``. ``reset`` true
forgets the collected views.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from percept.calib.board import BoardSpec, parse_board
from percept.calib.session import MonoSession, SelectionConfig, StereoSession
from percept.calib.solve import CalibrationConfig, model_name
from percept.domain import Image
from percept.errors import CodecError, ConfigError, InputRejected, PerceptError
from percept.image import convert_image
from percept.msgtypes import IMAGE
from percept.node import SENSOR_DATA, Input, Node, Parameter, ParamValue, Sync

__all__ = ["CalibrationNode"]

# Changing these starts a new collection (the kept views no longer apply).
_RESET_KEYS = {"board", "min_distance", "max_speed_px", "max_views"}


def _mono8(image: Image) -> npt.NDArray[np.generic]:
    """The image as mono8 / mono16 for detection (Bayer and colour converted)."""
    if image.data.ndim == 2 and not image.encoding.startswith("bayer_"):
        return image.data
    try:
        return convert_image(image, "mono8").data
    except CodecError as err:
        msg = f"cannot convert {image.encoding} to mono8: {err}"
        raise InputRejected(msg) from err


class CalibrationNode(Node):
    """Collects calibration views from a camera (mono) or a stereo pair, writes on request.

    Mono mode subscribes to ``image``; stereo mode to ``left`` and ``right`` (the topics
    of cameracalibrator), paired by the ApproximateTime policy. Images of the other mode
    are refused and counted.
    """

    NAME = "calibration"
    DESCRIPTION = "collects board views from image topics; writes camera_info YAML on request"
    INPUTS: ClassVar[tuple[Input, ...]] = (
        Input("image", "image", IMAGE, SENSOR_DATA, "mono mode: camera images"),
        Input("left", "left", IMAGE, SENSOR_DATA, "stereo mode: left images"),
        Input("right", "right", IMAGE, SENSOR_DATA, "stereo mode: right images"),
    )
    SYNCS: ClassVar[tuple[Sync, ...]] = (
        Sync(
            ("left", "right"),
            "on_stereo",
            approximate=True,
            slop_s=0.01,
            queue_size=5,
            slop_param="approximate_sync_tolerance_seconds",
            queue_size_param="queue_size",
        ),
    )
    PARAMETERS: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            "mode",
            "string",
            "mono",
            "mono (image) or stereo (left, right)",
            choices=("mono", "stereo"),
            read_only=True,
        ),
        Parameter(
            "board",
            "string",
            "chessboard:8x6:0.108",
            "chessboard:COLSxROWS:SQUARE_M (inner corners) or "
            "charuco:COLSxROWS:SQUARE_M:MARKER_M:DICT (squares)",
        ),
        Parameter(
            "model",
            "string",
            "plumb_bob",
            "distortion model to fit",
            choices=("plumb_bob", "rational_polynomial", "fisheye"),
        ),
        Parameter("camera_name", "string", "camera", "mono: camera_name and file name"),
        Parameter("left_camera_name", "string", "left", "stereo: left camera_name and file name"),
        Parameter(
            "right_camera_name", "string", "right", "stereo: right camera_name and file name"
        ),
        Parameter("output_dir", "string", "/tmp/percept_calibration", "folder the results go to"),
        Parameter("write", "bool", False, "set true to calibrate and write the result"),
        Parameter("reset", "bool", False, "set true to forget the collected views"),
        Parameter(
            "min_views",
            "integer",
            6,
            "fewer views refuses to calibrate",
            min_value=3,
            max_value=1000,
        ),
        Parameter(
            "min_distance",
            "double",
            0.2,
            "view selection: L1 distance in (x, y, size, skew) to every kept view",
            min_value=0.0,
            max_value=4.0,
        ),
        Parameter(
            "max_views",
            "integer",
            0,
            "stop collecting after this many (0: none)",
            min_value=0,
            max_value=10000,
        ),
        Parameter(
            "max_speed_px",
            "double",
            0.0,
            "drop boards moving more than this many pixels per frame (0: off)",
            min_value=0.0,
            max_value=10000.0,
        ),
        Parameter("fix_k3", "bool", False, "plumb_bob: keep k3 at 0"),
        Parameter(
            "alpha",
            "double",
            0.0,
            "rectified image scaling, 0 (valid) .. 1 (all)",
            min_value=0.0,
            max_value=1.0,
        ),
        Parameter(
            "approximate_sync_tolerance_seconds",
            "double",
            0.01,
            "stereo: largest left/right stamp spread of a pair, seconds",
            min_value=0.0,
            max_value=1.0,
        ),
        Parameter(
            "queue_size",
            "integer",
            5,
            "stereo: images kept waiting for a partner",
            min_value=1,
            max_value=1000,
        ),
    )

    def setup(self) -> None:
        """Parse the board and start an empty collection."""
        try:
            self.board: BoardSpec = parse_board(self.param_str("board"))
        except PerceptError as err:
            msg = f"calibration.board: {err}"
            raise ConfigError(msg) from err
        selection = SelectionConfig(
            min_distance=self.param_float("min_distance"),
            max_views=self.param_int("max_views"),
            max_speed_px=self.param_float("max_speed_px"),
        )
        topic = "left+right" if self.stereo else "image"
        self.mono = MonoSession(self.board, selection, source=topic)
        self.stereo_session = StereoSession(self.board, selection, source=topic)
        self.last_written = ""
        self.last_rms = float("nan")
        self.last_error = ""

    @property
    def stereo(self) -> bool:
        """True in stereo mode."""
        return self.param_str("mode") == "stereo"

    # -- inputs ---------------------------------------------------------------------------
    def on_image(self, image: Image) -> None:
        """Mono mode: search one image for the board."""
        if self.stereo:
            msg = "node is in stereo mode; images on 'image' are ignored (use left/right)"
            raise InputRejected(msg)
        self.mono.add(_mono8(image), f"image@{image.header.stamp_ns}")

    def on_stereo(self, left: Image, right: Image) -> None:
        """Stereo mode: search a synchronised pair for the board."""
        if not self.stereo:
            msg = "node is in mono mode; left/right pairs are ignored (set mode: stereo)"
            raise InputRejected(msg)
        if (left.width, left.height) != (right.width, right.height):
            msg = f"left is {left.width}x{left.height} but right is {right.width}x{right.height}"
            raise InputRejected(msg)
        self.stereo_session.add(_mono8(left), _mono8(right), f"stereo@{left.header.stamp_ns}")

    # -- trigger --------------------------------------------------------------------------
    def _config(self, params: Mapping[str, ParamValue]) -> CalibrationConfig:
        min_views, alpha = params["min_views"], params["alpha"]
        if not isinstance(min_views, int) or not isinstance(alpha, int | float):
            msg = f"min_views must be integer and alpha double, got {min_views!r}, {alpha!r}"
            raise ConfigError(msg)
        return CalibrationConfig(
            model=model_name(str(params["model"])),
            fix_k3=bool(params["fix_k3"]),
            min_views=min_views,
            alpha=float(alpha),
        )

    def write_calibration(self, params: Mapping[str, ParamValue] | None = None) -> list[Path]:
        """Calibrate from the collected views and write the result to ``output_dir``.

        Raises:
            PerceptError: the calibration fails (too few views, degenerate coverage) or
                the files cannot be written.
        """
        p = dict(self.params if params is None else params)
        config = self._config(p)
        out = Path(str(p["output_dir"]))
        started = time.monotonic()
        if self.stereo:
            stereo = self.stereo_session.calibrate(config)
            files = self.stereo_session.write(
                out, stereo, str(p["left_camera_name"]), str(p["right_camera_name"])
            )
            self.last_rms = stereo.rms_px
        else:
            mono = self.mono.calibrate(config)
            files = self.mono.write(out, mono, str(p["camera_name"]))
            self.last_rms = mono.rms_px
        self.last_written = str(files[0].parent)
        self.ctx.logger.info(
            "calibration written to %s (RMS %.3f px, %.1f s)",
            self.last_written,
            self.last_rms,
            time.monotonic() - started,
        )
        return files

    def on_parameters(self, changed: Mapping[str, ParamValue]) -> str | None:
        """``write`` true calibrates and writes; ``reset`` true forgets the views.

        Other changes are stored; board and selection changes start a new collection.
        """
        merged = {**self.params, **changed}
        if changed.get("write") is True:
            try:
                self.write_calibration(merged)
            except (PerceptError, ValueError) as err:
                self.last_error = str(err)
                return f"calibration not written: {err}"
            self.last_error = ""
        if _RESET_KEYS & set(changed) or changed.get("reset") is True:
            try:
                parse_board(str(merged["board"]))
            except PerceptError as err:
                return str(err)
            self.params.update(changed)
            self.params["write"] = False
            self.params["reset"] = False
            self.setup()
            return None
        self.params.update(changed)
        # Triggers are edges: the next "set true" must fire again.
        self.params["write"] = False
        self.params["reset"] = False
        return None

    # -- diagnostics ----------------------------------------------------------------------
    def diagnostic_values(self) -> list[tuple[str, str]]:
        """Views, coverage and the last result, for /diagnostics."""
        if self.stereo:
            session_images = self.stereo_session.n_pairs
            with_board = self.stereo_session.n_both
            coverage = self.stereo_session.coverage()
            verdict = self.stereo_session.last_verdict
        else:
            session_images = self.mono.n_images
            with_board = self.mono.n_detected
            coverage = self.mono.coverage()
            verdict = self.mono.last_verdict
        values = [
            ("mode", self.param_str("mode")),
            ("board", str(self.board)),
            ("images", str(session_images)),
            ("images_with_board", str(with_board)),
            ("views", str(coverage.n_views)),
            ("good_enough", str(coverage.good_enough).lower()),
            ("last_view", verdict.reason),
        ]
        values += [(f"coverage_{p.name}", f"{p.progress * 100:.0f}%") for p in coverage.params]
        if self.last_written:
            values += [("written_to", self.last_written), ("rms_px", f"{self.last_rms:.3f}")]
        if self.last_error:
            values.append(("last_error", self.last_error))
        return values
