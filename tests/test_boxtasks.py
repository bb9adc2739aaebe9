"""The video loop of the tasks on the shared boxes: clipping, boxes outside, counts."""

import numpy as np
import pytest

from vcm.boxtasks import outputs_per_box
from vcm.detections import DetectionSequence, FrameDetections
from vcm.video import open_video


def test_boxes_are_clipped_and_a_box_outside_is_never_handed_over(small_clip):
    path, _ = small_clip
    detections = [FrameDetections(number) for number in range(1, 6)]
    detections[2] = FrameDetections(3, [[-5, 10, 20, 60], [70, 0, 90, 10]], [0.9, 0.8])
    seen = []

    def widths(frames, boxes, scores):
        seen.append([frame_boxes.tolist() for frame_boxes in boxes])
        return [[box[2] - box[0] for box in frame_boxes] for frame_boxes in boxes]

    results = list(outputs_per_box(open_video(path), DetectionSequence(65, 49, detections),
                                   widths, frames_per_batch=2, progress=False))
    # Frames 1-2, 3-4, 5: the 65x49 frame cuts the first box to x 0..20, y 10..49.
    assert seen == [[[], []], [[[0, 10, 20, 49]], []], [[]]]
    assert [(r.frame, r.score, r.output) for r in results] == [(3, 0.9, 20.0), (3, 0.8, None)]
    assert results[0].box.tolist() == [-5, 10, 20, 60]
    assert results[0].clipped_box.tolist() == [0, 10, 20, 49]


def test_a_backend_that_loses_a_box_is_a_bug(small_clip):
    path, _ = small_clip
    detections = [FrameDetections(number) for number in range(1, 6)]
    detections[0] = FrameDetections(1, [[0, 0, 10, 10]], [0.5])
    with pytest.raises(RuntimeError, match="0 outputs for 1 boxes in frame 1"):
        list(outputs_per_box(open_video(path), DetectionSequence(65, 49, detections),
                             lambda frames, boxes, scores: [[] for _ in frames], progress=False))
