"""Detections inside VVC/HEVC bitstreams: H.274 annotated regions SEI messages.

Independent checks: ffmpeg's decoders (identical frames with and without the SEIs), ffmpeg's
``trace_headers`` bitstream filter (picture order counts and access units), and VTM's
``DecoderApp --SEIAnnotatedRegionsInfoFilename`` (the regions it parsed).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vcm.bitstream import (
    embed_detections,
    embed_into_stream,
    extract_detections,
    extract_from_stream,
    quantise_detections,
)
from vcm.bitstream.annexb import (
    VVC,
    HEVC,
    add_emulation_prevention,
    parse_stream,
    remove_emulation_prevention,
    sei_messages,
    sei_nal_unit,
    split_nal_units,
)
from vcm.bitstream.annotated_regions import (
    CANCEL_BOX,
    AnnotatedRegions,
    ObjectUpdate,
    Region,
    apply_updates,
    read_annotated_regions,
    region_updates,
    write_annotated_regions,
)
from vcm.bitstream.bits import BitstreamError, BitWriter
from vcm.cli import app
from vcm.codecs import encode_video
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats.voc_zip import read_detections_zip, write_detections_zip
from vcm.errors import VcmError
from vcm.ffmpeg import ffmpeg_executable
from vcm.video import write_lossless_video

from clips import moving_square_frames
from conftest import require_vtm

WIDTH, HEIGHT, FRAMES, FPS = 160, 96, 8, 10


# --- the SEI payload, bit by bit ---------------------------------------------------------

def one_person_message() -> AnnotatedRegions:
    return AnnotatedRegions(
        not_optimized_for_viewing=True, object_label_present=True, confidence_bits=8,
        labels={0: b"person"},
        objects=[ObjectUpdate(0, label_index=0, region=Region(20, 10, 30, 40, 200))],
    )


def test_payload_of_one_person_worked_out_by_hand():
    payload = write_annotated_regions(one_person_message())
    # ar_cancel_flag 0, not_optimized 1, true_motion 0, occluded 0, partial_present 0,
    # label_present 1, confidence_present 1 | confidence_length_minus1 0111 | language 0,
    # ar_num_label_updates ue(1) 010, ar_label_idx ue(0) 1 | ar_label_cancel_flag 0 and
    # 7 zero bits to the byte boundary
    header = bytes([0b01000110, 0b11100101, 0b00000000])
    label = b"person\x00"
    # ar_num_object_updates ue(1) 010, ar_object_idx ue(0) 1, cancel 0, label_update 1,
    # ar_object_label_idx ue(0) 1, bbox_update 1, bbox_cancel 0 (9 bits), then top 20,
    # left 10, width 30, height 40 as u(16), confidence 200 as u(8), then the payload's
    # alignment: a one bit and zeros (81 + 7 = 88 bits).
    bits = ("010101110" + f"{20:016b}{10:016b}{30:016b}{40:016b}" + f"{200:08b}" + "1000000")
    objects = int(bits, 2).to_bytes(len(bits) // 8, "big")
    assert objects == bytes([0x57, 0x00, 0x0A, 0x00, 0x05, 0x00, 0x0F, 0x00, 0x14, 0x64, 0x40])
    assert payload == header + label + objects
    assert read_annotated_regions(payload) == one_person_message()


def test_sei_nal_unit_bytes():
    payload = write_annotated_regions(one_person_message())
    unit = sei_nal_unit(VVC, 202, payload, temporal_id=2)
    # VVC header: forbidden 0, reserved 0, layer 0 | type 23 (10111), TemporalId + 1 = 3.
    assert unit[:2] == bytes([0x00, 0b10111011])
    assert unit[2:4] == bytes([202, len(payload)])
    assert unit[4:-1] == payload and unit[-1] == 0x80
    hevc = sei_nal_unit(HEVC, 202, payload, temporal_id=0)
    # HEVC header: forbidden 0, type 39 (100111), layer 0 (000000), TemporalId + 1 = 1.
    assert hevc[:2] == bytes([0b01001110, 0b00000001])
    assert sei_messages(remove_emulation_prevention(hevc[2:])) == [(202, payload)]


def test_payload_type_and_size_above_254_use_ff_bytes():
    unit = sei_nal_unit(VVC, 202, bytes(range(1, 256)) + b"\x01" * 45, temporal_id=0)
    # 300 bytes: size coded as 0xFF then 45.
    assert unit[2:5] == bytes([202, 0xFF, 45])
    assert sei_messages(remove_emulation_prevention(unit[2:]))[0][1][-3:] == b"\x01\x01\x01"


def test_emulation_prevention_both_ways():
    rbsp = bytes.fromhex("0000000001000003 0000".replace(" ", ""))
    escaped = add_emulation_prevention(rbsp)
    assert escaped == bytes.fromhex("000003000003010000030300 0003".replace(" ", ""))
    assert remove_emulation_prevention(escaped) == rbsp


@given(st.binary(max_size=200))
def test_emulation_prevention_round_trip(data):
    rbsp = data + b"\x80"  # every RBSP written here ends with rbsp_trailing_bits
    escaped = add_emulation_prevention(rbsp)
    assert remove_emulation_prevention(escaped) == rbsp
    for forbidden in (b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02"):
        assert forbidden not in escaped


regions_strategy = st.builds(
    Region,
    top=st.integers(0, 0xFFFF), left=st.integers(0, 0xFFFF),
    width=st.integers(0, 0xFFFF), height=st.integers(0, 0xFFFF),
)


@st.composite
def messages(draw) -> AnnotatedRegions:
    if draw(st.booleans()) and draw(st.booleans()):
        return AnnotatedRegions(cancel=True)
    bits = draw(st.one_of(st.none(), st.integers(1, 16)))
    partial = draw(st.booleans())
    labelled = draw(st.booleans())
    label_text = st.binary(max_size=20).map(lambda text: text.replace(b"\x00", b"a"))
    labels = draw(st.dictionaries(st.integers(0, 255), st.one_of(st.none(), label_text),
                                  max_size=4)) if labelled else {}
    objects = []
    for index in draw(st.lists(st.integers(0, 255), max_size=12)):
        if draw(st.booleans()) and draw(st.booleans()):
            objects.append(ObjectUpdate(index, cancel=True))
            continue
        region = draw(st.sampled_from(["none", "cancel", "box"]))
        if region == "box":
            box = draw(regions_strategy)
            region_value = Region(
                box.top, box.left, box.width, box.height,
                draw(st.integers(0, (1 << bits) - 1)) if bits else None,
                draw(st.booleans()) if partial else None,
            )
        else:
            region_value = CANCEL_BOX if region == "cancel" else None
        label_index = draw(st.one_of(st.none(), st.integers(0, 255))) if labelled else None
        objects.append(ObjectUpdate(index, label_index=label_index, region=region_value))
    return AnnotatedRegions(
        not_optimized_for_viewing=draw(st.booleans()), true_motion=draw(st.booleans()),
        occluded_object=draw(st.booleans()), partial_object_flag_present=partial,
        object_label_present=labelled, confidence_bits=bits,
        label_language=draw(st.one_of(st.none(), label_text)) if labelled else None,
        labels=labels, objects=objects,
    )


@given(messages())
def test_payload_round_trip(message):
    payload = write_annotated_regions(message)
    assert read_annotated_regions(payload) == message
    # Any shorter payload is an error, never a different message.
    for end in range(len(payload) - 1, max(len(payload) - 4, -1), -1):
        with pytest.raises(BitstreamError):
            read_annotated_regions(payload[:end])


frame_regions = st.lists(
    st.builds(Region, top=st.integers(0, 40), left=st.integers(0, 40),
              width=st.integers(1, 8), height=st.integers(1, 8), confidence=st.integers(0, 3)),
    max_size=10,
)


@given(st.lists(frame_regions, max_size=8))
def test_updates_rebuild_every_frame(frames):
    state: dict = {}
    for regions in frames:
        updates, expected = region_updates(state, regions)
        state = apply_updates(state, AnnotatedRegions(confidence_bits=2, objects=updates))
        assert state == expected
        assert sorted(state.values(), key=repr) == sorted(regions, key=repr)
        # An unchanged region is never resent.
        assert len([update for update in updates if not update.cancel]) <= len(regions)


def test_unchanged_frame_needs_no_update_and_moved_box_keeps_its_index():
    first = [Region(10, 10, 20, 40, 200), Region(10, 100, 20, 40, 150)]
    updates, state = region_updates({}, first)
    assert [(update.index, update.label_index) for update in updates] == [(0, 0), (1, 0)]
    assert region_updates(state, first) == ([], state)
    moved = [Region(10, 102, 20, 40, 150), Region(10, 10, 20, 40, 200)]
    updates, state = region_updates(state, moved)
    assert updates == [ObjectUpdate(1, region=Region(10, 102, 20, 40, 150))]
    updates, state = region_updates(state, [Region(10, 10, 20, 40, 200)])
    assert updates == [ObjectUpdate(1, cancel=True)]


def exp_golomb(value: int) -> str:
    code = value + 1
    return "0" * (code.bit_length() - 1) + format(code, "b")


def hostile_payload(object_count_bits: str) -> bytes:
    """A message without labels or confidences whose ar_num_object_updates is given."""
    bits = "0" + "000000" + object_count_bits + "1"
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


@pytest.mark.parametrize("count_bits, problem", [
    (exp_golomb(2**32 - 2), "ar_num_object_updates is 4294967294"),
    ("0" * 32 + "1" + "0" * 32, "longer than 32 bits"),
    (exp_golomb(256), "ar_num_object_updates is 256"),
    (exp_golomb(3), "only"),  # claims 3 objects, carries none
])
def test_hostile_payloads(count_bits, problem):
    with pytest.raises(BitstreamError, match=problem):
        read_annotated_regions(hostile_payload(count_bits))


def test_bit_writer_rejects_values_out_of_range():
    writer = BitWriter()
    with pytest.raises(ValueError):
        writer.u(256, 8)
    with pytest.raises(ValueError):
        write_annotated_regions(AnnotatedRegions(objects=[ObjectUpdate(256, cancel=True)]))


# --- real streams ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def streams(tmp_path_factory) -> dict[str, Path]:
    """A tiny clip coded with VVenC (random access and all intra) and x265."""
    folder = tmp_path_factory.mktemp("streams")
    clip = folder / "clip.mkv"
    write_lossless_video(iter(moving_square_frames(WIDTH, HEIGHT, FRAMES)), clip,
                         width=WIDTH, height=HEIGHT, fps=FPS)
    paths = {"clip": clip}
    for name, codec, options in (
        ("vvenc.266", "vvenc", {}),
        ("vvenc-intra.266", "vvenc", {"intra_period": 1}),
        ("x265.265", "x265", {"preset": "ultrafast"}),
    ):
        encode_video(clip, folder / name, codec=codec, qp=40, progress=False, **options)
        paths[name] = folder / name
    return paths


def walking_people(frames: int = FRAMES, width: int = WIDTH, height: int = HEIGHT) -> DetectionSequence:
    """1 to 3 boxes per frame, each moving 4.3 px per frame; one box stands still; scores vary;
    the second frame also holds a box on the bottom-right edge."""
    sequence = []
    for index in range(frames):
        boxes = [[4.3 * index + 0.4, 10.6, 4.3 * index + 30.2, 70.5], [120, 5, 150, 60]]
        scores = [0.61 + 0.04 * index, 0.9]
        if index % 3 == 1:
            boxes.append([width - 12.7, height - 30.2, width, height])
            scores.append(0.999)
        sequence.append(FrameDetections(index + 1, np.array(boxes), np.array(scores)))
    return DetectionSequence(width, height, sequence, source="walking")


def assert_same_detections(actual: DetectionSequence, expected: DetectionSequence) -> None:
    assert (actual.width, actual.height, len(actual)) == (expected.width, expected.height, len(expected))
    for got, want in zip(actual, expected):
        assert got.frame == want.frame
        np.testing.assert_array_equal(got.boxes, want.boxes)
        np.testing.assert_array_equal(got.scores, want.scores)


def test_quantised_boxes_worked_out_by_hand():
    frame = FrameDetections(1, np.array([[0.4, 10.6, 30.5, 70.5], [159.8, 0.0, 163.0, 0.2]]),
                            np.array([0.61, 0.9999]))
    sequence = quantise_detections(DetectionSequence(WIDTH, HEIGHT, [frame]), WIDTH, HEIGHT)
    # round(0.4) = 0, round(10.6) = 11, round(30.5) = 30 (half to even), round(70.5) = 70;
    # the second box is clipped to x 160..160, then widened to one pixel 159..160, and its
    # height 0..0 to 0..1; scores: round(0.61 * 256) = 156, 0.9999 * 256 -> 255 (at most).
    np.testing.assert_array_equal(sequence.frames[0].boxes, [[0, 11, 30, 70], [159, 0, 160, 1]])
    np.testing.assert_array_equal(sequence.frames[0].scores, [156 / 256, 255 / 256])


@pytest.mark.parametrize("name", ["vvenc.266", "vvenc-intra.266", "x265.265"])
def test_embed_then_extract_gives_the_quantised_boxes(streams, tmp_path, name):
    detections = walking_people()
    output = tmp_path / name
    record = embed_detections(streams[name], detections, output)
    assert record.pictures == FRAMES and record.boxes == detections.count
    # The standing box is sent once (its score stays 0.9); every frame has a moving box, so
    # one SEI per picture.
    assert record.boxes_sent == detections.count - (FRAMES - 1)
    assert record.sei_units == FRAMES
    assert output.stat().st_size == streams[name].stat().st_size + record.sei_bytes
    assert_same_detections(extract_detections(output), quantise_detections(detections, WIDTH, HEIGHT))


@pytest.mark.parametrize("name", ["vvenc.266", "x265.265"])
def test_unlabelled_boxes_with_fewer_confidence_bits_round_trip_in_fewer_bytes(streams, tmp_path, name):
    # Issue 23: the SEI's per-box cost as low as H.274 allows: no object labels (readers take
    # unlabelled boxes for persons) and 4-bit confidences.
    detections = walking_people()
    full = embed_detections(streams[name], detections, tmp_path / f"full-{name}")
    lean_path = tmp_path / f"lean-{name}"
    lean = embed_detections(streams[name], detections, lean_path, confidence_bits=4, labels=False)
    assert (lean.boxes_sent, lean.sei_units) == (full.boxes_sent, full.sei_units)
    assert lean.sei_bytes < full.sei_bytes
    assert lean.to_dict()["labels"] is False and "labels" not in full.to_dict()
    assert_same_detections(extract_detections(lean_path),
                           quantise_detections(detections, WIDTH, HEIGHT, confidence_bits=4))


@pytest.mark.parametrize("name, demuxer", [("vvenc.266", "vvc"), ("x265.265", "hevc")])
def test_ffmpeg_decodes_identical_frames(streams, tmp_path, name, demuxer):
    output = tmp_path / name
    embed_detections(streams[name], walking_people(), output)
    decoded = [
        subprocess.run(
            [ffmpeg_executable(), "-v", "error", "-f", demuxer, "-i", str(path),
             "-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-"],
            capture_output=True, check=True,
        ).stdout
        for path in (streams[name], output)
    ]
    frame_bytes = WIDTH * HEIGHT * 3  # 10-bit 4:2:0: 1.5 samples per pixel, 2 bytes each
    assert len(decoded[0]) == len(decoded[1]) == FRAMES * frame_bytes
    for index in range(FRAMES):
        window = slice(index * frame_bytes, (index + 1) * frame_bytes)
        assert decoded[0][window] == decoded[1][window], f"frame {index + 1} differs"


def trace_access_units(path: Path, demuxer: str) -> list[dict]:
    """Per access unit (ffmpeg's packets, decoding order): the NAL unit types and the POC
    lsb, as ffmpeg's trace_headers bitstream filter prints them."""
    completed = subprocess.run(
        [ffmpeg_executable(), "-hide_banner", "-f", demuxer, "-i", str(path), "-c", "copy",
         "-bsf:v", "trace_headers", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )
    units: list[dict] = []
    for line in completed.stderr.splitlines():
        if "] Packet:" in line:
            units.append({"types": [], "poc_lsb": None})
        elif units and (match := re.search(r"\snal_unit_type\s+\d+ = (\d+)$", line)):
            units[-1]["types"].append(int(match.group(1)))
        elif units and (match := re.search(r"(ph|slice)_pic_order_cnt_lsb\s+\d+ = (\d+)$", line)):
            units[-1]["poc_lsb"] = units[-1]["poc_lsb"] if units[-1]["poc_lsb"] is not None else int(match.group(2))
    return units


@pytest.mark.parametrize("name, demuxer", [("vvenc.266", "vvc"), ("x265.265", "hevc")])
def test_picture_order_counts_match_ffmpeg(streams, name, demuxer):
    stream = parse_stream(streams[name].read_bytes())
    traced = trace_access_units(streams[name], demuxer)
    # One CLVS of 8 pictures: the POC is its lsb (HEVC's IDR has none: 0).
    assert [picture.poc for picture in stream.pictures] == [unit["poc_lsb"] or 0 for unit in traced]
    assert sorted(picture.poc for picture in stream.pictures) == list(range(FRAMES))
    if name == "vvenc.266":
        # VVenC codes the last frame first (an IDR with POC 7): decoding order is not output order.
        assert stream.pictures[0].poc == FRAMES - 1


@pytest.mark.parametrize("name, demuxer, sei_type", [("vvenc.266", "vvc", 23), ("x265.265", "hevc", 39)])
def test_each_sei_sits_in_the_access_unit_of_its_frame(streams, tmp_path, name, demuxer, sei_type):
    # Frame k has one box at x = 4k: every picture gets one SEI updating object 0.
    frames = [FrameDetections(k, np.array([[4.0 * k, 8, 4.0 * k + 20, 50]]), np.array([0.75]))
              for k in range(1, FRAMES + 1)]
    output = tmp_path / name
    embed_detections(streams[name], DetectionSequence(WIDTH, HEIGHT, frames), output)
    traced = trace_access_units(output, demuxer)
    assert [unit["types"].count(sei_type) for unit in traced] == [1] * FRAMES
    data = output.read_bytes()
    seis = [unit for unit in split_nal_units(data, VVC if demuxer == "vvc" else HEVC)
            if unit.type == sei_type]
    for access_unit, sei in zip(traced, seis):
        [(payload_type, payload)] = sei_messages(remove_emulation_prevention(data[sei.begin + 2 : sei.end]))
        [update] = read_annotated_regions(payload).objects
        assert payload_type == 202
        assert update.region.left == 4 * ((access_unit["poc_lsb"] or 0) + 1)


def read_vtm_regions(path: Path) -> list[list[tuple]]:
    """The blocks VTM's DecoderApp writes, one per picture with objects: (top, left, width,
    height, label, confidence) of each object."""
    blocks: list[list[tuple]] = []
    current: dict = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" = ")
        if key == "Number of objects":
            blocks.append([])
        elif key == "Object Idx":
            current = {}
            blocks[-1].append(current)
        elif key.startswith("Object "):
            current[key[len("Object "):]] = value
    return [
        sorted((int(obj["Top"]), int(obj["Left"]), int(obj["Width"]), int(obj["Height"]),
                obj["Label"], int(obj["Conf"])) for obj in block)
        for block in blocks
    ]


@pytest.mark.parametrize("name", ["vvenc.266", "vvenc-intra.266"])
def test_vtm_decoder_decodes_identical_pictures(streams, tmp_path, name):
    decoder = require_vtm()["DecoderApp"]  # $VCM_VTM_DECODER or PATH; skips if missing
    output = tmp_path / name
    embed_detections(streams[name], walking_people(), output)
    pictures = []
    for path in (streams[name], output):
        subprocess.run([decoder, "-b", str(path), "-o", str(path) + ".yuv"], check=True,
                       capture_output=True)
        pictures.append(Path(str(path) + ".yuv").read_bytes())
    assert len(pictures[0]) == FRAMES * WIDTH * HEIGHT * 3  # 10-bit 4:2:0
    assert pictures[0] == pictures[1]


def test_vtm_decoder_reads_the_same_regions(streams, tmp_path):
    # VTM writes the regions each time it decodes a picture, for every picture still waiting
    # for output, so its file has one block per frame only when pictures are output as soon
    # as they are decoded: an all-intra stream. A frame without objects writes no block.
    decoder = require_vtm()["DecoderApp"]  # $VCM_VTM_DECODER or PATH; skips if missing
    detections = walking_people()
    output = tmp_path / "embedded.266"
    embed_detections(streams["vvenc-intra.266"], detections, output)
    regions_file = tmp_path / "regions.txt"
    subprocess.run([decoder, "-b", str(output), f"--SEIAnnotatedRegionsInfoFilename={regions_file}"],
                   check=True, capture_output=True)
    expected = [
        sorted((int(y1), int(x1), int(x2 - x1), int(y2 - y1), "person", int(round(score * 256)))
               for (x1, y1, x2, y2), score in zip(frame.boxes, frame.scores))
        for frame in extract_detections(output) if len(frame)
    ]
    assert len(expected) == FRAMES
    assert read_vtm_regions(regions_file) == expected


@pytest.fixture(scope="module")
def vvenc_stream(streams) -> bytes:
    return streams["vvenc.266"].read_bytes()


coordinates = st.floats(-20, WIDTH + 20, allow_nan=False)


@st.composite
def detection_sequences(draw) -> DetectionSequence:
    frames = []
    for number in range(1, FRAMES + 1):
        count = draw(st.integers(0, 12))
        boxes = [sorted(draw(st.tuples(coordinates, coordinates))) for _ in range(count)]
        rows = [[x1, draw(st.floats(0, HEIGHT)), x2, HEIGHT] for x1, x2 in boxes]
        scores = draw(st.lists(st.floats(0, 1), min_size=count, max_size=count))
        frames.append(FrameDetections(number, np.array(rows).reshape(-1, 4), np.array(scores)))
    return DetectionSequence(WIDTH, HEIGHT, frames)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(detections=detection_sequences())
def test_stream_round_trip_of_random_detections(vvenc_stream, detections):
    embedded, _ = embed_into_stream(vvenc_stream, detections, name="test.266")
    assert_same_detections(extract_from_stream(embedded, name="test.266"),
                           quantise_detections(detections, WIDTH, HEIGHT))


def test_255_boxes_in_a_frame_fit_and_256_do_not(vvenc_stream):
    many = np.array([[x, 0, x + 1, 1 + x % 90] for x in range(255)], dtype=float)
    frames = [FrameDetections(k, many if k == 2 else np.zeros((0, 4)), np.full(len(many) if k == 2 else 0, 0.5))
              for k in range(1, FRAMES + 1)]
    detections = DetectionSequence(WIDTH, HEIGHT, frames)
    embedded, record = embed_into_stream(vvenc_stream, detections, name="many.266")
    # Frame 1 (the CLVS's first picture) carries the label alone, frame 2 adds 255 objects,
    # frame 3 cancels them; other frames without change carry no SEI.
    assert record.sei_units == 3
    assert_same_detections(extract_from_stream(embedded, name="many.266"),
                           quantise_detections(detections, WIDTH, HEIGHT))
    more = np.vstack([many, [[0, 0, 5, 5]]])
    frames[1] = FrameDetections(2, more, np.full(256, 0.5))
    with pytest.raises(VcmError, match="many.266: frame 2 has 256 boxes"):
        embed_into_stream(vvenc_stream, DetectionSequence(WIDTH, HEIGHT, frames), name="many.266")


def test_odd_sized_detections_fit_the_padded_stream(tmp_path):
    # vcm codes a 159x95 video as 160x96; the sidecar keeps the original size for extract.
    clip = tmp_path / "odd.mkv"
    write_lossless_video(iter(moving_square_frames(159, 95, 3)), clip, width=159, height=95, fps=FPS)
    frames = [FrameDetections(k, np.array([[150.2, 80, 159, 95]]), np.array([0.8])) for k in (1, 2, 3)]
    bitstream = tmp_path / "odd.265"
    encode_video(clip, bitstream, codec="x265", qp=45, progress=False, preset="ultrafast",
                 detections=DetectionSequence(159, 95, frames))
    assert parse_stream(bitstream.read_bytes()).width == 160
    back = extract_detections(bitstream)
    assert (back.width, back.height) == (159, 95)
    np.testing.assert_array_equal(back.frames[2].boxes, [[150, 80, 159, 95]])
    bitstream.with_name("odd.265.json").unlink()
    assert (extract_detections(bitstream).width, extract_detections(bitstream).height) == (160, 96)


# --- bad input ---------------------------------------------------------------------------

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 5000), flips=st.lists(st.tuples(st.integers(0, 5000), st.integers(1, 255)), max_size=4))
def test_damaged_streams_give_boxes_or_one_vcm_error(vvenc_stream, cut, flips):
    detections = walking_people()
    embedded, _ = embed_into_stream(vvenc_stream, detections, name="fuzz.266")
    damaged = bytearray(embedded[: max(len(embedded) - cut, 0)])
    for position, mask in flips:
        if damaged:
            damaged[position % len(damaged)] ^= mask
    try:
        extracted = extract_from_stream(bytes(damaged), name="fuzz.266")
    except VcmError as error:
        assert str(error).startswith("fuzz.266: ") and "\n" not in str(error)
    else:
        # Whatever was read is a valid record: boxes of at least a pixel inside the picture.
        for frame in extracted:
            boxes = frame.boxes
            assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] - boxes[:, :2] >= 1)
            assert np.all(boxes[:, 2] <= extracted.width) and np.all(boxes[:, 3] <= extracted.height)

def replace_first_sei(data: bytes, syntax: str, replacement: bytes) -> bytes:
    sei = next(unit for unit in split_nal_units(data, syntax) if unit.type in (23, 39))
    return data[: sei.begin] + replacement + data[sei.end :]


@pytest.fixture
def embedded_stream(streams, tmp_path) -> bytes:
    output = tmp_path / "good.266"
    embed_detections(streams["vvenc.266"], walking_people(), output)
    return output.read_bytes()


@pytest.mark.parametrize("corrupt, problem", [
    # The SEI message claims 21 more payload bytes than its NAL unit holds.
    (lambda unit: unit[:3] + bytes([unit[3] + 21]) + unit[4:], "claims .* bytes but"),
    # The payload cut short (size and trailing bits adjusted).
    (lambda unit: unit[:3] + bytes([10]) + unit[4:14] + b"\x80", "needs .* bits but only"),
    # ar_num_object_updates of 2**32 - 2.
    (lambda unit: sei_nal_unit(VVC, 202, hostile_payload(exp_golomb(2**32 - 2)), 0),
     "ar_num_object_updates is 4294967294"),
    # No rbsp_trailing_bits.
    (lambda unit: unit[:-1], "rbsp_trailing_bits"),
])
def test_corrupt_sei_is_one_error_naming_the_file(embedded_stream, tmp_path, corrupt, problem):
    sei = next(unit for unit in split_nal_units(embedded_stream, VVC) if unit.type == 23)
    bad = tmp_path / "bad.266"
    bad.write_bytes(embedded_stream[: sei.begin] + corrupt(embedded_stream[sei.begin : sei.end])
                    + embedded_stream[sei.end :])
    with pytest.raises(VcmError, match=f"^{re.escape(str(bad))}: .*{problem}"):
        extract_detections(bad)


@pytest.mark.parametrize("content, problem", [
    (b"", "no start code"),
    (b"\x1aE\xdf\xa3 matroska, not Annex B", "no start code"),
    (b"\x00\x00\x01\xff\xff", "neither VVC nor HEVC"),
    # A VVC access unit delimiter alone; a VVC SPS of a header only.
    (b"\x00\x00\x00\x01\x00\xa1\x10", "no coded picture"),
    (b"\x00\x00\x00\x01\x00\x79", "type 15 at byte 0: sps_seq_parameter_set_id needs 4 bits"),
])
def test_not_a_bitstream(tmp_path, content, problem):
    path = tmp_path / "input.266"
    path.write_bytes(content)
    with pytest.raises(VcmError, match=f"^{re.escape(str(path))}: .*{problem}"):
        extract_detections(path)


def test_truncated_stream(streams, tmp_path):
    data = streams["vvenc.266"].read_bytes()
    sps = next(unit for unit in split_nal_units(data, VVC) if unit.type == 15)
    path = tmp_path / "cut.266"
    path.write_bytes(data[: sps.begin + 6])
    with pytest.raises(VcmError, match=f"^{re.escape(str(path))}: "):
        extract_detections(path)


def test_embed_refuses_a_mismatch_and_a_second_embedding(streams, embedded_stream, tmp_path):
    output = tmp_path / "out.266"
    short = DetectionSequence(WIDTH, HEIGHT, walking_people().frames[:5])
    with pytest.raises(VcmError, match="has 8 pictures but the detections cover 5 frames"):
        embed_detections(streams["vvenc.266"], short, output)
    wrong_size = DetectionSequence(320, 96, walking_people().frames)
    with pytest.raises(VcmError, match="pictures are 160x96 but the detections are for 320x96"):
        embed_detections(streams["vvenc.266"], wrong_size, output)
    not_a_number = walking_people()
    not_a_number.frames[3].scores[0] = float("nan")
    with pytest.raises(VcmError, match="frame 4 has a box or score that is not a number"):
        embed_detections(streams["vvenc.266"], not_a_number, output)
    twice = tmp_path / "twice.266"
    twice.write_bytes(embedded_stream)
    with pytest.raises(VcmError, match="already carries annotated regions"):
        embed_detections(twice, walking_people(), output)
    assert not output.exists()


# --- command line ------------------------------------------------------------------------

def test_encode_embed_and_extract_on_the_command_line(streams, tmp_path):
    detections_zip = tmp_path / "detections.zip"
    write_detections_zip(walking_people(), detections_zip)
    bitstream = tmp_path / "fg.266"
    runner = CliRunner()
    result = runner.invoke(app, ["encode", str(streams["clip"]), "--codec", "vvenc", "--qp", "40",
                                 "--embed", str(detections_zip), "-o", str(bitstream), "--no-progress"])
    assert result.exit_code == 0, result.output
    from vcm.codecs import EncodeResult, sidecar_path

    record = EncodeResult.read(sidecar_path(bitstream))
    assert record.bytes == bitstream.stat().st_size
    assert record.embedded_detections["boxes"] == walking_people().count
    assert record.embedded_detections["detections"] == str(detections_zip)
    back = tmp_path / "back.zip"
    result = runner.invoke(app, ["detections", "extract", str(bitstream), "-o", str(back)])
    assert result.exit_code == 0, result.output
    expected = quantise_detections(read_detections_zip(detections_zip), WIDTH, HEIGHT)
    extracted = read_detections_zip(back)
    assert len(extracted) == len(expected)
    for got, want in zip(extracted, expected):
        np.testing.assert_array_equal(got.boxes, want.boxes)
        # The zip keeps 4 decimals of the score (156 / 256 = 0.609375 is stored as 0.6094).
        np.testing.assert_allclose(got.scores, want.scores, rtol=0, atol=5e-5)


def test_extract_command_on_bad_input_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.266"
    bad.write_bytes(b"\x00\x00\x01\x00")
    output = tmp_path / "out.zip"
    result = CliRunner().invoke(app, ["detections", "extract", str(bad), "-o", str(output)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith(f"error: {bad}: ")
    assert "Traceback" not in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.266"]


def test_encode_embed_mismatch_leaves_no_bitstream(streams, tmp_path):
    detections_zip = tmp_path / "detections.zip"
    write_detections_zip(DetectionSequence(WIDTH, HEIGHT, walking_people().frames[:3]), detections_zip)
    bitstream = tmp_path / "fg.266"
    result = CliRunner().invoke(app, ["encode", str(streams["clip"]), "--embed", str(detections_zip),
                                      "-o", str(bitstream), "--no-progress"])
    assert result.exit_code == 1
    assert "cover 3 frames" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["detections.zip"]
