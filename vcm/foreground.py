"""Foreground video: the original frames with every pixel outside the detected boxes set to black.

A pixel (column c, row r) is kept when it overlaps a box ``x1, y1, x2, y2`` (0-based, right/
bottom edges exclusive): ``floor(x1) <= c < ceil(x2)`` and ``floor(y1) <= r < ceil(y2)``. So a
fractional box keeps every pixel it touches. Black is RGB (0, 0, 0); after the codec's
BT.601 limited-range conversion to yuv420p that is Y=16, U=V=128. That is the paper's
foreground; :class:`vcm.masking.ForegroundOptions` gives the measured variants (margins, held
and block-aligned regions, feathered edges, grey or blurred backgrounds).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from vcm.detformats import read_detections
from vcm.fileio import atomic_output
from vcm.masking import ForegroundOptions, compose, held_boxes, kept_rectangles, region_mask
from vcm.video import open_video, write_lossless_video

LOG = logging.getLogger(__name__)

PAPER = ForegroundOptions()
"""The paper's foreground: the boxes as they are, black elsewhere."""


def pixel_rectangles(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Integer pixel ranges ``(c0, r0, c1, r1)`` (end exclusive) that ``boxes`` (N, 4) cover;
    boxes that cover no pixel of the frame are left out."""
    return kept_rectangles(boxes, width, height, PAPER)


def render_foreground(
    frame: np.ndarray, boxes: np.ndarray, options: ForegroundOptions = PAPER
) -> np.ndarray:
    """Return a copy of ``frame`` (H, W, 3) that keeps the pixels of ``boxes`` and shows the
    options' fill elsewhere (the paper's: black outside the union of the boxes)."""
    height, width = frame.shape[:2]
    return compose(frame, region_mask(boxes, width, height, options), options)


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
    options: ForegroundOptions = PAPER,
    log_path: Path | None = None,
    progress: bool = True,
) -> ForegroundResult:
    """Write the foreground of ``video`` given ``detections_file`` (any detection format) to
    ``output`` (FFV1 in mkv).

    Only boxes scoring at least ``min_score`` are kept: a detections file written for BYTE
    association also holds low-score boxes, which the tracker uses but the foreground must not
    show. ``options`` is the foreground variant (:mod:`vcm.masking`; default the paper's).
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
        kept = [frame_detections.boxes[frame_detections.scores >= min_score]
                for frame_detections in detections.frames]
        boxes_per_frame = held_boxes(kept, options.hold) if options.hold > 1 else iter(kept)
        for frame, boxes in zip(frames, boxes_per_frame, strict=True):
            tick = time.perf_counter()
            foreground = render_foreground(frame, boxes, options)
            render_seconds += time.perf_counter() - tick
            yield foreground

    with atomic_output(output) as temporary:
        write_lossless_video(
            timed_frames(), temporary, width=info.width, height=info.height, fps=info.fps,
            log_path=log_path,
        )
    total_seconds = time.perf_counter() - start
    LOG.info(
        "foreground: %d frames, %d boxes (scores >= %g of them kept), variant %s, render %.3f s, "
        "total %.3f s -> %s",
        info.frames, detections.count, min_score, options.describe(), render_seconds,
        total_seconds, output,
    )
    return ForegroundResult(info.frames, render_seconds, total_seconds)
