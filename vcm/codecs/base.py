"""What every codec wrapper shares: the registry, the QP check and the ffmpeg argv pieces.

A codec is a small class registered in :data:`CODECS`, built from plain keyword arguments
(``preset``, ``intra_period``, ...), with class attributes

* ``name``: the registry name;
* ``extension``: the bitstream file suffix (``".266"``, ``".265"``, ``".mkv"``);
* ``qp_range``: inclusive ``(lowest, highest)`` QP, or ``None`` when QP is ignored;

and methods that only *build* argv lists (the pipeline runs them, see
:mod:`vcm.codecs.pipeline`):

* ``encode_argv(...) -> list[list[str]]``: commands run in order; the first one reads raw
  ``bgr24`` frames of the original size on stdin;
* ``decode_argv(...) -> list[list[str]]``: commands run in order; the last one writes the
  decoded video as lossless FFV1 ``yuv420p`` in Matroska.

Every encoder sees the same 8-bit ``yuv420p`` samples: ffmpeg pads the ``bgr24`` frame with
black on the right/bottom to even width and height (``yuv420p`` needs even sizes), then converts
it with the BT.601 matrix to limited ("tv") range (ffmpeg's default matrix and range for
untagged RGB, but rounded rather than truncated): RGB black becomes Y=16, U=V=128 and RGB white
Y=235; each U/V sample is the mean of a 2x2 block, so at an odd size the last chroma
column/row is half padding. Decoders crop the padding off again.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

from vcm.errors import VcmError
from vcm.ffmpeg import BITEXACT_MATROSKA, ffmpeg_executable
from vcm.registry import THREADS, Option, Registry

# The sample format every encoder is fed and every decoded video is stored in.
CODED_PIXEL_FORMAT = "yuv420p"


class Codec:
    """Base of the codec wrappers (see the module docstring); subclasses are dataclasses."""

    name: ClassVar[str]
    extension: ClassVar[str]
    qp_range: ClassVar[tuple[int, int] | None]
    option_schema: ClassVar[dict[str, Option]] = {}

    def options(self) -> dict:
        """The keyword arguments this codec was built with, for the sidecar JSON."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def check_tools(self) -> None:
        """Raise :class:`VcmError` if a program this codec runs is missing (ffmpeg's codecs
        come with imageio-ffmpeg; external encoders override this)."""

    def encoder_tools(self) -> dict:
        """Versions of the programs and files the encoder uses beyond ffmpeg (whose version
        every sidecar records), for the sidecar's ``tools``; external encoders override this."""
        return {}

    def decoder_tools(self) -> dict:
        """Like :meth:`encoder_tools`, for the decoder."""
        return {}

    def check_qp(self, qp: int) -> None:
        """Raise :class:`VcmError` unless ``qp`` is an integer inside :attr:`qp_range`."""
        problem = qp_problem(self.qp_range, qp)
        if problem:
            raise VcmError(f"{self.name}: {problem}")

    def encode_argv(
        self,
        *,
        width: int,
        height: int,
        fps: float,
        frames: int,
        qp: int,
        output: Path,
        workdir: Path,
    ) -> list[list[str]]:
        """Commands that encode ``frames`` ``bgr24`` frames of ``width`` x ``height`` pixels
        (original size) at ``fps`` frames/s, piped to the first command's stdin, into the
        bitstream ``output``; intermediate files, if any, go in the existing folder ``workdir``.
        """
        raise NotImplementedError

    def decode_argv(
        self,
        *,
        bitstream: Path,
        output: Path,
        width: int | None,
        height: int | None,
        fps: float | None,
        workdir: Path,
    ) -> list[list[str]]:
        """Commands that decode ``bitstream`` into the lossless video ``output``, cropped to
        ``width`` x ``height`` (original size; ``None``: keep the decoded size), timed at
        ``fps`` frames/s unless the bitstream signals its own rate (``None``: 25 frames/s).
        """
        raise NotImplementedError


CODECS: Registry[Codec] = Registry("codec")


def build_codec(name: str, **options) -> Codec:
    """Build the codec registered as ``name`` with keyword ``options``.

    Raises :class:`VcmError` for an unknown name or option.
    """
    return CODECS.build(name, **options)


def qp_problem(qp_range: tuple[int, int] | None, qp: object) -> str | None:
    """Why a codec of inclusive ``qp_range`` (``None``: QP ignored) cannot code at ``qp``, or
    ``None`` when it can."""
    if isinstance(qp, bool) or not isinstance(qp, int):
        return f"QP must be an integer, got {qp!r}"
    if qp_range is not None and not qp_range[0] <= qp <= qp_range[1]:
        return f"QP {qp} is out of range {qp_range[0]}..{qp_range[1]}"
    return None


INTRA_PERIOD = Option(int, low=1, high=100_000, help="frames between intra pictures")
"""The intra-period option the lossy codecs share."""

def padded_size(width: int, height: int) -> tuple[int, int]:
    """``(width, height)`` rounded up to even numbers, the size the encoders are given."""
    return width + width % 2, height + height % 2


def check_positive(codec: str, option: str, value: int | None) -> None:
    """Raise :class:`VcmError` unless ``value`` is ``None`` or a positive integer."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise VcmError(f"{codec}: {option} must be a positive integer, got {value!r}")


def frame_rate_argument(fps: float) -> str:
    """``fps`` as ffmpeg's ``-r``/``-framerate`` value (as written by vcm.video)."""
    return f"{fps:g}"


def raw_bgr_input_argv(width: int, height: int, fps: float) -> list[str]:
    """The start of an ffmpeg command that reads ``bgr24`` frames from stdin."""
    return [
        ffmpeg_executable(), "-hide_banner", "-nostdin", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
        "-r", frame_rate_argument(fps), "-i", "-",
    ]


def encoder_input_filter(width: int, height: int) -> str:
    """ffmpeg filter turning a ``bgr24`` frame into the padded ``yuv420p`` frame coded.

    The pad happens in RGB, so a padded column is black before chroma subsampling. The
    matrix and range are spelled out so that a change of ffmpeg's defaults cannot change the
    samples coded. ``accurate_rnd`` because swscale's default fast path for even widths
    truncates (Y, U and V come out 0.5 low on average); ``area`` makes each chroma sample
    the mean of its 2x2 pixels (bicubic, the default with ``accurate_rnd``, rings on edges).
    Each sample is then within 0.51 of the exact BT.601 value (measured with ffmpeg 9.0).
    """
    padded_width, padded_height = padded_size(width, height)
    return (
        f"pad={padded_width}:{padded_height}:0:0:black,"
        "scale=out_color_matrix=bt601:out_range=tv:flags=area+accurate_rnd,"
        f"format={CODED_PIXEL_FORMAT}"
    )


def decoder_output_filter(width: int | None, height: int | None) -> str:
    """ffmpeg filter turning decoded pictures into the stored ``yuv420p`` video.

    ``crop`` removes the padding (``exact=1``: the crop filter otherwise rounds odd sizes
    down to the chroma grid). Pictures deeper than 8 bits (VVC decodes to 10) are rounded to
    8 bits as ``(v + 2) >> 2``, like VTM's ``DecoderApp -d 8``; ``sws_dither=none`` because
    swscale otherwise adds an ordered dither. Already 8-bit pictures pass unchanged.
    """
    steps = []
    if width is not None and height is not None:
        steps.append(f"crop={width}:{height}:0:0:exact=1")
    steps.append(f"scale=sws_dither=none,format={CODED_PIXEL_FORMAT}")
    return ",".join(steps)


def lossless_output_argv(output: Path) -> list[str]:
    """The end of an ffmpeg command writing FFV1 (every frame a key frame) in Matroska,
    byte-identical for identical frames."""
    return [
        "-fps_mode", "passthrough",
        "-c:v", "ffv1", "-level", "3", "-g", "1", *BITEXACT_MATROSKA,
        "-f", "matroska", str(output),
    ]


def ffmpeg_decode_argv(
    bitstream: Path,
    output: Path,
    *,
    demuxer: str | None,
    width: int | None,
    height: int | None,
    fps: float | None,
) -> list[str]:
    """One ffmpeg command decoding ``bitstream`` with ffmpeg's own decoder into ``output``.

    ``demuxer`` names a raw elementary-stream demuxer (``"vvc"``, ``"hevc"``), which times
    frames at ``fps`` (if given, else 25) unless the stream signals its own frame rate (VUI
    timing, which VVenC and x265 write and VTM does not by default). ``None``: a container,
    whose own timing is kept. Frames are never dropped or repeated.
    """
    argv = [ffmpeg_executable(), "-hide_banner", "-nostdin", "-y"]
    if demuxer is not None:
        argv += ["-f", demuxer]
        if fps is not None:
            argv += ["-framerate", frame_rate_argument(fps)]
    argv += ["-i", str(bitstream), "-vf", decoder_output_filter(width, height)]
    return argv + lossless_output_argv(output)
