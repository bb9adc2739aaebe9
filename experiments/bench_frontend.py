"""Front-end benchmark: frames per second of each stage at 768x576, and peak memory.

Prints one JSON record (the results shape every vcm tool reads). Input: the PETS09-S3MF1
sequence from the model store's mirror (768x576, 107 frames) when present, else frames of the
synthetic sample generated at 768x576. Target: foreground rendering plus XML writing and
zipping cost under 5% of the time of the fastest detector; likewise for every foreground
variant but ``mask`` (rendering plus writing the detections as vcmd, the sweep's default:
``variants_share_of_fastest_detector``). A ``mask`` variant's person segmenter is timed by
experiments/bench_foreground_variants.py.

    .venv/bin/python experiments/bench_frontend.py [--frames 60] [--detectors hog yolo-fastest]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from vcm.codecs import CODECS, encode_video
from vcm.detformats.voc_zip import write_detections_zip
from vcm.detectors import build_detector, detect_video
from vcm.errors import VcmError
from vcm.detformats import write_detections
from vcm.foreground import render_foreground
from vcm.masking import ForegroundOptions, foreground_frames
from vcm.store import ModelStore
from vcm.video import VideoSource, open_video, write_lossless_video

VARIANTS = {
    "paper": {},
    "grey": {"fill": "grey"},
    "margin 0.125 grey": {"margin": 0.125, "fill": "grey"},
    "hold 32 + align 64": {"hold": 32, "align": 64},
    "feather 8": {"feather": 8},
    "blur 16": {"fill": "blur", "fill_scale": 16},
    "downscale 8": {"fill": "downscale", "fill_scale": 8},
}
"""The foreground variants whose rendering cost is measured (docs/variants.md)."""

CODEC_PRESETS = [("vvenc", "faster"), ("vvenc", "fast"), ("x265", "medium"), ("x265", "fast"), ("ffv1", None)]


class FirstFrames(VideoSource):
    """The first ``count`` frames of a source, kept in memory so I/O is not timed."""

    def __init__(self, source: VideoSource, count: int) -> None:
        frames = []
        for frame in source:
            frames.append(frame)
            if len(frames) == count:
                break
        info = source.info
        super().__init__(type(info)(info.path, info.width, info.height, info.fps, len(frames)))
        self.frames = frames

    def __iter__(self):
        return iter(self.frames)


def input_video(workdir: Path) -> Path:
    try:
        return ModelStore.from_environment(progress=False).dataset("PETS09-S3MF1")
    except VcmError:
        from vcm.synth import synthesize_sequence

        synthesize_sequence(workdir / "synthetic", frames=60, width=768, height=576)
        return workdir / "synthetic"


def peak_memory_mib() -> dict[str, float]:
    """Peak resident memory (MiB) of this process and of its largest finished child (ffmpeg)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"python": round(own, 1), "largest_child": round(children, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="frames to time (default 60)")
    parser.add_argument("--detectors", nargs="+", default=["hog", "yolo-fastest"])
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir_name:
        workdir = Path(workdir_name)
        video = input_video(workdir)
        source = FirstFrames(open_video(video), arguments.frames)
        frames = source.info.frames
        fps: dict[str, float] = {}
        detections = None
        for name in arguments.detectors:
            detector = build_detector(name)
            start = time.perf_counter()
            detections = detect_video(source, detector, score_threshold=0.6, progress=False)
            fps[f"detect {name}"] = frames / (time.perf_counter() - start)

        def rendered():
            for frame, frame_detections in zip(source.frames, detections.frames):
                yield render_foreground(frame, frame_detections.boxes)

        # Streamed and discarded, as the foreground stage does: keeping every rendered frame
        # would time page faults on fresh memory instead of the rendering.
        start = time.perf_counter()
        for _ in rendered():
            pass
        fps["foreground render"] = frames / (time.perf_counter() - start)

        start = time.perf_counter()
        write_detections_zip(detections, workdir / "detections.zip")
        fps["xml write + zip"] = frames / (time.perf_counter() - start)

        start = time.perf_counter()
        write_detections(detections, workdir / "detections.vcmd", format="vcmd")
        vcmd_seconds = time.perf_counter() - start
        fastest_seconds = frames / max(value for key, value in fps.items() if key.startswith("detect "))
        variant_share = {}
        boxes = [frame_detections.boxes for frame_detections in detections.frames]
        for name, options in VARIANTS.items():
            start = time.perf_counter()
            for _ in foreground_frames(source.frames, boxes, ForegroundOptions.from_options(options)):
                pass
            seconds = time.perf_counter() - start
            fps[f"foreground render {name}"] = frames / seconds
            variant_share[name] = round((seconds + vcmd_seconds) / fastest_seconds, 4)

        foreground = workdir / "foreground.mkv"
        start = time.perf_counter()
        write_lossless_video(rendered(), foreground, width=source.info.width,
                             height=source.info.height, fps=source.info.fps)
        fps["foreground lossless write"] = frames / (time.perf_counter() - start)

        for codec, preset in CODEC_PRESETS:
            options = {"preset": preset} if preset else {}
            bitstream = workdir / f"out_{codec}_{preset}{CODECS.get(codec).extension}"
            result = encode_video(foreground, bitstream, codec=codec, qp=32, progress=False,
                                  **options)
            fps[f"encode {codec}" + (f" {preset}" if preset else "")] = frames / result.encode_seconds

        fastest_detector = max(value for key, value in fps.items() if key.startswith("detect "))
        overhead = (1 / fps["foreground render"] + 1 / fps["xml write + zip"]) * fastest_detector
        record = {
            "name": "bench_frontend",
            "description": f"frames/s per stage on {frames} frames of {video} "
                           f"({source.info.width}x{source.info.height}), QP 32 for encoders",
            "results": {key: round(value, 2) for key, value in fps.items()},
            "foreground_and_zip_share_of_fastest_detector": round(overhead, 4),
            "variants_share_of_fastest_detector": variant_share,
            "peak_memory_mib": peak_memory_mib(),
        }
        print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
