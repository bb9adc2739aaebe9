"""Foreground video: the original frames with every pixel outside the detected boxes set to black.

A pixel (column c, row r) is kept when it overlaps a box ``x1, y1, x2, y2`` (0-based, right/
bottom edges exclusive): ``floor(x1) <= c < ceil(x2)`` and ``floor(y1) <= r < ceil(y2)``. So a
fractional box keeps every pixel it touches. Black is RGB (0, 0, 0); after the codec's
BT.601 limited-range conversion to yuv420p that is Y=16, U=V=128.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from vcm.boxes import clip_boxes
from vcm.detformats import read_detections
from vcm.fileio import atomic_output
from vcm.video import open_video, write_lossless_video

LOG = logging.getLogger(__name__)


def pixel_rectangles(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Integer pixel ranges ``(c0, r0, c1, r1)`` (end exclusive) that ``boxes`` (N, 4) cover."""
    # Clipped in float first: converting a coordinate past int64 (1e19, 1e308) to int
    # overflows, and the box would silently vanish.
    boxes = clip_boxes(boxes, width, height)
    rectangles = np.empty((len(boxes), 4), dtype=np.int64)
    rectangles[:, 0] = np.floor(boxes[:, 0])
    rectangles[:, 1] = np.floor(boxes[:, 1])
    rectangles[:, 2] = np.ceil(boxes[:, 2])
    rectangles[:, 3] = np.ceil(boxes[:, 3])
    return rectangles


def render_foreground(frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Return a copy of ``frame`` (H, W, 3) that is black outside the union of ``boxes``."""
    height, width = frame.shape[:2]
    foreground = np.zeros_like(frame)
    for c0, r0, c1, r1 in pixel_rectangles(boxes, width, height):
        foreground[r0:r1, c0:c1] = frame[r0:r1, c0:c1]
    return foreground


@dataclass(frozen=True)
class ForegroundResult:
    """What :func:`write_foreground_video` did: frames written, and seconds spent rendering
    (masking only) and in total (reading, masking and lossless writing)."""

    frames: int
    render_seconds: float
    total_seconds: float


def write_foreground_video(
    video: Path,
    detections_file: Path,
    output: Path,
    *,
    min_score: float = 0.0,
    log_path: Path | None = None,
    progress: bool = True,
) -> ForegroundResult:
    """Write the foreground of ``video`` given ``detections_file`` (any detection format) to
    ``output`` (FFV1 in mkv).

    Only boxes scoring at least ``min_score`` are kept: a detections file written for BYTE
    association also holds low-score boxes, which the tracker uses but the foreground must not
    show.
    """
    start = time.perf_counter()
    source = open_video(video)
    detections = read_detections(detections_file)
    info = source.info
    detections.check_fits(info.width, info.height, info.frames, label=str(detections_file),
                          video=str(info.path))
    render_seconds = 0.0

    def timed_frames() -> Iterator[np.ndarray]:
        nonlocal render_seconds
        frames = tqdm(
            source, total=source.info.frames, desc="foreground", unit="frame",
            disable=not progress,
        )
        for frame, frame_detections in zip(frames, detections.frames, strict=True):
            tick = time.perf_counter()
            foreground = render_foreground(
                frame, frame_detections.boxes[frame_detections.scores >= min_score]
            )
            render_seconds += time.perf_counter() - tick
            yield foreground

    with atomic_output(output) as temporary:
        write_lossless_video(
            timed_frames(), temporary, width=info.width, height=info.height, fps=info.fps,
            log_path=log_path,
        )
    total_seconds = time.perf_counter() - start
    LOG.info(
        "foreground: %d frames, %d boxes (scores >= %g of them kept), render %.3f s, "
        "total %.3f s -> %s",
        info.frames, detections.count, min_score, render_seconds, total_seconds, output,
    )
    return ForegroundResult(info.frames, render_seconds, total_seconds)
