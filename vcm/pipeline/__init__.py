"""Per-frame components of the multitask pipeline and the drivers that run them.

A stage takes :class:`Frame` s (pixels and person boxes) and hands them back with its record
attached; its state (a tracker's tracks, a foreground's held window) lives in the instance.
The batch commands, the sweep and a live server run the same stages through a driver:
:func:`run_frames` (files, batched as the backends want) or :class:`Pipeline` (one frame at
a time). Per-stage seconds are measured by the driver in one place, :class:`StageTimes`.
See docs/api.md.
"""

from vcm.pipeline.driver import Pipeline, StageTimes, detection_frames, run_frames, video_frames
from vcm.pipeline.frames import Frame, FrameComponent, Stage
from vcm.pipeline.stages import (
    AnonymiseStage,
    BoxTaskStage,
    DetectStage,
    ForegroundStage,
    PersonPixelsStage,
    PoseStage,
    SegmentStage,
    TrackStage,
    foreground_stages,
    kept_boxes,
)

__all__ = [
    "AnonymiseStage",
    "BoxTaskStage",
    "DetectStage",
    "ForegroundStage",
    "Frame",
    "FrameComponent",
    "PersonPixelsStage",
    "Pipeline",
    "PoseStage",
    "SegmentStage",
    "Stage",
    "StageTimes",
    "TrackStage",
    "detection_frames",
    "foreground_stages",
    "kept_boxes",
    "run_frames",
    "video_frames",
]
