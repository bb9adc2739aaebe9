"""VVC with the reference software VTM (``EncoderApp``/``DecoderApp``), not shipped with vcm.

VTM reads and writes raw YUV files, so encoding is two commands (ffmpeg writes the padded
8-bit ``yuv420p`` frames to a file in the work folder, then ``EncoderApp`` codes it) and so is
decoding (``DecoderApp`` writes 8-bit ``yuv420p``, then ffmpeg crops it and stores it as FFV1).

VTM's long options need ``=``: ``--QP 32`` is silently ignored, ``--QP=32`` works.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from vcm.codecs.base import (
    CODECS,
    CODED_PIXEL_FORMAT,
    INTRA_PERIOD,
    Codec,
    check_positive,
    decoder_output_filter,
    encoder_input_filter,
    frame_rate_argument,
    lossless_output_argv,
    padded_size,
    raw_bgr_input_argv,
)
from vcm.errors import VcmError
from vcm.ffmpeg import ffmpeg_executable
from vcm.registry import Option

ENCODER_VARIABLE = "VCM_VTM_ENCODER"
DECODER_VARIABLE = "VCM_VTM_DECODER"


@CODECS.register("vtm")
@dataclass(frozen=True)
class Vtm(Codec):
    """VTM at a constant QP, 8-bit input coded at 10 bits internally (as VVC's Main 10).

    Args:
        cfg: VTM configuration file (e.g. ``encoder_randomaccess_vtm.cfg``); ``None`` runs
            with VTM's built-in defaults.
        intra_period: frames between intra pictures (``--IntraPeriod``; overrides ``cfg``).
        encoder: path of ``EncoderApp``; ``None``: ``$VCM_VTM_ENCODER``, else ``PATH``.
        decoder: path of ``DecoderApp``; ``None``: ``$VCM_VTM_DECODER``, else ``PATH``.

    VTM allows QPs from ``-QpBdOffset`` (-12 at 10 bits) to 63; vcm uses 0..63 like VVenC.
    """

    name: ClassVar[str] = "vtm"
    extension: ClassVar[str] = ".266"
    qp_range: ClassVar[tuple[int, int] | None] = (0, 63)
    option_schema: ClassVar[dict[str, Option]] = {
        "cfg": Option(os.PathLike, optional=True, help="VTM configuration file"),
        "intra_period": INTRA_PERIOD,
        "encoder": Option(os.PathLike, optional=True, help="path of EncoderApp"),
        "decoder": Option(os.PathLike, optional=True, help="path of DecoderApp"),
    }

    cfg: str | None = None
    intra_period: int = 32
    encoder: str | None = None
    decoder: str | None = None

    def __post_init__(self) -> None:
        check_positive(self.name, "intra_period", self.intra_period)

    def check_tools(self) -> None:
        """Raise :class:`VcmError` unless ``EncoderApp``, ``DecoderApp`` and ``cfg`` are found."""
        self.encoder_executable()
        self.decoder_executable()
        if self.cfg is not None and not Path(self.cfg).is_file():
            raise VcmError(f"{self.cfg}: VTM configuration file does not exist (codec option "
                           "cfg; VTM ships its configs in its cfg/ folder)")

    def encoder_executable(self) -> str:
        """The ``EncoderApp`` to run; raises :class:`VcmError` if there is none."""
        return _find_executable(self.encoder, ENCODER_VARIABLE, "EncoderApp", "encoder")

    def decoder_executable(self) -> str:
        """The ``DecoderApp`` to run; raises :class:`VcmError` if there is none."""
        return _find_executable(self.decoder, DECODER_VARIABLE, "DecoderApp", "decoder")

    def encode_argv(
        self, *, width: int, height: int, fps: float, frames: int, qp: int, output: Path,
        workdir: Path,
    ) -> list[list[str]]:
        self.check_qp(qp)
        encoder = self.encoder_executable()
        padded_width, padded_height = padded_size(width, height)
        raw_video = workdir / "input.yuv"
        write_raw = raw_bgr_input_argv(width, height, fps) + [
            "-vf", encoder_input_filter(width, height),
            "-f", "rawvideo", "-pix_fmt", CODED_PIXEL_FORMAT, str(raw_video),
        ]
        encode = [encoder]
        if self.cfg is not None:
            encode += ["-c", str(self.cfg)]
        encode += [
            "-i", str(raw_video), "-b", str(output),
            f"--SourceWidth={padded_width}", f"--SourceHeight={padded_height}",
            # Older VTM versions parse the frame rate as an integer; it only feeds the
            # signalled timing and rate control, neither of which a constant QP uses.
            f"--FrameRate={round(fps)}", f"--FramesToBeEncoded={frames}",
            "--InputChromaFormat=420", "--InputBitDepth=8", "--InternalBitDepth=10",
            f"--IntraPeriod={self.intra_period}", f"--QP={qp}",
            # Pads to VTM's minimum coding-unit size and signals a conformance window, which
            # decoders crop back to the (even) size given.
            "--ConformanceWindowMode=1",
        ]
        return [write_raw, encode]

    def decode_argv(
        self, *, bitstream: Path, output: Path, width: int | None, height: int | None,
        fps: float | None, workdir: Path,
    ) -> list[list[str]]:
        if width is None or height is None:
            raise VcmError(
                f"{bitstream}: decoding with VTM needs the original width and height "
                "(from the sidecar JSON or given explicitly)"
            )
        decoder = self.decoder_executable()
        padded_width, padded_height = padded_size(width, height)
        raw_video = workdir / "decoded.yuv"
        decode = [decoder, "-b", str(bitstream), "-o", str(raw_video), "-d", "8"]
        store = [
            ffmpeg_executable(), "-hide_banner", "-nostdin", "-y",
            "-f", "rawvideo", "-pix_fmt", CODED_PIXEL_FORMAT,
            "-s", f"{padded_width}x{padded_height}",
        ]
        if fps is not None:
            store += ["-r", frame_rate_argument(fps)]
        store += ["-i", str(raw_video), "-vf", decoder_output_filter(width, height)]
        store += lossless_output_argv(output)
        return [decode, store]


def _find_executable(explicit: str | None, variable: str, program: str, option: str) -> str:
    if explicit:
        return str(explicit)
    configured = os.environ.get(variable)
    if configured:
        return configured
    found = shutil.which(program)
    if found:
        return found
    raise VcmError(
        f"VTM's {program} not found: install VTM "
        "(https://vcgit.hhi.fraunhofer.de/jvet/VVCSoftware_VTM) and put EncoderApp and "
        f"DecoderApp on PATH, or set ${variable}, or pass the codec option {option}=PATH"
    )
