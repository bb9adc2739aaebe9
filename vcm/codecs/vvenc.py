"""VVC with Fraunhofer's VVenC through ffmpeg's ``libvvenc``, decoded by ffmpeg's VVC decoder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from vcm.codecs.base import (
    CODECS,
    INTRA_PERIOD,
    Codec,
    check_positive,
    encoder_input_filter,
    ffmpeg_decode_argv,
    raw_bgr_input_argv,
)
from vcm.registry import THREADS, Option


@CODECS.register("vvenc")
@dataclass(frozen=True)
class Vvenc(Codec):
    """VVenC at a constant QP, random access with an intra picture every ``intra_period`` frames.

    Args:
        preset: VVenC speed preset: ``faster``, ``fast``, ``medium``, ``slow``, ``slower``.
        intra_period: frames between intra (random-access) pictures; 32 matches VTM's
            random-access configuration at 30 frames/s (libvvenc's own default is one second).
        threads: encoder threads; ``None`` leaves ffmpeg's default.
        params: further VVenC settings as ``key=value`` pairs joined by ``:`` (VVenC's
            ``vvencFFapp`` option names, e.g. ``"alf=0:sao=0"``), appended to
            ``-vvenc-params`` after ``intraperiod``; ``None``: none.
    """

    name: ClassVar[str] = "vvenc"
    extension: ClassVar[str] = ".266"
    qp_range: ClassVar[tuple[int, int] | None] = (0, 63)
    option_schema: ClassVar[dict[str, Option]] = {
        "preset": Option(str, choices=("faster", "fast", "medium", "slow", "slower")),
        "intra_period": INTRA_PERIOD,
        "threads": THREADS,
        "params": Option(str, optional=True, pattern=r"[A-Za-z0-9_]+=[^:\s]+(:[A-Za-z0-9_]+=[^:\s]+)*",
                         help="further VVenC settings KEY=VALUE:KEY=VALUE (-vvenc-params)"),
    }

    preset: str = "faster"
    intra_period: int = 32
    threads: int | None = None
    params: str | None = None

    def __post_init__(self) -> None:
        check_positive(self.name, "intra_period", self.intra_period)
        check_positive(self.name, "threads", self.threads)

    def encode_argv(
        self, *, width: int, height: int, fps: float, frames: int, qp: int, output: Path,
        workdir: Path,
    ) -> list[list[str]]:
        self.check_qp(qp)
        argv = raw_bgr_input_argv(width, height, fps) + [
            # libvvenc takes only 10-bit input; going through 8-bit yuv420p first keeps the
            # samples identical to the other codecs' (8 -> 10 bits is an exact left shift).
            "-vf", encoder_input_filter(width, height) + ",format=yuv420p10le",
            "-c:v", "libvvenc", "-preset", self.preset, "-qp", str(qp),
            # Perceptual QP adaptation (on by default) would move the rate away from the QP.
            "-qpa", "0",
        ]
        if self.threads is not None:
            argv += ["-threads", str(self.threads)]
        argv += [
            "-vvenc-params", ":".join(
                [f"intraperiod={self.intra_period}", *([self.params] if self.params else [])]
            ),
            "-f", "vvc", str(output),
        ]
        return [argv]

    def decode_argv(
        self, *, bitstream: Path, output: Path, width: int | None, height: int | None,
        fps: float | None, workdir: Path,
    ) -> list[list[str]]:
        return [
            ffmpeg_decode_argv(
                bitstream, output, demuxer="vvc", width=width, height=height, fps=fps
            )
        ]
