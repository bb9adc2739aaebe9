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
from vcm.registry import Registry
from vcm.tracks import FrameTracks, TrackSequence


class Tracker(Protocol):
    """What :func:`track_sequence` needs of a tracker."""

    def init_state(self, fps: float) -> Any:
        """The state before the first frame of a video shown at ``fps`` frames per second."""

    def update(self, state: Any, detections: FrameDetections) -> tuple[Any, FrameTracks]:
        """Associate the next frame's detections; return the new state and the frame's tracks."""


TRACKERS: Registry[Tracker] = Registry("tracker")


def track_sequence(detections: DetectionSequence, tracker: Tracker, *, fps: float) -> TrackSequence:
    """Run ``tracker`` over every frame of ``detections`` (a video at ``fps`` frames per second)."""
    state = tracker.init_state(fps)
    frames = []
    for frame_detections in detections.frames:
        state, frame_tracks = tracker.update(state, frame_detections)
        frames.append(frame_tracks)
    return TrackSequence(frames, source=detections.source)


# Imported last: the backend registers itself in TRACKERS defined above.
from vcm.trackers import iou  # noqa: E402,F401
