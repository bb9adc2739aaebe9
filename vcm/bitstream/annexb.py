"""Annex-B byte streams of VVC (H.266) and HEVC (H.265): NAL units, pictures and their order.

What is parsed, and why:

* NAL units are found by their start codes (``00 00 01``, Annex B); emulation prevention
  bytes (``00 00 03``) are removed to read a NAL unit's RBSP and inserted to write one.
* The NAL unit header gives the type, ``nuh_layer_id`` and TemporalId (VVC: 2 bytes,
  forbidden bit, reserved bit, layer id u(6), type u(5), TemporalId + 1 u(3); HEVC: 2 bytes,
  forbidden bit, type u(6), layer id u(6), TemporalId + 1 u(3)).
* A picture starts at a VVC picture header NAL unit (PH_NUT) or at a VCL NAL unit whose slice
  header carries the picture header (``sh_picture_header_in_slice_header_flag``, which implies
  one slice per picture); in HEVC at a VCL NAL unit with ``first_slice_segment_in_pic_flag``.
  Only single-layer streams (``nuh_layer_id`` 0) are handled, so a picture is an access unit.
* The picture order count (POC) comes from the picture header (VVC ``ph_pic_order_cnt_lsb``,
  ``ph_poc_msb_cycle_val``) or the slice header (HEVC ``slice_pic_order_cnt_lsb``), with the
  most significant part derived as in H.266 8.3.1 / H.265 8.3.1 from the previous TemporalId-0
  picture that is not a RASL or RADL (HEVC: nor sub-layer non-reference) picture. This needs
  the SPS (``log2_max_pic_order_cnt_lsb``, the cropped picture size) and the PPS (its SPS id;
  HEVC also the slice-header fields before the POC), which are parsed up to those fields.
* A coded layer video sequence (CLVS) starts at an IDR (or HEVC BLA) picture, and at a CRA or
  GDR picture that is the first of the stream or follows an end-of-sequence NAL unit. Output
  (display) order is the order of the CLVSs, and within one CLVS the order of the POCs.

Random-access streams (VVenC, x265) code pictures out of display order, so frame ``k`` of a
video is the ``k``-th picture in output order, not the ``k``-th access unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vcm.bitstream.bits import BitReader, BitstreamError
from vcm.datasets.mot import MAX_FRAMES

VVC = "vvc"
HEVC = "hevc"

# VVC nal_unit_type values (H.266 Table 5).
VVC_RADL, VVC_RASL = 2, 3
VVC_IDR_W_RADL, VVC_IDR_N_LP, VVC_CRA, VVC_GDR = 7, 8, 9, 10
VVC_LAST_VCL = 11
VVC_SPS, VVC_PPS, VVC_PH, VVC_EOS = 15, 16, 19, 21
VVC_PREFIX_SEI = 23

# HEVC nal_unit_type values (H.265 Table 7-1).
HEVC_RADL_N, HEVC_RADL_R, HEVC_RASL_N, HEVC_RASL_R = 6, 7, 8, 9
HEVC_BLA_W_LP, HEVC_BLA_N_LP = 16, 18
HEVC_IDR_W_RADL, HEVC_IDR_N_LP, HEVC_CRA = 19, 20, 21
HEVC_FIRST_IRAP, HEVC_LAST_IRAP = 16, 23
HEVC_LAST_VCL = 31
HEVC_SPS, HEVC_PPS, HEVC_EOS = 33, 34, 36
HEVC_PREFIX_SEI = 39

PREFIX_SEI = {VVC: VVC_PREFIX_SEI, HEVC: HEVC_PREFIX_SEI}

START_CODE = re.compile(b"\x00\x00\x01")


class UnsupportedStream(BitstreamError):
    """A stream that may well be valid but uses what this parser does not follow (more than
    one layer, VVC subpictures) or is larger than :data:`LIMITS` allow."""


@dataclass(frozen=True)
class StreamLimits:
    """What :func:`parse_stream` reads, and what a stream vcm writes (SEIs embedded) may
    become: one table for both.

    Attributes:
        max_bytes: most bytes of a stream read into memory (1 GiB).
        max_nal_units: most NAL units (4 per picture on average: vcm's encoders write an
            access unit delimiter, at most one SEI and one slice per picture, and parameter
            sets per random access point); each costs about 100 bytes parsed.
        max_pictures: most pictures: vcm's frame bound.
    """

    max_bytes: int = 2**30
    max_nal_units: int = 4 * MAX_FRAMES
    max_pictures: int = MAX_FRAMES


LIMITS = StreamLimits()


@dataclass(frozen=True, slots=True)
class NalUnit:
    """One NAL unit of an Annex-B stream.

    Attributes:
        start: byte offset of its start code prefix (with a leading ``zero_byte`` if any).
        begin, end: byte offsets of the NAL unit itself (header first), end exclusive.
        type: ``nal_unit_type``.
        layer_id: ``nuh_layer_id``.
        temporal_id: TemporalId (``nuh_temporal_id_plus1 - 1``).
    """

    start: int
    begin: int
    end: int
    type: int
    layer_id: int
    temporal_id: int


def split_nal_units(data: bytes, syntax: str, limits: StreamLimits = LIMITS) -> list[NalUnit]:
    """The NAL units of the Annex-B byte stream ``data``, in stream order.

    Raises :class:`BitstreamError` if ``data`` does not start with a start code, or a NAL
    unit is shorter than its 2-byte header or has the forbidden bit set;
    :class:`UnsupportedStream` for more NAL units than ``limits`` allow.
    """
    starts = []
    for match in START_CODE.finditer(data):
        if len(starts) == limits.max_nal_units:
            raise UnsupportedStream(f"more than {limits.max_nal_units} NAL units, the limit")
        starts.append(match.start())
    if not starts or data[: starts[0]].strip(b"\x00"):
        raise BitstreamError("no Annex-B start code at the start of the stream")
    units = []
    for number, start_code in enumerate(starts):
        begin = start_code + 3
        end = starts[number + 1] if number + 1 < len(starts) else len(data)
        # Zero bytes before the next start code are its zero_byte or trailing_zero_8bits.
        while end > begin and data[end - 1] == 0:
            end -= 1
        prefix_start = start_code - 1 if start_code > 0 and data[start_code - 1] == 0 else start_code
        if end - begin < 2:
            raise BitstreamError(f"NAL unit at byte {start_code} is shorter than its header")
        first, second = data[begin], data[begin + 1]
        if first & 0x80:
            raise BitstreamError(f"NAL unit at byte {start_code} has forbidden_zero_bit set")
        if second & 0x07 == 0:
            raise BitstreamError(f"NAL unit at byte {start_code} has nuh_temporal_id_plus1 0")
        if syntax == VVC:
            nal_type, layer_id = second >> 3, first & 0x3F
        else:
            nal_type, layer_id = (first >> 1) & 0x3F, ((first & 1) << 5) | (second >> 3)
        units.append(NalUnit(prefix_start, begin, end, nal_type, layer_id, (second & 0x07) - 1))
    return units


def detect_syntax(data: bytes) -> str:
    """``"vvc"`` or ``"hevc"``, from the header of the stream's first NAL unit.

    A stream starts with a parameter set, an access unit delimiter or an IRAP picture: in
    VVC its first header byte is 0 (layer 0, reserved bit 0); in HEVC such types are >= 16,
    so the first byte is at least 0x20. Raises :class:`BitstreamError` otherwise.
    """
    match = START_CODE.search(data)
    if match is None or data[: match.start()].strip(b"\x00") or match.end() + 2 > len(data):
        raise BitstreamError("not an Annex-B stream (no start code at its beginning)")
    first = data[match.end()]
    if first == 0:
        return VVC
    if first & 0x80 == 0 and (first >> 1) & 0x3F >= HEVC_FIRST_IRAP:
        return HEVC
    raise BitstreamError("the first NAL unit is neither VVC nor HEVC")


def remove_emulation_prevention(payload: bytes) -> bytes:
    """The RBSP of NAL unit bytes ``payload``: every ``00 00 03`` becomes ``00 00``."""
    return payload.replace(b"\x00\x00\x03", b"\x00\x00") if b"\x00\x00\x03" in payload else payload


def add_emulation_prevention(rbsp: bytes) -> bytes:
    """NAL unit bytes for ``rbsp``: ``03`` after every ``00 00`` followed by ``00``..``03``.

    Also after a trailing ``00 00`` (H.266 7.4.2: a NAL unit does not end in a zero byte;
    a ``cabac_zero_word`` ends ``00 00 03``).
    """
    output = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            output.append(3)
            zeros = 0
        output.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    if zeros >= 2:
        output.append(3)
    return bytes(output)


def nal_unit_header(syntax: str, nal_type: int, layer_id: int, temporal_id: int) -> bytes:
    """The 2-byte NAL unit header."""
    if syntax == VVC:
        return bytes([layer_id & 0x3F, (nal_type << 3) | (temporal_id + 1)])
    return bytes([(nal_type << 1) | (layer_id >> 5), ((layer_id & 0x1F) << 3) | (temporal_id + 1)])


def sei_nal_unit(syntax: str, payload_type: int, payload: bytes, temporal_id: int) -> bytes:
    """A prefix SEI NAL unit (header included, start code not) holding one SEI message."""
    body = bytearray()
    for value in (payload_type, len(payload)):
        # payload_type and payload_size: 0xFF bytes, then the remainder (H.266 7.3.6).
        while value >= 0xFF:
            body.append(0xFF)
            value -= 0xFF
        body.append(value)
    body += payload
    body.append(0x80)  # rbsp_trailing_bits
    header = nal_unit_header(syntax, PREFIX_SEI[syntax], 0, temporal_id)
    return header + add_emulation_prevention(bytes(body))


def sei_messages(rbsp: bytes) -> list[tuple[int, bytes]]:
    """``(payload_type, payload)`` of every SEI message of an SEI RBSP (header removed).

    Raises :class:`BitstreamError` for a message running past the end of the NAL unit.
    """
    messages = []
    position = 0
    end = _rbsp_end(rbsp)
    while position < end:
        values = []
        for name in ("payload_type", "payload_size"):
            value = 0
            while position < end and rbsp[position] == 0xFF:
                value += 0xFF
                position += 1
            if position >= end:
                raise BitstreamError(f"SEI message ends inside its {name}")
            values.append(value + rbsp[position])
            position += 1
        payload_type, size = values
        if position + size > end:
            raise BitstreamError(
                f"SEI message of type {payload_type} claims {size} bytes but "
                f"{end - position} are left"
            )
        messages.append((payload_type, rbsp[position : position + size]))
        position += size
    return messages


def _rbsp_end(rbsp: bytes) -> int:
    """Length of ``rbsp`` without its ``rbsp_trailing_bits`` byte (the last non-zero byte
    must be exactly ``0x80``: SEI messages always end byte aligned)."""
    end = len(rbsp)
    while end > 0 and rbsp[end - 1] == 0:
        end -= 1
    if end == 0 or rbsp[end - 1] != 0x80:
        raise BitstreamError("SEI NAL unit does not end with rbsp_trailing_bits")
    return end - 1


@dataclass
class Picture:
    """One coded picture (access unit) of a single-layer stream.

    Attributes:
        decode_index: 0-based position in decoding (stream) order.
        first_nal: index into the NAL unit list of the picture's first NAL unit of its own
            (the PH or the first VCL NAL unit); a prefix SEI for it goes just before that one.
        temporal_id: TemporalId of its VCL NAL units (an SEI NAL unit in its access unit must
            have the same).
        nal_type: ``nal_unit_type`` of its first VCL NAL unit.
        poc: picture order count.
        clvs: 0-based index of the coded layer video sequence it belongs to.
        prefix_seis: indices of the prefix SEI NAL units in its access unit.
    """

    decode_index: int
    first_nal: int
    temporal_id: int = 0
    nal_type: int = -1
    poc: int = 0
    clvs: int = 0
    prefix_seis: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class StreamInfo:
    """What :func:`parse_stream` finds: the syntax, NAL units, pictures in decoding order,
    and the cropped picture size in luma samples (of the first SPS)."""

    syntax: str
    units: list[NalUnit]
    pictures: list[Picture]
    width: int
    height: int

    def output_order(self) -> list[Picture]:
        """The pictures in output (display) order: by CLVS, then by POC."""
        return sorted(self.pictures, key=lambda picture: (picture.clvs, picture.poc))

    def missing_pictures(self) -> str | None:
        """Where pictures are missing, or ``None``: within a CLVS, output order must number
        pictures by consecutive POCs, as vcm's encoders (VVenC, x265, VTM) do. A stream cut
        short in the middle of a random-access group (coded out of display order) lacks
        POCs between those it holds; two pictures of one POC are corrupt."""
        pictures = self.output_order()
        for previous, picture in zip(pictures, pictures[1:]):
            if picture.clvs == previous.clvs and picture.poc != previous.poc + 1:
                first = previous.poc + 1
                gap = (f"the picture of POC {first} is" if picture.poc == first + 1
                       else f"the pictures of POCs {first}..{picture.poc - 1} are")
                return (f"two pictures have POC {picture.poc}" if picture.poc == previous.poc
                        else f"{gap} missing between POC {previous.poc} and {picture.poc} "
                        f"(coded sequence {picture.clvs + 1})")
        return None


@dataclass(frozen=True)
class _SequenceParameters:
    log2_max_poc_lsb: int
    width: int
    height: int
    poc_msb_cycle_length: int | None = None  # VVC sps_poc_msb_cycle_len, if signalled
    extra_ph_bits: int = 0  # VVC NumExtraPhBits
    separate_colour_planes: bool = False  # HEVC


@dataclass(frozen=True)
class _PictureParameters:
    sps_id: int
    dependent_slices: bool = False  # HEVC
    output_flag_present: bool = False  # HEVC
    extra_slice_header_bits: int = 0  # HEVC


def parse_stream(data: bytes, limits: StreamLimits = LIMITS) -> StreamInfo:
    """Parse the Annex-B stream ``data`` into pictures with their POC and CLVS.

    Raises :class:`BitstreamError` for a stream that is not VVC/HEVC Annex B or has a slice
    before its parameter sets; :class:`UnsupportedStream` for one that uses more than one
    layer or VVC subpictures, or is beyond ``limits``.
    """
    if len(data) > limits.max_bytes:
        raise UnsupportedStream(f"{len(data)} bytes, more than the limit of {limits.max_bytes}")
    syntax = detect_syntax(data)
    units = split_nal_units(data, syntax, limits)
    parser = _VvcParser(data) if syntax == VVC else _HevcParser(data)
    pictures: list[Picture] = []
    pending_seis: list[int] = []
    current: Picture | None = None
    current_has_vcl = False
    for number, unit in enumerate(units):
        if unit.layer_id != 0:
            raise UnsupportedStream(f"NAL unit at byte {unit.start} is in layer "
                                    f"{unit.layer_id}; only single-layer streams are supported")
        try:
            starts_picture = parser.read(unit)
        except BitstreamError as error:
            # The same class: an unsupported feature stays one.
            raise type(error)(f"NAL unit of type {unit.type} at byte {unit.start}: {error}") from None
        if unit.type == PREFIX_SEI[syntax]:
            # A prefix SEI after a picture header but before its slices is in that picture.
            if current is not None and not current_has_vcl:
                current.prefix_seis.append(number)
            else:
                pending_seis.append(number)
            continue
        if starts_picture:
            if len(pictures) == limits.max_pictures:
                raise UnsupportedStream(f"more than {limits.max_pictures} pictures, the limit")
            current = Picture(decode_index=len(pictures), first_nal=number,
                              prefix_seis=pending_seis)
            pending_seis = []
            pictures.append(current)
            current_has_vcl = False
        if parser.is_vcl(unit.type):
            if current is None:
                raise BitstreamError(f"slice at byte {unit.start} belongs to no picture")
            if not current_has_vcl:
                current.temporal_id = unit.temporal_id
                current.nal_type = unit.type
                current_has_vcl = True
                try:
                    current.poc, current.clvs = parser.picture_order(unit)
                except BitstreamError as error:
                    raise BitstreamError(f"slice at byte {unit.start}: {error}") from None
    if not pictures:
        raise BitstreamError("the stream has no coded picture")
    if parser.sequence is None:
        raise BitstreamError("the stream's pictures use no sequence parameter set")
    return StreamInfo(syntax, units, pictures, parser.sequence.width, parser.sequence.height)


class _Parser:
    """Parameter sets and POC state shared by the VVC and HEVC parsers."""

    last_vcl: int

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sequences: dict[int, _SequenceParameters] = {}
        self.picture_sets: dict[int, _PictureParameters] = {}
        self.sequence: _SequenceParameters | None = None
        self.clvs = -1
        self.after_end_of_sequence = True  # the first picture starts a CLVS like after an EOS
        self.previous_tid0_poc = 0
        self.pending_poc: tuple[int, int | None] | None = None
        self.current_sps: _SequenceParameters | None = None

    def is_vcl(self, nal_type: int) -> bool:
        return nal_type <= self.last_vcl

    def rbsp(self, unit: NalUnit) -> BitReader:
        """A reader over the RBSP of ``unit``, after its 2-byte header."""
        payload = self.data[unit.begin + 2 : unit.end]
        return BitReader(remove_emulation_prevention(payload))

    def sequence_for(self, pps_id: int, unit: NalUnit) -> tuple[_PictureParameters, _SequenceParameters]:
        pps = self.picture_sets.get(pps_id)
        sps = self.sequences.get(pps.sps_id) if pps is not None else None
        if pps is None or sps is None:
            raise BitstreamError(f"slice at byte {unit.start} refers to a missing parameter set")
        self.sequence = self.sequence or sps
        return pps, sps

    def derive_poc(self, lsb: int, sps: _SequenceParameters, clvs_start: bool,
                   msb: int | None = None) -> int:
        """PicOrderCntVal (H.266 8.3.1, H.265 8.3.1)."""
        max_lsb = 1 << sps.log2_max_poc_lsb
        if msb is None:
            if clvs_start:
                msb = 0
            else:
                previous_lsb = self.previous_tid0_poc & (max_lsb - 1)
                previous_msb = self.previous_tid0_poc - previous_lsb
                if lsb < previous_lsb and previous_lsb - lsb >= max_lsb // 2:
                    msb = previous_msb + max_lsb
                elif lsb > previous_lsb and lsb - previous_lsb > max_lsb // 2:
                    msb = previous_msb - max_lsb
                else:
                    msb = previous_msb
        return msb + lsb


class _VvcParser(_Parser):
    last_vcl = VVC_LAST_VCL

    def read(self, unit: NalUnit) -> bool:
        """Take in one NAL unit; return whether it starts a new picture."""
        if unit.type == VVC_SPS:
            self._read_sps(unit)
        elif unit.type == VVC_PPS:
            reader = self.rbsp(unit)
            pps_id = reader.u(6, "pps_pic_parameter_set_id")
            self.picture_sets[pps_id] = _PictureParameters(sps_id=reader.u(4, "pps_seq_parameter_set_id"))
        elif unit.type == VVC_EOS:
            self.after_end_of_sequence = True
        elif unit.type == VVC_PH:
            self.pending_poc = self._read_picture_header(self.rbsp(unit), unit)
            return True
        elif self.is_vcl(unit.type):
            reader = self.rbsp(unit)
            if reader.flag("sh_picture_header_in_slice_header_flag"):
                self.pending_poc = self._read_picture_header(reader, unit)
                return True
        return False

    def picture_order(self, unit: NalUnit) -> tuple[int, int]:
        """POC and CLVS index of the picture whose first slice is ``unit``."""
        if self.pending_poc is None:
            raise BitstreamError(f"slice at byte {unit.start} has no picture header")
        lsb, msb_from_cycle = self.pending_poc
        self.pending_poc = None
        sps = self.current_sps
        assert sps is not None  # set with pending_poc
        clvs_start = unit.type in (VVC_IDR_W_RADL, VVC_IDR_N_LP) or (
            unit.type in (VVC_CRA, VVC_GDR) and self.after_end_of_sequence
        )
        if unit.type <= VVC_LAST_VCL:
            self.after_end_of_sequence = False
        if clvs_start:
            self.clvs += 1
        elif self.clvs < 0:
            raise BitstreamError(f"the stream starts with a non-IRAP picture (byte {unit.start})")
        poc = self.derive_poc(lsb, sps, clvs_start, msb_from_cycle)
        if unit.temporal_id == 0 and unit.type not in (VVC_RADL, VVC_RASL):
            self.previous_tid0_poc = poc
        return poc, self.clvs

    def _read_picture_header(self, reader: BitReader, unit: NalUnit) -> tuple[int, int | None]:
        # H.266 7.3.2.8 picture_header_structure(), up to the POC fields.
        gdr_or_irap = reader.flag("ph_gdr_or_irap_pic_flag")
        reader.flag("ph_non_ref_pic_flag")
        gdr = reader.flag("ph_gdr_pic_flag") if gdr_or_irap else False
        if reader.flag("ph_inter_slice_allowed_flag"):
            reader.flag("ph_intra_slice_allowed_flag")
        _, sps = self.sequence_for(reader.ue("ph_pic_parameter_set_id"), unit)
        self.current_sps = sps
        lsb = reader.u(sps.log2_max_poc_lsb, "ph_pic_order_cnt_lsb")
        if gdr:
            reader.ue("ph_recovery_poc_cnt")
        reader.skip(sps.extra_ph_bits, "ph_extra_bit")
        msb = None
        if sps.poc_msb_cycle_length is not None and reader.flag("ph_poc_msb_cycle_present_flag"):
            msb = reader.u(sps.poc_msb_cycle_length, "ph_poc_msb_cycle_val") << sps.log2_max_poc_lsb
        return lsb, msb

    def _read_sps(self, unit: NalUnit) -> None:
        # H.266 7.3.2.4 seq_parameter_set_rbsp(), up to sps_num_extra_ph_bytes.
        reader = self.rbsp(unit)
        sps_id = reader.u(4, "sps_seq_parameter_set_id")
        reader.u(4, "sps_video_parameter_set_id")
        max_sublayers_minus1 = reader.u(3, "sps_max_sublayers_minus1")
        chroma_format = reader.u(2, "sps_chroma_format_idc")
        reader.u(2, "sps_log2_ctu_size_minus5")
        if reader.flag("sps_ptl_dpb_hrd_params_present_flag"):
            _skip_vvc_profile_tier_level(reader, max_sublayers_minus1)
        reader.flag("sps_gdr_enabled_flag")
        if reader.flag("sps_ref_pic_resampling_enabled_flag"):
            reader.flag("sps_res_change_in_clvs_allowed_flag")
        width = reader.ue("sps_pic_width_max_in_luma_samples")
        height = reader.ue("sps_pic_height_max_in_luma_samples")
        width, height = _cropped(reader, width, height, chroma_format)
        if reader.flag("sps_subpic_info_present_flag"):
            raise UnsupportedStream("VVC subpictures are not supported")
        reader.ue("sps_bitdepth_minus8")
        reader.flag("sps_entropy_coding_sync_enabled_flag")
        reader.flag("sps_entry_point_offsets_present_flag")
        log2_max_poc_lsb = reader.u(4, "sps_log2_max_pic_order_cnt_lsb_minus4") + 4
        cycle_length = None
        if reader.flag("sps_poc_msb_cycle_flag"):
            cycle_length = reader.ue("sps_poc_msb_cycle_len_minus1") + 1
            if cycle_length > 32 - log2_max_poc_lsb:
                raise BitstreamError("sps_poc_msb_cycle_len_minus1 is out of range")
        extra_bytes = reader.u(2, "sps_num_extra_ph_bytes")
        extra_bits = sum(reader.u(1, "sps_extra_ph_bit_present_flag") for _ in range(8 * extra_bytes))
        self.sequences[sps_id] = _SequenceParameters(
            log2_max_poc_lsb, width, height, cycle_length, extra_bits
        )


def _skip_vvc_profile_tier_level(reader: BitReader, max_sublayers_minus1: int) -> None:
    # H.266 7.3.3.1 profile_tier_level(1, sps_max_sublayers_minus1).
    reader.skip(7 + 1 + 8 + 1 + 1, "profile_tier_level")
    # 7.3.3.2 general_constraints_info(): 71 flag bits, gci_num_additional_bits u(8), the
    # additional bits, then zero bits to a byte boundary.
    if reader.flag("gci_present_flag"):
        reader.skip(71, "general_constraints_info")
        reader.skip(reader.u(8, "gci_num_additional_bits"), "gci_reserved_bit")
    reader.zero_bits_to_byte_boundary("gci_alignment_zero_bit")
    present = [reader.flag("ptl_sublayer_level_present_flag") for _ in range(max_sublayers_minus1)]
    reader.zero_bits_to_byte_boundary("ptl_reserved_zero_bit")
    reader.skip(8 * sum(present), "sublayer_level_idc")
    reader.skip(32 * reader.u(8, "ptl_num_sub_profiles"), "general_sub_profile_idc")


def _cropped(reader: BitReader, width: int, height: int, chroma_format: int) -> tuple[int, int]:
    """The picture size after the conformance window (offsets in chroma sample units)."""
    if reader.flag("conformance_window_flag"):
        unit_x = 2 if chroma_format in (1, 2) else 1
        unit_y = 2 if chroma_format == 1 else 1
        left, right, top, bottom = (reader.ue("conf_win_offset") for _ in range(4))
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    if width <= 0 or height <= 0 or width > 0xFFFF or height > 0xFFFF:
        raise BitstreamError(f"SPS picture size {width}x{height} is out of range")
    return width, height


class _HevcParser(_Parser):
    last_vcl = HEVC_LAST_VCL

    def read(self, unit: NalUnit) -> bool:
        if unit.type == HEVC_SPS:
            self._read_sps(unit)
        elif unit.type == HEVC_PPS:
            reader = self.rbsp(unit)
            pps_id = reader.ue("pps_pic_parameter_set_id")
            sps_id = reader.ue("pps_seq_parameter_set_id")
            self.picture_sets[pps_id] = _PictureParameters(
                sps_id=sps_id,
                dependent_slices=reader.flag("dependent_slice_segments_enabled_flag"),
                output_flag_present=reader.flag("output_flag_present_flag"),
                extra_slice_header_bits=reader.u(3, "num_extra_slice_header_bits"),
            )
        elif unit.type == HEVC_EOS:
            self.after_end_of_sequence = True
        elif self.is_vcl(unit.type):
            return self.rbsp(unit).flag("first_slice_segment_in_pic_flag")
        return False

    def picture_order(self, unit: NalUnit) -> tuple[int, int]:
        # H.265 7.3.6.1 slice_segment_header() of a picture's first slice segment.
        reader = self.rbsp(unit)
        reader.flag("first_slice_segment_in_pic_flag")
        if HEVC_FIRST_IRAP <= unit.type <= HEVC_LAST_IRAP:
            reader.flag("no_output_of_prior_pics_flag")
        pps, sps = self.sequence_for(reader.ue("slice_pic_parameter_set_id"), unit)
        reader.skip(pps.extra_slice_header_bits, "slice_reserved_flag")
        reader.ue("slice_type")
        if pps.output_flag_present:
            reader.flag("pic_output_flag")
        if sps.separate_colour_planes:
            reader.u(2, "colour_plane_id")
        idr = unit.type in (HEVC_IDR_W_RADL, HEVC_IDR_N_LP)
        lsb = 0 if idr else reader.u(sps.log2_max_poc_lsb, "slice_pic_order_cnt_lsb")
        clvs_start = HEVC_BLA_W_LP <= unit.type <= HEVC_IDR_N_LP or (
            unit.type == HEVC_CRA and self.after_end_of_sequence
        )
        self.after_end_of_sequence = False
        if clvs_start:
            self.clvs += 1
        elif self.clvs < 0:
            raise BitstreamError(f"the stream starts with a non-IRAP picture (byte {unit.start})")
        poc = self.derive_poc(lsb, sps, clvs_start)
        sub_layer_non_reference = unit.type <= 14 and unit.type % 2 == 0
        if (unit.temporal_id == 0 and not sub_layer_non_reference
                and unit.type not in (HEVC_RADL_N, HEVC_RADL_R, HEVC_RASL_N, HEVC_RASL_R)):
            self.previous_tid0_poc = poc
        return poc, self.clvs

    def _read_sps(self, unit: NalUnit) -> None:
        # H.265 7.3.2.2 seq_parameter_set_rbsp(), up to log2_max_pic_order_cnt_lsb_minus4.
        reader = self.rbsp(unit)
        reader.u(4, "sps_video_parameter_set_id")
        max_sub_layers_minus1 = reader.u(3, "sps_max_sub_layers_minus1")
        reader.flag("sps_temporal_id_nesting_flag")
        _skip_hevc_profile_tier_level(reader, max_sub_layers_minus1)
        sps_id = reader.ue("sps_seq_parameter_set_id")
        chroma_format = reader.ue("chroma_format_idc")
        separate_planes = reader.flag("separate_colour_plane_flag") if chroma_format == 3 else False
        width = reader.ue("pic_width_in_luma_samples")
        height = reader.ue("pic_height_in_luma_samples")
        width, height = _cropped(reader, width, height, 0 if separate_planes else chroma_format)
        reader.ue("bit_depth_luma_minus8")
        reader.ue("bit_depth_chroma_minus8")
        log2_max_poc_lsb = reader.ue("log2_max_pic_order_cnt_lsb_minus4") + 4
        if log2_max_poc_lsb > 16:
            raise BitstreamError("log2_max_pic_order_cnt_lsb_minus4 is out of range")
        self.sequences[sps_id] = _SequenceParameters(
            log2_max_poc_lsb, width, height, separate_colour_planes=separate_planes
        )


def _skip_hevc_profile_tier_level(reader: BitReader, max_sub_layers_minus1: int) -> None:
    # H.265 7.3.3: general profile (88 bits) and level (8 bits), then per sub-layer.
    reader.skip(88 + 8, "general_profile_tier_level")
    flags = [(reader.flag("sub_layer_profile_present_flag"), reader.flag("sub_layer_level_present_flag"))
             for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        reader.skip(2 * (8 - max_sub_layers_minus1), "reserved_zero_2bits")
    for profile_present, level_present in flags:
        reader.skip(88 * profile_present + 8 * level_present, "sub_layer_profile_tier_level")
