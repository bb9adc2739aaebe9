"""The per-frame stages and their two drivers: hand-made frames, results worked out on paper."""

from types import SimpleNamespace

import numpy as np
import pytest

from vcm.detections import DetectionSequence, FrameDetections
from vcm.masking import ForegroundOptions
from vcm.pipeline import (
    BoxTaskStage,
    DetectStage,
    ForegroundStage,
    Frame,
    Pipeline,
    Stage,
    StageTimes,
    TrackStage,
    detection_frames,
    run_frames,
)
from vcm.pipeline import driver
from vcm.trackers import track_sequence
from vcm.trackers.iou import IouTracker


def frame(number, boxes=(), scores=None, width=8, height=6):
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.full(len(boxes), 0.9) if scores is None else scores
    image = np.full((height, width, 3), 100, dtype=np.uint8)
    return Frame(number, image, boxes, scores)


def walkers(frames: int) -> DetectionSequence:
    """Two people 40 x 100 px walking right at 2 and 3 px per frame, 200 px apart."""
    return DetectionSequence(640, 480, [
        FrameDetections(number, [[10 + 2 * number, 50, 50 + 2 * number, 150],
                                 [210 + 3 * number, 60, 250 + 3 * number, 160]], [0.9, 0.8])
        for number in range(1, frames + 1)
    ])


# -- tracking: the live driver, one frame at a time, equals the batch function ----------------

def test_a_track_stage_fed_frame_by_frame_equals_track_sequence():
    detections = walkers(6)
    batch = track_sequence(detections, IouTracker(), fps=30)
    live = Pipeline([TrackStage(IouTracker(), fps=30)])
    tracks = [done.records["track"] for one in detection_frames(detections)
              for done in live.push(one)]
    tracks += [done.records["track"] for done in live.finish()]
    # JDE outputs a track from its second matched frame: nothing in frame 1, then ids 1, 2.
    assert [t.ids.tolist() for t in tracks] == [[], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2]]
    assert [t.ids.tolist() for t in tracks] == [t.ids.tolist() for t in batch]
    assert all(np.array_equal(a.boxes, b.boxes) for a, b in zip(tracks, batch, strict=True))
    assert tracks[3].boxes.tolist() == [[18, 50, 58, 150], [222, 60, 262, 160]]


def test_two_streams_keep_their_own_tracks():
    # One tracker object, two stages: stream B's ids start at 1 even when its frames arrive
    # between stream A's.
    tracker = IouTracker()
    first, second = Pipeline([TrackStage(tracker, fps=30)]), Pipeline([TrackStage(tracker, fps=30)])
    a_frames = list(detection_frames(walkers(3)))
    b_frames = list(detection_frames(DetectionSequence(640, 480, [
        FrameDetections(number, [[400, 10, 440, 110]], [0.9]) for number in range(1, 4)])))
    a_ids, b_ids = [], []
    for a, b in zip(a_frames, b_frames):
        a_ids += [done.records["track"].ids.tolist() for done in first.push(a)]
        b_ids += [done.records["track"].ids.tolist() for done in second.push(b)]
    assert a_ids == [[], [1, 2], [1, 2]]
    assert b_ids == [[], [1], [1]]


# -- a task on the shared boxes sees exactly the clipped boxes --------------------------------

class Recording:
    """A backend that records the boxes and scores it is handed; its output is the box width."""

    def __init__(self):
        self.calls = []

    def __call__(self, images, boxes, scores):
        self.calls.append(([b.tolist() for b in boxes], [s.tolist() for s in scores]))
        return [[box[2] - box[0] for box in frame_boxes] for frame_boxes in boxes]


def test_a_box_task_gets_the_boxes_clipped_to_the_frame():
    backend = Recording()
    stage = BoxTaskStage(backend, min_score=0.5)
    # 8 x 6 frame: (-3, 1, 4, 9) is cut to (0, 1, 4, 6); (9, 0, 12, 3) lies outside (no
    # area left: not handed over, output None); the 0.2 box is under min_score.
    [done] = stage.process(frame(1, [[-3, 1, 4, 9], [9, 0, 12, 3], [1, 1, 2, 2]],
                                 np.array([0.9, 0.7, 0.2])))
    assert backend.calls == [([[[0.0, 1.0, 4.0, 6.0]]], [[0.9]])]
    outputs = done.records["boxes"]
    assert [(o.clipped_box.tolist(), o.output) for o in outputs] == [
        ([0.0, 1.0, 4.0, 6.0], 4.0), ([8.0, 0.0, 8.0, 3.0], None)]
    assert outputs[0].box.tolist() == [-3, 1, 4, 9]
    assert (stage.boxes, stage.missing, stage.found) == (2, 1, 1)
    # The frame's own boxes go on unchanged, for the stages after it.
    assert done.boxes.tolist() == [[-3, 1, 4, 9], [9, 0, 12, 3], [1, 1, 2, 2]]


def test_the_batch_driver_hands_a_batching_backend_its_batches_and_the_live_one_single_frames():
    frames = [frame(number, [[1, 1, 3, 3]]) for number in range(1, 6)]
    batched = Recording()
    list(run_frames(frames, [BoxTaskStage(batched, frames_per_batch=2)]))
    assert [len(boxes) for boxes, _ in batched.calls] == [2, 2, 1]
    single = Recording()
    live = Pipeline([BoxTaskStage(single, frames_per_batch=2)])
    for one in frames:
        live.push(one)
    assert [len(boxes) for boxes, _ in single.calls] == [1, 1, 1, 1, 1]


# -- detection -------------------------------------------------------------------------------

class FixedDetector:
    name = "fixed"

    def detect(self, frame_bgr, frame_number):
        return (np.array([[-2.0, 1.0, 5.0, 4.0], [1, 1, 2, np.nan], [0, 0, 3, 3], [2, 2, 4, 4]]),
                np.array([0.9, 0.9, 0.3, 0.7]))

    def describe(self):
        return {"name": self.name}


def test_a_detect_stage_sets_the_frames_boxes():
    stage = DetectStage(FixedDetector(), score=0.6)
    [done] = stage.process(frame(1))
    # The NaN row is dropped (counted), 0.3 is under the score, the first box is clipped at 0.
    assert done.boxes.tolist() == [[0, 1, 5, 4], [2, 2, 4, 4]]
    assert done.scores.tolist() == [0.9, 0.7]
    assert done.records["detect"].boxes.tolist() == done.boxes.tolist()
    assert stage.dropped == 1


# -- the foreground's hold window: frames come out when their window is complete -------------

def test_a_held_foreground_is_late_by_its_window_and_flushes_the_last_one():
    live = Pipeline([ForegroundStage(ForegroundOptions(hold=3))])
    boxes = {1: [[0, 0, 2, 2]], 2: [[4, 0, 6, 2]], 3: [], 4: [[6, 4, 8, 6]]}
    out = {number: live.push(frame(number, boxes[number])) for number in (1, 2, 3, 4)}
    assert [len(out[number]) for number in (1, 2, 3, 4)] == [0, 0, 3, 0]
    last = live.finish()
    assert [done.number for done in last] == [4]
    # Frames 1-3 keep the union of their boxes: columns 0-1 and 4-5 of rows 0-1 (8 pixels).
    for done in out[3]:
        kept = done.records["foreground"]
        assert kept.sum() == 8 and kept[0:2, 0:2].all() and kept[0:2, 4:6].all()
        assert (done.image[kept] == 100).all() and (done.image[~kept] == 0).all()
    assert last[0].records["foreground"].sum() == 4


# -- time is measured by the driver, per stage ------------------------------------------------

class Ticking(Stage):
    """Advances a fake clock by ``cost`` seconds per frame it processes."""

    def __init__(self, name, clock, cost, frames_per_batch=1):
        self.name, self.clock, self.cost = name, clock, cost
        self.frames_per_batch = frames_per_batch

    def process_batch(self, frames):
        self.clock.now += self.cost * len(frames)
        return list(frames)


def test_the_driver_adds_up_each_stages_seconds(monkeypatch):
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(driver, "time", SimpleNamespace(perf_counter=lambda: clock.now))
    times = StageTimes()
    stages = [Ticking("detect", clock, 2.0, frames_per_batch=2), Ticking("pose", clock, 0.5)]
    finished = list(run_frames([frame(n) for n in range(1, 6)], stages, times=times))
    assert [done.number for done in finished] == [1, 2, 3, 4, 5]
    # detect: 5 frames x 2 s in batches 2, 2, 1, plus its flush; pose: 5 x 0.5 s, one per frame.
    assert times.seconds == {"detect": 10.0, "pose": 2.5}
    assert times.calls == {"detect": 4, "pose": 6}
    assert times.frames == {"detect": 5, "pose": 5}
    assert times.per_frame() == {"detect": 2.0, "pose": 0.5}


def test_frames_check_their_boxes():
    with pytest.raises(ValueError, match="frame 3: 2 boxes but 1 scores"):
        Frame(3, None, [[0, 0, 1, 1], [1, 1, 2, 2]], [0.5])
