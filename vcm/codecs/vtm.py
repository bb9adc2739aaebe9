"""VVC with the reference software VTM (``EncoderApp``/``DecoderApp``), not shipped with vcm.

VTM reads and writes raw YUV files, so encoding is two commands (ffmpeg writes the padded
8-bit ``yuv420p`` frames to a file in the work folder, then ``EncoderApp`` codes it) and so is
decoding (``DecoderApp`` writes 8-bit ``yuv420p``, then ffmpeg crops it and stores it as FFV1).

VTM cannot encode without a configuration file (VTM 23.13 stops with "found fewer Reference
Picture Sets than GOPSize"): vcm uses VTM's own ``encoder_randomaccess_vtm.cfg``, found in the
``cfg/`` folder that a VTM build keeps beside or above its binaries, unless the codec option
``cfg`` names one.

VTM's long options need ``=``: ``--QP 32`` is silently ignored, ``--QP=32`` works.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
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
DEFAULT_CFG = "encoder_randomaccess_vtm.cfg"
# How far above the folder of EncoderApp to look for cfg/: VTM's cmake build puts the
# binaries in bin/umake/<compiler>/<arch>/<build type>/, five levels below the source's cfg/.
CFG_SEARCH_LEVELS = 6

# H.266 Annex A, general tier and level limits: for each level, the maximum luma picture size
# (samples) and luma sample rate (samples/s); the lowest level that holds the video is signalled.
VVC_LEVELS = [
    ("1", 36_864, 552_960),
    ("2", 122_880, 3_686_400),
    ("2.1", 245_760, 7_372_800),
    ("3", 552_960, 16_588_800),
    ("3.1", 983_040, 33_177_600),
    ("4", 2_228_224, 66_846_720),
    ("4.1", 2_228_224, 133_693_440),
    ("5", 8_912_896, 267_386_880),
    ("5.1", 8_912_896, 534_773_760),
    ("5.2", 8_912_896, 1_069_547_520),
    ("6", 35_651_584, 1_069_547_520),
    ("6.1", 35_651_584, 2_139_095_040),
    ("6.2", 35_651_584, 4_278_190_080),
]


@CODECS.register("vtm")
@dataclass(frozen=True)
class Vtm(Codec):
    """VTM at a constant QP, 8-bit input coded at 10 bits internally (as VVC's Main 10).

    Args:
        cfg: VTM configuration file; ``None``: VTM's ``encoder_randomaccess_vtm.cfg`` from
            the ``cfg/`` folder beside or above ``EncoderApp``.
        intra_period: frames between intra pictures (``--IntraPeriod``; overrides ``cfg``).
        level: VVC level signalled (``--Level``, e.g. ``"4.1"``); ``None``: the lowest level
            whose picture size and luma sample rate hold the video (H.266 Annex A). A
            constant QP does not constrain the bit rate, which the level also bounds.
        encoder: path of ``EncoderApp``; ``None``: ``$VCM_VTM_ENCODER``, else ``PATH``.
        decoder: path of ``DecoderApp``; ``None``: ``$VCM_VTM_DECODER``, else ``PATH``.

    ``encoder`` and ``decoder`` are paths on this machine: the sidecar records the programs
    run (``argv`` and ``tools``) but not these options, so a bitstream moved to another
    machine decodes with that machine's ``DecoderApp``.

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
        "level": Option(str, optional=True, choices=tuple(name for name, _, _ in VVC_LEVELS),
                        help="VVC level signalled, as text (e.g. \"5.1\"); default: the lowest that holds the video"),
    }

    cfg: str | None = None
    intra_period: int = 32
    level: str | None = None
    encoder: str | None = None
    decoder: str | None = None

    def __post_init__(self) -> None:
        check_positive(self.name, "intra_period", self.intra_period)
        if self.level is not None and str(self.level) not in {name for name, _, _ in VVC_LEVELS}:
            raise VcmError(f"vtm: unknown VVC level {self.level!r}; levels: "
                           f"{', '.join(name for name, _, _ in VVC_LEVELS)}")

    def options(self) -> dict:
        """The options that shape the bitstream (``cfg``, ``intra_period``, ``level``)."""
        return {"cfg": self.cfg, "intra_period": self.intra_period, "level": self.level}

    def check_tools(self) -> None:
        """Raise :class:`VcmError` unless ``EncoderApp``, ``DecoderApp`` and a cfg are found."""
        self.encoder_executable()
        self.decoder_executable()
        self.cfg_file()

    def encoder_executable(self) -> str:
        """The ``EncoderApp`` to run; raises :class:`VcmError` if there is none."""
        return _find_executable(self.encoder, ENCODER_VARIABLE, "EncoderApp", "encoder")

    def decoder_executable(self) -> str:
        """The ``DecoderApp`` to run; raises :class:`VcmError` if there is none."""
        return _find_executable(self.decoder, DECODER_VARIABLE, "DecoderApp", "decoder")

    def cfg_file(self) -> Path:
        """The VTM configuration file used: ``cfg`` if given, else VTM's random-access cfg
        found beside or above ``EncoderApp``; raises :class:`VcmError` if there is none."""
        if self.cfg is not None:
            if not Path(self.cfg).is_file():
                raise VcmError(f"{self.cfg}: VTM configuration file does not exist (codec "
                               f"option cfg; VTM ships {DEFAULT_CFG} in its cfg/ folder)")
            return Path(self.cfg)
        encoder = self.encoder_executable()
        found = find_default_cfg(encoder)
        if found is None:
            raise VcmError(
                f"{encoder}: VTM's {DEFAULT_CFG} not found in a cfg/ folder beside or above "
                f"it; pass the codec option cfg=PATH (e.g. -p cfg=VTM/cfg/{DEFAULT_CFG}, "
                "or in the sweep config codecs: {vtm: {cfg: PATH}})"
            )
        return found

    def encoder_tools(self) -> dict:
        """The encoder's version and the cfg's path and SHA-256, for the sidecar."""
        encoder = self.encoder_executable()
        cfg = self.cfg_file()
        return {
            "EncoderApp": {"path": encoder, "version": vtm_version(encoder)},
            "cfg": {"path": str(cfg), "sha256": file_sha256(cfg)},
        }

    def decoder_tools(self) -> dict:
        """The decoder's version, for the decoded video's sidecar."""
        decoder = self.decoder_executable()
        return {"DecoderApp": {"path": decoder, "version": vtm_version(decoder)}}

    def encode_argv(
        self, *, width: int, height: int, fps: float, frames: int, qp: int, output: Path,
        workdir: Path,
    ) -> list[list[str]]:
        self.check_qp(qp)
        encoder = self.encoder_executable()
        cfg = self.cfg_file()
        padded_width, padded_height = padded_size(width, height)
        raw_video = workdir / "input.yuv"
        write_raw = raw_bgr_input_argv(width, height, fps) + [
            "-vf", encoder_input_filter(width, height),
            "-f", "rawvideo", "-pix_fmt", CODED_PIXEL_FORMAT, str(raw_video),
        ]
        level = self.level or vvc_level(padded_width, padded_height, fps)
        encode = [
            encoder, "-c", str(cfg),
            "-i", str(raw_video), "-b", str(output),
            # The cfg names a reconstruction file in the current folder; an empty name
            # writes none (vcm decodes the bitstream instead).
            "--ReconFile=",
            f"--SourceWidth={padded_width}", f"--SourceHeight={padded_height}",
            f"--FrameRate={vtm_frame_rate(fps)}", f"--FramesToBeEncoded={frames}",
            "--InputChromaFormat=420", "--InputBitDepth=8", "--InternalBitDepth=10",
            f"--IntraPeriod={self.intra_period}", f"--QP={qp}", f"--Level={level}",
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


def vtm_frame_rate(fps: float) -> str:
    """``fps`` as VTM 23's ``--FrameRate`` takes it, ``num:den`` (29.97 -> ``30000:1001``,
    0.2 -> ``1:5``); denominators up to 1001 cover the NTSC rates."""
    if not fps > 0:
        raise VcmError(f"vtm: frame rate must be positive, got {fps!r}")
    rate = Fraction(fps).limit_denominator(1001)
    return f"{rate.numerator}:{rate.denominator}"


def vvc_level(width: int, height: int, fps: float) -> str:
    """The lowest VVC level (H.266 Annex A) whose maximum picture size holds ``width`` x
    ``height`` luma samples (each side at most sqrt(8 x MaxLumaPs)) and whose maximum luma
    sample rate holds ``fps`` frames/s of them."""
    samples = width * height
    for name, max_picture, max_rate in VVC_LEVELS:
        side = (8 * max_picture) ** 0.5
        if samples <= max_picture and max(width, height) <= side and samples * fps <= max_rate:
            return name
    raise VcmError(f"vtm: {width}x{height} at {fps:g} frames/s exceeds every VVC level")


def find_default_cfg(encoder: str | Path) -> Path | None:
    """VTM's ``encoder_randomaccess_vtm.cfg`` in a ``cfg/`` folder beside ``encoder`` or in
    one of the :data:`CFG_SEARCH_LEVELS` folders above it (links resolved), or ``None``."""
    folder = Path(encoder).resolve().parent
    for candidate in [folder, *folder.parents][:CFG_SEARCH_LEVELS]:
        cfg = candidate / "cfg" / DEFAULT_CFG
        if cfg.is_file():
            return cfg
    return None


@lru_cache(maxsize=None)
def vtm_version(program: str) -> str:
    """The version VTM's ``program`` prints (``"23.13"``), or ``"unknown"``."""
    try:
        completed = subprocess.run([program, "--help"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(rb"VTM (?:Encoder|Decoder) Version (\S+)", completed.stdout)
    return match.group(1).decode() if match else "unknown"


def file_sha256(path: Path) -> str:
    """SHA-256 of the file at ``path``, in hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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
