"""Bounded readers (issue 20, parts 2 to 4): tiny ``vcmd`` files that announce gigabytes,
extract reading a FIFO or ``/dev/zero``, truncated bitstreams that gave fewer frames, and
writers that wrote what their readers refuse.

The hostile ``vcmd`` files are read by the CLI in a subprocess whose address space is
limited (``RLIMIT_AS``), so a reader that asks for gigabytes fails the test with its
traceback instead of taking the machine's memory; a FIFO is read in a subprocess with a
timeout, so a reader that blocks fails instead of hanging the suite.
"""

from __future__ import annotations

import dataclasses
import json
import lzma
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcm.bitstream import (
    count_pictures,
    embed_detections,
    extract_detections,
    extract_from_stream,
)
from vcm.bitstream.annexb import LIMITS as STREAM_LIMITS
from vcm.bitstream.annexb import StreamLimits, UnsupportedStream, parse_stream
from vcm.codecs import EncodeResult, encode_video, sidecar_path
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats.vcmd import (
    HEADER,
    LIMITS,
    LZMA_DICTIONARY,
    VcmdLimits,
    decode_vcmd,
    encode_vcmd,
    read_vcmd,
    write_vcmd,
)
from vcm.detformats.voc_zip import ZipLimits, read_detections_zip, write_detections_zip
from vcm.errors import VcmError

from hostile import FRAMES, HEIGHT, WIDTH, assert_accepted_or_refused, assert_refused, make_sequence

MEMORY_LIMIT = 2 * 1024**3
"""Address space of a subprocess reading a hostile file (bytes): a reader that asks for
more gets a MemoryError, and its traceback fails the test."""

# Runs the CLI with the address space limited and reports its peak resident memory. The peak
# is the process's own (VmHWM of /proc/self/status), not getrusage's ru_maxrss: Linux carries
# the high-water mark of the memory the process had before exec into ru_maxrss, and a
# subprocess started (vfork) by a large pytest process would report pytest's size.
_LIMITED_CLI = """
import atexit, resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
def _peak():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
atexit.register(lambda: sys.stderr.write("\\nmaxrss-kib %d\\n" % _peak()))
sys.argv = ["vcm", *sys.argv[2:]]
from vcm.cli import app
app(prog_name="vcm")
"""


@dataclasses.dataclass
class Run:
    code: int
    stdout: str
    errors: list[str]
    stderr: str
    seconds: float
    peak_bytes: int


def run_limited(*arguments: object, timeout: float = 120) -> Run:
    """``vcm arguments`` in a subprocess limited to :data:`MEMORY_LIMIT` of address space;
    fails the test if it runs past ``timeout`` seconds (a reader that blocks)."""
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                   "PYTHONPATH": os.pathsep.join(sys.path)}
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _LIMITED_CLI, str(MEMORY_LIMIT), *map(str, arguments)],
            capture_output=True, text=True, timeout=timeout, env=environment,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"vcm {' '.join(map(str, arguments))} ran past {timeout} s")
    seconds = time.monotonic() - start
    lines = done.stderr.splitlines()
    peak = [int(line.split()[1]) * 1024 for line in lines if line.startswith("maxrss-kib ")]
    return Run(done.returncode, done.stdout, [line for line in lines if line.startswith("error:")],
               done.stderr, seconds, peak[0] if peak else -1)


def assert_one_error(run: Run, path: Path | str, problem: str) -> None:
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert len(run.errors) == 1 and run.errors[0].startswith(f"error: {path}: "), run.stderr
    assert problem in run.errors[0], run.stderr


def lzma2(payload_bytes: int, byte: bytes = b"\x00", *, prefix: bytes = b"") -> bytes:
    """A raw LZMA2 stream (vcmd's coder 1) of ``prefix`` and then ``payload_bytes`` copies
    of ``byte``, made by a streaming compressor so the payload is never held in memory."""
    compressor = lzma.LZMACompressor(format=lzma.FORMAT_RAW, filters=[{
        "id": lzma.FILTER_LZMA2, "preset": 0, "dict_size": LZMA_DICTIONARY,
        "mode": lzma.MODE_FAST, "mf": lzma.MF_HC3, "nice_len": 273}])
    block = byte * 2**20
    pieces = [compressor.compress(prefix)]
    for start in range(0, payload_bytes, len(block)):
        pieces.append(compressor.compress(block[: min(len(block), payload_bytes - start)]))
    pieces.append(compressor.flush())
    return b"".join(pieces)


def vcmd_header(*, frames: int, payload_length: int, coder: int = 1, step_exponent: int = 0,
                score_bits: int = 8, width: int = 64, height: int = 48) -> bytes:
    return HEADER.pack(b"VCMD", 1, step_exponent, score_bits, coder, width, height, frames, 10,
                       1, payload_length)


# --- part 2: tiny vcmd files that announce gigabytes ---------------------------------------


def test_a_145_kb_vcmd_whose_payload_expands_to_a_gigabyte_is_refused_unread(tmp_path):
    """On 5c82a65 this asked for 7.45 GiB (a MemoryError traceback under the limit)."""
    body = lzma2(10**9)
    assert len(body) < 200_000
    bomb = tmp_path / "bomb.vcmd"
    bomb.write_bytes(vcmd_header(frames=1000, payload_length=10**9) + body)
    run = run_limited("detections", "stats", bomb)
    assert_one_error(run, bomb, "1000000000-byte payload, more than the limit of 134217728")
    assert run.peak_bytes < 256 * 1024**2


def test_a_vcmd_announcing_the_largest_payload_of_zeros_stops_at_the_first_value_too_many(
        tmp_path):
    """The header is within every limit (2**27 payload bytes, 1000 frames), the payload is
    2**27 zero bytes: 1000 empty frames, then values that no frame needs."""
    path = tmp_path / "zeros.vcmd"
    path.write_bytes(vcmd_header(frames=1000, payload_length=LIMITS.max_payload_bytes)
                     + lzma2(LIMITS.max_payload_bytes))
    run = run_limited("detections", "stats", path)
    assert_one_error(run, path, "more than 1000 payload values, but 1000 frames of 0 boxes need")
    assert run.peak_bytes < 256 * 1024**2


def test_a_vcmd_of_five_million_empty_frames_is_refused(tmp_path):
    """On 5c82a65 an 810-byte file of 5,000,000 empty frames was read (41 s, 2.3 GB)."""
    path = tmp_path / "frames.vcmd"
    path.write_bytes(vcmd_header(frames=5_000_000, payload_length=5_000_000) + lzma2(5_000_000))
    assert path.stat().st_size < 1000
    run = run_limited("detections", "stats", path)
    assert_one_error(run, path, "claims 5000000 frames, more than the limit of 1000000")


def test_converting_a_vcmd_of_one_frame_too_many_is_refused(tmp_path):
    """On 5c82a65 this wrote a 270 MB zip (exit 0) that vcm's zip reader refused."""
    path = tmp_path / "many.vcmd"
    frames = LIMITS.max_frames + 1
    path.write_bytes(vcmd_header(frames=frames, payload_length=frames) + lzma2(frames))
    output = tmp_path / "many.zip"
    run = run_limited("detections", "convert", path, output)
    assert_one_error(run, path, f"claims {frames} frames, more than the limit of 1000000")
    assert sorted(item.name for item in tmp_path.iterdir()) == ["many.vcmd"]


def test_a_vcmd_of_more_boxes_than_the_limit_is_refused_before_they_are_allocated():
    # 1024 frames of 2**14 boxes each (varint 80 80 01): 2**24 boxes, 4 times the limit.
    counts = b"\x80\x80\x01" * 1024
    payload_length = len(counts) + 6 * 2**24
    data = (vcmd_header(frames=1024, payload_length=payload_length)
            + lzma2(6 * 2**24, prefix=counts))
    with pytest.raises(VcmError, match=f"^boxes.vcmd: corrupt: 1024 frames of {2**24} boxes "
                       f"need {1024 + 6 * 2**24} payload values, more than the limit of "
                       f"{LIMITS.max_boxes} boxes$"):
        decode_vcmd(data, label="boxes.vcmd")


# --- one limit table per format: the writer refuses exactly what the reader refuses ----------


def boxes_sequence(frames: int, boxes_per_frame: int) -> DetectionSequence:
    return DetectionSequence(64, 48, [
        FrameDetections(number, [[index, index, index + 10.5, 20.0]
                                 for index in range(boxes_per_frame)],
                        [0.5] * boxes_per_frame)
        for number in range(1, frames + 1)])


def vcmd_payload_length(sequence: DetectionSequence) -> int:
    return HEADER.unpack_from(encode_vcmd(sequence))[10]


@pytest.mark.parametrize("field, sequence, at_limit", [
    ("max_frames", boxes_sequence(4, 1), lambda sequence: 4),
    ("max_boxes", boxes_sequence(3, 5), lambda sequence: 15),
    ("max_payload_bytes", boxes_sequence(3, 5), vcmd_payload_length),
])
def test_vcmd_writer_and_reader_share_each_limit_at_its_boundary(tmp_path, field, sequence,
                                                                   at_limit):
    limit = at_limit(sequence)
    path = tmp_path / "limit.vcmd"
    # At the limit: written and read back.
    limits = dataclasses.replace(LIMITS, **{field: limit})
    write_vcmd(sequence, path, limits=limits)
    assert len(decode_vcmd(path.read_bytes(), limits=limits)) == len(sequence)
    # One under: the writer refuses to write it, and the reader refuses the file above.
    below = dataclasses.replace(LIMITS, **{field: limit - 1})
    with pytest.raises(VcmError, match=f"more than the limit of {limit - 1}"):
        write_vcmd(sequence, tmp_path / "refused.vcmd", limits=below)
    assert not (tmp_path / "refused.vcmd").exists()
    with pytest.raises(VcmError, match=f"more than the limit of {limit - 1}"):
        decode_vcmd(path.read_bytes(), limits=below)


def test_vcmd_writer_stores_what_would_break_the_readers_expansion_bound():
    # 2000 empty frames: 2000 zero bytes that LZMA2 codes in a dozen.
    sequence = boxes_sequence(2000, 0)
    coded = encode_vcmd(sequence)
    assert coded[7] == 1 and HEADER.unpack_from(coded)[10] == 2000
    ratio = 2000 // (len(coded) - HEADER.size)
    tight = dataclasses.replace(LIMITS, max_expansion=ratio - 1)
    with pytest.raises(VcmError, match=f"more than {ratio - 1} times"):
        decode_vcmd(coded, limits=tight)
    stored = encode_vcmd(sequence, limits=tight)
    assert stored[7] == 0 and len(decode_vcmd(stored, limits=tight)) == 2000


def zip_member_bytes(sequence: DetectionSequence, tmp_path: Path) -> list[int]:
    import zipfile

    path = tmp_path / "measure.zip"
    write_detections_zip(sequence, path)
    with zipfile.ZipFile(path) as archive:
        sizes = [info.file_size for info in archive.infolist()]
    path.unlink()
    return sizes


@pytest.mark.parametrize("field", ["max_members", "max_member_bytes", "max_total_bytes",
                                   "max_frame_side"])
def test_zip_writer_and_reader_share_each_limit_at_its_boundary(tmp_path, field):
    sequence = boxes_sequence(3, 4)
    sizes = zip_member_bytes(sequence, tmp_path)
    limit = {"max_members": 3, "max_member_bytes": max(sizes), "max_total_bytes": sum(sizes),
             "max_frame_side": 64}[field]
    path = tmp_path / "limit.zip"
    limits = dataclasses.replace(ZipLimits(), **{field: limit})
    write_detections_zip(sequence, path, limits=limits)
    assert len(read_detections_zip(path, limits=limits)) == 3
    below = dataclasses.replace(ZipLimits(), **{field: limit - 1})
    # Each message names the limit (the reader's total says "exceed 4262 bytes").
    with pytest.raises(VcmError, match=rf"\b{limit - 1}\b"):
        write_detections_zip(sequence, tmp_path / "refused.zip", limits=below)
    assert not (tmp_path / "refused.zip").exists()
    with pytest.raises(VcmError, match=rf"\b{limit - 1}\b"):
        read_detections_zip(path, limits=below)


def test_the_default_limits_are_vcms_frame_bound():
    assert LIMITS.max_frames == ZipLimits().max_members == STREAM_LIMITS.max_pictures == 1_000_000
    # The largest payload of max_frames frames and max_boxes boxes fits max_payload_bytes:
    # 5 bytes a count, a box at most 4 (reference) + 4 x 5 (coordinates) + 3 (score).
    assert 5 * LIMITS.max_frames + 27 * LIMITS.max_boxes <= LIMITS.max_payload_bytes


# --- part 3 and 4: extract and decode read bounded, whole bitstreams ------------------------


def people(frames: int = FRAMES) -> DetectionSequence:
    return DetectionSequence(WIDTH, HEIGHT, [
        FrameDetections(number, [[4.0 + number, 10.0, 20.0 + number, 26.0]], [0.9])
        for number in range(1, frames + 1)])


@pytest.fixture(scope="module")
def coded(tmp_path_factory) -> dict[str, Path]:
    """The 6-frame test sequence coded with VVenC (random access) with and without embedded
    detections, and with detections that hold no box; each with its sidecar."""
    folder = tmp_path_factory.mktemp("coded")
    make_sequence(folder / "seq")
    paths = {}
    for name, detections in (("embedded", people()), ("plain", None),
                             ("empty", DetectionSequence(WIDTH, HEIGHT, [
                                 FrameDetections(number) for number in range(1, FRAMES + 1)]))):
        paths[name] = folder / f"{name}.266"
        encode_video(folder / "seq", paths[name], codec="vvenc", qp=40, progress=False,
                     detections=detections)
    return paths


@pytest.fixture
def root(tmp_path, coded) -> Path:
    for name in ("embedded", "plain"):
        for source in (coded[name], sidecar_path(coded[name])):
            (tmp_path / source.name).write_bytes(source.read_bytes())
    return tmp_path


def cut_points(path: Path) -> dict[str, int]:
    """Where to cut a stream: inside the slice header of its 4th picture in decoding order
    (so the parser cannot read it), and just before that picture (a whole access unit)."""
    data = path.read_bytes()
    stream = parse_stream(data)
    picture = stream.pictures[3]
    return {"inside a header": stream.units[picture.first_nal].begin + 2,
            "at a picture": stream.units[picture.first_nal - 1].start}


@pytest.mark.parametrize("command, stream, sidecar, where, problem", [
    # On 5c82a65 extract with the sidecar and decode without it exited 0 with 4 of 12 frames.
    ("extract", "embedded", True, "inside a header", "but its sidecar records"),
    ("extract", "embedded", True, "at a picture", "but its sidecar records"),
    ("extract", "embedded", False, "inside a header", "needs 1 bits but only 0 are left"),
    ("extract", "embedded", False, "at a picture", "missing between POC"),
    ("decode", "plain", False, "inside a header",
     "needs 1 bits but only 0 are left: the stream is truncated"),
    ("decode", "plain", False, "at a picture", "missing between POC"),
])
def test_a_truncated_stream_is_refused(root, command, stream, sidecar, where, problem):
    bitstream = root / f"{stream}.266"
    bitstream.write_bytes(bitstream.read_bytes()[: cut_points(bitstream)[where]])
    if not sidecar:
        sidecar_path(bitstream).unlink()
    arguments = (["detections", "extract", bitstream, "-o", root / "out.vcmd"]
                 if command == "extract" else ["decode", bitstream, "-o", root / "out.mkv"])
    assert_refused(root, arguments, str(bitstream), message=problem)


def test_the_sidecars_frame_count_is_checked_too(coded):
    data = coded["embedded"].read_bytes()
    with pytest.raises(VcmError, match=f"^cut.266: the stream holds {FRAMES} pictures but its "
                       f"sidecar records {FRAMES + 1} frames"):
        extract_from_stream(data, name="cut.266", frames=FRAMES + 1)
    assert len(extract_from_stream(data, name="cut.266", frames=FRAMES)) == FRAMES


def test_decode_without_sidecar_of_a_whole_stream_counts_its_pictures(root):
    bitstream = root / "plain.266"
    sidecar_path(bitstream).unlink()
    assert count_pictures(bitstream) == FRAMES
    assert assert_accepted_or_refused(root, ["decode", bitstream, "-o", root / "out.mkv"],
                                      str(bitstream), outputs=(root / "out.mkv",))
    assert json.loads((root / "out.mkv.json").read_text())["frames"] == FRAMES


def test_a_stream_the_parser_cannot_count_is_told_apart(coded):
    with pytest.raises(UnsupportedStream, match="more than 5 pictures, the limit"):
        parse_stream(coded["plain"].read_bytes(), StreamLimits(max_pictures=5))
    with pytest.raises(UnsupportedStream, match="more than 3 NAL units"):
        parse_stream(coded["plain"].read_bytes(), StreamLimits(max_nal_units=3))
    with pytest.raises(UnsupportedStream, match="more than the limit of 100"):
        parse_stream(coded["plain"].read_bytes(), StreamLimits(max_bytes=100))


def test_extract_of_a_stream_without_any_sei_is_refused(root):
    assert_refused(root, ["detections", "extract", root / "plain.266", "-o", root / "out.vcmd"],
                   str(root / "plain.266"), message="carries no annotated regions SEI message")


def test_detections_without_a_box_still_embed_one_sei_and_extract_as_empty_frames(coded):
    encoded = EncodeResult.read(sidecar_path(coded["empty"]))
    assert encoded.embedded_detections["sei_units"] == 1
    back = extract_detections(coded["empty"])
    assert len(back) == FRAMES and back.count == 0


def test_embed_refuses_to_write_a_stream_its_reader_would_refuse(coded, tmp_path, monkeypatch):
    import vcm.bitstream.embedded as embedded

    size = coded["plain"].stat().st_size
    monkeypatch.setattr(embedded, "LIMITS", StreamLimits(max_bytes=size + 10))
    with pytest.raises(VcmError, match=f"more than the limit of {size + 10} a reader takes"):
        embed_detections(coded["plain"], people(), tmp_path / "out.266")
    assert not (tmp_path / "out.266").exists()


def test_extract_refuses_a_fifo_without_blocking(tmp_path):
    """On 5c82a65 this waited for a writer forever."""
    fifo = tmp_path / "f.266"
    os.mkfifo(fifo)
    run = run_limited("detections", "extract", fifo, "-o", tmp_path / "out.vcmd", timeout=60)
    assert_one_error(run, fifo, "not a regular file (a FIFO)")
    assert sorted(item.name for item in tmp_path.iterdir()) == ["f.266"]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero (a POSIX system)")
def test_extract_refuses_dev_zero(tmp_path):
    """On 5c82a65 this read until a MemoryError."""
    run = run_limited("detections", "extract", "/dev/zero", "-o", tmp_path / "out.vcmd")
    assert_one_error(run, "/dev/zero", "not a regular file (a device)")
    assert list(tmp_path.iterdir()) == []


def test_the_vcmd_reader_itself_refuses_a_fifo_and_a_file_over_its_limit(tmp_path):
    fifo = tmp_path / "f.vcmd"
    os.mkfifo(fifo)
    with pytest.raises(VcmError, match="not a regular file \\(a FIFO\\)"):
        read_vcmd(fifo)
    large = tmp_path / "large.vcmd"
    large.write_bytes(encode_vcmd(boxes_sequence(3, 5)))
    limit = large.stat().st_size - HEADER.size - 1
    with pytest.raises(VcmError, match=f"more than the limit of {limit + HEADER.size} bytes"):
        read_vcmd(large, limits=dataclasses.replace(LIMITS, max_payload_bytes=limit))


# --- Hypothesis: structured hostile vcmd headers, read under a memory limit ------------------


def _real_payload() -> bytes:
    data = encode_vcmd(boxes_sequence(5, 3))
    return data[HEADER.size:] if data[7] == 0 else lzma.decompress(
        data[HEADER.size:], format=lzma.FORMAT_RAW,
        filters=[{"id": lzma.FILTER_LZMA2, "dict_size": LZMA_DICTIONARY}])


@pytest.fixture(scope="module")
def bodies() -> dict[str, tuple[bytes, int, int]]:
    """Payload bodies a hostile header may come with: (body bytes, payload length, frames)
    each is valid for; coded as the name says."""
    real = _real_payload()
    real_lzma = lzma.compress(real, format=lzma.FORMAT_RAW,
                              filters=[{"id": lzma.FILTER_LZMA2, "preset": 0}])
    return {
        "stored real": (real, len(real), 5),
        "lzma2 real": (real_lzma, len(real), 5),
        # 10**5 empty frames, valid as it is.
        "lzma2 zeros 1e5": (lzma2(10**5), 10**5, 10**5),
        # One byte over the payload limit.
        "lzma2 zeros over": (lzma2(LIMITS.max_payload_bytes + 1), LIMITS.max_payload_bytes + 1,
                             1),
        # Counts of 127 boxes per frame, with nothing valid after them.
        "lzma2 sevens": (lzma2(2**20, b"\x7f"), 2**20, 1000),
    }


FRAME_CLAIMS = [1, 2, 5, 1000, 10**5, LIMITS.max_frames, LIMITS.max_frames + 1, 2**32 - 1]
LENGTH_CLAIMS = [0, 1, 2**20, LIMITS.max_payload_bytes, LIMITS.max_payload_bytes + 1, 2**32 - 1]


def _often(value, others: list, whole: st.SearchStrategy) -> st.SearchStrategy:
    """``value`` half the time, else one of ``others``, now and then anything of ``whole``."""
    return st.sampled_from([value] * (len(others) + 1) + others + [None]).flatmap(
        lambda chosen: whole if chosen is None else st.just(chosen))


@st.composite
def hostile_vcmd(draw, bodies) -> tuple[bytes, int]:
    """A vcmd file: a body of :func:`bodies` (or random bytes) under a header whose
    structural fields (frames, payload length, coder, step) are each the body's own about
    half the time, else a hostile value; the other fields are mostly valid, so that the
    reader gets past them. The file may be cut or have a payload byte flipped."""
    name = draw(st.sampled_from(sorted(bodies) + ["random"]))
    if name == "random":
        body, length, frames = draw(st.binary(max_size=64)), 64, 5
        coder = draw(st.sampled_from([0, 1]))
    else:
        body, length, frames = bodies[name]
        coder = 0 if name.startswith("stored") else 1
    frames = draw(_often(frames, FRAME_CLAIMS, st.integers(0, 2**32 - 1)))
    length = draw(_often(length, LENGTH_CLAIMS + [max(0, length - 1), length + 1],
                         st.integers(0, 2**32 - 1)))
    header = HEADER.pack(
        b"VCMD", 1,
        draw(_often(0, [-4, 4, 3], st.integers(-128, 127))),
        draw(_often(8, [1, 16], st.integers(0, 255))),
        draw(_often(coder, [1 - coder, 2], st.integers(0, 255))),
        draw(st.sampled_from([64, 1, 65535])), draw(st.sampled_from([48, 1, 65535])),
        frames, draw(st.sampled_from([10, 0, 2**32 - 1])), draw(st.sampled_from([1, 1001])),
        length)
    data = bytearray(header + body)
    data = data[: len(data) - draw(st.sampled_from([0, 0, 0, 1, 3]))]
    flip = draw(st.one_of(st.none(), st.none(),
                          st.integers(HEADER.size, max(HEADER.size, len(data) - 1))))
    if flip is not None and flip < len(data):
        data[flip] ^= draw(st.integers(1, 255))
    return bytes(data), frames


@settings(derandomize=True, max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_any_vcmd_header_is_read_or_refused_in_bounded_time_and_memory(tmp_path, bodies, data):
    content, frames = data.draw(hostile_vcmd(bodies))
    path = tmp_path / "hostile.vcmd"
    path.write_bytes(content)
    run = run_limited("detections", "stats", path, timeout=60)
    assert "Traceback" not in run.stderr and run.code in (0, 1), run.stderr
    if run.code == 0:
        stats = json.loads(run.stdout)
        assert stats["frames"] == frames <= LIMITS.max_frames
    else:
        assert len(run.errors) == 1 and run.errors[0].startswith(f"error: {path}: "), run.stderr
    # A file of these (at most 200 KB) costs at most what 10**5 empty frames cost.
    assert 0 < run.peak_bytes < 512 * 1024**2, run.stderr
