import numpy as np
import pytest

from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats.voc_zip import write_detections_zip
from vcm.errors import VcmError
from vcm.foreground import pixel_rectangles, render_foreground, write_foreground_video
from vcm.video import open_video


def test_fractional_box_keeps_every_pixel_it_touches():
    # x 10.5..20 covers columns 10..19; y 5..15.2 covers rows 5..15.
    assert pixel_rectangles(np.array([[10.5, 5.0, 20.0, 15.2]]), 65, 49).tolist() == [[10, 5, 20, 16]]


def test_boxes_are_clipped_to_the_frame():
    assert pixel_rectangles(np.array([[-3.0, -1.0, 70.0, 60.0]]), 65, 49).tolist() == [[0, 0, 65, 49]]


def test_black_outside_union_and_unchanged_inside():
    frame = np.random.default_rng(1).integers(1, 256, size=(49, 65, 3), dtype=np.uint8)
    boxes = np.array([[10.5, 5.0, 20.0, 15.2], [15.0, 10.0, 30.0, 20.0]])
    foreground = render_foreground(frame, boxes)
    inside = np.zeros((49, 65), dtype=bool)
    inside[5:16, 10:20] = True
    inside[10:20, 15:30] = True
    np.testing.assert_array_equal(foreground[inside], frame[inside])
    assert not foreground[~inside].any()
    assert inside.sum() == 11 * 10 + 10 * 15 - 6 * 5  # two rectangles minus their overlap


def test_no_boxes_gives_an_all_black_frame():
    frame = np.full((8, 8, 3), 200, np.uint8)
    assert not render_foreground(frame, np.zeros((0, 4))).any()


def _detections(frames, width=65, height=49):
    return DetectionSequence(
        width=width,
        height=height,
        frames=[
            FrameDetections(frame, np.array([[5.0 + frame, 10.0, 21.0 + frame, 26.0]]), np.array([0.9]))
            for frame in range(1, frames + 1)
        ],
        source="clip.mkv",
    )


def test_foreground_video_is_exact_on_the_lossless_path(tmp_path, small_clip):
    video, frames = small_clip
    detections_zip = tmp_path / "detections.zip"
    write_detections_zip(_detections(5), detections_zip)
    output = tmp_path / "foreground.mkv"
    result = write_foreground_video(video, detections_zip, output, progress=False)
    assert result.frames == 5
    for number, (original, written) in enumerate(zip(frames, open_video(output)), start=1):
        inside = np.zeros((49, 65), dtype=bool)
        inside[10:26, 5 + number : 21 + number] = True
        np.testing.assert_array_equal(written[inside], original[inside])
        assert not written[~inside].any()


def test_detections_for_another_video_are_refused(tmp_path, small_clip):
    video, _ = small_clip
    detections_zip = tmp_path / "detections.zip"
    write_detections_zip(_detections(4), detections_zip)
    output = tmp_path / "foreground.mkv"
    with pytest.raises(VcmError, match="detections cover 4 frames but .* has 5"):
        write_foreground_video(video, detections_zip, output, progress=False)
    assert not output.exists()
    write_detections_zip(_detections(5, width=64), detections_zip)
    with pytest.raises(VcmError, match="detections are for 64x49 frames"):
        write_foreground_video(video, detections_zip, output, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv", "detections.zip"]


def test_foreground_leaves_out_boxes_below_the_score(tmp_path, small_clip):
    # Each frame holds the 0.9 box of _detections and a 0.3 box (BYTE keeps such low-score
    # boxes for the tracker); with min_score 0.6 only the 0.9 box is shown.
    video, frames = small_clip
    low_box = np.array([[40.0, 30.0, 60.0, 45.0]])
    detections = _detections(5)
    with_low = DetectionSequence(
        detections.width, detections.height,
        [FrameDetections(frame.frame, np.vstack([frame.boxes, low_box]),
                         np.append(frame.scores, 0.3)) for frame in detections.frames],
        source="clip.mkv",
    )
    detections_zip = tmp_path / "detections.zip"
    write_detections_zip(with_low, detections_zip)
    output = tmp_path / "foreground.mkv"
    write_foreground_video(video, detections_zip, output, min_score=0.6, progress=False)
    for number, (original, written) in enumerate(zip(frames, open_video(output)), start=1):
        inside = np.zeros((49, 65), dtype=bool)
        inside[10:26, 5 + number : 21 + number] = True
        np.testing.assert_array_equal(written[inside], original[inside])
        assert not written[~inside].any()
    # Without a score, the low box is foreground too.
    write_foreground_video(video, detections_zip, output, progress=False)
    assert next(iter(open_video(output)))[30:45, 40:60].any()
