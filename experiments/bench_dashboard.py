"""What the live dashboard costs: the analyser's part (handing a frame over,
``Dashboard.session_frame``) and the publisher's (drawing, JPEG, the update message), per
frame, on PETS09-S3MF1's frames.

Each frame's ground-truth people stand in for the results (a box, a track, a box-shaped mask
and a 17-keypoint stick figure each): the cost depends on how many there are, not on where.
The frames are the footage's 768x576 pictures, and the same scaled to 1920x1080 (which the
dashboard scales down to 960x540 before drawing). Prints one line per size: median and p95
times, and the update's bytes. The hand-over is timed with the dashboard's publisher drawing
beside it (frames handed over 10 ms apart); the drawing alone.

    VCM_MIRROR=/path/to/mirror python experiments/bench_dashboard.py [--frames 100]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from vcm.live.dashboard import Dashboard, jpeg_data_url, render
from vcm.live.protocol import Hello


def people_by_frame(sequence: Path) -> dict[int, list[list[float]]]:
    people: dict[int, list[list[float]]] = {}
    for line in (sequence / "gt" / "gt.txt").read_text().splitlines():
        frame, track, left, top, width, height = (float(value) for value in line.split(",")[:6])
        people.setdefault(int(frame), []).append([track, left, top, left + width, top + height])
    return people


def message(frame: int, people: list[list[float]], width: int, height: int, scale: float) -> dict:
    boxes, tracks, masks, poses = [], [], [], []
    for track, x1, y1, x2, y2 in people:
        x1, y1, x2, y2 = (max(0.0, value * scale) for value in (x1, y1, x2, y2))
        x2, y2 = min(x2, width), min(y2, height)
        boxes.append([x1, y1, x2, y2, 0.9])
        tracks.append([int(track), x1, y1, x2, y2])
        region = np.zeros((height, width), np.uint8, order="F")
        region[int(y1):int(y2), int(x1):int(x2)] = 1
        encoded = mask_utils.encode(region)
        masks.append({"segmentation": {"size": [height, width], "counts": encoded["counts"].decode()},
                      "bbox": [x1, y1, x2 - x1, y2 - y1]})
        ys = np.linspace(y1, y2, 17)
        keypoints = np.stack([np.full(17, (x1 + x2) / 2), ys, np.ones(17)], axis=1)
        poses.append({"keypoints": keypoints.reshape(-1).tolist()})
    return {"type": "frame", "frame": frame, "bytes": 2000, "boxes": boxes, "tracks": tracks,
            "masks": masks, "poses": poses, "clock": {"received": 0.0, "answered": 0.0}}


def main() -> None:
    mirror = Path(os.environ.get("VCM_MIRROR", "../shared/mirror"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", type=Path, default=mirror / "datasets" / "PETS09-S3MF1")
    parser.add_argument("--frames", type=int, default=100)
    arguments = parser.parse_args()
    people = people_by_frame(arguments.sequence)
    images = sorted((arguments.sequence / "img1").glob("*.jpg"))[: arguments.frames]
    print(f"footage: {arguments.sequence.name}, {len(images)} frames, "
          f"{np.mean([len(people.get(number, [])) for number in range(1, len(images) + 1)]):.1f} "
          f"people a frame; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for size in ((768, 576), (1920, 1080)):
        dashboard = Dashboard().start()
        hello = Hello(codec="x265", options={}, qp=32, width=size[0], height=size[1], fps=7.0)
        session = SimpleNamespace(hello=hello, recording=SimpleNamespace(folder=Path("bench")),
                                  frames_skipped=0, results_dropped=0, reason="complete")
        dashboard.session_started(session)
        frames = []
        for number, path in enumerate(images, start=1):
            image = cv2.imread(str(path))
            scale = size[0] / image.shape[1]
            if image.shape[1::-1] != size:
                image = cv2.resize(image, size)
            frames.append((image, message(number, people.get(number, []), *size, scale)))
        # The analyser's part, with the publisher drawing beside it (at most 10 a second).
        handing = []
        for image, frame in frames:
            started = time.perf_counter()
            dashboard.session_frame(session, image, frame)
            handing.append(time.perf_counter() - started)
            time.sleep(0.01)
        dashboard.stop()
        # The publisher's part, alone.
        drawing, sizes = [], []
        for image, frame in frames:
            started = time.perf_counter()
            picture = jpeg_data_url(render(image, frame))
            update = json.dumps({"picture": picture, "tracks": frame["tracks"]})
            drawing.append(time.perf_counter() - started)
            sizes.append(len(update))
        print(f"{size[0]}x{size[1]}: hand-over (analyser) median {np.median(handing) * 1e6:.0f} us, "
              f"p95 {np.percentile(handing, 95) * 1e6:.0f} us; draw + JPEG + message (publisher) "
              f"median {np.median(drawing) * 1000:.1f} ms, p95 {np.percentile(drawing, 95) * 1000:.1f} ms; "
              f"update {np.median(sizes) / 1000:.0f} kB median")


if __name__ == "__main__":
    main()
