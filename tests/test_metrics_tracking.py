"""Tracking metrics on hand-made sequences whose counts are worked out on paper."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from vcm.datasets.mot import MotRows, read_mot_txt
from vcm.metrics.tracking import evaluate_tracking, mota
from vcm.tracks import FrameTracks, TrackSequence

BOX_A = (0.0, 0.0, 10.0, 10.0)
BOX_B = (100.0, 0.0, 110.0, 10.0)


def gt_rows(rows: list[tuple]) -> MotRows:
    """MotRows from ``(frame, id, x1, y1, x2, y2)`` rows, all considered, MOT15 style."""
    array = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return MotRows(
        frame=array[:, 0].astype(np.int64),
        ids=array[:, 1].astype(np.int64),
        boxes=array[:, 2:6],
        confidence=np.ones(len(array)),
        classes=np.full(len(array), -1, dtype=np.int64),
    )


def track_frames(by_frame: dict[int, list[tuple]], frames: int) -> TrackSequence:
    """A TrackSequence of frames 1..frames from ``{frame: [(id, x1, y1, x2, y2), ...]}``."""
    sequence = []
    for number in range(1, frames + 1):
        rows = np.array(by_frame.get(number, []), dtype=np.float64).reshape(-1, 5)
        sequence.append(FrameTracks(number, rows[:, 0], rows[:, 1:], np.ones(len(rows))))
    return TrackSequence(sequence)


def two_objects_gt() -> MotRows:
    """Objects 1 (box A) and 2 (box B), standing still in frames 1-5: 10 ground-truth boxes."""
    return gt_rows([(frame, 1, *BOX_A) for frame in range(1, 6)]
                   + [(frame, 2, *BOX_B) for frame in range(1, 6)])


def one_miss_one_fp_one_switch() -> TrackSequence:
    """Track 1 follows A (2 px off in frame 1: IoU 8*10 / (2*100 - 80) = 2/3); B is followed
    by track 2 in frames 1-2, missed in frame 3 while track 3 is a false positive far away,
    then followed by track 4 in frames 4-5: an identity switch at frame 4."""
    by_frame = {frame: [(1, *BOX_A)] for frame in range(1, 6)}
    by_frame[1] = [(1, 2.0, 0.0, 12.0, 10.0)]
    for frame in (1, 2):
        by_frame[frame].append((2, *BOX_B))
    by_frame[3].append((3, 300.0, 300.0, 310.0, 310.0))
    for frame in (4, 5):
        by_frame[frame].append((4, *BOX_B))
    return track_frames(by_frame, 5)


def test_mota_formula() -> None:
    assert mota(1, 1, 1, 10) == pytest.approx(0.7)
    assert mota(10, 0, 0, 10) == 0.0
    assert mota(0, 4, 0, 2) == pytest.approx(-1.0)
    assert math.isnan(mota(0, 0, 0, 0))


def test_one_miss_one_false_positive_one_switch() -> None:
    result = evaluate_tracking(two_objects_gt(), one_miss_one_fp_one_switch())
    assert result["num_objects"] == 10
    assert result["num_predictions"] == 10
    assert result["num_misses"] == 1
    assert result["num_false_positives"] == 1
    assert result["num_switches"] == 1
    # Nine matched pairs, one of them the switch (motmetrics counts it apart from matches).
    assert result["num_detections"] == 9
    assert result["num_matches"] == 8
    assert result["num_frames"] == 5
    assert result["mota"] == pytest.approx(1 - (1 + 1 + 1) / 10)
    # Eight exact matches and one with IoU 2/3.
    assert result["motp"] == pytest.approx((8 + 2 / 3) / 9)
    assert result["precision"] == pytest.approx(9 / 10)
    assert result["recall"] == pytest.approx(9 / 10)
    # Identity matching: A-1 gives 5 true positives, B with track 2 or 4 gives 2; IDTP = 7 of
    # 10 ground-truth and 10 track boxes: IDF1 = 2 * 7 / (10 + 10).
    assert result["idf1"] == pytest.approx(0.7)
    # A is tracked in 5/5 frames, B in 4/5 (motmetrics: mostly tracked from 80%).
    assert result["mostly_tracked"] == 2
    assert result["mostly_lost"] == 0
    assert result["num_fragmentations"] == 1
    assert result["num_unique_objects"] == 2


def test_stricter_iou_threshold_turns_the_shifted_box_into_a_miss_and_a_false_positive() -> None:
    # IoU 2/3 < 0.7: frame 1 adds one miss and one false positive, so FN = 2, FP = 2, IDSW = 1.
    result = evaluate_tracking(two_objects_gt(), one_miss_one_fp_one_switch(), iou_threshold=0.7)
    counts = (result["num_misses"], result["num_false_positives"], result["num_switches"])
    assert counts == (2, 2, 1)
    assert result["mota"] == pytest.approx(1 - (2 + 2 + 1) / 10)


def test_no_predictions_misses_everything() -> None:
    result = evaluate_tracking(two_objects_gt(), track_frames({}, 5))
    assert result["mota"] == 0.0
    assert result["num_misses"] == 10
    assert result["num_false_positives"] == 0
    assert result["recall"] == 0.0
    assert math.isnan(result["precision"])
    assert math.isnan(result["motp"])


def test_no_predictions_and_no_frames_of_tracks() -> None:
    result = evaluate_tracking(two_objects_gt(), TrackSequence([]))
    assert result["num_misses"] == 10
    assert result["num_frames"] == 5
    assert result["mota"] == 0.0


def test_no_ground_truth_and_no_predictions() -> None:
    result = evaluate_tracking(gt_rows([]), track_frames({}, 3))
    assert math.isnan(result["mota"])
    assert result["num_frames"] == 3
    assert result["num_objects"] == 0
    assert result["num_false_positives"] == 0
    assert result["num_misses"] == 0


def test_nothing_at_all() -> None:
    result = evaluate_tracking(gt_rows([]), TrackSequence([]))
    assert result["num_frames"] == 0
    assert math.isnan(result["mota"])


def test_no_ground_truth_makes_every_track_box_a_false_positive() -> None:
    tracks = track_frames({1: [(1, *BOX_A)], 2: [(1, *BOX_A), (2, *BOX_B)]}, 2)
    result = evaluate_tracking(gt_rows([]), tracks)
    assert result["num_false_positives"] == 3
    assert result["precision"] == 0.0
    assert math.isnan(result["mota"])


def test_zero_consider_flag_is_ignored(tmp_path: Path) -> None:
    # MOT15 layout (10 columns): object 2's consider flag is 0, object 1's is -1 (considered).
    gt_path = tmp_path / "gt.txt"
    gt_path.write_text(
        "1,1,0,0,10,10,-1,-1,-1,-1\n"
        "1,2,100,0,10,10,0,-1,-1,-1\n"
    )
    tracks = track_frames({1: [(1, *BOX_A)]}, 1)
    result = evaluate_tracking(read_mot_txt(gt_path), tracks)
    assert result["num_objects"] == 1
    assert result["num_misses"] == 0
    assert result["mota"] == 1.0


def test_mot16_classes_and_distractors(tmp_path: Path) -> None:
    # MOT16 layout (9 columns: ..., consider, class, visibility). Frame 1 holds a pedestrian
    # (class 1), a static person (class 7, a distractor) and a car (class 3, consider 0).
    gt_path = tmp_path / "gt.txt"
    gt_path.write_text(
        "1,1,0,0,10,10,1,1,1.0\n"
        "1,2,100,0,10,10,0,7,1.0\n"
        "1,3,200,0,10,10,0,3,1.0\n"
    )
    tracks = track_frames(
        {1: [(1, *BOX_A), (2, *BOX_B), (3, 200.0, 0.0, 210.0, 10.0)]}, 1
    )
    result = evaluate_tracking(read_mot_txt(gt_path), tracks)
    # Only the pedestrian is ground truth; the box on the static person is dropped; the box on
    # the car (not a distractor) is a false positive.
    assert result["num_objects"] == 1
    assert result["num_matches"] == 1
    assert result["num_predictions"] == 2
    assert result["num_false_positives"] == 1
    assert result["mota"] == pytest.approx(0.0)


# ---------------------------------------------------------------- HOTA (TrackEval)
# Worked on paper for one_miss_one_fp_one_switch(). TrackEval averages over alpha = 0.05, ...,
# 0.95 (19 thresholds); a pair is a true positive at alpha when its IoU >= alpha.
# - alpha <= 0.65 (13 thresholds): the IoU-2/3 pair counts. TP 9, FN 1, FP 1: DetA = 9/11.
#   Pairs: A-1 5 TPs, TPA 5, FNA 0, FPA 0: 1; B-2 2 TPs, TPA 2, FNA 5 - 2, FPA 0: 2/5; B-4 the
#   same. AssA = (5 + 2 * 0.4 + 2 * 0.4) / 9; LocA = (8 + 2/3) / 9.
# - alpha >= 0.70 (6 thresholds): frame 1's A-1 pair is a miss and a false positive. TP 8,
#   FN 2, FP 2: DetA = 8/12; A-1 TPA 4, FNA 1, FPA 1: 4/6; B-2, B-4 2/5 each.
#   AssA = (4 * 4/6 + 4 * 0.4) / 8; LocA = 1.
LOW_DETA, HIGH_DETA = 9 / 11, 8 / 12
LOW_ASSA, HIGH_ASSA = (5 + 4 * 0.4) / 9, (4 * 4 / 6 + 4 * 0.4) / 8
LOW_LOCA, HIGH_LOCA = (8 + 2 / 3) / 9, 1.0


def over_alphas(low: float, high: float) -> float:
    return (13 * low + 6 * high) / 19


def test_hota_worked_by_hand() -> None:
    result = evaluate_tracking(two_objects_gt(), one_miss_one_fp_one_switch())
    assert result["deta"] == pytest.approx(over_alphas(LOW_DETA, HIGH_DETA))
    assert result["assa"] == pytest.approx(over_alphas(LOW_ASSA, HIGH_ASSA))
    assert result["loca"] == pytest.approx(over_alphas(LOW_LOCA, HIGH_LOCA))
    assert result["hota"] == pytest.approx(over_alphas(math.sqrt(LOW_DETA * LOW_ASSA),
                                                       math.sqrt(HIGH_DETA * HIGH_ASSA)))
    assert result["hota"] == pytest.approx(0.718288, abs=1e-6)


def test_hota_does_not_depend_on_identity_values() -> None:
    # TrackEval wants identities 0..n-1; vcm renumbers. Same tracks under ids 7, 30, 12, 99.
    renamed = {1: 7, 2: 30, 3: 12, 4: 99}
    frames = [
        FrameTracks(frame.frame, np.array([renamed[int(i)] for i in frame.ids]), frame.boxes,
                    frame.scores)
        for frame in one_miss_one_fp_one_switch().frames
    ]
    result = evaluate_tracking(two_objects_gt(), TrackSequence(frames))
    assert result["hota"] == pytest.approx(0.718288, abs=1e-6)


def test_hota_of_perfect_tracks_is_one() -> None:
    tracks = track_frames({frame: [(5, *BOX_A), (6, *BOX_B)] for frame in range(1, 6)}, 5)
    result = evaluate_tracking(two_objects_gt(), tracks)
    assert [result[name] for name in ("hota", "deta", "assa", "loca")] == pytest.approx([1] * 4)


def test_hota_without_tracks_or_ground_truth() -> None:
    # TrackEval's convention: nothing detected (or nothing to detect) scores 0, LocA 1.
    no_tracks = evaluate_tracking(two_objects_gt(), track_frames({}, 5))
    no_gt = evaluate_tracking(gt_rows([]), track_frames({1: [(1, *BOX_A)]}, 1))
    for result in (no_tracks, no_gt):
        assert (result["hota"], result["deta"], result["assa"], result["loca"]) == (0, 0, 0, 1)
