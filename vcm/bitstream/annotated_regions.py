"""The annotated regions SEI message (H.274 / VSEI, payloadType 202): syntax and persistence.

Syntax (ITU-T H.274 (05/2022) 8.15 "Annotated regions SEI message", the same as H.265
D.2.x; cross-checked against VTM's ``SEIWriter::xWriteSEIAnnotatedRegions`` and
``SEIReader::xParseSEIAnnotatedRegions`` in VVCSoftware_VTM)::

    ar_cancel_flag                                   u(1)
    if (!ar_cancel_flag) {
      ar_not_optimized_for_viewing_flag              u(1)
      ar_true_motion_flag                            u(1)
      ar_occluded_object_flag                        u(1)
      ar_partial_object_flag_present_flag            u(1)
      ar_object_label_present_flag                   u(1)
      ar_object_confidence_info_present_flag         u(1)
      if (confidence present) ar_object_confidence_length_minus1   u(4)
      if (label present) {
        ar_object_label_language_present_flag        u(1)
        if (language present) { zero bits to a byte boundary; ar_object_label_language st(v) }
        ar_num_label_updates                         ue(v)
        for each: ar_label_idx ue(v), ar_label_cancel_flag u(1),
                  if (!cancel) { zero bits to a byte boundary; ar_label st(v) }
      }
      ar_num_object_updates                          ue(v)
      for each: ar_object_idx ue(v), ar_object_cancel_flag u(1)
        if (!cancel) {
          if (label present) { ar_object_label_update_flag u(1); if (set) ar_object_label_idx ue(v) }
          ar_bounding_box_update_flag u(1)
          if (set) { ar_bounding_box_cancel_flag u(1)
            if (!cancel) { top u(16), left u(16), width u(16), height u(16)
                           if (partial present) ar_partial_object_flag u(1)
                           if (confidence present) ar_object_confidence u(length) } } }
    }

followed by the SEI payload's own alignment (``payload_bit_equal_to_one`` and zero bits, only
when the message does not end on a byte boundary). Boxes are in luma samples of the cropped
decoded picture; a confidence ``c`` of ``n`` bits means ``c / 2**n``.

Persistence: objects (``ar_object_idx`` 0..255) and labels stay assigned from one message to
the next, in output order, until cancelled or until a new coded layer video sequence (CLVS)
starts, so a message only carries what changed (:func:`region_updates`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vcm.bitstream.bits import BitReader, BitstreamError, BitWriter

ANNOTATED_REGIONS_PAYLOAD_TYPE = 202

# H.274 8.15.2: ar_num_label_updates, ar_label_idx, ar_num_object_updates, ar_object_idx and
# ar_object_label_idx lie in 0..255.
MAX_INDEX = 255
MAX_UPDATES = 255
MAX_COORDINATE = 0xFFFF  # u(16)
MAX_CONFIDENCE_BITS = 16  # ar_object_confidence_length_minus1 is u(4)
MAX_STRING_BYTES = 255  # H.274: st(v) labels and the language tag are at most 255 bytes


@dataclass(frozen=True)
class Region:
    """One object's bounding box: integer luma samples of the cropped picture.

    ``confidence`` is the coded integer (``confidence / 2**bits`` is the probability), or
    ``None`` when the message carries no confidence; ``partial`` likewise for the partial flag.
    """

    top: int
    left: int
    width: int
    height: int
    confidence: int | None = None
    partial: bool | None = None


@dataclass(frozen=True)
class ObjectUpdate:
    """One entry of the object loop.

    ``cancel`` ends the object. Otherwise ``label_index`` (if not ``None``) assigns a label,
    and ``region`` is ``None`` (box unchanged), ``CANCEL_BOX`` (box removed) or a
    :class:`Region`.
    """

    index: int
    cancel: bool = False
    label_index: int | None = None
    region: Region | str | None = None


CANCEL_BOX = "cancel"


@dataclass(frozen=True)
class AnnotatedRegions:
    """One annotated regions SEI message (field names follow H.274 without the ``ar_``).

    ``labels`` maps ``ar_label_idx`` to its label bytes, or to ``None`` to cancel the label;
    ``confidence_bits`` is ``None`` when no confidence is carried.
    """

    cancel: bool = False
    not_optimized_for_viewing: bool = False
    true_motion: bool = False
    occluded_object: bool = False
    partial_object_flag_present: bool = False
    object_label_present: bool = False
    confidence_bits: int | None = None
    label_language: bytes | None = None
    labels: dict[int, bytes | None] = field(default_factory=dict)
    objects: list[ObjectUpdate] = field(default_factory=list)


def write_annotated_regions(message: AnnotatedRegions) -> bytes:
    """The SEI payload bytes of ``message``, payload alignment bits included.

    Raises ``ValueError`` for a value out of its syntax element's range.
    """
    writer = BitWriter()
    writer.flag(message.cancel)
    if not message.cancel:
        writer.flag(message.not_optimized_for_viewing)
        writer.flag(message.true_motion)
        writer.flag(message.occluded_object)
        writer.flag(message.partial_object_flag_present)
        writer.flag(message.object_label_present)
        writer.flag(message.confidence_bits is not None)
        if message.confidence_bits is not None:
            if not 1 <= message.confidence_bits <= MAX_CONFIDENCE_BITS:
                raise ValueError(f"confidence bits must be 1..16, got {message.confidence_bits}")
            writer.u(message.confidence_bits - 1, 4)
        if message.object_label_present:
            writer.flag(message.label_language is not None)
            if message.label_language is not None:
                writer.zero_bits_to_byte_boundary()
                writer.string(_checked_string(message.label_language, "label language"))
            _check_count(len(message.labels), "label updates")
            writer.ue(len(message.labels))
            for label_index, label in message.labels.items():
                writer.ue(_checked_index(label_index, "label index"))
                writer.flag(label is None)
                if label is not None:
                    writer.zero_bits_to_byte_boundary()
                    writer.string(_checked_string(label, "label"))
        elif message.labels:
            raise ValueError("labels given but object_label_present is false")
        _check_count(len(message.objects), "object updates")
        writer.ue(len(message.objects))
        for update in message.objects:
            _write_object(writer, message, update)
    if not writer.byte_aligned():
        writer.flag(True)  # payload_bit_equal_to_one, then payload_bit_equal_to_zero
        writer.zero_bits_to_byte_boundary()
    return writer.to_bytes()


def _write_object(writer: BitWriter, message: AnnotatedRegions, update: ObjectUpdate) -> None:
    writer.ue(_checked_index(update.index, "object index"))
    writer.flag(update.cancel)
    if update.cancel:
        return
    if message.object_label_present:
        writer.flag(update.label_index is not None)
        if update.label_index is not None:
            writer.ue(_checked_index(update.label_index, "object label index"))
    elif update.label_index is not None:
        raise ValueError("an object label given but object_label_present is false")
    writer.flag(update.region is not None)
    if update.region is None:
        return
    writer.flag(update.region == CANCEL_BOX)
    if update.region == CANCEL_BOX:
        return
    region = update.region
    assert isinstance(region, Region)
    for value in (region.top, region.left, region.width, region.height):
        writer.u(value, 16)
    if message.partial_object_flag_present:
        writer.flag(bool(region.partial))
    if message.confidence_bits is not None:
        if region.confidence is None:
            raise ValueError("the message carries confidences but a region has none")
        writer.u(region.confidence, message.confidence_bits)


def read_annotated_regions(payload: bytes) -> AnnotatedRegions:
    """Parse the SEI payload bytes of an annotated regions message.

    Raises :class:`BitstreamError` for a payload that ends early, breaks a range, or has
    bits left over that are not the payload's alignment bits.
    """
    reader = BitReader(payload)
    if reader.flag("ar_cancel_flag"):
        message = AnnotatedRegions(cancel=True)
    else:
        message = _read_message_body(reader)
    _read_payload_alignment(reader)
    return message


def _read_message_body(reader: BitReader) -> AnnotatedRegions:
    not_optimized = reader.flag("ar_not_optimized_for_viewing_flag")
    true_motion = reader.flag("ar_true_motion_flag")
    occluded = reader.flag("ar_occluded_object_flag")
    partial_present = reader.flag("ar_partial_object_flag_present_flag")
    label_present = reader.flag("ar_object_label_present_flag")
    confidence_present = reader.flag("ar_object_confidence_info_present_flag")
    confidence_bits = (
        reader.u(4, "ar_object_confidence_length_minus1") + 1 if confidence_present else None
    )
    label_language = None
    labels: dict[int, bytes | None] = {}
    if label_present:
        if reader.flag("ar_object_label_language_present_flag"):
            reader.zero_bits_to_byte_boundary("ar_bit_equal_to_zero")
            label_language = reader.string("ar_object_label_language", MAX_STRING_BYTES)
        count = _read_count(reader, "ar_num_label_updates")
        for _ in range(count):
            label_index = _read_index(reader, "ar_label_idx")
            if reader.flag("ar_label_cancel_flag"):
                labels[label_index] = None
            else:
                reader.zero_bits_to_byte_boundary("ar_bit_equal_to_zero")
                labels[label_index] = reader.string("ar_label", MAX_STRING_BYTES)
    objects = []
    for _ in range(_read_count(reader, "ar_num_object_updates")):
        index = _read_index(reader, "ar_object_idx")
        if reader.flag("ar_object_cancel_flag"):
            objects.append(ObjectUpdate(index, cancel=True))
            continue
        label_index = None
        if label_present and reader.flag("ar_object_label_update_flag"):
            label_index = _read_index(reader, "ar_object_label_idx")
        region: Region | str | None = None
        if reader.flag("ar_bounding_box_update_flag"):
            if reader.flag("ar_bounding_box_cancel_flag"):
                region = CANCEL_BOX
            else:
                top = reader.u(16, "ar_bounding_box_top")
                left = reader.u(16, "ar_bounding_box_left")
                width = reader.u(16, "ar_bounding_box_width")
                height = reader.u(16, "ar_bounding_box_height")
                partial = reader.flag("ar_partial_object_flag") if partial_present else None
                confidence = (
                    reader.u(confidence_bits, "ar_object_confidence")
                    if confidence_bits is not None else None
                )
                region = Region(top, left, width, height, confidence, partial)
        objects.append(ObjectUpdate(index, label_index=label_index, region=region))
    return AnnotatedRegions(
        not_optimized_for_viewing=not_optimized, true_motion=true_motion,
        occluded_object=occluded, partial_object_flag_present=partial_present,
        object_label_present=label_present, confidence_bits=confidence_bits,
        label_language=label_language, labels=labels, objects=objects,
    )


def _read_payload_alignment(reader: BitReader) -> None:
    # H.274/H.266 sei_payload(): when the message does not end on a byte boundary, a one bit
    # and zero bits up to the boundary; nothing may follow (no payload extension is defined).
    if reader.bits_left == 0:
        return
    if reader.bits_left >= 8 and reader.byte_aligned():
        raise BitstreamError(f"{reader.bits_left // 8} bytes follow the message's last field")
    if reader.u(1, "payload_bit_equal_to_one") != 1:
        raise BitstreamError("bits follow the message's last field")
    reader.zero_bits_to_byte_boundary("payload_bit_equal_to_zero")
    if reader.bits_left:
        raise BitstreamError(f"{reader.bits_left // 8} bytes follow the message's last field")


def _read_count(reader: BitReader, name: str) -> int:
    count = reader.ue(name)
    if count > MAX_UPDATES:
        raise BitstreamError(f"{name} is {count}, more than the {MAX_UPDATES} H.274 allows")
    return count


def _read_index(reader: BitReader, name: str) -> int:
    index = reader.ue(name)
    if index > MAX_INDEX:
        raise BitstreamError(f"{name} is {index}, more than the {MAX_INDEX} H.274 allows")
    return index


def _check_count(count: int, what: str) -> None:
    if count > MAX_UPDATES:
        raise ValueError(f"{count} {what} in one message; H.274 allows {MAX_UPDATES}")


def _checked_index(index: int, what: str) -> int:
    if not 0 <= index <= MAX_INDEX:
        raise ValueError(f"{what} {index} is outside 0..{MAX_INDEX}")
    return index


def _checked_string(value: bytes, what: str) -> bytes:
    if len(value) > MAX_STRING_BYTES:
        raise ValueError(f"{what} is longer than {MAX_STRING_BYTES} bytes")
    return value


# --- persistence: the object state a decoder keeps, and the updates between two states ---

ObjectState = dict[int, Region]
"""Tracked objects of one picture: ``ar_object_idx`` -> its box (labels are not tracked:
every object written here carries label 0)."""


def apply_updates(state: ObjectState, message: AnnotatedRegions) -> ObjectState:
    """The objects tracked after ``message``, starting from ``state`` (not modified).

    An object without a box (a new object whose box update is absent, or a cancelled box) is
    not part of the result, as it has no region to report.
    """
    if message.cancel:
        return {}
    objects = dict(state)
    for update in message.objects:
        if update.cancel or update.region == CANCEL_BOX:
            objects.pop(update.index, None)
        elif isinstance(update.region, Region):
            objects[update.index] = update.region
    return objects


def region_updates(previous: ObjectState, regions: list[Region]) -> tuple[list[ObjectUpdate], ObjectState]:
    """The object updates that turn ``previous`` into a state holding exactly ``regions``.

    A region equal to a tracked object (box and confidence) costs nothing: the object stays.
    The other regions reuse the indices of tracked objects that are gone (the one with the
    largest overlap first, so an index tends to follow one person), then take the lowest free
    indices; tracked objects left over are cancelled. A new object gets label index 0.
    Returns the updates (sorted by index) and the new state.
    """
    if len(regions) > MAX_INDEX + 1:
        raise ValueError(f"{len(regions)} regions in one picture; H.274 allows {MAX_INDEX + 1}")
    unmatched_old = dict(previous)
    tracked_by_region: dict[Region, list[int]] = {}
    for index, old in previous.items():
        tracked_by_region.setdefault(old, []).append(index)
    state: ObjectState = {}
    pending = []
    for region in regions:
        same = tracked_by_region.get(region)
        if same:
            index = same.pop()
            state[index] = unmatched_old.pop(index)
        else:
            pending.append(region)
    updates = []
    old_indices = list(unmatched_old)
    assigned: dict[int, int] = {}  # gone object index -> position in pending
    if old_indices and pending:
        overlaps = _overlaps([unmatched_old[index] for index in old_indices], pending)
        # Greedy by overlap: the pair with the largest intersection first (ties: lower index).
        order = np.lexsort((np.arange(overlaps.size), -overlaps.ravel()))
        used_positions: set[int] = set()
        for flat in order:
            row, position = divmod(int(flat), len(pending))
            index = old_indices[row]
            if index in assigned or position in used_positions:
                continue
            assigned[index] = position
            used_positions.add(position)
            if len(assigned) == min(len(old_indices), len(pending)):
                break
    for index, position in assigned.items():
        state[index] = pending[position]
        updates.append(ObjectUpdate(index, region=pending[position]))
    taken = set(assigned.values())
    free = (index for index in range(MAX_INDEX + 1) if index not in previous)
    for position, region in enumerate(pending):
        if position in taken:
            continue
        index = next(free)
        state[index] = region
        updates.append(ObjectUpdate(index, label_index=0, region=region))
    for index in old_indices:
        if index not in assigned:
            updates.append(ObjectUpdate(index, cancel=True))
    updates.sort(key=lambda update: update.index)
    return updates, state


def _overlaps(first: list[Region], second: list[Region]) -> np.ndarray:
    """Intersection areas (pixels) of every region of ``first`` with every one of ``second``."""
    a = np.array([(r.left, r.top, r.left + r.width, r.top + r.height) for r in first], dtype=np.int64)
    b = np.array([(r.left, r.top, r.left + r.width, r.top + r.height) for r in second], dtype=np.int64)
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(width, 0, None) * np.clip(height, 0, None)
class RegionsDecoder:
    """What a decoder keeps between annotated regions messages of one CLVS: tracked objects,
    their labels, and the header fields that must stay the same (H.274 8.15.2)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything: a new CLVS starts."""
        self.objects: ObjectState = {}
        self.object_labels: dict[int, int] = {}
        self.labels: dict[int, bytes] = {}
        self.confidence_bits: int | None = None
        self.seen_header = False

    def apply(self, message: AnnotatedRegions) -> None:
        """Update the state with ``message``; raise :class:`BitstreamError` if its confidence
        length differs from an earlier message of the same CLVS."""
        if message.cancel:
            self.objects, self.object_labels, self.labels = {}, {}, {}
            return
        if self.seen_header and message.confidence_bits != self.confidence_bits:
            raise BitstreamError(
                "ar_object_confidence_length changes within a coded layer video sequence"
            )
        self.confidence_bits, self.seen_header = message.confidence_bits, True
        for label_index, label in message.labels.items():
            if label is None:
                self.labels.pop(label_index, None)
            else:
                self.labels[label_index] = label
        self.objects = apply_updates(self.objects, message)
        for update in message.objects:
            if update.cancel:
                self.object_labels.pop(update.index, None)
            elif update.label_index is not None:
                self.object_labels[update.index] = update.label_index

    def regions(self, label: bytes) -> list[Region]:
        """The tracked regions whose label is ``label`` or that have no label, by index."""
        chosen = []
        for index, region in sorted(self.objects.items()):
            label_index = self.object_labels.get(index)
            if label_index is None or self.labels.get(label_index) == label:
                chosen.append(region)
        return chosen
