"""Multi-object tracking metrics: CLEAR MOT and identity scores via py-motmetrics, HOTA via TrackEval.

Ground truth is a :class:`~vcm.datasets.mot.MotRows` read from a MOTChallenge ``gt.txt``;
hypotheses are a :class:`~vcm.tracks.TrackSequence`. A ground-truth box and a track box can
be paired when their IoU is at least ``iou_threshold`` (0.5, as in MOTChallenge).

Which ground truth counts, as in MOTChallenge and motmetrics' ``preprocessResult``:

- rows whose 'consider' flag (column 7) is 0 are ignored (MOT15 files write -1: considered);
- in the 9-column MOT16/17/20 layout (classes known) only class 1 (pedestrian) is kept, and a
  track box matched, by a per-frame minimum-cost matching over all ground truth of the frame,
  to a distractor (classes 2 person on vehicle, 7 static person, 8 distractor, 12 reflection)
  is removed from the hypotheses, so it counts neither as a false positive nor as a match.

Both tools see the same boxes: the rows that count and the track boxes left after removing
those matched to distractors (:func:`counted_frames`). HOTA (Luiten et al., IJCV 2021) is
TrackEval's: the mean over localisation thresholds alpha = 0.05, 0.10, ..., 0.95 of
sqrt(DetA x AssA), with DetA = TP / (TP + FN + FP), AssA the mean over true positives of their
track pair's TPA / (TPA + FNA + FPA), and LocA the mean IoU of true positives.

Empty inputs give defined results: with no ground truth, MOTA is nan (it is a fraction of the
ground-truth count, see :func:`mota`) and every track box is a false positive; with no tracks,
every ground-truth box is a miss and MOTA is 0. HOTA, DetA and AssA are 0 whenever either side
is empty, and LocA 1 (TrackEval's convention). Other ratios with a zero denominator (precision
without any track box, MOTP without any match, ...) are nan, as motmetrics returns them.
"""

from __future__ import annotations

import math
from typing import Iterator, NamedTuple

import motmetrics as mm
import numpy as np
from scipy.optimize import linear_sum_assignment

from vcm.boxes import pairwise_iou
from vcm.datasets.mot import MotRows
from vcm.errors import VcmError
from vcm.tracks import FrameTracks, TrackSequence

PEDESTRIAN = 1
"""MOT16+ ground-truth class of the objects to track."""

DISTRACTOR_CLASSES = (2, 7, 8, 12)
"""MOT16+ classes whose matched track boxes are neither false positives nor matches."""

COUNT_METRICS = (
    "num_frames",
    "num_objects",
    "num_predictions",
    "num_detections",
    "num_matches",
    "num_misses",
    "num_false_positives",
    "num_switches",
    "num_fragmentations",
    "num_unique_objects",
    "mostly_tracked",
    "partially_tracked",
    "mostly_lost",
)
"""Integer-valued motmetrics metrics that :func:`evaluate_tracking` returns."""

RATIO_METRICS = ("precision", "recall", "idf1", "idp", "idr")
"""Fraction-valued motmetrics metrics that :func:`evaluate_tracking` returns besides MOTA/MOTP."""

HOTA_METRICS = ("hota", "deta", "assa", "loca")
"""TrackEval's HOTA, DetA, AssA and LocA (each averaged over its 19 alpha thresholds)."""

TRACKEVAL_VERSION = "1.3.0"
"""The TrackEval release vcm installs (Makefile) and whose HOTA the tests were checked on."""


class CountedFrame(NamedTuple):
    """One frame's boxes that the metrics score: ``gt_boxes`` (G, 4) and ``track_boxes``
    (T, 4) are ``x1, y1, x2, y2`` in pixels, ``gt_ids`` (G,) and ``track_ids`` (T,) integers."""

    frame: int
    gt_ids: np.ndarray
    gt_boxes: np.ndarray
    track_ids: np.ndarray
    track_boxes: np.ndarray


def mota(fn: int, fp: int, idsw: int, gt: int) -> float:
    """Multiple object tracking accuracy 1 - (FN + FP + IDSW) / GT (paper Eq. 3); nan if GT is 0."""
    if gt == 0:
        return math.nan
    return 1.0 - (fn + fp + idsw) / gt


def iou_distances(gt_boxes: np.ndarray, track_boxes: np.ndarray, max_distance: float) -> np.ndarray:
    """(G, T) distances 1 - IoU of ``x1, y1, x2, y2`` boxes, nan beyond ``max_distance``.

    motmetrics' accumulator format; its own ``distances.iou_matrix`` calls ``np.asfarray``,
    which numpy 2 removed.
    """
    distances = 1.0 - pairwise_iou(gt_boxes, track_boxes)
    distances[distances > max_distance] = np.nan
    return distances


def counted_frames(
    gt: MotRows, tracks: TrackSequence, *, iou_threshold: float = 0.5
) -> Iterator[CountedFrame]:
    """The boxes that count (see the module docstring) in each frame where either input has a
    box. A frame with neither is skipped, so the work grows with the rows, not with the frame
    numbers (a lone row at frame 10^6 costs one frame)."""
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    max_distance = 1.0 - iou_threshold
    tracks_by_frame = {frame.frame: frame for frame in tracks.frames if len(frame)}
    numbers = np.union1d(gt.frame, np.fromiter(tracks_by_frame, dtype=np.int64))
    order = np.argsort(gt.frame, kind="stable")
    sorted_frames = gt.frame[order]
    starts = np.searchsorted(sorted_frames, numbers, side="left")
    ends = np.searchsorted(sorted_frames, numbers, side="right")
    has_classes = gt.classes != -1
    for number, start, end in zip(numbers.tolist(), starts, ends):
        rows = order[start:end]
        frame_tracks = tracks_by_frame.get(number, FrameTracks(number))
        track_ids, track_boxes = frame_tracks.ids, frame_tracks.boxes.reshape(-1, 4)
        gt_boxes = gt.boxes[rows]
        distractor = has_classes[rows] & np.isin(gt.classes[rows], DISTRACTOR_CLASSES)
        if distractor.any() and len(track_ids):
            keep = ~_matched_to(distractor, gt_boxes, track_boxes, max_distance)
            track_ids, track_boxes = track_ids[keep], track_boxes[keep]
        counted = (gt.confidence[rows] != 0) & (
            ~has_classes[rows] | (gt.classes[rows] == PEDESTRIAN)
        )
        yield CountedFrame(number, gt.ids[rows][counted], gt_boxes[counted], track_ids,
                           track_boxes)


def tracking_accumulator(
    gt: MotRows, tracks: TrackSequence, *, iou_threshold: float = 0.5
) -> mm.MOTAccumulator:
    """Per-frame motmetrics events of ``tracks`` against ``gt`` over the frames where either
    has a box (:func:`counted_frames`); motmetrics' ``num_frames`` then counts only those
    frames (:func:`evaluate_tracking` reports :func:`frame_count` instead)."""
    accumulator = mm.MOTAccumulator(auto_id=False)
    for frame in counted_frames(gt, tracks, iou_threshold=iou_threshold):
        distances = iou_distances(frame.gt_boxes, frame.track_boxes, 1.0 - iou_threshold)
        accumulator.update(frame.gt_ids, frame.track_ids, distances, frameid=frame.frame)
    return accumulator


def hota(gt: MotRows, tracks: TrackSequence) -> dict[str, float]:
    """HOTA, DetA, AssA and LocA of ``tracks`` against ``gt`` from TrackEval, by lower-case name.

    Each is the mean over TrackEval's alpha thresholds 0.05..0.95; fractions in [0, 1].
    Raises :class:`VcmError` when TrackEval is not installed.
    """
    try:
        from trackeval.metrics import HOTA
    except ImportError as error:
        raise VcmError(f"HOTA needs trackeval {TRACKEVAL_VERSION} (numpy 2; `make install` "
                       f"puts it in .venv): {error}") from None
    frames = list(counted_frames(gt, tracks))
    # TrackEval indexes identities 0..n-1 on each side.
    gt_index = _dense_index(frame.gt_ids for frame in frames)
    track_index = _dense_index(frame.track_ids for frame in frames)
    data = {
        "num_gt_dets": sum(len(frame.gt_ids) for frame in frames),
        "num_tracker_dets": sum(len(frame.track_ids) for frame in frames),
        "num_gt_ids": len(gt_index),
        "num_tracker_ids": len(track_index),
        "gt_ids": [np.array([gt_index[value] for value in frame.gt_ids], dtype=int)
                   for frame in frames],
        "tracker_ids": [np.array([track_index[value] for value in frame.track_ids], dtype=int)
                        for frame in frames],
        "similarity_scores": [pairwise_iou(frame.gt_boxes, frame.track_boxes)
                              for frame in frames],
    }
    result = HOTA().eval_sequence(data)
    return {name: float(np.mean(result[key]))
            for name, key in zip(HOTA_METRICS, ("HOTA", "DetA", "AssA", "LocA"))}


def frame_count(gt: MotRows, tracks: TrackSequence) -> int:
    """Frames evaluated: 1..the last frame of either the tracks record or the ground truth."""
    return max([0, *(frame.frame for frame in tracks.frames), *gt.frame.tolist()])


def evaluate_tracking(
    gt: MotRows, tracks: TrackSequence, *, iou_threshold: float = 0.5
) -> dict[str, float | int]:
    """CLEAR MOT and identity metrics of ``tracks`` against ``gt``, by motmetrics name.

    Keys: ``mota`` (:func:`mota`), ``motp`` (mean IoU of matched pairs, MOTChallenge's
    convention, higher is better; motmetrics' own ``motp`` is 1 minus this), the ratios in
    :data:`RATIO_METRICS` and the counts in :data:`COUNT_METRICS` (``num_objects`` is GT,
    ``num_misses`` FN, ``num_false_positives`` FP, ``num_switches`` IDSW, ``num_detections`` the
    matched ground-truth boxes, of which ``num_switches`` changed track and ``num_matches`` did
    not), and the HOTA family of :func:`hota` (:data:`HOTA_METRICS`).
    """
    accumulator = tracking_accumulator(gt, tracks, iou_threshold=iou_threshold)
    names = [*COUNT_METRICS, *RATIO_METRICS, "motp"]
    summary = mm.metrics.create().compute(accumulator, metrics=names, name="sequence")
    values = summary.loc["sequence"]
    result: dict[str, float | int] = {}
    counts = {name: int(values[name]) for name in COUNT_METRICS}
    counts["num_frames"] = frame_count(gt, tracks)
    result["mota"] = mota(
        counts["num_misses"], counts["num_false_positives"], counts["num_switches"],
        counts["num_objects"],
    )
    result["motp"] = 1.0 - float(values["motp"])
    result.update({name: float(values[name]) for name in RATIO_METRICS})
    result.update(counts)
    result.update(hota(gt, tracks))
    return result


def _dense_index(ids_by_frame) -> dict:
    """``{identity: 0..n-1}`` over the identities of all frames, in increasing order."""
    identities = sorted({value for ids in ids_by_frame for value in ids.tolist()})
    return {value: index for index, value in enumerate(identities)}


def _matched_to(
    target: np.ndarray, gt_boxes: np.ndarray, track_boxes: np.ndarray, max_distance: float
) -> np.ndarray:
    """Which track boxes a minimum-cost IoU matching pairs with a ground-truth row in ``target``."""
    distances = iou_distances(gt_boxes, track_boxes, max_distance)
    # A pair beyond the threshold (nan) costs more than all allowed pairs together, so the
    # matching first pairs as many boxes as it can, then minimises distance; such pairs are
    # dropped below.
    forbidden = float(len(gt_boxes) + len(track_boxes) + 1)
    rows, columns = linear_sum_assignment(np.where(np.isnan(distances), forbidden, distances))
    paired = ~np.isnan(distances[rows, columns])
    matched = np.zeros(len(track_boxes), dtype=bool)
    matched[columns[paired & target[rows]]] = True
    return matched
