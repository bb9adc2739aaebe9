"""The Kalman filter and the ``iou`` tracker on small hand-made sequences."""

from __future__ import annotations

import numpy as np
import pytest

from vcm.detections import DetectionSequence, FrameDetections
from vcm.errors import VcmError
from vcm.trackers import TRACKERS, track_sequence
from vcm.boxes import pairwise_iou
from vcm.trackers.iou import IouTracker
from vcm.trackers.kalman import KalmanFilter, boxes_to_xyah, full_covariance, xyah_to_boxes


def sequence(boxes_by_frame: list[list[tuple]], score: float = 0.9) -> DetectionSequence:
    """Detections of frames 1..N from one list of ``x1, y1, x2, y2`` boxes per frame."""
    frames = [
        FrameDetections(number, np.array(boxes, dtype=np.float64).reshape(-1, 4),
                        np.full(len(boxes), score))
        for number, boxes in enumerate(boxes_by_frame, start=1)
    ]
    return DetectionSequence(640, 480, frames, source="test")


def walker(frame: int, *, x0: float, speed: float, y0: float = 50.0, height: float = 100.0,
           width: float = 40.0) -> tuple:
    """Box of a person at ``x0 + speed * (frame - 1)``, constant size."""
    x = x0 + speed * (frame - 1)
    return (x, y0, x + width, y0 + height)


def id_of(frame_tracks, box: tuple) -> int:
    """The id output with exactly ``box`` (the tracker outputs matched detection boxes)."""
    rows = np.flatnonzero(np.all(np.isclose(frame_tracks.boxes, box), axis=1))
    assert len(rows) == 1, f"frame {frame_tracks.frame}: {box} not output once"
    return int(frame_tracks.ids[rows[0]])


# Kalman filter


def deepsort_reference(kalman: KalmanFilter, mean: np.ndarray, covariance: np.ndarray,
                       measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One predict and update step of DeepSORT's filter, written with full 8 x 8 matrices."""
    motion = np.eye(8)
    motion[:4, 4:] = np.eye(4)
    observe = np.eye(4, 8)
    height = mean[3]
    position, velocity = kalman.std_weight_position * height, kalman.std_weight_velocity * height
    process = np.diag(np.square([position, position, 1e-2, position,
                                 velocity, velocity, 1e-5, velocity]))
    mean = motion @ mean
    covariance = motion @ covariance @ motion.T + process
    height = mean[3]
    position = kalman.std_weight_position * height
    noise = np.diag(np.square([position, position, 1e-1, position]))
    innovation_covariance = observe @ covariance @ observe.T + noise
    gain = covariance @ observe.T @ np.linalg.inv(innovation_covariance)
    mean = mean + gain @ (measurement - observe @ mean)
    covariance = covariance - gain @ innovation_covariance @ gain.T
    return mean, covariance


def test_kalman_matches_full_matrix_filter() -> None:
    kalman = KalmanFilter()
    rng = np.random.default_rng(1)
    means, covariances = kalman.initiate(np.array([[100.0, 80.0, 0.4, 120.0]]))
    reference_mean, reference_covariance = means[0], full_covariance(covariances)[0]
    for _ in range(6):
        measurement = reference_mean[:4] + rng.normal(0, [3, 3, 0.02, 3])
        reference_mean, reference_covariance = deepsort_reference(
            kalman, reference_mean, reference_covariance, measurement
        )
        means, covariances = kalman.predict(means, covariances)
        means, covariances = kalman.update(means, covariances, measurement[None])
        np.testing.assert_allclose(means[0], reference_mean, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(full_covariance(covariances)[0], reference_covariance,
                                   rtol=1e-9, atol=1e-12)


def test_kalman_converges_on_constant_velocity_box() -> None:
    # A 40 x 100 box whose center moves (+3, -2) pixels per frame from (100, 300).
    kalman = KalmanFilter()

    def center(frame: int) -> np.ndarray:
        return np.array([100.0 + 3 * frame, 300.0 - 2 * frame])

    def box(frame: int) -> np.ndarray:
        cx, cy = center(frame)
        return np.array([[cx - 20, cy - 50, cx + 20, cy + 50]])

    means, covariances = kalman.initiate(boxes_to_xyah(box(0)))
    errors = []
    for frame in range(1, 11):
        means, covariances = kalman.predict(means, covariances)
        errors.append(np.linalg.norm(means[0, :2] - center(frame)))
        means, covariances = kalman.update(means, covariances, boxes_to_xyah(box(frame)))
    # The first prediction assumes zero velocity (error |(3, -2)| = 3.6 px); the error then
    # shrinks every frame (3.3, 2.5, 1.7, 1.2 px) and is below a pixel from the 6th frame on.
    assert errors[0] == pytest.approx(np.hypot(3, 2))
    assert all(later < earlier for earlier, later in zip(errors, errors[1:]))
    assert max(errors[5:]) < 1.0
    # The velocity noise is small (1/160 of the height), so the velocity itself is still
    # catching up after 10 frames: (2.82, -1.88) of (3, -2).
    np.testing.assert_allclose(means[0, 4:6], [3, -2], rtol=0.07)


def test_kalman_does_not_modify_its_arguments() -> None:
    kalman = KalmanFilter()
    means, covariances = kalman.initiate(np.array([[10.0, 10.0, 0.5, 20.0]]))
    means[0, 4] = 1.0
    kept_means, kept_covariances = means.copy(), covariances.copy()
    kalman.predict(means, covariances)
    kalman.update(means, covariances, np.array([[11.0, 10.0, 0.5, 20.0]]))
    kalman.gating_distance(means, covariances, np.array([[11.0, 10.0, 0.5, 20.0]]))
    np.testing.assert_array_equal(means, kept_means)
    np.testing.assert_array_equal(covariances, kept_covariances)


def test_gating_distance_is_zero_at_the_mean_and_grows_with_offset() -> None:
    kalman = KalmanFilter()
    means, covariances = kalman.initiate(np.array([[50.0, 50.0, 0.5, 100.0]]))
    distances = kalman.gating_distance(
        means, covariances, np.array([[50.0, 50.0, 0.5, 100.0], [60.0, 50.0, 0.5, 100.0]])
    )
    # Offset 10 px in x; variance (2 * 100 / 20)^2 + (100 / 20)^2 = 125: 100 / 125.
    np.testing.assert_allclose(distances, [[0.0, 100 / 125]])


def test_box_conversions_round_trip() -> None:
    boxes = np.array([[10.0, 20.0, 50.0, 120.0], [0.0, 0.0, 1.0, 2.0]])
    np.testing.assert_allclose(boxes_to_xyah(boxes), [[30, 70, 0.4, 100], [0.5, 1, 0.5, 2]])
    np.testing.assert_allclose(xyah_to_boxes(boxes_to_xyah(boxes)), boxes)


def test_pairwise_iou() -> None:
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[5.0, 0.0, 15.0, 10.0], [10.0, 0.0, 20.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
    # Half overlap: 50 / 150; touching edges (exclusive): 0; identical: 1.
    np.testing.assert_allclose(pairwise_iou(a, b), [[1 / 3, 0.0, 1.0]])
    assert pairwise_iou(a, np.zeros((0, 4))).shape == (1, 0)


# The iou tracker


def test_registry_builds_the_iou_tracker() -> None:
    assert "iou" in TRACKERS.names()
    tracker = TRACKERS.build("iou", track_buffer=10)
    assert isinstance(tracker, IouTracker) and tracker.track_buffer == 10
    assert IouTracker.from_config({"gating": True}).gating
    with pytest.raises(VcmError, match="unknown iou tracker parameter 'buffer'"):
        IouTracker.from_config({"buffer": 3})


def test_ids_stay_stable_through_a_crossing() -> None:
    # A walks right and B walks left, 4 px per frame each; B is further away (80 px tall,
    # feet on the same line). They meet at frame 26 and their boxes overlap in frames 22-30
    # (x distance below the 40 px width), where B's box lies inside A's (IoU up to 0.8).
    # Detection order alternates, so the ids cannot come from the order alone.
    frames = []
    for frame in range(1, 51):
        a = walker(frame, x0=100, speed=4)
        b = walker(frame, x0=300, speed=-4, y0=70, height=80)
        frames.append([a, b] if frame % 2 else [b, a])
    tracks = track_sequence(sequence(frames), IouTracker(), fps=30)
    assert len(tracks.frames[0]) == 0  # JDE confirms a track in its second frame
    overlapping = 0
    for frame in range(2, 51):
        a = walker(frame, x0=100, speed=4)
        b = walker(frame, x0=300, speed=-4, y0=70, height=80)
        overlapping += pairwise_iou(np.array([a]), np.array([b]))[0, 0] > 0
        assert id_of(tracks.frames[frame - 1], a) == 1
        assert id_of(tracks.frames[frame - 1], b) == 2
    assert overlapping == 9
    assert tracks.track_ids.tolist() == [1, 2]


def test_id_survives_a_three_frame_occlusion() -> None:
    # One person walks right at 6 px per frame; no detection in frames 11-13; at frame 14 the
    # detection reappears where constant velocity puts it, 24 px from the last seen box: its
    # IoU with that box is only 16 * 100 / (2 * 4000 - 1600) = 0.25, below the first
    # association's 0.3, so the match needs the lost track's Kalman prediction.
    frames = [[] if 11 <= frame <= 13 else [walker(frame, x0=20, speed=6)]
              for frame in range(1, 21)]
    tracks = track_sequence(sequence(frames), IouTracker(), fps=30)
    for frame in range(2, 21):
        expected = [] if 11 <= frame <= 13 else [1]
        assert tracks.frames[frame - 1].ids.tolist() == expected, frame


def test_new_track_is_output_from_its_second_frame() -> None:
    frames = [[walker(frame, x0=20, speed=2)]
              + ([walker(frame, x0=300, speed=-2)] if frame >= 5 else [])
              for frame in range(1, 9)]
    tracks = track_sequence(sequence(frames), IouTracker(), fps=30)
    assert [frame.ids.tolist() for frame in tracks] == [
        [], [1], [1], [1], [1], [1, 2], [1, 2], [1, 2]
    ]
    first_frame = track_sequence(sequence(frames), IouTracker(activate_first_frame=True), fps=30)
    assert first_frame.frames[0].ids.tolist() == [1]
    # Only frame 1's tracks are confirmed at once; track 2 still waits one frame.
    assert first_frame.frames[4].ids.tolist() == [1]


def test_single_frame_detection_never_becomes_a_track() -> None:
    frames = [[walker(frame, x0=20, speed=2)] for frame in range(1, 7)]
    frames[3].append((400.0, 300.0, 440.0, 400.0))
    tracks = track_sequence(sequence(frames), IouTracker(), fps=30)
    assert tracks.track_ids.tolist() == [1]
    # The id of the unconfirmed track is spent: the next new track gets 3.
    frames.append([walker(7, x0=20, speed=2), (200.0, 300.0, 240.0, 400.0)])
    frames.append([walker(8, x0=20, speed=2), (200.0, 300.0, 240.0, 400.0)])
    tracks = track_sequence(sequence(frames), IouTracker(), fps=30)
    assert tracks.frames[7].ids.tolist() == [1, 3]


@pytest.mark.parametrize("missing, same_id", [(3, True), (4, False)])
def test_buffer_decides_whether_a_lost_track_keeps_its_id(missing: int, same_id: bool) -> None:
    # At 3 fps the 30-frame buffer at 30 fps becomes int(3 * 30 / 30) = 3 frames. A person
    # standing still is missed for `missing` frames from frame 6 on, then seen again.
    standing = (100.0, 100.0, 140.0, 200.0)
    back = 6 + missing
    frames = [[] if 6 <= frame < back else [standing] for frame in range(1, back + 3)]
    tracker = IouTracker()
    assert tracker.init_state(3.0).max_time_lost == 3
    tracks = track_sequence(sequence(frames), tracker, fps=3.0)
    if same_id:
        assert tracks.frames[back - 1].ids.tolist() == [1]
    else:
        # The first track was removed: a new, unconfirmed track shows from the next frame.
        assert tracks.frames[back - 1].ids.tolist() == []
        assert tracks.frames[back].ids.tolist() == [2]


def test_same_input_gives_same_output_and_ids_restart_per_sequence() -> None:
    rng = np.random.default_rng(7)
    frames = []
    for frame in range(1, 31):
        people = [walker(frame, x0=x0, speed=speed) for x0, speed in ((20, 3), (200, -2), (400, 1))]
        jitter = rng.normal(0, 1.0, size=(len(people), 4))
        frames.append([tuple(np.array(box) + offset) for box, offset in zip(people, jitter)])
    detections = sequence(frames)
    tracker = IouTracker()
    first = track_sequence(detections, tracker, fps=25)
    second = track_sequence(detections, tracker, fps=25)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_array_equal(a.boxes, b.boxes)
        np.testing.assert_array_equal(a.scores, b.scores)
    assert first.track_ids.tolist() == [1, 2, 3]


def test_update_is_pure() -> None:
    tracker = IouTracker()
    state = tracker.init_state(30)
    state, _ = tracker.update(state, FrameDetections(1, [[0, 0, 10, 20]], [0.9]))
    kept = state.tracks.means.copy()
    after, tracks = tracker.update(state, FrameDetections(2, [[1, 0, 11, 20]], [0.9]))
    np.testing.assert_array_equal(state.tracks.means, kept)
    assert state.frame == 1 and after.frame == 2
    # Replaying the same state and detections gives the same result.
    again, tracks_again = tracker.update(state, FrameDetections(2, [[1, 0, 11, 20]], [0.9]))
    np.testing.assert_array_equal(again.tracks.means, after.tracks.means)
    assert tracks.ids.tolist() == tracks_again.ids.tolist() == [1]


def test_output_boxes_and_scores_are_the_matched_detections() -> None:
    frames = [[walker(frame, x0=20, speed=5)] for frame in range(1, 5)]
    detections = sequence(frames, score=0.75)
    tracks = track_sequence(detections, IouTracker(), fps=30)
    np.testing.assert_array_equal(tracks.frames[3].boxes, [walker(4, x0=20, speed=5)])
    np.testing.assert_array_equal(tracks.frames[3].scores, [0.75])
    filtered = track_sequence(detections, IouTracker(output_kalman_boxes=True), fps=30)
    assert not np.array_equal(filtered.frames[3].boxes, tracks.frames[3].boxes)
    np.testing.assert_allclose(filtered.frames[3].boxes, tracks.frames[3].boxes, atol=5)


def test_score_thresholds() -> None:
    frames = [[walker(frame, x0=20, speed=2)] for frame in range(1, 5)]
    low = sequence(frames, score=0.5)
    assert track_sequence(low, IouTracker(new_track_score=0.6), fps=30).count == 0
    assert track_sequence(low, IouTracker(min_score=0.6), fps=30).count == 0
    assert track_sequence(low, IouTracker(), fps=30).count == 3


def test_gating_keeps_a_steady_walker() -> None:
    frames = [[walker(frame, x0=20, speed=3)] for frame in range(1, 21)]
    tracks = track_sequence(sequence(frames), IouTracker(gating=True), fps=30)
    assert [frame.ids.tolist() for frame in tracks][1:] == [[1]] * 19


def test_empty_frames_and_frame_order() -> None:
    tracker = IouTracker()
    tracks = track_sequence(sequence([[], [], []]), tracker, fps=30)
    assert [len(frame) for frame in tracks] == [0, 0, 0]
    with pytest.raises(ValueError, match="expected the detections of frame 1, got frame 2"):
        tracker.update(tracker.init_state(30), FrameDetections(2))
    with pytest.raises(ValueError, match="fps must be positive"):
        tracker.init_state(0)
    with pytest.raises(ValueError, match="first_match_cost"):
        IouTracker(first_match_cost=1.5)


# BYTE association (ByteTrack's pass over low-score boxes)


def scored(boxes_by_frame: list[list[tuple]]) -> DetectionSequence:
    """Detections of frames 1..N from ``(x1, y1, x2, y2, score)`` rows per frame."""
    frames = [
        FrameDetections(number, np.array(rows, dtype=np.float64).reshape(-1, 5)[:, :4],
                        np.array(rows, dtype=np.float64).reshape(-1, 5)[:, 4])
        for number, rows in enumerate(boxes_by_frame, start=1)
    ]
    return DetectionSequence(640, 480, frames, source="test")


def occluded_walker(low_score: float) -> DetectionSequence:
    """A walker at 2 px per frame, scoring 0.9 except in frames 4-5 (``low_score``, as when
    partly hidden)."""
    return scored([[(*walker(frame, x0=20, speed=2),
                     low_score if frame in (4, 5) else 0.9)] for frame in range(1, 9)])


def test_byte_keeps_a_track_through_low_score_boxes() -> None:
    # Without BYTE (the zip cut at 0.6 by the tracker's min_score) frames 4-5 have no box:
    # the track is lost there and re-found at frame 6. With BYTE at 0.6 the 0.3 boxes are
    # matched in the low-score pass and output with their own score.
    plain = track_sequence(occluded_walker(0.3), IouTracker(min_score=0.6), fps=30)
    assert [frame.ids.tolist() for frame in plain] == [[], [1], [1], [], [], [1], [1], [1]]
    byte = track_sequence(occluded_walker(0.3), IouTracker(byte_track_score=0.6), fps=30)
    assert [frame.ids.tolist() for frame in byte] == [[], [1], [1], [1], [1], [1], [1], [1]]
    np.testing.assert_array_equal(byte.frames[4].boxes, [walker(5, x0=20, speed=2)])
    assert byte.frames[4].scores.tolist() == [0.3]


def test_byte_ignores_boxes_below_its_low_score() -> None:
    # 0.05 is below byte_low_score 0.1: frames 4-5 are empty for the tracker.
    byte = track_sequence(occluded_walker(0.05), IouTracker(byte_track_score=0.6), fps=30)
    assert [frame.ids.tolist() for frame in byte] == [[], [1], [1], [], [], [1], [1], [1]]


def test_byte_low_score_boxes_neither_start_nor_confirm_tracks() -> None:
    # A person seen only at 0.4 never becomes a track; one born at 0.9 in frame 1 and seen at
    # 0.4 in frame 2 is not confirmed (only confirmed tracks take part in the BYTE pass) and
    # is removed; without BYTE both would be tracks.
    low_person = [(*walker(frame, x0=300, speed=-2), 0.4) for frame in range(1, 6)]
    late = [(*walker(frame, x0=20, speed=2), 0.9 if frame == 1 else 0.4) for frame in range(1, 6)]
    detections = scored([[low, later] for low, later in zip(low_person, late)])
    assert track_sequence(detections, IouTracker(byte_track_score=0.6), fps=30).count == 0
    assert track_sequence(detections, IouTracker(), fps=30).track_ids.tolist() == [1, 2]


def test_byte_starts_tracks_only_above_track_score_plus_a_tenth() -> None:
    # ByteTrack's det_thresh: 0.65 is a high-score box (>= 0.6) but below 0.6 + 0.1.
    frames = [[walker(frame, x0=20, speed=2)] for frame in range(1, 5)]
    for score, count in ((0.65, 0), (0.75, 3)):
        tracks = track_sequence(sequence(frames, score=score),
                                IouTracker(byte_track_score=0.6), fps=30)
        assert tracks.count == count, score


@pytest.mark.parametrize("track_score, low_score", [(0.1, 0.1), (0.05, 0.1), (1.5, 0.1)])
def test_byte_scores_must_be_ordered(track_score: float, low_score: float) -> None:
    with pytest.raises(ValueError, match="BYTE needs 0 <= byte_low_score < byte_track_score"):
        IouTracker(byte_track_score=track_score, byte_low_score=low_score)
