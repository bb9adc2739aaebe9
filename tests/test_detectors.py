"""Detectors: post-processing, NMS, the oracle on a hand-made MOT folder, HOG and Yolo-Fastest
on synthetic and real PETS09-S3MF1 frames, and the missing-model error."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vcm.detectors import (
    DETECTORS,
    build_detector,
    detect_video,
    non_maximum_suppression,
    postprocess,
)
from vcm.detectors.hog import margin_to_score
from vcm.detectors.oracle import load_ground_truth
from vcm.detectors.yolo_fastest import decode_yolo_rows
from vcm.boxes import pairwise_iou
from vcm.errors import VcmError
from vcm.store import ModelStore, file_sha256
from vcm.video import open_video

PETS = "PETS09-S3MF1"


@pytest.fixture
def mirror_environment(mirror, tmp_path, monkeypatch) -> Path:
    """Stores built in the test use the shared mirror, an empty cache and never download."""
    monkeypatch.setenv("VCM_MIRROR", str(mirror))
    monkeypatch.setenv("VCM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VCM_OFFLINE", "1")
    return mirror


def pets_frame(frame: int) -> tuple[np.ndarray, np.ndarray]:
    """BGR image and ground-truth boxes of a PETS09-S3MF1 frame, found through the store."""
    sequence = ModelStore().dataset(PETS)
    image = cv2.imread(str(sequence / "img1" / f"{frame:06d}.jpg"))
    assert image is not None and image.shape == (576, 768, 3)
    return image, load_ground_truth(sequence)[frame]


def matched_count(boxes: np.ndarray, truth: np.ndarray, iou_threshold: float) -> int:
    """Ground-truth boxes matched one-to-one, greedily by IoU (enough for a few people)."""
    iou = pairwise_iou(boxes, truth)
    matched = 0
    while iou.size and iou.max() >= iou_threshold:
        row, column = np.unravel_index(np.argmax(iou), iou.shape)
        iou[row, :] = 0
        iou[:, column] = 0
        matched += 1
    return matched


def test_registry_names():
    assert DETECTORS.names() == ["detectron2", "hog", "jde", "oracle", "torchvision", "yolo-fastest"]
    with pytest.raises(VcmError, match="unknown detector 'ssd'"):
        build_detector("ssd")


# postprocess, IoU and NMS: values worked out by hand.

def test_postprocess_hand_made_frame():
    nan, inf = float("nan"), float("inf")
    boxes = np.array([
        [10, 10, 20, 20],    # kept as is
        [nan, 0, 10, 10],    # non-finite box: dropped
        [0, 0, 10, 10],      # non-finite score: dropped
        [120, 10, 150, 30],  # right of a 100-wide frame: empty after clipping, dropped
        [-5, 40, 30, 70],    # partly outside: clipped to 0, 40, 30, 50
        [1, 1, 5, 5],        # score exactly at the threshold: kept
        [1, 1, 5, 5],        # just under the threshold: discarded, not counted
        [30, 30, 30, 40],    # zero width: dropped
        [inf, 0, 10, 10],    # non-finite, under the threshold too: dropped and counted
    ])
    scores = np.array([0.9, 0.9, nan, 0.8, 0.7, 0.5, 0.4999, 0.95, 0.1])
    kept_boxes, kept_scores, dropped = postprocess(
        boxes, scores, width=100, height=50, score_threshold=0.5
    )
    np.testing.assert_array_equal(kept_boxes, [[10, 10, 20, 20], [0, 40, 30, 50], [1, 1, 5, 5]])
    np.testing.assert_array_equal(kept_scores, [0.9, 0.7, 0.5])
    assert kept_boxes.dtype == kept_scores.dtype == np.float64
    assert dropped == 5


def test_postprocess_empty_input():
    boxes, scores, dropped = postprocess(
        np.zeros((0, 4)), np.zeros(0), width=10, height=10, score_threshold=0.6
    )
    assert boxes.shape == (0, 4) and scores.shape == (0,) and dropped == 0


def test_postprocess_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        postprocess(np.zeros((2, 4)), np.zeros(1), width=10, height=10, score_threshold=0.6)


def test_pairwise_iou():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]])
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(pairwise_iou(a, b), [[1 / 3, 1, 0], [0, 0, 0]])
    assert pairwise_iou(np.zeros((0, 4)), b).shape == (0, 3)


def test_non_maximum_suppression_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [1, 0, 11, 10], [20, 20, 30, 30]])
    scores = np.array([0.5, 0.9, 0.0, 0.3])
    # IoU(box 1, box 0) = 1/3 is under 0.45; box 2 overlaps box 0 at 9/11 and goes.
    # A zero score still counts: thresholds are postprocess's job.
    assert non_maximum_suppression(boxes, scores, iou_threshold=0.45).tolist() == [1, 0, 3]
    assert non_maximum_suppression(boxes, scores, iou_threshold=0.3).tolist() == [1, 3]
    assert non_maximum_suppression(np.zeros((0, 4)), np.zeros(0), iou_threshold=0.45).size == 0


# oracle, on a MOT16-style folder: 3 frames of 64x48, frame 3 without people.

GT_ROWS = """\
1,1,10,5,20,30,1,1,1.0
1,2,40,10,10,20,1,1,0.5
1,3,0,0,5,5,0,1,1.0
2,1,12,6,20,30,1,1,1.0
2,4,30,20,8,8,1,7,1.0
"""
FRAME_1_BOXES = [[10, 5, 30, 35], [40, 10, 50, 30]]
FRAME_2_BOXES = [[12, 6, 32, 36]]


@pytest.fixture
def mot_sequence(tmp_path) -> Path:
    root = tmp_path / "TINY-01"
    (root / "img1").mkdir(parents=True)
    (root / "gt").mkdir()
    (root / "seqinfo.ini").write_text(
        "[Sequence]\nname=TINY-01\nimDir=img1\nframeRate=10\nseqLength=3\n"
        "imWidth=64\nimHeight=48\nimExt=.jpg\n"
    )
    for frame in (1, 2, 3):
        cv2.imwrite(str(root / "img1" / f"{frame:06d}.jpg"), np.zeros((48, 64, 3), np.uint8))
    (root / "gt" / "gt.txt").write_text(GT_ROWS)
    return root


def test_oracle_returns_the_considered_pedestrians(mot_sequence):
    oracle = build_detector("oracle", sequence=mot_sequence)
    blank = np.zeros((48, 64, 3), np.uint8)
    boxes, scores = oracle.detect(blank, 1)
    np.testing.assert_array_equal(boxes, FRAME_1_BOXES)
    np.testing.assert_array_equal(scores, [1.0, 1.0])
    boxes, scores = oracle.detect(blank, 2)
    np.testing.assert_array_equal(boxes, FRAME_2_BOXES)
    boxes, scores = oracle.detect(blank, 3)
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_oracle_on_mot15_layout_keeps_unset_consider_flags(tmp_path):
    # MOT15/PETS rows: column 7 is -1 (not 0, so considered), no class column.
    (tmp_path / "gt").mkdir()
    (tmp_path / "gt" / "gt.txt").write_text(
        "1,1,1.5,2,10,20,-1,-1,-1,-1\n1,2,5,5,5,5,0,-1,-1,-1\n"
    )
    np.testing.assert_array_equal(load_ground_truth(tmp_path)[1], [[1.5, 2, 11.5, 22]])


def test_detect_video_with_oracle(mot_sequence):
    sequence = detect_video(
        open_video(mot_sequence), build_detector("oracle", sequence=mot_sequence), progress=False
    )
    assert (sequence.width, sequence.height, len(sequence), sequence.count) == (64, 48, 3, 3)
    assert [frame.frame for frame in sequence] == [1, 2, 3]
    np.testing.assert_array_equal(sequence.frames[0].boxes, FRAME_1_BOXES)
    # The second box of frame 1 reaches x = 50 < 64: nothing to clip.
    np.testing.assert_array_equal(sequence.frames[1].boxes, FRAME_2_BOXES)
    assert len(sequence.frames[2]) == 0


def test_oracle_drop_one_removes_everything(mot_sequence):
    oracle = build_detector("oracle", sequence=mot_sequence, drop=1.0)
    for frame in (1, 2, 3):
        boxes, scores = oracle.detect(np.zeros((48, 64, 3), np.uint8), frame)
        assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_oracle_noise_is_deterministic_per_frame(mot_sequence):
    blank = np.zeros((48, 64, 3), np.uint8)
    forward = build_detector("oracle", sequence=mot_sequence, jitter=0.1, drop=0.3, seed=7)
    backward = build_detector("oracle", sequence=mot_sequence, jitter=0.1, drop=0.3, seed=7)
    first = [forward.detect(blank, frame) for frame in (1, 2)]
    second = [backward.detect(blank, frame) for frame in (2, 1)][::-1]
    for (boxes_a, scores_a), (boxes_b, scores_b) in zip(first, second):
        np.testing.assert_array_equal(boxes_a, boxes_b)
        np.testing.assert_array_equal(scores_a, scores_b)
    seed_7 = build_detector("oracle", sequence=mot_sequence, jitter=0.1, seed=7)
    seed_8 = build_detector("oracle", sequence=mot_sequence, jitter=0.1, seed=8)
    assert not np.array_equal(seed_7.detect(blank, 1)[0], seed_8.detect(blank, 1)[0])


def test_oracle_jitter_scales_with_box_size(mot_sequence):
    blank = np.zeros((48, 64, 3), np.uint8)
    small = build_detector("oracle", sequence=mot_sequence, jitter=0.01, seed=3)
    large = build_detector("oracle", sequence=mot_sequence, jitter=0.02, seed=3)
    truth = np.array(FRAME_1_BOXES, dtype=float)
    # Same seed, same draws: doubling jitter doubles every offset.
    np.testing.assert_allclose(
        large.detect(blank, 1)[0] - truth, 2 * (small.detect(blank, 1)[0] - truth)
    )


def test_oracle_rejects_bad_arguments(mot_sequence, tmp_path):
    with pytest.raises(VcmError, match="option drop must be at most 1, got 1.5"):
        build_detector("oracle", sequence=mot_sequence, drop=1.5)
    with pytest.raises(VcmError, match="option jitter must be at least 0, got -0.1"):
        build_detector("oracle", sequence=mot_sequence, jitter=-0.1)
    with pytest.raises(VcmError, match="gt.txt: file does not exist"):
        build_detector("oracle", sequence=tmp_path / "nowhere")


def test_oracle_describe(mot_sequence):
    description = build_detector("oracle", sequence=mot_sequence, jitter=0.1).describe()
    assert description["gt_sha256"] == file_sha256(mot_sequence / "gt" / "gt.txt")
    assert (description["jitter"], description["drop"], description["seed"]) == (0.1, 0.0, 0)


# HOG

def test_hog_score_mapping():
    np.testing.assert_allclose(margin_to_score([0.0, np.log(1.5), -np.log(3)]), [0.5, 0.6, 0.25])


def test_hog_on_synthetic_images():
    hog = build_detector("hog")
    # A dark stick figure about 120 pixels tall on a light background, x 71..121, y 61..180.
    image = np.full((256, 192, 3), 200, np.uint8)
    dark = (40, 40, 40)
    cv2.circle(image, (96, 70), 9, dark, -1)
    cv2.rectangle(image, (84, 80), (108, 130), dark, -1)
    cv2.line(image, (84, 84), (74, 128), dark, 6)
    cv2.line(image, (108, 84), (118, 128), dark, 6)
    cv2.line(image, (90, 130), (84, 175), dark, 9)
    cv2.line(image, (102, 130), (108, 175), dark, 9)
    boxes, scores = hog.detect(image, 1)
    assert boxes.shape == (1, 4) and scores.shape == (1,)
    assert boxes.dtype == scores.dtype == np.float64
    assert scores[0] >= 0.6
    assert pairwise_iou(boxes, [[71, 61, 121, 180]])[0, 0] >= 0.5

    for blank in (np.full((256, 192, 3), 200, np.uint8), np.zeros((48, 64, 3), np.uint8)):
        boxes, scores = hog.detect(blank, 1)
        assert boxes.shape == (0, 4) and scores.shape == (0,)
        assert boxes.dtype == scores.dtype == np.float64


def test_hog_finds_the_person_of_pets_frame_1(mirror_environment):
    image, truth = pets_frame(1)
    hog = build_detector("hog")
    boxes, scores = hog.detect(image, 1)
    boxes, scores, _ = postprocess(boxes, scores, width=768, height=576, score_threshold=0.6)
    assert len(truth) == 1
    # Measured: one detection at IoU 0.58.
    assert pairwise_iou(boxes, truth).max() >= 0.3
    assert hog.describe()["win_stride"] == [8, 8]


# Yolo-Fastest

@pytest.mark.parametrize(
    "variant, minimum_matched",
    # Measured on frames 70 and 80 (7 people each) at score >= 0.6 and IoU >= 0.5:
    # body 14, coco 10, coco-xl 12.
    [("body", 12), ("coco", 8), ("coco-xl", 10)],
)
def test_yolo_fastest_finds_most_pets_people(mirror_environment, variant, minimum_matched):
    detector = build_detector("yolo-fastest", variant=variant)
    matched = detections = 0
    for frame in (70, 80):
        image, truth = pets_frame(frame)
        assert len(truth) == 7
        raw_boxes, raw_scores = detector.detect(image, frame)
        assert raw_boxes.dtype == raw_scores.dtype == np.float64
        boxes, scores, dropped = postprocess(
            raw_boxes, raw_scores, width=768, height=576, score_threshold=0.6
        )
        assert dropped == 0
        matched += matched_count(boxes, truth, 0.5)
        detections += len(boxes)
    assert matched >= minimum_matched
    assert detections - matched <= 4


def test_decode_yolo_rows_by_hand():
    # cx, cy, w, h (fractions of the input), objectness, person, other class.
    rows = np.array([
        [0.5, 0.5, 0.25, 0.5, 0.9, 0.8, 0.0],    # 37.5, 10, 62.5, 30 in a 100x40 frame
        [0.51, 0.5, 0.25, 0.5, 0.9, 0.7, 0.0],   # shifted by 1 pixel: suppressed by NMS
        [0.1, 0.1, 0.1, 0.1, 0.95, 0.0, 0.9],    # another class only: not a person
    ], dtype=np.float32)
    boxes, scores = decode_yolo_rows(rows, width=100, height=40, class_index=0, nms_iou=0.45)
    np.testing.assert_allclose(boxes, [[37.5, 10, 62.5, 30]], atol=1e-5)
    np.testing.assert_allclose(scores, [0.8], atol=1e-7)
    assert boxes.dtype == scores.dtype == np.float64


def test_yolo_fastest_describe_and_blank_frame(mirror_environment):
    detector = build_detector("yolo-fastest", input_size=416)
    description = detector.describe()
    assert description["model"] == "yolo-fastest/yolo-fastest-1.1_body"
    assert description["input_size"] == 416
    assert description["files"] == {
        "yolo-fastest-1.1_body.cfg":
            "045b8e276ebe3924474da8c866b7e709159ea067137b5d66bf9dd560411b2c1a",
        "yolo-fastest-1.1_body.weights":
            "5bbb6d878f6e2eb3deee39e91dc6f9b39700e99ec83fa94d258670a554949728",
    }
    boxes, scores = detector.detect(np.zeros((48, 64, 3), np.uint8), 1)
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_yolo_fastest_rejects_bad_arguments(mirror_environment):
    with pytest.raises(VcmError, match="option variant must be one of body, coco, coco-xl; got 'tiny'"):
        build_detector("yolo-fastest", variant="tiny")
    with pytest.raises(VcmError, match="multiple of 32, got 300"):
        build_detector("yolo-fastest", input_size=300)


def test_yolo_fastest_missing_model_says_where_to_put_it(tmp_path, monkeypatch):
    (tmp_path / "empty-mirror").mkdir()
    monkeypatch.setenv("VCM_MIRROR", str(tmp_path / "empty-mirror"))
    monkeypatch.setenv("VCM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VCM_OFFLINE", "1")
    with pytest.raises(VcmError) as caught:
        build_detector("yolo-fastest")
    message = str(caught.value)
    filename = "yolo-fastest-1.1_body.cfg"
    assert str(tmp_path / "cache" / "models" / "yolo-fastest" / filename) in message
    assert str(tmp_path / "empty-mirror" / "models" / "yolo-fastest" / filename) in message
    assert (
        "https://raw.githubusercontent.com/dog-qiuqiu/Yolo-Fastest/"
        f"96a2900d163196c396e73f3fdab04ca4dd9a2f70/ModelZoo/yolo-fastest-1.1_body/{filename}"
    ) in message


def test_postprocess_drops_boxes_thinner_than_the_xml_precision():
    # 10.001..10.004 would round to the empty box 10.00..10.00 in the XML file.
    boxes = np.array([[10.001, 5, 10.004, 20], [10.0, 5, 10.01, 20], [3, 4, 8, 4.004]])
    kept, _, dropped = postprocess(
        boxes, np.array([0.9, 0.9, 0.9]), width=100, height=50, score_threshold=0.5
    )
    np.testing.assert_array_equal(kept, [[10.0, 5, 10.01, 20]])
    assert dropped == 2


def test_hog_runs_on_one_thread_by_default_and_restores_opencv_threads():
    previous = cv2.getNumThreads()
    detector = build_detector("hog")
    assert detector.describe()["threads"] == 1
    frame = np.full((160, 96, 3), 128, np.uint8)
    detector.detect(frame, 1)
    assert cv2.getNumThreads() == previous
    with pytest.raises(VcmError, match="detector hog: option threads must be at least 1, got 0"):
        build_detector("hog", threads=0)
