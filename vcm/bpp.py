"""Bits per pixel, as in the paper (Eq. 1).

BPP = (bytes of every file the receiver gets) x 8 / (width x height x frames), with width and
height of the original, unpadded video. For the multitask pipeline the files are the coded
foreground bitstream and the detection file (any format, see :mod:`vcm.detformats`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from vcm.errors import VcmError


def bits_per_pixel(total_bytes: int, width: int, height: int, frames: int) -> float:
    """Bits per pixel of ``total_bytes`` spread over ``frames`` frames of ``width`` x ``height``."""
    if width <= 0 or height <= 0 or frames <= 0:
        raise ValueError(f"width, height and frames must be positive, got {width}, {height}, {frames}")
    if total_bytes < 0:
        raise ValueError(f"byte count must not be negative, got {total_bytes}")
    return total_bytes * 8 / (width * height * frames)


@dataclass(frozen=True)
class BitsPerPixel:
    """A BPP measurement: the byte count per file, their sum, and the video's geometry."""

    files: dict[str, int]
    bytes: int
    bits: int
    width: int
    height: int
    frames: int
    bpp: float

    def to_dict(self) -> dict:
        return asdict(self)


def measure_bits_per_pixel(paths: list[Path], *, width: int, height: int, frames: int) -> BitsPerPixel:
    """Measure the BPP of the files ``paths`` for a video of the given geometry."""
    sizes: dict[str, int] = {}
    for path in paths:
        if not path.is_file():
            raise VcmError(f"{path}: file does not exist")
        sizes[str(path)] = path.stat().st_size
    total = sum(sizes.values())
    return BitsPerPixel(
        files=sizes,
        bytes=total,
        bits=total * 8,
        width=width,
        height=height,
        frames=frames,
        bpp=bits_per_pixel(total, width, height, frames),
    )
