"""The task commands (pose, track, segment, single-task, evaluate) called through typer's CliRunner."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from vcm.cli import app
from vcm.masks import encode_mask
from vcm.runrecord import read_run_record, run_record_path
from vcm.synth import synthesize_sequence

runner = CliRunner()


def invoke(*arguments):
    return runner.invoke(app, [str(argument) for argument in arguments])


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """8 frames of the synthetic sample at 320x240 with two people."""
    root = tmp_path_factory.mktemp("data") / "sample"
    synthesize_sequence(root, frames=8, width=320, height=240, people=2, seed=3)
    return root


def test_multitask_tracking_of_oracle_boxes(tmp_path, sample):
    detections = tmp_path / "detections.zip"
    assert invoke("detect", sample, "--detector", "oracle", "-o", detections, "--no-progress").exit_code == 0
    tracks = tmp_path / "tracks.txt"
    result = invoke("track", detections, "--tracker", "iou", "--like", sample, "-o", tracks)
    assert result.exit_code == 0, result.output
    assert read_run_record(tracks)["parameters"]["fps"] == 10.0
    result = invoke("evaluate", "track", tracks, "--gt", sample / "gt" / "gt.txt")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    gt_rows = len((sample / "gt" / "gt.txt").read_text().splitlines())
    # A JDE track is output from its second matched frame on, so each of the two people is
    # missed exactly once (frame 1) and nothing else goes wrong with exact boxes.
    assert (metrics["num_misses"], metrics["num_false_positives"], metrics["num_switches"]) == (2, 0, 0)
    assert metrics["num_objects"] == gt_rows
    assert metrics["mota"] == pytest.approx(1 - 2 / gt_rows)


def test_pose_from_decoded_foreground_and_evaluation(tmp_path, sample):
    detections = tmp_path / "detections.zip"
    invoke("detect", sample, "--detector", "oracle", "-o", detections, "--no-progress")
    foreground = tmp_path / "foreground.mkv"
    invoke("foreground", sample, detections, "-o", foreground, "--no-progress")
    invoke("encode", foreground, "--qp", "27", "-o", tmp_path / "fg.266", "--no-progress")
    invoke("decode", tmp_path / "fg.266", "-o", tmp_path / "decoded.mkv")
    poses = tmp_path / "pose.json"
    result = invoke("pose", tmp_path / "decoded.mkv", detections, "--estimator", "blazepose",
                    "-o", poses, "--no-progress")
    assert result.exit_code == 0, result.output
    results = json.loads(poses.read_text())
    assert results and {entry["image_id"] for entry in results} <= set(range(1, 9))
    assert all(len(entry["keypoints"]) == 51 for entry in results)
    assert read_run_record(poses)["seconds"]["pose"] > 0
    result = invoke("evaluate", "pose", poses, "--gt", sample / "gt" / "keypoints.json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert {"AP", "AP50", "AP75", "AR"} <= set(metrics)
    assert 0.0 < metrics["AP"] <= 1.0


def test_single_task_baselines_record_their_steps(tmp_path, sample):
    tracks = tmp_path / "single_tracks.txt"
    result = invoke("single-task", "track", sample, "--codec", "vvenc", "--qp", "32",
                    "--detector", "oracle", "--detector-option", f"sequence={sample}",
                    "--tracker", "iou", "-o", tracks, "--workdir", tmp_path / "work", "--no-progress")
    assert result.exit_code == 0, result.output
    record = read_run_record(tracks)
    assert set(record["seconds"]) == {"encode", "decode", "detect", "track"}
    bitstream = tmp_path / "work" / "original_vvenc_qp32.266"
    assert record["parameters"]["bitstream_bytes"] == bitstream.stat().st_size
    assert record["parameters"]["qp"] == 32

    poses = tmp_path / "single_pose.json"
    result = invoke("single-task", "pose", sample, "--qp", "32", "--detector", "hog",
                    "--estimator", "blazepose", "-o", poses, "--no-progress")
    assert result.exit_code == 0, result.output
    assert set(read_run_record(poses)["seconds"]) == {"encode", "decode", "detect", "pose"}


def test_bad_task_inputs(tmp_path, sample):
    malformed = tmp_path / "tracks.txt"
    malformed.write_text("1,1,10,10,5,5,1,-1,-1,-1\n2,1,ten,10,5,5,1,-1,-1,-1\n")
    result = invoke("evaluate", "track", malformed, "--gt", sample / "gt" / "gt.txt")
    assert result.exit_code == 1 and "tracks.txt:2: malformed row" in result.output

    result = invoke("evaluate", "track", malformed, "--gt", tmp_path / "missing_gt.txt")
    assert result.exit_code == 1 and "missing_gt.txt: file does not exist" in result.output

    other_video = tmp_path / "pose.json"
    other_video.write_text(json.dumps([{"image_id": 999, "category_id": 1, "score": 0.9,
                                        "keypoints": [10.0, 10.0, 1.0] * 17}]))
    result = invoke("evaluate", "pose", other_video, "--gt", sample / "gt" / "keypoints.json")
    assert result.exit_code == 1 and "999" in result.output

    result = invoke("evaluate", "pose", tmp_path / "missing.json", "--gt", sample / "gt" / "keypoints.json")
    assert result.exit_code == 1 and "missing.json: file does not exist" in result.output


def test_hieve_ground_truth_converts_and_evaluates_coco_results(tmp_path):
    """`vcm data hieve-pose` then `vcm evaluate pose` with COCO 17-keypoint results: results
    whose mapped keypoints equal the ground truth score AP 1; moved 40 pixels, less."""
    import numpy as np

    from vcm.keypoints import PersonPose, write_pose_results

    folder = tmp_path / "hieve"
    folder.mkdir()
    # One person per frame; HiEve flags 0 = visible. Chest = shoulder midpoint.
    parts = {"Nose": (100, 50), "Chest": (100, 80), "Right-shoulder": (80, 80),
             "Left-shoulder": (120, 80), "Right-hip": (85, 160), "Left-hip": (115, 160),
             "Right-knee": (85, 210), "Left-knee": (115, 210)}
    body = "".join(f"<{name}>{x},{y},0</{name}>" for name, (x, y) in parts.items())
    for index in range(2):
        (folder / f"{index:06d}.xml").write_text(
            "<annotation><size><width>320</width><height>240</height></size><object>"
            "<name>P-1</name><bndbox><xmin>60</xmin><ymin>30</ymin><xmax>139</xmax>"
            f"<ymax>229</ymax>{body}</bndbox></object></annotation>")
    gt = tmp_path / "gt.json"
    result = invoke("data", "hieve-pose", folder, "-o", gt)
    assert result.exit_code == 0, result.output
    assert json.loads(gt.read_text())["categories"][0]["keypoints"][1] == "chest"

    coco = np.zeros((17, 3))
    coco[:, 2] = 0.9
    for coco_index, name in [(0, "Nose"), (6, "Right-shoulder"), (5, "Left-shoulder"),
                             (12, "Right-hip"), (11, "Left-hip"), (14, "Right-knee"),
                             (13, "Left-knee")]:
        coco[coco_index, :2] = parts[name]
    for shift, expected in [(0, 1.0), (40, 0.0)]:
        moved = coco.copy()
        moved[:, :2] += shift
        results = tmp_path / f"results{shift}.json"
        write_pose_results([PersonPose(frame, moved, 0.9) for frame in (1, 2)], results)
        outcome = invoke("evaluate", "pose", results, "--gt", gt)
        assert outcome.exit_code == 0, outcome.output
        assert json.loads(outcome.stdout)["AP"] == pytest.approx(expected)


# ---------------------------------------------------------------- segmentation


@pytest.fixture(scope="module")
def coded(tmp_path_factory, sample):
    """Oracle detections of the sample and its foreground video coded at QP 27, decoded."""
    folder = tmp_path_factory.mktemp("coded")
    detections = folder / "detections.zip"
    for arguments in [
        ("detect", sample, "--detector", "oracle", "-o", detections, "--no-progress"),
        ("foreground", sample, detections, "-o", folder / "foreground.mkv", "--no-progress"),
        ("encode", folder / "foreground.mkv", "--qp", "27", "-o", folder / "fg.266", "--no-progress"),
        ("decode", folder / "fg.266", "-o", folder / "decoded.mkv"),
    ]:
        result = invoke(*arguments)
        assert result.exit_code == 0, result.output
    return folder / "decoded.mkv", detections


def test_segment_then_evaluate_beats_the_box_baseline(tmp_path, sample, coded):
    decoded, detections = coded
    scores = {}
    for segmenter in ("mediapipe", "box"):
        masks = tmp_path / f"{segmenter}.json"
        result = invoke("segment", decoded, detections, "--segmenter", segmenter, "-o", masks,
                        "--no-progress")
        assert result.exit_code == 0, result.output
        entries = json.loads(masks.read_text())
        assert entries and {entry["image_id"] for entry in entries} <= set(range(1, 9))
        assert all(entry["segmentation"]["size"] == [240, 320] for entry in entries)
        record = read_run_record(masks)
        assert record["stage"] == "segment" and record["seconds"]["segment"] > 0
        assert record["parameters"]["segmenter"]["name"] == segmenter
        evaluation = tmp_path / f"{segmenter}_eval.json"
        result = invoke("evaluate", "segm", masks, "--gt", sample / "gt" / "instances.json",
                        "-o", evaluation)
        assert result.exit_code == 0, result.output
        scores[segmenter] = json.loads(evaluation.read_text())
    assert {"AP", "AP50", "AP75", "AR"} <= set(scores["box"])
    assert scores["mediapipe"]["AP"] > scores["box"]["AP"] + 0.1


def test_segment_options_reach_the_segmenter(tmp_path, coded):
    decoded, detections = coded
    masks = tmp_path / "masks.json"
    result = invoke("segment", decoded, detections, "-p", "model=pose", "-p", "threshold=0.4",
                    "-o", masks, "--no-progress")
    assert result.exit_code == 0, result.output
    described = read_run_record(masks)["parameters"]["segmenter"]
    assert described["threshold"] == 0.4 and "pose" in described["model"]


def test_single_task_segment_records_its_steps(tmp_path, sample):
    masks = tmp_path / "single_masks.json"
    result = invoke("single-task", "segment", sample, "--codec", "vvenc", "--qp", "32",
                    "--detector", "oracle", "--detector-option", f"sequence={sample}",
                    "--segmenter", "mediapipe", "-o", masks, "--workdir", tmp_path / "work",
                    "--no-progress")
    assert result.exit_code == 0, result.output
    record = read_run_record(masks)
    assert set(record["seconds"]) == {"encode", "decode", "detect", "segment"}
    assert record["parameters"]["bitstream_bytes"] == \
        (tmp_path / "work" / "original_vvenc_qp32.266").stat().st_size
    assert json.loads(masks.read_text())


def test_segmenters_are_listed():
    result = invoke("segmenters")
    assert result.exit_code == 0 and result.stdout.split() == ["box", "detectron2-mask", "mediapipe", "sam"]


def good_entry(**change) -> dict:
    mask = np.zeros((240, 320), dtype=bool)
    mask[50:120, 100:140] = True
    return {"image_id": 2, "category_id": 1, "segmentation": encode_mask(mask),
            "score": 0.8, "bbox": [100, 50, 40, 70], **change}


@pytest.mark.parametrize("entry, problem", [
    (good_entry(segmentation={"size": [240, 320], "counts": "0P"}),
     "result entry 0: corrupt RLE: the text ends inside a run"),
    (good_entry(segmentation={"size": [240, 320], "counts": "0" + "1" * 50}),
     "result entry 0: corrupt RLE: its runs cover"),
    (good_entry(segmentation=encode_mask(np.ones((120, 160)))),
     "result entry 0: mask is 160x120 but the image is 320x240"),
    (good_entry(bbox=[300, 50, 40, 70]), "result entry 0: bbox [300, 50, 40, 70] is outside"),
    (good_entry(image_id=99), "result entry 0: image_id 99 is not an image of the ground truth"),
])
def test_hostile_results_give_one_line_and_no_output(tmp_path, sample, entry, problem):
    results = tmp_path / "masks.json"
    results.write_text(json.dumps([entry]))
    output = tmp_path / "evaluation.json"
    result = invoke("evaluate", "segm", results, "--gt", sample / "gt" / "instances.json",
                    "-o", output)
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {results}: {problem}")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not output.exists()


def test_bad_segment_inputs_leave_nothing(tmp_path, sample, coded):
    decoded, detections = coded
    masks = tmp_path / "masks.json"
    result = invoke("segment", sample / "img1", detections, "-o", masks, "--no-progress")
    assert result.exit_code == 1 and result.output.startswith("error: ")
    result = invoke("segment", decoded, tmp_path / "missing.zip", "-o", masks, "--no-progress")
    assert result.exit_code == 1 and "missing.zip" in result.output
    result = invoke("segment", decoded, detections, "--segmenter", "nope", "-o", masks)
    assert result.exit_code == 1 and "unknown segmenter 'nope'" in result.output
    result = invoke("segment", decoded, detections, "-p", "threshold=2", "-o", masks)
    assert result.exit_code == 1 and "threshold" in result.output
    assert not masks.exists() and not run_record_path(masks).exists()
    result = invoke("evaluate", "segm", tmp_path / "none.json", "--gt", sample / "gt" / "instances.json")
    assert result.exit_code == 1 and "none.json: file does not exist" in result.output
    result = invoke("evaluate", "segm", tmp_path / "none.json", "--gt", sample / "gt" / "gt.txt")
    assert result.exit_code == 1 and "gt.txt: not valid JSON" in result.output


# ---------------------------------------------------------------- low-score boxes (issue 10)


@pytest.fixture(scope="module")
def with_low_boxes(tmp_path_factory, sample):
    """The sample's oracle detections (score 1) plus, in every frame, a copy of its first box
    with score 0.3, as a detection file written for BYTE association holds."""
    from vcm.detections import DetectionSequence, FrameDetections
    from vcm.detformats import read_detections, write_detections

    folder = tmp_path_factory.mktemp("low")
    oracle = folder / "oracle.vcmd"
    assert invoke("detect", sample, "--detector", "oracle", "-o", oracle, "--no-progress").exit_code == 0
    detections = read_detections(oracle)
    doubled = DetectionSequence(detections.width, detections.height, [
        FrameDetections(frame.frame, np.vstack([frame.boxes, frame.boxes[:1]]),
                        np.append(frame.scores, 0.3))
        for frame in detections.frames
    ])
    write_detections(doubled, folder / "with_low.vcmd", format="vcmd")
    return folder / "with_low.vcmd", detections.count, len(detections)


@pytest.mark.parametrize("command, backend", [("segment", "box"), ("pose", "blazepose")])
def test_score_keeps_low_score_boxes_out_of_the_box_tasks(tmp_path, sample, with_low_boxes,
                                                          command, backend):
    detections, high_boxes, frames = with_low_boxes
    flag = "--segmenter" if command == "segment" else "--estimator"
    found = {}
    for score in ("0", "0.5"):
        output = tmp_path / f"{command}_{score}.json"
        result = invoke(command, sample, detections, flag, backend, "--score", score, "-o",
                        output, "--no-progress")
        assert result.exit_code == 0, result.output
        found[score] = json.loads(output.read_text())
        record = read_run_record(output)
        assert record["parameters"]["score"] == float(score)
        expected_crops = high_boxes + (frames if score == "0" else 0)
        if command == "pose":
            assert record["parameters"]["crops"]["crops"] == expected_crops
    # The low box duplicates a person's box, so it gets that person's mask or pose unless
    # --score leaves it out; the box segmenter masks every box.
    if command == "segment":
        assert (len(found["0"]), len(found["0.5"])) == (high_boxes + frames, high_boxes)
    else:
        assert len(found["0.5"]) < len(found["0"])
        assert all(entry["score"] > 0.3 for entry in found["0.5"])
        assert sum(entry["score"] <= 0.3 for entry in found["0"]) == len(found["0"]) - len(found["0.5"])


def test_pose_records_the_fill_its_crops_read(tmp_path, sample, with_low_boxes):
    detections, high_boxes, _ = with_low_boxes
    records = {}
    for name, flags in {"paper": [], "margin": ["--foreground-option", "margin=0.125"]}.items():
        output = tmp_path / f"{name}.json"
        result = invoke("pose", sample, detections, "--score", "0.5", *flags, "-o", output,
                        "--no-progress")
        assert result.exit_code == 0, result.output
        records[name] = read_run_record(output)["parameters"]["crops"]
    # BlazePose's default crop reads 12.5 % of each box beyond each side: fill for the paper's
    # foreground, kept pixels with a margin of 0.125 (overlapping people aside).
    assert records["paper"]["crops"] == records["margin"]["crops"] == high_boxes
    assert records["paper"]["mean_fill"] > 0.1
    assert records["margin"]["mean_fill"] < records["paper"]["mean_fill"] / 10
    assert records["margin"]["variant"]["margin"] == 0.125
    result = invoke("pose", sample, detections, "--foreground-option", "fill=pink", "-o",
                    tmp_path / "bad.json")
    assert result.exit_code == 1
    assert "error: foreground option: fill must be one of" in result.output
    assert not (tmp_path / "bad.json").exists()
