"""Detection formats: the registry, the compact ``vcmd`` format byte for byte
(docs/detection-format.md), round trips, properties over random detections, hostile files,
and the `vcm detections` commands."""

from __future__ import annotations

import json
import lzma
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vcm.cli import app
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats import (
    detection_stats,
    format_for_output,
    format_of_file,
    read_detections,
    write_detections,
)
from vcm.detformats.vcmd import (
    HEADER,
    decode_varints,
    decode_vcmd,
    encode_varints,
    encode_vcmd,
    quantise,
    unzigzag,
    zigzag,
)
from vcm.detformats.voc_zip import read_detections_zip, write_detections_zip
from vcm.errors import VcmError

TINY = DetectionSequence(
    width=64,
    height=48,
    frames=[
        FrameDetections(1, [[100.2, 20.0, 120.4, 40.0]], [1.0]),
        FrameDetections(2, [[102.0, 18.6, 121.0, 40.0]], [0.5]),
    ],
    fps=10.0,
)

# docs/detection-format.md, "A worked example", byte for byte.
TINY_HEADER = (
    b"VCMD"               # magic
    b"\x01"               # version 1
    b"\x00"               # step exponent 0: 1 px
    b"\x08"               # 8 score bits
    b"\x00"               # coder 0: stored
    b"\x40\x00"           # width 64
    b"\x30\x00"           # height 48
    b"\x02\x00\x00\x00"   # 2 frames
    b"\x0a\x00\x00\x00"   # fps numerator 10
    b"\x01\x00\x00\x00"   # fps denominator 1
    b"\x0f\x00\x00\x00"   # payload: 15 bytes
)
TINY_PAYLOAD = bytes([
    0x01, 0x01,              # box counts: 1, 1
    0x00, 0x01,              # references: frame 1 box 1 new; frame 2 box 1 from box 1
    0x04, 0x01, 0x02, 0x00,  # residual dx1 +2, dy1 -1, dx2 +1, dy2 0, zigzagged
    0xC8, 0x01,              # new box x1 = 100 -> zigzag 200 -> varint C8 01
    0x28,                    # y1 = 20 -> 40
    0x13, 0x13,              # width - 1 = 19, height - 1 = 19
    0x00, 0x7F,              # scores 255 - 255, 255 - 128 (0.5 * 255 = 127.5 rounds to even)
])


def equal_sequences(first: DetectionSequence, second: DetectionSequence) -> bool:
    return (
        (first.width, first.height, len(first)) == (second.width, second.height, len(second))
        and all(
            a.frame == b.frame and np.array_equal(a.boxes, b.boxes)
            and np.array_equal(a.scores, b.scores)
            for a, b in zip(first, second)
        )
    )


def test_tiny_file_is_byte_for_byte_the_worked_example_of_the_spec(tmp_path):
    path = tmp_path / "tiny.vcmd"
    write_detections(TINY, path, format="vcmd")

    assert path.read_bytes() == TINY_HEADER + TINY_PAYLOAD
    back = read_detections(path)
    assert back.fps == 10.0
    assert back.frames[0].boxes.tolist() == [[100.0, 20.0, 120.0, 40.0]]
    assert back.frames[1].boxes.tolist() == [[102.0, 19.0, 121.0, 40.0]]
    assert back.frames[0].scores.tolist() == [1.0]
    assert back.frames[1].scores.tolist() == [128 / 255]


def test_lzma2_coder_payload_is_the_hand_worked_varints():
    # 30 frames with the same box: everything after the first frame is a zero residual.
    frames = [FrameDetections(n, [[0, 0, 10, 10]], [1.0]) for n in range(1, 31)]
    data = encode_vcmd(DetectionSequence(32, 32, frames))
    fields = HEADER.unpack_from(data)
    expected = (
        bytes([1] * 30)               # counts
        + bytes([0] + [1] * 29)       # references
        + bytes(4 * 29)               # residuals, all zero
        + bytes([0, 0, 9, 9])         # the one new box: x1, y1, width - 1, height - 1
        + bytes(30)                   # scores: 255 - 255
    )
    assert fields[4] == 1  # coder: LZMA2
    assert fields[10] == len(expected) == 210
    decompressor = lzma.LZMADecompressor(
        format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "dict_size": 2**20}]
    )
    assert decompressor.decompress(data[HEADER.size:]) == expected
    assert len(data) < HEADER.size + 40


def test_varints_and_zigzag_by_hand():
    assert encode_varints(np.array([0, 127, 128, 300, 2**32 - 1])) == bytes(
        [0x00, 0x7F, 0x80, 0x01, 0xAC, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]
    )
    assert decode_varints(bytes([0xAC, 0x02, 0x05])).tolist() == [300, 5]
    assert zigzag(np.array([0, -1, 1, -2, 2])).tolist() == [0, 1, 2, 3, 4]
    assert unzigzag(np.array([0, 1, 2, 3, 4])).tolist() == [0, -1, 1, -2, 2]


def test_quantisation_steps_and_empty_boxes():
    sequence = DetectionSequence(100, 100, [FrameDetections(
        1, [[10.1, 10.2, 10.3, 20.9], [3.13, 4.5, 7.0, 9.38]], [0.3, 0.0])])
    assert quantise(sequence, step=1).frames[0].boxes.tolist() == [
        [10, 10, 11, 21],   # 10.3 rounds to 10 = x1: raised to x1 + 1
        [3, 4, 7, 9],       # 4.5 rounds to even
    ]
    assert quantise(sequence, step=0.25).frames[0].boxes.tolist() == [
        [10.0, 10.25, 10.25, 21.0], [3.25, 4.5, 7.0, 9.5]]
    assert quantise(sequence, step=2).frames[0].boxes.tolist() == [
        [10, 10, 12, 20], [4, 4, 8, 10]]
    assert quantise(sequence, score_bits=1).frames[0].scores.tolist() == [0.0, 0.0]
    assert quantise(sequence, score_bits=4).frames[0].scores.tolist() == [4 / 15, 0.0]


def test_recognised_by_content_not_name(tmp_path):
    as_zip = tmp_path / "really_vcmd.zip"
    write_detections(TINY, as_zip, format="vcmd")
    as_vcmd = tmp_path / "really_zip.vcmd"
    write_detections(TINY, as_vcmd, format="voc-zip")

    assert format_of_file(as_zip).name == "vcmd"
    assert format_of_file(as_vcmd).name == "voc-zip"
    assert read_detections(as_zip).count == read_detections(as_vcmd).count == 2
    assert format_for_output(tmp_path / "a.zip").name == "voc-zip"
    assert format_for_output(tmp_path / "a.VCMD").name == "vcmd"
    assert format_for_output(tmp_path / "a.txt", "vcmd").name == "vcmd"
    assert format_for_output(tmp_path / "a.txt").name == "vcmd"  # the default


def test_voc_zip_to_vcmd_to_voc_zip_keeps_boxes_up_to_quantisation(tmp_path):
    original = DetectionSequence(320, 240, [
        FrameDetections(1, [[10.25, 20.5, 50.75, 120.0], [0, 0, 320, 240]], [0.9512, 0.61]),
        FrameDetections(2),
        FrameDetections(3, [[11.13, 21.49, 52.0, 119.5]], [0.7777]),
    ])
    write_detections(original, tmp_path / "a.zip", format="voc-zip")
    first = read_detections(tmp_path / "a.zip")
    for step in (0.25, 1.0, 2.0):
        write_detections(first, tmp_path / "b.vcmd", format="vcmd", step=step)
        write_detections(read_detections(tmp_path / "b.vcmd"), tmp_path / "c.zip",
                         format="voc-zip")
        back = read_detections(tmp_path / "c.zip")
        expected = quantise(first, step=step)
        for got, want in zip(back, expected):
            assert np.array_equal(got.boxes, want.boxes)  # multiples of 1/4 px: exact at 2 decimals
            assert np.allclose(got.scores, want.scores, atol=5e-5)  # VOC keeps 4 decimals
    assert read_detections(tmp_path / "b.vcmd").frames[0].boxes.tolist()[1] == [0, 0, 320, 240]


def test_voc_zip_writes_no_host_path(tmp_path):
    sequence = DetectionSequence(64, 48, [FrameDetections(1, [[1, 2, 3, 4]], [0.5])],
                                 source="/home/someone/very/long/path/to/the/video.mp4")
    write_detections_zip(sequence, tmp_path / "long.zip")
    write_detections_zip(DetectionSequence(64, 48, sequence.frames, source="v.mp4"),
                         tmp_path / "short.zip")
    assert (tmp_path / "long.zip").read_bytes() == (tmp_path / "short.zip").read_bytes()
    assert read_detections_zip(tmp_path / "long.zip").source == ""


# --- properties over random detections --------------------------------------------------


@st.composite
def sequences(draw, max_frames=5, max_boxes=12, size=None):
    width = size or draw(st.sampled_from([1, 2, 64, 767, 1920, 65535]) | st.integers(1, 65535))
    height = size or draw(st.sampled_from([1, 3, 48, 576, 1080, 65535]) | st.integers(1, 65535))
    frame_count = draw(st.integers(1, max_frames))
    frames = []
    for number in range(1, frame_count + 1):
        count = draw(st.integers(0, max_boxes))
        xs = draw(st.lists(st.tuples(st.floats(0, width), st.floats(0, width)),
                           min_size=count, max_size=count))
        ys = draw(st.lists(st.tuples(st.floats(0, height), st.floats(0, height)),
                           min_size=count, max_size=count))
        on_edges = draw(st.booleans())
        boxes = []
        for (xa, xb), (ya, yb) in zip(xs, ys):
            x1, x2 = sorted((xa, xb))
            y1, y2 = sorted((ya, yb))
            boxes.append([0.0, 0.0, float(width), float(height)] if on_edges else [x1, y1, x2, y2])
        scores = draw(st.lists(st.floats(0, 1), min_size=count, max_size=count))
        frames.append(FrameDetections(number, np.array(boxes).reshape(-1, 4), scores))
    fps = draw(st.sampled_from([0.0, 7.0, 25.0, 30000 / 1001, 59.94]))
    return DetectionSequence(width, height, frames, fps=fps)


STEPS = st.sampled_from([0.25, 0.5, 1.0, 2.0])
BITS = st.sampled_from([1, 4, 8, 12, 16])


# Generating hundreds of boxes is slow on a loaded machine; that is not a failure.
SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=60, deadline=None, suppress_health_check=SLOW_DATA)
@given(sequence=sequences(), step=STEPS, score_bits=BITS)
def test_decoding_gives_back_exactly_the_quantised_detections(sequence, step, score_bits):
    data = encode_vcmd(sequence, step=step, score_bits=score_bits)
    back = decode_vcmd(data)
    expected = quantise(sequence, step=step, score_bits=score_bits)
    assert equal_sequences(back, expected)
    assert back.fps == expected.fps
    # Quantising is idempotent: writing what was read gives the same bytes.
    assert encode_vcmd(back, step=step, score_bits=score_bits) == data


@settings(max_examples=5, deadline=None, suppress_health_check=SLOW_DATA)
@given(sequence=sequences(max_frames=3, max_boxes=300, size=65535), step=STEPS)
def test_many_boxes_per_frame_and_the_largest_frame(sequence, step):
    crowded = DetectionSequence(sequence.width, sequence.height, [
        FrameDetections(1, np.tile([[0.0, 0.0, 65535.0, 65535.0]], (256, 1)), np.ones(256)),
        *[FrameDetections(frame.frame + 1, frame.boxes, frame.scores) for frame in sequence],
    ])
    back = decode_vcmd(encode_vcmd(crowded, step=step))
    assert equal_sequences(back, quantise(crowded, step=step))
    assert len(back.frames[0]) == 256


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=64), coder=st.sampled_from([0, 1]),
       frames=st.sampled_from([1, 2, 255, 2**32 - 1]),
       payload_length=st.sampled_from([0, 1, 15, 64, 2**32 - 1]))
def test_arbitrary_payloads_give_detections_or_a_vcm_error(body, coder, frames, payload_length):
    header = HEADER.pack(b"VCMD", 1, 0, 8, coder, 64, 48, frames, 10, 1, payload_length)
    try:
        sequence = decode_vcmd(header + body, label="fuzz.vcmd")
    except VcmError as error:
        assert str(error).startswith("fuzz.vcmd: ")
    else:
        assert len(sequence) == frames


# --- hostile files ----------------------------------------------------------------------


def read_error(path: Path) -> str:
    with pytest.raises(VcmError) as caught:
        read_detections(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def test_every_truncation_of_a_file_is_an_error_naming_it(tmp_path):
    whole = TINY_HEADER + TINY_PAYLOAD
    path = tmp_path / "cut.vcmd"
    for length in range(len(whole)):
        path.write_bytes(whole[:length])
        read_error(path)
    lzma_file = encode_vcmd(DetectionSequence(32, 32, [
        FrameDetections(n, [[n, 0, n + 10, 10]], [0.7]) for n in range(1, 60)]))
    for length in range(HEADER.size, len(lzma_file)):
        path.write_bytes(lzma_file[:length])
        read_error(path)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "not a detection file"),
        (b"VCMX" + TINY_HEADER[4:] + TINY_PAYLOAD, "not a detection file"),
        (TINY_HEADER[:4] + b"\x02" + TINY_HEADER[5:] + TINY_PAYLOAD, "version 2"),
        (TINY_HEADER[:5] + b"\x05" + TINY_HEADER[6:] + TINY_PAYLOAD, "step exponent 5"),
        (TINY_HEADER[:6] + b"\x00" + TINY_HEADER[7:] + TINY_PAYLOAD, "score bits 0"),
        (TINY_HEADER[:7] + b"\x07" + TINY_HEADER[8:] + TINY_PAYLOAD, "unknown coder 7"),
        (TINY_HEADER[:8] + b"\x00\x00" + TINY_HEADER[10:] + TINY_PAYLOAD, "frame size 0x48"),
        (TINY_HEADER[:12] + b"\x00\x00\x00\x00" + TINY_HEADER[16:] + TINY_PAYLOAD, "no frames"),
        # 2**32 - 1 frames claimed by a 43-byte file.
        (TINY_HEADER[:12] + b"\xff\xff\xff\xff" + TINY_HEADER[16:] + TINY_PAYLOAD,
         "claims 4294967295 frames"),
        (TINY_HEADER[:24] + b"\x00\x00\x00\x00" + TINY_PAYLOAD, "truncated or padded"),
        (TINY_HEADER + TINY_PAYLOAD + b"\x00", "truncated or padded"),
        # A frame claiming 2**32 - 1 boxes.
        (TINY_HEADER[:24] + b"\x13\x00\x00\x00" + b"\xff\xff\xff\xff\x0f" + TINY_PAYLOAD[1:],
         "frames of 4294967296 boxes need"),
        # The first frame's box refers to a previous frame.
        (TINY_HEADER + TINY_PAYLOAD[:2] + b"\x01" + TINY_PAYLOAD[3:], "refers to box 1"),
        # Frame 2's box refers to box 2 of a 1-box frame.
        (TINY_HEADER + TINY_PAYLOAD[:3] + b"\x02" + TINY_PAYLOAD[4:], "refers to box 2"),
        # A residual dx2 of -60 makes frame 2's box empty.
        (TINY_HEADER + TINY_PAYLOAD[:6] + bytes([119]) + TINY_PAYLOAD[7:], "decodes empty"),
        # New x1 = 2**30 steps: zigzag 2**31 = varint 80 80 80 80 08.
        (TINY_HEADER[:24] + b"\x12\x00\x00\x00" + TINY_PAYLOAD[:8] + b"\x80\x80\x80\x80\x08"
         + TINY_PAYLOAD[10:], "box 1 of frame 1 decodes out of range"),
        (TINY_HEADER[:24] + b"\x10\x00\x00\x00" + TINY_PAYLOAD[:8] + b"\xc8\x81\x00"
         + TINY_PAYLOAD[10:], "not in its shortest form"),
        (TINY_HEADER + TINY_PAYLOAD[:-1] + b"\x80", "cut short"),
        # Frame 2's stored score 256: level 255 - 256 < 0.
        (TINY_HEADER[:24] + b"\x10\x00\x00\x00" + TINY_PAYLOAD[:-1] + b"\x80\x02",
         "score is above 255"),
    ],
)
def test_hostile_files(tmp_path, data, problem):
    path = tmp_path / "hostile.vcmd"
    path.write_bytes(data)
    assert problem in read_error(path)


def test_lzma_payloads_that_lie_or_are_corrupt(tmp_path):
    good = encode_vcmd(DetectionSequence(32, 32, [
        FrameDetections(n, [[n, 0, n + 10, 10]], [0.7]) for n in range(1, 60)]))
    assert good[7] == 1
    path = tmp_path / "bad.vcmd"
    claimed = bytearray(good)
    struct.pack_into("<I", claimed, 24, 2**32 - 1)
    path.write_bytes(bytes(claimed))
    assert "more than 16384 times" in read_error(path)
    struct.pack_into("<I", claimed, 24, HEADER.unpack_from(good)[10] - 1)
    path.write_bytes(bytes(claimed))
    assert "decompresses to more than" in read_error(path)
    path.write_bytes(good + b"\x00")
    assert "1 bytes after the payload" in read_error(path)
    corrupt = bytearray(good)
    corrupt[HEADER.size] = 0x07  # not an LZMA2 chunk control byte
    path.write_bytes(bytes(corrupt))
    assert "corrupt LZMA2 payload" in read_error(path)


def test_hostile_headers_allocate_nothing_large(tmp_path):
    path = tmp_path / "claims.vcmd"
    frames_claim = TINY_HEADER[:12] + b"\xff\xff\xff\xff" + TINY_HEADER[16:] + TINY_PAYLOAD
    boxes_claim = (TINY_HEADER[:24] + b"\x13\x00\x00\x00" + b"\xff\xff\xff\xff\x0f"
                   + TINY_PAYLOAD[1:])
    lzma_claim = bytearray(encode_vcmd(DetectionSequence(8, 8, [FrameDetections(1)] * 1)))
    lzma_claim[7] = 1
    struct.pack_into("<I", lzma_claim, 24, 2**32 - 1)
    for data in (frames_claim, boxes_claim, bytes(lzma_claim)):
        path.write_bytes(data)
        tracemalloc.start()
        with pytest.raises(VcmError):
            read_detections(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 256 * 1024


def test_writer_refuses_what_the_format_cannot_hold(tmp_path):
    path = tmp_path / "out.vcmd"
    frame = [FrameDetections(1, [[0, 0, 1, 1]], [0.5])]
    cases = [
        (DetectionSequence(65536, 10, frame), {}, "frame size 65536x10 is outside"),
        (DetectionSequence(10, 10, []), {}, "at least one frame"),
        (DetectionSequence(10, 10, [FrameDetections(2)]), {}, "numbered 2"),
        (DetectionSequence(10, 10, frame), {"step": 3}, "step 3 px is not one of"),
        (DetectionSequence(10, 10, frame), {"score_bits": 17}, "score bits must be an integer 1..16"),
        (DetectionSequence(10, 10, [FrameDetections(1, [[0, 0, 1, 1]], [1.5])]), {}, "scores"),
        (DetectionSequence(10, 10, [FrameDetections(1, [[0, 0, 3e9, 1]], [1])]), {}, "beyond"),
        (DetectionSequence(10, 10, [FrameDetections(1, [[0, 0, np.nan, 1]], [1])]), {}, "finite"),
    ]
    for sequence, options, problem in cases:
        with pytest.raises(VcmError, match=problem):
            write_detections(sequence, path, format="vcmd", **options)
        assert not path.exists()
    with pytest.raises(VcmError, match="no option 'quality'"):
        write_detections(TINY, path, format="vcmd", quality=3)
    with pytest.raises(VcmError, match="unknown detection format 'xml'"):
        write_detections(TINY, path, format="xml")


# --- the `vcm detections` commands ------------------------------------------------------


def run_cli(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def test_convert_and_stats(tmp_path):
    write_detections_zip(TINY, tmp_path / "d.zip")
    result = run_cli("detections", "convert", tmp_path / "d.zip", tmp_path / "d.vcmd")
    assert result.exit_code == 0, result.output
    stats = json.loads(run_cli("detections", "stats", tmp_path / "d.vcmd").stdout)
    assert stats == {"file": str(tmp_path / "d.vcmd"), "format": "vcmd", "frames": 2,
                     "boxes": 2, "bytes": 43, "bytes_per_box": 21.5}
    result = run_cli("detections", "convert", tmp_path / "d.vcmd", tmp_path / "e.bin",
                     "--format", "voc-zip")
    assert result.exit_code == 0, result.output
    assert detection_stats(tmp_path / "e.bin")["format"] == "voc-zip"
    result = run_cli("detections", "convert", tmp_path / "d.zip", tmp_path / "f.vcmd",
                     "-p", "step=0.25", "-p", "score_bits=4")
    assert result.exit_code == 0, result.output
    assert HEADER.unpack_from((tmp_path / "f.vcmd").read_bytes())[1:4] == (1, -2, 4)


def test_commands_on_bad_input_print_one_line_and_leave_nothing(tmp_path):
    bad = tmp_path / "bad.vcmd"
    bad.write_bytes(TINY_HEADER[:12] + b"\xff\xff\xff\xff" + TINY_HEADER[16:] + TINY_PAYLOAD)
    for args, output in [
        (("detections", "stats", bad), None),
        (("detections", "convert", bad, tmp_path / "out.zip"), tmp_path / "out.zip"),
        (("detections", "convert", tmp_path / "missing.zip", tmp_path / "o.vcmd"),
         tmp_path / "o.vcmd"),
    ]:
        result = run_cli(*args)
        assert result.exit_code == 1
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "Traceback" not in result.output
        assert output is None or not output.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.vcmd"]
