"""The `vcm` commands of the front end, called as a user would, through typer's CliRunner."""

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from vcm.cli import app
from vcm.datasets.mot import SequenceInfo, write_seqinfo
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats.voc_zip import read_detections_zip, write_detections_zip
from vcm.runrecord import read_run_record
from vcm.video import open_video

from clips import moving_square_frames

runner = CliRunner()


@pytest.fixture
def sequence(tmp_path):
    """A 6-frame 96x64 MOTChallenge folder whose ground truth is the moving square."""
    root = tmp_path / "seq"
    (root / "img1").mkdir(parents=True)
    (root / "gt").mkdir()
    write_seqinfo(SequenceInfo(root, "seq", "img1", 7.0, 6, 96, 64, ".png"), root / "seqinfo.ini")
    rows = []
    for number, frame in enumerate(moving_square_frames(96, 64, 6), start=1):
        cv2.imwrite(str(root / "img1" / f"{number:06d}.png"), frame)
        # The square covers rows 10..25 and columns 4+number..19+number: x, y, w, h = 4+number, 10, 16, 16.
        rows.append(f"{number},1,{4 + number},10,16,16,1,1,1")
    (root / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    return root


def invoke(*arguments):
    result = runner.invoke(app, [str(argument) for argument in arguments])
    return result


def test_front_end_chain(tmp_path, sequence):
    run = tmp_path / "run"
    result = invoke("detect", sequence, "--detector", "oracle", "--score", "0.6",
                    "-o", run / "detections.zip", "--no-progress")
    assert result.exit_code == 0, result.output
    detections = read_detections_zip(run / "detections.zip")
    assert len(detections) == 6
    assert set(read_run_record(run / "detections.zip")["seconds"]) == {"detect", "write"}
    np.testing.assert_array_equal(detections.frames[2].boxes, [[7, 10, 23, 26]])

    result = invoke("foreground", sequence, run / "detections.zip", "-o", run / "foreground.mkv",
                    "--no-progress")
    assert result.exit_code == 0, result.output
    assert read_run_record(run / "foreground.mkv")["parameters"]["frames"] == 6

    for qp in (22, 47):
        result = invoke("encode", run / "foreground.mkv", "--codec", "vvenc", "--qp", qp,
                        "-o", run / f"fg_qp{qp}.266", "--no-progress")
        assert result.exit_code == 0, result.output
        result = invoke("decode", run / f"fg_qp{qp}.266", "-o", run / f"fg_qp{qp}_decoded.mkv")
        assert result.exit_code == 0, result.output

    result = invoke("bpp", run / "fg_qp22.266",
                    run / "detections.zip", "--like", sequence)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    total = (run / "fg_qp22.266").stat().st_size + (run / "detections.zip").stat().st_size
    assert record["bytes"] == total
    assert (record["width"], record["height"], record["frames"]) == (96, 64, 6)
    assert record["bpp"] == pytest.approx(total * 8 / (96 * 64 * 6))
    assert (run / "fg_qp47.266").stat().st_size < (run / "fg_qp22.266").stat().st_size


def test_foreground_score_leaves_low_boxes_black(tmp_path, sequence):
    # A 0.3 box over the whole 96x64 frame and a 0.9 box over columns 0..9, rows 0..9.
    frames = [FrameDetections(number, [[0, 0, 96, 64], [0, 0, 10, 10]], [0.3, 0.9])
              for number in range(1, 7)]
    write_detections_zip(DetectionSequence(96, 64, frames), tmp_path / "detections.zip")
    for score, lit_outside in (("0.6", False), ("0", True)):
        output = tmp_path / f"foreground_{score}.mkv"
        result = invoke("foreground", sequence, tmp_path / "detections.zip", "-o", output,
                        "--score", score, "--no-progress")
        assert result.exit_code == 0, result.output
        frame = next(iter(open_video(output)))
        outside = np.ones(frame.shape[:2], dtype=bool)
        outside[:10, :10] = False
        assert frame[outside].any() == lit_outside


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["detect", "{tmp}/missing.mp4", "-o", "{tmp}/out.zip"], "missing.mp4: file does not exist"),
        (["detect", "{seq}", "--detector", "nope", "-o", "{tmp}/out.zip"], "unknown detector 'nope'"),
        (["detect", "{seq}", "-p", "bogus=1", "-o", "{tmp}/out.zip"], "detector hog: unknown option 'bogus'"),
        (["detect", "{tmp}/corrupt.mkv", "-o", "{tmp}/out.zip"], "corrupt.mkv: not a readable video"),
        (["detect", "{tmp}/empty.mp4", "-o", "{tmp}/out.zip"], "empty.mp4: empty file"),
        (["encode", "{seq}", "--qp", "99", "-o", "{tmp}/out.266"], "QP 99 is out of range 0..63"),
        (["foreground", "{seq}", "{tmp}/corrupt.mkv", "-o", "{tmp}/out.mkv"], "corrupt.mkv: not a detection file"),
        (["bpp", "{tmp}/missing.266", "--like", "{seq}"], "missing.266: file does not exist"),
    ],
)
def test_bad_input_is_one_error_line_and_no_output(tmp_path, sequence, arguments, message):
    (tmp_path / "corrupt.mkv").write_bytes(b"\x1a\x45\xdf\xa3 not really matroska" * 50)
    (tmp_path / "empty.mp4").touch()
    before = sorted(path.name for path in tmp_path.iterdir())
    result = invoke(*[argument.format(tmp=tmp_path, seq=sequence) for argument in arguments])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == before


def test_a_refused_backend_option_value_is_one_error_line(tmp_path):
    frames = [FrameDetections(number, [[0, 0, 10, 10]], [0.9]) for number in range(1, 4)]
    write_detections_zip(DetectionSequence(96, 64, frames), tmp_path / "detections.zip")
    result = invoke("track", tmp_path / "detections.zip", "-p", "byte_track_score=0.05",
                    "-o", tmp_path / "tracks.txt")
    assert result.exit_code == 1
    assert "error: tracker 'iou': BYTE needs 0 <= byte_low_score < byte_track_score" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "tracks.txt").exists()


def test_every_command_has_help():
    for command in (["data", "synth"], ["detect"], ["foreground"], ["encode"], ["decode"], ["bpp"],
                    ["report"], ["models", "fetch"]):
        result = invoke(*command, "--help")
        assert result.exit_code == 0, (command, result.output)
        assert "Usage" in result.output


def test_registries_are_listed():
    assert invoke("detectors").stdout.split() == [
        "detectron2", "hog", "jde", "oracle", "torchvision", "yolo-fastest"
    ]
    assert invoke("codecs").stdout.split() == ["ffv1", "vtm", "vvenc", "x265"]


def test_detect_as_vcmd_and_every_stage_reads_it(tmp_path, sequence):
    run = tmp_path / "run"
    result = invoke("detect", sequence, "--detector", "oracle", "-o", run / "detections.vcmd",
                    "--format-option", "step=0.25", "--no-progress")
    assert result.exit_code == 0, result.output
    stats = json.loads(invoke("detections", "stats", run / "detections.vcmd").stdout)
    assert (stats["format"], stats["frames"], stats["boxes"]) == ("vcmd", 6, 6)
    record = read_run_record(run / "detections.vcmd")
    assert (record["parameters"]["format"], record["parameters"]["format_options"]) == (
        "vcmd", {"step": 0.25})
    assert record["parameters"]["video"] == str(sequence)  # named here, not in the file
    # No --like: the frame rate comes from the file's header (seqinfo.ini's 7 fps).
    result = invoke("track", run / "detections.vcmd", "-o", run / "tracks.txt")
    assert result.exit_code == 0, result.output
    assert read_run_record(run / "tracks.txt")["parameters"]["fps"] == 7.0
    result = invoke("foreground", sequence, run / "detections.vcmd", "-o", run / "fg.mkv",
                    "--no-progress")
    assert result.exit_code == 0, result.output
