"""The motion recognizers' registry, the ``knn`` recognizer, and the per-frame stage.

A recognizer keeps no state of its own: :meth:`KnnMotion.new_track` gives the state of one
track (its window of features and its repetition counters) and :meth:`KnnMotion.update` moves
it on by one frame, so one recognizer serves every track of every stream. State across
frames lives in :class:`MotionStage`, one per video or stream, as the tracker's lives in
:class:`vcm.pipeline.TrackStage`.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from vcm.boxes import pairwise_iou
from vcm.motion.counting import SignalCounters
from vcm.motion.features import body_signals, frame_features
from vcm.motion.gallery import Gallery, read_gallery, resample_window
from vcm.pipeline.frames import Frame, Stage
from vcm.registry import Option, Registry

MOTION_RECOGNIZERS: Registry = Registry("motion recognizer")

UNKNOWN = "unknown"
"""The label of a track whose window is not yet half full, or of a recognizer without a
gallery (it still counts repetitions)."""


@dataclass
class TrackMotion:
    """One track's motion state: its last frames' features, repetition counters, the
    frames it was seen in."""

    features: deque
    counters: SignalCounters
    seen: int = 0
    label: str = UNKNOWN
    score: float = 0.0
    reps: int = 0
    last_frame: int = field(default=0)


class KnnMotion:
    """Nearest-neighbour motion labels from a gallery (``vcm motion fit``) and repetition
    counts from body signals (:mod:`vcm.motion.counting`).

    Args:
        model: the gallery file; without one every label is ``unknown`` and only repetitions
            are counted.
        gallery: a :class:`Gallery` given directly (code and tests), instead of ``model``.
        k: neighbours that vote (default: the gallery's).
        history_seconds: seconds of a signal kept for its range (repetition counting).
        smooth_seconds: seconds of a signal averaged before counting (keypoint noise).
    """

    name = "knn"
    option_schema = {
        "model": Option(os.PathLike, optional=True,
                        help="gallery file from `vcm motion fit` (null: count only)"),
        "k": Option(int, low=1, high=1000, optional=True, help="neighbours that vote"),
        "history_seconds": Option(float, above=0, high=600,
                                  help="seconds of a body signal kept for its range"),
        "smooth_seconds": Option(float, low=0, high=10,
                                 help="seconds of a body signal averaged before counting"),
    }

    def __init__(self, model: str | os.PathLike | None = None, *, gallery: Gallery | None = None,
                 k: int | None = None, history_seconds: float = 6.0,
                 smooth_seconds: float = 0.5):
        self.model = str(model) if model is not None else None
        if gallery is None and model is not None:
            gallery = read_gallery(model)
        self.gallery = gallery
        if gallery is not None and k is not None:
            self.gallery = Gallery(gallery.labels, gallery.windows, features=gallery.features,
                                   distance=gallery.distance,
                                   window_seconds=gallery.window_seconds, k=k)
        self.history_seconds = float(history_seconds)
        self.smooth_seconds = float(smooth_seconds)
        self.features = gallery.features if gallery is not None else "bones"
        self.window_seconds = gallery.window_seconds if gallery is not None else 2.0

    def window_frames(self, fps: float) -> int:
        """Frames in one window at ``fps`` frames per second (at least 2)."""
        return max(2, round(self.window_seconds * fps))

    def new_track(self, fps: float) -> TrackMotion:
        """The state of a track before its first frame, in a video at ``fps``."""
        return TrackMotion(deque(maxlen=self.window_frames(fps)),
                           SignalCounters(history=max(2, round(self.history_seconds * fps)),
                                          smooth=max(1, round(self.smooth_seconds * fps))))

    def update(self, state: TrackMotion, keypoints: np.ndarray) -> TrackMotion:
        """Move ``state`` on by one frame of the track's (17, 3) keypoints (``x, y``
        pixels, confidence); its ``label``, ``score`` and ``reps`` are then this frame's."""
        if np.shape(keypoints) != (17, 3):
            raise ValueError(f"motion needs the 17 COCO keypoints, got shape {np.shape(keypoints)}")
        state.features.append(frame_features(keypoints, self.features))
        state.reps = state.counters.update(body_signals(keypoints))
        state.seen += 1
        if self.gallery is not None and 2 * len(state.features) >= state.features.maxlen:
            window = resample_window(np.stack(state.features), self.gallery.windows.shape[1]
                                     if len(self.gallery.windows) else 16)
            state.label, state.score = self.gallery.classify(window)
        return state

    def describe(self) -> dict:
        described = {"recognizer": self.name, "model": self.model,
                     "history_seconds": self.history_seconds,
                     "smooth_seconds": self.smooth_seconds}
        if self.gallery is not None:
            described |= {"features": self.gallery.features, "distance": self.gallery.distance,
                          "window_seconds": self.gallery.window_seconds, "k": self.gallery.k,
                          "windows": len(self.gallery.labels),
                          "labels": sorted(set(self.gallery.labels))}
        return described


MOTION_RECOGNIZERS.register("knn")(KnnMotion)


def build_motion_recognizer(name: str = "knn", **options) -> KnnMotion:
    """The registered recognizer ``name`` built with ``options`` (checked against its schema)."""
    return MOTION_RECOGNIZERS.build(name, **options)


MATCH_IOU = 0.5
"""Least IoU between a pose's box and a track's box for the pose to belong to the track."""


def poses_by_track(poses: Sequence, tracks) -> dict[int, np.ndarray]:
    """Keypoints (17, 3) of one frame by track id: a pose with a ``track_id`` (1 or more) is
    that track's; any other goes to the track whose box it overlaps most, at least
    :data:`MATCH_IOU` (each track takes one pose, best overlaps first)."""
    matched: dict[int, np.ndarray] = {}
    loose = []
    for pose in poses:
        if pose.track_id >= 1:
            matched.setdefault(pose.track_id, pose.keypoints)
        elif pose.box is not None:
            loose.append(pose)
    if not loose or not len(tracks.ids):
        return matched
    overlaps = pairwise_iou(np.stack([pose.box for pose in loose]), tracks.boxes)
    used_poses: set[int] = set()
    for flat in np.argsort(-overlaps, axis=None, kind="stable"):
        row, column = divmod(int(flat), overlaps.shape[1])
        if overlaps[row, column] < MATCH_IOU:
            break
        track_id = int(tracks.ids[column])
        if track_id not in matched and row not in used_poses:
            matched[track_id] = loose[row].keypoints
            used_poses.add(row)
    return matched


class MotionStage(Stage):
    """Motion label, score and repetition count of every tracked person, frame by frame.

    Reads the frame's ``pose`` record (list of :class:`~vcm.keypoints.PersonPose`) and
    ``track`` record (:class:`~vcm.tracks.FrameTracks`), matched by :func:`poses_by_track`.
    Record: list of ``{"track": id, "label": str, "score": share of the k votes in [0, 1],
    "reps": repetitions since the track began}``, one per track with a pose in the frame,
    by track id. A track unseen for ``forget_seconds`` is forgotten (its id, should it
    return, starts again at 0 repetitions). Needs no pixels. A frame without a ``pose``
    record is an error, or, with ``require_pose`` false (a live server that skips pose under
    lag), a frame with no motion.
    """

    def __init__(self, recognizer: KnnMotion, *, fps: float, pose_record: str = "pose",
                 track_record: str = "track", forget_seconds: float = 5.0,
                 require_pose: bool = True, name: str = "motion"):
        self.recognizer = recognizer
        self.fps = float(fps)
        self.pose_record, self.track_record = pose_record, track_record
        self.forget_frames = max(1, round(forget_seconds * self.fps))
        self.require_pose = require_pose
        self.name = name
        self.tracks: dict[int, TrackMotion] = {}

    def process_batch(self, frames: Sequence[Frame]) -> list[Frame]:
        return [frame.with_record(self.name, self.motion_of(frame)) for frame in frames]

    def motion_of(self, frame: Frame) -> list[dict]:
        """The frame's record (see the class); the tracks' states move on by the frame."""
        if not self.require_pose and self.pose_record not in frame.records:
            return []
        for record in (self.pose_record, self.track_record):
            if record not in frame.records:
                raise ValueError(f"frame {frame.number}: motion needs the {record!r} record")
        matched = poses_by_track(frame.records[self.pose_record], frame.records[self.track_record])
        motion = []
        for track_id in sorted(matched):
            state = self.tracks.get(track_id)
            if state is None:
                state = self.tracks[track_id] = self.recognizer.new_track(self.fps)
            self.recognizer.update(state, matched[track_id])
            state.last_frame = frame.number
            motion.append({"track": track_id, "label": state.label,
                           "score": round(state.score, 4), "reps": state.reps})
        for track_id in [track_id for track_id, state in self.tracks.items()
                         if frame.number - state.last_frame > self.forget_frames]:
            del self.tracks[track_id]
        return motion

    def describe(self) -> dict:
        return {"stage": self.name, **self.recognizer.describe(), "fps": self.fps}

