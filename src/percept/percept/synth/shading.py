"""Procedural materials and Lambertian lighting for the synthetic renderer.

Textures are evaluated from the 3-D hit point and the surface normal only (planar
mapping on the plane the normal faces most), and shading is Lambertian, so a surface
point has the same colour seen from any camera: what stereo matching and the
photometric-consistency test rely on. Everything works on flat arrays of hits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "PATTERNS",
    "Lighting",
    "Material",
    "MaterialTable",
    "NoiseAtlas",
    "make_noise_tile",
    "noise_pyramid",
    "shade",
]

#: Texture patterns a material can have.
PATTERNS: Final = ("plain", "checker", "stripes", "noise", "wood")

# Tile pixels per pattern period (coarse noise) and per metre (fine grain, ~5 mm).
_COARSE_PX_PER_PERIOD: Final = 32.0
_FINE_PX_PER_M: Final = 100.0
# cv2.remap wants maps narrower and shorter than SHRT_MAX: sample in blocks of this width.
_REMAP_BLOCK: Final = 4096
# Rows per block of the lamp computation: (rows, lamps) temporaries stay in cache, and
# products this small stay single-threaded in BLAS (threads cost more than they gain).
_CHUNK: Final = 4096


@dataclass(frozen=True, slots=True)
class Material:
    """A procedural surface.

    Attributes:
        pattern: one of ``PATTERNS``.
        color_a_rgb: (r, g, b) linear albedo in [0, 1], the base colour.
        color_b_rgb: second colour the pattern mixes in.
        scale_m: pattern period, metres (checker square, stripe pitch, blotch size).
        angle_rad: direction of stripes and wood grain in the texture plane.
        grain: fine-grain modulation of the albedo, 0 (none) to 1 (+-100 %).
    """

    pattern: str
    color_a_rgb: tuple[float, float, float]
    color_b_rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale_m: float = 0.5
    angle_rad: float = 0.0
    grain: float = 0.15

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            msg = f"pattern must be one of {PATTERNS}, got {self.pattern!r}"
            raise ValueError(msg)
        if not self.scale_m > 0:
            msg = f"scale_m must be > 0, got {self.scale_m}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True, eq=False)
class MaterialTable:
    """Materials as one array, indexed by material id (one gather per pixel).

    Attributes:
        packed: (M, 12) float32 rows of ``pattern`` (index into ``PATTERNS``),
            ``scale_m``, ``cos(angle)``, ``sin(angle)``, ``grain``, ``color_a`` (3),
            ``color_b`` (3), padding.
    """

    packed: npt.NDArray[np.float32]

    @classmethod
    def from_materials(cls, materials: list[Material]) -> MaterialTable:
        """Pack a list of materials (id = list index)."""
        packed = np.zeros((len(materials), 12), dtype=np.float32)
        for i, m in enumerate(materials):
            packed[i, :5] = (
                PATTERNS.index(m.pattern),
                m.scale_m,
                np.cos(m.angle_rad),
                np.sin(m.angle_rad),
                m.grain,
            )
            packed[i, 5:8] = m.color_a_rgb
            packed[i, 8:11] = m.color_b_rgb
        return cls(packed)

    def albedo(
        self,
        points_m: npt.NDArray[np.float32],
        normals: npt.NDArray[np.float32],
        material: npt.NDArray[np.int32],
        footprint_m: npt.NDArray[np.float32],
        noise: NoiseAtlas,
    ) -> npt.NDArray[np.float32]:
        """Albedo of surface points, filtered over each pixel's footprint.

        Args:
            points_m: (N, 3) float32 hit points, metres, world frame.
            normals: (N, 3) float32 unit surface normals, world frame.
            material: (N,) integer material ids.
            footprint_m: (N,) float32 size of the pixel on the surface, metres (0: point
                samples); textures are band-limited to it, so distant and grazing
                surfaces do not alias.
            noise: the scene's noise texture.

        Returns:
            (N, 3) float32 linear rgb albedo in [0, 1].
        """
        params = np.take(self.packed, material, axis=0)
        axis = np.abs(normals).argmax(axis=1)
        # Planar mapping on the plane the normal faces: x-facing -> (y, z), y -> (x, z),
        # z -> (x, y).
        u = np.where(axis == 0, points_m[:, 1], points_m[:, 0])
        v = np.where(axis == 2, points_m[:, 1], points_m[:, 2])
        scale = params[:, 1]
        us, vs = u / scale, v / scale
        width = footprint_m / scale  # pixel size in pattern periods
        pattern = params[:, 0]
        t = np.zeros(u.shape, dtype=np.float32)
        k = pattern == PATTERNS.index("checker")
        if k.any():
            # Two-cell period square waves in x and y; their product is the checker.
            qx = _square(us[k] / 2, width[k] / 2)
            qy = _square(vs[k] / 2, width[k] / 2)
            t[k] = 0.5 - 0.5 * qx * qy
        k = pattern == PATTERNS.index("stripes")
        if k.any():
            along = us[k] * params[k, 2] + vs[k] * params[k, 3]
            t[k] = 0.5 + 0.5 * _square(along, width[k])
        k = (pattern == PATTERNS.index("noise")) | (pattern == PATTERNS.index("wood"))
        if k.any():
            c = _COARSE_PX_PER_PERIOD
            coarse = noise.sample(us[k] * c, vs[k] * c, width[k] * c)
            t[k] = np.clip((coarse - 0.5) * 2.5 + 0.5, 0.0, 1.0)
            wood = pattern == PATTERNS.index("wood")
            if wood.any():
                w = wood[k]
                along = us[wood] * params[wood, 2] + vs[wood] * params[wood, 3]
                t[wood] = 0.5 + 0.5 * np.sin(2.0 * np.pi * (4.0 * along + 3.0 * coarse[w]))
        f = _FINE_PX_PER_M
        fine = noise.sample(u * f, v * f, footprint_m * f)
        a = params[:, 5:8]
        albedo = a + (params[:, 8:11] - a) * t[:, None]
        albedo *= (1.0 + params[:, 4] * (2.0 * fine - 1.0))[:, None]
        return np.clip(albedo, 0.0, 1.0, out=albedo)


def _square(x: npt.NDArray[np.float32], width: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """A +-1 square wave of period 1 (+1 on [0, 0.5)), box-filtered over ``width`` periods.

    The filter is a linear ramp across each edge (exact for a box filter on a single
    edge), so point samples (width 0) give the hard square wave.
    """
    phase = x - np.floor(x)
    inside = phase < 0.5
    dist = np.where(inside, np.minimum(phase, 0.5 - phase), -np.minimum(phase - 0.5, 1.0 - phase))
    out: npt.NDArray[np.float32] = np.clip(2.0 * dist / np.maximum(width, 1e-6), -1.0, 1.0)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class Lighting:
    """Lights of a scene: ambient, one directional key light and point lamps.

    Attributes:
        ambient: ambient radiance factor.
        key_direction: (3,) float32 unit vector towards the key light, world frame.
        key_intensity: radiance factor of the key light on a surface facing it.
        lamp_positions_m: (J, 3) float32 lamp positions, metres, world frame.
        lamp_intensity: (J,) float32 radiance factor at 1 m (falls off with 1/d^2).
    """

    ambient: float
    key_direction: npt.NDArray[np.float32]
    key_intensity: float
    lamp_positions_m: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((0, 3), dtype=np.float32)
    )
    lamp_intensity: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.float32)
    )


def shade(
    points_m: npt.NDArray[np.float32],
    normals: npt.NDArray[np.float32],
    albedo: npt.NDArray[np.float32],
    lighting: Lighting,
) -> npt.NDArray[np.float32]:
    """Lambertian radiance (no shadows, no specular: the same from every viewpoint).

    Args:
        points_m: (N, 3) float32 surface points, metres, world frame.
        normals: (N, 3) float32 unit normals, world frame, facing the viewer.
        albedo: (N, 3) float32 linear rgb.
        lighting: the scene's lights.

    Returns:
        (N, 3) float32 linear rgb radiance (1.0 is a white surface under unit light).
    """
    irradiance = np.full(points_m.shape[0], lighting.ambient, dtype=np.float32)
    irradiance += lighting.key_intensity * np.maximum(normals @ lighting.key_direction, 0.0)
    lamps = lighting.lamp_positions_m
    if lamps.shape[0]:
        lamp_sq = _rowdot(lamps, lamps)[None, :]
        # All lamps at once through matrix products, n.(L - p) and |L - p|^2, in chunks
        # that stay in cache.
        for start in range(0, points_m.shape[0], _CHUNK):
            p = points_m[start : start + _CHUNK]
            n = normals[start : start + _CHUNK]
            cos_num = n @ lamps.T
            cos_num -= _rowdot(n, p)[:, None]
            dist2 = p @ lamps.T
            dist2 *= -2.0
            dist2 += _rowdot(p, p)[:, None]
            dist2 += lamp_sq
            np.maximum(dist2, 0.25, out=dist2)
            np.maximum(cos_num, 0.0, out=cos_num)
            cos_num *= lighting.lamp_intensity[None, :]
            cos_num /= dist2 * np.sqrt(dist2)
            irradiance[start : start + _CHUNK] += cos_num.sum(axis=1)
    return albedo * irradiance[:, None]


def _rowdot(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Row-wise dot product of two (N, 3) arrays."""
    out: npt.NDArray[np.float32] = a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]
    return out


def make_noise_tile(rng: np.random.Generator, size: int = 256) -> npt.NDArray[np.float32]:
    """A periodic smooth noise texture (white noise with a 1/f^2 spectrum, FFT-filtered).

    Args:
        rng: seeded generator.
        size: tile edge, pixels (power of two is fastest).

    Returns:
        (size, size) float32 in [0, 1]; wraps around seamlessly.
    """
    white = rng.standard_normal((size, size))
    f = _frequency(size)
    f[0, 0] = 1.0
    spectrum = np.fft.rfft2(white) / f
    spectrum[0, 0] = 0.0
    spectrum[f > 0.25] = 0.0
    noise = np.fft.irfft2(spectrum, s=(size, size))
    lo, hi = np.percentile(noise, [1.0, 99.0])
    out: npt.NDArray[np.float32] = np.clip((noise - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
    return out


def _frequency(size: int) -> npt.NDArray[np.float64]:
    """|f| in cycles per pixel of an rfft2 spectrum of a (size, size) image."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    out: npt.NDArray[np.float64] = np.hypot(fx, fy)
    return out


def noise_pyramid(
    tile: npt.NDArray[np.float32], levels: int = 7
) -> tuple[npt.NDArray[np.float32], ...]:
    """Blurred copies of a periodic tile for band-limited sampling.

    A mip-map that keeps the tile size.

    Level ``l`` is the tile blurred (periodically, in the Fourier domain) with a
    Gaussian of sigma ``2 ** (l - 1)`` pixels; level 0 is the tile itself.

    Args:
        tile: (S, S) float32 periodic tile.
        levels: number of levels.

    Returns:
        ``levels`` (S, S) float32 tiles.
    """
    size = tile.shape[0]
    spectrum = np.fft.rfft2(tile)
    f2 = _frequency(size) ** 2
    out = [tile]
    for level in range(1, levels):
        sigma = 2.0 ** (level - 1)
        blurred = np.fft.irfft2(spectrum * np.exp(-2.0 * np.pi**2 * sigma**2 * f2), s=tile.shape)
        out.append(blurred.astype(np.float32))
    return tuple(out)


@dataclass(frozen=True, slots=True, eq=False)
class NoiseAtlas:
    """A ``noise_pyramid`` packed into one texture, sampled with one ``cv2.remap``.

    Levels are stacked vertically, each with a one-pixel border copied from the
    opposite edge, so bilinear samples wrap around the tile without touching the
    neighbouring level.

    Attributes:
        image: (levels * (S + 2), S + 2) float32 atlas.
        size: tile edge S, pixels.
        levels: number of pyramid levels.
    """

    image: npt.NDArray[np.float32]
    size: int
    levels: int

    @classmethod
    def from_tile(cls, tile: npt.NDArray[np.float32], levels: int = 7) -> NoiseAtlas:
        """Build the atlas of ``noise_pyramid(tile, levels)``."""
        pyramid = noise_pyramid(tile, levels)
        image = np.concatenate([np.pad(level, 1, mode="wrap") for level in pyramid])
        return cls(image.astype(np.float32), int(tile.shape[0]), levels)

    def sample(
        self,
        x_px: npt.NDArray[np.floating],
        y_px: npt.NDArray[np.floating],
        width_px: npt.NDArray[np.floating],
    ) -> npt.NDArray[np.float32]:
        """Bilinear samples averaged over about ``width_px`` tile pixels (wrapping).

        Args:
            x_px: (N,) column coordinates, tile pixels (any range).
            y_px: (N,) row coordinates.
            width_px: (N,) footprint of each sample, tile pixels.

        Returns:
            (N,) float32.
        """
        n = int(x_px.shape[0])
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        size = np.float32(self.size)
        # A footprint of w pixels is a blur of sigma ~ w / 2: level log2(w).
        level = np.log2(np.maximum(width_px, 1.0).astype(np.float32))
        np.clip(np.rint(level, out=level), 0, self.levels - 1, out=level)
        rows = -(-n // _REMAP_BLOCK)
        map_x = np.zeros(rows * _REMAP_BLOCK, dtype=np.float32)
        map_y = np.zeros(rows * _REMAP_BLOCK, dtype=np.float32)
        # Wrap into the tile first: float32 maps keep sub-pixel precision near 0.
        map_x[:n] = np.mod(x_px, size) + 1.0
        map_y[:n] = np.mod(y_px, size) + 1.0 + level * (size + 2.0)
        out = cv2.remap(
            self.image,
            map_x.reshape(rows, _REMAP_BLOCK),
            map_y.reshape(rows, _REMAP_BLOCK),
            interpolation=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return np.asarray(out, dtype=np.float32).reshape(-1)[:n]
