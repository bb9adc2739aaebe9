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
