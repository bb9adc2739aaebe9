"""The multitask pipeline in a few lines of Python (a notebook, a script): see docs/api.md.

    import vcm.api
    result = vcm.api.multitask("clip.mp4", detector="hog", estimator="blazepose",
                               tracker="iou")
    result.detections, result.poses, result.tracks, result.seconds

:func:`multitask` detects people once on the original frames, renders the foreground (the
paper's, or a variant) and runs pose estimation, tracking and, when asked, segmentation on
it, frame by frame, with the same stages (:mod:`vcm.pipeline`) the ``vcm`` commands, the
sweep and a live server run. No codec runs here: the tasks see the lossless foreground. For
coded foregrounds at a QP, run the commands or the sweep (README).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcm.detections import DetectionSequence
from vcm.masking import ForegroundOptions
from vcm.pipeline import (
    DetectStage,
    PoseStage,
    SegmentStage,
    Stage,
    StageTimes,
    TrackStage,
    foreground_stages,
    run_frames,
    video_frames,
)
from vcm.tracks import TrackSequence


@dataclass(frozen=True)
class MultitaskResult:
    """What :func:`multitask` found in a video.

    Attributes:
        detections: the shared person boxes of every frame (``x1, y1, x2, y2`` pixels of the
            original frame), as ``vcm detect`` writes them.
        poses: one :class:`~vcm.keypoints.PersonPose` per box with a pose, frame order.
        tracks: the tracker's boxes and ids per frame.
        masks: one :class:`~vcm.masks.PersonMask` per box with a mask (empty without a
            segmenter).
        seconds: seconds per stage (detect, foreground, pose, segment, track), as the driver
            measured them; reading frames excepted.
        stages: each stage's description (backend, model, parameters).
    """

    detections: DetectionSequence
    poses: list
    tracks: TrackSequence
    masks: list = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    stages: list[dict] = field(default_factory=list)


def multitask_stages(
    *,
    fps: float,
    detector: str = "hog",
    score: float = 0.6,
    estimator: str | None = "blazepose",
    tracker: str | None = "iou",
    segmenter: str | None = None,
    foreground: dict[str, Any] | None = None,
    detector_options: dict[str, Any] | None = None,
    estimator_options: dict[str, Any] | None = None,
    tracker_options: dict[str, Any] | None = None,
    segmenter_options: dict[str, Any] | None = None,
) -> list[Stage]:
    """The stages of the multitask pipeline for a video at ``fps``, backends by registry
    name (``vcm detectors``, ...; ``None`` leaves a task out): detect, foreground (variant
    ``foreground``, ``vcm foreground -p`` options; the paper's by default), pose,
    segmentation, tracking. New instances on every call: one list per video or stream."""
    from vcm.detectors import build_detector

    stages: list[Stage] = [DetectStage(build_detector(detector, **(detector_options or {})),
                                       score=score)]
    stages += foreground_stages(ForegroundOptions.from_options(foreground or {}))
    if estimator is not None:
        from vcm.pose import build_pose_estimator

        stages.append(PoseStage(build_pose_estimator(estimator, **(estimator_options or {}))))
    if segmenter is not None:
        from vcm.segmenters import build_segmenter

        stages.append(SegmentStage(build_segmenter(segmenter, **(segmenter_options or {}))))
    if tracker is not None:
        from vcm.trackers import TRACKERS

        stages.append(TrackStage(TRACKERS.build(tracker, **(tracker_options or {})), fps=fps))
    return stages


def multitask(video: str | Path, *, progress: bool = False, **settings) -> MultitaskResult:
    """Run the multitask pipeline over ``video`` (a video file or MOTChallenge sequence
    folder); ``settings`` as :func:`multitask_stages` takes them (``detector="hog"``,
    ``estimator="blazepose"``, ``tracker="iou"``, ``segmenter=None``, ``foreground={}``,
    ``score=0.6``, ``*_options``). A progress bar on stderr with ``progress``."""
    from vcm.video import open_video

    source = open_video(video)
    info = source.info
    stages = multitask_stages(fps=info.fps, **settings)
    times = StageTimes()
    detections, poses, masks, tracks = [], [], [], []
    try:
        for frame in run_frames(video_frames(source, description="multitask",
                                             progress=progress), stages, times=times):
            detections.append(frame.records["detect"])
            poses += frame.records.get("pose", [])
            masks += frame.records.get("segment", [])
            if "track" in frame.records:
                tracks.append(frame.records["track"])
    finally:
        for stage in stages:
            stage.close()
    return MultitaskResult(
        detections=DetectionSequence(info.width, info.height, detections,
                                     source=str(info.path), fps=info.fps),
        poses=poses, tracks=TrackSequence(tracks, source=str(info.path)), masks=masks,
        seconds=dict(times.seconds), stages=[stage.describe() for stage in stages],
    )
