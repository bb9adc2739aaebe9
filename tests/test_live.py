"""Live coding one access unit at a time, and the live protocol's messages (issue 18).

Streams come from the real low-delay encoders (ffmpeg's libvvenc and libx265) on a 12-frame
160x96 clip; the whole-stream functions of vcm.bitstream are the reference.
"""

from __future__ import annotations

import socket

import numpy as np
import pytest

from vcm.bitstream import embed_into_stream, extract_from_stream
from vcm.bitstream.access_units import (
    AccessUnitEmbedder,
    AccessUnitExtractor,
    AccessUnitSplitter,
    access_unit_delimiter,
)
from vcm.bitstream.annexb import parse_stream, split_nal_units
from vcm.bitstream.bits import BitstreamError
from vcm.detections import DetectionSequence, FrameDetections
from vcm.live.coding import SYNTAX, LiveEncoder, live_codec
from vcm.live.protocol import Hello, ProtocolError, read_line, token_matches

from clips import moving_square_frames

WIDTH, HEIGHT, FRAMES = 160, 96, 12
AUD_TYPE = {"vvc": 20, "hevc": 35}
SUFFIX_SEI_TYPE = {"vvc": 24, "hevc": 40}


def encode_units(codec_name: str) -> list[bytes]:
    encoder = LiveEncoder(live_codec(codec_name), width=WIDTH, height=HEIGHT, fps=25, qp=32)
    try:
        for frame in moving_square_frames(WIDTH, HEIGHT, FRAMES):
            encoder.encode(frame)
        encoder.finish()
        units = []
        while (unit := encoder.next_access_unit(timeout=60)) is not None:
            units.append(unit)
    finally:
        encoder.close()
    return units


@pytest.fixture(scope="module", params=["vvenc", "x265"])
def coded(request) -> tuple[str, list[bytes]]:
    return SYNTAX[request.param], encode_units(request.param)


def hand_detections() -> list[FrameDetections]:
    """Boxes that move, appear, vanish and stay: every kind of SEI update."""
    frames = []
    for number in range(1, FRAMES + 1):
        boxes = [[5 + number, 10, 21 + number, 26.4]]
        scores = [0.9]
        if 3 <= number <= 6:
            boxes.append([100, 40, 130.6, 90])  # appears at 3, unchanged, gone at 7
            scores.append(0.55)
        if number == 9:
            boxes, scores = [], []
        frames.append(FrameDetections(number, np.array(boxes).reshape(-1, 4), np.array(scores)))
    return frames


def test_low_delay_encoders_give_one_access_unit_per_frame_in_output_order(coded):
    syntax, units = coded
    assert len(units) == FRAMES
    for unit in units:
        types = [nal.type for nal in split_nal_units(unit, syntax)]
        assert types[0] == AUD_TYPE[syntax] and types[-1] == SUFFIX_SEI_TYPE[syntax]
    stream = parse_stream(b"".join(units))
    # No reordering: decoding order is output order.
    assert [picture.decode_index for picture in stream.output_order()] == list(range(FRAMES))


FRACTIONAL_FPS = 3.5152  # a paced rate, as bench_live.py's latency runs ask


def test_x265_codes_the_first_frame_before_more_come_at_a_fractional_frame_rate():
    # At this rate ffmpeg probed its raw input (up to 5 MB, here 108 frames) before coding
    # anything; low delay means the first frame's AU comes out before the second goes in.
    encoder = LiveEncoder(live_codec("x265"), width=WIDTH, height=HEIGHT, fps=FRACTIONAL_FPS,
                          qp=32)
    try:
        encoder.encode(next(iter(moving_square_frames(WIDTH, HEIGHT, 1))))
        unit = encoder.next_access_unit(timeout=30)
        assert [nal.type for nal in split_nal_units(unit, "hevc")][0] == AUD_TYPE["hevc"]
        encoder.finish()
        assert encoder.next_access_unit(timeout=30) is None
    finally:
        encoder.close()


def test_splitter_cuts_the_same_units_from_pieces_of_any_size(coded):
    syntax, units = coded
    data = b"".join(units)
    rng = np.random.default_rng(7)
    for largest in (1, 3, 40, 5000):
        splitter = AccessUnitSplitter(syntax)
        found, position = [], 0
        while position < len(data):
            size = int(rng.integers(1, largest + 1))
            found += splitter.feed(data[position : position + size])
            position += size
        assert splitter.flush() is None
        assert found == units


def test_an_access_unit_is_complete_at_its_picture_hash_without_the_next_one(coded):
    syntax, units = coded
    splitter = AccessUnitSplitter(syntax)
    assert splitter.feed(units[0][:-1]) == []
    assert splitter.feed(units[0][-1:]) == [units[0]]
    assert splitter.pending == 0


def test_splitter_without_picture_hashes_waits_for_the_next_delimiter(coded):
    syntax, units = coded
    without_hash = [b"".join(unit[nal.start : nal.end] for nal in split_nal_units(unit, syntax)
                             if nal.type != SUFFIX_SEI_TYPE[syntax]) for unit in units[:2]]
    splitter = AccessUnitSplitter(syntax)
    assert splitter.feed(without_hash[0]) == []
    assert splitter.feed(without_hash[1]) == [without_hash[0]]
    assert splitter.flush() == without_hash[1]


@pytest.mark.parametrize("data, problem", [
    (b"GET / HTTP/1.1\r\n\r\n\x00\x00\x01\x40\x01", "not an Annex-B stream"),
    (b"\x00\x00\x01\x80\xa1\x28", "forbidden_zero_bit"),
    (b"\x00\x00\x01\x00\x79\x00\x00\x00\x01\x00\xa1\x28", "not an access unit delimiter"),
])
def test_splitter_refuses_what_is_no_access_unit(data, problem):
    with pytest.raises(BitstreamError, match=problem):
        splitter = AccessUnitSplitter("vvc")
        splitter.feed(data)
        splitter.feed(b"\x00\x00\x01\x00\xa1\x28")


def test_splitter_refuses_an_access_unit_over_its_limit(coded):
    syntax, units = coded
    splitter = AccessUnitSplitter(syntax, max_bytes=len(units[0]) - 10)
    with pytest.raises(BitstreamError, match="larger than"):
        splitter.feed(units[0])


def test_a_stream_cut_inside_an_access_unit_is_refused_at_its_end(coded):
    syntax, units = coded
    splitter = AccessUnitSplitter(syntax)
    assert splitter.feed(units[0] + units[1][: len(units[1]) - 5]) == [units[0]]
    with pytest.raises(BitstreamError, match="ends inside an access unit"):
        splitter.flush()


def test_access_unit_delimiters_by_hand():
    # VVC: header 0x00, type 20 << 3 | TemporalId + 1 = 0xA1; aud_irap_or_gdr_flag 0,
    # aud_pic_type 2 (010), stop bit: 0010 1000. HEVC: type 35 << 1 = 0x46, 0x01; pic_type
    # 010, stop bit: 0101 0000.
    assert access_unit_delimiter("vvc") == bytes.fromhex("00000001 00a1 28")
    assert access_unit_delimiter("hevc") == bytes.fromhex("00000001 4601 50")


def test_embedding_one_access_unit_at_a_time_equals_embedding_the_whole_stream(coded):
    syntax, units = coded
    detections = hand_detections()
    embedder = AccessUnitEmbedder(syntax, WIDTH, HEIGHT)
    live = b"".join(embedder.embed(unit, frame) for unit, frame in zip(units, detections))
    whole, record = embed_into_stream(b"".join(units),
                                      DetectionSequence(WIDTH, HEIGHT, detections), name="clip")
    assert live == whole
    assert embedder.record() == record.to_dict()
    # The first box moves every frame, so every picture has an SEI; the second box is sent
    # once (frame 3) and persists through frame 6: 12 + 1 boxes sent, minus frame 9's none.
    assert record.sei_units == FRAMES
    assert record.boxes_sent == FRAMES - 1 + 1


def test_extracting_one_access_unit_at_a_time_equals_extracting_the_whole_stream(coded):
    syntax, units = coded
    detections = hand_detections()
    whole, record = embed_into_stream(b"".join(units),
                                      DetectionSequence(WIDTH, HEIGHT, detections), name="clip")
    embedded_units = AccessUnitSplitter(syntax).feed(whole)
    extractor = AccessUnitExtractor(syntax, WIDTH, HEIGHT)
    live = [extractor.extract(unit) for unit in embedded_units]
    reference = extract_from_stream(whole, name="clip")
    assert [frame.frame for frame in live] == list(range(1, FRAMES + 1))
    for ours, theirs in zip(live, reference.frames, strict=True):
        np.testing.assert_array_equal(ours.boxes, theirs.boxes)
        np.testing.assert_array_equal(ours.scores, theirs.scores)
    assert len(live[8]) == 0 and len(live[3]) == 2
    assert extractor.record() == record.to_dict()


def test_hello_goes_and_comes_back():
    hello = Hello(codec="vvenc", options={"preset": "faster"}, qp=32, width=160, height=96,
                  fps=25.0, token="s3cret")
    assert Hello.parse(hello.to_line()) == hello


@pytest.mark.parametrize("line, problem", [
    (b"GET / HTTP/1.1\r\n", "not a vcm live stream"),
    (b"VCMLIVE/1 [1, 2]\n", "exactly the fields"),
    (b"VCMLIVE/1 {nope\n", "not a JSON object"),
    (b'VCMLIVE/1 {"codec": "vvenc", "options": {"encoder": "/bin/sh"}, "qp": 32, "width": 16, '
     b'"height": 16, "fps": 25, "token": null}\n', "options must be"),
    (b'VCMLIVE/1 {"codec": "vvenc", "options": {}, "qp": 32, "width": 99999, "height": 16, '
     b'"fps": 25, "token": null}\n', "frame size"),
    (b'VCMLIVE/1 {"codec": "vvenc", "options": {}, "qp": 32, "width": 16, "height": 16, '
     b'"fps": 0, "token": null}\n', "fps"),
])
def test_hello_refuses_what_is_not_one(line, problem):
    with pytest.raises(ProtocolError, match=problem):
        Hello.parse(line)


def test_tokens_match_only_exactly():
    assert token_matches(None, None) and token_matches(None, "any")
    assert token_matches("abc", "abc")
    assert not token_matches("abc", None) and not token_matches("abc", "abd")


def test_read_line_stops_at_its_limit():
    first, second = socket.socketpair()
    with first, second:
        second.settimeout(5)
        first.sendall(b"short\n" + b"x" * 100)
        buffer = bytearray()
        assert read_line(second, buffer, 50) == b"short\n"
        with pytest.raises(ProtocolError, match="longer than 50"):
            read_line(second, buffer, 50)


def test_steady_throughput_spans_first_to_last_result():
    from vcm.live.edge import EdgeReport

    # 5 results, the first at t = 10 s and the last at t = 12 s: 4 intervals in 2 s
    report = EdgeReport(results=5, seconds=8.0, first_result=10.0, last_result=12.0)
    assert report.steady_throughput == pytest.approx(2.0)
    assert report.throughput == pytest.approx(5 / 8.0)
    assert report.to_dict()["steady_fps"] == 2.0
    assert EdgeReport(results=1, first_result=10.0, last_result=10.0).steady_throughput == 0.0
