"""Fit a gallery from labelled clips and score motion labels and counts against them.

Both start from the poses and tracks of each clip (:func:`clip_frames`): the clip's exact
ground truth (``truth``: a MOTChallenge folder's ``gt/keypoints.json`` and ``gt/gt.txt``,
as ``vcm data motions`` writes them), or the multitask pipeline run on its pixels
(``pipeline``: detector, foreground, pose estimator, tracker, :func:`vcm.api.multitask_stages`).

Scoring (:func:`evaluate_motion`), for each labelled row (a stretch of a clip):

* per track: each track with a pose in the stretch is predicted the label most of its frames
  there carry, and ``reps`` its count at the stretch's last frame minus its count before the
  stretch;
* per clip (per row): the label most frames of all tracks carry; the count of the track seen
  in most of the stretch's frames;
* accuracy, macro-F1 (the mean over the true labels of each label's F1), the mean absolute
  error of the counts and the share of counts within one repetition (rows with ``reps``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vcm.errors import VcmError
from vcm.motion.base import KnnMotion, MotionStage, poses_by_track
from vcm.motion.features import frame_features
from vcm.motion.gallery import STEPS, Gallery, resample_window
from vcm.motion.labels import LabelRow
from vcm.pipeline.frames import Frame

POSE_SOURCES = ("truth", "pipeline")


@dataclass(frozen=True)
class ClipPoses:
    """The frames of one clip with ``pose`` and ``track`` records, and its frame rate."""

    clip: Path
    fps: float
    frames: list[Frame]


def truth_frames(clip: Path) -> ClipPoses:
    """The exact poses and tracks of a MOTChallenge folder with ``gt/keypoints.json`` (COCO
    keypoints with ``bbox``) and ``gt/gt.txt``; the clip is named in the error otherwise."""
    from vcm.datasets.coco import read_coco_keypoints
    from vcm.datasets.mot import read_seqinfo
    from vcm.tracks import read_tracks_txt

    for needed in ("seqinfo.ini", "gt/keypoints.json", "gt/gt.txt"):
        if not (clip / needed).is_file():
            raise VcmError(f"{clip}: poses from the truth need {needed} (a MOTChallenge folder "
                           "with keypoint ground truth, as `vcm data motions` writes)")
    info = read_seqinfo(clip)
    tracks = read_tracks_txt(clip / "gt" / "gt.txt", num_frames=info.length)
    people: dict[int, list] = {}
    for pose in read_coco_keypoints(clip / "gt" / "keypoints.json").people:
        people.setdefault(pose.image_id, []).append(pose)
    frames = [Frame(number, None, records={"pose": people.get(number, []), "track": tracks_of})
              for number, tracks_of in enumerate(tracks.frames, start=1)]
    return ClipPoses(clip, info.fps, frames)


def pipeline_frames(clip: Path, **settings) -> ClipPoses:
    """Poses and tracks of ``clip`` from the multitask pipeline (``settings`` as
    :func:`vcm.api.multitask_stages` takes them); the stages are closed afterwards."""
    from vcm.api import multitask_stages
    from vcm.pipeline import run_frames, video_frames
    from vcm.video import open_video

    source = open_video(clip)
    stages = multitask_stages(fps=source.info.fps, **settings)
    try:
        frames = [frame.with_record("pose", frame.records.get("pose", []), image=None)
                  for frame in run_frames(video_frames(source, progress=False), stages)]
    finally:
        for stage in stages:
            stage.close()
    return ClipPoses(clip, source.info.fps, frames)


def clip_frames(clip: Path, source: str = "truth", **settings) -> ClipPoses:
    """:func:`truth_frames` or :func:`pipeline_frames` of ``clip``, by ``source``."""
    if source == "truth":
        return truth_frames(clip)
    if source == "pipeline":
        return pipeline_frames(clip, **settings)
    raise VcmError(f"unknown pose source {source!r}; choose one of {', '.join(POSE_SOURCES)}")


def track_features(poses: ClipPoses, features: str) -> dict[int, dict[int, np.ndarray]]:
    """Per track id, the features of each frame with the track's pose, by frame number."""
    by_track: dict[int, dict[int, np.ndarray]] = {}
    for frame in poses.frames:
        for track_id, keypoints in poses_by_track(frame.records["pose"],
                                                  frame.records["track"]).items():
            by_track.setdefault(track_id, {})[frame.number] = frame_features(keypoints, features)
    return by_track


def row_windows(row: LabelRow, poses: ClipPoses, *, features: str, window_seconds: float,
                steps: int = STEPS) -> list[np.ndarray]:
    """The resampled windows of every track in the row's stretch: each window of
    ``window_seconds`` that lies inside the stretch, starting every quarter window."""
    length = max(2, round(window_seconds * poses.fps))
    stride = max(1, length // 4)
    windows = []
    for frames in track_features(poses, features).values():
        numbers = [number for number in sorted(frames) if number in row]
        for start in range(0, len(numbers) - length + 1, stride):
            chunk = numbers[start:start + length]
            windows.append(resample_window(np.stack([frames[number] for number in chunk]), steps))
    return windows


def fit_gallery(rows: list[LabelRow], clips: dict[Path, ClipPoses], *, features: str = "bones",
                distance: str = "stats", window_seconds: float = 2.0, k: int = 5,
                leave_out: Path | None = None) -> Gallery:
    """A gallery of the windows of every row (those of clip ``leave_out`` left out)."""
    labels, windows = [], []
    for row in rows:
        if row.clip == leave_out:
            continue
        for window in row_windows(row, clips[row.clip], features=features,
                                  window_seconds=window_seconds):
            labels.append(row.label)
            windows.append(window)
    if not windows:
        where = f"no clip but {leave_out} has" if leave_out is not None else "no clip has"
        raise VcmError(f"{where} a labelled stretch as long as one window "
                       f"({window_seconds:g} s) with a tracked pose in every frame")
    return Gallery(tuple(labels), np.stack(windows), features=features, distance=distance,
                   window_seconds=window_seconds, k=k)


def run_motion(poses: ClipPoses, recognizer: KnnMotion) -> dict[int, dict[int, dict]]:
    """Per frame number, the :class:`MotionStage` record by track id."""
    stage = MotionStage(recognizer, fps=poses.fps)
    return {frame.number: {entry["track"]: entry for entry in stage.motion_of(frame)}
            for frame in poses.frames}


def accuracy(truth: list[str], predicted: list[str]) -> float:
    """Share of predictions equal to the truth (NaN when there are none)."""
    if not truth:
        return float("nan")
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def macro_f1(truth: list[str], predicted: list[str]) -> float:
    """Mean over the true labels of each label's F1 = 2 TP / (2 TP + FP + FN) (NaN: none)."""
    if not truth:
        return float("nan")
    scores = []
    for label in sorted(set(truth)):
        hits = sum(t == label and p == label for t, p in zip(truth, predicted))
        false_positives = sum(t != label and p == label for t, p in zip(truth, predicted))
        misses = sum(t == label and p != label for t, p in zip(truth, predicted))
        scores.append(2 * hits / (2 * hits + false_positives + misses))
    return sum(scores) / len(scores)


def count_mae(truth: list[int], predicted: list[int]) -> float:
    """Mean absolute error of repetition counts (NaN when there are none)."""
    if not truth:
        return float("nan")
    return sum(abs(t - p) for t, p in zip(truth, predicted, strict=True)) / len(truth)


def within_one(truth: list[int], predicted: list[int]) -> float:
    """Share of counts off by at most one repetition (NaN when there are none)."""
    if not truth:
        return float("nan")
    return sum(abs(t - p) <= 1 for t, p in zip(truth, predicted, strict=True)) / len(truth)


@dataclass
class MotionScores:
    """What :func:`evaluate_motion` found: ``rows`` (one dict per labelled row: clip, label,
    predicted, reps, predicted_reps, tracks) and ``tracks`` (one per track and row)."""

    rows: list[dict] = field(default_factory=list)
    tracks: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        """Accuracy, macro-F1, count MAE and share within one, per clip (row) and track."""
        summary = {}
        for level, entries in (("clip", self.rows), ("track", self.tracks)):
            truth = [entry["label"] for entry in entries]
            predicted = [entry["predicted"] for entry in entries]
            counted = [entry for entry in entries if entry["reps"] is not None
                       and entry["predicted_reps"] is not None]
            true_reps = [entry["reps"] for entry in counted]
            found_reps = [entry["predicted_reps"] for entry in counted]
            summary[level] = {"count": len(entries), "accuracy": accuracy(truth, predicted),
                              "macro_f1": macro_f1(truth, predicted),
                              "reps_mae": count_mae(true_reps, found_reps),
                              "reps_within_one": within_one(true_reps, found_reps),
                              "counted": len(counted)}
        return summary


def score_row(row: LabelRow, motion: dict[int, dict[int, dict]], scores: MotionScores) -> None:
    """Add the row's and its tracks' predictions (see the module's description) to ``scores``."""
    frames_of: dict[int, list[dict]] = {}
    before: dict[int, int] = {}
    for number in sorted(motion):
        for track_id, entry in motion[number].items():
            if number < row.start_frame:
                before[track_id] = entry["reps"]
            elif number in row:
                frames_of.setdefault(track_id, []).append(entry)
    all_labels: Counter = Counter()
    track_reps = {}
    for track_id, entries in sorted(frames_of.items()):
        labels = Counter(entry["label"] for entry in entries)
        all_labels.update(labels)
        reps = entries[-1]["reps"] - before.get(track_id, 0)
        track_reps[track_id] = (len(entries), reps)
        scores.tracks.append({"clip": str(row.clip), "line": row.line, "track": track_id,
                              "label": row.label, "predicted": _majority(labels),
                              "reps": row.reps, "predicted_reps": reps})
    main = max(track_reps, key=lambda track_id: track_reps[track_id][0], default=None)
    scores.rows.append({"clip": str(row.clip), "line": row.line, "label": row.label,
                        "predicted": _majority(all_labels) if all_labels else "none",
                        "reps": row.reps,
                        "predicted_reps": track_reps[main][1] if main is not None else None,
                        "tracks": len(frames_of)})


def _majority(labels: Counter) -> str:
    """The most common label; ties go to the label first in alphabetical order."""
    best = max(labels.values())
    return min(label for label, count in labels.items() if count == best)


def evaluate_motion(rows: list[LabelRow], clips: dict[Path, ClipPoses], *,
                    recognizer: KnnMotion | None = None, leave_one_out: bool = False,
                    features: str = "bones", distance: str = "stats",
                    window_seconds: float = 2.0, k: int = 5) -> MotionScores:
    """Score motion labels and counts on ``rows`` (poses of each clip in ``clips``): with
    ``recognizer``, or with ``leave_one_out`` each clip by a gallery of the other clips'
    rows (fitted with ``features``, ``distance``, ``window_seconds``, ``k``)."""
    if (recognizer is None) == (not leave_one_out):
        raise ValueError("give a recognizer or leave_one_out")
    scores = MotionScores()
    for clip, poses in clips.items():
        if leave_one_out:
            gallery = fit_gallery(rows, clips, features=features, distance=distance,
                                  window_seconds=window_seconds, k=k, leave_out=clip)
            clip_recognizer = KnnMotion(gallery=gallery)
        else:
            clip_recognizer = recognizer
        motion = run_motion(poses, clip_recognizer)
        for row in rows:
            if row.clip == clip:
                score_row(row, motion, scores)
    return scores


def score_records(rows: list[LabelRow], motion: dict[int, dict[int, dict]]) -> MotionScores:
    """Score the motion records of one clip (``{frame: {track: entry}}``, as
    :func:`vcm.motion.records.read_motion_records` gives them) on its labelled ``rows``."""
    scores = MotionScores()
    for row in rows:
        score_row(row, motion, scores)
    return scores


def format_table(scores: MotionScores) -> str:
    """The per-row table and the summary as aligned text."""
    lines = [f"{'clip':<32} {'line':>4} {'label':<14} {'predicted':<14} {'tracks':>6} "
             f"{'reps':>4} {'found':>5}"]
    for row in scores.rows:
        reps = "" if row["reps"] is None else row["reps"]
        found = "" if row["predicted_reps"] is None else row["predicted_reps"]
        lines.append(f"{Path(row['clip']).name[:32]:<32} {row['line']:>4} {row['label'][:14]:<14} "
                     f"{row['predicted'][:14]:<14} {row['tracks']:>6} {reps!s:>4} {found!s:>5}")
    lines.append("")
    lines.append(f"{'level':<6} {'n':>4} {'accuracy':>8} {'macro-F1':>8} {'reps MAE':>8} "
                 f"{'within 1':>8}")
    for level, numbers in scores.summary().items():
        lines.append(f"{level:<6} {numbers['count']:>4} {numbers['accuracy']:>8.3f} "
                     f"{numbers['macro_f1']:>8.3f} {numbers['reps_mae']:>8.3f} "
                     f"{numbers['reps_within_one']:>8.3f}")
    return "\n".join(lines)
