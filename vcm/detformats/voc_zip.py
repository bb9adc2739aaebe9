"""Detection format ``voc-zip``: the paper's zipped Pascal-VOC XML, one document per frame.

The zip holds one Pascal-VOC ``<annotation>`` document per frame, ``000001.xml``,
``000002.xml``, ... (6 digits, or as many as the frame count needs), every frame included, even
one without detections, so the zip alone gives the frame count. Unlike original VOC, which
stores 1-based inclusive integer corners, ``<xmin>``/``<ymin>``/``<xmax>``/``<ymax>`` here are
the record's 0-based coordinates with exclusive right/bottom edges (see
:mod:`vcm.detections`), as floats with 2 decimals; ``<score>`` has 4 decimals.
"""

from __future__ import annotations

import math
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from lxml import etree

from vcm.datasets.mot import MAX_FRAME_SIDE, MAX_FRAMES
from vcm.detections import PERSON, DetectionSequence, FrameDetections
from vcm.errors import VcmError
from vcm.fileio import atomic_output, input_file


ZIP_MEMBER_DATE = (1980, 1, 1, 0, 0, 0)
"""Timestamp of every zip member (the earliest a zip can store), so equal detections give equal
zip bytes: the zip's size enters bits-per-pixel."""


@dataclass(frozen=True)
class ZipLimits:
    """What a detections zip may hold: :func:`read_detections_zip` refuses to read, and
    :func:`write_detections_zip` refuses to write, anything beyond these (one table for both,
    so every zip vcm writes it can read back).

    Attributes:
        max_members: most members (frames) the zip may hold: vcm's frame bound.
        max_member_bytes: most uncompressed bytes of one member (about 16,000 boxes).
        max_total_bytes: most uncompressed bytes of all members together.
        max_frame_side: largest ``<width>`` and ``<height>`` in pixels.
    """

    max_members: int = MAX_FRAMES
    max_member_bytes: int = 4 * 1024 * 1024
    max_total_bytes: int = 1024 * 1024 * 1024
    max_frame_side: int = MAX_FRAME_SIDE


LIMITS = ZipLimits()


class VocFrame(NamedTuple):
    """One parsed frame document: its detections, the frame size in pixels and the source video."""

    detections: FrameDetections
    width: int
    height: int
    source: str


def format_coordinate(value: float) -> str:
    """A box coordinate as the XML file stores it: pixels with 2 decimals."""
    return f"{value:.2f}"


def as_written(boxes: np.ndarray) -> np.ndarray:
    """``boxes`` (N, 4) rounded exactly as :func:`frame_to_xml` writes them."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.array(
        [[float(format_coordinate(value)) for value in box] for box in boxes], dtype=np.float64
    ).reshape(-1, 4)


def frame_to_xml(
    frame: FrameDetections, *, width: int, height: int, filename: str = "", source: str = ""
) -> bytes:
    """Serialize one frame as a UTF-8 Pascal-VOC ``<annotation>`` document.

    ``width``/``height`` are the frame size in pixels; ``filename`` defaults to the frame's
    image name ``000001.png``; ``source`` goes in ``<source><video>``. Raises ``ValueError`` for
    a box or score that :func:`frame_from_xml` would reject once written (non-finite, a score
    outside [0, 1], or a box empty at 2 decimals), so every written zip can be read back.
    """
    if frame.frame < 1:
        raise ValueError(f"frame number must be 1 or more, got {frame.frame}")
    if width < 1 or height < 1:
        raise ValueError(f"frame {frame.frame}: frame size must be positive, got {width}x{height}")
    annotation = etree.Element("annotation")
    _child(annotation, "folder", "vcm")
    _child(annotation, "filename", filename or f"{frame.frame:06d}.png")
    source_element = _child(annotation, "source")
    _child(source_element, "database", "vcm")
    _child(source_element, "video", source)
    size = _child(annotation, "size")
    _child(size, "width", str(int(width)))
    _child(size, "height", str(int(height)))
    _child(size, "depth", "3")
    for index, (box, score) in enumerate(zip(frame.boxes, frame.scores)):
        score_text = f"{score:.4f}"
        corner_texts = [format_coordinate(value) for value in box]
        problem = _score_problem(float(score_text)) or _box_problem(
            *(float(text) for text in corner_texts)
        )
        if problem:
            raise ValueError(f"frame {frame.frame}: detection {index}: {problem}")
        detection = _child(annotation, "object")
        _child(detection, "name", PERSON)
        _child(detection, "score", score_text)
        _child(detection, "pose", "Unspecified")
        _child(detection, "truncated", "0")
        _child(detection, "difficult", "0")
        bndbox = _child(detection, "bndbox")
        for tag, text in zip(_CORNER_TAGS, corner_texts):
            _child(bndbox, tag, text)
    return etree.tostring(annotation, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def frame_from_xml(data: bytes, *, frame: int = 1, member: str = "<xml>") -> VocFrame:
    """Parse and validate one frame document written by :func:`frame_to_xml`.

    ``frame`` is the 1-based frame number to give the detections (the document does not hold
    it); ``member`` names the document in error messages. Objects whose ``<name>`` is not
    ``person`` are skipped; ``<score>`` and all four ``<bndbox>`` corners are required. Any
    DOCTYPE is an error (no entity is ever expanded or fetched), as is malformed XML or a
    missing, repeated or out-of-range value: each raises :class:`VcmError` starting ``member:``.
    """
    # Reject before parsing, so entity declarations (billion laughs, external entities) never
    # reach libxml2; the check after parsing catches a DOCTYPE hidden by a UTF-16 encoding.
    if re.search(rb"<!DOCTYPE|<!ENTITY", data, re.IGNORECASE):
        raise VcmError(f"{member}: a DOCTYPE or entity declaration is not allowed")
    try:
        annotation = etree.fromstring(data, _safe_parser())
    except etree.XMLSyntaxError as error:
        raise VcmError(f"{member}: not well-formed XML ({error})") from None
    docinfo = annotation.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise VcmError(f"{member}: a DOCTYPE or entity declaration is not allowed")
    if annotation.tag != "annotation":
        raise VcmError(f"{member}: root element is <{annotation.tag}>, expected <annotation>")
    size = _only(annotation, "size", member)
    width = _positive_int(_only(size, "width", member), member)
    height = _positive_int(_only(size, "height", member), member)
    source_element = _optional(annotation, "source", member)
    video = None if source_element is None else _optional(source_element, "video", member)
    source = "" if video is None else _text(video, member)
    boxes, scores = [], []
    for detection in annotation.findall("object"):
        if _text(_only(detection, "name", member), member) != PERSON:
            continue
        score = _finite_float(_only(detection, "score", member), member)
        bndbox = _only(detection, "bndbox", member)
        corners = [_finite_float(_only(bndbox, tag, member), member) for tag in _CORNER_TAGS]
        problem = _score_problem(score) or _box_problem(*corners)
        if problem:
            raise VcmError(f"{member}: object {len(scores) + 1}: {problem}")
        boxes.append(corners)
        scores.append(score)
    detections = FrameDetections(frame=frame, boxes=np.array(boxes), scores=np.array(scores))
    return VocFrame(detections, width, height, source)


def write_detections_zip(sequence: DetectionSequence, path: Path, *,
                         limits: ZipLimits = LIMITS) -> None:
    """Write ``sequence`` as a zip of per-frame VOC documents at ``path``, atomically.

    Members are DEFLATE-compressed, in frame order, with fixed timestamps and attributes and
    an empty ``<video>`` (``sequence.source`` is not written), so equal detections give
    byte-identical zips wherever the video is. On any error no file appears at ``path`` (an
    existing one is left as it was). Raises ``ValueError`` for a sequence without frames or
    whose frames are not numbered 1..N in order, and as :func:`frame_to_xml` does;
    :class:`VcmError` naming ``path`` for a zip that ``limits`` would not let
    :func:`read_detections_zip` read (too many frames, too large a frame size, a member or
    all members too large).
    """
    if not sequence.frames:
        raise ValueError(f"{path}: a detection sequence needs at least one frame")
    for expected, frame in enumerate(sequence.frames, start=1):
        if frame.frame != expected:
            raise ValueError(f"{path}: frame {expected} of the sequence is numbered {frame.frame}")
    if len(sequence.frames) > limits.max_members:
        raise VcmError(f"{path}: {len(sequence.frames)} frames, more than the limit of "
                       f"{limits.max_members} members a reader takes")
    if max(sequence.width, sequence.height) > limits.max_frame_side:
        raise VcmError(f"{path}: frame size {sequence.width}x{sequence.height} is larger than "
                       f"the limit of {limits.max_frame_side} pixels a reader takes")
    digits = _name_digits(len(sequence.frames))
    total_bytes = 0
    with atomic_output(path) as temporary:
        with zipfile.ZipFile(temporary, "w") as archive:
            for frame in sequence.frames:
                document = frame_to_xml(
                    frame,
                    width=sequence.width,
                    height=sequence.height,
                    filename=f"{frame.frame:0{digits}d}.png",
                    # <video> stays empty: the input path as given would make the zip's
                    # size, counted in bits per pixel, depend on where the video is kept.
                    # The run record names the video instead.
                )
                total_bytes += len(document)
                if len(document) > limits.max_member_bytes:
                    raise VcmError(
                        f"{path}: frame {frame.frame}: {len(frame)} boxes take {len(document)} "
                        f"bytes of XML, more than the limit of {limits.max_member_bytes} a "
                        "reader takes per member")
                if total_bytes > limits.max_total_bytes:
                    raise VcmError(
                        f"{path}: frame {frame.frame}: the members reach {total_bytes} bytes of "
                        f"XML, more than the limit of {limits.max_total_bytes} a reader takes "
                        "in total")
                archive.writestr(
                    _member_info(f"{frame.frame:0{digits}d}.xml"),
                    document,
                    # The smallest zip: its size is counted in bits-per-pixel.
                    compresslevel=9,
                )


def read_detections_zip(path: Path, *, limits: ZipLimits = LIMITS) -> DetectionSequence:
    """Read a zip written by :func:`write_detections_zip`, treating it as untrusted input.

    Members must be exactly the frame documents 1..N (``000001.xml`` ...), unencrypted, with
    safe relative names, within ``limits`` (uncompressed sizes are counted while reading, not
    taken from the zip's headers), and agree on the frame size and source. An empty zip, a
    corrupt or non-zip file, or any invalid member raises :class:`VcmError` naming ``path`` and
    the member.
    """
    path = input_file(path)
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_ERRORS as error:
        raise VcmError(f"{path}: not a readable zip file ({error})") from None
    with archive:
        by_name = _checked_members(archive.infolist(), path, limits)
        digits = _name_digits(len(by_name))
        frames: list[FrameDetections] = []
        first: VocFrame | None = None
        total_bytes = 0
        for number in range(1, len(by_name) + 1):
            name = f"{number:0{digits}d}.xml"
            label = f"{path}: member {name}"
            data = _read_bounded(archive, by_name[name], label, limits.max_member_bytes)
            total_bytes += len(data)
            if total_bytes > limits.max_total_bytes:
                raise VcmError(
                    f"{label}: members exceed {limits.max_total_bytes} bytes uncompressed in total"
                )
            parsed = frame_from_xml(data, frame=number, member=label)
            if max(parsed.width, parsed.height) > limits.max_frame_side:
                raise VcmError(f"{label}: frame size {parsed.width}x{parsed.height} is larger "
                               f"than the limit of {limits.max_frame_side} pixels")
            if first is None:
                first = parsed
            elif (parsed.width, parsed.height) != (first.width, first.height):
                raise VcmError(
                    f"{label}: frame size {parsed.width}x{parsed.height} differs from "
                    f"{first.width}x{first.height} in the first member"
                )
            elif parsed.source != first.source:
                raise VcmError(
                    f"{label}: <video> {parsed.source!r} differs from {first.source!r} "
                    "in the first member"
                )
            frames.append(parsed.detections)
    assert first is not None  # _checked_members rejects an empty zip
    return DetectionSequence(first.width, first.height, frames, first.source)


_CORNER_TAGS = ("xmin", "ymin", "xmax", "ymax")

# zipfile and zlib raise all of these on corrupt, truncated or unsupported archives
# (ValueError includes a UnicodeDecodeError from a member name).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
)

_FRAME_NAME = re.compile(r"[0-9]+\.xml")
_DRIVE_LETTER = re.compile(r"[A-Za-z]:")
# Python's float() also takes "nan", "inf", "1_0" and non-ASCII digits; VOC numbers are plain.
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_POSITIVE_INT = re.compile(r"[0-9]{1,9}")


def _name_digits(frame_count: int) -> int:
    return max(6, len(str(frame_count)))


def _member_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_MEMBER_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    # The defaults depend on the platform (create_system) and umask; fix them for equal bytes.
    info.create_system = 3
    info.external_attr = 0o644 << 16
    return info


def _child(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        # A processing instruction (e.g. a stylesheet) is never acted on; drop it unread.
        remove_pis=True,
    )


def _show(name: str) -> str:
    # A hostile member name could hold newlines or terminal escapes; print those escaped.
    return name if name.isprintable() else ascii(name)


def _checked_members(
    infos: list[zipfile.ZipInfo], path: Path, limits: ZipLimits
) -> dict[str, zipfile.ZipInfo]:
    """Return the members by name once every name, flag and header size is acceptable."""
    if not infos:
        raise VcmError(f"{path}: no frames (the zip has no members)")
    if len(infos) > limits.max_members:
        raise VcmError(f"{path}: {len(infos)} members, more than the limit of {limits.max_members}")
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        label = f"{path}: member {_show(name)}"
        parts = name.split("/")
        if (
            name.startswith("/")
            or "\\" in name
            or _DRIVE_LETTER.match(name)
            or ".." in parts
        ):
            raise VcmError(f"{label}: unsafe path (absolute, drive letter, backslash or '..')")
        if info.is_dir() or not name.endswith(".xml"):
            raise VcmError(f"{label}: not an .xml frame document")
        if info.flag_bits & 0x1:
            raise VcmError(f"{label}: encrypted members are not supported")
        if info.file_size > limits.max_member_bytes:
            raise VcmError(
                f"{label}: larger than the limit of {limits.max_member_bytes} bytes uncompressed"
            )
        if name in by_name:
            raise VcmError(f"{label}: appears more than once")
        by_name[name] = info
    digits = _name_digits(len(by_name))
    expected = [f"{number:0{digits}d}.xml" for number in range(1, len(by_name) + 1)]
    missing = [name for name in expected if name not in by_name]
    if missing:
        unexpected = sorted(set(by_name) - set(expected))
        raise VcmError(
            f"{path}: member {missing[0]} is missing; member {_show(unexpected[0])} is not a "
            f"frame of a {len(expected)}-frame zip (members must be {expected[0]}..{expected[-1]})"
        )
    return by_name


def _read_bounded(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, max_bytes: int
) -> bytes:
    """Decompress at most ``max_bytes`` + 1 bytes: the header's size may lie."""
    try:
        with archive.open(info) as stream:
            data = stream.read(max_bytes + 1)
    except _ZIP_ERRORS as error:
        raise VcmError(f"{label}: corrupt or unsupported member ({error})") from None
    if len(data) > max_bytes:
        raise VcmError(f"{label}: larger than the limit of {max_bytes} bytes uncompressed")
    return data


def _only(parent: etree._Element, tag: str, member: str) -> etree._Element:
    element = _optional(parent, tag, member)
    if element is None:
        raise VcmError(f"{member}: <{tag}> is missing")
    return element


def _optional(parent: etree._Element, tag: str, member: str) -> etree._Element | None:
    found = parent.findall(tag)
    if len(found) > 1:
        raise VcmError(f"{member}: <{tag}> appears {len(found)} times in <{parent.tag}>")
    return found[0] if found else None


def _text(element: etree._Element, member: str) -> str:
    if len(element):
        raise VcmError(f"{member}: <{element.tag}> must hold text, not elements")
    return (element.text or "").strip()


def _positive_int(element: etree._Element, member: str) -> int:
    text = _text(element, member)
    if not _POSITIVE_INT.fullmatch(text) or int(text) < 1:
        raise VcmError(f"{member}: <{element.tag}> is not a positive integer")
    return int(text)


def _finite_float(element: etree._Element, member: str) -> float:
    text = _text(element, member)
    if not _DECIMAL.fullmatch(text):
        raise VcmError(f"{member}: <{element.tag}> is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise VcmError(f"{member}: <{element.tag}> is not finite")
    return value


def _score_problem(score: float) -> str:
    if not (math.isfinite(score) and 0.0 <= score <= 1.0):
        return f"score {score} is not in [0, 1]"
    return ""


def _box_problem(xmin: float, ymin: float, xmax: float, ymax: float) -> str:
    if not all(math.isfinite(value) for value in (xmin, ymin, xmax, ymax)):
        return "box corners must be finite"
    if not (xmin < xmax and ymin < ymax):
        return f"empty box: need xmin < xmax and ymin < ymax, got {xmin}, {ymin}, {xmax}, {ymax}"
    return ""
