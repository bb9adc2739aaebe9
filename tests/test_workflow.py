"""The Snakemake sweep on the CI config, run end to end in a scratch directory."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]


def snakemake(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    bin_dir = Path(sys.executable).parent
    environment = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [str(bin_dir / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(REPOSITORY / "configs" / "ci.yaml"),
         "--cores", "2", *extra],
        capture_output=True, text=True, env=environment,
    )


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sweep")
    completed = snakemake(workdir)
    assert completed.returncode == 0, completed.stderr[-3000:]
    with open(workdir / "results" / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    return workdir, rows


def test_one_row_per_point(sweep):
    _, rows = sweep
    assert [(row["sequence"], row["pipeline"], row["codec"], int(row["qp"])) for row in rows] == [
        ("tiny", "multitask", "vvenc", 22), ("tiny", "multitask", "vvenc", 47),
        ("tiny", "single", "vvenc", 22), ("tiny", "single", "vvenc", 47),
    ]


def test_paper_properties_hold(sweep):
    workdir, rows = sweep
    multitask = [row for row in rows if row["pipeline"] == "multitask"]
    single = [row for row in rows if row["pipeline"] == "single"]
    for pipeline in (multitask, single):
        assert float(pipeline[1]["bpp"]) < float(pipeline[0]["bpp"])  # coarser QP, fewer bits
        assert all(float(row["bpp"]) < float(row["original_bpp"]) / 10 for row in pipeline)
    # Multitask tracking uses the boxes of the original: the same MOTA at every QP.
    assert multitask[0]["mota"] == multitask[1]["mota"]
    for row in multitask + single:
        tasks = [float(row[f"{step}_s"]) for step in ("detect", "pose", "track", "segment")]
        assert float(row["total_s"]) == pytest.approx(sum(tasks), rel=1e-5)
        assert float(row["total_two_tasks_s"]) == pytest.approx(
            sum(tasks) - float(row["segment_s"]) - float(row["segment_detect_s"]), rel=1e-5)
        assert float(row["segment_s"]) > 0
    # Segmentation reuses the shared boxes in multitask, runs its own detector in single-task.
    assert all(float(row["segment_detect_s"]) == 0 for row in multitask)
    assert all(float(row["segment_detect_s"]) > 0 for row in single)


def test_numbers_trace_to_files(sweep):
    workdir, rows = sweep
    results = workdir / "results"
    zip_bytes = (results / "detections/tiny/detections.zip").stat().st_size
    for row in rows:
        folder = results / row["pipeline"] / "tiny" / "vvenc" / f"qp{row['qp']}"
        if row["pipeline"] == "multitask":
            expected_bytes = (folder / "foreground.266").stat().st_size + zip_bytes
        else:
            expected_bytes = (folder / "original.266").stat().st_size
        assert int(row["bytes"]) == expected_bytes
        assert float(row["bpp"]) == float(f"{expected_bytes * 8 / (320 * 240 * 12):.6g}")
        pose = json.loads((folder / "pose_eval.json").read_text())
        assert float(row["pose_ap"]) == float(f"{pose['AP']:.6g}")
        segm = json.loads((folder / "segm_eval.json").read_text())
        assert float(row["segm_ap"]) == float(f"{segm['AP']:.6g}")
    track = json.loads((results / "multitask/tiny/track_eval.json").read_text())
    assert float(rows[0]["mota"]) == float(f"{track['mota']:.6g}")


def test_report_tables_plots_and_manifest(sweep):
    workdir, _ = sweep
    results = workdir / "results"
    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["config"]["qps"] == [22, 47]
    assert len(manifest["config_sha256"]) == 64
    assert {"hog", "blazepose", "mediapipe"} <= set(manifest["backends"])
    for table in ("table4_bpp", "table5_pose", "table5b_segm", "table6_mota", "table7_time",
                  "bd_pose_ap", "bd_mota", "bd_segm_ap", "paper_comparison"):
        markdown = (results / "tables" / "vvenc" / f"{table}.md").read_text()
        assert manifest["config_sha256"] in markdown  # every table carries the manifest
    time_table = (results / "tables" / "vvenc" / "table7_time.md").read_text()
    assert "total_two_tasks_s" in time_table and "multitask / single" in time_table
    for plot in ("fig5_pose_ap_vs_qp", "fig6_mota_vs_qp", "bpp_vs_qp", "pose_ap_vs_bpp",
                 "segm_ap_vs_qp", "segm_ap_vs_bpp"):
        assert (results / "plots" / "vvenc" / f"{plot}.png").stat().st_size > 0
        assert (results / "plots" / "vvenc" / f"{plot}.pdf").stat().st_size > 0


def test_logs_and_nothing_left_to_do(sweep):
    workdir, _ = sweep
    for rule in ("synthesize/tiny", "detect/tiny", "foreground/tiny", "track/multitask/tiny",
                 "summary"):
        assert (workdir / "logs" / f"{rule}.log").is_file()
    again = snakemake(workdir, "--dry-run")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


def test_a_changed_qp_reruns_only_what_depends_on_it(sweep, tmp_path):
    workdir, _ = sweep
    config = (REPOSITORY / "configs" / "ci.yaml").read_text().replace("qps: [22, 47]", "qps: [22, 37]")
    changed = tmp_path / "ci_qp37.yaml"
    changed.write_text(config)
    bin_dir = Path(sys.executable).parent
    plan = subprocess.run(
        [str(bin_dir / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(changed), "--dry-run", "--quiet", "rules"],
        capture_output=True, text=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )
    assert plan.returncode == 0, plan.stderr[-2000:]
    # The job table has one "rule count" line per rule that would run.
    planned = {
        line.split()[0] for line in (plan.stdout + plan.stderr).splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }
    assert planned >= {"encode_foreground", "encode_original", "point", "summary"}
    assert not planned & {"synthesize", "detect", "foreground", "track_multitask",
                          "evaluate_track_multitask"}


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGKILL"])
def test_a_sweep_killed_during_an_encode_resumes(sweep, tmp_path, signal_name):
    """Ctrl-C (SIGINT to the group) or a hard kill during an encode, then a rerun: the same
    numbers as an uninterrupted sweep. After a hard kill Snakemake keeps its lock, which
    ``--unlock`` releases (as the README says)."""
    import signal
    import time

    _, clean_rows = sweep
    bin_dir = Path(sys.executable).parent
    environment = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    argv = [str(bin_dir / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"),
            "--directory", str(tmp_path), "--configfile", str(REPOSITORY / "configs" / "ci.yaml"),
            "--cores", "2"]
    process = subprocess.Popen(argv, env=environment, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill the whole process group (snakemake, vcm, ffmpeg) once an encoder is running.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if list((tmp_path / "logs" / "encode").rglob("*.log")):
            break
        time.sleep(0.05)
    assert process.poll() is None, "the sweep finished before an encode could be interrupted"
    os.killpg(process.pid, getattr(signal, signal_name))
    process.wait()
    assert not (tmp_path / "results" / "summary.csv").exists()
    if signal_name == "SIGKILL":
        unlocked = subprocess.run(argv + ["--unlock"], env=environment, capture_output=True)
        assert unlocked.returncode == 0

    resumed = subprocess.run(argv + ["--rerun-incomplete"], env=environment,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    with open(tmp_path / "results" / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    for resumed_row, clean_row in zip(rows, clean_rows, strict=True):
        for column in ("sequence", "pipeline", "qp", "bpp", "bytes", "pose_ap", "mota", "idf1"):
            assert resumed_row[column] == clean_row[column]


def test_ci_sweep_through_the_cluster_generic_executor(sweep, tmp_path):
    """The distributed path: every job goes through a submit command (here a local stand-in
    for sbatch/qsub), and the numbers equal those of the local run."""
    _, local_rows = sweep
    bin_dir = Path(sys.executable).parent
    environment = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    completed = subprocess.run(
        [str(bin_dir / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(REPOSITORY / "configs" / "ci.yaml"),
         "--executor", "cluster-generic",
         "--cluster-generic-submit-cmd", str(REPOSITORY / "workflow/scripts/local_submit.sh"),
         "--jobs", "2", "--latency-wait", "30", "--seconds-between-status-checks", "1"],
        capture_output=True, text=True, env=environment,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "cluster-generic" in completed.stdout + completed.stderr
    with open(tmp_path / "results" / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    for cluster_row, local_row in zip(rows, local_rows, strict=True):
        for column in ("sequence", "pipeline", "qp", "bpp", "bytes", "pose_ap", "mota", "idf1"):
            assert cluster_row[column] == local_row[column]
