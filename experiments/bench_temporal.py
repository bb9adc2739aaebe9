"""Rate and encoding time of temporal and spatial resampling (issue 23): the foreground of
every k-th frame, whole at 1/F of each side (``--downscale F``) or with only its kept
rectangles shrunk in place (``--downscale-regions F``).

For each sequence: detect persons once, render the best foreground of issue 13 (margin 0.125,
grey, hold 32) of every k-th frame (``vcm foreground --keep-every k``), code it with VVenC at
each QP, and print one JSON record per sequence and k in the project's results shape
(``{"name", "description", "results": {metric: [one value per QP]}}``):

* ``video_bytes``: the coded foreground; ``vcmd_bytes``: the full-rate detection file sent
  beside it (the same for every k);
* ``bpp``: (video + detections) bits over every pixel of every original frame;
* ``coded_frames``, ``encode_s``: frames coded and the encoder's seconds.

Tracking reads the full-rate detections, so MOTA does not depend on k; pose and mask accuracy
need ground truth (the sweep, configs/fewer-bits.yaml).

    python experiments/bench_temporal.py --only pets          # PETS09-S3MF1 from the store
    python experiments/bench_temporal.py --only sample --qps 37 47
    python experiments/bench_temporal.py --only pets --steps 1 4 --downscale-regions 2

PETS09-S3MF1 comes from the store (``$VCM_MIRROR/datasets/``) with yolo-fastest body at 0.6;
the synthetic sample (60 frames, 640x360, seed 0) with hog at 0.6, in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from vcm import logs
from vcm.bpp import bits_per_pixel
from vcm.codecs import encode_video
from vcm.detectors import build_detector, detect_video
from vcm.detformats import get_format
from vcm.errors import VcmError
from vcm.foreground import write_foreground_video
from vcm.masking import ForegroundOptions
from vcm.store import ModelStore
from vcm.synth import synthesize_sequence
from vcm.video import open_video

QPS = (27, 37, 47)
STEPS = (1, 2, 4, 8)
FOREGROUND = ForegroundOptions(margin=0.125, fill="grey", hold=32)
CODEC_OPTIONS = {"preset": "faster", "intra_period": 32}


def measure(name: str, video: Path, detector_name: str, options: dict, work: Path,
            qps=QPS, steps=STEPS, downscale: int = 1, downscale_regions: int = 1) -> list[dict]:
    source = open_video(video)
    info = source.info
    detections = detect_video(source, build_detector(detector_name, **options),
                              score_threshold=0.6, progress=False)
    sent = work / f"{name}.vcmd"
    get_format("vcmd").write(detections, sent, step=1, score_bits=8)
    scaled = "".join(f" {key}={value}" for key, value in (
        ("downscale", downscale), ("downscale_regions", downscale_regions)) if value != 1)
    records = []
    for keep_every in steps:
        foreground = work / f"{name}-k{keep_every}.mkv"
        rendered = write_foreground_video(video, sent, foreground, options=FOREGROUND,
                                          progress=False, keep_every=keep_every,
                                          downscale=downscale,
                                          downscale_regions=downscale_regions)
        results: dict[str, list] = {key: [] for key in (
            "qp", "video_bytes", "vcmd_bytes", "bpp", "coded_frames", "encode_s")}
        for qp in qps:
            bitstream = work / f"{name}-k{keep_every}-{qp}.266"
            encoded = encode_video(foreground, bitstream, codec="vvenc", qp=qp, progress=False,
                                   **CODEC_OPTIONS)
            total = bitstream.stat().st_size + sent.stat().st_size
            for key, value in (
                ("qp", qp), ("video_bytes", bitstream.stat().st_size),
                ("vcmd_bytes", sent.stat().st_size),
                ("bpp", round(bits_per_pixel(total, info.width, info.height, info.frames), 5)),
                ("coded_frames", rendered.frames), ("encode_s", round(encoded.seconds, 2)),
            ):
                results[key].append(value)
        records.append({
            "name": f"{name} keep_every={keep_every}{scaled}",
            "description": (f"{detector_name} at 0.6 on {video.name} ({info.width}x{info.height}, "
                            f"{info.frames} frames, {detections.count} boxes); foreground "
                            f"{FOREGROUND.describe()} of every {keep_every}th frame"
                            f"{scaled or ' at full size'}, vvenc "
                            f"{CODEC_OPTIONS}; detections vcmd at full rate"),
            "results": results,
        })
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["sample", "pets"], help="one sequence only")
    parser.add_argument("--qps", type=int, nargs="+", default=list(QPS), help="QPs to code at")
    parser.add_argument("--steps", type=int, nargs="+", default=list(STEPS),
                        help="values of keep_every")
    parser.add_argument("--downscale", type=int, default=1,
                        help="code the whole foreground at 1/F of each side")
    parser.add_argument("--downscale-regions", type=int, default=1,
                        help="shrink only the kept rectangles, in place, to 1/F of each side")
    arguments = parser.parse_args(argv)
    logs.configure()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-temporal-") as folder:
            work = Path(folder)
            runs = []
            if arguments.only in (None, "sample"):
                sample = work / "sample"
                synthesize_sequence(sample, frames=60, width=640, height=360, fps=10, people=4,
                                    seed=0)
                runs.append(("sample-hog", sample, "hog", {}))
            if arguments.only in (None, "pets"):
                runs.append(("PETS09-S3MF1-yolo-fastest", ModelStore().dataset("PETS09-S3MF1"),
                             "yolo-fastest", {"variant": "body", "input_size": 320}))
            for name, video, detector, options in runs:
                for record in measure(name, video, detector, options, work, qps=arguments.qps,
                                      steps=arguments.steps, downscale=arguments.downscale,
                                      downscale_regions=arguments.downscale_regions):
                    print(json.dumps(record), flush=True)
    except VcmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
