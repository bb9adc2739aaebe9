"""Multi-object trackers: turn per-frame detections into tracks with persistent ids.

A tracker is a set of parameters with two pure methods: ``init_state(fps)`` gives the state
before the first frame, and ``update(state, frame_detections)`` returns the next state and the
frame's :class:`~vcm.tracks.FrameTracks`. All of a sequence's history lives in the state, so
one tracker object can track many sequences, each starting its ids at 1.

Backends are looked up by name in :data:`TRACKERS`: ``TRACKERS.build("iou", **parameters)``.
"""

from __future__ import annotations

from typing import Any, Protocol

from vcm.detections import DetectionSequence, FrameDetections
from vcm.errors import VcmError
from vcm.registry import Registry
from vcm.tracks import FrameTracks, TrackSequence


class Tracker(Protocol):
    """What :func:`track_sequence` needs of a tracker."""

    def init_state(self, fps: float) -> Any:
        """The state before the first frame of a video shown at ``fps`` frames per second."""

    def update(self, state: Any, detections: FrameDetections) -> tuple[Any, FrameTracks]:
        """Associate the next frame's detections; return the new state and the frame's tracks.

        A tracker with an appearance ``embedder`` attribute (not None) takes a third
        argument, the (N, D) embeddings of the detections (see :class:`vcm.pipeline.TrackStage`)."""


TRACKERS: Registry[Tracker] = Registry("tracker")


def track_sequence(detections: DetectionSequence, tracker: Tracker, *, fps: float,
                   times=None, video=None, gallery=None, stage_out: list | None = None
                   ) -> TrackSequence:
    """Run ``tracker`` over every frame of ``detections`` (a video at ``fps`` frames per
    second) with the batch driver and one :class:`vcm.pipeline.TrackStage`; its seconds are
    added to ``times`` (a :class:`vcm.pipeline.StageTimes`) as ``track`` when given.

    ``video``: the :class:`vcm.video.VideoSource` the detections belong to, read for a
    tracker with appearance (which needs pixels; without one it is not read). ``gallery``:
    known identities for the stage. ``stage_out``: a list the stage is appended to, so the
    caller can read its identities at the end.
    """
    from vcm.pipeline import TrackStage, detection_frames, run_frames, video_frames

    stage = TrackStage(tracker, fps=fps, gallery=gallery)
    if stage_out is not None:
        stage_out.append(stage)
    if stage.embedder is None:
        source = detection_frames(detections)
    elif video is None:
        raise VcmError("tracking with appearance needs the video the detections belong to "
                       "(its pixels)")
    else:
        source = video_frames(video, detections, progress=False)
    frames = run_frames(source, [stage], times=times)
    return TrackSequence([frame.records[stage.name] for frame in frames],
                         source=detections.source)


# Imported last: the backend registers itself in TRACKERS defined above.
from vcm.trackers import iou  # noqa: E402,F401
