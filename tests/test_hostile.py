"""Hostile input through the CLI (issue 11): each class of bad input gets exit 1, one `error:`
line naming the file, no traceback and no file written; sizes are bounded by what the video
and the file justify; huge coordinates are clipped, not overflowed."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import yaml

from vcm.datasets.mot import MAX_FRAMES, read_mot_txt
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats.voc_zip import read_detections_zip, write_detections_zip
from vcm.metrics.tracking import evaluate_tracking, tracking_accumulator
from vcm.tracks import FrameTracks, TrackSequence
from vcm.video import open_video

from clips import moving_square_frames
from hostile import (
    FRAMES, HEIGHT, WIDTH, assert_refused, coco_ground_truth, coco_results, invoke,
    make_sequence, snapshot, write_json,
)

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "configs")


@pytest.fixture
def root(tmp_path):
    """A folder holding a sequence ``seq`` and its oracle detections ``dets.zip``."""
    make_sequence(tmp_path / "seq")
    detections = DetectionSequence(
        WIDTH, HEIGHT,
        [FrameDetections(n, [[4.0 + n, 10.0, 20.0 + n, 26.0]], [1.0]) for n in
         range(1, FRAMES + 1)],
        source="seq",
    )
    write_detections_zip(detections, tmp_path / "dets.zip")
    return tmp_path


def _detections_with_box(path, box):
    """A detections zip for the 6-frame sequence with ``box`` in every frame."""
    write_detections_zip(DetectionSequence(
        WIDTH, HEIGHT, [FrameDetections(n, [box], [0.9]) for n in range(1, FRAMES + 1)],
        source="seq"), path)
    return path


# --------------------------------------------------------- 4: bounded memory and time


def test_pose_on_a_box_of_a_million_pixels_clips_it_to_the_frame(root):
    """Before the fix, blazepose asked numpy for a 1.25e6 x 1.25e6 crop (4 TiB)."""
    huge = _detections_with_box(root / "huge.zip", [-1e6, -1e6, 1e6, 1e6])
    result = invoke("pose", root / "seq", huge, "-o", root / "poses.json", "--no-progress")
    assert result.exit_code == 0, result.output
    poses = json.loads((root / "poses.json").read_text())
    # At most one pose per box and frame; every keypoint lies near the frame (the crop is
    # the frame padded by 25 %, so no coordinate can be further than that outside it).
    assert len(poses) <= FRAMES
    for pose in poses:
        xy = np.array(pose["keypoints"]).reshape(-1, 3)[:, :2]
        assert (np.abs(xy) < 2 * max(WIDTH, HEIGHT)).all()


def test_pose_skips_a_box_wholly_outside_the_frame(root):
    outside = _detections_with_box(root / "outside.zip", [500.0, 500.0, 600.0, 600.0])
    result = invoke("pose", root / "seq", outside, "-o", root / "poses.json", "--no-progress")
    assert result.exit_code == 0, result.output
    assert json.loads((root / "poses.json").read_text()) == []


@pytest.mark.parametrize("frame", ["1000000000000", str(MAX_FRAMES + 1), "2000000"])
def test_a_ground_truth_row_far_past_any_video_is_refused(root, frame):
    gt = root / "gt.txt"
    gt.write_text(f"1,1,5,10,16,16,1,1,1\n{frame},1,5,10,16,16,1,1,1\n")
    assert_refused(root, ["evaluate", "track", root / "seq" / "gt" / "gt.txt", "--gt", gt],
                   f"{gt}:2:", message=f"frame must be a whole number in 1..{MAX_FRAMES}")


def test_a_tracks_row_far_past_any_video_is_refused(root):
    tracks = root / "tracks.txt"
    tracks.write_text("1,1,5,10,16,16,1,-1,-1,-1\n1000000000000,2,5,10,16,16,1,-1,-1,-1\n")
    assert_refused(root, ["evaluate", "track", tracks, "--gt", root / "seq" / "gt" / "gt.txt"],
                   f"{tracks}:2:")


def test_tracking_evaluation_works_per_frame_with_boxes_not_per_frame_number(tmp_path):
    """One ground-truth box in frame 1 and one track box in frame 900000: two frames of work
    (a second per 10^4 empty frames before), and the counts of a 900000-frame video."""
    (tmp_path / "gt.txt").write_text("1,1,0,0,10,10,1,1,1\n")
    gt = read_mot_txt(tmp_path / "gt.txt")
    tracks = TrackSequence([FrameTracks(1, [1], [[0, 0, 10, 10]], [0.9]),
                            FrameTracks(900_000, [1], [[50, 50, 60, 60]], [0.9])])
    assert tracking_accumulator(gt, tracks).events.index.get_level_values(0).nunique() == 2
    result = evaluate_tracking(gt, tracks)
    assert result["num_frames"] == 900_000
    assert (result["num_matches"], result["num_false_positives"], result["num_misses"]) == (1, 1, 0)
    assert result["mota"] == pytest.approx(1 - (0 + 1 + 0) / 1)


@pytest.mark.parametrize("name", ["1000000000.xml", f"{MAX_FRAMES}.json"])
def test_a_hieve_frame_file_far_past_any_video_is_refused(root, name):
    folder = root / "hieve"
    folder.mkdir()
    (folder / name).write_text("<annotation/>" if name.endswith(".xml") else "{}")
    assert_refused(root, ["data", "hieve-pose", folder, "-o", root / "gt.json"],
                   str(folder / name), message="is past")


def test_a_hieve_frame_count_past_the_bound_is_refused(root):
    folder = root / "hieve"
    folder.mkdir()
    (folder / "000000.json").write_text('{"annotation": {"object": []}}')
    assert_refused(root, ["data", "hieve-pose", folder, "-o", root / "gt.json", "--frames",
                          "1000000000"], str(folder), message="frame count must be")


def _config_text(change=None) -> str:
    config = yaml.safe_load(open(os.path.join(CONFIGS, "ci.yaml")).read())
    if change:
        change(config)
    return yaml.safe_dump(config)


def test_a_yaml_alias_bomb_in_a_configs_options_is_refused(root):
    """Nine levels of nine aliases: 9^9 = 387 million values once expanded, from 1 KB."""
    lines = ["bomb0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        lines.append(f"bomb{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    text = _config_text().replace("pose: {estimator: blazepose, options: {}}", "")
    config = root / "bomb.yaml"
    config.write_text(text + "\n".join(lines) + "\npose:\n  estimator: blazepose\n"
                      "  options: {crops: *a8}\n")
    assert_refused(root, ["config", config], str(config), message="once its aliases are expanded")


@pytest.mark.parametrize("text, problem", [
    ("detector: &d {name: hog, options: {x: *d}}\n", "refers to a node that contains it"),
    ("a: " + "[" * 80 + "]" * 80 + "\n", "nested"),
    ("a: " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
    ("a: [1, 2\n", "not valid YAML"),
    ("a: \x00\n", "not valid YAML"),
])
def test_a_malformed_or_oversized_config_is_refused(root, text, problem):
    config = root / "bad.yaml"
    config.write_text(text)
    assert_refused(root, ["config", config], str(config), message=problem)


def test_a_config_larger_than_a_mebibyte_is_refused(root):
    config = root / "large.yaml"
    config.write_text(_config_text() + "#" * (1024 * 1024) + "\n")
    assert_refused(root, ["config", config], str(config), message="larger than")


# ------------------------------------------ 7: one error line instead of a traceback


@pytest.mark.parametrize("column", [0, 1, 2, 5, 6, 7])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e30", "1.5e308"])
def test_non_finite_or_huge_values_in_ground_truth_are_refused(root, column, value):
    fields = "2,1,5,10,16,16,1,1,1".split(",")
    fields[column] = value
    gt = root / "gt.txt"
    gt.write_text("1,1,5,10,16,16,1,1,1\n" + ",".join(fields) + "\n")
    if column == 6 and value in ("1e30", "1.5e308"):
        # A finite 'consider' flag other than 0 counts the row, however large.
        assert invoke("evaluate", "track", gt, "--gt", gt).exit_code == 0
        return
    assert_refused(root, ["evaluate", "track", root / "seq" / "gt" / "gt.txt", "--gt", gt],
                   f"{gt}:2:", message="malformed row")


@pytest.mark.parametrize("value", ["nan", "inf", "1e30", "0x10", ""])
def test_bad_values_in_tracks_are_refused(root, value):
    tracks = root / "tracks.txt"
    tracks.write_text(f"1,1,5,10,{value},16,1,-1,-1,-1\n")
    assert_refused(root, ["evaluate", "track", tracks, "--gt", root / "seq" / "gt" / "gt.txt"],
                   f"{tracks}:1:")


INVALID_UTF8 = b"1,1,5,10,16,16,1,1,1\n\xff\xfe\xc3(\n"


def test_invalid_utf8_in_every_text_input_is_refused(root):
    seq = root / "seq"
    bad = root / "bad.bin"
    bad.write_bytes(INVALID_UTF8)
    gt = seq / "gt" / "gt.txt"
    assert_refused(root, ["evaluate", "track", bad, "--gt", gt], str(bad), message="not UTF-8")
    assert_refused(root, ["evaluate", "track", gt, "--gt", bad], str(bad), message="not UTF-8")
    assert_refused(root, ["evaluate", "pose", bad, "--gt", bad], str(bad), message="not UTF-8")
    assert_refused(root, ["config", bad], str(bad))
    hieve = root / "hieve"
    hieve.mkdir()
    (hieve / "000000.json").write_bytes(b'{"annotation": "\xff"}')
    assert_refused(root, ["data", "hieve-pose", hieve, "-o", root / "h.json"],
                   str(hieve / "000000.json"), message="not UTF-8")
    (seq / "seqinfo.ini").write_bytes(b"[Sequence]\nname=\xff\n")
    assert_refused(root, ["detect", seq, "-o", root / "d.zip"], str(seq / "seqinfo.ini"),
                   message="not UTF-8")
    (root / "point.bpp.json").write_bytes(b'{"bpp": "\xff"}')
    assert_refused(root, ["point", "-o", root / "point.json", "--sequence", "s", "--pipeline",
                          "multitask", "--codec", "ffv1", "--qp", "22", "--bpp",
                          root / "point.bpp.json"], str(root / "point.bpp.json"))


@pytest.mark.parametrize("change, problem", [
    (lambda gt: gt["annotations"][0].update(keypoints=[1, 2, 3]),
     "1 keypoints, but the ground truth has 17"),
    (lambda gt: gt["annotations"][0].update(keypoints="17 keypoints"), "keypoints must be a list"),
    (lambda gt: gt["annotations"][0]["keypoints"].__setitem__(4, None), "keypoints must hold numbers"),
    (lambda gt: gt["annotations"][0].update(image_id="one"), "image_id must be an integer"),
    (lambda gt: gt["annotations"][0].update(image_id=1e300), "image_id must be at most"),
    (lambda gt: gt["annotations"][0].update(bbox=[1, 2, 3]), "bbox must hold 4 numbers"),
    (lambda gt: gt["annotations"][0].update(bbox=[0, 0, -5, 10]), "width and height"),
    (lambda gt: gt["annotations"][0].update(area="big"), "area must hold numbers"),
    (lambda gt: gt["annotations"][0].update(iscrowd=7), "iscrowd must be 0 or 1"),
    (lambda gt: gt["annotations"][0].pop("keypoints"), "missing 'keypoints'"),
    (lambda gt: gt["annotations"].append(5), "annotation 1: expected an object"),
    (lambda gt: gt["images"].append({"id": "two"}), "image 2: id must be an integer"),
    (lambda gt: gt["images"].append([3]), "image 2: expected an object"),
    (lambda gt: gt.update(images={"id": 1}), "'images' must be a list"),
    (lambda gt: gt.update(categories=[{"id": 1, "keypoints": 17}]), "keypoints must be a list"),
    (lambda gt: gt.update(categories="person"), "'categories' must be a list"),
])
def test_malformed_coco_ground_truth_is_refused(root, change, problem):
    gt = coco_ground_truth()
    change(gt)
    gt_path = write_json(root / "gt.json", gt)
    results = write_json(root / "results.json", coco_results())
    assert_refused(root, ["evaluate", "pose", results, "--gt", gt_path], str(gt_path),
                   message=problem)


@pytest.mark.parametrize("results, problem", [
    ({"image_id": 1}, "expected a JSON list"),
    ([{"image_id": 1, "keypoints": [1.0] * 51}], "missing 'score'"),
    ([{"image_id": 1, "keypoints": [1.0] * 50, "score": 1}], "3K numbers"),
    ([{"image_id": 1, "keypoints": [1.0] * 48, "score": 1}], "16 keypoints"),
    ([{"image_id": True, "keypoints": [1.0] * 51, "score": 1}], "image_id must be an integer"),
    ([{"image_id": 1, "keypoints": [1.0] * 51, "score": "high"}], "score must hold numbers"),
    ([{"image_id": 1, "keypoints": [1.0] * 51, "score": 1, "bbox": {}}], "bbox must be a list"),
    ([{"image_id": 9, "keypoints": [1.0] * 51, "score": 1}], "image ids 9"),
    ([[]], "expected an object"),
])
def test_malformed_coco_results_are_refused(root, results, problem):
    gt_path = write_json(root / "gt.json", coco_ground_truth())
    results_path = write_json(root / "results.json", results)
    assert_refused(root, ["evaluate", "pose", results_path, "--gt", gt_path],
                   "results", message=problem)


def test_non_finite_json_numbers_in_results_are_refused(root):
    gt_path = write_json(root / "gt.json", coco_ground_truth())
    results = root / "results.json"
    results.write_text('[{"image_id": 1, "keypoints": [NaN' + ", 1" * 50 + '], "score": 1}]')
    assert_refused(root, ["evaluate", "pose", results, "--gt", gt_path], str(results),
                   message="finite")


@pytest.mark.parametrize("which", ["results", "gt"])
def test_deeply_nested_json_is_refused(root, which):
    paths = {"results": write_json(root / "results.json", coco_results()),
             "gt": write_json(root / "gt.json", coco_ground_truth())}
    paths[which].write_text("[" * 100_000 + "]" * 100_000)
    assert_refused(root, ["evaluate", "pose", paths["results"], "--gt", paths["gt"]],
                   str(paths[which]), message="nested too deeply")


def test_a_json_integer_too_long_to_convert_is_refused(root):
    gt_path = write_json(root / "gt.json", coco_ground_truth())
    results = root / "results.json"
    results.write_text('[{"image_id": ' + "9" * 5000 + "}]")
    assert_refused(root, ["evaluate", "pose", results, "--gt", gt_path], str(results),
                   message="not valid JSON")


@pytest.mark.parametrize("arguments, message", [
    (["track", "{dets}", "-o", "{out}", "-p", "track_buffer=-5"],
     "tracker iou: option track_buffer must be at least 0, got -5"),
    (["track", "{dets}", "-o", "{out}", "-p", "first_match_cost=.nan"],
     "option first_match_cost must be a finite number"),
    (["track", "{dets}", "-o", "{out}", "-p", "first_match_cost=nan"],
     "option first_match_cost must be a number, got 'nan'"),
    (["track", "{dets}", "-o", "{out}", "-p", "gating=maybe"], "option gating must be of type bool"),
    (["track", "{dets}", "-o", "{out}", "-p", "track_buffer=[1"], "not valid YAML"),
    (["track", "{dets}", "-o", "{out}", "-p", "track_buffer=*x"], "not valid YAML"),
    (["track", "{dets}", "-o", "{out}", "-p", "track_buffer"], "not of the form key=value"),
    (["track", "{dets}", "-o", "{out}", "-p", "bogus=1"], "tracker iou: unknown option 'bogus'"),
    (["pose", "{seq}", "{dets}", "-o", "{out}", "-p", "padding=-1"],
     "pose estimator blazepose: option padding must be at least 0, got -1"),
    (["pose", "{seq}", "{dets}", "-o", "{out}", "-p", "aspect=1e9"], "option aspect must be at most 10"),
    (["pose", "{seq}", "{dets}", "-o", "{out}", "-p", "model_complexity=3"],
     "option model_complexity must be one of 0, 1, 2"),
    (["segment", "{seq}", "{dets}", "-o", "{out}", "-p", "threshold=1"],
     "segmenter mediapipe: option threshold must be at most 0.999, got 1"),
    (["segment", "{seq}", "{dets}", "-o", "{out}", "-p", "model=sam"],
     "option model must be one of selfie, pose"),
    (["detect", "{seq}", "-o", "{out}", "-p", "threads=0"],
     "detector hog: option threads must be at least 1, got 0"),
    (["detect", "{seq}", "-o", "{out}", "-p", "win_stride=[8]"], "option win_stride must be a list of 2"),
    (["detect", "{seq}", "-o", "{out}", "-p", "scale=1.0"], "option scale must be greater than 1"),
    (["detect", "{seq}", "-o", "{out}", "--detector", "oracle", "-p", "drop=2"],
     "option drop must be at most 1"),
    (["encode", "{seq}", "-o", "{out}", "--codec", "x265", "--qp", "60"],
     "x265: QP 60 is out of range 0..51"),
    (["encode", "{seq}", "-o", "{out}", "--codec", "x265", "-p", "preset=faster$(touch {out})"],
     "option preset must be one of"),
    (["encode", "{seq}", "-o", "{out}", "--codec", "vvenc", "-p", "threads=0"],
     "codec vvenc: option threads must be at least 1"),
    (["encode", "{seq}", "-o", "{out}", "--codec", "ffv1", "-p", "preset=slow"],
     "codec ffv1: unknown option 'preset'; it takes none"),
])
def test_backend_options_out_of_range_are_refused(root, arguments, message):
    out = root / "out.file"
    arguments = [argument.format(dets=root / "dets.zip", seq=root / "seq", out=out)
                 for argument in arguments]
    assert_refused(root, arguments, "", message=message)
    assert not out.exists()


@pytest.mark.parametrize("setting", ["/nonexistent/ffmpeg", "{root}/not-executable",
                                     "{root}/not-a-program", "{root}"])
def test_an_unusable_vcm_ffmpeg_is_refused(root, setting):
    (root / "not-executable").write_text("#!/bin/sh\n")
    (root / "not-a-program").write_text("no shebang here\n")
    (root / "not-a-program").chmod(0o755)
    setting = setting.format(root=root)
    line = assert_refused(root, ["encode", root / "seq", "-o", root / "out.mkv", "--codec",
                                 "ffv1", "--no-progress"], setting, env={"VCM_FFMPEG": setting})
    assert "not an executable file" in line or "cannot run" in line


@pytest.fixture
def bitstream(root):
    """An FFV1 bitstream of the sequence and its sidecar."""
    output = root / "coded.mkv"
    result = invoke("encode", root / "seq", "-o", output, "--codec", "ffv1", "--no-progress")
    assert result.exit_code == 0, result.output
    return output


@pytest.mark.parametrize("change, problem", [
    (lambda record: record.update(width=-1), "width must be at least 1"),
    (lambda record: record.update(width=10**9), "width must be at most"),
    (lambda record: record.update(fps="fast"), "fps must be a number"),
    (lambda record: record.update(fps=math.nan), "fps must be a finite number"),
    (lambda record: record.update(frames=True), "frames must be a whole number"),
    (lambda record: record.update(codec="nope"), "unknown codec 'nope'"),
    (lambda record: record.update(codec="vtm", options={"decoder": ["sh", "-c", "x"]}),
     "option decoder must be a path"),
    (lambda record: record.update(options={"threads": -1}), "unknown option 'threads'"),
    (lambda record: record.update(options="fast"), "options must be of type dict"),
    (lambda record: record.update(argv=[["ffmpeg", 1]]), "argv must be a list of lists of text"),
    (lambda record: record.pop("qp"), "missing qp, unexpected nothing"),
    (lambda record: record.update(extra=1), "missing nothing, unexpected 'extra'"),
])
def test_a_hostile_sidecar_is_refused(root, bitstream, change, problem):
    sidecar = bitstream.with_name(bitstream.name + ".json")
    record = json.loads(sidecar.read_text())
    change(record)
    sidecar.write_text(json.dumps(record))
    assert_refused(root, ["decode", bitstream, "-o", root / "decoded.mkv"], str(sidecar),
                   message=problem)


def test_a_sidecar_that_is_not_an_object_is_refused(root, bitstream):
    sidecar = bitstream.with_name(bitstream.name + ".json")
    sidecar.write_text("[1, 2]")
    assert_refused(root, ["decode", bitstream, "-o", root / "decoded.mkv"], str(sidecar),
                   message="expected a JSON object")


@pytest.mark.parametrize("key, value, problem", [
    ("frameRate", "nan", "frameRate must be a number"),
    ("frameRate", "inf", "frameRate must be a number"),
    ("frameRate", "0", "frameRate must be a number"),
    ("frameRate", "1e9", "frameRate must be a number"),
    ("seqLength", "1000000000000", "seqLength must be"),
    ("seqLength", "-6", "seqLength must be"),
    ("imWidth", "0", "imWidth and imHeight"),
    ("imHeight", "100000000", "imWidth and imHeight"),
    ("imWidth", "9.5", "malformed seqinfo.ini"),
    ("imDir", "../..", "imDir must be a plain name"),
    ("imExt", "/../x.png", "imExt must be a plain name"),
])
def test_a_bad_seqinfo_is_refused(root, key, value, problem):
    ini = root / "seq" / "seqinfo.ini"
    lines = [f"{key}={value}" if line.startswith(f"{key}=") else line
             for line in ini.read_text().splitlines()]
    ini.write_text("\n".join(lines) + "\n")
    assert_refused(root, ["detect", root / "seq", "-o", root / "d.zip"], str(ini),
                   message=problem)


def test_a_seqinfo_without_its_section_is_refused(root):
    ini = root / "seq" / "seqinfo.ini"
    ini.write_text("name=seq\n")
    assert_refused(root, ["bpp", root / "dets.zip", "--like", root / "seq"], str(ini),
                   message="malformed seqinfo.ini")


@pytest.mark.parametrize("output", [".", "{root}/dets.zip/inside.txt", "{root}/seq/seqinfo.ini/x"])
def test_an_output_that_cannot_be_a_file_is_refused(root, output):
    assert_refused(root, ["track", root / "dets.zip", "-o", output.format(root=root)], "")


# ------------------------------------------------- 8: the config check runs what the sweep runs


@pytest.mark.parametrize("change, problem", [
    (lambda c: c.update(codecs={"x265": {"preset": "fast"}}, qps=[22, 60]),
     "qps: x265: QP 60 is out of range 0..51"),
    (lambda c: c["codecs"].update(vvenc={"preset": "turbo"}), "codecs/vvenc: option preset"),
    (lambda c: c["codecs"].update(vvenc={"intra_period": 0}), "codecs/vvenc: option intra_period"),
    (lambda c: c["pose"].update(options={"paddng": 1.2}),
     "pose/options: unknown option 'paddng'"),
    (lambda c: c["pose"].update(options={"padding": -1}), "pose/options: option padding"),
    (lambda c: c["segment"].update(options={"restrict": "frame"}),
     "segment/options: option restrict must be one of window, box"),
    (lambda c: c["track"].update(options={"track_buffer": -5}),
     "track/options: option track_buffer must be at least 0"),
    (lambda c: c["detector"].update(options={"threads": 0}), "detector/options: option threads"),
    (lambda c: c["single_task"]["pose"].update(options={"scale": "big"}),
     "single_task/pose/options: option scale must be a number"),
])
def test_the_config_check_refuses_what_the_sweep_cannot_run(root, change, problem):
    config = root / "config.yaml"
    config.write_text(_config_text(change))
    assert_refused(root, ["config", config], str(config), message=problem)


def test_every_backend_declares_its_options():
    from vcm.codecs import CODECS
    from vcm.detectors import DETECTORS
    from vcm.pose import POSE_ESTIMATORS
    from vcm.segmenters import SEGMENTERS
    from vcm.trackers import TRACKERS

    undeclared = [f"{registry.kind} {name}" for registry in (CODECS, DETECTORS, POSE_ESTIMATORS,
                                                              SEGMENTERS, TRACKERS)
                  for name in registry.names() if registry.schema(name) is None]
    assert undeclared == []


def test_shipped_configs_still_pass(root):
    for name in ("ci.yaml", "default.yaml"):
        result = invoke("config", os.path.join(CONFIGS, name))
        assert result.exit_code == 0, result.output


def test_shipped_config_with_mirror_models_still_passes(root, mirror):
    result = invoke("config", os.path.join(CONFIGS, "lite.yaml"))  # yolo-fastest's weights
    assert result.exit_code == 0, result.output


# ------------------------------------------------------------------- 11: overflow


@pytest.mark.parametrize("far", [1e19, 1e308])
def test_foreground_keeps_a_box_past_int64_instead_of_dropping_it(root, far):
    detections = _detections_with_box(root / "far.zip", [10.0, 20.0, far, far])
    assert len(read_detections_zip(detections).frames[0]) == 1
    output = root / "fg.mkv"
    result = invoke("foreground", root / "seq", detections, "-o", output, "--no-progress")
    assert result.exit_code == 0, result.output
    originals = moving_square_frames(WIDTH, HEIGHT, FRAMES)
    for original, written in zip(originals, open_video(output), strict=True):
        # Kept: columns 10.., rows 20..; black: the rest.
        np.testing.assert_array_equal(written[20:, 10:], original[20:, 10:])
        assert not written[:20].any() and not written[:, :10].any()


def test_nothing_is_written_outside_an_accepted_commands_output(root):
    before = snapshot(root)
    result = invoke("track", root / "dets.zip", "-o", root / "tracks.txt")
    assert result.exit_code == 0, result.output
    after = snapshot(root)
    added = sorted(set(after) - set(before))
    assert added == ["tracks.txt", "tracks.txt.run.json"]
    assert {key: after[key] for key in before} == before


@pytest.mark.parametrize("document, problem", [
    ({"annotation": {"object": 5}}, "'object' must be a list"),
    ({"annotation": {"object": [{"bndbox": {"xmin": "nan", "ymin": 0, "xmax": 1, "ymax": 1}}]}},
     "bndbox values must be finite"),
    ({"annotation": {"object": [{"bndbox": [1, 2]}]}}, "'bndbox' must be an object"),
    ({"annotation": {"size": {"width": "1e9", "height": "10"}, "object": []}},
     "size width must be a whole number"),
    ({"annotation": {"size": {"width": 1e400, "height": "10"}, "object": []}},
     "size width must be a whole number"),
    ({"annotation": {"object": [{"name": "P-" + "9" * 40, "bndbox": {
        "xmin": 0, "ymin": 0, "xmax": 1, "ymax": 1}}]}}, "track number"),
    ([1, 2], "expected an 'annotation' object"),
])
def test_a_malformed_hieve_frame_file_is_refused(root, document, problem):
    folder = root / "hieve"
    folder.mkdir()
    frame_file = folder / "000000.json"
    frame_file.write_text(json.dumps(document))
    assert_refused(root, ["data", "hieve-pose", folder, "-o", root / "gt.json"], str(frame_file),
                   message=problem)


@pytest.mark.parametrize("key, value", [("frames", 10**12), ("width", 10**6), ("fps", 1e9),
                                        ("people", 10**7)])
def test_the_config_check_refuses_a_synthetic_clip_past_the_limits(root, key, value):
    config = root / "config.yaml"
    config.write_text(_config_text(lambda c: c["sequences"]["tiny"]["synth"].update({key: value})))
    assert_refused(root, ["config", config], str(config),
                   message=f"sequences/tiny/synth/{key}: {value} is greater than the maximum")
