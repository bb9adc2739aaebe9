"""Detection formats benchmark: bytes per box, coders, speed, and the multitask BPP per format.

Prints one JSON object (numbers, not a test). Inputs:
- ``sample``: the default config's synthetic sample (640x360, 60 frames, seed 0) with its
  default detector (hog, score 0.6);
- ``PETS09-S3MF1`` (768x576, 107 frames, ``$VCM_MIRROR/datasets``) with yolo-fastest body at
  score 0.6 (the issue's yardstick; the VCM reference's fixed-width ROI syntax costs about
  5.5 bytes per box).

For each: bytes and bytes per box of every format (vcmd at steps 1/4, 1 and 2 px); the vcmd
payload under other coders (raw deflate, bzip2, and the ideal code length of two small
adaptive arithmetic coders: order-0 over bytes and context-modelled Exp-Golomb bins, both
lower bounds that a real arithmetic coder approaches within a few bytes); encode + decode
speed in boxes per second; and, with ``--qps``, the multitask BPP (vvenc faster, intra period
32, as the default config) at each QP with each format, split into video and detections.

    nice -n 10 python experiments/bench_detections.py                 # everything
    python experiments/bench_detections.py --qps                      # sizes and speed only
"""

from __future__ import annotations

import argparse
import bz2
import json
import lzma
import math
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from vcm.codecs import encode_video
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detectors import build_detector, detect_video
from vcm.detformats import get_format, read_detections
from vcm.detformats.vcmd import HEADER, LZMA_DICTIONARY, decode_varints, decode_vcmd, encode_vcmd
from vcm.foreground import write_foreground_video
from vcm.store import ModelStore
from vcm.synth import synthesize_sequence
from vcm.video import open_video

QPS = [22, 27, 32, 37, 42, 47]
FORMATS = [("voc-zip", {}), ("vcmd", {"step": 0.25}), ("vcmd", {"step": 1.0}),
           ("vcmd", {"step": 2.0})]


def format_label(name: str, options: dict) -> str:
    return name if not options else f"{name} step {options['step']:g}"


def detections_of(video: Path, detector: str, workdir: Path) -> DetectionSequence:
    backend = build_detector(detector)
    return detect_video(open_video(video), backend, score_threshold=0.6, progress=False)


def payload_sections(data: bytes) -> dict[str, np.ndarray]:
    """The vcmd payload's values, by section (docs/detection-format.md)."""
    fields = HEADER.unpack_from(data)
    frames, coder, length = fields[7], fields[4], fields[10]
    body = data[HEADER.size:]
    if coder == 1:
        body = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=[
            {"id": lzma.FILTER_LZMA2, "dict_size": LZMA_DICTIONARY}]).decompress(body)
    assert len(body) == length
    values = decode_varints(body)
    counts = values[:frames]
    boxes = int(counts.sum())
    references = values[frames:frames + boxes]
    matched = int((references > 0).sum())
    cursor = frames + boxes
    sections = {"counts": counts, "references": references}
    for name in ("dx1", "dy1", "dx2", "dy2"):
        sections[name] = values[cursor:cursor + matched]
        cursor += matched
    for name in ("new_x1", "new_y1", "new_w", "new_h"):
        sections[name] = values[cursor:cursor + boxes - matched]
        cursor += boxes - matched
    sections["scores"] = values[cursor:]
    return sections


def order0_bytes(symbols: bytes) -> float:
    """Ideal code length (bytes) of an adaptive order-0 model over byte values
    (Krichevsky-Trofimov estimator over 256 symbols)."""
    counts = np.zeros(256)
    bits = 0.0
    for total, symbol in enumerate(symbols):
        bits -= math.log2((counts[symbol] + 0.5) / (total + 128))
        counts[symbol] += 1
    return bits / 8


def exp_golomb_context_bytes(values: np.ndarray) -> float:
    """Ideal code length (bytes) of an adaptive binary coder over Exp-Golomb bins: one
    adaptive probability per prefix position and per (length, suffix position)."""
    contexts: dict[tuple, list[float]] = {}
    bits = 0.0

    def code(context: tuple, bit: int) -> None:
        nonlocal bits
        ones, total = contexts.setdefault(context, [0.5, 1.0])
        probability = ones / total if bit else 1 - ones / total
        bits -= math.log2(probability)
        contexts[context] = [ones + bit, total + 1]

    for value in values.tolist():
        length = (value + 1).bit_length() - 1
        for position in range(length):
            code(("prefix", min(position, 20)), 1)
        code(("prefix", min(length, 20)), 0)
        for position in range(length - 1, -1, -1):
            code(("suffix", length, min(position, 3)), ((value + 1) >> position) & 1)
    return bits / 8


def coder_sizes(data: bytes) -> dict[str, float]:
    """Bytes of the vcmd file with its payload under each coder (header included)."""
    sections = payload_sections(data)
    from vcm.detformats.vcmd import encode_varints

    payload = b"".join(encode_varints(values) for values in sections.values())
    return {
        "lzma2 (vcmd)": len(data),
        "stored": HEADER.size + len(payload),
        "deflate raw, level 9": HEADER.size + len(zlib.compress(payload, 9)) - 6,
        "bzip2 -9": HEADER.size + len(bz2.compress(payload, 9)),
        "adaptive AC order-0 bytes (ideal)": round(HEADER.size + sum(
            order0_bytes(encode_varints(values)) for values in sections.values()), 1),
        "adaptive AC Exp-Golomb bins (ideal)": round(HEADER.size + sum(
            exp_golomb_context_bytes(values) for name, values in sections.items()
            if len(values)), 1),
    }


def boxes_per_second(sequence: DetectionSequence, repeat: int) -> dict[str, float]:
    """Encode + decode speed of vcmd (in memory) and voc-zip (through a file)."""
    start = time.perf_counter()
    for _ in range(repeat):
        decode_vcmd(encode_vcmd(sequence))
    vcmd_seconds = (time.perf_counter() - start) / repeat
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.zip"
        voc = get_format("voc-zip")
        start = time.perf_counter()
        voc.write(sequence, path)
        voc.read(path)
        zip_seconds = time.perf_counter() - start
    return {"vcmd": round(sequence.count / vcmd_seconds), "voc-zip": round(sequence.count / zip_seconds)}


def long_sequence(base: DetectionSequence, frames: int) -> DetectionSequence:
    """``base`` played forwards and backwards until ``frames`` frames: a long, realistic
    sequence for the speed measurement."""
    order = list(range(len(base))) + list(range(len(base) - 2, 0, -1))
    picked = [base.frames[order[index % len(order)]] for index in range(frames)]
    return DetectionSequence(base.width, base.height, [
        FrameDetections(number, frame.boxes, frame.scores)
        for number, frame in enumerate(picked, start=1)])


def format_sizes(sequence: DetectionSequence, workdir: Path) -> dict[str, dict]:
    sizes = {}
    for name, options in FORMATS:
        path = workdir / f"detections_{format_label(name, options).replace(' ', '_')}"
        get_format(name).write(sequence, path, **options)
        size = path.stat().st_size
        sizes[format_label(name, options)] = {
            "bytes": size, "bytes_per_box": round(size / sequence.count, 3), "path": path}
    return sizes


def multitask_bpp(video: Path, sizes: dict[str, dict], workdir: Path) -> dict[str, list]:
    """BPP at each QP for each format: (video bytes + detection bytes) x 8 / pixels."""
    info = open_video(video).info
    pixels = info.width * info.height * info.frames
    foreground = workdir / "foreground.mkv"
    write_foreground_video(video, sizes["vcmd step 1"]["path"], foreground, progress=False)
    rows = {"qp": QPS, "video_bpp": []}
    for qp in QPS:
        bitstream = encode_video(foreground, workdir / f"fg_qp{qp}.266", codec="vvenc", qp=qp,
                                 progress=False, preset="faster", intra_period=32)
        rows["video_bpp"].append(round(bitstream.bytes * 8 / pixels, 6))
    for label, size in sizes.items():
        detections_bpp = size["bytes"] * 8 / pixels
        rows[f"detections_bpp {label}"] = round(detections_bpp, 6)
        rows[f"bpp {label}"] = [round(video_bpp + detections_bpp, 6)
                                for video_bpp in rows["video_bpp"]]
        rows[f"detections_share {label}"] = [
            round(detections_bpp / (video_bpp + detections_bpp), 4)
            for video_bpp in rows["video_bpp"]]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qps", action=argparse.BooleanOptionalAction, default=True,
                        help="Also code the foreground at each QP for the BPP per format.")
    parser.add_argument("--repeat", type=int, default=50, help="Timing repetitions.")
    arguments = parser.parse_args()
    report = {"name": "detection formats", "description": __doc__.splitlines()[0],
              "results": {}}
    with tempfile.TemporaryDirectory(prefix="vcm-bench-detections-") as folder:
        workdir = Path(folder)
        synthesize_sequence(workdir / "sample", frames=60, width=640, height=360, fps=10,
                            people=4, seed=0)
        pets = ModelStore.from_environment(progress=False).dataset("PETS09-S3MF1")
        for name, video, detector in [("sample hog 0.6", workdir / "sample", "hog"),
                                      ("PETS09-S3MF1 yolo-fastest body 0.6", pets,
                                       "yolo-fastest")]:
            folder_of = workdir / name.split()[0]
            folder_of.mkdir(exist_ok=True)
            sequence = detections_of(video, detector, folder_of)
            sizes = format_sizes(sequence, folder_of)
            data = encode_vcmd(sequence)
            result = {
                "frames": len(sequence),
                "boxes": sequence.count,
                "formats": {label: {k: v for k, v in size.items() if k != "path"}
                            for label, size in sizes.items()},
                "vcmd step 1 under other coders (bytes)": coder_sizes(data),
                "encode+decode boxes/s": boxes_per_second(sequence, arguments.repeat),
                "encode+decode boxes/s, 10,000 frames":
                    boxes_per_second(long_sequence(sequence, 10_000), 3),
            }
            assert read_detections(sizes["vcmd step 1"]["path"]).count == sequence.count
            if arguments.qps:
                result["multitask bpp (vvenc faster)"] = multitask_bpp(video, sizes, folder_of)
            report["results"][name] = result
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
