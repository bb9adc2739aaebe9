"""HEVC with x265 through ffmpeg's ``libx265``; decoded by ffmpeg's own HEVC decoder."""

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


@CODECS.register("x265")
@dataclass(frozen=True)
class X265(Codec):
    """x265 at a constant QP with an intra picture every ``intra_period`` frames.

    Args:
        preset: x265 speed preset (``ultrafast`` ... ``placebo``).
        intra_period: frames between intra pictures (fixed: no scene-cut detection).
        threads: size of x265's thread pool; ``None`` lets x265 use every core.
        tune: x265 tuning (``zerolatency`` for live coding: no B frames, no lookahead, no
            frame threads); ``None``: none.
        params: further x265 settings ``key=value`` joined by ``:``, appended to
            ``-x265-params``; ``None``: none.
    """

    name: ClassVar[str] = "x265"
    extension: ClassVar[str] = ".265"
    qp_range: ClassVar[tuple[int, int] | None] = (0, 51)
    option_schema: ClassVar[dict[str, Option]] = {
        "preset": Option(str, choices=(
            "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
            "veryslow", "placebo",
        )),
        "intra_period": INTRA_PERIOD,
        "threads": THREADS,
        "tune": Option(str, optional=True, choices=(
            "psnr", "ssim", "grain", "zerolatency", "fastdecode", "animation",
        )),
        "params": Option(str, optional=True, pattern=r"[a-z0-9-]+=[^:\s]+(:[a-z0-9-]+=[^:\s]+)*",
                         help="further x265 settings KEY=VALUE:KEY=VALUE (-x265-params)"),
    }

    preset: str = "medium"
    intra_period: int = 32
    threads: int | None = None
    tune: str | None = None
    params: str | None = None

    def __post_init__(self) -> None:
        check_positive(self.name, "intra_period", self.intra_period)
        check_positive(self.name, "threads", self.threads)

    def x265_params(self, qp: int) -> str:
        """The ``-x265-params`` value for ``qp``."""
        params = [
            f"qp={qp}",
            f"keyint={self.intra_period}",
            f"min-keyint={self.intra_period}",
            "scenecut=0",
            # x265 otherwise writes its version and settings (about 2 KB) into an SEI message,
            # which would count as coded bits.
            "info=0",
        ]
        if self.threads is not None:
            params.append(f"pools={self.threads}")
        if self.params:
            params.append(self.params)
        return ":".join(params)

    def encode_argv(
        self, *, width: int, height: int, fps: float, frames: int, qp: int, output: Path,
        workdir: Path,
    ) -> list[list[str]]:
        self.check_qp(qp)
        return [
            raw_bgr_input_argv(width, height, fps) + [
                "-vf", encoder_input_filter(width, height),
                "-c:v", "libx265", "-preset", self.preset,
                *(["-tune", self.tune] if self.tune else []),
                "-x265-params", self.x265_params(qp),
                "-f", "hevc", str(output),
            ]
        ]

    def decode_argv(
        self, *, bitstream: Path, output: Path, width: int | None, height: int | None,
        fps: float | None, workdir: Path,
    ) -> list[list[str]]:
        return [
            ffmpeg_decode_argv(
                bitstream, output, demuxer="hevc", width=width, height=height, fps=fps
            )
        ]
