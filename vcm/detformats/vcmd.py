"""Detection format ``vcmd``: compact binary detections, about 4 bytes per box.

The byte layout is specified in ``docs/detection-format.md``; this module follows it. In
short: a 28-byte header (magic ``VCMD``, version, coordinate step, score bits, coder, frame
size, frame count, frame rate, payload length), then one payload of LEB128 varints, stored as
is or compressed as a raw LZMA2 stream. Boxes are quantised to a grid of ``step`` pixels and
predicted from the best-overlapping box of the previous frame; only residuals and new boxes
are sent. Decoding gives back exactly :func:`quantise` of what was written.

Everything is vectorised with numpy (no loop per box, one short loop per chunk of pairs), so
encoding plus decoding runs at well over 100,000 boxes per second
(``experiments/bench_detections.py``).
"""

from __future__ import annotations

import lzma
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from vcm.datasets.mot import MAX_FRAMES
from vcm.detections import DetectionSequence, FrameDetections
from vcm.errors import VcmError
from vcm.fileio import atomic_output
from vcm.fileio import read_input_bytes

MAGIC = b"VCMD"
VERSION = 1
HEADER = struct.Struct("<4sBbBBHHIIII")
"""magic, version, step exponent, score bits, coder, width, height, frames, fps numerator,
fps denominator, payload length: 28 bytes, little-endian."""

CODER_STORED = 0
CODER_LZMA2 = 1

STEP_EXPONENTS = range(-4, 5)
"""Coordinate steps the format allows: 2**e pixels, 1/16 px to 16 px."""

SCORE_BITS = range(1, 17)

MAX_COORDINATE = 2**30
"""Quantised coordinates (in steps) lie in ``(-2**30, 2**30)``, so every residual's zigzag
code is below 2**32, the varint limit."""

MAX_FRAME_SIZE = 65535
"""Width and height are 16-bit fields: the largest frame is 65535 x 65535 pixels."""



@dataclass(frozen=True)
class VcmdLimits:
    """What a ``vcmd`` file may hold: :func:`encode_vcmd` refuses to write, and
    :func:`decode_vcmd` refuses to read, anything beyond these (one table for both, so every
    file vcm writes it can read back, and nothing else).

    Attributes:
        max_frames: most frames (vcm's frame bound: 9 h at 30 fps).
        max_boxes: most boxes in all frames together, about what a VOC zip can hold within
            its 1 GiB (about 250 bytes of XML per box).
        max_payload_bytes: most payload bytes ``L`` (before coding). The largest payload of
            ``max_frames`` frames and ``max_boxes`` boxes (at most 5 bytes a count, 4 + 4 x 5
            + 3 a box: 118 MB) is under this, so the writer never meets it for a file within
            the other two limits.
        max_expansion: most times an LZMA2 payload may be its coded size: above LZMA2's own
            best ratio (about 7,000:1 on long runs of zeros), so only a hostile file meets it;
            the writer stores the payload uncompressed if not.
    """

    max_frames: int = MAX_FRAMES
    max_boxes: int = 2**22
    max_payload_bytes: int = 2**27
    max_expansion: int = 2**14

    @property
    def max_file_bytes(self) -> int:
        """The largest valid file: a stored payload of ``max_payload_bytes``."""
        return HEADER.size + self.max_payload_bytes


LIMITS = VcmdLimits()

CHUNK_BYTES = 2**20
"""Payload bytes decompressed and decoded at a time: bounds the temporary arrays of the
varint decoder (about 40 bytes per payload byte) whatever the payload's length."""

LZMA_DICTIONARY = 2**20
"""Dictionary size of the LZMA2 coder (bytes): what a reader allocates for it, whatever the
file says."""

MATCH_IOU = 0.0
"""A box is predicted from the previous frame's box of highest IoU when that IoU exceeds this
(any overlap); otherwise it is sent as a new box. Measured on PETS09-S3MF1 (README)."""

_PAIRS_PER_CHUNK = 2**20  # bounds the memory of the box-pair arrays while matching


def step_exponent(step: float) -> int:
    """The exponent ``e`` of a coordinate step of ``2**e`` pixels; ``ValueError`` otherwise
    (a boolean is no step, though Python counts ``True`` as 1)."""
    if isinstance(step, bool) or not isinstance(step, (int, float, np.integer, np.floating)):
        raise ValueError(f"coordinate step must be a number, got {step!r}")
    for exponent in STEP_EXPONENTS:
        if float(step) == 2.0**exponent:
            return exponent
    steps = ", ".join(f"{2.0 ** exponent:g}" for exponent in STEP_EXPONENTS)
    raise ValueError(f"coordinate step {step!r} px is not one of {steps}")


def quantise_boxes(boxes: np.ndarray, step: float) -> np.ndarray:
    """(N, 4) boxes in pixels -> int64 (N, 4) in units of ``step`` pixels.

    Each coordinate is rounded to the nearest step (ties to even, :func:`numpy.rint`); then
    ``x2`` is raised to ``x1 + 1`` and ``y2`` to ``y1 + 1`` where rounding emptied the box,
    so every quantised box is still a box.
    """
    units = np.rint(np.asarray(boxes, dtype=np.float64).reshape(-1, 4) / step).astype(np.int64)
    units[:, 2] = np.maximum(units[:, 2], units[:, 0] + 1)
    units[:, 3] = np.maximum(units[:, 3], units[:, 1] + 1)
    return units


def quantise_scores(scores: np.ndarray, score_bits: int) -> np.ndarray:
    """Scores in [0, 1] -> int64 levels ``rint(score * (2**score_bits - 1))``."""
    top = 2**score_bits - 1
    return np.clip(np.rint(np.asarray(scores, dtype=np.float64) * top), 0, top).astype(np.int64)


def quantise_fps(fps: float) -> Fraction:
    """The frame rate as the header stores it: the nearest fraction with denominator <= 1001
    (so 30000/1001 stays exact); 0 means unknown."""
    return Fraction(float(fps)).limit_denominator(1001) if fps > 0 else Fraction(0)


def quantise(sequence: DetectionSequence, *, step: float = 1.0, score_bits: int = 8
             ) -> DetectionSequence:
    """``sequence`` as a ``vcmd`` file with these options gives it back when read: boxes on
    the ``step`` grid (:func:`quantise_boxes`), scores on ``2**score_bits - 1`` levels, the
    frame rate as :func:`quantise_fps`, no source name (the file holds none)."""
    step_exponent(step)
    top = 2**score_bits - 1
    frames = [
        FrameDetections(
            frame.frame,
            quantise_boxes(frame.boxes, step).astype(np.float64) * step,
            quantise_scores(frame.scores, score_bits) / top,
        )
        for frame in sequence.frames
    ]
    return DetectionSequence(sequence.width, sequence.height, frames,
                             fps=float(quantise_fps(sequence.fps)))


def write_vcmd(sequence: DetectionSequence, path: Path, *, step: float = 1.0,
               score_bits: int = 8, limits: VcmdLimits = LIMITS) -> None:
    """Write ``sequence`` as a ``vcmd`` file at ``path``, atomically.

    ``step`` is the coordinate grid in pixels (a power of two from 1/16 to 16; 1 by
    default); ``score_bits`` the score precision (1..16; 8 by default). Raises
    :class:`VcmError` naming ``path`` for what the format cannot hold (no frames, frames not
    numbered 1..N, a frame size over 65535, a non-finite box, a score outside [0, 1], a
    coordinate beyond 2**30 steps) or what ``limits`` refuse (more frames, boxes or payload
    bytes than a reader takes); nothing is written then.
    """
    with atomic_output(path) as temporary:
        temporary.write_bytes(encode_vcmd(sequence, step=step, score_bits=score_bits,
                                          label=str(path), limits=limits))


def encode_vcmd(sequence: DetectionSequence, *, step: float = 1.0, score_bits: int = 8,
                label: str = "<vcmd>", limits: VcmdLimits = LIMITS) -> bytes:
    """The bytes of the ``vcmd`` file of ``sequence`` (see :func:`write_vcmd`)."""
    try:
        exponent = step_exponent(step)
    except ValueError as error:
        raise VcmError(f"{label}: {error}") from None
    if isinstance(score_bits, bool) or not isinstance(score_bits, int) or score_bits not in SCORE_BITS:
        raise VcmError(f"{label}: score bits must be an integer 1..16, got {score_bits!r}")
    _check_sequence(sequence, label, limits)
    counts = np.array([len(frame) for frame in sequence.frames], dtype=np.int64)
    boxes = np.concatenate([frame.boxes for frame in sequence.frames]).reshape(-1, 4)
    scores = np.concatenate([frame.scores for frame in sequence.frames])
    if not np.isfinite(boxes).all():
        raise VcmError(f"{label}: box corners must be finite")
    if not (np.isfinite(scores) & (scores >= 0) & (scores <= 1)).all():
        raise VcmError(f"{label}: scores must lie in [0, 1]")
    if len(boxes) and np.abs(boxes).max() / step >= MAX_COORDINATE - 1:
        raise VcmError(f"{label}: a box coordinate is beyond {MAX_COORDINATE - 1} steps of {step} px")
    units = quantise_boxes(boxes, step)
    levels = quantise_scores(scores, score_bits)

    _, _, previous_start, previous_count = frame_layout(counts)
    references = best_previous_boxes(units, previous_start, previous_count)
    matched = references > 0
    residuals = units[matched] - units[previous_start[matched] + references[matched] - 1]
    new = units[~matched]
    values = np.concatenate([
        counts,
        references,
        zigzag(residuals.T.ravel()),
        zigzag(new[:, 0]),
        zigzag(new[:, 1]),
        new[:, 2] - new[:, 0] - 1,
        new[:, 3] - new[:, 1] - 1,
        (2**score_bits - 1) - levels,
    ])
    payload = encode_varints(values)
    if len(payload) > limits.max_payload_bytes:
        raise VcmError(f"{label}: {len(payload)} payload bytes, more than the limit of "
                       f"{limits.max_payload_bytes} a reader takes")
    coder, body = CODER_STORED, payload
    # A dictionary no larger than the payload needs: the same bytes, less set-up time.
    dictionary = min(LZMA_DICTIONARY, max(4096, 1 << (len(payload) - 1).bit_length()))
    compressed = lzma.compress(payload, format=lzma.FORMAT_RAW,
                               filters=[{**_LZMA_ENCODER, "dict_size": dictionary}])
    if (len(compressed) < len(payload)
            and len(payload) <= limits.max_expansion * len(compressed)):
        coder, body = CODER_LZMA2, compressed
    fps = quantise_fps(sequence.fps)
    if fps.numerator >= 2**32:
        raise VcmError(f"{label}: frame rate {sequence.fps} is too high for the header")
    header = HEADER.pack(MAGIC, VERSION, exponent, score_bits, coder, sequence.width,
                         sequence.height, len(counts), fps.numerator, fps.denominator,
                         len(payload))
    return header + body


def read_vcmd(path: Path, *, limits: VcmdLimits = LIMITS) -> DetectionSequence:
    """Read a ``vcmd`` file, treating it as untrusted input.

    Only a regular file of at most ``limits.max_file_bytes`` is read. Every field is checked
    against ``limits`` and the file's size before anything is allocated for it, and the
    payload is decompressed and decoded in chunks that stop at the first byte too many; a
    wrong magic or version, a truncated or corrupt file, trailing bytes, a count that the
    payload cannot hold or the limits refuse, or a box that decodes empty raises
    :class:`VcmError` naming ``path``.
    """
    data = read_input_bytes(path, max_bytes=limits.max_file_bytes, what="vcmd file")
    return decode_vcmd(data, label=str(path), limits=limits)


def decode_vcmd(data: bytes, *, label: str = "<vcmd>", limits: VcmdLimits = LIMITS
                ) -> DetectionSequence:
    """The detections of the ``vcmd`` file ``data`` (see :func:`read_vcmd`)."""
    if len(data) < HEADER.size:
        raise VcmError(f"{label}: truncated: {len(data)} bytes, shorter than the "
                       f"{HEADER.size}-byte vcmd header")
    (magic, version, exponent, score_bits, coder, width, height, frame_count, fps_numerator,
     fps_denominator, payload_length) = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise VcmError(f"{label}: not a vcmd file (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise VcmError(f"{label}: vcmd version {version} is not supported (this reads {VERSION})")
    if exponent not in STEP_EXPONENTS:
        raise VcmError(f"{label}: coordinate step exponent {exponent} is not in -4..4")
    if score_bits not in SCORE_BITS:
        raise VcmError(f"{label}: score bits {score_bits} is not in 1..16")
    if width < 1 or height < 1:
        raise VcmError(f"{label}: frame size {width}x{height} is not positive")
    if frame_count < 1:
        raise VcmError(f"{label}: no frames")
    if fps_denominator < 1:
        raise VcmError(f"{label}: frame rate denominator is 0")
    body = memoryview(data)[HEADER.size:]
    if coder == CODER_STORED:
        if len(body) != payload_length:
            raise VcmError(f"{label}: truncated or padded: the header announces a "
                           f"{payload_length}-byte payload, the file holds {len(body)}")
    elif coder == CODER_LZMA2:
        if payload_length > limits.max_expansion * len(body):
            raise VcmError(f"{label}: the header announces a {payload_length}-byte payload, "
                           f"more than {limits.max_expansion} times the {len(body)} "
                           "compressed bytes")
    else:
        raise VcmError(f"{label}: unknown coder {coder} (0 stored, 1 LZMA2)")
    if payload_length > limits.max_payload_bytes:
        raise VcmError(f"{label}: the header announces a {payload_length}-byte payload, more "
                       f"than the limit of {limits.max_payload_bytes}")
    if frame_count > limits.max_frames:
        raise VcmError(f"{label}: the header claims {frame_count} frames, more than the limit "
                       f"of {limits.max_frames}")
    # Each frame's box count takes at least one payload byte.
    if frame_count > payload_length:
        raise VcmError(f"{label}: the header claims {frame_count} frames but the payload of "
                       f"{payload_length} bytes holds at most {payload_length}")
    chunks = _payload_chunks(body, coder, payload_length, label)
    values = _read_values(chunks, frame_count, payload_length, limits, label)
    units, stored_scores, counts = _decode_values(values, frame_count, label)
    step = 2.0**exponent
    top = 2**score_bits - 1
    levels = top - stored_scores
    if (levels < 0).any():
        raise VcmError(f"{label}: corrupt: a score is above {top} for {score_bits} bits")
    boxes = units.astype(np.float64) * step
    scores = levels / top
    ends = np.cumsum(counts).tolist()
    starts = [0, *ends[:-1]]
    frames = [
        FrameDetections(number, boxes[start:end], scores[start:end])
        for number, start, end in zip(range(1, frame_count + 1), starts, ends)
    ]
    return DetectionSequence(width, height, frames, fps=fps_numerator / fps_denominator)


def frame_layout(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where boxes sit, from the per-frame box counts (F,): each frame's first box index (F,),
    and per box (N,) its frame index, the index of its previous frame's first box and that
    frame's box count (0 in the first frame)."""
    starts = np.cumsum(counts) - counts
    previous_counts = np.concatenate([[0], counts[:-1]])
    frame_of_box = np.repeat(np.arange(len(counts)), counts)
    previous_start = (starts - previous_counts)[frame_of_box]
    return starts, frame_of_box, previous_start, previous_counts[frame_of_box]


def best_previous_boxes(units: np.ndarray, previous_start: np.ndarray,
                        previous_count: np.ndarray) -> np.ndarray:
    """For each box, 1 + the index (within its previous frame) of the previous frame's box of
    highest IoU above :data:`MATCH_IOU` (ties: the lowest index), or 0 for none.

    ``units`` is (N, 4) integer boxes; box ``i``'s previous frame holds boxes
    ``previous_start[i] : previous_start[i] + previous_count[i]``.
    """
    references = np.zeros(len(units), dtype=np.int64)
    pair_ends = np.cumsum(previous_count)
    first_box = 0
    while first_box < len(units):
        # Boxes first_box..last_box-1 with at most _PAIRS_PER_CHUNK pairs (at least one box).
        done = pair_ends[first_box - 1] if first_box else 0
        last_box = max(int(np.searchsorted(pair_ends, done + _PAIRS_PER_CHUNK, side="right")),
                       first_box + 1)
        sizes = previous_count[first_box:last_box]
        current = np.repeat(np.arange(first_box, last_box), sizes)
        offsets = np.arange(len(current)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        previous = previous_start[current] + offsets
        overlap = pair_iou(units[current], units[previous])
        keep = overlap > MATCH_IOU
        current, offsets, overlap = current[keep], offsets[keep], overlap[keep]
        order = np.lexsort((offsets, -overlap, current))
        current, offsets = current[order], offsets[order]
        best = np.ones(len(current), dtype=bool)
        best[1:] = current[1:] != current[:-1]
        references[current[best]] = offsets[best] + 1
        first_box = last_box
    return references


def pair_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """IoU of each row pair of two (P, 4) integer box arrays, as float64 (P,)."""
    first = first.astype(np.float64)
    second = second.astype(np.float64)
    width = np.minimum(first[:, 2], second[:, 2]) - np.maximum(first[:, 0], second[:, 0])
    height = np.minimum(first[:, 3], second[:, 3]) - np.maximum(first[:, 1], second[:, 1])
    intersection = np.clip(width, 0, None) * np.clip(height, 0, None)
    area_first = (first[:, 2] - first[:, 0]) * (first[:, 3] - first[:, 1])
    area_second = (second[:, 2] - second[:, 0]) * (second[:, 3] - second[:, 1])
    return intersection / (area_first + area_second - intersection)


def zigzag(values: np.ndarray) -> np.ndarray:
    """Signed integers -> unsigned: 0, -1, 1, -2, 2 ... -> 0, 1, 2, 3, 4 ..."""
    values = np.asarray(values, dtype=np.int64)
    return np.where(values >= 0, 2 * values, -2 * values - 1)


def unzigzag(values: np.ndarray) -> np.ndarray:
    """The inverse of :func:`zigzag`."""
    values = np.asarray(values, dtype=np.int64)
    return np.where(values % 2 == 0, values // 2, -(values + 1) // 2)


def encode_varints(values: np.ndarray) -> bytes:
    """Unsigned integers below 2**32 as LEB128 varints: 7 bits per byte, least significant
    group first, the top bit set on every byte but a value's last."""
    values = np.asarray(values, dtype=np.int64)
    if len(values) and (values.min() < 0 or values.max() >= 2**32):
        raise ValueError("varint values must lie in [0, 2**32)")
    lengths = np.ones(len(values), dtype=np.int64)
    for bits in (7, 14, 21, 28):
        lengths += values >= (1 << bits)
    output = np.empty(int(lengths.sum()), dtype=np.uint8)
    starts = np.cumsum(lengths) - lengths
    for position in range(5):
        present = lengths > position
        more = lengths[present] > position + 1
        output[starts[present] + position] = ((values[present] >> (7 * position)) & 0x7F) | (more << 7)
    return output.tobytes()


def decode_varints(data: bytes, label: str = "<varints>") -> np.ndarray:
    """LEB128 varints -> int64 values; :class:`VcmError` for a value cut short, longer than
    5 bytes, with a needless zero last byte, or of 2**32 or more."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if len(raw) == 0:
        return np.zeros(0, dtype=np.int64)
    last = raw < 0x80
    if not last[-1]:
        raise VcmError(f"{label}: corrupt payload: its last value is cut short")
    ends = np.flatnonzero(last)
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts + 1
    if lengths.max() > 5:
        raise VcmError(f"{label}: corrupt payload: a value is longer than 5 bytes")
    if ((lengths > 1) & (raw[ends] == 0)).any():
        raise VcmError(f"{label}: corrupt payload: a value is not in its shortest form")
    positions = np.arange(len(raw)) - np.repeat(starts, lengths)
    parts = (raw & 0x7F).astype(np.int64) << (7 * positions)
    values = np.add.reduceat(parts, starts)
    if values.max() >= 2**32:
        raise VcmError(f"{label}: corrupt payload: a value is 2**32 or more")
    return values


_LZMA_ENCODER = {
    "id": lzma.FILTER_LZMA2,
    "preset": 9 | lzma.PRESET_EXTREME,
    # No literal context: the payload is small integers, not text (measured smaller).
    "lc": 0,
    "lp": 0,
    "pb": 0,
}


def _payload_chunks(body: memoryview, coder: int, payload_length: int, label: str
                    ) -> Iterator[bytes]:
    """The payload in pieces of at most :data:`CHUNK_BYTES`, decompressed if ``coder`` says
    so; :class:`VcmError` as soon as it runs past ``payload_length`` bytes, and for a
    corrupt stream, a missing end marker or bytes after it."""
    if coder == CODER_STORED:
        for start in range(0, len(body), CHUNK_BYTES):
            yield bytes(body[start:start + CHUNK_BYTES])
        return
    decompressor = lzma.LZMADecompressor(
        format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "dict_size": LZMA_DICTIONARY}]
    )
    fed = produced = 0
    while not decompressor.eof:
        if decompressor.needs_input:
            if fed == len(body):
                raise VcmError(f"{label}: truncated or corrupt: the payload decompresses to "
                               f"{produced} bytes without its end marker, the header "
                               f"announces {payload_length}")
            piece = body[fed:fed + CHUNK_BYTES]
            fed += len(piece)
        else:
            piece = b""
        try:
            chunk = decompressor.decompress(piece, max_length=CHUNK_BYTES)
        except lzma.LZMAError as error:
            raise VcmError(f"{label}: corrupt LZMA2 payload ({error})") from None
        produced += len(chunk)
        if produced > payload_length:
            raise VcmError(f"{label}: truncated or corrupt: the payload decompresses to more "
                           f"than {payload_length} bytes, the header announces "
                           f"{payload_length}")
        if chunk:
            yield chunk
    trailing = len(decompressor.unused_data) + len(body) - fed
    if trailing:
        raise VcmError(f"{label}: {trailing} bytes after the payload")
    if produced != payload_length:
        raise VcmError(f"{label}: truncated or corrupt: the payload decompresses to {produced} "
                       f"bytes, the header announces {payload_length}")


def _read_values(chunks: Iterator[bytes], frame_count: int, payload_length: int,
                 limits: VcmdLimits, label: str) -> np.ndarray:
    """The payload's varints as int64, decoded chunk by chunk.

    Once the ``frame_count`` box counts are in, the number of values the payload must hold
    (``F + 6N``) is known: it is checked against ``limits.max_boxes`` and the payload's
    length, allocated once, and reading stops at the first value beyond it.
    """
    counts_so_far: list[np.ndarray] = []
    counted = 0
    values: np.ndarray | None = None
    filled = 0
    carry = b""
    for chunk in chunks:
        raw = carry + chunk
        value_ends = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) < 0x80)
        complete = int(value_ends[-1]) + 1 if len(value_ends) else 0
        carry = raw[complete:]
        if len(carry) >= 5:
            raise VcmError(f"{label}: corrupt payload: a value is longer than 5 bytes")
        decoded = decode_varints(raw[:complete], label)
        if values is None:
            counts_so_far.append(decoded)
            counted += len(decoded)
            if counted < frame_count:
                continue
            decoded = np.concatenate(counts_so_far)
            values = _allocate_values(decoded[:frame_count], payload_length, limits, label)
        if filled + len(decoded) > len(values):
            box_count = (len(values) - frame_count) // 6
            raise VcmError(f"{label}: corrupt: more than {len(values)} payload values, but "
                           f"{frame_count} frames of {box_count} boxes need {len(values)}")
        values[filled:filled + len(decoded)] = decoded
        filled += len(decoded)
    if carry:
        raise VcmError(f"{label}: corrupt payload: its last value is cut short")
    if values is None:
        raise VcmError(f"{label}: truncated: {counted} payload values for {frame_count} "
                       "frame box counts")
    return values[:filled]


def _allocate_values(counts: np.ndarray, payload_length: int, limits: VcmdLimits, label: str
                     ) -> np.ndarray:
    """Room for all ``F + 6N`` values of a payload whose box counts are ``counts``, once
    ``N`` is within ``limits`` and the ``payload_length`` bytes can hold that many values."""
    frame_count, box_count = len(counts), int(counts.sum())
    need = frame_count + 6 * box_count
    if box_count > limits.max_boxes or need > payload_length:
        why = (f"more than the limit of {limits.max_boxes} boxes"
               if box_count > limits.max_boxes
               else f"more than the {payload_length} payload bytes can hold")
        raise VcmError(f"{label}: corrupt: {frame_count} frames of {box_count} boxes need "
                       f"{need} payload values, {why}")
    return np.empty(need, dtype=np.int64)


def _decode_values(values: np.ndarray, frame_count: int, label: str
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Payload values -> (boxes in steps (N, 4), stored scores (N,), box counts (F,))."""
    if len(values) < frame_count:
        raise VcmError(f"{label}: truncated: {len(values)} payload values for {frame_count} "
                       "frame box counts")
    counts = values[:frame_count]
    box_count = int(counts.sum())
    if len(values) != frame_count + 6 * box_count:
        raise VcmError(f"{label}: corrupt: {len(values)} payload values, but {frame_count} "
                       f"frames of {box_count} boxes need {frame_count + 6 * box_count}")
    references = values[frame_count:frame_count + box_count]
    starts, frame_of_box, previous_start, previous_count = frame_layout(counts)
    bad = np.flatnonzero(references > previous_count)
    if len(bad):
        frame = int(frame_of_box[bad[0]])
        raise VcmError(f"{label}: corrupt: box {bad[0] - starts[frame] + 1} of frame {frame + 1} "
                       f"refers to box {references[bad[0]]} of a previous frame of "
                       f"{previous_count[bad[0]]}")
    matched = references > 0
    matched_count = int(matched.sum())
    new_count = box_count - matched_count
    cursor = frame_count + box_count
    residuals = unzigzag(values[cursor:cursor + 4 * matched_count]).reshape(4, -1).T
    cursor += 4 * matched_count
    new = values[cursor:cursor + 4 * new_count].reshape(4, -1)
    cursor += 4 * new_count
    levels = values[cursor:]

    # Each box is its reference's box plus a residual; the references chain back to a new box.
    # Pointer jumping adds up every chain in log2(longest chain) vectorised rounds.
    sums = np.empty((box_count, 4), dtype=np.int64)
    sums[matched] = residuals
    x1, y1 = unzigzag(new[0]), unzigzag(new[1])
    sums[~matched] = np.column_stack([x1, y1, x1 + new[2] + 1, y1 + new[3] + 1])
    pointer = np.where(matched, previous_start + references - 1, -1)
    while (pointer >= 0).any():
        linked = pointer >= 0
        sums[linked] += sums[pointer[linked]]
        pointer[linked] = pointer[pointer[linked]]
        # A bounded number of rounds on hostile input too: a reference always points to an
        # earlier frame, so chains are acyclic.
    out_of_range = (np.abs(sums) >= MAX_COORDINATE).any(axis=1)
    empty = (sums[:, 2] <= sums[:, 0]) | (sums[:, 3] <= sums[:, 1])
    bad = np.flatnonzero(out_of_range | empty)
    if len(bad):
        frame = int(frame_of_box[bad[0]])
        raise VcmError(f"{label}: corrupt: box {bad[0] - starts[frame] + 1} of frame {frame + 1} "
                       f"decodes {'empty' if empty[bad[0]] else 'out of range'}")
    return sums, levels, counts


def _check_sequence(sequence: DetectionSequence, label: str, limits: VcmdLimits) -> None:
    if not sequence.frames:
        raise VcmError(f"{label}: a detection sequence needs at least one frame")
    if not (1 <= sequence.width <= MAX_FRAME_SIZE and 1 <= sequence.height <= MAX_FRAME_SIZE):
        raise VcmError(f"{label}: frame size {sequence.width}x{sequence.height} is outside "
                       f"1..{MAX_FRAME_SIZE}")
    if len(sequence.frames) > limits.max_frames:
        raise VcmError(f"{label}: {len(sequence.frames)} frames, more than the limit of "
                       f"{limits.max_frames} a reader takes")
    if sequence.count > limits.max_boxes:
        raise VcmError(f"{label}: {sequence.count} boxes, more than the limit of "
                       f"{limits.max_boxes} a reader takes")
    for expected, frame in enumerate(sequence.frames, start=1):
        if frame.frame != expected:
            raise VcmError(f"{label}: frame {expected} of the sequence is numbered {frame.frame}")
