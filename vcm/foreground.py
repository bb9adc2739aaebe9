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

from vcm.boxtasks import boxes_scoring_at_least
from vcm.detformats import read_detections
from vcm.errors import VcmError
from vcm.fileio import atomic_output
from vcm.masking import (
    ForegroundOptions,
    box_regions,
    compose,
    kept_rectangles,
    mask_regions,
    person_pixels,
    region_mask,
    segmentation_boxes,
)
from vcm.video import VideoSource, open_video, write_lossless_video

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
    (working out the kept region and composing, reading and segmenting excepted), in the
    segmenter of the ``mask`` variant (0 without it) and in total (reading, segmenting,
    rendering and lossless writing); ``segmenter`` describes the mask's segmenter (model,
    file checksums, parameters), ``None`` without one; ``boxes_without_mask`` counts the boxes
    in which it found no person (each kept whole)."""

    frames: int
    render_seconds: float
    total_seconds: float
    segment_seconds: float = 0.0
    segmenter: dict | None = None
    boxes_without_mask: int = 0


def build_mask_segmenter(options: ForegroundOptions):
    """The segmenter of a ``mask`` variant: MediaPipe's ``options.mask`` model (``selfie`` or
    ``pose``) with its measured defaults, person pixels only inside each box it is given."""
    from vcm.segmenters.mediapipe_backend import MediaPipeSegmenter

    return MediaPipeSegmenter(model=options.mask, restrict="box")


@dataclass
class _Clock:
    """Seconds spent reading frames for the segmenter and segmenting them; boxes in which
    the segmenter found no person."""

    read: float = 0.0
    segment: float = 0.0
    boxes_without_mask: int = 0


def _person_masks(source: VideoSource, frames_boxes: list[np.ndarray],
                  options: ForegroundOptions, segmenter, clock: _Clock) -> Iterator[np.ndarray]:
    """For each frame of ``source``, the union (H, W bool) of the segmenter's person masks of
    its boxes grown by the margins (:func:`vcm.masking.segmentation_boxes`; a box without a
    mask counts whole, :func:`vcm.masking.person_pixels`)."""
    frames = iter(source)
    for boxes in frames_boxes:
        tick = time.perf_counter()
        frame = next(frames, None)
        clock.read += time.perf_counter() - tick
        if frame is None:
            raise VcmError(f"{source.info.path}: decoded fewer frames than the "
                           f"{len(frames_boxes)} of the detections")
        tick = time.perf_counter()
        height, width = frame.shape[:2]
        grown = segmentation_boxes(boxes, width, height, options)
        masks = segmenter.person_masks(frame, grown)
        clock.segment += time.perf_counter() - tick
        clock.boxes_without_mask += sum(mask is None for mask in masks)
        yield person_pixels(masks, grown, width, height)


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
    With ``options.mask``, MediaPipe segments the original frames in a second pass over
    ``video`` that runs one ``hold`` window ahead of the frames being written.
    """
    start = time.perf_counter()
    source = open_video(video)
    detections = read_detections(detections_file)
    info = source.info
    detections.check_fits(info.width, info.height, info.frames, label=str(detections_file),
                          video=str(info.path))
    kept = [frame.boxes for frame in boxes_scoring_at_least(detections, min_score).frames]
    clock = _Clock()
    render_seconds = 0.0
    segmenter = None
    if options.mask == "none":
        regions = box_regions(kept, info.width, info.height, options)
    else:
        segmenter = build_mask_segmenter(options)
        regions = mask_regions(_person_masks(source, kept, options, segmenter, clock), kept,
                               info.width, info.height, options)

    def timed_frames() -> Iterator[np.ndarray]:
        nonlocal render_seconds
        frames = tqdm(
            source, total=source.info.frames, desc="foreground", unit="frame",
            disable=not progress,
        )
        for frame in frames:
            tick = time.perf_counter()
            elsewhere = clock.read + clock.segment
            region = next(regions, None)
            if region is None:
                raise VcmError(f"{info.path}: decoded more frames than the {len(kept)} of "
                               f"{detections_file}")
            foreground = compose(frame, region, options)
            render_seconds += time.perf_counter() - tick - (clock.read + clock.segment - elsewhere)
            yield foreground

    try:
        with atomic_output(output) as temporary:
            write_lossless_video(
                timed_frames(), temporary, width=info.width, height=info.height, fps=info.fps,
                log_path=log_path,
            )
    finally:
        if segmenter is not None:
            segmenter.close()
    total_seconds = time.perf_counter() - start
    described = segmenter.describe() if segmenter is not None else None
    LOG.info(
        "foreground: %d frames, %d boxes (scores >= %g of them kept), variant %s, render %.3f s, "
        "segment %.3f s (%d boxes without a mask, kept whole), total %.3f s -> %s",
        info.frames, detections.count, min_score, options.describe(), render_seconds,
        clock.segment, clock.boxes_without_mask, total_seconds, output,
    )
    return ForegroundResult(info.frames, render_seconds, total_seconds, clock.segment, described,
                            clock.boxes_without_mask)
