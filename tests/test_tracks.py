"""The track record and its MOTChallenge txt form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vcm.errors import VcmError
from vcm.tracks import FrameTracks, TrackSequence, read_tracks_txt, write_tracks_txt


def two_row_sequence() -> TrackSequence:
    """Frame 1: track 3 at x 10..40, y 20.5..100.25; frame 2: none; frame 3: track 1."""
    return TrackSequence(
        [
            FrameTracks(1, [3], [[10.0, 20.5, 40.0, 100.25]], [0.9]),
            FrameTracks(2),
            FrameTracks(3, [1], [[0.0, 0.0, 5.125, 8.0]], [0.61234]),
        ],
        source="clip",
    )


def test_write_exact_text(tmp_path: Path) -> None:
    path = tmp_path / "clip.txt"
    write_tracks_txt(two_row_sequence(), path)
    # w = 40 - 10, h = 100.25 - 20.5; 5.125 rounds half to even at 2 decimals.
    assert path.read_text() == (
        "1,3,10.00,20.50,30.00,79.75,0.9000,-1,-1,-1\n"
        "3,1,0.00,0.00,5.12,8.00,0.6123,-1,-1,-1\n"
    )
    assert not list(tmp_path.glob(".*partial*"))


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "clip.txt"
    write_tracks_txt(two_row_sequence(), path)
    tracks = read_tracks_txt(path)
    assert tracks.source == "clip"
    assert [frame.frame for frame in tracks] == [1, 2, 3]
    assert [frame.ids.tolist() for frame in tracks] == [[3], [], [1]]
    np.testing.assert_allclose(tracks.frames[0].boxes, [[10.0, 20.5, 40.0, 100.25]])
    np.testing.assert_allclose(tracks.frames[2].boxes, [[0.0, 0.0, 5.12, 8.0]])
    np.testing.assert_allclose(tracks.frames[2].scores, [0.6123])
    assert tracks.frames[1].boxes.shape == (0, 4)


def test_read_pads_to_num_frames_and_keeps_file_order(tmp_path: Path) -> None:
    path = tmp_path / "tracks.txt"
    path.write_text("2,5,0,0,1,1,1,-1,-1,-1\n\n2,4,3,3,1,1,1,-1,-1,-1\n")
    tracks = read_tracks_txt(path, num_frames=4)
    assert len(tracks) == 4
    assert tracks.frames[1].ids.tolist() == [5, 4]
    assert tracks.count == 2


def test_empty_file_gives_no_frames(tmp_path: Path) -> None:
    path = tmp_path / "tracks.txt"
    write_tracks_txt(TrackSequence([FrameTracks(1)]), path)
    assert path.read_text() == ""
    assert len(read_tracks_txt(path)) == 0
    assert len(read_tracks_txt(path, num_frames=2)) == 2


@pytest.mark.parametrize(
    "text, line, problem",
    [
        ("1,1,0,0,5,5,1,-1,-1,-1\n1,2,0,zero,5,5,1,-1,-1,-1\n", 2, "malformed row"),
        ("1,1,0,0,5,5,1,-1,-1,-1\n\n1,-1,0,0,5,5,1,-1,-1,-1\n", 3, "track id"),
        ("1,1,0,0,5,0,1,-1,-1,-1\n", 1, "width and height"),
        ("1,1,0,0,5,5,1,-1,-1,-1\n2,1,0,0,5,5,1,-1,-1,-1\n1,1,9,9,5,5,1,-1,-1,-1\n", 3, "repeated"),
        ("0,1,0,0,5,5,1,-1,-1,-1\n", 1, "frame must be a whole number in 1..1000000"),
    ],
)
def test_malformed_row_names_file_and_line(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = tmp_path / "tracks.txt"
    path.write_text(text)
    with pytest.raises(VcmError, match=rf"tracks\.txt:{line}: .*{problem}"):
        read_tracks_txt(path)


def test_row_beyond_num_frames(tmp_path: Path) -> None:
    path = tmp_path / "tracks.txt"
    path.write_text("1,1,0,0,5,5,1,-1,-1,-1\n3,1,0,0,5,5,1,-1,-1,-1\n")
    with pytest.raises(VcmError, match=r"tracks\.txt:2: .*beyond the 2 frames"):
        read_tracks_txt(path, num_frames=2)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VcmError, match="does not exist"):
        read_tracks_txt(tmp_path / "absent.txt")


def test_frame_tracks_validates_shapes_and_ids() -> None:
    with pytest.raises(ValueError, match="1 ids, 2 boxes"):
        FrameTracks(1, [1], np.zeros((2, 4)), [0.5])
    with pytest.raises(ValueError, match="distinct"):
        FrameTracks(1, [2, 2], np.zeros((2, 4)), [0.5, 0.5])
    with pytest.raises(ValueError, match="distinct and 1 or more"):
        FrameTracks(1, [0], np.zeros((1, 4)), [0.5])
