"""Bytes per box of detections carried in the bitstream (annotated regions SEI) vs the VOC zip.

For each sequence: detect persons once, write the zipped Pascal-VOC XML (the paper's format),
render and code the foreground video with VVenC (and x265) at a few QPs, embed the same
detections as H.274 annotated regions SEI messages (`vcm encode --embed` does the same), and
print one JSON record per sequence in the project's results shape
(``{"name", "description", "results": {metric: [one value per QP]}}``):

* ``zip_bytes``, ``zip_bytes_per_box``: the VOC zip;
* ``sei_bytes``, ``sei_bytes_per_box``: what the SEIs add to the bitstream (start codes and
  NAL headers included), ``sei_units``: SEI NAL units (pictures whose boxes changed);
  ``boxes_sent``: boxes written (the others equal a box of the previous picture and persist);
* ``sei_lean_bytes``, ``sei_lean_bytes_per_box``: the same SEIs without object labels
  (``vcm encode --embed-option labels=false``; readers take unlabelled boxes for persons);
* ``vcmd_bytes``, ``vcmd_bytes_per_box``: vcm's compact detection file (step 1, 8-bit scores);
* ``video_bytes``: the foreground bitstream alone; ``bpp_zip`` and ``bpp_sei``: multitask
  bits per pixel with the zip beside the bitstream and with the detections embedded;
* ``embed_boxes_per_s``, ``extract_boxes_per_s``: speed of vcm's embedding and reading.

    python experiments/bench_sei.py                 # sample (hog and oracle) and PETS09-S3MF1
    python experiments/bench_sei.py --only sample
    python experiments/bench_sei.py --only sample --qps 47 --codecs vvenc   # one point

PETS09-S3MF1 comes from the store (``$VCM_MIRROR/datasets/``) with yolo-fastest body at 0.6;
the synthetic sample (60 frames, 640x360, seed 0) is generated in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vcm import logs
from vcm.bitstream import embed_into_stream, extract_from_stream, quantise_detections
from vcm.bpp import bits_per_pixel
from vcm.codecs import encode_video
from vcm.detections import DetectionSequence
from vcm.detformats import get_format
from vcm.detformats.voc_zip import write_detections_zip
from vcm.detectors import build_detector, detect_video
from vcm.errors import VcmError
from vcm.foreground import write_foreground_video
from vcm.store import ModelStore
from vcm.synth import synthesize_sequence
from vcm.video import open_video

QPS = (32, 42, 47)
CODECS = (("vvenc", {"preset": "faster"}), ("x265", {"preset": "medium"}))


def measure(name: str, video: Path, detector_name: str, options: dict, work: Path,
            qps=QPS, codecs=CODECS) -> list[dict]:
    detector = build_detector(detector_name, **options)
    source = open_video(video)
    detections = detect_video(source, detector, score_threshold=0.6, progress=False)
    info = source.info
    zip_path = work / f"{name}.zip"
    write_detections_zip(detections, zip_path)
    zip_bytes = zip_path.stat().st_size
    vcmd_path = work / f"{name}.vcmd"
    get_format("vcmd").write(detections, vcmd_path, step=1, score_bits=8)
    vcmd_bytes = vcmd_path.stat().st_size
    foreground = work / f"{name}-foreground.mkv"
    write_foreground_video(video, zip_path, foreground, progress=False)
    boxes = detections.count
    records = []
    for codec, codec_options in codecs:
        results: dict[str, list] = {key: [] for key in (
            "qp", "video_bytes", "zip_bytes", "zip_bytes_per_box", "vcmd_bytes",
            "vcmd_bytes_per_box", "sei_bytes", "sei_bytes_per_box", "sei_lean_bytes",
            "sei_lean_bytes_per_box", "sei_units", "boxes_sent", "bpp_zip", "bpp_sei",
            "embed_boxes_per_s", "extract_boxes_per_s")}
        for qp in qps:
            bitstream = work / f"{name}-{codec}-{qp}{'.266' if codec == 'vvenc' else '.265'}"
            encode_video(foreground, bitstream, codec=codec, qp=qp, progress=False, **codec_options)
            data = bitstream.read_bytes()
            start = time.perf_counter()
            embedded, record = embed_into_stream(data, detections, name=str(bitstream))
            embed_seconds = time.perf_counter() - start
            start = time.perf_counter()
            back = extract_from_stream(embedded, name=str(bitstream), width=info.width, height=info.height)
            extract_seconds = time.perf_counter() - start
            _check_exact(back, quantise_detections(detections, info.width, info.height))
            lean, lean_record = embed_into_stream(data, detections, name=str(bitstream),
                                                  labels=False)
            _check_exact(extract_from_stream(lean, name=str(bitstream), width=info.width,
                                             height=info.height),
                         quantise_detections(detections, info.width, info.height))
            pixels = (info.width, info.height, info.frames)
            for key, value in (
                ("qp", qp), ("video_bytes", len(data)), ("zip_bytes", zip_bytes),
                ("zip_bytes_per_box", round(zip_bytes / boxes, 2)),
                ("vcmd_bytes", vcmd_bytes), ("vcmd_bytes_per_box", round(vcmd_bytes / boxes, 2)),
                ("sei_bytes", record.sei_bytes),
                ("sei_bytes_per_box", round(record.sei_bytes / boxes, 2)),
                ("sei_lean_bytes", lean_record.sei_bytes),
                ("sei_lean_bytes_per_box", round(lean_record.sei_bytes / boxes, 2)),
                ("sei_units", record.sei_units), ("boxes_sent", record.boxes_sent),
                ("bpp_zip", round(bits_per_pixel(len(data) + zip_bytes, *pixels), 5)),
                ("bpp_sei", round(bits_per_pixel(len(embedded), *pixels), 5)),
                ("embed_boxes_per_s", round(boxes / embed_seconds)),
                ("extract_boxes_per_s", round(boxes / extract_seconds)),
            ):
                results[key].append(value)
        records.append({
            "name": f"{name} {codec}",
            "description": (
                f"{detector_name} {options_label(options)} at 0.6 on {video.name} "
                f"({info.width}x{info.height}, "
                f"{info.frames} frames, {boxes} boxes); foreground coded with {codec} "
                f"{codec_options}; detections as VOC zip vs annotated regions SEI "
                f"(8-bit confidence, whole-pixel boxes)"
            ),
            "results": results,
        })
    return records


def options_label(options: dict) -> str:
    """Detector options without paths (the oracle's sequence folder is a temporary one)."""
    return str({key: value for key, value in options.items() if not isinstance(value, Path)})


def _check_exact(actual: DetectionSequence, expected: DetectionSequence) -> None:
    for got, want in zip(actual, expected, strict=True):
        if not (np.array_equal(got.boxes, want.boxes) and np.array_equal(got.scores, want.scores)):
            raise VcmError(f"frame {got.frame}: extracted boxes differ from the embedded ones")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["sample", "pets"], help="one sequence only")
    parser.add_argument("--qps", type=int, nargs="+", default=list(QPS), help="QPs to code at")
    parser.add_argument("--codecs", nargs="+", choices=[name for name, _ in CODECS],
                        default=[name for name, _ in CODECS], help="codecs to code with")
    arguments = parser.parse_args(argv)
    logs.configure()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-sei-") as folder:
            work = Path(folder)
            runs = []
            if arguments.only in (None, "sample"):
                sample = work / "sample"
                synthesize_sequence(sample, frames=60, width=640, height=360, fps=10, people=4, seed=0)
                runs += [("sample hog", sample, "hog", {}),
                         ("sample oracle", sample, "oracle", {"sequence": sample})]
            if arguments.only in (None, "pets"):
                pets = ModelStore().dataset("PETS09-S3MF1")
                runs.append(("PETS09-S3MF1 yolo-fastest", pets, "yolo-fastest",
                             {"variant": "body", "input_size": 320}))
            for name, video, detector, options in runs:
                codecs = [(codec, options_) for codec, options_ in CODECS
                          if codec in arguments.codecs]
                for record in measure(name.replace(" ", "-"), video, detector, options, work,
                                      qps=arguments.qps, codecs=codecs):
                    print(json.dumps(record), flush=True)
    except VcmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
