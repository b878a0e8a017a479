"""nav2 map_server map files: a YAML beside a PGM/PNG image, saved and loaded as nav2 does.

The rules are those of ``nav2_map_server/src/map_io.cpp``. Saving follows map_saver, which
is the same on the Humble and main branches: trinary writes 0 (occupied, cell >=
rint(occupied_thresh * 100)), 254 (free, cell <= rint(free_thresh * 100)) and 205 (unknown
or in between); scale writes grey (100 - v) / 100 with alpha 0 for unknown cells (a PNG);
raw writes the cell value and 255 for unknown. Image row 0 is the top of the map (highest
y), grid row 0 its bottom. The YAML has map_saver's keys in map_saver's order.

Loading offers both nav2 versions, because they disagree (``rules``):

============================  ================================  ==============================
                              ``"humble"`` (the default:         ``"main"`` (Eigen rewrite,
                              what Jetsons on JetPack 6 run)     2025-2026)
============================  ================================  ==============================
thresholds                    strict: occ > occupied_thresh,     inclusive: occ >= occupied,
                              occ < free_thresh                  occ <= free (float32)
grey of an RGB pixel          mean of R, G, B                    Rec.601 luma (GraphicsMagick)
alpha in trinary mode         averaged in with R, G, B           alpha < 255 -> unknown
scale-mode rounding           rint (half to even, float64)       round (half away, float32)
============================  ================================  ==============================

A pixel exactly at a threshold is unknown under Humble and occupied/free under main.

A trinary map saved with nav2's default ``free_thresh`` 0.25 reloads its unknown cells
(205: occ = 50/255 = 0.196) as free under both rule sets; the default here is ROS 1's and
nav2_bringup's 0.196, which keeps them unknown (``save_map`` warns about settings that
do not survive the round trip).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
import yaml
from scipy.spatial.transform import Rotation

from percept.domain import Header, OccupancyGrid
from percept.errors import ConfigError
from percept.geometry import Pose

__all__ = [
    "DEFAULT_FREE_THRESH",
    "DEFAULT_OCCUPIED_THRESH",
    "FREE_PIXEL",
    "MODES",
    "OCCUPIED_PIXEL",
    "RULES",
    "UNKNOWN_PIXEL",
    "MapFileError",
    "MapMetadata",
    "image_from_occupancy",
    "load_map",
    "occupancy_from_image",
    "read_map_yaml",
    "render_map",
    "save_map",
]

logger = logging.getLogger(__name__)

MapMode = Literal["trinary", "scale", "raw"]
Rules = Literal["humble", "main"]

#: map modes of nav2 (``map_mode.cpp``), the YAML's ``mode``.
MODES: tuple[str, ...] = ("trinary", "scale", "raw")
#: nav2 versions whose loading rules ``load_map`` follows.
RULES: tuple[str, ...] = ("humble", "main")
#: trinary pixel values map_saver writes.
OCCUPIED_PIXEL, FREE_PIXEL, UNKNOWN_PIXEL = 0, 254, 205
#: map_saver's default occupied threshold.
DEFAULT_OCCUPIED_THRESH = 0.65
#: free threshold written by default: ROS 1 map_saver's (and nav2_bringup's maps'), below
#: 205's occ 50/255 = 0.19608, so unknown cells stay unknown on reload (nav2's saver
#: writes 0.25, which turns them free).
DEFAULT_FREE_THRESH = 0.196

_REQUIRED = ("image", "resolution", "origin", "occupied_thresh", "free_thresh", "negate")
_MAX_Q = 65535.0  # GraphicsMagick Q16 MaxRGB: nav2 sees 8-bit pixel p as quantum 257 p


class MapFileError(ConfigError):
    """A map YAML or its image is missing, malformed or unreadable (names file and key)."""


@dataclass(frozen=True, slots=True)
class MapMetadata:
    """A nav2 map YAML, checked.

    Attributes:
        image_path: the image, resolved against the YAML's folder when relative.
        resolution_m: cell edge, metres.
        origin_x_m: x of the lower-left pixel's outer corner in the map frame, metres.
        origin_y_m: y of that corner, metres.
        origin_yaw_rad: rotation of the map about z, rad.
        mode: ``trinary``, ``scale`` or ``raw``.
        negate: True when white means occupied.
        occupied_thresh: occupancy above which a pixel is occupied, 0..1.
        free_thresh: occupancy below which a pixel is free, 0..1.
    """

    image_path: Path
    resolution_m: float
    origin_x_m: float
    origin_y_m: float
    origin_yaw_rad: float
    mode: str
    negate: bool
    occupied_thresh: float
    free_thresh: float


def _number(doc: dict[str, object], key: str, where: Path) -> float:
    value = doc[key]
    if isinstance(value, str):  # yaml-cpp reads any scalar that parses: '1e-3', "0.5"
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{where}: {key} must be a number, got {value!r}"
        raise MapFileError(msg)
    return float(value)


def read_map_yaml(yaml_path: Path | str) -> MapMetadata:
    """Read and check a nav2 map YAML as ``loadMapYaml`` does.

    Required keys: ``image``, ``resolution``, ``origin`` ([x, y, yaw]), ``occupied_thresh``,
    ``free_thresh`` and ``negate`` (an int or a bool: nav2 reads it with no default and
    refuses a file without it). Optional: ``mode`` (``trinary`` when absent; any case).
    A path starting with ``~/`` is expanded as nav2 does.

    Raises:
        MapFileError: unreadable file, not a mapping, a key missing or of the wrong type
            (the message names the file and the key).
    """
    path = Path(yaml_path).expanduser()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        msg = f"{path}: cannot read map YAML: {err}"
        raise MapFileError(msg) from err
    except yaml.YAMLError as err:
        msg = f"{path}: not valid YAML: {err}"
        raise MapFileError(msg) from err
    if not isinstance(doc, dict):
        msg = f"{path}: expected a mapping of map keys, got {type(doc).__name__}"
        raise MapFileError(msg)
    missing = [k for k in _REQUIRED if k not in doc]
    if missing:
        msg = f"{path}: missing key {', '.join(missing)} (nav2 requires {', '.join(_REQUIRED)})"
        raise MapFileError(msg)
    image = doc["image"]
    if not isinstance(image, str) or not image:
        msg = f"{path}: image must be a non-empty file name, got {image!r}"
        raise MapFileError(msg)
    resolution = _number(doc, "resolution", path)
    if not (math.isfinite(resolution) and resolution > 0.0):
        msg = f"{path}: resolution must be finite and > 0, got {resolution}"
        raise MapFileError(msg)
    origin = doc["origin"]
    if not isinstance(origin, list) or len(origin) != 3:
        got = f"{len(origin)} elements" if isinstance(origin, list) else repr(origin)
        msg = f"{path}: origin must have 3 elements [x, y, yaw], got {got}"
        raise MapFileError(msg)
    ox, oy, yaw = (_number({"origin": v}, "origin", path) for v in origin)
    mode = doc.get("mode", "trinary")
    if not isinstance(mode, str) or mode.lower() not in MODES:
        msg = f"{path}: mode must be one of {', '.join(MODES)}, got {mode!r}"
        raise MapFileError(msg)
    negate = doc["negate"]
    if not isinstance(negate, int):  # bool is an int: nav2 tries int, then bool
        msg = f"{path}: negate must be an int or a bool, got {negate!r}"
        raise MapFileError(msg)
    image_path = Path(image) if image.startswith("/") else path.parent / image
    return MapMetadata(
        image_path=image_path,
        resolution_m=resolution,
        origin_x_m=ox,
        origin_y_m=oy,
        origin_yaw_rad=yaw,
        mode=mode.lower(),
        negate=bool(negate),
        occupied_thresh=_number(doc, "occupied_thresh", path),
        free_thresh=_number(doc, "free_thresh", path),
    )


def _check_mode(mode: str, choices: tuple[str, ...], what: str) -> None:
    if mode not in choices:
        msg = f"{what} must be one of {', '.join(choices)}, got {mode!r}"
        raise ConfigError(msg)


def _round_half_away(x: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    """``std::round``: halves away from zero (numpy's ``rint`` rounds them to even)."""
    whole = np.trunc(x)
    # x - trunc(x) is exact in floating point, so ties are found exactly (unlike x + 0.5)
    rounded: npt.NDArray[np.floating] = whole + np.sign(x) * (np.abs(x - whole) >= 0.5)
    return rounded


def _quanta(image: npt.NDArray[np.generic]) -> npt.NDArray[np.float64]:
    """Pixels as GraphicsMagick Q16 quanta (0..65535), float64."""
    if image.dtype == np.uint8:
        return image.astype(np.float64) * 257.0
    if image.dtype == np.uint16:
        return image.astype(np.float64)
    msg = f"map image must be uint8 or uint16, got {image.dtype}"
    raise ValueError(msg)


def _split_channels(
    image: npt.NDArray[np.generic],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """(H, W, C) quanta of the colour channels in R, G, B order (C = 1 or 3) and alpha."""
    q = _quanta(image)
    if q.ndim == 3 and q.shape[2] == 1:
        q = q[:, :, 0]
    if q.ndim == 2:
        return q[:, :, None], None
    if q.ndim != 3 or q.shape[2] not in (3, 4):
        msg = f"map image must be (H, W), (H, W, 3) or (H, W, 4), got {image.shape}"
        raise ValueError(msg)
    rgb = q[:, :, 2::-1]  # OpenCV's BGR(A) -> R, G, B
    return rgb, (q[:, :, 3] if q.shape[2] == 4 else None)


def _humble(
    image: npt.NDArray[np.generic], mode: str, negate: bool, occ_th: float, free_th: float
) -> npt.NDArray[np.int8]:
    rgb, alpha = _split_channels(image)
    channels = [rgb[:, :, i] for i in range(rgb.shape[2])]
    if rgb.shape[2] == 1:  # GraphicsMagick gives a grey pixel as R = G = B
        channels *= 3
    if mode == "trinary" and alpha is not None:
        channels.append(alpha)  # "average in alpha with color channels in Trinary mode"
    total = np.zeros_like(channels[0])
    for c in channels:
        total += c
    shade = total / float(len(channels)) / _MAX_Q
    if mode == "raw":
        value = _round_half_away(shade * 255.0)
        return np.where((value >= 0) & (value <= 100), value, -1).astype(np.int8)
    occ = shade if negate else 1.0 - shade
    out = np.full(occ.shape, -1, dtype=np.int8)
    if mode == "scale" and occ_th > free_th:
        between = (occ >= free_th) & (occ <= occ_th)
        scaled = (occ[between] - free_th) / (occ_th - free_th) * 100.0
        out[between] = np.rint(scaled).astype(np.int8)
    out[occ < free_th] = 0
    out[occ_th < occ] = 100  # checked first by nav2: wins if the thresholds cross
    if mode == "scale" and alpha is not None:
        out[alpha != _MAX_Q] = -1
    return out


def _main(
    image: npt.NDArray[np.generic], mode: str, negate: bool, occ_th: float, free_th: float
) -> npt.NDArray[np.int8]:
    rgb, alpha = _split_channels(image)
    if rgb.shape[2] == 1:
        grey_q = rgb[:, :, 0]
    else:
        # GraphicsMagick's Grayscale type: Rec.601 luma on Q16 quanta, rounded (measured
        # with gm 1.3.40 Q16 on 2,000 random RGB pixels: all equal).
        luma = 0.299 * rgb[:, :, 0] + 0.587 * rgb[:, :, 1] + 0.114 * rgb[:, :, 2]
        grey_q = np.floor(luma + 0.5)
    grey = np.floor(grey_q / 257.0)  # export as 8-bit chars, truncating as gm does
    if mode == "raw":
        return np.where(grey <= 100, grey, -1).astype(np.int8)
    normalized = grey.astype(np.float32) / np.float32(255.0)
    if not negate:
        normalized = np.float32(1.0) - normalized
    occ32, free32 = np.float32(occ_th), np.float32(free_th)
    out = np.full(normalized.shape, -1, dtype=np.int8)
    out[normalized >= occ32] = 100
    out[normalized <= free32] = 0
    if mode == "scale" and occ_th > free_th:
        between = (normalized > free32) & (normalized < occ32)
        # Eigen: float array minus the threshold as float, over float(occ - free) in double
        scaled = (normalized[between] - free32) / np.float32(occ_th - free_th) * np.float32(100)
        out[between] = _round_half_away(scaled).astype(np.int8)
    if alpha is not None:
        out[np.floor(alpha / 257.0) < 255] = -1
    return out


def occupancy_from_image(
    image: npt.NDArray[np.generic],
    *,
    mode: str = "trinary",
    negate: bool = False,
    occupied_thresh: float = DEFAULT_OCCUPIED_THRESH,
    free_thresh: float = DEFAULT_FREE_THRESH,
    rules: str = "humble",
) -> npt.NDArray[np.int8]:
    """Occupancy of each pixel of a map image, as nav2's ``loadMapFromFile`` computes it.

    Args:
        image: (H, W) grey, (H, W, 3) bgr8 or (H, W, 4) bgra8, uint8 or uint16, as
            ``cv2.imread(path, cv2.IMREAD_UNCHANGED)`` returns it.
        mode: ``trinary``, ``scale`` or ``raw``.
        negate: white is occupied.
        occupied_thresh: occupancy (0..1) from which a pixel is occupied.
        free_thresh: occupancy (0..1) up to which a pixel is free.
        rules: ``humble`` or ``main`` (see the module docstring for the differences).

    Returns:
        (H, W) int8 in the image's row order (row 0 = top): 0..100, -1 unknown.

    Raises:
        ConfigError: unknown mode or rules.
        ValueError: an image of unsupported shape or dtype.

    >>> img = np.array([[0, 254, 205]], dtype=np.uint8)
    >>> occupancy_from_image(img).tolist()
    [[100, 0, -1]]
    """
    _check_mode(mode, MODES, "mode")
    _check_mode(rules, RULES, "rules")
    fn = _humble if rules == "humble" else _main
    return fn(np.asarray(image), mode, negate, float(occupied_thresh), float(free_thresh))


def image_from_occupancy(
    data: npt.NDArray[np.int8],
    *,
    mode: str = "trinary",
    occupied_thresh: float = DEFAULT_OCCUPIED_THRESH,
    free_thresh: float = DEFAULT_FREE_THRESH,
) -> npt.NDArray[np.uint8]:
    """Pixels map_saver writes for occupancy values (``tryWriteMapToFile``).

    Args:
        data: (H, W) int8 occupancy in the order the image gets it: 0..100, anything else
            unknown.
        mode: ``trinary`` (0 / 254 / 205), ``scale`` (grey floor(255 (100 - v) / 100),
            as GraphicsMagick Q16 writes ``ColorGray((100 - v) / 100)`` at depth 8;
            unknown 127 with alpha 0) or ``raw`` (v; unknown 255).
        occupied_thresh: trinary: cells >= rint(100 occupied_thresh) are occupied.
        free_thresh: trinary: cells <= rint(100 free_thresh) are free (checked first).

    Returns:
        (H, W) uint8 grey for trinary and raw; (H, W, 4) uint8 bgra8 for scale.

    Raises:
        ConfigError: unknown mode.

    >>> image_from_occupancy(np.array([[0, 50, 100, -1]], dtype=np.int8)).tolist()
    [[254, 205, 0, 205]]
    """
    _check_mode(mode, MODES, "mode")
    v = np.asarray(data).astype(np.int16)
    unknown = (v < 0) | (v > 100)
    if mode == "trinary":
        free = v <= int(np.rint(free_thresh * 100.0))
        occupied = v >= int(np.rint(occupied_thresh * 100.0))
        out = np.full(v.shape, UNKNOWN_PIXEL, dtype=np.uint8)
        out[occupied & ~unknown] = OCCUPIED_PIXEL
        out[free & ~unknown] = FREE_PIXEL
        return out
    if mode == "raw":
        return np.where(unknown, 255, v).astype(np.uint8)
    grey = np.where(unknown, 127, (100 - v) * 255 // 100).astype(np.uint8)
    alpha = np.where(unknown, 0, 255).astype(np.uint8)
    return np.stack([grey, grey, grey, alpha], axis=-1)


def _check_thresholds(occupied_thresh: float, free_thresh: float) -> None:
    # map_saver's checkSaveParameters, without its "0.0 means default" substitution
    if not 0.0 <= free_thresh < occupied_thresh <= 1.0:
        msg = (
            "thresholds must satisfy 0 <= free_thresh < occupied_thresh <= 1, got "
            f"free_thresh {free_thresh}, occupied_thresh {occupied_thresh}"
        )
        raise ConfigError(msg)


def _trinary_survives(occupied_thresh: float, free_thresh: float) -> list[str]:
    """Which of nav2's rule sets would read map_saver's 0 / 254 / 205 back as written."""
    pixels = np.array([[OCCUPIED_PIXEL, FREE_PIXEL, UNKNOWN_PIXEL]], dtype=np.uint8)
    broken = []
    for rules in RULES:
        got = occupancy_from_image(
            pixels, occupied_thresh=occupied_thresh, free_thresh=free_thresh, rules=rules
        )
        if got.tolist() != [[100, 0, -1]]:
            broken.append(f"{rules} reads 0/254/205 as {got.tolist()[0]}")
    return broken


def _yaw_rad(pose: Pose) -> float:
    q = np.asarray(pose.quat_xyzw, dtype=np.float64)
    if not np.all(np.isfinite(q)) or np.linalg.norm(q) == 0.0:
        msg = f"map origin quaternion must be finite and non-zero, got {q.tolist()}"
        raise ConfigError(msg)
    return float(Rotation.from_quat(q).as_euler("ZYX")[0])


def _yaml_float(value: float, *, float32: bool = False) -> str:
    """Shortest text that reads back to ``value`` (float32 for message fields).

    Always positional with a dot, so YAML 1.1 readers see a float (``1e-05`` is a string
    to PyYAML).
    """
    number = np.float32(value) if float32 else np.float64(value)
    return np.format_float_positional(number, unique=True, trim="0")


def save_map(
    grid: OccupancyGrid,
    yaml_path: Path | str,
    *,
    mode: str = "trinary",
    occupied_thresh: float = DEFAULT_OCCUPIED_THRESH,
    free_thresh: float = DEFAULT_FREE_THRESH,
    image_format: str | None = None,
) -> Path:
    """Write ``grid`` as nav2's map_saver does: an image and a YAML beside it.

    The image is ``yaml_path`` with the format's suffix (``map.yaml`` -> ``map.pgm``) and
    the YAML names it relatively. Rows are flipped (image top = highest y); the origin
    keeps x, y and the yaw of ``grid.origin`` (z, roll and pitch are dropped, as nav2
    does). Settings with which nav2 would not read a trinary map back as written (e.g.
    ``free_thresh`` 0.25 turns unknown cells free) are logged as a warning.

    Args:
        grid: the map; ``data`` (H, W) int8, row 0 at the origin.
        yaml_path: where the YAML goes; its folder is created.
        mode: ``trinary``, ``scale`` or ``raw``.
        occupied_thresh: written to the YAML; trinary: cells >= 100 x it are black.
        free_thresh: written to the YAML; trinary: cells <= 100 x it are white.
        image_format: ``pgm`` or ``png``; None: ``png`` for scale (it needs the alpha
            channel), else ``pgm`` (map_saver's defaults).

    Returns:
        The YAML's path.

    Raises:
        ConfigError: bad mode, format or thresholds (scale in a PGM loses unknown cells).
        MapFileError: a file cannot be written.
    """
    _check_mode(mode, MODES, "mode")
    _check_thresholds(occupied_thresh, free_thresh)
    fmt = (image_format or ("png" if mode == "scale" else "pgm")).lower()
    _check_mode(fmt, ("pgm", "png"), "image_format")
    if mode == "scale" and fmt == "pgm":
        msg = "mode scale needs image_format png: a PGM has no alpha for unknown cells"
        raise ConfigError(msg)
    data = np.asarray(grid.data)
    if data.ndim != 2 or data.dtype != np.int8:
        msg = f"OccupancyGrid.data must be (H, W) int8, got {data.shape} {data.dtype}"
        raise ConfigError(msg)
    if mode == "trinary":
        for problem in _trinary_survives(occupied_thresh, free_thresh):
            logger.warning(
                "occupied_thresh %s, free_thresh %s: nav2 %s", occupied_thresh, free_thresh, problem
            )
    yaw = _yaw_rad(grid.origin)
    path = Path(yaml_path)
    image_path = path.with_suffix(f".{fmt}")
    pixels = image_from_occupancy(
        data[::-1], mode=mode, occupied_thresh=occupied_thresh, free_thresh=free_thresh
    )
    x, y = (float(v) for v in np.asarray(grid.origin.translation_m)[:2])
    text = (
        f"image: {image_path.name}\n"
        f"mode: {mode}\n"
        f"resolution: {_yaml_float(grid.resolution_m, float32=True)}\n"
        f"origin: [{_yaml_float(x)}, {_yaml_float(y)}, {_yaml_float(yaw)}]\n"
        "negate: 0\n"
        f"occupied_thresh: {_yaml_float(occupied_thresh)}\n"
        f"free_thresh: {_yaml_float(free_thresh)}\n"
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(image_path), np.ascontiguousarray(pixels)):
            msg = f"{image_path}: OpenCV could not write the map image"
            raise MapFileError(msg)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        msg = f"{path}: cannot write map: {err}"
        raise MapFileError(msg) from err
    return path


def load_map(yaml_path: Path | str, *, rules: str = "humble", stamp_ns: int = 0) -> OccupancyGrid:
    """Load a nav2 map (YAML + image) as nav2's map_server would publish it.

    Threshold comparisons follow ``rules``: ``humble`` (the default; strict ``>`` /
    ``<``, what ROS 2 Humble on the Jetsons runs) or ``main`` (inclusive ``>=`` / ``<=``,
    transparent pixels unknown); see the module docstring for every difference.

    Args:
        yaml_path: the map's YAML.
        rules: ``humble`` or ``main``.
        stamp_ns: header stamp and ``map_load_time_ns`` (nav2 uses the load time).

    Returns:
        OccupancyGrid in frame ``map``, ``data`` (H, W) int8 with row 0 at the origin, the
        origin's yaw as a rotation about z.

    Raises:
        MapFileError: the YAML or the image is missing or malformed.
        ConfigError: unknown rules.
    """
    _check_mode(rules, RULES, "rules")
    meta = read_map_yaml(yaml_path)
    image = cv2.imread(str(meta.image_path), cv2.IMREAD_UNCHANGED)
    if image is None:
        msg = f"{yaml_path}: image {meta.image_path}: missing or not an image OpenCV reads"
        raise MapFileError(msg)
    try:
        occupancy = occupancy_from_image(
            image,
            mode=meta.mode,
            negate=meta.negate,
            occupied_thresh=meta.occupied_thresh,
            free_thresh=meta.free_thresh,
            rules=rules,
        )
    except ValueError as err:
        msg = f"{yaml_path}: image {meta.image_path}: {err}"
        raise MapFileError(msg) from err
    quat_xyzw = Rotation.from_euler("z", meta.origin_yaw_rad).as_quat()
    origin = Pose(np.array([meta.origin_x_m, meta.origin_y_m, 0.0]), quat_xyzw)
    return OccupancyGrid(
        header=Header(stamp_ns, "map"),
        resolution_m=meta.resolution_m,
        origin=origin,
        data=np.ascontiguousarray(occupancy[::-1]),
        map_load_time_ns=stamp_ns,
    )


def render_map(grid: OccupancyGrid, *, min_size_px: int = 600) -> npt.NDArray[np.uint8]:
    """A picture of ``grid`` for people: north up, free white, occupied black.

    Known cells are grey ``255 (100 - v) / 100``; unknown cells light blue-grey; cells are
    enlarged by a whole factor (nearest neighbour) until the longer side reaches
    ``min_size_px``.

    Returns:
        (H', W', 3) uint8 bgr8.
    """
    data = np.asarray(grid.data)[::-1].astype(np.int16)
    known = (data >= 0) & (data <= 100)
    grey = np.where(known, (100 - data) * 255 // 100, 0).astype(np.uint8)
    picture = np.repeat(grey[:, :, None], 3, axis=2)
    picture[~known] = (205, 190, 175)  # bgr8: unknown stands apart from any grey level
    longest = max(data.shape) if data.size else 1
    scale = max(1, math.ceil(min_size_px / longest))
    return np.repeat(np.repeat(picture, scale, axis=0), scale, axis=1)
