"""Person detections carried inside a VVC/HEVC bitstream as annotated regions SEI messages.

:func:`embed_detections` inserts, into the access unit of each picture whose detections
differ from the previous picture's (in output order), one prefix SEI NAL unit (VVC type 23,
HEVC type 39) holding one annotated regions message (H.274 payloadType 202):

* label index 0 is ``"person"`` (sent with the first object of each coded layer video
  sequence); ``ar_not_optimized_for_viewing_flag`` is 1 (the foreground video is coded for
  machines, not viewers); no partial-object flags, no label language;
* each box is ``ar_bounding_box_left/top/width/height`` in whole pixels, u(16) each;
* each score is ``ar_object_confidence`` with ``confidence_bits`` bits (default 8):
  ``min(round(score * 2**bits), 2**bits - 1)``, read back as that integer ``/ 2**bits``;
* objects persist: a box equal to one already tracked is not resent, a changed box reuses a
  gone object's index, objects that disappear are cancelled, and a picture whose boxes are
  all unchanged gets no SEI at all. State restarts at each new CLVS (IDR pictures).

The SEI goes just before the picture's picture header or first slice, so it is in that
picture's access unit; frames are matched to access units by output order (POC), see
:mod:`vcm.bitstream.annexb`. Decoders that ignore the SEI decode the very same pictures.

:func:`extract_detections` reads the boxes back: exactly :func:`quantise_detections` of what
was embedded (boxes of a frame sorted by ``x1, y1, x2, y2, score``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from vcm.bitstream.annexb import (
    HEVC_LAST_VCL,
    LIMITS,
    VVC,
    VVC_LAST_VCL,
    Picture,
    StreamInfo,
    UnsupportedStream,
    parse_stream,
    remove_emulation_prevention,
    sei_messages,
    sei_nal_unit,
)
from vcm.bitstream.annotated_regions import (
    ANNOTATED_REGIONS_PAYLOAD_TYPE,
    MAX_CONFIDENCE_BITS,
    MAX_UPDATES,
    AnnotatedRegions,
    ObjectState,
    Region,
    RegionsDecoder,
    read_annotated_regions,
    region_updates,
    write_annotated_regions,
)
from vcm.bitstream.bits import BitstreamError
from vcm.codecs.pipeline import EncodeResult, sidecar_path
from vcm.detections import PERSON, DetectionSequence, FrameDetections
from vcm.errors import VcmError
from vcm.fileio import atomic_output
from vcm.fileio import read_input_bytes

DEFAULT_CONFIDENCE_BITS = 8
"""Bits of ``ar_object_confidence``: steps of 1/256 (the VOC zip keeps 4 decimals), fine
enough for a score threshold, at one byte per box."""

PERSON_LABEL = PERSON.encode("ascii")
PERSON_LABEL_INDEX = 0


@dataclass(frozen=True)
class EmbedRecord:
    """What :func:`embed_detections` did.

    Attributes:
        syntax: ``"vvc"`` or ``"hevc"``.
        pictures: pictures in the stream (= frames of the detections).
        boxes: boxes embedded (all frames).
        boxes_sent: boxes written into SEIs; the others equal a box of the previous picture
            and persist without being resent.
        sei_units: SEI NAL units inserted.
        sei_bytes: bytes added to the stream (start codes included).
        confidence_bits: bits per confidence value.
        labels: whether objects carry the ``"person"`` label.
    """

    syntax: str
    pictures: int
    boxes: int
    boxes_sent: int
    sei_units: int
    sei_bytes: int
    confidence_bits: int
    labels: bool = True

    def to_dict(self) -> dict:
        return {
            "sei": "annotated regions (ITU-T H.274, payloadType 202)",
            "syntax": self.syntax,
            "pictures": self.pictures,
            "boxes": self.boxes,
            "boxes_sent": self.boxes_sent,
            "sei_units": self.sei_units,
            "sei_bytes": self.sei_bytes,
            "confidence_bits": self.confidence_bits,
            **({} if self.labels else {"labels": False}),
        }


def quantise_regions(
    frame: FrameDetections, width: int, height: int, confidence_bits: int = DEFAULT_CONFIDENCE_BITS
) -> list[Region]:
    """The regions an SEI carries for ``frame`` in a ``width`` x ``height`` picture.

    Edges are rounded to the nearest whole pixel (halves to even, as Python's ``round``) and
    clipped to the picture; a box narrower or lower than one pixel after rounding is
    widened to one pixel (moved inside the picture if needed), so every box stays a box.
    """
    if not 1 <= confidence_bits <= MAX_CONFIDENCE_BITS:
        raise ValueError(f"confidence bits must be 1..{MAX_CONFIDENCE_BITS}, got {confidence_bits}")
    regions = []
    steps = 1 << confidence_bits
    for box, score in zip(frame.boxes, frame.scores):
        left, right = _pixel_span(box[0], box[2], width)
        top, bottom = _pixel_span(box[1], box[3], height)
        confidence = int(min(max(round(float(score) * steps), 0), steps - 1))
        regions.append(Region(top, left, right - left, bottom - top, confidence))
    return regions


def _pixel_span(low: float, high: float, size: int) -> tuple[int, int]:
    start = int(min(max(round(float(low)), 0), size))
    end = int(min(max(round(float(high)), 0), size))
    if end - start < 1:
        end = start + 1
        if end > size:
            start, end = size - 1, size
    return start, end


def regions_to_frame(frame_number: int, regions: list[Region], confidence_bits: int | None) -> FrameDetections:
    """``regions`` as the record's boxes (``x1, y1, x2, y2`` pixels) and scores in [0, 1),
    sorted by ``x1, y1, x2, y2, score``; without confidence bits every score is 1."""
    rows = sorted(
        (
            float(region.left), float(region.top), float(region.left + region.width),
            float(region.top + region.height),
            1.0 if confidence_bits is None or region.confidence is None
            else region.confidence / (1 << confidence_bits),
        )
        for region in regions
    )
    array = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return FrameDetections(frame=frame_number, boxes=array[:, :4], scores=array[:, 4])


def quantise_detections(
    detections: DetectionSequence, width: int, height: int,
    confidence_bits: int = DEFAULT_CONFIDENCE_BITS,
) -> DetectionSequence:
    """``detections`` exactly as :func:`extract_detections` gives them back from a
    ``width`` x ``height`` stream they were embedded in."""
    frames = [
        regions_to_frame(frame.frame, quantise_regions(frame, width, height, confidence_bits),
                         confidence_bits)
        for frame in detections
    ]
    return DetectionSequence(width=width, height=height, frames=frames, source=detections.source)


def embed_into_stream(
    data: bytes, detections: DetectionSequence, *, name: str,
    confidence_bits: int = DEFAULT_CONFIDENCE_BITS, labels: bool = True,
) -> tuple[bytes, EmbedRecord]:
    """The Annex-B stream ``data`` with ``detections`` inserted as annotated regions SEIs.

    ``labels`` false leaves the object labels out (``ar_object_label_present_flag`` 0): no
    ``"person"`` string once per CLVS and two bits less per new box; readers take unlabelled
    objects for persons, the only class vcm sends (:func:`extract_from_stream`).

    ``name`` names the stream in error messages. Raises :class:`VcmError` for a stream that
    cannot be parsed or already carries annotated regions, detections whose frame count
    differs from the stream's picture count or whose frame size is neither the stream's
    (cropped) size nor that size less the encoder's padding to even width and height, or a
    frame with more than 255 boxes (H.274's limit on objects per message).
    """
    stream = _parse(data, name)
    _check_no_regions(stream, data, name)
    width, height = _check_geometry(stream, detections, name)
    pictures = stream.output_order()
    insertions: dict[int, bytes] = {}  # NAL unit index -> SEI NAL unit bytes (with start code)
    state: ObjectState = {}
    labels_sent = False
    clvs = -1
    boxes_sent = 0
    for picture, frame in zip(pictures, detections):
        if picture.clvs != clvs:
            clvs, state, labels_sent = picture.clvs, {}, False
        unit, state, sent = frame_sei_unit(
            stream.syntax, state, labels_sent, frame, width=width, height=height,
            confidence_bits=confidence_bits, temporal_id=picture.temporal_id, name=name, labels=labels,
        )
        boxes_sent += sent
        if unit is None:
            continue
        labels_sent = True
        insertions[picture.first_nal] = _with_start_code(stream, picture, unit)
    output = bytearray()
    position = 0
    for index in sorted(insertions):
        start = stream.units[index].start
        output += data[position:start]
        output += insertions[index]
        position = start
    output += data[position:]
    if len(output) > LIMITS.max_bytes:
        raise VcmError(f"{name}: with the SEIs the stream would be {len(output)} bytes, more "
                       f"than the limit of {LIMITS.max_bytes} a reader takes")
    record = EmbedRecord(
        syntax=stream.syntax, pictures=len(pictures), boxes=detections.count,
        boxes_sent=boxes_sent, sei_units=len(insertions), sei_bytes=sum(map(len, insertions.values())),
        confidence_bits=confidence_bits, labels=labels,
    )
    return bytes(output), record


def frame_sei_unit(
    syntax: str, state: ObjectState, labels_sent: bool, frame: FrameDetections, *,
    width: int, height: int, confidence_bits: int, temporal_id: int, name: str,
    labels: bool = True,
) -> tuple[bytes | None, ObjectState, int]:
    """The annotated regions SEI NAL unit (header included, start code not) of one picture.

    ``state`` holds the objects tracked so far in the CLVS and ``labels_sent`` whether the
    ``"person"`` label was sent in it. Returns the unit (``None`` where nothing changed), the
    new state and how many boxes the unit carries. ``labels=False`` sends the objects
    unlabelled (no label list, no label index: the cheapest the syntax allows). Raises :class:`VcmError` naming ``name``
    for a box or score that is not a number or more than 255 boxes.
    """
    if not (np.isfinite(frame.boxes).all() and np.isfinite(frame.scores).all()):
        raise VcmError(f"{name}: frame {frame.frame} has a box or score that is not a number")
    regions = quantise_regions(frame, width, height, confidence_bits)
    if len(regions) > MAX_UPDATES:
        raise VcmError(f"{name}: frame {frame.frame} has {len(regions)} boxes; an annotated "
                       f"regions SEI carries at most {MAX_UPDATES}")
    updates, state = region_updates(state, regions)
    sent = sum(isinstance(update.region, Region) for update in updates)
    if not updates and labels_sent:
        # The first picture of a CLVS always carries a message (the label, with objects or
        # none), so every stream vcm embedded into has an SEI, and a stream without any is
        # known to carry no detections (extract_from_stream refuses it); whole-stream and
        # per-access-unit embedding (vcm.bitstream.access_units) give the same bytes.
        return None, state, sent
    message = AnnotatedRegions(
        not_optimized_for_viewing=True, object_label_present=labels,
        confidence_bits=confidence_bits,
        labels={} if labels_sent or not labels else {PERSON_LABEL_INDEX: PERSON_LABEL},
        # region_updates labels each new object "person" (index 0): unlabelled here.
        objects=updates if labels else [replace(update, label_index=None) for update in updates],
    )
    unit = sei_nal_unit(syntax, ANNOTATED_REGIONS_PAYLOAD_TYPE, write_annotated_regions(message),
                        temporal_id)
    return unit, state, sent


def embed_detections(
    bitstream_path: str | Path, detections: DetectionSequence, output_path: str | Path,
    *, confidence_bits: int = DEFAULT_CONFIDENCE_BITS, labels: bool = True,
) -> EmbedRecord:
    """Write ``bitstream_path`` with ``detections`` embedded (see :func:`embed_into_stream`)
    to ``output_path`` atomically (it may be the same file)."""
    bitstream_path, output_path = Path(bitstream_path), Path(output_path)
    data = _read(bitstream_path)
    embedded, record = embed_into_stream(
        data, detections, name=str(bitstream_path), confidence_bits=confidence_bits,
        labels=labels,
    )
    with atomic_output(output_path) as temporary:
        temporary.write_bytes(embedded)
    return record


def extract_from_stream(
    data: bytes, *, name: str, width: int | None = None, height: int | None = None,
    frames: int | None = None,
) -> DetectionSequence:
    """The person boxes of the annotated regions SEIs in the Annex-B stream ``data``.

    One frame per picture, in output order; a frame holds the objects tracked at its picture
    (labelled ``"person"`` or unlabelled). ``width`` x ``height`` is the frame size recorded
    (default: the SPS's cropped picture size). ``frames``, if given, is the number of
    pictures the stream must hold (the sidecar's count). Raises :class:`VcmError` naming
    ``name`` for a stream or SEI that cannot be parsed, a stream missing pictures
    (:meth:`StreamInfo.missing_pictures`) or holding other than ``frames``, and a stream
    without any annotated regions SEI (no detections were embedded in it: every stream
    :func:`embed_into_stream` writes has one).
    """
    stream = _parse(data, name)
    missing = stream.missing_pictures()
    if missing:
        raise VcmError(f"{name}: {missing}: the stream is truncated or corrupt")
    if frames is not None and len(stream.pictures) != frames:
        raise VcmError(f"{name}: the stream holds {len(stream.pictures)} pictures but its "
                       f"sidecar records {frames} frames: the stream is truncated or corrupt")
    width = width if width is not None else stream.width
    height = height if height is not None else stream.height
    decoder = RegionsDecoder()
    sequence_frames = []
    clvs = -1
    messages = 0
    try:
        for number, picture in enumerate(stream.output_order(), start=1):
            if picture.clvs != clvs:
                clvs = picture.clvs
                decoder.reset()
            for message in _picture_messages(stream, data, picture.prefix_seis):
                decoder.apply(message)
                messages += 1
            regions = decoder.regions(PERSON_LABEL)
            for region in regions:
                if (region.width < 1 or region.height < 1 or region.left + region.width > width
                        or region.top + region.height > height):
                    raise BitstreamError(
                        f"frame {number}: box left {region.left} top {region.top} width "
                        f"{region.width} height {region.height} is empty or outside the "
                        f"{width}x{height} picture"
                    )
            sequence_frames.append(regions_to_frame(number, regions, decoder.confidence_bits))
    except BitstreamError as error:
        raise VcmError(f"{name}: {error}") from None
    if messages == 0:
        raise VcmError(f"{name}: the stream carries no annotated regions SEI message: no "
                       "detections were embedded in it (vcm encode --embed)")
    return DetectionSequence(width=width, height=height, frames=sequence_frames)


def extract_detections(
    bitstream_path: str | Path, *, width: int | None = None, height: int | None = None
) -> DetectionSequence:
    """The detections embedded in ``bitstream_path`` (see :func:`extract_from_stream`).

    Only a regular file of at most ``LIMITS.max_bytes`` is read. The frame size recorded is
    ``width`` x ``height`` if given, else the original size from the sidecar
    ``<bitstream>.json`` of ``vcm encode`` if there is one (the stream's pictures may be
    padded to even size), else the stream's cropped picture size. With a sidecar, the
    stream must have its recorded size in bytes and number of pictures, so a stream cut
    short is an error even where it ends at a picture boundary.
    """
    bitstream_path = Path(bitstream_path)
    data = _read(bitstream_path)
    encoded = None
    if sidecar_path(bitstream_path).is_file():
        encoded = EncodeResult.read(sidecar_path(bitstream_path))
        if len(data) != encoded.bytes:
            raise VcmError(f"{bitstream_path}: {len(data)} bytes, but its sidecar records "
                           f"{encoded.bytes}: the stream is truncated or was changed")
        if width is None and height is None:
            width, height = encoded.width, encoded.height
    return extract_from_stream(data, name=str(bitstream_path), width=width, height=height,
                               frames=None if encoded is None else encoded.frames)


def count_pictures(bitstream_path: str | Path) -> int:
    """The pictures of the VVC/HEVC stream at ``bitstream_path``, none missing.

    Raises :class:`~vcm.bitstream.annexb.UnsupportedStream` where the pictures cannot be
    counted (a stream beyond :data:`~vcm.bitstream.annexb.LIMITS`, or using what the
    parser does not follow), and :class:`VcmError` naming the file for a stream that is
    corrupt, cut inside a header, or missing pictures (:meth:`StreamInfo.missing_pictures`).
    """
    bitstream_path = Path(bitstream_path)
    if bitstream_path.stat().st_size > LIMITS.max_bytes:
        raise UnsupportedStream(f"more than the limit of {LIMITS.max_bytes} bytes")
    data = _read(bitstream_path)
    try:
        stream = parse_stream(data)
    except UnsupportedStream:
        raise
    except BitstreamError as error:
        raise VcmError(f"{bitstream_path}: {error}: the stream is truncated or corrupt") from None
    missing = stream.missing_pictures()
    if missing:
        raise VcmError(f"{bitstream_path}: {missing}: the stream is truncated or corrupt")
    return len(stream.pictures)


def _picture_messages(stream: StreamInfo, data: bytes, sei_indices: list[int]):
    for index in sei_indices:
        unit = stream.units[index]
        rbsp = remove_emulation_prevention(data[unit.begin + 2 : unit.end])
        for payload_type, payload in sei_messages(rbsp):
            if payload_type == ANNOTATED_REGIONS_PAYLOAD_TYPE:
                yield read_annotated_regions(payload)


def _check_no_regions(stream: StreamInfo, data: bytes, name: str) -> None:
    try:
        for picture in stream.pictures:
            for _ in _picture_messages(stream, data, picture.prefix_seis):
                raise VcmError(f"{name}: the stream already carries annotated regions SEIs")
    except BitstreamError as error:
        raise VcmError(f"{name}: {error}") from None


def _check_geometry(stream: StreamInfo, detections: DetectionSequence, name: str) -> tuple[int, int]:
    """The picture size boxes are clipped to; raise unless the detections fit the stream."""
    if len(detections) != len(stream.pictures):
        raise VcmError(f"{name}: the stream has {len(stream.pictures)} pictures but the "
                       f"detections cover {len(detections)} frames")
    size = (detections.width, detections.height)
    # vcm's encoders pad odd sizes by one pixel (vcm.codecs.base.padded_size).
    padded = (detections.width + detections.width % 2, detections.height + detections.height % 2)
    if (stream.width, stream.height) not in (size, padded):
        raise VcmError(f"{name}: the stream's pictures are {stream.width}x{stream.height} but "
                       f"the detections are for {detections.width}x{detections.height} frames")
    return size


def _last_vcl(syntax: str) -> int:
    return VVC_LAST_VCL if syntax == VVC else HEVC_LAST_VCL


def _parse(data: bytes, name: str) -> StreamInfo:
    try:
        return parse_stream(data)
    except BitstreamError as error:
        raise VcmError(f"{name}: {error}") from None


def _read(path: Path) -> bytes:
    return read_input_bytes(path, max_bytes=LIMITS.max_bytes, what="bitstream")


def _with_start_code(stream: StreamInfo, picture: Picture, unit: bytes) -> bytes:
    """The SEI NAL ``unit`` for ``picture`` with its start code: a zero_byte (4-byte start
    code) where the SEI opens its access unit (Annex B.2)."""
    previous = stream.units[picture.first_nal - 1] if picture.first_nal > 0 else None
    opens_unit = previous is None or previous.type <= _last_vcl(stream.syntax)
    return (b"\x00\x00\x00\x01" if opens_unit else b"\x00\x00\x01") + unit
