"""Spatial resampling (issue 23): the foreground at 1/F of each side and its restoration to the
original size for the tasks (sizes and values worked by hand)."""

import numpy as np
import pytest

from clips import moving_square_frames
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats.voc_zip import write_detections_zip
from vcm.errors import VcmError
from vcm.foreground import write_foreground_video
from vcm.spatial import RestoredSource, downscale_frame, reduced_size
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
