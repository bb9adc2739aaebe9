"""The Snakemake sweep on the CI config, run end to end in a scratch directory."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from vcm.detformats import read_detections

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
    with open(workdir / "results" / "ci" / "summary.csv") as handle:
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
    results = workdir / "results" / "ci"  # results/<config name>
    # ci.yaml sends the detections as vcmd: the file's extension follows the format.
    detections_file = results / "detections/tiny/score0.6/detections.vcmd"
    detections_bytes = detections_file.stat().st_size
    boxes = read_detections(detections_file).count
    for row in rows:
        folder = results / row["pipeline"] / "tiny" / "vvenc" / f"qp{row['qp']}"
        if row["pipeline"] == "multitask":
            video_bytes = (folder / "foreground.266").stat().st_size
            sent = detections_bytes
            assert row["detections_format"] == "vcmd"
            assert float(row["bytes_per_box"]) == float(f"{detections_bytes / boxes:.6g}")
        else:
            video_bytes = (folder / "original.266").stat().st_size
            sent = 0
            assert row["detections_format"] == "" and row["bytes_per_box"] == ""
        expected_bytes = video_bytes + sent
        assert int(row["bytes"]) == expected_bytes
        assert float(row["bpp"]) == float(f"{expected_bytes * 8 / (320 * 240 * 12):.6g}")
        assert float(row["video_bpp"]) == float(f"{video_bytes * 8 / (320 * 240 * 12):.6g}")
        assert float(row["detections_bpp"]) == float(f"{sent * 8 / (320 * 240 * 12):.6g}")
        pose = json.loads((folder / "pose_eval.json").read_text())
        assert float(row["pose_ap"]) == float(f"{pose['AP']:.6g}")
        segm = json.loads((folder / "segm_eval.json").read_text())
        assert float(row["segm_ap"]) == float(f"{segm['AP']:.6g}")
    track = json.loads((results / "multitask/tiny/track_eval.json").read_text())
    assert float(rows[0]["mota"]) == float(f"{track['mota']:.6g}")


def test_report_tables_plots_and_manifest(sweep):
    workdir, _ = sweep
    results = workdir / "results" / "ci"
    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["config"]["qps"] == [22, 47]
    assert manifest["results"] == "results/ci"
    assert manifest["multitask_pipelines"] == {
        "multitask": {"variant": "", "score": 0.6, "foreground": {}, "keep_every": 1,
                      "carry": "interpolate", "downscale": 1, "downscale_regions": 1,
                      "embed": False}}
    assert len(manifest["config_sha256"]) == 64
    assert {"hog", "blazepose", "mediapipe"} <= set(manifest["backends"])
    for table in ("table4_bpp", "table5_pose", "table5b_segm", "table6_mota", "table7_time",
                  "bd_pose_ap", "bd_mota", "bd_segm_ap", "paper_comparison", "detection_formats",
                  "bd_rate_by_format"):
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
    for rule in ("synthesize/tiny", "detect/tiny/score0.6", "foreground/multitask/tiny",
                 "track/multitask/tiny", "summary"):
        assert (workdir / "results" / "ci" / "logs" / f"{rule}.log").is_file()
    again = snakemake(workdir, "--dry-run")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


def test_a_changed_qp_reruns_only_what_depends_on_it(sweep, tmp_path):
    workdir, _ = sweep
    config = (REPOSITORY / "configs" / "ci.yaml").read_text().replace("qps: [22, 47]", "qps: [22, 37]")
    # Another file name would be another results folder (results/ci_qp37): the `results`
    # key keeps this one's.
    config += "results: results/ci\n"
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
        if list((tmp_path / "results" / "ci" / "logs" / "encode").rglob("*.log")):
            break
        time.sleep(0.05)
    assert process.poll() is None, "the sweep finished before an encode could be interrupted"
    os.killpg(process.pid, getattr(signal, signal_name))
    process.wait()
    assert not (tmp_path / "results" / "ci" / "summary.csv").exists()
    if signal_name == "SIGKILL":
        unlocked = subprocess.run(argv + ["--unlock"], env=environment, capture_output=True)
        assert unlocked.returncode == 0

    resumed = subprocess.run(argv + ["--rerun-incomplete"], env=environment,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    with open(tmp_path / "results" / "ci" / "summary.csv") as handle:
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
    with open(tmp_path / "results" / "ci" / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    for cluster_row, local_row in zip(rows, local_rows, strict=True):
        for column in ("sequence", "pipeline", "qp", "bpp", "bytes", "pose_ap", "mota", "idf1"):
            assert cluster_row[column] == local_row[column]


PARTIAL_GROUND_TRUTH_CONFIG = """
sequences:
  posed: {synth: {frames: 6, width: 160, height: 128, fps: 10, people: 2, seed: 1}, track_gt: null}
  tracked: {synth: {frames: 6, width: 160, height: 128, fps: 10, people: 2, seed: 2}, pose_gt: null, segm_gt: null}
detector: {name: hog, score: 0.6, options: {}}
pose: {estimator: blazepose, options: {}}
track: {tracker: iou, options: {}}
segment: {segmenter: box, options: {}}
single_task:
  pose: {name: hog, score: 0.6, options: {}}
  track: {name: hog, score: 0.6, options: {}}
  segment: {name: hog, score: 0.6, options: {}}
codecs:
  vvenc: {preset: faster, intra_period: 32}
qps: [22, 47]
"""


def test_sweep_of_a_pose_only_and_a_track_only_sequence(tmp_path):
    # Issue 10: `pose_gt: null` / `track_gt: null` skip that task; the sweep completes,
    # point.json says null (strict JSON), and each table shows each metric where it exists.
    config = tmp_path / "partial.yaml"
    config.write_text(PARTIAL_GROUND_TRUTH_CONFIG)
    workdir = tmp_path / "sweep"
    bin_dir = Path(sys.executable).parent
    completed = subprocess.run(
        [str(bin_dir / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(config), "--cores", "2"],
        capture_output=True, text=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = workdir / "results" / "partial"
    for name in ("track_eval.json", "tracks.txt", "track_detections.zip"):
        assert not list(results.glob(f"*/posed/**/{name}")), name
    for name in ("pose_eval.json", "pose.json", "pose_detections.zip", "masks.json",
                 "segm_eval.json", "segment_detections.zip"):
        assert not list(results.glob(f"*/tracked/**/{name}")), name
    assert list(results.glob("*/posed/**/segm_eval.json"))
    assert list(results.glob("*/posed/**/pose.json")) and list(results.glob("*/tracked/tracks.txt"))
    point = json.loads((results / "multitask/tracked/vvenc/qp22/point.json").read_text(),
                       parse_constant=lambda name: pytest.fail(f"bare {name} in point.json"))
    assert point["results"]["pose_ap"] == [None] and point["results"]["pose_s"] == [0.0]
    assert point["results"]["segm_ap"] == [None] and point["results"]["segment_s"] == [0.0]
    assert point["results"]["mota"][0] is not None and point["results"]["track_s"][0] > 0
    tables = results / "tables" / "vvenc"
    pose = (tables / "table5_pose.csv").read_text()
    mota = (tables / "table6_mota.csv").read_text()
    assert "posed multitask" in pose and "tracked" not in pose
    assert "tracked multitask" in mota and "posed" not in mota
    segm = (tables / "table5b_segm.csv").read_text()
    assert "posed multitask" in segm and "tracked" not in segm
    bd_mota = (tables / "bd_mota.csv").read_text()
    assert "tracked" in bd_mota and "posed" not in bd_mota


def test_pets_sweep_on_real_footage(tmp_path, mirror):
    # Issue 10: configs/pets.yaml, tracking only (PETS09 has no pose ground truth), at its
    # two QPs. Multitask boxes come from the original: one MOTA/HOTA for both QPs.
    workdir = tmp_path / "sweep"
    bin_dir = Path(sys.executable).parent
    completed = subprocess.run(
        [str(bin_dir / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(REPOSITORY / "configs" / "pets.yaml"),
         "--cores", "2"],
        capture_output=True, text=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    with open(workdir / "results" / "pets" / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["pipeline"], int(row["qp"])) for row in rows] == [
        (pipeline, qp) for pipeline in ("multitask", "multitask-grey", "multitask-margin-grey-hold",
                                        "multitask-score0.4", "multitask-score0.5",
                                        "multitask-score0.7", "single") for qp in (22, 47)]
    assert all(row["pose_ap"] == "" and float(row["pose_s"]) == 0 for row in rows)
    multitask, single = rows[:2], rows[-2:]
    assert multitask[0]["mota"] == multitask[1]["mota"]
    assert multitask[0]["hota"] == multitask[1]["hota"]
    # yolo-fastest body 416 at 0.6 with the iou tracker on PETS09, boxes sent as vcmd on its
    # 1-pixel grid (README, "Real footage"; 0.8323 with the unquantised boxes).
    assert float(multitask[0]["mota"]) == pytest.approx(0.8355, abs=0.002)
    assert float(single[1]["mota"]) < float(single[0]["mota"])
    # The score study: fewer boxes sent at a higher score, at every step.
    study = pd.read_csv(workdir / "results/pets/tables/vvenc/score_study.csv", comment="#",
                        index_col=0)
    assert list(study.index) == [f"pets09-s3mf1 {score}" for score in (0.4, 0.5, 0.6, 0.7)]
    assert study["boxes"].is_monotonic_decreasing and study["boxes"].nunique() == 4
    assert (workdir / "results/pets/plots/vvenc/score_study.png").is_file()
    # The variants send the same boxes (same MOTA), at other rates; grey costs fewer bits.
    by_pipeline = {(row["pipeline"], int(row["qp"])): row for row in rows}
    for qp in (22, 47):
        grey = by_pipeline[("multitask-grey", qp)]
        assert grey["mota"] == multitask[0]["mota"] and grey["boxes"] == multitask[0]["boxes"]
        assert float(grey["bpp"]) < float(by_pipeline[("multitask", qp)]["bpp"])
    variants = pd.read_csv(workdir / "results/pets/tables/vvenc/variants.csv", comment="#",
                           index_col=0)
    assert variants.loc["multitask-grey pets09-s3mf1", "foreground"] == "fill=grey"
    assert variants.loc["multitask-grey pets09-s3mf1", "mota BD-quality vs single"] > \
        variants.loc["multitask pets09-s3mf1", "mota BD-quality vs single"]
    tables = workdir / "results" / "pets" / "tables" / "vvenc"
    assert (tables / "table6_mota.md").is_file() and (tables / "bd_mota.md").is_file()
    assert not (tables / "table5_pose.md").exists() and not (tables / "bd_pose_ap.md").exists()
    assert (workdir / "results" / "pets" / "plots" / "vvenc" / "fig6_mota_vs_qp.png").is_file()


VARIANTS_CONFIG = """
sequences:
  walk: {synth: {frames: 8, width: 320, height: 240, fps: 10, people: 2, seed: 1}}
detector: {name: hog, score: 0.6, options: {}}
pose: {estimator: blazepose, options: {}}
track: {tracker: iou, options: {}}
single_task:
  pose: {name: hog, score: 0.6, options: {}}
  track: {name: hog, score: 0.6, options: {}}
codecs:
  vvenc: {preset: faster, intra_period: 32}
qps: [22, 47]
variants:
  grey: {foreground: {fill: grey, margin: 0.25}}
score_study: [0.3, 0.6]
"""


def sweep_config(workdir: Path, folder: Path, name: str, text: str) -> Path:
    """Sweep the config ``text`` (written to ``folder/<name>.yaml``) in ``workdir``; its
    results folder."""
    config = folder / f"{name}.yaml"
    config.write_text(text)
    bin_dir = Path(sys.executable).parent
    environment = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    completed = subprocess.run(
        [str(bin_dir / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(config), "--cores", "2"],
        capture_output=True, text=True, env=environment)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return workdir / "results" / name


def test_variants_and_two_configs_one_after_the_other(tmp_path):
    # Issues 10 (one results folder per config, the score study) and 13 (variants as
    # pipelines): sweep a config with a foreground variant and a score study, then another
    # config in the same working directory; the first one's results stay as they were.
    workdir = tmp_path / "sweep"

    def sweep(name, text):
        return sweep_config(workdir, tmp_path, name, text)

    first = sweep("variants", VARIANTS_CONFIG)
    with open(first / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted({row["pipeline"] for row in rows}) == [
        "multitask", "multitask-grey", "multitask-score0.3", "single"]
    facts = {row["pipeline"]: (row["variant"], row["score"], row["foreground"]) for row in rows}
    assert facts == {"multitask": ("", "0.6", "paper"),
                     "multitask-grey": ("grey", "0.6", "margin=0.25,fill=grey"),
                     "multitask-score0.3": ("score0.3", "0.3", "paper"),
                     "single": ("", "", "")}
    # One detector run per score, shared by the variants at that score; each file holds
    # only boxes at or above its score.
    runs = sorted(path.parent.name for path in (first / "detections" / "walk").glob("*/*.vcmd"))
    assert runs == ["score0.3", "score0.6"]
    for score in (0.3, 0.6):
        detections = read_detections(first / f"detections/walk/score{score:g}/detections.vcmd")
        scores = [float(value) for frame in detections.frames for value in frame.scores]
        assert scores and min(scores) >= score - 1 / 255  # vcmd keeps scores to 8 bits
    low = read_detections(first / "detections/walk/score0.3/detections.vcmd").count
    high = read_detections(first / "detections/walk/score0.6/detections.vcmd").count
    assert low >= high
    boxes = {row["pipeline"]: int(float(row["boxes"])) for row in rows if row["boxes"]}
    assert boxes == {"multitask": high, "multitask-grey": high, "multitask-score0.3": low}
    # The variant renders its own foreground: a grey background costs other bytes.
    grey = [row for row in rows if row["pipeline"] == "multitask-grey"]
    paper = [row for row in rows if row["pipeline"] == "multitask"]
    assert [row["bytes"] for row in grey] != [row["bytes"] for row in paper]
    assert all(float(row["foreground_s"]) > 0 for row in grey + paper)
    tables = first / "tables" / "vvenc"
    variants = pd.read_csv(tables / "variants.csv", comment="#", index_col=0)
    assert list(variants.index) == ["multitask walk", "multitask-grey walk", "multitask-score0.3 walk"]
    assert "pose_ap BD-rate % vs paper" in variants.columns
    study = pd.read_csv(tables / "score_study.csv", comment="#", index_col=0)
    assert list(study.index) == ["walk 0.3", "walk 0.6"]
    assert list(study["boxes"]) == [low, high]
    assert (first / "plots" / "vvenc" / "score_study.png").stat().st_size > 0
    before = {path: path.read_bytes() for path in first.rglob("*") if path.is_file()}

    second = sweep("partial", PARTIAL_GROUND_TRUTH_CONFIG)
    assert (second / "summary.csv").is_file() and (second / "manifest.json").is_file()
    after = {path: path.read_bytes() for path in first.rglob("*") if path.is_file()}
    assert after == before


FEWER_BITS_CONFIG = """
sequences:
  walk: {synth: {frames: 9, width: 320, height: 240, fps: 10, people: 2, seed: 1}}
detector: {name: hog, score: 0.6, options: {}}
pose: {estimator: blazepose, options: {}}
track: {tracker: iou, options: {}}
segment: {segmenter: mediapipe, options: {}}
single_task:
  pose: {name: hog, score: 0.6, options: {}}
  track: {name: hog, score: 0.6, options: {}}
  segment: {name: hog, score: 0.6, options: {}}
codecs:
  vvenc: {preset: faster, intra_period: 32}
qps: [22, 47]
variants:
  k4: {keep_every: 4, carry: interpolate}
  sei: {embed: true}
  half: {downscale: 2}
  regions: {foreground: {fill: grey}, downscale_regions: 2}
"""


def test_temporal_and_embedded_detection_variants_in_the_sweep(tmp_path):
    # Issue 23: a variant coding every 4th frame (poses and masks carried along the tracks),
    # one carrying its detections in the bitstream (SEI), one coding the foreground at
    # half size and one with only its kept rectangles at half size run as pipelines of the
    # sweep.
    from vcm.bitstream import quantise_detections
    from vcm.keypoints import read_pose_results
    from vcm.masks import read_mask_results
    from vcm.runrecord import read_run_record
    from vcm.tracks import read_tracks_txt
    from vcm.video import open_video

    results = sweep_config(tmp_path / "sweep", tmp_path, "fewer", FEWER_BITS_CONFIG)
    with open(results / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    labels = {row["pipeline"]: row["foreground"] for row in rows}
    assert labels == {"multitask": "paper", "multitask-k4": "keep_every=4",
                      "multitask-sei": "paper", "multitask-half": "downscale=2",
                      "multitask-regions": "fill=grey,downscale_regions=2", "single": ""}
    # The half-size foreground is coded at 160x120; its tasks read it at 320x240.
    half = open_video(results / "multitask-half/walk/vvenc/qp22/decoded.mkv").info
    assert (half.width, half.height) == (160, 120)
    # The region-scaled one keeps the frame's size; its poses read the restored frames.
    regions = open_video(results / "multitask-regions/walk/vvenc/qp22/decoded.mkv").info
    assert (regions.width, regions.height, regions.frames) == (320, 240, 9)
    assert read_run_record(results / "multitask-regions/walk/vvenc/qp22/pose.json")[
        "parameters"]["downscale_regions"] == 2
    # Frames 1, 5 and 9 of 9 are coded; the tasks are evaluated on every frame.
    assert open_video(results / "multitask-k4/walk/foreground.mkv").info.frames == 3
    assert open_video(results / "multitask-k4/walk/vvenc/qp22/decoded.mkv").info.frames == 3
    tracks = read_tracks_txt(results / "multitask-k4/walk/tracks.txt", num_frames=9)
    tracked = {frame.frame for frame in tracks.frames if len(frame)}
    poses = read_pose_results(results / "multitask-k4/walk/vvenc/qp22/pose.json")
    assert {pose.image_id for pose in poses} - {1, 5, 9} <= tracked
    masks = read_mask_results(results / "multitask-k4/walk/vvenc/qp22/masks.json")
    assert {mask.image_id for mask in masks} - {1, 5, 9} <= tracked
    # The tracker reads the full-rate detections: MOTA does not change with resampling.
    mota = {row["pipeline"]: row["mota"] for row in rows if row["pipeline"] != "single"}
    assert len(set(mota.values())) == 1, mota
    by_point = {(row["pipeline"], row["qp"]): row for row in rows}
    assert int(by_point[("multitask-k4", "22")]["bytes"]) < int(
        by_point[("multitask", "22")]["bytes"])
    # The SEI variant's BPP counts its one bitstream, whose SEIs carry the sent boxes.
    for qp in ("22", "47"):
        folder = results / f"multitask-sei/walk/vvenc/qp{qp}"
        counted = json.loads((folder / "bpp.json").read_text())["files"]
        assert list(counted) == [str(Path("results/fewer/multitask-sei/walk/vvenc") / f"qp{qp}"
                                     / "foreground.266")]
        sent = read_detections(results / "detections/walk/score0.6/detections.vcmd")
        back = read_detections(folder / "extracted.vcmd")
        expected = quantise_detections(sent, 320, 240)
        assert [frame.boxes.tolist() for frame in back.frames] == [
            frame.boxes.tolist() for frame in expected.frames]
    variants = pd.read_csv(results / "tables" / "vvenc" / "variants.csv", comment="#", index_col=0)
    assert list(variants.index) == ["multitask walk", "multitask-half walk", "multitask-k4 walk",
                                    "multitask-regions walk", "multitask-sei walk"]


def test_the_motion_config_plans_the_motion_task_of_every_point(tmp_path):
    """configs/motion.yaml on the clips and gallery its comment says to write: the sweep plans
    poses and tracks, multitask and single-task, for the 5 clips at 3 QPs, and on each of
    those 30 points `vcm motion run` on the point's poses and its pipeline's tracks (multitask:
    the sequence's, single-task: the point's) with the gallery, then `vcm evaluate motion` of
    the clip on the labels, whose scores the point reads (`--motion-eval`)."""
    from vcm.motion.run import fit_file
    from vcm.synth import synthesize_motions

    synthesize_motions(tmp_path / "data" / "motions", clips_per_motion=1)
    synthesize_motions(tmp_path / "data" / "motions-gallery", clips_per_motion=1, seed=1)
    fit_file(tmp_path / "data" / "motions-gallery" / "labels.csv",
             tmp_path / "data" / "motions-gallery.json", progress=False)
    bin_dir = Path(sys.executable).parent
    plan = subprocess.run(
        [str(bin_dir / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(REPOSITORY / "configs" / "motion.yaml"),
         "--dry-run", "--printshellcmds"],
        capture_output=True, text=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert plan.returncode == 0, plan.stderr[-2000:]
    output = plan.stdout + plan.stderr
    planned = {line.split()[0]: int(line.split()[1]) for line in output.splitlines()
               if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert (planned["pose_multitask"], planned["pose_single"]) == (15, 15)
    # Multitask tracks come from the original's boxes: once per clip; single-task per point.
    assert (planned["track_multitask"], planned["track_single"]) == (5, 15)
    assert "segment_multitask" not in planned
    assert (planned["motion"], planned["evaluate_motion"], planned["point"]) == (30, 30, 30)
    commands = [line.split("Shell command: ", 1)[1] for line in output.splitlines()
                if line.startswith("Shell command: ")]
    runs = {command.split()[3] for command in commands if command.startswith("vcm motion run ")}
    point = "results/motion/{}/squat-1/vvenc/qp37"
    multitask = (f"vcm motion run {point.format('multitask')}/pose.json "
                 "results/motion/multitask/squat-1/tracks.txt --recognizer knn  --model "
                 f"data/motions-gallery.json --like data/motions/squat-1 -o "
                 f"{point.format('multitask')}/motion.jsonl")
    single = (f"vcm motion run {point.format('single')}/pose.json {point.format('single')}/tracks.txt "
              "--recognizer knn  --model data/motions-gallery.json --like data/motions/squat-1 "
              f"-o {point.format('single')}/motion.jsonl")
    assert any(command.startswith(multitask + " ") for command in commands)
    assert any(command.startswith(single + " ") for command in commands)
    assert len(runs) == 30
    evaluate = (f"vcm evaluate motion {point.format('single')}/motion.jsonl --labels "
                f"data/motions/labels.csv --clip squat-1 -o {point.format('single')}/motion_eval.json")
    assert any(command.startswith(evaluate + " ") for command in commands)
    records = [command for command in commands if command.startswith("vcm point ")]
    assert all(f"--motion-eval results/motion/{command.split('--pipeline ')[1].split()[0]}/"
               f"{command.split('--sequence ')[1].split()[0]}/vvenc/qp"
               f"{command.split('--qp ')[1].split()[0]}/motion_eval.json" in command
               for command in records) and len(records) == 30


def test_a_config_without_motion_plans_no_motion_job(tmp_path):
    """configs/motion.yaml without its `motion` section: no motion job, no `--motion-eval`."""
    import yaml

    from vcm.synth import synthesize_motions

    synthesize_motions(tmp_path / "data" / "motions", clips_per_motion=1)
    config = yaml.safe_load((REPOSITORY / "configs" / "motion.yaml").read_text())
    del config["motion"]
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(config))
    bin_dir = Path(sys.executable).parent
    plan = subprocess.run(
        [str(bin_dir / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(tmp_path / "plain.yaml"),
         "--dry-run", "--printshellcmds"],
        capture_output=True, text=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert plan.returncode == 0, plan.stderr[-2000:]
    output = plan.stdout + plan.stderr
    assert "vcm point " in output
    assert "vcm motion run" not in output and "--motion-eval" not in output
