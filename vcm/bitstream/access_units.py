"""Annex-B streams one access unit at a time: for live coding, where a stream arrives in pieces.

* :class:`AccessUnitSplitter` cuts a byte stream, fed in pieces of any size, into whole
  access units (AUs). Every AU must open with an access unit delimiter (AUD: VVC type 20,
  HEVC type 35; VVenC writes one by default, x265 with ``aud=1``). An AU is complete when
  the next AUD starts, or, without waiting for it, once a suffix SEI NAL unit carrying a
  decoded picture hash (payloadType 132, which VVenC and x265 write after a picture's
  slices on request) has all its bytes: the hash is the last NAL unit of its AU, and its
  length is known from its own payload size. So a low-delay receiver need not wait one
  frame for the next AU to know the current one has ended.
* :class:`AccessUnitEmbedder` inserts each picture's annotated regions SEI into its AU as
  :func:`vcm.bitstream.embedded.embed_into_stream` does for a whole stream: the AUs it
  returns, concatenated, are byte for byte that function's output on the whole stream of a
  coder without picture reordering (decoding order = output order).
* :func:`access_unit_delimiter` writes an AUD for a picture of any slice type, which a
  decoder fed one AU at a time can be given to close the AU before it.
"""

from __future__ import annotations

import re

from vcm.bitstream.annexb import (
    HEVC,
    HEVC_BLA_W_LP,
    HEVC_IDR_N_LP,
    VVC,
    VVC_IDR_N_LP,
    VVC_IDR_W_RADL,
    nal_unit_header,
    parse_stream,
    remove_emulation_prevention,
    sei_messages,
)
from vcm.bitstream.annotated_regions import (
    ANNOTATED_REGIONS_PAYLOAD_TYPE,
    Region,
    RegionsDecoder,
    read_annotated_regions,
)
from vcm.bitstream.bits import BitstreamError
from vcm.bitstream.embedded import (
    DEFAULT_CONFIDENCE_BITS,
    EmbedRecord,
    PERSON_LABEL,
    _last_vcl,
    frame_sei_unit,
    regions_to_frame,
)
from vcm.detections import FrameDetections

AUD = {VVC: 20, HEVC: 35}
SUFFIX_SEI = {VVC: 24, HEVC: 40}
DECODED_PICTURE_HASH = 132

MAX_ACCESS_UNIT_BYTES = 8 << 20
"""Largest AU accepted (8 MiB): an intra 4K picture at QP 0 stays below it."""
MAX_NAL_UNITS = 600
"""Most NAL units in one AU: parameter sets, SEIs, a picture header and many slices."""

_START_CODE = re.compile(b"\x00\x00\x01")


def access_unit_delimiter(syntax: str) -> bytes:
    """An AUD NAL unit with its 4-byte start code, for a picture of any slice type.

    VVC: ``aud_irap_or_gdr_flag`` 0, ``aud_pic_type`` 2 (B, P or I slices); HEVC:
    ``pic_type`` 2. Then ``rbsp_trailing_bits``.
    """
    payload = b"\x28" if syntax == VVC else b"\x50"
    return b"\x00\x00\x00\x01" + nal_unit_header(syntax, AUD[syntax], 0, 0) + payload


def nal_type(syntax: str, header: bytes) -> int:
    """``nal_unit_type`` from the first two bytes of a NAL unit."""
    return header[1] >> 3 if syntax == VVC else (header[0] >> 1) & 0x3F


class AccessUnitSplitter:
    """Whole access units out of Annex-B bytes fed in pieces (see the module docstring).

    Args:
        syntax: ``"vvc"`` or ``"hevc"``.
        max_bytes: largest AU accepted, in bytes.

    :meth:`feed` raises :class:`BitstreamError` for bytes that are not an Annex-B stream of
    AUD-led AUs (garbage, a NAL unit with the forbidden bit, an AU over the limits).
    """

    def __init__(self, syntax: str, max_bytes: int = MAX_ACCESS_UNIT_BYTES) -> None:
        if syntax not in AUD:
            raise ValueError(f"syntax must be vvc or hevc, got {syntax!r}")
        self.syntax = syntax
        self.max_bytes = max_bytes
        self.buffer = bytearray()  # the current AU so far
        self.nal_starts: list[int] = []  # offsets in buffer of its NAL units' first header byte
        self.scanned = 0  # buffer offset below which start codes were already found
        self.has_vcl = False
        self.hashed = False  # whether AUs so far ended with a decoded picture hash
        self.bytes_fed = 0

    def feed(self, data: bytes) -> list[bytes]:
        """The AUs that ``data`` completes, in stream order."""
        self.bytes_fed += len(data)
        self.buffer += data
        complete = []
        while True:
            # Two bytes back: a start code may straddle two pieces.
            match = _START_CODE.search(self.buffer, max(self.scanned - 2, 0))
            if match is None:
                if not self.nal_starts and self.buffer.strip(b"\x00"):
                    raise BitstreamError("bytes before the first start code are not zero: "
                                         "not an Annex-B stream")
                self.scanned = len(self.buffer)
                break
            begin = match.end()
            if len(self.buffer) < begin + 2:
                self.scanned = match.start() + 2  # its header is not here yet: find it again
                break
            if not self.nal_starts:
                if self.buffer[: match.start()].strip(b"\x00"):
                    raise BitstreamError("bytes before the first start code are not zero: "
                                         "not an Annex-B stream")
                # Keep one zero_byte before the AU's first start code.
                cut = max(match.start() - 1, 0)
                del self.buffer[:cut]
                begin -= cut
            else:
                self._close_nal(match.start())
            unit_type = nal_type(self.syntax, self.buffer[begin : begin + 2])
            if unit_type == AUD[self.syntax] and self.nal_starts:
                if not self.has_vcl:
                    raise BitstreamError("an access unit delimiter follows an access unit "
                                         "without a picture")
                start = begin - 3
                if start > 0 and self.buffer[start - 1] == 0:
                    start -= 1
                complete.append(self._take(start))
                begin -= start
            elif not self.nal_starts and unit_type != AUD[self.syntax]:
                raise BitstreamError(f"an access unit starts with NAL unit type {unit_type}, "
                                     "not an access unit delimiter")
            self.nal_starts.append(begin)
            if len(self.nal_starts) > MAX_NAL_UNITS:
                raise BitstreamError(f"an access unit has more than {MAX_NAL_UNITS} NAL units")
            self.scanned = begin + 2
        if self.nal_starts:
            complete += self._hash_complete()
        if len(self.buffer) > self.max_bytes:
            raise BitstreamError(f"an access unit is larger than {self.max_bytes} bytes")
        return complete

    def flush(self) -> bytes | None:
        """The last AU at the end of the stream, if it has a picture; raises
        :class:`BitstreamError` for trailing bytes that are no whole AU."""
        if not self.nal_starts:
            if self.buffer.strip(b"\x00"):
                raise BitstreamError("the stream ends with bytes that are no NAL unit")
            return None
        self._close_nal(len(self.buffer))
        if not self.has_vcl or self.hashed:
            # Its picture, or (in a stream whose AUs end with a picture hash) its hash, is
            # missing: the stream was cut inside this AU.
            raise BitstreamError("the stream ends inside an access unit")
        return self._take(len(self.buffer))

    @property
    def pending(self) -> int:
        """Bytes held of an AU not yet complete."""
        return len(self.buffer)

    def _close_nal(self, start_code: int) -> None:
        last = self.nal_starts[-1]
        end = start_code
        while end > last and self.buffer[end - 1] == 0:
            end -= 1
        if end - last < 2:
            raise BitstreamError("a NAL unit is shorter than its header")
        if self.buffer[last] & 0x80:
            raise BitstreamError("a NAL unit has forbidden_zero_bit set")
        if nal_type(self.syntax, self.buffer[last : last + 2]) <= _last_vcl(self.syntax):
            self.has_vcl = True

    def _take(self, end: int) -> bytes:
        if end > self.max_bytes:
            raise BitstreamError(f"an access unit is larger than {self.max_bytes} bytes")
        last = self.nal_starts[-1] if self.nal_starts else end
        if last + 2 <= end and nal_type(self.syntax, self.buffer[last : last + 2]) == SUFFIX_SEI[self.syntax]:
            self.hashed = True
        unit = bytes(self.buffer[:end])
        del self.buffer[:end]
        self.scanned = 0
        self.nal_starts = []
        self.has_vcl = False
        return unit

    def _hash_complete(self) -> list[bytes]:
        """The current AU, if its last NAL unit is a complete decoded picture hash SEI."""
        last = self.nal_starts[-1]
        if (len(self.buffer) < last + 2 or not self.has_vcl
                or nal_type(self.syntax, self.buffer[last : last + 2]) != SUFFIX_SEI[self.syntax]):
            return []
        rbsp = remove_emulation_prevention(bytes(self.buffer[last + 2 :]))
        position = 0
        values = []
        for _ in range(2):
            value = 0
            while position < len(rbsp) and rbsp[position] == 0xFF:
                value += 0xFF
                position += 1
            if position >= len(rbsp):
                return []
            values.append(value + rbsp[position])
            position += 1
        payload_type, size = values
        if payload_type != DECODED_PICTURE_HASH or len(rbsp) != position + size + 1 or rbsp[-1] != 0x80:
            return []
        return [self._take(len(self.buffer))]


class _AccessUnitParser:
    """Parses one AU at a time: the stream's first AU (an IRAP picture with its parameter
    sets) goes before each, so the parser knows the parameter sets and sees a valid start."""

    def __init__(self, syntax: str) -> None:
        self.syntax = syntax
        self.first_access_unit = b""
        self.pictures = 0

    def parse(self, access_unit: bytes):
        """``(stream, data, picture, starts_clvs)``: the parse of the first AU and this one,
        their bytes, this AU's picture, and whether it starts a new CLVS (the stream's first
        picture, or an IDR / BLA picture, as :func:`vcm.bitstream.annexb.parse_stream` has
        it for streams without end-of-sequence NAL units)."""
        prefix = self.first_access_unit
        data = prefix + access_unit
        try:
            stream = parse_stream(data)
        except BitstreamError as error:
            raise BitstreamError(f"access unit {self.pictures + 1}: {error}") from None
        pictures = [picture for picture in stream.pictures
                    if stream.units[picture.first_nal].start >= len(prefix)]
        if len(pictures) != 1:
            raise BitstreamError(f"access unit {self.pictures + 1} has {len(pictures)} pictures")
        picture = pictures[0]
        if not prefix:
            self.first_access_unit = access_unit
        starts_clvs = self.pictures == 0 or picture.nal_type in _idr_types(self.syntax)
        self.pictures += 1
        return stream, data, picture, starts_clvs


class AccessUnitEmbedder:
    """Annotated regions SEIs inserted one AU at a time (see the module docstring).

    Args:
        width, height: frame size the boxes are in (the original size; boxes are clipped
            to it), in pixels.
        confidence_bits: bits of each ``ar_object_confidence``.
        name: names the stream in error messages.

    Attributes:
        boxes_sent, sei_units, sei_bytes, pictures: as in
            :class:`vcm.bitstream.EmbedRecord`, so far.
    """

    def __init__(self, syntax: str, width: int, height: int, *,
                 confidence_bits: int = DEFAULT_CONFIDENCE_BITS, name: str = "stream") -> None:
        self.syntax = syntax
        self.width = width
        self.height = height
        self.confidence_bits = confidence_bits
        self.name = name
        self.parser = _AccessUnitParser(syntax)
        self.state: dict = {}
        self.labels_sent = False
        self.pictures = 0
        self.boxes = 0
        self.boxes_sent = 0
        self.sei_units = 0
        self.sei_bytes = 0

    def embed(self, access_unit: bytes, frame: FrameDetections) -> bytes:
        """``access_unit`` (one picture) with ``frame``'s boxes inserted as an SEI NAL unit."""
        stream, _, picture, starts_clvs = self.parser.parse(access_unit)
        prefix_length = len(self.parser.first_access_unit) if self.parser.pictures > 1 else 0
        if starts_clvs:
            self.state, self.labels_sent = {}, False
        self.pictures += 1
        self.boxes += len(frame)
        unit, self.state, sent = frame_sei_unit(
            self.syntax, self.state, self.labels_sent, frame, width=self.width,
            height=self.height, confidence_bits=self.confidence_bits,
            temporal_id=picture.temporal_id, name=self.name,
        )
        self.boxes_sent += sent
        if unit is None:
            return access_unit
        self.labels_sent = True
        first = stream.units[picture.first_nal]
        previous = stream.units[picture.first_nal - 1] if picture.first_nal > 0 else None
        opens_unit = (previous is None or previous.start < prefix_length
                      or previous.type <= _last_vcl(self.syntax))
        inserted = (b"\x00\x00\x00\x01" if opens_unit else b"\x00\x00\x01") + unit
        self.sei_units += 1
        self.sei_bytes += len(inserted)
        at = first.start - prefix_length
        return access_unit[:at] + inserted + access_unit[at:]

    def record(self) -> dict:
        """What was embedded so far, as :meth:`vcm.bitstream.EmbedRecord.to_dict` says it."""
        return EmbedRecord(syntax=self.syntax, pictures=self.pictures, boxes=self.boxes,
                           boxes_sent=self.boxes_sent, sei_units=self.sei_units,
                           sei_bytes=self.sei_bytes, confidence_bits=self.confidence_bits).to_dict()


class AccessUnitExtractor:
    """The person boxes of each AU's annotated regions SEIs, one AU at a time, as
    :func:`vcm.bitstream.embedded.extract_from_stream` reads them from a whole stream of a
    coder without picture reordering.

    Args:
        width, height: the frame size boxes must lie in (the original size), in pixels.
    """

    def __init__(self, syntax: str, width: int, height: int) -> None:
        self.syntax = syntax
        self.width = width
        self.height = height
        self.parser = _AccessUnitParser(syntax)
        self.decoder = RegionsDecoder()
        self.pictures = 0
        self.boxes = 0
        self.boxes_sent = 0
        self.sei_units = 0
        self.sei_bytes = 0

    def extract(self, access_unit: bytes) -> FrameDetections:
        """The boxes of the next AU's picture (frame numbers count from 1); raises
        :class:`BitstreamError` for an AU or SEI that cannot be parsed, or a box outside the
        frame."""
        stream, data, picture, starts_clvs = self.parser.parse(access_unit)
        if starts_clvs:
            self.decoder.reset()
        self.pictures += 1
        for index in picture.prefix_seis:
            unit = stream.units[index]
            rbsp = remove_emulation_prevention(data[unit.begin + 2 : unit.end])
            carries_regions = False
            for payload_type, payload in sei_messages(rbsp):
                if payload_type == ANNOTATED_REGIONS_PAYLOAD_TYPE:
                    message = read_annotated_regions(payload)
                    self.decoder.apply(message)
                    self.boxes_sent += sum(isinstance(update.region, Region)
                                           for update in message.objects)
                    carries_regions = True
            if carries_regions:
                self.sei_units += 1
                self.sei_bytes += unit.end - unit.start
        regions = self.decoder.regions(PERSON_LABEL)
        self.boxes += len(regions)
        for region in regions:
            if (region.width < 1 or region.height < 1 or region.left + region.width > self.width
                    or region.top + region.height > self.height):
                raise BitstreamError(
                    f"frame {self.pictures}: box left {region.left} top {region.top} width "
                    f"{region.width} height {region.height} is empty or outside the "
                    f"{self.width}x{self.height} picture")
        return regions_to_frame(self.pictures, regions, self.decoder.confidence_bits)

    def record(self) -> dict:
        """What the SEIs carried so far, as :meth:`vcm.bitstream.EmbedRecord.to_dict` says
        it (``confidence_bits`` as signalled; ``None`` before any)."""
        return EmbedRecord(syntax=self.syntax, pictures=self.pictures, boxes=self.boxes,
                           boxes_sent=self.boxes_sent, sei_units=self.sei_units,
                           sei_bytes=self.sei_bytes,
                           confidence_bits=self.decoder.confidence_bits).to_dict()


def _idr_types(syntax: str):
    return (VVC_IDR_W_RADL, VVC_IDR_N_LP) if syntax == VVC else range(HEVC_BLA_W_LP, HEVC_IDR_N_LP + 1)
