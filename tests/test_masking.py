"""Foreground variants (vcm.masking), on tiny frames with masks worked out by hand."""

import numpy as np
import pytest

from vcm.errors import VcmError
from vcm.masking import (
    ForegroundOptions,
    compose,
    foreground_frames,
    held_boxes,
    kept_rectangles,
    region_mask,
    weights,
)


def rows(mask):
    return ["".join("#" if value else "." for value in row) for row in mask]


def test_default_is_the_papers_box_mask():
    options = ForegroundOptions()
    assert options.is_paper
    # Columns 1..2 (x 1.5 to 2.5 touches pixels 1 and 2), rows 1..1.
    assert rows(region_mask([[1.5, 1.0, 2.5, 2.0]], 5, 3, options)) == [
        ".....",
        ".##..",
        ".....",
    ]


def test_margin_grows_by_a_fraction_and_by_pixels():
    # A 2x2 box at columns 3..4, rows 3..4 of a 9x8 frame.
    box = [[3, 3, 5, 5]]
    half = ForegroundOptions(margin=0.5)  # 0.5 x 2 px = 1 px on each side: columns 2..5
    assert rows(region_mask(box, 9, 8, half))[1:7] == [
        ".........",
        "..####...",
        "..####...",
        "..####...",
        "..####...",
        ".........",
    ]
    both = ForegroundOptions(margin=0.5, margin_px=1)  # 2 px on each side: columns 1..6
    assert rows(region_mask(box, 9, 8, both)) == [
        ".........",
        ".######..",
        ".######..",
        ".######..",
        ".######..",
        ".######..",
        ".######..",
        ".........",
    ]


def test_align_snaps_outwards_to_the_grid_and_clips():
    options = ForegroundOptions(align=4)
    # Columns 5..6 -> 4..7; rows 1..2 -> 0..3; a box near the right edge of a 10-wide frame
    # snaps to 8..12 and is clipped to 8..9.
    np.testing.assert_array_equal(
        kept_rectangles([[5, 1, 7, 3], [9, 5, 10, 6]], 10, 8, options),
        [[4, 0, 8, 4], [8, 4, 10, 8]],
    )


def test_huge_and_non_finite_boxes_do_not_overflow():
    options = ForegroundOptions()
    rectangles = kept_rectangles([[-1e308, -1e19, 1e308, 1e19], [np.nan, 0, 1, 1]], 6, 4, options)
    np.testing.assert_array_equal(rectangles, [[0, 0, 6, 4]])


def test_hold_unites_boxes_over_windows_of_frames():
    frames_boxes = [np.array([[0, 0, 1, 1]]), np.array([[2, 0, 3, 1]]), np.array([[4, 0, 5, 1]]),
                    np.zeros((0, 4))]
    held = list(held_boxes(frames_boxes, 2))
    assert len(held) == 4
    np.testing.assert_array_equal(held[0], [[0, 0, 1, 1], [2, 0, 3, 1]])
    np.testing.assert_array_equal(held[1], held[0])
    np.testing.assert_array_equal(held[2], [[4, 0, 5, 1]])
    np.testing.assert_array_equal(held[3], held[2])


def test_feather_weights_fall_linearly_outside_the_region():
    mask = np.zeros((1, 7), dtype=bool)
    mask[0, 3] = True
    # feather 2: distance 1 -> 1 - 1/3, distance 2 -> 1 - 2/3, distance 3 -> 0.
    np.testing.assert_allclose(weights(mask, 2)[0], [0, 1 / 3, 2 / 3, 1, 2 / 3, 1 / 3, 0], atol=1e-6)
    np.testing.assert_array_equal(weights(mask, 0)[0], [0, 0, 0, 1, 0, 0, 0])


def test_fills():
    frame = np.full((8, 8, 3), 200, dtype=np.uint8)
    frame[0, 0] = 0
    mask = np.zeros((8, 8), dtype=bool)
    mask[2:4, 2:4] = True
    black = compose(frame, mask, ForegroundOptions())
    assert black[mask].min() == 200 and black[~mask].max() == 0
    grey = compose(frame, mask, ForegroundOptions(fill="grey"))
    assert (grey[~mask] == 128).all() and (grey[mask] == 200).all()
    # Downscale by 4: the top-left 4x4 block averages to (15 x 200 + 0) / 16 = 187.5 -> 188
    # (INTER_AREA rounds); enlarged again with INTER_LINEAR a 2x2 image of 188 and 200s.
    down = compose(frame, mask, ForegroundOptions(fill="downscale", fill_scale=4))
    assert down[0, 0, 0] == 188 and down[7, 7, 0] == 200
    assert (down[mask] == 200).all()
    blurred = compose(frame, mask, ForegroundOptions(fill="blur", fill_scale=1))
    assert 0 < blurred[0, 0, 0] < 200 and blurred[7, 7, 0] == 200


def test_feathered_black_fill_blends_towards_black():
    frame = np.full((1, 5, 3), 90, dtype=np.uint8)
    mask = np.array([[False, False, True, False, False]])
    result = compose(frame, mask, ForegroundOptions(feather=1))
    # distance 1: weight 1/2 -> 45; distance 2: 0.
    assert result[0, :, 0].tolist() == [0, 45, 90, 45, 0]


def test_foreground_frames_is_deterministic_with_odd_sizes():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (7, 9, 3), dtype=np.uint8) for _ in range(3)]
    boxes = [np.array([[1.2, 1.7, 4.1, 5.5]]), np.zeros((0, 4)), np.array([[8, 6, 9, 7]])]
    options = ForegroundOptions(margin=0.1, hold=2, align=2, feather=1, fill="grey")
    first = list(foreground_frames(frames, boxes, options))
    second = list(foreground_frames(frames, boxes, options))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # Frame 2 has no box of its own but keeps frame 1's (hold 2): its kept pixels are its own.
    assert (first[1][2:6, 1:5] == frames[1][2:6, 1:5]).all()


@pytest.mark.parametrize("options", [
    {"margin": -0.1}, {"margin": float("nan")}, {"hold": 0}, {"align": 0}, {"feather": -1},
    {"fill": "pink"}, {"fill_scale": 0}, {"margin_px": 1.5}, {"hold": True},
])
def test_bad_options_are_errors(options):
    with pytest.raises(VcmError, match="foreground option"):
        ForegroundOptions(**options)


# -- through the CLI: `vcm foreground -p ...` ------------------------------------------------


def test_cli_foreground_variant_keeps_the_grown_region(tmp_path):
    from typer.testing import CliRunner

    from vcm.cli import app
    from vcm.detections import DetectionSequence, FrameDetections
    from vcm.detformats import write_detections
    from vcm.runrecord import read_run_record
    from vcm.video import open_video, write_lossless_video

    rng = np.random.default_rng(3)
    frames = [rng.integers(1, 256, (24, 32, 3), dtype=np.uint8) for _ in range(4)]
    video = tmp_path / "clip.mkv"
    write_lossless_video(iter(frames), video, width=32, height=24, fps=5)
    boxes = [[[10, 8, 14, 12]], [[12, 8, 16, 12]], [], [[2, 2, 4, 4]]]
    sequence = DetectionSequence(32, 24, [
        FrameDetections(number, box, [0.9] * len(box)) for number, box in enumerate(boxes, 1)
    ])
    write_detections(sequence, tmp_path / "d.vcmd", format="vcmd")
    output = tmp_path / "fg.mkv"
    result = CliRunner().invoke(app, ["foreground", str(video), str(tmp_path / "d.vcmd"),
                                      "-p", "margin_px=1", "-p", "hold=2", "-p", "fill=grey",
                                      "-o", str(output), "--no-progress"])
    assert result.exit_code == 0, result.output
    rendered = list(open_video(output))
    # Frames 1-2 keep the union of both boxes grown by 1 px: columns 9..16, rows 7..12.
    expected = np.zeros((24, 32), dtype=bool)
    expected[7:13, 9:17] = True
    for index in (0, 1):
        np.testing.assert_array_equal(rendered[index][expected], frames[index][expected])
        assert (rendered[index][~expected] == 128).all()
    # Frames 3-4: frame 4's box grown by 1 px: columns 1..4, rows 1..4.
    expected = np.zeros((24, 32), dtype=bool)
    expected[1:5, 1:5] = True
    np.testing.assert_array_equal(rendered[2][expected], frames[2][expected])
    assert (rendered[2][~expected] == 128).all()
    assert read_run_record(output)["parameters"]["variant"] == {
        "margin": 0.0, "margin_px": 1, "hold": 2, "align": 1, "feather": 0, "fill": "grey",
        "fill_scale": 8, "mask": "none", "mask_grow": 0,
    }


@pytest.mark.parametrize("option, message", [
    ("fill=pink", "foreground option: fill must be one of black, grey, blur, downscale"),
    ("colour=1", "foreground: unknown foreground option 'colour'"),
    ("hold=0", "foreground option: hold must be an integer in 1..10000 frames"),
])
def test_cli_foreground_refuses_bad_variant_options(tmp_path, option, message):
    from typer.testing import CliRunner

    from vcm.cli import app

    result = CliRunner().invoke(app, ["foreground", str(tmp_path / "v.mkv"), str(tmp_path / "d.vcmd"),
                                      "-p", option, "-o", str(tmp_path / "fg.mkv")])
    assert result.exit_code == 1
    assert [line for line in result.output.splitlines() if line.startswith("error:")][0].startswith(
        f"error: {message}")
    assert list(tmp_path.iterdir()) == []
