"""The ``mask`` foreground variant and the crop check (vcm.masking), by hand and on PETS09."""

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from vcm.cli import app
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats import write_detections
from vcm.errors import VcmError
from vcm.masking import (
    ForegroundOptions,
    align_region,
    crop_fill_report,
    grow_region,
    mask_regions,
    person_pixels,
    person_region,
    region_mask,
    window_fill_fractions,
)
from vcm.pose.blazepose import blazepose_windows
from vcm.runrecord import read_run_record
from vcm.video import open_video, write_lossless_video

from conftest import require_mirror


def rows(mask):
    return ["".join("#" if value else "." for value in row) for row in mask]


def test_grow_region_grows_by_exactly_n_pixels_in_the_chessboard_metric():
    mask = np.zeros((7, 9), dtype=bool)
    mask[3, 4] = True
    assert rows(grow_region(mask, 2)) == [
        ".........",
        "..#####..",
        "..#####..",
        "..#####..",
        "..#####..",
        "..#####..",
        ".........",
    ]
    # Cut at the frame: a corner pixel grown by 1 is a 2x2 square.
    corner = np.zeros((4, 4), dtype=bool)
    corner[0, 0] = True
    assert rows(grow_region(corner, 1)) == ["##..", "##..", "....", "...."]
    assert not grow_region(np.zeros((3, 3), dtype=bool), 5).any()
    np.testing.assert_array_equal(grow_region(mask, 0), mask)


def test_align_region_keeps_every_touched_block_and_matches_rectangle_snapping():
    mask = np.zeros((5, 7), dtype=bool)
    mask[2, 5] = True  # in the block of rows 0..3, columns 4..7 (cut to 4..6)
    assert rows(align_region(mask, 4)) == [
        "....###",
        "....###",
        "....###",
        "....###",
        ".......",
    ]
    rng = np.random.default_rng(1)
    for _ in range(20):
        x1, y1 = rng.uniform(-5, 40, 2)
        boxes = [[x1, y1, x1 + rng.uniform(0, 20), y1 + rng.uniform(0, 20)]]
        for step in (2, 8, 16):
            boxes_only = region_mask(boxes, 37, 29, ForegroundOptions())
            np.testing.assert_array_equal(
                align_region(boxes_only, step),
                region_mask(boxes, 37, 29, ForegroundOptions(align=step)))


def test_align_keeps_nothing_for_a_box_outside_the_frame():
    # Regression: x 38..45 lies right of a 37-pixel-wide frame; snapped to 16 px it used to
    # keep columns 32..36.
    assert not region_mask([[38, 2, 45, 9]], 37, 29, ForegroundOptions(align=16)).any()


def test_person_region_grows_the_mask_and_cuts_it_to_the_grown_boxes():
    person = np.zeros((6, 10), dtype=bool)
    person[2:4, 3] = True  # two pixels of a person inside the box columns 2..5, rows 1..4
    box = [[2, 1, 6, 5]]
    assert rows(person_region(person, box, 10, 6, ForegroundOptions(mask="selfie", mask_grow=1))) == [
        "..........",
        "..###.....",
        "..###.....",
        "..###.....",
        "..###.....",
        "..........",
    ]
    # Grown by 3 the mask would reach columns 0..6 and rows 0..5; the box stops it, and a
    # margin of 1 px lets it out by one pixel on every side.
    assert rows(person_region(person, box, 10, 6, ForegroundOptions(mask="selfie", mask_grow=3))) == [
        "..........",
        "..####....",
        "..####....",
        "..####....",
        "..####....",
        "..........",
    ]
    assert rows(person_region(person, box, 10, 6,
                              ForegroundOptions(mask="selfie", mask_grow=3, margin_px=1))) == [
        ".######...",
        ".######...",
        ".######...",
        ".######...",
        ".######...",
        ".######...",
    ]


def test_a_box_without_a_mask_keeps_its_pixels():
    found = np.zeros((4, 8), dtype=bool)
    found[1, 1] = True
    boxes = np.array([[0.0, 0.0, 3.0, 3.0], [4.5, 1.0, 7.0, 3.0]])
    assert rows(person_pixels([found, None], boxes, 8, 4)) == [
        "........",
        ".#..###.",
        "....###.",
        "........",
    ]
    assert not person_pixels([], np.zeros((0, 4)), 8, 4).any()


def test_mask_regions_unite_over_the_hold_window_then_align():
    width, height = 8, 4
    people = [np.zeros((height, width), dtype=bool) for _ in range(3)]
    people[0][1, 1] = True
    people[1][2, 5] = True
    people[2][0, 7] = True
    boxes = [np.array([[0, 0, 8, 4]])] * 3
    options = ForegroundOptions(mask="pose", mask_grow=0, hold=2)
    regions = list(mask_regions(people, boxes, width, height, options))
    # Frames 1 and 2 keep both their pixels; frame 3 (its own window) only its own.
    assert rows(regions[0]) == rows(regions[1]) == ["........", ".#......", ".....#..", "........"]
    assert rows(regions[2]) == [".......#", "........", "........", "........"]
    aligned = list(mask_regions(people, boxes, width, height, ForegroundOptions(
        mask="pose", mask_grow=0, hold=2, align=4)))
    assert rows(aligned[0]) == ["########"] * 4
    assert rows(aligned[2]) == ["....####"] * 4


def test_mask_options_are_checked_and_recorded():
    assert ForegroundOptions(mask_grow=9).is_paper  # mask_grow means nothing without a mask
    assert not ForegroundOptions(mask="selfie").is_paper
    assert ForegroundOptions.from_options({"mask": "pose", "mask_grow": 2}).describe()["mask"] == "pose"
    for bad in ({"mask": "grabcut"}, {"mask_grow": -1}, {"mask_grow": 2.5}, {"mask_grow": 257}):
        with pytest.raises(VcmError, match="foreground option: mask"):
            ForegroundOptions(**bad)


def test_the_config_schema_takes_the_mask_options(tmp_path):
    import yaml

    from vcm.config import load_config
    from test_config import CONFIGS

    config = yaml.safe_load((CONFIGS / "ci.yaml").read_text())
    config["foreground"] = {"mask": "selfie", "mask_grow": 6, "margin": 0.1}
    path = tmp_path / "mask.yaml"
    path.write_text(yaml.safe_dump(config))
    assert load_config(path)["foreground"]["mask"] == "selfie"
    config["foreground"] = {"mask": "grabcut"}
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(VcmError, match="foreground/mask"):
        load_config(path)


# -- crops against the kept region (issue 13, part 3) ------------------------------------------


def test_blazepose_crop_reads_fill_unless_the_margin_covers_its_padding():
    # Box 100 x 200 at (100, 100); the default crop (box, padding 0.25) is 125 x 250 about the
    # same centre: x 87.5..212.5, y 75..325, cut as pixels 87..212 x 75..324 = 126 x 250.
    box = np.array([[100.0, 100.0, 200.0, 300.0]])
    windows = blazepose_windows(box, crop="box", padding=0.25)
    np.testing.assert_allclose(windows, [[87.5, 75.0, 212.5, 325.0]])
    paper = region_mask(box, 400, 400, ForegroundOptions())
    assert window_fill_fractions(windows, paper) == pytest.approx([(31500 - 20000) / 31500])
    # A margin of 1/8 of the box on each side keeps every pixel the crop reads.
    covered = region_mask(box, 400, 400, ForegroundOptions(margin=0.125))
    assert window_fill_fractions(windows, covered) == pytest.approx([0.0])
    # At the frame's corner the window's pixels outside the frame are black padding, not fill:
    # window -12.5..112.5 x -25..225 = pixels -13..112 x -25..224 (126 x 250); 113 x 225 of
    # them are in the frame, 100 x 200 of those kept.
    corner = np.array([[0.0, 0.0, 100.0, 200.0]])
    kept = region_mask(corner, 400, 400, ForegroundOptions())
    fractions = window_fill_fractions(blazepose_windows(corner, crop="box", padding=0.25), kept)
    assert fractions == pytest.approx([(113 * 225 - 20000) / 31500])


def test_hrnet_and_segmenter_crops_against_the_kept_region():
    from vcm.pose.hrnet import HrnetEstimator
    from vcm.segmenters.mediapipe_backend import MediaPipeSegmenter

    box = np.array([[100.0, 100.0, 200.0, 300.0]])
    paper = region_mask(box, 400, 400, ForegroundOptions())
    margin = region_mask(box, 400, 400, ForegroundOptions(margin=0.125))  # 126 x 250 px
    # HRNet: 1.25 x the box with its width lengthened to 0.75 x the height: 187.5 x 250 about
    # (150, 200), as mmpose 1.3's bbox_xyxy2cs(padding=1.25) and TopdownAffine give it;
    # cut as pixels 56..243 x 75..324 = 188 x 250.
    windows = HrnetEstimator.crop_windows_for(box, 400, 400)
    np.testing.assert_allclose(windows, [[56.25, 75.0, 243.75, 325.0]])
    assert window_fill_fractions(windows, paper) == pytest.approx([(47000 - 20000) / 47000])
    assert window_fill_fractions(windows, margin) == pytest.approx([(47000 - 31500) / 47000])
    # The mediapipe segmenter: a square of 1.25 x the long side, 25..275 x 75..325.
    with MediaPipeSegmenter() as segmenter:
        windows = segmenter.crop_windows_for(box, 400, 400)
    np.testing.assert_allclose(windows, [[25.0, 75.0, 275.0, 325.0]])
    assert window_fill_fractions(windows, paper) == pytest.approx([(62500 - 20000) / 62500])
    assert window_fill_fractions(windows, margin) == pytest.approx([(62500 - 31500) / 62500])


def test_crop_fill_report_follows_hold_and_the_backends_windows():
    def windows_for(boxes, width, height):  # crops of twice the box, as a backend would say
        return blazepose_windows(boxes, crop="box", padding=1.0)

    frames_boxes = [np.array([[10.0, 10.0, 20.0, 20.0]]), np.array([[14.0, 10.0, 24.0, 20.0]])]
    # Frame 1: window 5..25 x 5..25 (400 px), kept 100; frame 2: window 9..29 x 5..25, kept 100.
    report = crop_fill_report(frames_boxes, 40, 30, ForegroundOptions(), windows_for)
    assert (report["crops"], report["crops_with_fill"]) == (2, 2)
    assert report["mean_fill"] == pytest.approx(300 / 400)
    # Held over both frames, each frame keeps columns 10..23 x rows 10..19: 140 px per window.
    held = crop_fill_report(frames_boxes, 40, 30, ForegroundOptions(hold=2), windows_for)
    assert held["mean_fill"] == pytest.approx(260 / 400)
    assert held["max_fill"] == pytest.approx(260 / 400)
    empty = crop_fill_report([np.zeros((0, 4))], 40, 30, ForegroundOptions(), windows_for)
    assert (empty["crops"], empty["mean_fill"]) == (0, 0.0)


# -- the mask variant on real frames -------------------------------------------------------------


PETS_FRAMES = (60, 61, 62)


@pytest.fixture(scope="module")
def pets_clip(tmp_path_factory):
    """Three PETS09-S3MF1 frames (lossless, every channel >= 1 so that a kept pixel is never
    black) and their ground-truth boxes as a detection file."""
    from vcm.datasets.mot import read_mot_txt

    sequence = require_mirror("datasets", "PETS09-S3MF1")
    folder = tmp_path_factory.mktemp("pets")
    frames = [np.maximum(cv2.imread(str(sequence / "img1" / f"{number:06d}.jpg")), 1)
              for number in PETS_FRAMES]
    height, width = frames[0].shape[:2]
    write_lossless_video(iter(frames), folder / "clip.mkv", width=width, height=height, fps=7)
    truth = read_mot_txt(sequence / "gt" / "gt.txt")
    detections = DetectionSequence(width, height, [
        FrameDetections(index, truth.at_frame(number).boxes, np.full(len(truth.at_frame(number)), 0.9))
        for index, number in enumerate(PETS_FRAMES, 1)
    ])
    write_detections(detections, folder / "d.vcmd", format="vcmd")
    return folder, frames


def kept_pixels(foreground):
    return [frame.any(axis=2) for frame in open_video(foreground)]


def test_mask_keeps_a_part_of_each_box_on_real_frames(pets_clip):
    folder, frames = pets_clip
    outputs = {}
    # mask_grow 0: the person pixels alone, about half of each box on these frames.
    for name, flags in {"box": [], "selfie": ["-p", "mask=selfie", "-p", "mask_grow=0"]}.items():
        outputs[name] = folder / f"{name}.mkv"
        result = CliRunner().invoke(app, ["foreground", str(folder / "clip.mkv"),
                                          str(folder / "d.vcmd"), *flags, "-o",
                                          str(outputs[name]), "--no-progress"])
        assert result.exit_code == 0, result.output
    for box_kept, mask_kept, frame in zip(kept_pixels(outputs["box"]),
                                          kept_pixels(outputs["selfie"]), frames):
        assert not (mask_kept & ~box_kept).any()  # a subset of the box variant's pixels
        assert 0.2 * box_kept.sum() < mask_kept.sum() < 0.8 * box_kept.sum()
    record = read_run_record(outputs["selfie"])
    assert record["parameters"]["segmenter"]["model"].startswith("mediapipe selfie")
    assert record["seconds"]["segment"] > 0
    assert record["parameters"]["boxes_without_mask"] == 0  # selfie finds everyone here
    assert "segment" not in read_run_record(outputs["box"])["seconds"]


def test_mask_variant_is_deterministic_with_hold(pets_clip):
    folder, _ = pets_clip
    written = []
    for run in (1, 2):
        output = folder / f"held{run}.mkv"
        result = CliRunner().invoke(app, ["foreground", str(folder / "clip.mkv"),
                                          str(folder / "d.vcmd"), "-p", "mask=selfie", "-p",
                                          "hold=2", "-o", str(output),
                                          "--no-progress"])
        assert result.exit_code == 0, result.output
        written.append(output.read_bytes())
    assert written[0] == written[1]
    # Frames 1 and 2 share one held region; frame 3 has its own.
    rendered = list(open_video(folder / "held1.mkv"))
    kept = [frame.any(axis=2) for frame in rendered]
    np.testing.assert_array_equal(kept[0], kept[1])
    assert (kept[2] != kept[0]).any()
