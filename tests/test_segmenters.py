"""Segmenters: the registry, the box baseline, MediaPipe on real COCO people, the video loop."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vcm.detections import DetectionSequence, FrameDetections
from vcm.errors import VcmError
from vcm.masks import box_pixel_mask, decode_mask, mask_area
from vcm.metrics.segmentation import mask_iou
from vcm.segmenters import SEGMENTERS, SegmentByFrame, build_segmenter, segment_video
from vcm.segmenters.mediapipe_backend import MediaPipeSegmenter
from vcm.video import open_video

from clips import MiscountedSource


@pytest.fixture(scope="module")
def mediapipe_segmenter():
    with MediaPipeSegmenter() as segmenter:
        yield segmenter


@pytest.fixture
def coco_people(mirror):
    """(BGR image, [(box x1 y1 x2 y2, RLE mask)]) of each mirror COCO image, by image id."""
    folder = mirror / "datasets" / "coco-keypoints-mini"
    dataset = json.loads((folder / "test_coco.json").read_text())
    people = {}
    for image in dataset["images"]:
        frame = cv2.imread(str(folder / image["file_name"]))
        entries = []
        for annotation in dataset["annotations"]:
            if annotation["image_id"] == image["id"]:
                x, y, width, height = annotation["bbox"]
                rle = mask_utils.merge(mask_utils.frPyObjects(
                    annotation["segmentation"], image["height"], image["width"]))
                entries.append((np.array([x, y, x + width, y + height]), rle))
        people[image["id"]] = (frame, entries)
    return people


def test_registry_names_and_unknown_name():
    assert {"box", "mediapipe"} <= set(SEGMENTERS.names())
    with pytest.raises(VcmError, match="unknown segmenter 'nope'"):
        build_segmenter("nope")


def test_box_segmenter_takes_the_pixels_whose_centres_are_inside():
    frame = np.zeros((5, 6, 3), np.uint8)
    # Columns c with 1.2 <= c + 0.5 < 4.6: 1..4; rows r with 0.4 <= r + 0.5 < 3.0: 0..2.
    [mask, nothing] = build_segmenter("box").segment(
        frame, np.array([[1.2, 0.4, 4.6, 3.0], [2.0, 2.0, 2.4, 2.4]]), np.ones(2))
    expected = np.zeros((5, 6), dtype=bool)
    expected[0:3, 1:5] = True
    assert (decode_mask(mask) == expected).all() and mask_area(mask) == 12
    assert nothing is None  # a box that holds no pixel centre


def test_box_mask_of_a_window():
    # Window with top-left pixel at frame (10, 20); box 11.5..13.5 wide holds centres 11.5, 12.5.
    inside = box_pixel_mask(np.array([11.5, 20.0, 13.5, 21.0]), (2, 5), (10.0, 20.0))
    assert inside.tolist() == [[False, True, True, False, False], [False] * 5]


def test_mediapipe_masks_match_coco_people(mediapipe_segmenter, coco_people):
    """Each big COCO person (area > 10 000 pixels) gets a mask with IoU > 0.7 against its
    polygon mask; the box alone reaches at most 0.6 on the same people."""
    checked = 0
    for frame, entries in coco_people.values():
        boxes = np.array([box for box, _ in entries])
        masks = mediapipe_segmenter.segment(frame, boxes, np.ones(len(boxes)))
        box_masks = build_segmenter("box").segment(frame, boxes, np.ones(len(boxes)))
        for (box, truth), mask, box_mask in zip(entries, masks, box_masks):
            if mask_utils.area(truth) < 10_000:
                continue
            truth_text = {"size": list(truth["size"]), "counts": truth["counts"].decode()}
            assert mask is not None
            assert mask_iou(mask, truth_text) > 0.7
            assert mask_iou(box_mask, truth_text) < 0.6
            assert mask["size"] == list(frame.shape[:2])
            checked += 1
    assert checked == 7


def test_mediapipe_keeps_the_mask_in_its_box_and_finds_nobody_in_black(mediapipe_segmenter,
                                                                       coco_people):
    frame, [(box, _)] = coco_people[785]
    [mask] = mediapipe_segmenter.segment(frame, box[None], np.ones(1))
    x, y, width, height = mask_utils.toBbox({"size": mask["size"],
                                             "counts": mask["counts"].encode()})
    assert x >= np.floor(box[0]) and y >= np.floor(box[1])
    assert x + width <= np.ceil(box[2]) and y + height <= np.ceil(box[3])
    black = np.zeros((240, 320, 3), np.uint8)
    assert mediapipe_segmenter.segment(black, np.array([[100, 40, 180, 200]]), np.ones(1)) == [None]
    assert mediapipe_segmenter.segment(black, np.zeros((0, 4)), np.zeros(0)) == []


def test_mediapipe_pose_model_segments_a_coco_person(coco_people):
    frame, [(box, truth)] = coco_people[785]
    with MediaPipeSegmenter(model="pose") as segmenter:
        [mask] = segmenter.segment(frame, box[None], np.ones(1))
        assert segmenter.describe()["files"].keys() == {"pose_detection.tflite",
                                                        "pose_landmark_full.tflite"}
    assert mask_iou(mask, {"size": list(truth["size"]), "counts": truth["counts"].decode()}) > 0.8


def test_mediapipe_describes_itself(mediapipe_segmenter):
    description = mediapipe_segmenter.describe()
    assert description["threshold"] == 0.7 and description["restrict"] == "box"
    assert set(description["files"]) == {"selfie_segmentation.tflite"}


@pytest.mark.parametrize("options, message", [
    ({"model": "sam"}, "model must be one of selfie, pose"),
    ({"threshold": 1.0}, "threshold must be in"),
    ({"padding": 0}, "padding must be in"),
    ({"restrict": "frame"}, "restrict must be one of window, box"),
])
def test_mediapipe_rejects_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        MediaPipeSegmenter(**options)


# ---------------------------------------------------------------- the video loop


class ScriptedSegmenter(SegmentByFrame):
    """Returns the box segmenter's mask, but nothing for boxes wider than tall; records boxes."""

    name = "scripted"

    def __init__(self):
        self.boxes_seen = []

    def segment(self, frame_bgr, boxes, scores):
        self.boxes_seen.extend(np.asarray(boxes).tolist())
        masks = build_segmenter("box").segment(frame_bgr, boxes, scores)
        return [None if box[2] - box[0] > box[3] - box[1] else mask
                for box, mask in zip(boxes, masks)]

    def describe(self):
        return {"name": self.name}


def clip_detections(frames=5, width=65, height=49):
    detections = [FrameDetections(number) for number in range(1, frames + 1)]
    # Frame 2: a box reaching past the right edge (clipped to x2 = 65), a wide one (no mask)
    # and one entirely outside the frame (never handed to the segmenter).
    detections[1] = FrameDetections(2, [[50, 10, 70, 40], [0, 0, 30, 10], [70, 0, 80, 10]],
                                    [0.8, 0.9, 0.7])
    if frames >= 5:
        detections[4] = FrameDetections(5, [[30, 5, 40, 45]], [0.6])
    return DetectionSequence(width, height, detections, source="detections.zip")


def test_segment_video_numbers_frames_and_clips_boxes(small_clip):
    path, _ = small_clip
    segmenter = ScriptedSegmenter()
    masks = segment_video(open_video(path), clip_detections(), segmenter, progress=False)
    assert segmenter.boxes_seen == [[50, 10, 65, 40], [0, 0, 30, 10], [30, 5, 40, 45]]
    assert [(m.image_id, m.score, m.area) for m in masks] == [(2, 0.8, 15 * 30), (5, 0.6, 400)]
    assert masks[0].box.tolist() == [50, 10, 65, 40] and masks[0].size == (49, 65)


@pytest.mark.parametrize("decoded, message", [
    (6, "clip.mkv: has more than the 5 frames of run/dets.zip"),
    (4, "clip.mkv: decoded 4 frames but run/dets.zip has 5"),
])
def test_segment_video_names_a_video_that_decodes_another_frame_count(decoded, message):
    with pytest.raises(VcmError, match=message):
        segment_video(MiscountedSource(Path("clip.mkv"), decoded), clip_detections(),
                      ScriptedSegmenter(), progress=False, detections_label="run/dets.zip")


def test_segment_video_rejects_detections_of_another_video(small_clip):
    path, _ = small_clip
    with pytest.raises(VcmError, match=r"^run/dets\.zip: detections cover 4 frames but"):
        segment_video(open_video(path), clip_detections(frames=4), ScriptedSegmenter(),
                      progress=False, detections_label="run/dets.zip")
