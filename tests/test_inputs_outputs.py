"""No output is one of its command's inputs (issue 20, part 1): every command refuses, before
it writes anything, an output (or its run record, sidecar or --log) that names one of its input
files by any spelling, link or inode, or a file inside an input folder; and its failure
clean-up never removes an input."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcm.cli import PATH_PARAMETER_EXCEPTIONS, PATH_PARAMETERS, app
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats.voc_zip import write_detections_zip
from vcm.errors import VcmError
from vcm.fileio import Inputs, all_or_nothing, atomic_output

from test_safety import assert_one_error_line, invoke, tree

BPP_RECORD = '{"bytes": 1, "bits": 8, "width": 1, "height": 1, "frames": 1, "bpp": 8}'


def commands(typer_app, prefix=()):
    """(command words, callback) of every registered command, sub-apps included."""
    for command in typer_app.registered_commands:
        yield (*prefix, command.name or command.callback.__name__), command.callback
    for group in typer_app.registered_groups:
        yield from commands(group.typer_instance, (*prefix, group.name))


def path_parameters(callback) -> list[str]:
    hints = typing.get_type_hints(callback, include_extras=True)
    return [name for name, hint in hints.items() if name != "return" and "Path" in str(hint)]


def test_every_path_parameter_of_every_command_has_a_role():
    """A new command cannot skip the rule: each of its path parameters must be declared an
    input or an output, and the command must run under handles_errors, which checks them."""
    seen = 0
    for words, callback in commands(app):
        for name in path_parameters(callback):
            seen += 1
            declared = name in PATH_PARAMETERS or (callback.__name__, name) in PATH_PARAMETER_EXCEPTIONS
            assert declared, f"vcm {' '.join(words)}: path parameter {name!r} has no role in PATH_PARAMETERS"
            assert hasattr(callback, "__wrapped__"), f"vcm {' '.join(words)} does not run under handles_errors"
    assert seen >= 40  # the walk did find the commands


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    frames = [FrameDetections(number, [[10, 10, 30, 50]], [0.9]) for number in (1, 2, 3)]
    write_detections_zip(DetectionSequence(96, 64, frames), tmp_path / "d.zip")
    for name, text in {"gt.json": '{"images": []}', "pose.json": "[]", "gt.txt": "1,1,1,1,4,4,1,1,1\n",
                       "tracks.txt": "1,1,1,1,4,4,1,-1,-1,-1\n", "video.mkv": "not decoded",
                       "b.266": "bitstream", "b.266.json": '{"codec": "vvenc"}',
                       "bpp.json": BPP_RECORD, "p.json": "{}", "t.txt.run.json": "{}", "c.yaml": "sequences: []\n"}.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "seq" / "img1").mkdir(parents=True)
    (tmp_path / "seq" / "img1" / "000001.png").write_bytes(b"png")
    (tmp_path / "seq" / "seqinfo.ini").write_text("[Sequence]\n")
    return tmp_path


POINT = ["point", "--sequence", "s", "--pipeline", "single", "--codec", "ffv1", "--qp", "0"]


@pytest.mark.parametrize("arguments, output, original", [
    (["detections", "convert", "d.zip", "d.zip", "--format", "vcmd"], "d.zip", "d.zip"),
    (["detections", "extract", "b.266", "-o", "b.266"], "b.266", "b.266"),
    (["detections", "extract", "b.266", "-o", "b.266.json"], "b.266.json", "b.266.json"),
    (["encode", "video.mkv", "--embed", "d.zip", "-o", "d.zip"], "d.zip", "d.zip"),
    (["encode", "video.mkv", "-o", "out.266", "--log", "video.mkv"], "video.mkv", "video.mkv"),
    (["encode", "seq", "-o", "seq/img1/000001.png"], "seq/img1/000001.png", "seq"),
    (["decode", "b.266", "-o", "b.266"], "b.266", "b.266"),
    (["decode", "b.266", "-o", "out.mkv", "--log", "b.266.json"], "b.266.json", "b.266.json"),
    (["bpp", "b.266", "d.zip", "--like", "video.mkv", "-o", "d.zip"], "d.zip", "d.zip"),
    (["bpp", "b.266", "--like", "video.mkv", "-o", "video.mkv"], "video.mkv", "video.mkv"),
    (["evaluate", "pose", "pose.json", "--gt", "gt.json", "-o", "gt.json"], "gt.json", "gt.json"),
    (["evaluate", "segm", "pose.json", "--gt", "gt.json", "-o", "pose.json"], "pose.json", "pose.json"),
    (["evaluate", "track", "tracks.txt", "--gt", "gt.txt", "-o", "gt.txt"], "gt.txt", "gt.txt"),
    (["track", "d.zip", "-o", "d.zip"], "d.zip", "d.zip"),
    (["track", "d.zip", "--like", "video.mkv", "-o", "video.mkv"], "video.mkv", "video.mkv"),
    (["foreground", "video.mkv", "d.zip", "-o", "video.mkv"], "video.mkv", "video.mkv"),
    (["foreground", "seq", "d.zip", "-o", "seq/seqinfo.ini"], "seq/seqinfo.ini", "seq"),
    (["pose", "video.mkv", "d.zip", "-o", "d.zip"], "d.zip", "d.zip"),
    (["segment", "video.mkv", "d.zip", "-o", "video.mkv"], "video.mkv", "video.mkv"),
    (["detect", "seq", "-o", "seq/img1/000001.png"], "seq/img1/000001.png", "seq"),
    (["single-task", "pose", "video.mkv", "-o", "video.mkv"], "video.mkv", "video.mkv"),
    (["single-task", "track", "seq", "-o", "seq/seqinfo.ini"], "seq/seqinfo.ini", "seq"),
    ([*POINT, "--bpp", "bpp.json", "-o", "bpp.json"], "bpp.json", "bpp.json"),
    ([*POINT, "--bpp", "bpp.json", "--run", "p.json", "-o", "./p.json"], "p.json", "p.json"),
    (["report", "--point", "p.json", "-o", "p.json"], "p.json", "p.json"),
    (["data", "hieve-pose", "seq", "-o", "seq/seqinfo.ini"], "seq/seqinfo.ini", "seq"),
    (["track", "d.zip", "--like", "t.txt.run.json", "-o", "t.txt"], "t.txt.run.json", "t.txt.run.json"),
    # The live edge's SOURCE is text (it may be a URL or a device); a local file is an input.
    (["stream", "video.mkv", "--loopback", "-o", "video.mkv"], "video.mkv", "video.mkv"),
    (["live", "./video.mkv", "-o", "video.mkv"], "video.mkv", "video.mkv"),
    (["live", "seq", "-o", "seq/seqinfo.ini"], "seq/seqinfo.ini", "seq"),
])
def test_an_output_that_is_an_input_is_refused_and_nothing_changes(work, arguments, output, original):
    before = tree(work)
    result = invoke(*arguments)
    assert_one_error_line(result, f"error: {output}: is also an input ({original})")
    assert tree(work) == before


def test_report_refuses_to_replace_a_point_record_of_its_results(work):
    record = work / "results" / "single" / "s" / "ffv1" / "qp0" / "point.json"
    assert invoke(*POINT, "--bpp", "bpp.json", "-o", record).exit_code == 0
    before = tree(work)
    result = invoke("report", "results", "-o", record)
    assert_one_error_line(result, f"{record}: is also an input (results/single/s/ffv1/qp0/point.json)")
    assert tree(work) == before


def test_track_whose_run_record_cannot_be_written_keeps_its_input(work):
    """Issue 20: `vcm track d.vcmd -o d.vcmd` with a folder named d.vcmd.run.json exited 1
    with d.vcmd gone (replaced by the rename, then deleted by the clean-up)."""
    assert invoke("detections", "convert", "d.zip", "d.vcmd").exit_code == 0
    (work / "d.vcmd.run.json").mkdir()
    before = tree(work)
    result = invoke("track", "d.vcmd", "-o", "d.vcmd")
    assert_one_error_line(result, "d.vcmd: is also an input (d.vcmd)")
    assert tree(work) == before


def test_an_output_beside_the_inputs_is_still_written(work):
    """New files inside an input folder, and names that differ only in case, are not inputs."""
    assert invoke("detections", "convert", "d.zip", "D.zip").exit_code == 0
    assert invoke("detections", "convert", "d.zip", "seq/d.vcmd").exit_code == 0
    assert (work / "D.zip").is_file() and (work / "seq" / "d.vcmd").is_file()


def test_the_failure_clean_up_never_removes_an_input(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("the user's")
    with pytest.raises(RuntimeError):
        with all_or_nothing([data], inputs=[data]):
            data.write_text("changed by a stage that forgot the rule")
            raise RuntimeError("later step failed")
    assert data.exists()


def test_atomic_output_inside_a_command_refuses_its_inputs_and_takes_back_what_it_wrote(tmp_path):
    """Files no caller listed (a report's manifest, a single-task work folder's bitstream) are
    checked when written and removed if the command fails later."""
    data = tmp_path / "data.txt"
    data.write_text("the user's")
    extra = tmp_path / "manifest.json"
    with pytest.raises(RuntimeError):
        with all_or_nothing([], inputs=[data]):
            with pytest.raises(VcmError, match="data.txt: is also an input"):
                with atomic_output(tmp_path / "." / "data.txt") as temporary:
                    temporary.write_text("x")
            with atomic_output(extra) as temporary:
                temporary.write_text("{}")
            assert extra.exists()
            raise RuntimeError("a table failed")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data.txt"]
    assert data.read_text() == "the user's"


# Spellings of one file, and of other files -------------------------------------------------

SAME = ["x", "./x", "d/../x", "ABSOLUTE", "link", "hard", "d/link_up", "./d/../link"]
OTHER = ["X", "y", "d/x", "x.json", "linked_elsewhere"]


def make_names(folder: Path) -> None:
    (folder / "d").mkdir()
    (folder / "x").write_text("input")
    (folder / "X").write_text("another file on a case-sensitive file system")
    (folder / "y").write_text("other")
    (folder / "link").symlink_to("x")
    (folder / "d" / "link_up").symlink_to("../x")
    os.link(folder / "x", folder / "hard")
    (folder / "linked_elsewhere").symlink_to("y")


def spelled(folder: Path, name: str) -> Path:
    return folder / "x" if name == "ABSOLUTE" else Path(name)


@settings(derandomize=True, max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(SAME + OTHER), st.sampled_from(SAME))
def test_an_output_clashes_exactly_when_it_names_the_input_file(output, spelling):
    folder = Path(tempfile.mkdtemp())
    cwd = os.getcwd()
    try:
        make_names(folder)
        os.chdir(folder)
        case_sensitive = not os.path.samefile("x", "X")
        inputs = Inputs([spelled(folder, spelling)])
        clash = inputs.clash(spelled(folder, output))
        if output in SAME or (output == "X" and not case_sensitive):
            assert clash == spelled(folder, spelling)
        else:
            assert clash is None
    finally:
        os.chdir(cwd)
        shutil.rmtree(folder)


# Part 5: values checked where names are, one error line and nothing left behind ------------


@pytest.mark.parametrize("value, message", [
    ("margin=abc", "foreground option: margin must be a number, got 'abc'"),
    ("margin=[1]", "foreground option: margin must be a number, got [1]"),
    ("margin=true", "foreground option: margin must be a number, got True"),
    ("hold=1.5", "foreground option: hold must be a whole number, got 1.5"),
    ("fill=3", "foreground option: fill must be a name, got 3"),
])
def test_a_foreground_option_of_the_wrong_kind_is_one_error_line(work, value, message):
    before = tree(work)
    result = invoke("foreground", "video.mkv", "d.zip", "-o", "fg.mkv", "-p", value)
    assert_one_error_line(result, message)
    assert tree(work) == before


def test_a_task_refuses_a_foreground_option_that_is_no_number(tmp_path):
    from vcm.synth import synthesize_sequence

    sequence = tmp_path / "seq"
    synthesize_sequence(sequence, frames=2, width=64, height=64, fps=10, people=1, seed=1)
    frames = [FrameDetections(number, [[10, 10, 30, 50]], [0.9]) for number in (1, 2)]
    write_detections_zip(DetectionSequence(64, 64, frames), tmp_path / "d.zip")
    before = tree(tmp_path)
    result = invoke("pose", sequence, tmp_path / "d.zip", "-o", tmp_path / "pose.json",
                    "--foreground-option", "margin=abc")
    assert_one_error_line(result, "foreground option: margin must be a number, got 'abc'")
    assert tree(tmp_path) == before


def keypoint_ground_truth(path: Path, *, category: int, keypoints: int) -> None:
    flat = [value for index in range(keypoints) for value in (10 + index, 20 + index, 2)]
    path.write_text(json.dumps({
        "images": [{"id": 1, "width": 100, "height": 100}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": category, "keypoints": flat,
                         "bbox": [0, 0, 50, 50], "area": 2500, "iscrowd": 0}],
        "categories": [{"id": category, "name": "person" if category == 1 else "thing"}],
    }))


@pytest.mark.parametrize("category, keypoints, message", [
    (2, 16, "gt.json: annotation 0: category_id must be 1 (person), got 2"),
    (2, 17, "gt.json: annotation 0: category_id must be 1 (person), got 2"),
    (1, 16, "gt.json: 16 keypoints per person; without their own sigmas vcm evaluates COCO's 17"),
])
def test_keypoint_ground_truth_vcm_cannot_evaluate_is_one_error_line(work, category, keypoints, message):
    keypoint_ground_truth(work / "gt.json", category=category, keypoints=keypoints)
    flat = [1.0, 2.0, 1.0] * 17
    (work / "pose.json").write_text(json.dumps(
        [{"image_id": 1, "category_id": 1, "keypoints": flat, "score": 0.9}]))
    before = tree(work)
    result = invoke("evaluate", "pose", "pose.json", "--gt", "gt.json", "-o", "eval.json")
    assert_one_error_line(result, message)
    assert tree(work) == before


@pytest.mark.parametrize("option, text, message", [
    ("--pose-eval", '{"AR": 0.5}', "e.json: malformed pose evaluation (no AP)"),
    ("--segm-eval", '{"AR": 0.5}', "e.json: malformed segmentation evaluation (no AP)"),
    ("--track-eval", '{"mota": 0.5, "idf1": 0.5}', "e.json: malformed tracking evaluation (no hota)"),
])
def test_point_names_an_evaluation_without_its_metric(work, option, text, message):
    (work / "e.json").write_text(text)
    before = tree(work)
    result = invoke(*POINT, "--bpp", "bpp.json", option, "e.json", "-o", "point.json")
    assert_one_error_line(result, message)
    assert tree(work) == before


def test_point_reads_a_null_metric_as_not_measured(work):
    (work / "e.json").write_text('{"AP": null}')
    assert invoke(*POINT, "--bpp", "bpp.json", "--pose-eval", "e.json", "-o", "point.json").exit_code == 0
    assert json.loads((work / "point.json").read_text())["results"]["pose_ap"] == [None]


def test_report_with_a_bpp_that_is_no_number_leaves_nothing_behind(work):
    record = work / "results" / "single" / "s" / "ffv1" / "qp0" / "point.json"
    assert invoke(*POINT, "--bpp", "bpp.json", "-o", record).exit_code == 0
    point = json.loads(record.read_text())
    point["results"]["bpp"] = ["abc"]
    record.write_text(json.dumps(point))
    before = tree(work)
    result = invoke("report", "results")
    assert_one_error_line(result, "point.json: malformed point record (results.bpp must be a "
                          "number or null, got 'abc')")
    assert tree(work) == before


def test_a_report_that_fails_late_takes_back_its_manifest_and_tables(work, monkeypatch):
    """Whatever fails after the manifest was written (here the plots), nothing the report
    wrote stays behind."""
    import vcm.experiment.plots

    def broken(*args, **kwargs):
        raise VcmError("plots: cannot draw")

    monkeypatch.setattr(vcm.experiment.plots, "write_plots", broken)
    record = work / "results" / "single" / "s" / "ffv1" / "qp0" / "point.json"
    assert invoke(*POINT, "--bpp", "bpp.json", "-o", record).exit_code == 0
    before = tree(work)
    result = invoke("report", "results")
    assert_one_error_line(result, "plots: cannot draw")
    assert tree(work) == before


@pytest.mark.parametrize("option, message", [
    ("step=true", "coordinate step must be a number, got True"),
    ("step=abc", "coordinate step must be a number, got 'abc'"),
    ("score_bits=true", "score bits must be an integer 1..16, got True"),
])
def test_a_detection_format_option_of_the_wrong_kind_is_one_error_line(work, option, message):
    """Issue 20: booleans are not numbers (`step=true` was taken as a step of 1 px)."""
    before = tree(work)
    result = invoke("detections", "convert", "d.zip", "out.vcmd", "-p", option)
    assert_one_error_line(result, f"error: out.vcmd: {message}")
    assert tree(work) == before
