"""Temporal resampling (issue 23): which frames are coded, their frame rate and timestamps,
and poses and masks carried along the tracks to the frames between (values worked by hand)."""

import re
import subprocess

import numpy as np
import pytest

from clips import moving_square_frames
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats.voc_zip import write_detections_zip
from vcm.errors import VcmError
from vcm.ffmpeg import ffmpeg_executable
from vcm.foreground import write_foreground_video
from vcm.keypoints import PersonPose
from vcm.masks import PersonMask, decode_mask, encode_mask
from vcm.temporal import (carry_masks, carry_poses, coded_detections, coded_frame_numbers,
                          move_keypoints, move_mask)
from vcm.tracks import FrameTracks, TrackSequence
from vcm.video import open_video, write_lossless_video


def test_coded_frames_are_one_and_every_kth_after():
    assert coded_frame_numbers(10, 1) == list(range(1, 11))
    assert coded_frame_numbers(10, 4) == [1, 5, 9]
    assert coded_frame_numbers(8, 4) == [1, 5]
    assert coded_frame_numbers(1, 8) == [1]
    with pytest.raises(VcmError, match="keep_every must be a whole number"):
        coded_frame_numbers(10, 0)


def test_coded_detections_are_renumbered_with_their_boxes():
    frames = [FrameDetections(n, np.array([[n, 0.0, n + 10.0, 10.0]]), np.array([0.5]))
              for n in range(1, 8)]
    coded = coded_detections(DetectionSequence(64, 48, frames, fps=12.0), 3)
    assert [frame.frame for frame in coded.frames] == [1, 2, 3]
    assert [frame.boxes[0, 0] for frame in coded.frames] == [1.0, 4.0, 7.0]
    assert coded.fps == 4.0
    assert (coded.width, coded.height) == (64, 48)


def test_keypoints_move_and_scale_with_their_box():
    # Box (10, 20)-(50, 100) becomes (30, 10)-(110, 170): twice the size, moved.
    keypoints = np.array([[20.0, 40.0, 0.9], [50.0, 100.0, 0.3], [10.0, 20.0, 1.0]])
    moved = move_keypoints(keypoints, np.array([10.0, 20, 50, 100]), np.array([30.0, 10, 110, 170]))
    np.testing.assert_allclose(moved, [[50, 50, 0.9], [110, 170, 0.3], [30, 10, 1.0]])


def _linear_track(frames):
    """Track 3 whose box moves (5, 2) px and grows (4, 8) px per frame from (10, 20, 40x80)."""
    boxes = {}
    for n in range(1, frames + 1):
        x1, y1, w, h = 10 + 5 * (n - 1), 20 + 2 * (n - 1), 40 + 4 * (n - 1), 80 + 8 * (n - 1)
        boxes[n] = np.array([x1, y1, x1 + w, y1 + h], dtype=float)
    tracks = TrackSequence([FrameTracks(n, [3], [boxes[n]], [0.9]) for n in boxes])
    return boxes, tracks


def _pose_at(frame, box, relative, score=0.8, confidence=0.7):
    x1, y1, x2, y2 = box
    points = [[x1 + u * (x2 - x1), y1 + v * (y2 - y1), confidence] for u, v in relative]
    return PersonPose(frame, np.array(points), score=score, box=box)


@pytest.mark.parametrize("how", ["box", "interpolate"])
def test_a_box_that_moves_and_scales_carries_its_keypoints_exactly(how):
    boxes, tracks = _linear_track(9)
    relative = [(0.25, 0.5), (1.0, 0.0)]
    coded = [_pose_at(n, boxes[n], relative) for n in (1, 5, 9)]
    carried = carry_poses(coded, tracks, 4, how)
    assert [pose.image_id for pose in carried] == list(range(1, 10))
    # Frame 3: box (20, 24) 48x96, so (0.25, 0.5) is (32, 72) and (1, 0) is (68, 24).
    np.testing.assert_allclose(carried[2].keypoints, [[32, 72, 0.7], [68, 24, 0.7]])
    np.testing.assert_allclose(carried[2].box, [20, 24, 68, 120])
    for pose in carried:
        np.testing.assert_allclose(pose.keypoints, _pose_at(0, boxes[pose.image_id], relative).keypoints)
    assert {pose.track_id for pose in carried if pose.image_id not in (1, 5, 9)} == {3}
    assert all(pose.score == 0.8 for pose in carried)


def _still_track(frames):
    box = np.array([0.0, 0.0, 10.0, 10.0])
    return box, TrackSequence([FrameTracks(n, [1], [box], [1.0]) for n in range(1, frames + 1)])


def test_box_carrying_takes_the_nearest_coded_frame_the_earlier_on_a_tie():
    box, tracks = _still_track(5)
    # The person's keypoint goes from the box's top-left corner (frame 1) to its bottom-right
    # (frame 5) while the box stays.
    coded = [_pose_at(1, box, [(0, 0)], score=0.4), _pose_at(5, box, [(1, 1)], score=0.8)]
    carried = {pose.image_id: pose for pose in carry_poses(coded, tracks, 4, "box")}
    assert [tuple(carried[n].keypoints[0, :2]) for n in range(1, 6)] == [
        (0, 0), (0, 0), (0, 0), (10, 10), (10, 10)]
    assert [carried[n].score for n in range(1, 6)] == [0.4, 0.4, 0.4, 0.8, 0.8]


def test_interpolation_is_linear_in_time_between_the_coded_frames():
    box, tracks = _still_track(5)
    coded = [_pose_at(1, box, [(0, 0)], score=0.4, confidence=0.2),
             _pose_at(5, box, [(1, 1)], score=0.8, confidence=0.6)]
    carried = {pose.image_id: pose for pose in carry_poses(coded, tracks, 4, "interpolate")}
    # Frame 2 is a quarter of the way: (2.5, 2.5), confidence 0.3, score 0.5.
    np.testing.assert_allclose(carried[2].keypoints, [[2.5, 2.5, 0.3]])
    np.testing.assert_allclose(carried[3].keypoints, [[5.0, 5.0, 0.4]])
    np.testing.assert_allclose(carried[4].keypoints, [[7.5, 7.5, 0.5]])
    assert carried[2].score == pytest.approx(0.5)


def test_a_track_seen_at_one_coded_frame_only_is_carried_from_it():
    # Track 1 ends at frame 3: frames 2 and 3 take frame 1's pose (no frame 5 pose exists).
    box = np.array([0.0, 0.0, 10.0, 10.0])
    tracks = TrackSequence([FrameTracks(n, [1] if n <= 3 else [], [box] if n <= 3 else
                                        np.zeros((0, 4)), [1.0] if n <= 3 else []) for n in range(1, 6)])
    coded = [_pose_at(1, box, [(0.5, 0.5)])]
    carried = carry_poses(coded, tracks, 4, "interpolate")
    assert [pose.image_id for pose in carried] == [1, 2, 3]
    np.testing.assert_allclose(carried[2].keypoints, [[5, 5, 0.7]])


def test_poses_without_a_track_stay_on_their_coded_frame():
    box, tracks = _still_track(5)
    elsewhere = np.array([40.0, 40.0, 50.0, 50.0])  # IoU 0 with the track's box
    coded = [_pose_at(1, elsewhere, [(0, 0)])]
    carried = carry_poses(coded, tracks, 4, "box")
    assert [pose.image_id for pose in carried] == [1]
    with pytest.raises(VcmError, match="carry must be one of box, interpolate"):
        carry_poses(coded, tracks, 4, "nearest")


def test_a_mask_moves_and_scales_with_its_box():
    binary = np.zeros((12, 12), dtype=bool)
    binary[2:4, 2:4] = True  # fills its box (2, 2)-(4, 4)
    moved = move_mask(binary, np.array([2.0, 2, 4, 4]), np.array([5.0, 1, 9, 5]))
    expected = np.zeros((12, 12), dtype=bool)
    expected[1:5, 5:9] = True
    np.testing.assert_array_equal(moved, expected)


def test_masks_are_carried_along_the_track():
    boxes = {1: np.array([2.0, 2, 4, 4]), 2: np.array([5.0, 1, 9, 5]), 3: np.array([6.0, 6, 8, 8])}
    tracks = TrackSequence([FrameTracks(n, [7], [boxes[n]], [1.0]) for n in (1, 2, 3)])
    binary = np.zeros((12, 12), dtype=bool)
    binary[2:4, 2:3] = True  # left half of its box
    coded = [PersonMask(1, encode_mask(binary), 0.9, boxes[1]),
             PersonMask(3, encode_mask(np.roll(binary, 4, axis=(0, 1))), 0.6, boxes[3])]
    carried = carry_masks(coded, tracks, 2)
    assert [mask.image_id for mask in carried] == [1, 2, 3]
    expected = np.zeros((12, 12), dtype=bool)
    expected[1:5, 5:7] = True  # left half of (5, 1)-(9, 5), from frame 1 (the tie's earlier)
    np.testing.assert_array_equal(decode_mask(carried[1].mask), expected)
    assert carried[1].track_id == 7 and carried[1].score == 0.9


def _timestamps(path):
    """Presentation times (s) of the frames of ``path``, from ffmpeg's showinfo filter."""
    run = subprocess.run([ffmpeg_executable(), "-hide_banner", "-nostdin", "-i", str(path),
                          "-vf", "showinfo", "-f", "null", "-"], capture_output=True, text=True,
                         check=True)
    return [float(value) for value in re.findall(r"pts_time:([0-9.]+)", run.stderr)]


@pytest.mark.parametrize("keep_every", [1, 2, 4, 8])
def test_foreground_of_every_kth_frame_has_its_frames_at_their_original_times(tmp_path, keep_every):
    frames = moving_square_frames(65, 49, 17)
    video = tmp_path / "clip.mkv"
    write_lossless_video(iter(frames), video, width=65, height=49, fps=8)
    detections = DetectionSequence(65, 49, [
        FrameDetections(n, np.array([[4.0 + n, 10.0, 21.0 + n, 26.0]]), np.array([0.9]))
        for n in range(1, 18)], source="clip.mkv")
    write_detections_zip(detections, tmp_path / "detections.zip")
    output = tmp_path / "foreground.mkv"
    result = write_foreground_video(video, tmp_path / "detections.zip", output, progress=False,
                                    keep_every=keep_every)
    coded = list(range(1, 18, keep_every))  # k = 8: frames 1, 9, 17
    assert result.frames == len(coded)
    info = open_video(output).info
    assert info.frames == len(coded)
    assert info.fps == pytest.approx(8 / keep_every)
    # Coded frame j shows when original frame (j - 1) k + 1 did: (j - 1) k / 8 s.
    assert _timestamps(output) == pytest.approx([(n - 1) / 8 for n in coded])
    for number, written in zip(coded, open_video(output)):
        np.testing.assert_array_equal(written[10:26, 5 + number - 1: 21 + number - 1],
                                      frames[number - 1][10:26, 5 + number - 1: 21 + number - 1])


class SquareFinder:
    """A stand-in pose estimator: one keypoint at the top-left corner of the clip's bright
    square (tests.clips) where the crop shows it, so a pose tells which frame it came from."""

    name = "square-finder"
    keypoint_names = ("corner",)
    frames_per_batch = 1

    def estimate(self, frame, boxes, scores):
        rows, columns = np.nonzero(np.all(frame == (30, 200, 250), axis=2))
        if not len(rows):
            return [None for _ in boxes]
        return [np.array([[columns.min(), rows.min(), 1.0]]) for _ in boxes]

    def estimate_batch(self, frames, boxes, scores):
        return [self.estimate(*arguments) for arguments in zip(frames, boxes, scores)]

    def describe(self):
        return {"name": self.name}


def test_pose_on_every_fourth_frame_is_carried_to_every_frame(tmp_path):
    from vcm.keypoints import read_pose_results
    from vcm.pipeline.tasks import box_task
    from vcm.runrecord import read_run_record
    from vcm.tracks import write_tracks_txt

    frames = moving_square_frames(65, 49, 10)  # square's corner at (4 + n, 10) in frame n
    video = tmp_path / "clip.mkv"
    write_lossless_video(iter(frames), video, width=65, height=49, fps=8)
    boxes = {n: np.array([4.0 + n, 10, 20 + n, 26]) for n in range(1, 11)}
    detections = DetectionSequence(65, 49, [FrameDetections(n, boxes[n][None], np.array([0.9]))
                                            for n in boxes], source="clip.mkv")
    write_detections_zip(detections, tmp_path / "detections.zip")
    write_tracks_txt(TrackSequence([FrameTracks(n, [2], [boxes[n]], [0.9]) for n in boxes]),
                     tmp_path / "tracks.txt")
    foreground = tmp_path / "foreground.mkv"
    write_foreground_video(video, tmp_path / "detections.zip", foreground, progress=False,
                           keep_every=4)
    output = tmp_path / "pose.json"
    result = box_task("pose", foreground, tmp_path / "detections.zip", output, SquareFinder(),
                      progress=False, keep_every=4, tracks=tmp_path / "tracks.txt", carry="box")
    poses = read_pose_results(output)
    assert [pose.image_id for pose in poses] == list(range(1, 11))
    # Coded frames 1, 5, 9 found the square where it is; 10 is carried from 9 (its nearest).
    for pose in poses:
        np.testing.assert_allclose(pose.keypoints, [[4 + pose.image_id, 10, 1.0]])
    assert result.details == {"coded": 3, "carried": 7}
    record = read_run_record(output)["parameters"]
    assert (record["keep_every"], record["carry"]) == (4, "box")
    with pytest.raises(VcmError, match=r"\(keep_every 3\): detections cover 4 frames but .* has 3"):
        box_task("pose", foreground, tmp_path / "detections.zip", tmp_path / "other.json",
                 SquareFinder(), progress=False, keep_every=3)


def test_bad_temporal_options_on_the_command_line_leave_nothing(tmp_path, small_clip):
    from typer.testing import CliRunner

    from vcm.cli import app

    video, _ = small_clip
    detections = DetectionSequence(65, 49, [
        FrameDetections(n, np.array([[4.0 + n, 10, 20 + n, 26]]), np.array([0.9]))
        for n in range(1, 6)], source="clip.mkv")
    write_detections_zip(detections, tmp_path / "detections.zip")
    runner = CliRunner()
    output = tmp_path / "pose.json"
    result = runner.invoke(app, ["pose", str(video), str(tmp_path / "detections.zip"),
                                 "--keep-every", "2", "--carry", "nearest", "-o", str(output)])
    assert result.exit_code == 2 and "nearest" in result.output
    result = runner.invoke(app, ["foreground", str(video), str(tmp_path / "detections.zip"),
                                 "--keep-every", "0", "-o", str(tmp_path / "fg.mkv")])
    assert result.exit_code == 2
    # A video of every 2nd frame (3 of 5) read as if it held every 4th (2 of 5).
    foreground = tmp_path / "fg.mkv"
    assert runner.invoke(app, ["foreground", str(video), str(tmp_path / "detections.zip"),
                               "--keep-every", "2", "-o", str(foreground),
                               "--no-progress"]).exit_code == 0
    assert open_video(foreground).info.frames == 3
    result = runner.invoke(app, ["pose", str(foreground), str(tmp_path / "detections.zip"),
                                 "--keep-every", "4", "-o", str(output), "--no-progress"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith(
        f"error: {tmp_path / 'detections.zip'} (keep_every 4): detections cover 2 frames but")
    assert not output.exists()
    result = runner.invoke(app, ["encode", str(foreground), "-o", str(tmp_path / "fg.266"),
                                 "--embed-option", "labels=false"])
    assert result.exit_code == 1 and "--embed-option needs --embed FILE" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "clip.mkv", "detections.zip", "fg.mkv", "fg.mkv.run.json"]


def test_a_frame_rate_that_milliseconds_cannot_hold_reads_back_every_frame_once(tmp_path):
    # Every 8th frame of a 7 fps video: 0.875 fps, frames 1142.857 ms apart.
    frames = [np.full((48, 64, 3), 10 * index, np.uint8) for index in range(14)]
    path = tmp_path / "slow.mkv"
    write_lossless_video(iter(frames), path, width=64, height=48, fps=7 / 8)
    read = list(open_video(path))
    assert len(read) == open_video(path).info.frames == 14
    assert [int(frame[0, 0, 0]) for frame in read] == [10 * index for index in range(14)]
