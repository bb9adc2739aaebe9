import cv2
import numpy as np
import pytest

from vcm.datasets.mot import SequenceInfo, write_seqinfo
from vcm.errors import VcmError
from vcm.video import open_video, write_lossless_video


def test_lossless_round_trip_keeps_every_pixel(small_clip):
    path, frames = small_clip
    source = open_video(path)
    assert (source.info.width, source.info.height, source.info.frames) == (65, 49, 5)
    assert source.info.fps == 7.0
    decoded = list(source)
    assert len(decoded) == 5
    for original, back in zip(frames, decoded):
        np.testing.assert_array_equal(original, back)


def test_sequence_folder_is_read_in_frame_order(tmp_path):
    root = tmp_path / "seq"
    (root / "img1").mkdir(parents=True)
    write_seqinfo(SequenceInfo(root, "seq", "img1", 7.0, 3, 32, 24, ".png"), root / "seqinfo.ini")
    for frame in (1, 2, 3):
        cv2.imwrite(str(root / "img1" / f"{frame:06d}.png"), np.full((24, 32, 3), frame * 10, np.uint8))
    source = open_video(root)
    assert (source.info.width, source.info.height, source.info.frames, source.info.fps) == (32, 24, 3, 7.0)
    assert [int(frame[0, 0, 0]) for frame in source] == [10, 20, 30]


def test_sequence_with_missing_image_names_it(tmp_path):
    root = tmp_path / "seq"
    (root / "img1").mkdir(parents=True)
    write_seqinfo(SequenceInfo(root, "seq", "img1", 7.0, 2, 32, 24, ".png"), root / "seqinfo.ini")
    cv2.imwrite(str(root / "img1" / "000001.png"), np.zeros((24, 32, 3), np.uint8))
    with pytest.raises(VcmError, match="000002.png: missing or unreadable image"):
        list(open_video(root))


def test_missing_file(tmp_path):
    with pytest.raises(VcmError, match="nothing.mp4: file does not exist"):
        open_video(tmp_path / "nothing.mp4")


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(VcmError, match="empty.mp4: empty file"):
        open_video(empty)


def test_corrupt_file(tmp_path):
    corrupt = tmp_path / "corrupt.mkv"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(VcmError, match="corrupt.mkv: not a readable video"):
        open_video(corrupt)


def test_folder_without_seqinfo(tmp_path):
    with pytest.raises(VcmError, match="must be a MOTChallenge sequence"):
        open_video(tmp_path)


def test_writer_rejects_wrong_frame_shape(tmp_path):
    with pytest.raises(VcmError, match="frame 1 has shape"):
        write_lossless_video(iter([np.zeros((10, 10, 3), np.uint8)]), tmp_path / "x.mkv",
                             width=12, height=10, fps=5)
