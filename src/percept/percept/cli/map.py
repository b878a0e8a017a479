"""``percept map``: ``save`` a bag's last OccupancyGrid as nav2 map files; ``show`` a map file."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from percept.cli.common import add_command

if TYPE_CHECKING:
    from percept.domain import OccupancyGrid

__all__ = [
    "SavedMap",
    "add_parser",
    "find_grid_topic",
    "last_grid",
    "run_save",
    "run_show",
    "save_bag_map",
]

logger = logging.getLogger(__name__)

# percept.mapping.map_io's MODES, RULES and default thresholds, spelt out so that
# `percept --help` does not import OpenCV and SciPy (a test keeps them equal).
MODES = ("trinary", "scale", "raw")
RULES = ("humble", "main")
DEFAULT_OCCUPIED_THRESH = 0.65
DEFAULT_FREE_THRESH = 0.196

SAVE_EPILOG = """examples:
  percept map save out/run.mcap --out maps/lab
  percept map save out/run.mcap --out maps/lab --topic /ground_truth/map --name truth
  percept map save robot1.mcap --out maps/r1 --mode scale          # map.png with alpha

Takes the last nav_msgs/OccupancyGrid of --topic (a namespaced /robot1/map is found by
its last name when it is the bag's only grid topic of that name) and writes DIR/NAME.yaml
beside DIR/NAME.pgm (NAME.png for scale) by nav2 map_saver's rules, ready for
`ros2 run nav2_map_server map_server --ros-args -p yaml_filename:=DIR/NAME.yaml`.
The default free threshold is 0.196 (not map_saver's 0.25, which reloads unknown cells
as free).
"""

SHOW_EPILOG = """examples:
  percept map show maps/lab/map.yaml --out maps/lab/map_view.png
  percept map show maps/lab/map.yaml --out view.png --rules main

Loads the map as nav2 would (Humble's thresholds by default) and draws it north up:
free white, occupied black, grey in between, unknown blue-grey.
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    p = subparsers.add_parser(
        "map",
        help="nav2 map files: save a bag's map, show a map file",
        description="Write and view nav2 map_server map files (YAML + PGM/PNG).",
    )
    sub = p.add_subparsers(dest="map_command", metavar="ACTION", required=True)
    save = add_command(
        sub,
        "save",
        "write a bag's last OccupancyGrid as nav2 map files",
        epilog=SAVE_EPILOG,
        description="Save the last nav_msgs/OccupancyGrid of a bag topic as a nav2 map.",
    )
    save.add_argument("bag", type=Path, help="bag with a nav_msgs/OccupancyGrid topic")
    save.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    save.add_argument("--topic", default="/map", help="OccupancyGrid topic (/map)")
    save.add_argument("--mode", choices=MODES, default="trinary", help="map mode (trinary)")
    save.add_argument("--name", default="map", help="file name stem (map)")
    save.add_argument(
        "--occupied-thresh",
        type=float,
        default=DEFAULT_OCCUPIED_THRESH,
        metavar="P",
        help=f"occupancy from which a cell is occupied ({DEFAULT_OCCUPIED_THRESH})",
    )
    save.add_argument(
        "--free-thresh",
        type=float,
        default=DEFAULT_FREE_THRESH,
        metavar="P",
        help=f"occupancy up to which a cell is free ({DEFAULT_FREE_THRESH})",
    )
    save.set_defaults(run=run_save)
    show = add_command(sub, "show", "render a nav2 map file as a picture", epilog=SHOW_EPILOG)
    show.add_argument("map_yaml", type=Path, metavar="MAP.yaml", help="nav2 map YAML")
    show.add_argument("--out", type=Path, required=True, metavar="PNG", help="picture to write")
    show.add_argument(
        "--rules", choices=RULES, default="humble", help="nav2 version's loading rules (humble)"
    )
    show.set_defaults(run=run_show)


@dataclass(frozen=True, slots=True)
class SavedMap:
    """What ``percept map save`` wrote.

    Attributes:
        yaml_path: the map YAML.
        image_path: the image beside it.
        topic: the bag topic the grid came from.
        stamp_ns: the grid's header stamp.
        width: columns (cells along x).
        height: rows (cells along y).
        resolution_m: cell edge, metres.
        known_fraction: share of cells with a value in 0..100 (not unknown).
    """

    yaml_path: Path
    image_path: Path
    topic: str
    stamp_ns: int
    width: int
    height: int
    resolution_m: float
    known_fraction: float


def find_grid_topic(topics: dict[str, str], wanted: str, where: Path) -> str:
    """The OccupancyGrid topic of a bag matching ``wanted``.

    ``wanted`` itself when the bag has it as an OccupancyGrid; otherwise the one grid
    topic whose name ends with it after a namespace (``/robot1/map`` for ``/map``;
    ``/ground_truth/...`` only when asked for by that prefix).

    Raises:
        BagError: no such grid topic, several, or ``wanted`` of another type (the message
            lists the bag's OccupancyGrid topics).
    """
    from percept import msgtypes
    from percept.errors import BagError

    grids = sorted(t for t, ty in topics.items() if ty == msgtypes.OCCUPANCY_GRID)
    if wanted in grids:
        return wanted
    tail = "/" + wanted.strip("/")
    truth = wanted.startswith("/ground_truth/")
    found = [t for t in grids if t.endswith(tail) and (truth or not t.startswith("/ground_truth/"))]
    if len(found) == 1:
        return found[0]
    have = ", ".join(grids) or "none"
    if found:
        msg = (
            f"{where}: several OccupancyGrid topics end with {tail}: {have}; pick one with --topic"
        )
    elif wanted in topics:
        msg = f"{where}: {wanted} is {topics[wanted]}, not {msgtypes.OCCUPANCY_GRID}; grids: {have}"
    else:
        msg = f"{where}: no {msgtypes.OCCUPANCY_GRID} topic {wanted}; its grid topics: {have}"
    raise BagError(msg)


def last_grid(bag: Path, topic: str = "/map") -> tuple[str, OccupancyGrid]:
    """The last decodable OccupancyGrid (in receive order) of a bag topic.

    Returns:
        (the topic found, see :func:`find_grid_topic`; the grid).

    Raises:
        BagError: the bag cannot be read, has no such topic, or none of its messages decode.
    """
    from percept import codecs
    from percept.domain import OccupancyGrid
    from percept.errors import BagError, CodecError
    from percept.io.bag import BagReader
    from percept.io.typestore import get_typestore

    store = get_typestore()
    with BagReader(bag) as reader:
        found = find_grid_topic(reader.topics(), topic, bag)
        grid: OccupancyGrid | None = None
        bad = total = 0
        for m in reader.messages([found]):
            total += 1
            try:
                msg = m.msg if m.raw is None else store.deserialize_cdr(m.raw, m.msgtype)
                decoded = codecs.decode(m.msgtype, msg)
            except (CodecError, ValueError, KeyError) as err:
                bad += 1
                logger.debug("%s: %s message %d undecodable: %s", bag, found, total, err)
                continue
            if isinstance(decoded, OccupancyGrid):
                grid = decoded
    if bad:
        logger.warning("%s: %d of %d %s messages undecodable, skipped", bag, bad, total, found)
    if grid is None:
        msg = f"{bag}: {found}: no decodable OccupancyGrid among {total} messages"
        raise BagError(msg)
    return found, grid


def save_bag_map(
    bag: Path,
    out_dir: Path,
    *,
    topic: str = "/map",
    mode: str = "trinary",
    name: str = "map",
    occupied_thresh: float | None = None,
    free_thresh: float | None = None,
) -> SavedMap:
    """Write a bag's last OccupancyGrid as nav2 map files ``out_dir/name.{yaml,pgm|png}``.

    Raises:
        BagError: no grid to save (see :func:`last_grid`).
        ConfigError: bad mode or thresholds; MapFileError when a file cannot be written.
    """
    import numpy as np

    from percept.mapping.map_io import save_map

    found, grid = last_grid(bag, topic)
    yaml_path = save_map(
        grid,
        out_dir / f"{name}.yaml",
        mode=mode,
        occupied_thresh=DEFAULT_OCCUPIED_THRESH if occupied_thresh is None else occupied_thresh,
        free_thresh=DEFAULT_FREE_THRESH if free_thresh is None else free_thresh,
    )
    data = np.asarray(grid.data)
    known = float(np.count_nonzero((data >= 0) & (data <= 100))) / max(data.size, 1)
    height, width = data.shape
    return SavedMap(
        yaml_path=yaml_path,
        image_path=yaml_path.with_suffix(".png" if mode == "scale" else ".pgm"),
        topic=found,
        stamp_ns=grid.header.stamp_ns,
        width=width,
        height=height,
        resolution_m=float(grid.resolution_m),
        known_fraction=known,
    )


def run_save(args: argparse.Namespace) -> int:
    """Execute ``percept map save``."""
    saved = save_bag_map(
        args.bag,
        args.out,
        topic=args.topic,
        mode=args.mode,
        name=args.name,
        occupied_thresh=args.occupied_thresh,
        free_thresh=args.free_thresh,
    )
    logger.info(
        "wrote %s + %s: %d x %d cells at %.4g m (%.1f x %.1f m), %.1f %% known, from %s at %.3f s",
        saved.yaml_path,
        saved.image_path.name,
        saved.width,
        saved.height,
        saved.resolution_m,
        saved.width * saved.resolution_m,
        saved.height * saved.resolution_m,
        100.0 * saved.known_fraction,
        saved.topic,
        saved.stamp_ns * 1e-9,
    )
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Execute ``percept map show``."""
    import cv2

    from percept.mapping.map_io import MapFileError, load_map, render_map

    grid = load_map(args.map_yaml, rules=args.rules)
    picture = render_map(grid)
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), picture):
        msg = f"{out}: OpenCV could not write the picture (use a .png name)"
        raise MapFileError(msg)
    height, width = grid.data.shape
    logger.info("wrote %s: %d x %d cells drawn at %d x %d px", out, width, height,
                picture.shape[1], picture.shape[0])  # fmt: skip
    return 0
