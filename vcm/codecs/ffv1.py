"""The lossless reference: FFV1 of exactly the ``yuv420p`` samples the lossy codecs are given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from vcm.codecs.base import (
    CODECS,
    Codec,
    encoder_input_filter,
    ffmpeg_decode_argv,
    lossless_output_argv,
    raw_bgr_input_argv,
)


@CODECS.register("ffv1")
@dataclass(frozen=True)
class Ffv1(Codec):
    """FFV1 (level 3, intra only) of the padded ``yuv420p`` frames in Matroska.

    Lossless, so QP is ignored (any integer is accepted and recorded). Its size is the
    "coded" size of the very samples the lossy codecs start from, which makes it the
    upper anchor of a rate-accuracy curve.
    """

    name: ClassVar[str] = "ffv1"
    extension: ClassVar[str] = ".mkv"
    qp_range: ClassVar[tuple[int, int] | None] = None

    def encode_argv(
        self, *, width: int, height: int, fps: float, frames: int, qp: int, output: Path,
        workdir: Path,
    ) -> list[list[str]]:
        self.check_qp(qp)
        return [
            raw_bgr_input_argv(width, height, fps)
            + ["-vf", encoder_input_filter(width, height)]
            + lossless_output_argv(output)
        ]

    def decode_argv(
        self, *, bitstream: Path, output: Path, width: int | None, height: int | None,
        fps: float | None, workdir: Path,
    ) -> list[list[str]]:
        # Matroska carries its own timing, so fps is not needed.
        return [
            ffmpeg_decode_argv(
                bitstream, output, demuxer=None, width=width, height=height, fps=None
            )
        ]
