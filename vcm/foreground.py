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

import numpy as np

from vcm.detformats import read_detections
from vcm.fileio import atomic_output
from vcm.masking import ForegroundOptions, compose, kept_rectangles, region_mask
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
    (working out the kept region and composing, reading and segmenting excepted), in the
    segmenter of the ``mask`` variant (0 without it) and in total (reading, segmenting,
    rendering and lossless writing); ``segmenter`` describes the mask's segmenter (model,
    file checksums, parameters), ``None`` without one; ``boxes_without_mask`` counts the boxes
    in which it found no person (each kept whole). With ``anonymise``, ``anonymise_seconds``
    is the face search and anonymising, ``anonymiser`` the face finder's description and
    its counts (:meth:`vcm.pipeline.AnonymiseStage.counts`); ``None`` without it."""

    frames: int
    render_seconds: float
    total_seconds: float
    segment_seconds: float = 0.0
    segmenter: dict | None = None
    boxes_without_mask: int = 0
    anonymise_seconds: float = 0.0
    anonymiser: dict | None = None


def build_mask_segmenter(options: ForegroundOptions):
    """The segmenter of a ``mask`` variant: MediaPipe's ``options.mask`` model (``selfie`` or
    ``pose``) with its measured defaults, person pixels only inside each box it is given."""
    from vcm.segmenters.mediapipe_backend import MediaPipeSegmenter

    return MediaPipeSegmenter(model=options.mask, restrict="box")


def write_foreground_video(
    video: Path,
    detections_file: Path,
    output: Path,
    *,
    min_score: float = 0.0,
    options: ForegroundOptions = PAPER,
    log_path: Path | None = None,
    progress: bool = True,
    keep_every: int = 1,
    downscale: int = 1,
    downscale_regions: int = 1,
) -> ForegroundResult:
    """Write the foreground of ``video`` given ``detections_file`` (any detection format) to
    ``output`` (FFV1 in mkv): the batch driver of :func:`vcm.pipeline.foreground_stages`.

    Only boxes scoring at least ``min_score`` are kept: a detections file written for BYTE
    association also holds low-score boxes, which the tracker uses but the foreground must not
    show. ``options`` is the foreground variant (:mod:`vcm.masking`; default the paper's).
    With ``options.mask``, MediaPipe segments each original frame before it is rendered; a
    ``hold`` window is written once its last frame is read. With ``keep_every`` k above 1
    only frames 1, 1 + k, ... are written, at frame rate ``fps / k`` (temporal resampling,
    :mod:`vcm.temporal`); the stages still see every frame (a ``hold`` window unites the
    boxes of all its frames). ``frames`` of the result counts the frames written. With
    ``downscale`` F above 1 each frame is written at 1/F of each side
    (:func:`vcm.spatial.reduced_size`; spatial resampling, :mod:`vcm.spatial`). With
    ``downscale_regions`` F above 1 the frame keeps its size and only its kept rectangles
    are shrunk, each in place (:func:`vcm.spatial.shrink_regions`; fill black or grey).
    """
    from vcm.boxtasks import boxes_scoring_at_least
    from vcm.spatial import (REGION_FILLS, check_downscale, check_region_scaling,
                             downscale_frame, reduced_size, region_rectangles, shrink_regions)
    from vcm.temporal import check_keep_every, coded_frame_rate, is_coded

    from vcm.pipeline import (AnonymiseStage, PersonPixelsStage, StageTimes, foreground_stages,
                              run_frames, video_frames)

    keep_every = check_keep_every(keep_every)
    downscale = check_downscale(downscale)
    downscale_regions = check_region_scaling(downscale_regions, options, downscale)
    start = time.perf_counter()
    source = open_video(video)
    detections = read_detections(detections_file)
    info = source.info
    if downscale_regions != 1:
        rectangles = region_rectangles(
            [frame.boxes for frame in boxes_scoring_at_least(detections, min_score).frames],
            info.width, info.height, options)

    def coded_image(frame) -> np.ndarray:
        if downscale_regions != 1:
            return shrink_regions(frame.image, rectangles[frame.number - 1], downscale_regions,
                                  REGION_FILLS[options.fill])
        return downscale_frame(frame.image, downscale)
    stages = foreground_stages(options, min_score=min_score)
    masking = next((stage for stage in stages if isinstance(stage, PersonPixelsStage)), None)
    anonymising = next((stage for stage in stages if isinstance(stage, AnonymiseStage)), None)
    times = StageTimes()
    frames = run_frames(video_frames(source, detections, detections_label=str(detections_file),
                                     description="foreground", progress=progress),
                        stages, times=times)
    try:
        with atomic_output(output) as temporary:
            write_lossless_video(
                (coded_image(frame) for frame in frames if is_coded(frame.number, keep_every)),
                temporary, **dict(zip(("width", "height"),
                                      reduced_size(info.width, info.height, downscale))),
                fps=coded_frame_rate(info.fps, keep_every), log_path=log_path,
            )
    finally:
        for stage in stages:
            stage.close()
    total_seconds = time.perf_counter() - start
    render_seconds = times.seconds.get(stages[-1].name, 0.0)
    segment_seconds = times.seconds.get(masking.name, 0.0) if masking is not None else 0.0
    without_mask = masking.boxes_without_mask if masking is not None else 0
    anonymiser = None
    if anonymising is not None:
        anonymiser = {**anonymising.finder.describe(), **anonymising.counts()}
        LOG.info("anonymise %s: %d boxes searched, %d with a face (%d faces), %d without "
                 "(head region: %s), %.3f s", options.anonymise, anonymising.boxes,
                 anonymising.boxes_with_face, anonymising.faces, anonymising.boxes_head,
                 f"top {options.anonymise_head:g}" if options.anonymise_head else "none",
                 times.seconds.get(anonymising.name, 0.0))
    LOG.info(
        "foreground: %d frames, %d boxes (scores >= %g of them kept), variant %s, render %.3f s, "
        "segment %.3f s (%d boxes without a mask, kept whole), total %.3f s -> %s",
        info.frames, detections.count, min_score, options.describe(), render_seconds,
        segment_seconds, without_mask, total_seconds, output,
    )
    written = len(range(1, info.frames + 1, keep_every))
    return ForegroundResult(written, render_seconds, total_seconds, segment_seconds,
                            masking.segmenter.describe() if masking is not None else None,
                            without_mask,
                            times.seconds.get(anonymising.name, 0.0) if anonymising else 0.0,
                            anonymiser)
