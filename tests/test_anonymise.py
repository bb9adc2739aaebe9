"""Anonymised foregrounds (vcm.anonymise, the ``anonymise`` foreground option): by hand, and on a
real face from the mirror's COCO images through the codec (issue 22, item 5)."""

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from vcm.anonymise import (
    FILL_VALUE,
    anonymise_image,
    block_side,
    face_rectangles,
    grown_faces,
    head_box,
    pixelate,
    upper_window,
)
from vcm.boxes import merged_boxes
from vcm.cli import app
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats import write_detections
from vcm.errors import VcmError
from vcm.experiment.points import foreground_label
from vcm.masking import ForegroundOptions
from vcm.pipeline import AnonymiseStage, Frame, ForegroundStage, foreground_stages
from vcm.runrecord import read_run_record
from vcm.video import open_video, write_lossless_video

from conftest import require_mirror


# -- by hand ------------------------------------------------------------------------------------


def test_pixelate_gives_each_block_the_rounded_mean_of_its_pixels():
    # 4 x 5 region, blocks of 3: rows 0-2 / 3, columns 0-2 / 3-4.
    region = np.arange(20, dtype=np.uint8).reshape(4, 5)[..., None]
    # Block (0, 0): rows 0..2, columns 0..2 = 0,1,2,5,6,7,10,11,12: mean 6.
    # Block (0, 1): 3,4,8,9,13,14: mean 8.5 -> 8 (round half to even).
    # Block (1, 0): 15,16,17: mean 16.  Block (1, 1): 18, 19: mean 18.5 -> 18.
    assert pixelate(region, 3)[..., 0].tolist() == [
        [6, 6, 6, 8, 8],
        [6, 6, 6, 8, 8],
        [6, 6, 6, 8, 8],
        [16, 16, 16, 18, 18],
    ]


def test_block_side_and_windows_by_hand():
    assert block_side(np.array([10, 20, 30, 61]), 8) == 6  # long side 41 / 8 = 5.1 -> 6
    assert block_side(np.array([0, 0, 3, 3]), 8) == 1
    # Box 40 wide, 100 high at (10, 20): upper square of side max(40, 50) = 50 about x = 30.
    np.testing.assert_allclose(upper_window(np.array([10, 20, 50, 120])), [5, 20, 55, 70])
    # A wide box (120 x 60): side max(120, 30) = 120.
    np.testing.assert_allclose(upper_window(np.array([0, 0, 120, 60])), [0, 0, 120, 120])
    np.testing.assert_allclose(grown_faces(np.array([[10, 10, 30, 50]]), 0.25),
                               [[5, 0, 35, 60]])
    np.testing.assert_allclose(head_box(np.array([10, 20, 50, 120]), 0.2), [10, 20, 50, 40])


def test_overlapping_faces_merge_into_one_box():
    faces = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [8, 8, 22, 22], [40, 0, 50, 10],
                      [50, 0, 60, 10]])
    # Box 3 shares area with box 1 (8..10 x 8..10) and box 2 (20..22 x 20..22): one group,
    # 0..30 x 0..30. Boxes 4 and 5 only touch at x = 50 (no shared area): apart.
    np.testing.assert_array_equal(merged_boxes(faces), [[0, 0, 30, 30], [40, 0, 50, 10],
                                                        [50, 0, 60, 10]])
    assert merged_boxes(np.zeros((0, 4))).shape == (0, 4)


def test_face_rectangles_grow_faces_and_fall_back_on_the_head_region():
    boxes = np.array([[10, 20, 50, 120], [60, 0, 100, 50.5]])
    faces = [np.array([[20, 24, 36, 40]]), np.zeros((0, 4))]
    # Face 16 x 16 grown by 0.25: 4 px each side -> 16..40, 20..44. Box 2 has no face: its
    # top 0.2 (10.1 px) -> rows 0..10.1, rounded outwards to 0..11.
    np.testing.assert_array_equal(face_rectangles(faces, boxes, 200, 100, margin=0.25, head=0.2),
                                  [[16, 20, 40, 44], [60, 0, 100, 11]])
    # head 0: a box without a face keeps its pixels.
    np.testing.assert_array_equal(face_rectangles(faces, boxes, 200, 100, margin=0.0, head=0.0),
                                  [[20, 24, 36, 40]])
    # Cut to the frame: a face at the edge grown past it.
    np.testing.assert_array_equal(
        face_rectangles([np.array([[0, 0, 8, 8]])], boxes[:1], 30, 30, margin=0.5, head=0.2),
        [[0, 0, 12, 12]])
    assert face_rectangles([], np.zeros((0, 4)), 30, 30, margin=0.5, head=0.2).shape == (0, 4)


def test_anonymise_image_changes_the_rectangles_only():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(40, 60, 3), dtype=np.uint8)
    rectangles = np.array([[10, 5, 26, 21], [40, 30, 60, 40]])
    inside = np.zeros((40, 60), dtype=bool)
    inside[5:21, 10:26] = inside[30:40, 40:60] = True
    for how in ("fill", "pixelate", "blur"):
        result = anonymise_image(image, rectangles, how, 4)
        np.testing.assert_array_equal(result[~inside], image[~inside])
        assert result.dtype == np.uint8 and result.shape == image.shape
    assert (anonymise_image(image, rectangles, "fill", 4)[inside] == FILL_VALUE).all()
    # Pixelated with 4 blocks across the long side 16: blocks of 4 x 4, each one value.
    pixelated = anonymise_image(image, rectangles, "pixelate", 4)[5:21, 10:26].astype(int)
    blocks = pixelated.reshape(4, 4, 4, 4, 3)
    assert (blocks == blocks[:, :1, :, :1]).all()
    # Uniform noise has variance 256^2 / 12 = 5461; a Gaussian of sigma 4 px averages about
    # 4 pi sigma^2 = 201 pixels, so the variance falls by about that factor (to ~27).
    blurred = anonymise_image(image, rectangles, "blur", 4)[5:21, 10:26].astype(float)
    assert blurred.var() < 5461 / 50
    np.testing.assert_array_equal(anonymise_image(image, rectangles, "none", 4), image)
    with pytest.raises(ValueError, match="anonymise must be one of"):
        anonymise_image(image, rectangles, "smudge", 4)


class HandFaces:
    """A face finder that reports the given faces for every box (frame pixels)."""

    def __init__(self, faces):
        self.faces_found = faces
        self.calls = []

    def faces(self, frame_bgr, boxes):
        self.calls.append(np.asarray(boxes).copy())
        return [self.faces_found] * len(boxes)

    def describe(self):
        return {"name": "hand"}


def test_the_stage_anonymises_the_original_before_the_foreground_is_composed():
    image = np.full((60, 80, 3), 200, dtype=np.uint8)
    frame = Frame(1, image, boxes=np.array([[10.0, 10.0, 40.0, 58.0], [50, 5, 70, 20]]),
                  scores=np.array([0.9, 0.3]))
    options = ForegroundOptions(anonymise="fill", anonymise_margin=0.0, margin_px=2)
    finder = HandFaces(np.array([[20.0, 12.0, 30.0, 22.0]]))
    stages = foreground_stages(options, min_score=0.5, face_finder=finder)
    assert [type(stage) for stage in stages] == [AnonymiseStage, ForegroundStage]
    (anonymised,) = stages[0].process_batch([frame])
    # Only the box scoring >= 0.5, grown by 2 px (the kept box): 8..42, 8..60 (cut).
    np.testing.assert_array_equal(finder.calls[0], [[8, 8, 42, 60]])
    np.testing.assert_array_equal(anonymised.records["anonymise"], [[20, 12, 30, 22]])
    (rendered,) = stages[1].process_batch([anonymised])
    face = np.zeros((60, 80), dtype=bool)
    face[12:22, 20:30] = True
    kept = np.zeros((60, 80), dtype=bool)
    kept[8:60, 8:42] = True
    assert (rendered.image[face] == FILL_VALUE).all()
    assert (rendered.image[kept & ~face] == 200).all()
    assert (rendered.image[~kept] == 0).all()
    assert stages[0].counts() == {"boxes": 1, "boxes_with_face": 1, "faces": 1, "boxes_head": 0}
    # No face found: the top 0.2 of the kept box (rows 8..18.4 -> 8..19) instead.
    stage = AnonymiseStage(HandFaces(np.zeros((0, 4))), options, min_score=0.5)
    (anonymised,) = stage.process_batch([frame])
    np.testing.assert_array_equal(anonymised.records["anonymise"], [[8, 8, 42, 19]])
    assert stage.counts()["boxes_head"] == 1


# -- the option ---------------------------------------------------------------------------------


def test_the_options_are_checked_and_recorded_only_when_on():
    assert ForegroundOptions(anonymise="none", anonymise_blocks=3).is_paper
    assert not ForegroundOptions(anonymise="blur").is_paper
    assert "anonymise" not in ForegroundOptions().describe()
    described = ForegroundOptions.from_options({"anonymise": "pixelate"}).describe()
    assert {key: described[key] for key in described if key.startswith("anonymise")} == {
        "anonymise": "pixelate", "anonymise_blocks": 8, "anonymise_margin": 0.25,
        "anonymise_head": 0.2}
    record = {"parameters": {"variant": {**ForegroundOptions().describe(), **described,
                                         "anonymise_blocks": 6}}}
    assert foreground_label(record) == "anonymise=pixelate,anonymise_blocks=6"
    for bad, problem in [({"anonymise": "smudge"}, "anonymise must be one of none, blur, "
                          "pixelate, fill"),
                         ({"anonymise_blocks": 1}, "anonymise_blocks must be an integer in 2..64"),
                         ({"anonymise_blocks": 8.0}, "anonymise_blocks must be a whole number"),
                         ({"anonymise_margin": -0.1}, "anonymise_margin must be in 0..2"),
                         ({"anonymise_head": 1.5}, "anonymise_head must be in 0..1"),
                         ({"anonymise_head": float("nan")}, "anonymise_head must be in 0..1")]:
        with pytest.raises(VcmError, match=f"foreground option: {problem}"):
            ForegroundOptions.from_options(bad)


def test_the_cli_refuses_a_bad_anonymise_option_and_writes_nothing(tmp_path):
    result = CliRunner().invoke(app, ["foreground", str(tmp_path / "v.mkv"), str(tmp_path / "d.vcmd"),
                                      "-p", "anonymise=smudge", "-o", str(tmp_path / "fg.mkv")])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(
        "error: foreground option: anonymise must be one of none, blur, pixelate, fill")
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_variant_may_anonymise_and_a_bad_value_stops_the_sweep(tmp_path):
    import yaml

    from vcm.config import load_config, multitask_variants
    from test_config import CONFIGS

    config = yaml.safe_load((CONFIGS / "ci.yaml").read_text())
    config["variants"] = {"anonymous": {"foreground": {"anonymise": "pixelate",
                                                       "anonymise_blocks": 6}}}
    path = tmp_path / "anonymous.yaml"
    path.write_text(yaml.safe_dump(config))
    pipelines = multitask_variants(load_config(path))
    assert pipelines["multitask-anonymous"]["foreground"] == {"anonymise": "pixelate",
                                                               "anonymise_blocks": 6}
    config["variants"] = {"anonymous": {"foreground": {"anonymise": "smudge"}}}
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(VcmError, match="anonymise"):
        load_config(path)


# -- a real face, through the codec -------------------------------------------------------------

COCO_IMAGE = "000000000785.jpg"
"""A skier facing the camera: COCO person 785, box (280.79, 44.73) 218.7 x 346.68 pixels,
nose (367, 81), eyes (374, 73) and (360, 75), ears (386, 78) and (356, 81) labelled."""
CUT = (240, 0)  # the clip is the image's columns 240..559, rows 0..415
FACE_KEYPOINTS = np.array([[367, 81], [374, 73], [360, 75], [386, 78], [356, 81]]) - CUT


def face_clip(tmp_path):
    """A 2-frame 320 x 416 lossless clip of the skier and its detections file."""
    image = cv2.imread(str(require_mirror("datasets", "coco-keypoints-mini", COCO_IMAGE)))
    crop = np.ascontiguousarray(image[0:416, 240:560])
    clip = tmp_path / "skier.mkv"
    write_lossless_video(iter([crop, crop]), clip, width=320, height=416, fps=7)
    box = [280.79 - 240, 44.73, 280.79 + 218.7 - 240, 44.73 + 346.68]
    detections = tmp_path / "skier.vcmd"
    write_detections(DetectionSequence(320, 416, [FrameDetections(number, [box], [0.9])
                                                  for number in (1, 2)]), detections)
    return clip, detections, crop, box


def foreground(clip, detections, output, *options):
    flags = [part for option in options for part in ("-p", option)]
    result = CliRunner().invoke(app, ["foreground", str(clip), str(detections), "-o", str(output),
                                      "--no-progress", *flags])
    assert result.exit_code == 0, result.output
    return np.stack(list(open_video(output)))


def code(video, tmp_path, qp=22):
    from vcm.codecs import decode_video, encode_video

    bitstream = tmp_path / f"{video.stem}.266"
    encode_video(video, bitstream, codec="vvenc", qp=qp, progress=False)
    decoded = tmp_path / f"{video.stem}.decoded.mkv"
    decode_video(bitstream, decoded, width=320, height=416, fps=7, codec="vvenc")
    return np.stack(list(open_video(decoded)))


def within_block_variance(luma, rectangle, side):
    """Mean over the whole side x side blocks of ``rectangle`` of the variance inside each."""
    c0, r0, c1, r1 = rectangle
    rows, columns = (r1 - r0) // side, (c1 - c0) // side
    blocks = luma[r0:r0 + rows * side, c0:c0 + columns * side].astype(float)
    return blocks.reshape(rows, side, columns, side).var(axis=(1, 3)).mean()


def test_a_real_face_is_anonymised_in_the_coded_foreground(tmp_path):
    from vcm.anonymise import FaceFinder

    clip, detections, crop, box = face_clip(tmp_path)
    plain = foreground(clip, detections, tmp_path / "plain.mkv")
    filled = foreground(clip, detections, tmp_path / "fill.mkv", "anonymise=fill")
    pixelated = foreground(clip, detections, tmp_path / "pixelate.mkv", "anonymise=pixelate")
    record = read_run_record(tmp_path / "pixelate.mkv")
    assert record["parameters"]["anonymiser"]["boxes_with_face"] == 2
    assert "anonymise" in record["seconds"]

    # Before coding: the filled pixels are exactly FILL_VALUE, and they cover every labelled
    # face keypoint (COCO's hand labels, not the detector's).
    region = (filled[0] == FILL_VALUE).all(axis=2) & ~(plain[0] == FILL_VALUE).all(axis=2)
    rows, columns = np.nonzero(region)
    rectangle = (columns.min(), rows.min(), columns.max() + 1, rows.max() + 1)
    assert region[rectangle[1]:rectangle[3], rectangle[0]:rectangle[2]].mean() > 0.99
    for x, y in FACE_KEYPOINTS:
        assert rectangle[0] <= x < rectangle[2] and rectangle[1] <= y < rectangle[3]
    # Outside the face the foreground is the plain one, pixel for pixel.
    outside = np.ones(plain.shape[1:3], dtype=bool)
    outside[rectangle[1]:rectangle[3], rectangle[0]:rectangle[2]] = False
    np.testing.assert_array_equal(filled[0][outside], plain[0][outside])
    np.testing.assert_array_equal(pixelated[0][outside], plain[0][outside])
    # Pixelated: blocks of ceil(long side / 8) pixels from the region's corner, each one
    # value, so the variance inside every block is 0 before coding.
    side = block_side(np.array(rectangle), 8)
    luma = lambda frames: cv2.cvtColor(frames[0], cv2.COLOR_BGR2GRAY)  # noqa: E731
    assert within_block_variance(luma(pixelated), rectangle, side) == 0.0
    assert within_block_variance(luma(plain), rectangle, side) > 20

    # Coded at QP 22 and decoded: the face is still there in the plain foreground, gone in
    # the anonymised ones; inside the pixelation blocks only the codec's error is left.
    finder = FaceFinder()
    try:
        decoded = {name: code(tmp_path / f"{name}.mkv", tmp_path)
                   for name in ("plain", "fill", "pixelate")}
        found = {name: len(finder.faces(frames[0], np.array([box]))[0])
                 for name, frames in decoded.items()}
    finally:
        finder.close()
    assert found["plain"] >= 1 and found["fill"] == 0 and found["pixelate"] == 0
    # Away from its edge (4 px: chroma is coded at half resolution, and the codec's
    # transforms and filters reach across the edge), the fill survives coding within 3 levels.
    interior = cv2.erode(region.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert interior.sum() > 1000
    assert np.abs(decoded["fill"][0][interior].astype(int) - FILL_VALUE).max() <= 3
    assert (within_block_variance(luma(decoded["pixelate"]), rectangle, side)
            < within_block_variance(luma(decoded["plain"]), rectangle, side) / 10)


@pytest.mark.parametrize("command", [["live"], ["stream", "--loopback"]])
def test_the_live_edge_takes_and_checks_the_option(tmp_path, small_clip, mirror, command):
    clip, _ = small_clip
    result = CliRunner().invoke(app, [*command, str(clip), "-o", str(tmp_path / "results.jsonl"),
                                      "--root", str(tmp_path / "sessions"), "--no-progress",
                                      "--foreground-option", "anonymise=smudge"])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "anonymise must be one of none, blur, pixelate, fill" in errors[0]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clip.mkv"]
