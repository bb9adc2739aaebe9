"""Safety with users' files (issue 11), through the CLI as a user runs it: no deletion of what vcm
did not write, quoted sweep commands, truncated inputs and bitstreams, full disks, encoders that
exit 0 without writing, and termination signals."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vcm.cli import app
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats.voc_zip import write_detections_zip
from vcm.ffmpeg import ffmpeg_executable
from vcm.synth import synthesize_sequence

REPOSITORY = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
runner = CliRunner()


def invoke(*arguments):
    return runner.invoke(app, [str(argument) for argument in arguments])


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders): a snapshot to compare."""
    return {
        str(path.relative_to(folder)): None if path.is_dir() else path.read_bytes()
        for path in sorted(folder.rglob("*"))
    }


def assert_one_error_line(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], result.output
    assert "Traceback" not in result.output


@pytest.fixture
def detections_zip(tmp_path) -> Path:
    path = tmp_path / "inputs" / "dets.zip"
    frames = [FrameDetections(number, [[10, 10, 30, 50]], [0.9]) for number in (1, 2, 3)]
    write_detections_zip(DetectionSequence(96, 64, frames), path)
    return path


@pytest.fixture
def sequence(tmp_path) -> Path:
    path = tmp_path / "inputs" / "seq"
    synthesize_sequence(path, frames=12, width=96, height=64, fps=10, people=1, seed=2)
    return path


# Defect 1: data loss -------------------------------------------------------------------------


def test_track_to_an_existing_folder_keeps_the_folder(tmp_path, detections_zip, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results"
    results.mkdir()
    (results / "summary.csv").write_text("a user's results")
    before = tree(tmp_path)
    result = invoke("track", detections_zip, "-o", "results")
    assert_one_error_line(result, "results: is a folder")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("output", ["some/dir/..", ".", ".."])
def test_outputs_that_name_a_parent_are_refused(tmp_path, detections_zip, monkeypatch, output):
    work = tmp_path / "work"
    (work / "some" / "dir").mkdir(parents=True)
    (work / "some" / "keep.txt").write_text("keep")
    monkeypatch.chdir(work)
    before = tree(tmp_path)
    result = invoke("track", detections_zip, "-o", output)
    assert_one_error_line(result, "not a name to write an output to")
    assert tree(tmp_path) == before


def test_synth_never_wipes_a_users_folder(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    before = tree(tmp_path)
    result = invoke("data", "synth", mine, "--frames", "2", "--width", "64", "--height", "64",
                    "--no-progress")
    assert_one_error_line(result, "mine: folder exists and was not written by vcm")
    assert tree(tmp_path) == before


def test_synth_replaces_its_own_folder(tmp_path):
    target = tmp_path / "seq"
    for frames in (3, 2):
        result = invoke("data", "synth", target, "--frames", frames, "--width", "64",
                        "--height", "64", "--no-progress")
        assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (target / "img1").iterdir()) == ["000001.png", "000002.png"]


def test_an_output_under_a_file_is_refused(tmp_path, detections_zip):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    before = tree(tmp_path)
    result = invoke("track", detections_zip, "-o", blocker / "tracks.txt")
    assert_one_error_line(result, "blocker is not a folder")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "a/b"])
def test_config_refuses_sequence_names_that_leave_results(tmp_path, name):
    config = (REPOSITORY / "configs" / "ci.yaml").read_text().replace("  tiny:", f"  {json.dumps(name)}:")
    path = tmp_path / "bad.yaml"
    path.write_text(config)
    result = invoke("config", path)
    assert_one_error_line(result, "bad.yaml")


# Defect 2: shell injection in the sweep -------------------------------------------------------


def test_sweep_quotes_paths_with_spaces_and_shell_syntax(tmp_path):
    # A sequence folder whose path holds a space and a command substitution: unquoted, the
    # shell would split it and run `touch`.
    folder = tmp_path / "my videos $(touch INJECTED)" / "seq"
    synthesize_sequence(folder, frames=3, width=64, height=64, fps=5, people=1, seed=0)
    config = tmp_path / "quoted.yaml"
    config.write_text(
        "sequences:\n"
        f"  s1: {{path: {json.dumps(str(folder))}}}\n"
        "detector: {name: hog, score: 0.6}\n"
        "pose: {estimator: blazepose}\n"
        "track: {tracker: iou}\n"
        "single_task: {pose: {name: hog}, track: {name: hog}}\n"
        "codecs: {ffv1: {}}\n"
        "qps: [22]\n"
    )
    workdir = tmp_path / "sweep"
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    targets = ["results/quoted/multitask/s1/ffv1/qp22/bpp.json",
               "results/quoted/single/s1/ffv1/qp22/bpp.json"]
    completed = subprocess.run(
        [str(BIN / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"), "--directory",
         str(workdir), "--configfile", str(config), "--cores", "1", *targets],
        capture_output=True, text=True, env=environment, cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert not list(tmp_path.rglob("INJECTED"))
    record = json.loads((workdir / targets[1]).read_text())
    assert (record["width"], record["height"], record["frames"]) == (64, 64, 3)


# Defect 3: silent truncation ------------------------------------------------------------------


def test_a_truncated_bitstream_is_an_error(tmp_path, sequence):
    bitstream = tmp_path / "coded" / "seq.266"
    assert invoke("encode", sequence, "--codec", "vvenc", "--qp", "32", "-o", bitstream,
                  "--no-progress").exit_code == 0
    data = bitstream.read_bytes()
    bitstream.write_bytes(data[: len(data) // 2])
    before = tree(tmp_path)
    result = invoke("decode", bitstream, "-o", tmp_path / "coded" / "decoded.mkv")
    assert_one_error_line(result, "seq.266: decoded", "sidecar records 12", "truncated")
    assert tree(tmp_path) == before


def test_a_truncated_faststart_mp4_is_an_error(tmp_path):
    video = tmp_path / "clip.mp4"
    subprocess.run(
        [ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc=size=96x64:rate=10:duration=3", "-c:v", "mpeg4", "-q:v", "5",
         "-movflags", "+faststart", str(video)],
        check=True,
    )
    assert invoke("detect", video, "-o", tmp_path / "ok.zip", "--no-progress").exit_code == 0
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])
    before = tree(tmp_path)
    for arguments in (["detect", video, "-o", tmp_path / "d.zip", "--no-progress"],
                      ["encode", video, "-o", tmp_path / "v.266", "--no-progress"]):
        result = invoke(*arguments)
        assert_one_error_line(result, "clip.mp4: only", "container declares 30")
    assert tree(tmp_path) == before


# Defect 5: full disk --------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs (mounted as root, as CI runs), unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    completed = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                               capture_output=True, text=True)
    assert completed.returncode == 0, f"cannot mount a tmpfs for the full-disk test: {completed.stderr}"
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def fill(disk: Path, leave_pages: int) -> None:
    """Fill ``disk`` so that ``leave_pages`` 4 KiB pages stay free."""
    page = 4096
    status = os.statvfs(disk)
    free = status.f_bavail * status.f_frsize
    (disk / "filler").write_bytes(b"\0" * (free - leave_pages * page))


@pytest.mark.parametrize("command", ["detect", "track", "pose", "point"])
def test_disk_full_is_one_line_and_no_output(tmp_path, tiny_disk, sequence, detections_zip, command):
    fill(tiny_disk, 0)
    output = tiny_disk / "out"
    points = tmp_path / "inputs" / "bpp.json"
    points.write_text(json.dumps({"bytes": 1, "bits": 8, "width": 1, "height": 1, "frames": 1, "bpp": 8}))
    arguments = {
        "detect": ["detect", sequence, "-o", output, "--no-progress"],
        "track": ["track", detections_zip, "-o", output],
        "pose": ["pose", sequence, tmp_path / "seq_dets.zip", "-o", output, "--no-progress"],
        "point": ["point", "--sequence", "s", "--pipeline", "single", "--codec", "ffv1", "--qp",
                  "0", "--bpp", points, "-o", output],
    }[command]
    if command == "pose":
        invoke("detect", sequence, "--detector", "oracle", "-o", tmp_path / "seq_dets.zip", "--no-progress")
    before = tree(tiny_disk)
    result = invoke(*arguments)
    assert_one_error_line(result, "No space left on device")
    assert tree(tiny_disk) == before


def test_run_record_that_does_not_fit_takes_the_output_with_it(tiny_disk, detections_zip):
    # One page free: the tracks file fits and is renamed into place, its run record does not.
    fill(tiny_disk, 1)
    before = tree(tiny_disk)
    result = invoke("track", detections_zip, "-o", tiny_disk / "tracks.txt")
    assert_one_error_line(result, "tracks.txt.run.json: cannot write: No space left on device")
    assert tree(tiny_disk) == before


def test_run_record_failure_after_rename_removes_the_output(tmp_path, detections_zip, monkeypatch):
    import vcm.runrecord

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(vcm.runrecord, "write_run_record", no_space)
    out = tmp_path / "out"
    result = invoke("track", detections_zip, "-o", out / "tracks.txt")
    assert_one_error_line(result, "No space left on device")
    assert not (out / "tracks.txt").exists()


# Defect 6: an encoder or decoder that exits 0 without writing ---------------------------------


@pytest.fixture
def silent_ffmpeg(tmp_path) -> Path:
    """An 'ffmpeg' that reads its input and exits 0 without writing anything."""
    script = tmp_path / "bin" / "ffmpeg"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\ncat > /dev/null\nexit 0\n")
    script.chmod(0o755)
    return script


def test_encoder_that_writes_nothing(tmp_path, sequence, silent_ffmpeg, monkeypatch):
    monkeypatch.setenv("VCM_FFMPEG", str(silent_ffmpeg))
    before = tree(tmp_path)
    result = invoke("encode", sequence, "--codec", "vvenc", "-o", tmp_path / "out" / "v.266",
                    "--no-progress")
    assert_one_error_line(result, "v.266: the vvenc encoder exited without error but wrote nothing")
    assert tree(tmp_path) == before


def test_decoder_that_writes_nothing_leaves_no_sidecar(tmp_path, sequence, silent_ffmpeg, monkeypatch):
    bitstream = tmp_path / "coded" / "v.266"
    assert invoke("encode", sequence, "--codec", "vvenc", "-o", bitstream, "--no-progress").exit_code == 0
    monkeypatch.setenv("VCM_FFMPEG", str(silent_ffmpeg))
    before = tree(tmp_path)
    result = invoke("decode", bitstream, "-o", tmp_path / "coded" / "d.mkv")
    assert_one_error_line(result, "d.mkv: the vvenc decoder exited without error but wrote nothing")
    assert tree(tmp_path) == before


# Defect 9: sweep outputs written atomically ---------------------------------------------------


def test_json_outputs_are_written_atomically_or_not_at_all(tmp_path, sequence):
    result = invoke("bpp", tmp_path / "missing.266", "--like", sequence, "-o", tmp_path / "bpp.json")
    assert_one_error_line(result, "missing.266: file does not exist")
    assert not (tmp_path / "bpp.json").exists()
    (tmp_path / "stream.bin").write_bytes(b"\0" * 96)
    result = invoke("bpp", tmp_path / "stream.bin", "--like", sequence, "-o", tmp_path / "bpp.json")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "bpp.json").read_text())
    assert record["bits"] == 96 * 8
    assert record["bpp"] == pytest.approx(96 * 8 / (96 * 64 * 12))


def test_stale_work_folders_of_a_killed_encode_are_removed(tmp_path, sequence):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / "out" / f".v.266.work-{int(dead.stdout)}-x1y2"
    stale.mkdir(parents=True)
    (stale / "input.yuv").write_bytes(b"\0" * 10)
    result = invoke("encode", sequence, "--codec", "vvenc", "-o", tmp_path / "out" / "v.266", "--no-progress")
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["v.266", "v.266.json"]


# Defect 10: SIGTERM and SIGHUP ----------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGHUP])
def test_termination_during_encode_leaves_no_temporary_and_no_child(tmp_path, signal_number):
    source = tmp_path / "inputs" / "long"
    synthesize_sequence(source, frames=40, width=640, height=360, fps=10, people=2, seed=0)
    out = tmp_path / "out"
    out.mkdir()
    process = subprocess.Popen(
        [str(BIN / "vcm"), "encode", str(source), "--codec", "vvenc", "-p", "preset=slower",
         "-o", str(out / "v.266"), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    child: list[int] = []
    while not child and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
        child = children(process.pid)
    assert child, "the encoder never started"
    time.sleep(0.5)  # the encoder is now writing its temporary bitstream
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=60)
    name = signal.Signals(signal_number).name
    assert process.returncode == 128 + signal_number, stderr
    assert [line for line in stderr.splitlines() if line.startswith("error:")] == [
        f"error: interrupted by {name}"
    ]
    assert "Traceback" not in stderr
    assert not any(alive(pid) for pid in child)
    assert list(out.iterdir()) == []


# Defect 12: byte-identical artifacts ----------------------------------------------------------


def test_foreground_videos_are_byte_identical(tmp_path, sequence):
    zip_path = tmp_path / "d.zip"
    assert invoke("detect", sequence, "--detector", "oracle", "-o", zip_path, "--no-progress").exit_code == 0
    outputs = []
    for name in ("a.mkv", "b.mkv"):
        result = invoke("foreground", sequence, zip_path, "-o", tmp_path / name, "--no-progress")
        assert result.exit_code == 0, result.output
        outputs.append((tmp_path / name).read_bytes())
        time.sleep(1.1)  # a muxer that writes the date would now differ
    assert outputs[0] == outputs[1]
    decoded = []
    for name in ("a.mkv", "b.mkv"):
        assert invoke("encode", tmp_path / name, "--codec", "ffv1", "-o", tmp_path / f"{name}.ffv1.mkv",
                      "--no-progress").exit_code == 0
        assert invoke("decode", tmp_path / f"{name}.ffv1.mkv", "-o", tmp_path / f"{name}.d.mkv").exit_code == 0
        decoded.append((tmp_path / f"{name}.d.mkv").read_bytes())
    assert decoded[0] == decoded[1]
    assert np.frombuffer(outputs[0], np.uint8).size > 0


# Defect 7: records a point or report reads -------------------------------------------------


@pytest.mark.parametrize("name, text, option, message", [
    ("pe.json", '{"AP": "high"}', "--pose-eval", "pe.json: malformed pose evaluation (AP must be a number, got 'high')"),
    ("te.json", '{"mota": true, "idf1": 0.5}', "--track-eval", "te.json: malformed tracking evaluation (mota must be a number, got True)"),
    ("r.run.json", '{"seconds": {"detect": "x"}}', "--run", "r.run.json: malformed run record (seconds.detect must be a number, got 'x')"),
    ("r2.run.json", '{"seconds": [1]}', "--run", "r2.run.json: malformed run record (seconds is not an object)"),
    ("c.json", '{"encode_seconds": "1"}', "--codec-record", "c.json: malformed codec sidecar (encode_seconds must be a number, got '1')"),
])
def test_point_names_the_record_with_a_value_that_is_no_number(tmp_path, name, text, option, message):
    (tmp_path / "bpp.json").write_text('{"bytes": 1, "bits": 8, "width": 1, "height": 1, "frames": 1, "bpp": 8}')
    (tmp_path / name).write_text(text)
    before = tree(tmp_path)
    result = invoke("point", "--sequence", "s", "--pipeline", "single", "--codec", "ffv1", "--qp", "0",
                    "--bpp", tmp_path / "bpp.json", option, tmp_path / name, "-o", tmp_path / "p.json")
    assert_one_error_line(result, message)
    assert tree(tmp_path) == before


def test_report_names_a_malformed_run_record(tmp_path):
    results = tmp_path / "results"
    (tmp_path / "bpp.json").write_text('{"bytes": 1, "bits": 8, "width": 1, "height": 1, "frames": 1, "bpp": 8}')
    assert invoke("point", "--sequence", "s", "--pipeline", "single", "--codec", "ffv1", "--qp", "0",
                  "--bpp", tmp_path / "bpp.json", "-o", results / "single/s/ffv1/qp0/point.json").exit_code == 0
    (results / "single" / "s" / "a.run.json").write_text('["not", "a", "record"]')
    before = tree(tmp_path)
    result = invoke("report", results, "-o", tmp_path / "summary.csv")
    assert_one_error_line(result, "a.run.json: malformed run record (no parameters object)")
    assert tree(tmp_path) == before
