"""Encoding a video into a bitstream and decoding it back: the I/O edge of the codec stage.

Every bitstream ``X`` gets a sidecar ``X.json`` (an :class:`EncodeResult`) and every decoded
video ``Y`` a sidecar ``Y.json`` (a :class:`DecodeResult`). Outputs are written atomically:
a failed encoder or decoder leaves neither the output nor its temporary files behind.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from tqdm import tqdm

from vcm.codecs.base import CODECS, Codec, build_codec, padded_size
from vcm.datasets.mot import MAX_FPS, MAX_FRAME_SIDE, MAX_FRAMES
from vcm.detections import DetectionSequence
from vcm.errors import VcmError, shown
from vcm.ffmpeg import ffmpeg_version, run_command
from vcm.fileio import atomic_output, work_folder
from vcm.jsonio import load_json
from vcm.logs import package_version
from vcm.registry import Option
from vcm.video import count_frames, open_video

LOG = logging.getLogger(__name__)

PROGRAM_OPTIONS = ("encoder", "decoder")
"""Codec options that name programs to run; a sidecar's values of them are ignored."""

# The codec that decodes a bitstream without a sidecar, by its suffix. ffmpeg's decoders
# handle any conforming stream, VTM's included.
CODEC_BY_EXTENSION = {
    ".266": "vvenc",
    ".vvc": "vvenc",
    ".265": "x265",
    ".hevc": "x265",
    ".mkv": "ffv1",
}


def sidecar_path(path: str | Path) -> Path:
    """The JSON record beside ``path``: ``foo.266`` -> ``foo.266.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


@dataclass(frozen=True)
class EncodeResult:
    """One encoded bitstream, as stored in its sidecar JSON.

    Attributes:
        bitstream: file name of the bitstream (the sidecar sits beside it).
        input: the video that was encoded, as given.
        codec: registry name of the codec (``vvenc``, ``x265``, ``vtm``, ``ffv1``).
        qp: quantisation parameter (recorded but ignored by ``ffv1``).
        options: the codec's keyword arguments (``preset``, ``intra_period``, ...).
        argv: the commands run, in order (temporary paths as they were).
        width, height: original frame size in pixels (the decoded video's size).
        padded_width, padded_height: size coded, rounded up to even, in pixels.
        fps: frames per second.
        frames: frames encoded.
        bytes: size of the bitstream file in bytes.
        encode_seconds: wall-clock seconds of the commands (frame reading included, as it
            is piped into them).
        ffmpeg_version: first line of ``ffmpeg -version``.
        vcm_version: installed version of the vcm package.
        embedded_detections: ``None``, or what was embedded as annotated regions SEIs
            (``vcm.bitstream.EmbedRecord.to_dict()`` plus ``detections``, the file as given);
            ``bytes`` then counts the SEIs too.
        tools: the codec's programs and files other than ffmpeg, with their versions or
            SHA-256 (VTM: ``EncoderApp`` and its cfg); empty for ffmpeg's own codecs.
    """

    bitstream: str
    input: str
    codec: str
    qp: int
    options: dict
    argv: list[list[str]]
    width: int
    height: int
    padded_width: int
    padded_height: int
    fps: float
    frames: int
    bytes: int
    encode_seconds: float
    ffmpeg_version: str
    vcm_version: str
    embedded_detections: dict | None = None
    tools: dict = dataclasses.field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Same as :attr:`encode_seconds`."""
        return self.encode_seconds

    def write(self, path: Path) -> None:
        """Write this record as JSON to ``path`` (atomically)."""
        _write_json(dataclasses.asdict(self), path)

    @classmethod
    def read(cls, path: str | Path) -> EncodeResult:
        """Read a sidecar written by :meth:`write`; raise :class:`VcmError` if malformed."""
        return _read_json(cls, Path(path))


@dataclass(frozen=True)
class DecodeResult:
    """One decoded video (FFV1 ``yuv420p`` in Matroska), as stored in its sidecar JSON.

    Attributes:
        output: file name of the decoded video (the sidecar sits beside it).
        bitstream: the bitstream that was decoded, as given.
        codec: registry name of the codec whose decoder ran.
        argv: the commands run, in order.
        width, height: size of the decoded video in pixels; ``None`` when not cropped
            and not known (a bitstream without sidecar).
        fps: frames per second given to the decoder (``None``: none given). A VVC/HEVC
            stream that signals its own frame rate (VVenC's and x265's do) keeps it, and
            FFV1 keeps its container's; raw VTM output and streams without timing get it.
        decode_seconds: wall-clock seconds of the commands.
        ffmpeg_version: first line of ``ffmpeg -version``.
        vcm_version: installed version of the vcm package.
        frames: frames in the decoded video (``None`` in sidecars written before it was kept).
        tools: the decoder's programs other than ffmpeg and their versions (VTM's
            ``DecoderApp``); empty for ffmpeg's own decoders.
    """

    output: str
    bitstream: str
    codec: str
    argv: list[list[str]]
    width: int | None
    height: int | None
    fps: float | None
    decode_seconds: float
    ffmpeg_version: str
    vcm_version: str
    frames: int | None = None
    tools: dict = dataclasses.field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Same as :attr:`decode_seconds`."""
        return self.decode_seconds

    def write(self, path: Path) -> None:
        """Write this record as JSON to ``path`` (atomically)."""
        _write_json(dataclasses.asdict(self), path)

    @classmethod
    def read(cls, path: str | Path) -> DecodeResult:
        """Read a sidecar written by :meth:`write`; raise :class:`VcmError` if malformed."""
        return _read_json(cls, Path(path))


EMBED_OPTIONS = {"confidence_bits": int, "labels": bool}
"""What ``vcm encode --embed-option`` takes, by type."""


def checked_embed_options(options: dict | None) -> dict:
    """``options`` if each is one of :data:`EMBED_OPTIONS` with a value of its type (and
    ``confidence_bits`` in 1..16), else :class:`VcmError` naming the first that is not."""
    from vcm.bitstream.annotated_regions import MAX_CONFIDENCE_BITS

    options = dict(options or {})
    for key, value in options.items():
        kind = EMBED_OPTIONS.get(key)
        if kind is None:
            raise VcmError(f"unknown embed option {key!r}; options: {', '.join(EMBED_OPTIONS)}")
        if type(value) is not kind or (key == "confidence_bits"
                                       and not 1 <= value <= MAX_CONFIDENCE_BITS):
            wanted = (f"a whole number from 1 to {MAX_CONFIDENCE_BITS}" if kind is int
                      else "true or false")
            raise VcmError(f"embed option {key} must be {wanted}, got {value!r}")
    return options


def encode_video(
    input_video: str | Path,
    output: str | Path,
    *,
    codec: str,
    qp: int,
    log_path: Path | None = None,
    progress: bool = True,
    detections: DetectionSequence | None = None,
    detections_file: str = "",
    embed_options: dict | None = None,
    **codec_options,
) -> EncodeResult:
    """Encode ``input_video`` (any video :func:`vcm.video.open_video` reads) into ``output``.

    Frames are read as BGR and piped raw into ffmpeg, which pads them to even size and
    converts them to 8-bit ``yuv420p`` (BT.601, limited range; see :mod:`vcm.codecs.base`).
    Writes the bitstream and its sidecar ``<output>.json`` atomically; commands and their
    output are appended to ``log_path`` if given. A progress bar over the frames piped goes
    to stderr unless ``progress`` is false.

    ``detections`` (of the input video, from ``detections_file``), if given, are embedded
    into the bitstream as annotated regions SEI messages (:mod:`vcm.bitstream`; VVC and HEVC
    codecs only) before it gets its final name, with ``embed_options`` (``confidence_bits``,
    ``labels``: :func:`vcm.bitstream.embed_into_stream`).

    Raises :class:`VcmError` for an unreadable input, an unknown codec or option, a QP out
    of the codec's range, or a failing command (with the tail of its log).
    """
    input_video, output = Path(input_video), Path(output)
    embed_options = checked_embed_options(embed_options)
    coder = build_codec(codec, **codec_options)
    coder.check_qp(qp)
    source = open_video(input_video)
    info = source.info
    if detections is not None:
        if coder.extension not in (".266", ".265"):
            raise VcmError(f"{codec}: only VVC and HEVC bitstreams can carry detections")
        detections.check_fits(info.width, info.height, info.frames,
                              label=detections_file or "detections", video=str(input_video))
    padded_width, padded_height = padded_size(info.width, info.height)
    with atomic_output(output) as bitstream:
        with work_folder(output) as work:
            argvs = coder.encode_argv(
                width=info.width, height=info.height, fps=info.fps, frames=info.frames,
                qp=qp, output=bitstream, workdir=Path(work),
            )
            with tqdm(
                total=info.frames, desc=f"encode {codec} qp {qp}", unit="frame",
                file=sys.stderr, disable=not progress,
            ) as bar:
                frames = _CountedFrames(source, bar)
                seconds = _run_all(
                    argvs, log_path, frames, what=f"encoding {input_video} with {codec}"
                )
        if frames.count == 0:
            raise VcmError(f"{input_video}: no frames to encode")
        if frames.count != info.frames:
            raise VcmError(
                f"{input_video}: {frames.count} frames decoded but the video declares {info.frames}"
            )
        _check_written(bitstream, output, f"the {codec} encoder")
        embedded = None
        if detections is not None:
            from vcm.bitstream import embed_into_stream

            data, record = embed_into_stream(bitstream.read_bytes(), detections, name=str(output),
                                             **embed_options)
            bitstream.write_bytes(data)
            embedded = {**record.to_dict(), "detections": detections_file}
        result = EncodeResult(
            bitstream=output.name,
            input=str(input_video),
            codec=codec,
            qp=qp,
            options=coder.options(),
            argv=argvs,
            width=info.width,
            height=info.height,
            padded_width=padded_width,
            padded_height=padded_height,
            fps=info.fps,
            frames=frames.count,
            bytes=bitstream.stat().st_size,
            encode_seconds=seconds,
            ffmpeg_version=ffmpeg_version(),
            vcm_version=package_version("vcm"),
            embedded_detections=embedded,
            tools=coder.encoder_tools(),
        )
        # The sidecar goes first: a bitstream under its final name always has one.
        result.write(sidecar_path(output))
    LOG.info(
        "%s qp %d: %s, %d frames, %d bytes, %.2f s (%.2f frames/s)",
        codec, qp, output, result.frames, result.bytes, seconds,
        result.frames / seconds if seconds > 0 else float("inf"),
    )
    return result


def decode_video(
    bitstream: str | Path,
    output: str | Path,
    *,
    log_path: Path | None = None,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    codec: str | None = None,
    codec_options: dict | None = None,
) -> DecodeResult:
    """Decode ``bitstream`` into ``output``: lossless FFV1 ``yuv420p`` in Matroska.

    The codec, original ``width`` x ``height`` (pixels) and ``fps`` (frames/s, used where
    the bitstream does not signal its own rate) come from the sidecar ``<bitstream>.json``
    unless given. Without a sidecar the codec follows the
    suffix (``.266`` VVC, ``.265``/``.hevc`` HEVC, ``.mkv`` FFV1) and the decoded size is
    kept unless both ``width`` and ``height`` are given. The padding added for encoding is
    cropped off; 10-bit pictures are rounded to 8 bits. Writes ``output`` and its sidecar
    ``<output>.json`` atomically.

    ``codec`` overrides the sidecar's, e.g. ``"vvenc"`` decodes a VTM bitstream with
    ffmpeg's VVC decoder instead of ``DecoderApp``. ``codec_options`` override the
    sidecar's options, e.g. ``{"decoder": PATH}`` for VTM (the sidecar keeps no program
    paths, so a bitstream moved to another machine decodes with that machine's programs).

    Raises :class:`VcmError` for a missing bitstream, an unknown codec or a failing command.
    """
    bitstream, output = Path(bitstream), Path(output)
    if not bitstream.is_file():
        raise VcmError(f"{bitstream}: bitstream does not exist")
    if (width is None) != (height is None):
        raise VcmError(f"{bitstream}: give both width and height, or neither")
    encoded = _read_sidecar(bitstream)
    options: dict = {}
    if encoded is not None:
        codec = codec or encoded.codec
        options = encoded.options if codec == encoded.codec else {}
        # A sidecar may come from anyone: programs to run are never taken from it (the
        # decoder is found on this machine: PATH, environment, or codec_options).
        options = {key: value for key, value in options.items() if key not in PROGRAM_OPTIONS}
        if width is None:
            width, height = encoded.width, encoded.height
        fps = fps if fps is not None else encoded.fps
    if codec is None:
        codec = CODEC_BY_EXTENSION.get(bitstream.suffix.lower())
        if codec is None:
            known = ", ".join(sorted(CODEC_BY_EXTENSION))
            raise VcmError(
                f"{bitstream}: no sidecar {sidecar_path(bitstream).name} and an unknown "
                f"suffix (known: {known}); name the codec"
            )
    coder: Codec = build_codec(codec, **{**options, **(codec_options or {})})
    with atomic_output(output) as decoded:
        with work_folder(output) as work:
            argvs = coder.decode_argv(
                bitstream=bitstream, output=decoded, width=width, height=height, fps=fps,
                workdir=Path(work),
            )
            seconds = _run_all(argvs, log_path, None, what=f"decoding {bitstream} with {codec}")
        _check_written(decoded, output, f"the {codec} decoder")
        frames = count_frames(decoded)
        if encoded is not None and frames != encoded.frames:
            raise VcmError(
                f"{bitstream}: decoded {frames} frames but its sidecar records {encoded.frames} "
                "encoded; the bitstream is truncated or corrupt"
            )
        if encoded is None:
            _check_against_stream(bitstream, frames, coder)
        result = DecodeResult(
            output=output.name,
            bitstream=str(bitstream),
            codec=codec,
            argv=argvs,
            width=width,
            height=height,
            fps=fps,
            frames=frames,
            decode_seconds=seconds,
            ffmpeg_version=ffmpeg_version(),
            vcm_version=package_version("vcm"),
            tools=coder.decoder_tools(),
        )
        result.write(sidecar_path(output))
    LOG.info("%s: decoded %s to %s in %.2f s", codec, bitstream, output, seconds)
    return result


def _check_against_stream(bitstream: Path, frames: int, coder: Codec) -> None:
    """Without a sidecar: raise :class:`VcmError` unless a VVC/HEVC ``bitstream`` holds
    ``frames`` pictures, none missing (:func:`vcm.bitstream.count_pictures`); log a warning
    where that cannot be told (an FFV1 file, a stream the parser does not follow)."""
    if coder.extension not in (".266", ".265"):
        LOG.warning("%s: no sidecar and no picture count to check the %d decoded frames "
                    "against; a truncated file would go unnoticed", bitstream, frames)
        return
    from vcm.bitstream import count_pictures
    from vcm.bitstream.annexb import UnsupportedStream

    try:
        pictures = count_pictures(bitstream)
    except UnsupportedStream as error:
        LOG.warning("%s: no sidecar, and the stream's pictures cannot be counted (%s): the "
                    "%d decoded frames are not checked", bitstream, error, frames)
        return
    if pictures != frames:
        raise VcmError(f"{bitstream}: decoded {frames} frames but the stream holds {pictures} "
                       "pictures; the bitstream is truncated or corrupt")


class _CountedFrames:
    """Iterates ``frames`` once, counting them in ``count`` and advancing ``bar``."""

    def __init__(self, frames: Iterable[np.ndarray], bar: tqdm) -> None:
        self.frames = frames
        self.bar = bar
        self.count = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in self.frames:
            self.count += 1
            self.bar.update()
            yield frame


def _run_all(
    argvs: list[list[str]],
    log_path: Path | None,
    frames: Iterable[np.ndarray] | None,
    *,
    what: str,
) -> float:
    """Run ``argvs`` in order, ``frames`` piped into the first; return their total seconds."""
    seconds = 0.0
    for index, argv in enumerate(argvs):
        result = run_command(
            argv, log_path=log_path, frames=frames if index == 0 else None, what=what
        )
        seconds += result.seconds
    return seconds


def _check_written(temporary: Path, output: Path, program: str) -> None:
    """Raise :class:`VcmError` if ``program`` exited 0 but left ``temporary`` missing or empty."""
    if not temporary.is_file() or temporary.stat().st_size == 0:
        raise VcmError(f"{output}: {program} exited without error but wrote nothing")


def _read_sidecar(bitstream: Path) -> EncodeResult | None:
    path = sidecar_path(bitstream)
    return EncodeResult.read(path) if path.is_file() else None


def _write_json(record: dict, path: Path) -> None:
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _read_json(cls, path: Path):
    """The ``cls`` record (:class:`EncodeResult` or :class:`DecodeResult`) in the sidecar at
    ``path``, every field checked (:func:`_sidecar_problem`): a sidecar may come from anyone."""
    record = load_json(path)
    problem = _sidecar_problem(cls, record)
    if problem:
        raise VcmError(f"{path}: not a valid {cls.__name__} sidecar ({problem})")
    return cls(**record)


def _sidecar_problem(cls, record: object) -> str | None:
    """Why ``record`` is not a valid ``cls`` sidecar, or ``None``.

    Exactly the record's fields, each of its declared type: whole numbers where ints are
    declared (frame sizes 1..MAX_FRAME_SIDE, counts 0..MAX_FRAMES or more for bytes), finite
    non-negative seconds, a frame rate in (0, MAX_FPS], a registered codec whose options pass
    its schema, argv a list of lists of text.
    """
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    fields = {field.name: field.type for field in dataclasses.fields(cls)}
    # Fields with a default came later; sidecars written before them may lack them.
    required = {field.name for field in dataclasses.fields(cls)
                if field.default is dataclasses.MISSING}
    missing, extra = sorted(required - set(record)), sorted(set(record) - set(fields))
    if missing or extra:
        return (f"missing {', '.join(missing) or 'nothing'}, unexpected "
                f"{', '.join(shown(key) for key in extra) or 'nothing'}")
    for name, declared in fields.items():
        if name not in record:
            continue
        value = record[name]
        if value is None and declared.endswith("| None"):
            continue
        option = _SIDECAR_FIELDS.get(name) or _SIDECAR_TYPES[declared.removesuffix(" | None")]
        problem = option.problem(value)
        if problem:
            return f"{name} {problem}"
    if record["codec"] not in CODECS.names():
        return f"unknown codec {shown(record['codec'])}"
    if not all(isinstance(argv, list) and all(isinstance(part, str) for part in argv)
               for argv in record["argv"]):
        return "argv must be a list of lists of text"
    problems = CODECS.option_problems(record["codec"], record.get("options"))
    return "; ".join(problems) if problems else None


_SIDECAR_TYPES = {
    "str": Option(str),
    "int": Option(int),
    "float": Option(float),
    "dict": Option(dict),
    "list[list[str]]": Option(list),
}
_SIDECAR_FIELDS = {
    "width": Option(int, low=1, high=MAX_FRAME_SIDE),
    "height": Option(int, low=1, high=MAX_FRAME_SIDE),
    "padded_width": Option(int, low=1, high=MAX_FRAME_SIDE + 1),
    "padded_height": Option(int, low=1, high=MAX_FRAME_SIDE + 1),
    "frames": Option(int, low=0, high=MAX_FRAMES),
    "bytes": Option(int, low=0),
    "qp": Option(int, low=-100, high=100),
    "fps": Option(float, above=0.0, high=MAX_FPS),
    "encode_seconds": Option(float, low=0.0),
    "decode_seconds": Option(float, low=0.0),
}
