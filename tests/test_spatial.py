"""Spatial resampling (issue 23): the foreground at 1/F of each side and its restoration to the
original size for the tasks (sizes and values worked by hand)."""

import numpy as np
import pytest

from clips import moving_square_frames
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats.voc_zip import read_detections_zip, write_detections_zip
from vcm.errors import VcmError
from vcm.foreground import write_foreground_video
from vcm.masking import ForegroundOptions
from vcm.spatial import (RegionRestoredSource, RestoredSource, check_region_scaling,
                         disjoint_rectangles, downscale_frame, reduced_size, region_rectangles,
                         restore_regions, shrink_regions, shrunk_size)
from vcm.video import open_video, write_lossless_video


def test_reduced_sizes_round_each_side_up():
    assert reduced_size(640, 360, 2) == (320, 180)
    assert reduced_size(640, 360, 4) == (160, 90)
    assert reduced_size(65, 49, 2) == (33, 25)
    assert reduced_size(65, 49, 1) == (65, 49)
    with pytest.raises(VcmError, match="downscale must be a whole number from 1 to 16"):
        reduced_size(65, 49, 0)


def test_area_downscaling_averages_each_block():
    image = np.zeros((4, 4, 3), np.uint8)
    image[:2, :2] = 200  # top-left 2x2 block
    image[2:, 2:] = 100
    image[0, 2] = 40     # one pixel of the top-right block
    small = downscale_frame(image, 2)
    assert small.shape == (2, 2, 3)
    np.testing.assert_array_equal(small[..., 0], [[200, 10], [0, 100]])


def _write_detections(path, box):
    """The one ``box`` in each of the 5 frames of the 65x49 small clip, as a VOC zip."""
    write_detections_zip(DetectionSequence(65, 49, [
        FrameDetections(n, np.array([box]), np.array([0.9])) for n in range(1, 6)],
        source="clip.mkv"), path)


def test_foreground_at_half_size_is_restored_to_the_original_size(tmp_path, small_clip):
    video, _ = small_clip
    _write_detections(tmp_path / "detections.zip", [0.0, 0, 65, 49])
    output = tmp_path / "foreground.mkv"
    result = write_foreground_video(video, tmp_path / "detections.zip", output, progress=False,
                                    downscale=2, keep_every=2)
    info = open_video(output).info
    assert (info.width, info.height, info.frames, result.frames) == (33, 25, 3, 3)
    restored = RestoredSource(open_video(output), 65, 49, 2)
    assert (restored.info.width, restored.info.height, restored.info.frames) == (65, 49, 3)
    frames = list(restored)
    assert [frame.shape for frame in frames] == [(49, 65, 3)] * 3
    with pytest.raises(VcmError, match=r"is 33x25, but a 65x49 frame at 1/4 of each side is 17x13"):
        RestoredSource(open_video(output), 65, 49, 4)


def test_a_flat_frame_is_restored_exactly(tmp_path):
    path = tmp_path / "flat.mkv"
    write_lossless_video(iter([np.full((25, 33, 3), 77, np.uint8)] * 2), path, width=33,
                         height=25, fps=5)
    frames = list(RestoredSource(open_video(path), 65, 49, 2))
    assert len(frames) == 2 and all((frame == 77).all() for frame in frames)


class ShapeRecorder:
    """A stand-in pose estimator: one keypoint at each box's centre; records frame sizes."""

    name = "shape-recorder"
    keypoint_names = ("centre",)
    frames_per_batch = 1

    def __init__(self):
        self.shapes = []

    def estimate_batch(self, frames, boxes, scores):
        self.shapes += [frame.shape for frame in frames]
        return [[np.array([[(x1 + x2) / 2, (y1 + y2) / 2, 1.0]]) for x1, y1, x2, y2 in frame_boxes]
                for frame_boxes in boxes]

    def describe(self):
        return {"name": self.name}


def test_pose_reads_a_half_size_foreground_at_the_detections_size(tmp_path, small_clip):
    from vcm.keypoints import read_pose_results
    from vcm.pipeline.tasks import box_task
    from vcm.runrecord import read_run_record

    video, _ = small_clip
    _write_detections(tmp_path / "detections.zip", [10.0, 10, 30, 40])
    foreground = tmp_path / "foreground.mkv"
    write_foreground_video(video, tmp_path / "detections.zip", foreground, progress=False,
                           downscale=2)
    estimator = ShapeRecorder()
    output = tmp_path / "pose.json"
    box_task("pose", foreground, tmp_path / "detections.zip", output, estimator, progress=False,
             downscale=2)
    assert estimator.shapes == [(49, 65, 3)] * 5
    poses = read_pose_results(output)
    assert [pose.image_id for pose in poses] == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(poses[0].keypoints, [[20, 25, 1]])
    assert read_run_record(output)["parameters"]["downscale"] == 2


# --- region-only scaling -------------------------------------------------------------------

def test_overlapping_rectangles_merge_and_touching_ones_stay_apart():
    # The first two share pixels (columns 5-9, rows 5-9); the third shares columns 10-14 of
    # rows 0-2 with their merged rectangle; the fourth only touches it (column 20 is outside).
    merged = disjoint_rectangles(np.array([[0, 0, 10, 10], [5, 5, 20, 12], [30, 0, 40, 5],
                                           [10, 0, 15, 3], [20, 0, 25, 12]]))
    np.testing.assert_array_equal(merged, [[0, 0, 20, 12], [20, 0, 25, 12], [30, 0, 40, 5]])
    assert disjoint_rectangles(np.zeros((0, 4))).shape == (0, 4)


def test_shrunk_sizes_round_each_side_up():
    assert shrunk_size(np.array([3, 4, 10, 9]), 2) == (4, 3)   # 7 x 5 pixels
    assert shrunk_size(np.array([3, 4, 10, 9]), 4) == (2, 2)
    assert shrunk_size(np.array([0, 0, 20, 30]), 2) == (10, 15)


def test_the_rectangles_grow_with_the_margin_and_hold_over_the_window():
    options = ForegroundOptions(margin=0.1, fill="grey", hold=2)
    # Box 10 x 20 px grows 1 px left and right, 2 px up and down.
    frames = [np.array([[5.0, 5, 15, 25]]), np.array([[7.0, 5, 17, 25]]),
              np.zeros((0, 4))]
    rectangles = region_rectangles(frames, 60, 40, options)
    assert len(rectangles) == 3
    # Frames 1 and 2 (one window) keep both frames' grown boxes, which overlap: one rectangle.
    np.testing.assert_array_equal(rectangles[0], [[4, 3, 18, 27]])
    np.testing.assert_array_equal(rectangles[1], [[4, 3, 18, 27]])
    assert rectangles[2].shape == (0, 4)


def _two_people_frame():
    """A 40 x 60 grey frame with a red 10 x 20 box at (5, 5) and a green 20 x 20 box at
    (30, 10); BGR."""
    frame = np.full((40, 60, 3), 128, np.uint8)
    frame[5:25, 5:15] = (0, 0, 255)
    frame[10:30, 30:50] = (0, 255, 0)
    return frame


def test_a_shrunk_region_sits_in_its_corner_and_is_restored_on_its_pixels():
    frame = _two_people_frame()
    rectangles = region_rectangles([np.array([[5.0, 5, 15, 25], [30, 10, 50, 30]])], 60, 40,
                                   ForegroundOptions(fill="grey"))[0]
    np.testing.assert_array_equal(rectangles, [[5, 5, 15, 25], [30, 10, 50, 30]])
    coded = shrink_regions(frame, rectangles, 2, 128)
    assert coded.shape == frame.shape
    # Red at 5 x 10 in the top-left corner of its 10 x 20 rectangle, grey in the rest of it.
    assert (coded[5:15, 5:10] == (0, 0, 255)).all()
    assert (coded[15:25, 5:15] == 128).all() and (coded[5:15, 10:15] == 128).all()
    # Green at 10 x 10 in the corner of its 20 x 20 rectangle.
    assert (coded[10:20, 30:40] == (0, 255, 0)).all()
    assert (coded[20:30, 30:50] == 128).all() and (coded[10:20, 40:50] == 128).all()
    # Nothing else changes.
    outside = np.ones((40, 60), bool)
    outside[5:25, 5:15] = outside[10:30, 30:50] = False
    np.testing.assert_array_equal(coded[outside], frame[outside])
    np.testing.assert_array_equal(restore_regions(coded, rectangles, 2), frame)


def test_restoring_a_step_interpolates_bilinearly():
    # One row of 4 pixels, 10 10 30 30, halved by area: 10 30. Enlarged bilinearly, output
    # pixel x samples the input at (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (the ends
    # clamp): 10, 10 + 0.25 x 20 = 15, 10 + 0.75 x 20 = 25, 30.
    row = np.array([[[10] * 3, [10] * 3, [30] * 3, [30] * 3]], np.uint8)
    rectangle = np.array([[0, 0, 4, 1]])
    coded = shrink_regions(row, rectangle, 2, 0)
    np.testing.assert_array_equal(coded[0, :, 0], [10, 30, 0, 0])
    np.testing.assert_array_equal(restore_regions(coded, rectangle, 2)[0, :, 0], [10, 15, 25, 30])


@pytest.mark.parametrize("options, downscale, message", [
    (ForegroundOptions(fill="blur"), 1, "downscale_regions needs fill black or grey"),
    (ForegroundOptions(fill="grey", feather=2), 1, "downscale_regions needs feather 0"),
    (ForegroundOptions(fill="grey"), 2, "downscale_regions and downscale scale the same pixels"),
])
def test_region_scaling_refuses_what_it_cannot_restore(options, downscale, message):
    with pytest.raises(VcmError, match=message):
        check_region_scaling(2, options, downscale)
    assert check_region_scaling(1, options, downscale) == 1  # off: nothing to refuse


def test_a_region_scaled_foreground_keeps_the_frame_size_and_is_restored(tmp_path, small_clip):
    from vcm.keypoints import read_pose_results
    from vcm.pipeline.tasks import box_task
    from vcm.runrecord import read_run_record

    video, originals = small_clip
    _write_detections(tmp_path / "detections.zip", [10.0, 10, 30, 40])
    foreground = tmp_path / "foreground.mkv"
    options = ForegroundOptions(fill="grey")
    result = write_foreground_video(video, tmp_path / "detections.zip", foreground,
                                    progress=False, options=options, downscale_regions=2,
                                    keep_every=2)
    info = open_video(foreground).info
    assert (info.width, info.height, info.frames, result.frames) == (65, 49, 3, 3)
    coded = list(open_video(foreground))
    rectangle = np.array([[10, 10, 30, 40]])
    for number, image in zip((1, 3, 5), coded):
        # The 20 x 30 box at 10 x 15 in its corner, grey in the rest of it and around it.
        expected = shrink_regions(originals[number - 1], rectangle, 2, 128)
        expected[:10] = expected[40:] = expected[:, :10] = expected[:, 30:] = 128
        np.testing.assert_array_equal(image, expected)
    detections = read_detections_zip(tmp_path / "detections.zip")
    restored = list(RegionRestoredSource(open_video(foreground), detections, options, 2, 2))
    assert len(restored) == 3
    for image, shrunk in zip(restored, coded):
        np.testing.assert_array_equal(image, restore_regions(shrunk, rectangle, 2))

    estimator = ShapeRecorder()
    output = tmp_path / "pose.json"
    box_task("pose", foreground, tmp_path / "detections.zip", output, estimator, progress=False,
             foreground_options={"fill": "grey"}, downscale_regions=2, keep_every=2)
    assert estimator.shapes == [(49, 65, 3)] * 3
    assert [pose.image_id for pose in read_pose_results(output)] == [1, 3, 5]
    assert read_run_record(output)["parameters"]["downscale_regions"] == 2
