"""Settings of occupancy mapping: OctoMap's sensor model, a height band, range and decay.

The probabilities default to OctoMap's (``AbstractOccupancyOcTree.cpp``): a hit raises a
cell by logit(0.7) = +0.85, a miss lowers it by logit(0.4) = -0.41, and the log-odds are
clamped to [logit(0.1192), logit(0.971)] = [-2.0, +3.5]. The height band is nav2
costmap_2d's ``min_obstacle_height`` / ``max_obstacle_height``, taken relative to the
robot's ``base_link`` height; decay follows spatio_temporal_voxel_layer's linear and
exponential models (see :mod:`percept.mapping.occupancy2d` for exactly what is done).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from percept.params import param

__all__ = [
    "COLUMN_RULES",
    "DECAY_MODELS",
    "GRID_MODELS",
    "SURFACE_MODELS",
    "MappingConfig",
    "logit",
]

#: ``decay_model`` values: no decay, STVL's linear (0) and exponential (1) models.
DECAY_MODELS: Final = ("none", "linear", "exponential")
#: ``grid_model`` values: rays in the xy plane, or 3-D rays in the band projected.
GRID_MODELS: Final = ("flat", "band3d")
#: ``free_column_rule`` values of ``band3d``: a column is known free when any voxel of it
#: is seen free (octomap_server's projection) or only when its bottom voxel is.
COLUMN_RULES: Final = ("any_voxel", "bottom_voxel")
#: ``surface_model`` values of ``band3d``: occupied voxels from log-odds alone (OctoMap),
#: or log-odds gated by a TSDF surface averaged over the points (voxblox's merged update).
SURFACE_MODELS: Final = ("log_odds", "tsdf")


def logit(probability: float) -> float:
    """Log-odds of a probability in (0, 1).

    >>> round(logit(0.7), 4)
    0.8473
    """
    return math.log(probability / (1.0 - probability))


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """How depth updates an occupancy map.

    Attributes:
        resolution_m: cell (voxel) edge, metres.
        prob_hit: probability of a cell holding the endpoint of a ray being occupied.
        prob_miss: probability of a cell a ray passes through being occupied.
        clamp_min: lower clamping probability of a cell.
        clamp_max: upper clamping probability of a cell.
        max_range_m: points farther from the sensor are not marked; their ray clears
            up to this range.
        min_height_m: lowest obstacle height above ``base_link``; points below are
            ground: their ray clears, their own cell included.
        max_height_m: highest obstacle height above ``base_link``; points above clear
            up to their cell and mark nothing.
        clear_no_return: beams without a return (NaN/inf pixels of organised clouds,
            max-range beams of scans) clear up to ``max_range_m``.
        decay_model: ``none``, ``linear`` or ``exponential``: how cells not observed
            again fade back to unknown.
        decay_s: time constant of the decay, seconds (STVL's ``voxel_decay``).
        initial_size_m: edge of the first 2-D grid, centred on the first sensor
            origin; the grid grows to include new data.
        grid_model: ``flat`` (rays cast in the xy plane,
            :mod:`percept.mapping.occupancy2d`) or ``band3d`` (3-D rays in voxels of the
            height band, projected as octomap_server does, :mod:`percept.mapping.band3d`).
        layer_height_m: voxel height of ``band3d``, metres.
        hit_min_fraction: ``band3d`` only: in one insert a voxel holding endpoints is
            marked hit only if they are at least this share of its endpoints plus the
            rays (weighted by their end voxel's endpoints) that pass through it, else it
            is freed when passed: depth noise in front of a surface is outvoted by the
            rays that reach the surface. 0 keeps OctoMap's rule (any endpoint wins).
        clear_sublayers: ``band3d`` only: rays are traced through sub-layers of
            ``layer_height_m / clear_sublayers``; a voxel is hit when any of its
            sub-layers holds an endpoint and freed only when a ray passes its middle
            sub-layer (odd counts), so a ray grazing the top or bottom of a voxel (over a
            pallet's deck) leaves it. 1 traces whole voxels.
        free_column_rule: ``band3d`` only: ``any_voxel`` (octomap_server's projection:
            a column is free when it is seen and holds no occupied voxel) or
            ``bottom_voxel`` (free only when its bottom voxel is seen free, so a column
            seen only above a low obstacle, under a deck or behind an object stays
            unknown: nav2 voxel layer's ``unknown_threshold`` idea). Occupied is the same
            in both: any occupied voxel.
        surface_model: ``band3d`` only: ``log_odds`` (a voxel is occupied when its
            log-odds are > 0, OctoMap) or ``tsdf``: also a truncated signed distance is
            averaged per voxel from the marking points (voxblox's merged integrator:
            the points of one end voxel as one ray to their mean, weighted by their
            count, sampled within ``tsdf_truncation_m`` of its end), and a voxel in
            front of the averaged surface (a positive mean, and not the surface voxel:
            of two neighbouring voxels whose means differ in sign, the one nearer to
            zero) is not occupied whatever its log-odds.
            Depth noise that one insert spreads over several voxels along the ray
            averages out over the inserts instead of marking each of them.
        tsdf_truncation_m: ``surface_model: tsdf``: the distance either side of a
            point over which its ray updates the signed distance, metres (about three
            times the depth noise at the marking range). An object thinner than a voxel
            within this distance in front of a surface can be dropped: keep it below the
            costmap's inflation radius.
        tsdf_weight_keep: ``surface_model: tsdf``: share of a voxel's old weight kept
            when new points update it (1: a plain average over all inserts; lower
            forgets, so a surface that moved takes over within a few inserts).
    """

    resolution_m: float = param(
        0.05, "cell edge, metres", min_value=0.001, max_value=10.0, read_only=True
    )
    prob_hit: float = param(
        0.7, "occupancy probability of a ray's endpoint cell (> 0.5)", min_value=0.5, max_value=1.0
    )
    prob_miss: float = param(
        0.4, "occupancy probability of a cell a ray passes (< 0.5)", min_value=0.0, max_value=0.5
    )
    clamp_min: float = param(
        0.1192, "lower clamping probability of a cell", min_value=0.0, max_value=0.5
    )
    clamp_max: float = param(
        0.971, "upper clamping probability of a cell", min_value=0.5, max_value=1.0
    )
    max_range_m: float = param(
        5.0, "points farther are not marked; their ray clears to here, metres", min_value=0.0
    )
    min_height_m: float = param(
        0.05, "lowest obstacle height above base_link (below: ground, cleared), metres"
    )
    max_height_m: float = param(
        2.0, "highest obstacle height above base_link (above: not marked), metres"
    )
    clear_no_return: bool = param(
        True, "beams without a return (NaN/inf, max-range scan beams) clear to max_range_m"
    )
    decay_model: str = param(
        "none",
        "how cells not seen again fade to unknown: none, linear, exponential (STVL's)",
        choices=DECAY_MODELS,
    )
    decay_s: float = param(
        0.0,
        "decay time constant, seconds (STVL voxel_decay; > 0 with a decay model)",
        min_value=0.0,
    )
    initial_size_m: float = param(
        10.0,
        "edge of the first 2-D grid, centred on the first origin, metres",
        min_value=0.0,
        read_only=True,
    )

    grid_model: str = param(
        "flat",
        "2-D grid from rays in the xy plane (flat) or 3-D rays in the band, projected (band3d)",
        choices=GRID_MODELS,
        read_only=True,
    )
    layer_height_m: float = param(
        0.1, "voxel height of the band3d grid model, metres", min_value=0.001, read_only=True
    )
    hit_min_fraction: float = param(
        0.0,
        "band3d: least share of endpoints in a voxel's endpoints + passing rays to hit it (0: any)",
        min_value=0.0,
        max_value=1.0,
    )
    clear_sublayers: int = param(
        1,
        "band3d: sub-layers per voxel for tracing; a voxel is freed only through its middle one",
        min_value=1,
        max_value=9,
        read_only=True,
    )
    free_column_rule: str = param(
        "any_voxel",
        "band3d: a column is free when any voxel (any_voxel) or its bottom one is seen free",
        choices=COLUMN_RULES,
        read_only=True,
    )

    surface_model: str = param(
        "log_odds",
        "band3d: occupied by log-odds alone, or not in front of a fused TSDF surface (tsdf)",
        choices=SURFACE_MODELS,
        read_only=True,
    )
    tsdf_truncation_m: float = param(
        0.2,
        "surface_model tsdf: signed distance updated within this of each point, metres",
        min_value=0.0,
        read_only=True,
    )

    tsdf_weight_keep: float = param(
        0.7,
        "surface_model tsdf: share of a voxel's old weight kept at each update (1: no forgetting)",
        min_value=0.0,
        max_value=1.0,
    )

    def __post_init__(self) -> None:
        def finite(value: float) -> bool:
            return math.isfinite(value)

        checks: list[tuple[bool, str, str, object]] = [
            (
                finite(self.resolution_m) and self.resolution_m > 0.0,
                "resolution_m",
                "finite and > 0",
                self.resolution_m,
            ),
            (0.5 < self.prob_hit < 1.0, "prob_hit", "in (0.5, 1)", self.prob_hit),
            (0.0 < self.prob_miss < 0.5, "prob_miss", "in (0, 0.5)", self.prob_miss),
            (0.0 < self.clamp_min < 0.5, "clamp_min", "in (0, 0.5)", self.clamp_min),
            (0.5 < self.clamp_max < 1.0, "clamp_max", "in (0.5, 1)", self.clamp_max),
            (
                finite(self.max_range_m) and self.max_range_m > 0.0,
                "max_range_m",
                "finite and > 0",
                self.max_range_m,
            ),
            (finite(self.min_height_m), "min_height_m", "finite", self.min_height_m),
            (
                finite(self.max_height_m) and self.max_height_m > self.min_height_m,
                "max_height_m",
                f"finite and > min_height_m ({self.min_height_m})",
                self.max_height_m,
            ),
            (
                self.decay_model in DECAY_MODELS,
                "decay_model",
                f"one of {list(DECAY_MODELS)}",
                self.decay_model,
            ),
            (
                finite(self.decay_s)
                and (self.decay_s > 0.0 if self.decay_model != "none" else self.decay_s >= 0.0),
                "decay_s",
                "finite and > 0 with a decay model (>= 0 without)",
                self.decay_s,
            ),
            (
                self.grid_model in GRID_MODELS,
                "grid_model",
                f"one of {list(GRID_MODELS)}",
                self.grid_model,
            ),
            (
                finite(self.layer_height_m) and self.layer_height_m > 0.0,
                "layer_height_m",
                "finite and > 0",
                self.layer_height_m,
            ),
            (
                0.0 <= self.hit_min_fraction <= 1.0,
                "hit_min_fraction",
                "in [0, 1]",
                self.hit_min_fraction,
            ),
            (
                isinstance(self.clear_sublayers, int)
                and 1 <= self.clear_sublayers <= 9
                and self.clear_sublayers % 2 == 1,
                "clear_sublayers",
                "an odd integer in [1, 9]",
                self.clear_sublayers,
            ),
            (
                self.free_column_rule in COLUMN_RULES,
                "free_column_rule",
                f"one of {list(COLUMN_RULES)}",
                self.free_column_rule,
            ),
            (
                self.surface_model in SURFACE_MODELS,
                "surface_model",
                f"one of {list(SURFACE_MODELS)}",
                self.surface_model,
            ),
            (
                finite(self.tsdf_truncation_m) and self.tsdf_truncation_m > 0.0,
                "tsdf_truncation_m",
                "finite and > 0",
                self.tsdf_truncation_m,
            ),
            (
                0.0 <= self.tsdf_weight_keep <= 1.0,
                "tsdf_weight_keep",
                "in [0, 1]",
                self.tsdf_weight_keep,
            ),
            (
                finite(self.initial_size_m) and self.initial_size_m >= 0.0,
                "initial_size_m",
                "finite and >= 0",
                self.initial_size_m,
            ),
        ]
        for ok, name, expected, got in checks:
            if not ok:
                msg = f"MappingConfig.{name} must be {expected}, got {got!r}"
                raise ValueError(msg)

    @property
    def log_odds_hit(self) -> float:
        """Log-odds added to a ray's endpoint cell (+0.85 by default)."""
        return logit(self.prob_hit)

    @property
    def log_odds_miss(self) -> float:
        """Log-odds added to a cell a ray passes through (-0.41 by default)."""
        return logit(self.prob_miss)

    @property
    def log_odds_min(self) -> float:
        """Lower clamp of a cell's log-odds (-2.0 by default)."""
        return logit(self.clamp_min)

    @property
    def log_odds_max(self) -> float:
        """Upper clamp of a cell's log-odds (+3.5 by default)."""
        return logit(self.clamp_max)
