"""Per-stage time of the multitask pipeline, and the live driver against the batch driver.

Runs the stages of :func:`vcm.api.multitask_stages` (detect, the paper's foreground, pose,
tracking) over the first ``--frames`` frames of a video twice: with the batch driver
(:func:`vcm.pipeline.run_frames`, the commands' and the sweep's) and with the live driver
(:class:`vcm.pipeline.Pipeline`, one frame at a time, as a server runs it), each with new
stage instances. Prints one JSON object on stdout: milliseconds per frame of each stage
under each driver (as :class:`vcm.pipeline.StageTimes` measures them, frame reading
excepted), wall-clock frames per second, and whether the two drivers gave the same boxes,
poses and track ids (they must).

    .venv/bin/python experiments/bench_pipeline.py $VCM_MIRROR/datasets/PETS09-S3MF1
    .venv/bin/python experiments/bench_pipeline.py clip.mp4 --detector hog --frames 30
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

import numpy as np

from vcm.api import multitask_stages
from vcm.pipeline import Pipeline, StageTimes, run_frames, video_frames
from vcm.video import open_video


def run(video, frames: int, live: bool, settings: dict) -> tuple[list, StageTimes, float]:
    source = open_video(video)
    stages = multitask_stages(fps=source.info.fps, **settings)
    times = StageTimes()
    start = time.perf_counter()
    read = itertools.islice(video_frames(source, progress=False), frames)
    try:
        if live:
            pipeline = Pipeline(stages, times=times)
            finished = [done for frame in read for done in pipeline.push(frame)]
            finished += pipeline.finish()
        else:
            finished = list(run_frames(read, stages, times=times))
    finally:
        for stage in stages:
            stage.close()
    return finished, times, time.perf_counter() - start


def summary(finished: list) -> list:
    """Boxes, poses' keypoints and track ids of every frame, to compare the two drivers."""
    return [(frame.boxes.tolist(),
             [np.round(pose.keypoints, 6).tolist() for pose in frame.records["pose"]],
             frame.records["track"].ids.tolist()) for frame in finished]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", help="Video file or MOTChallenge sequence folder.")
    parser.add_argument("--frames", type=int, default=50, help="Frames to run (from the first).")
    parser.add_argument("--detector", default="yolo-fastest")
    parser.add_argument("--estimator", default="blazepose")
    parser.add_argument("--tracker", default="iou")
    arguments = parser.parse_args(argv)
    settings = {"detector": arguments.detector, "estimator": arguments.estimator,
                "tracker": arguments.tracker}
    info = open_video(arguments.video).info
    report = {"video": str(arguments.video), "size": [info.width, info.height],
              "settings": settings, "drivers": {}}
    results = {}
    for name, live in (("batch", False), ("live", True)):
        finished, times, seconds = run(arguments.video, arguments.frames, live, settings)
        results[name] = summary(finished)
        report["frames"] = len(finished)
        report["drivers"][name] = {
            "ms_per_frame": {stage: round(1000 * value, 2)
                             for stage, value in times.per_frame().items()},
            "frames_per_second": round(len(finished) / seconds, 2),
        }
    report["same_results"] = results["batch"] == results["live"]
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0 if report["same_results"] else 1


if __name__ == "__main__":
    sys.exit(main())
