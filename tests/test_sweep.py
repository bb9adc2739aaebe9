"""`vcm sweep` (what `make sweep` runs): configs/own-video.yaml on a tiny mp4 without ground
truth, one progress line on the console and Snakemake's whole output in sweep.log."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from vcm.ffmpeg import ffmpeg_executable
from vcm.synth import synthesize_sequence
from vcm.sweep import SweepOutcome

REPOSITORY = Path(__file__).resolve().parents[1]


def test_outcome_reads_steps_and_the_failed_rules_log():
    outcome = SweepOutcome()
    lines = ["Building DAG of jobs...", "3 of 28 steps (11%) done", "Error in rule pose:",
             "    jobid: 7", "    log: results/x/logs/pose.log (check log file(s) for error details)",
             "Error in rule track:", "    log: results/x/logs/track.log"]
    advanced = [outcome.read(line + "\n") for line in lines]
    assert advanced == [False, True, False, False, False, False, False]
    assert (outcome.done, outcome.total) == (3, 28)
    assert (outcome.failed_rule, outcome.failed_log) == ("pose", "results/x/logs/pose.log")
    assert not outcome.nothing_to_do and SweepOutcome().read("Nothing to be done (all") is False


def test_own_video_template_sweeps_a_tiny_mp4(tmp_path):
    folder = tmp_path / "sequence"
    # ci.yaml's clip, where HOG finds people, cut to 4 frames.
    synthesize_sequence(folder, frames=4, width=320, height=240, fps=10, people=2, seed=1,
                        progress=False)
    video = tmp_path / "my video.mp4"  # a space: paths reach the shell quoted
    subprocess.run([ffmpeg_executable(), "-v", "error", "-framerate", "10", "-i",
                    str(folder / "img1" / "%06d.png"), "-c:v", "mpeg4", "-q:v", "2",
                    "-pix_fmt", "yuv420p", str(video)], check=True)
    config = yaml.safe_load((REPOSITORY / "configs" / "own-video.yaml").read_text())
    config["sequences"]["my-video"]["path"] = str(video)
    config["qps"] = [42]
    config_file = tmp_path / "own.yaml"
    config_file.write_text(yaml.safe_dump(config))
    bin_dir = Path(sys.executable).parent
    completed = subprocess.run(
        [str(bin_dir / "vcm"), "sweep", str(config_file), "--cores", "2", "--no-progress",
         "--directory", str(tmp_path / "work")],
        capture_output=True, text=True, cwd=REPOSITORY, timeout=900,
        env={**os.environ, "PATH": os.environ.get("PATH", "")},
    )
    log = tmp_path / "work" / "results" / "own" / "sweep.log"
    assert completed.returncode == 0, completed.stderr + log.read_text()[-3000:]
    # The console: the one closing line; Snakemake's per-job blocks are in the log only.
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    steps = re.fullmatch(rf"sweep: (\d+) of \1 steps done; {re.escape(str(tmp_path))}/work/"
                         rf"results/own/summary.csv; Snakemake's log: {re.escape(str(log))}",
                         lines[0])
    assert steps, lines[0]
    text = log.read_text()
    assert "rule encode" in text and f"{steps.group(1)} of {steps.group(1)} steps (100%) done" in text
    with open(tmp_path / "work" / "results" / "own" / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["pipeline"], row["qp"]) for row in rows] == [
        ("multitask", "42"), ("multitask-grey", "42"), ("single", "42")]
    # Without ground truth no task runs (there is nothing to score): rate, the shared
    # detector's and the codec's seconds, no accuracy.
    for row in rows:
        assert float(row["bpp"]) > 0 and float(row["encode_s"]) > 0
        assert row["pose_ap"] == row["mota"] == "" and float(row["pose_s"]) == 0
    for row in rows[:2]:
        assert float(row["detect_s"]) > 0 and int(row["boxes"]) > 0
        assert float(row["bpp"]) < float(rows[2]["bpp"])  # the foreground costs less here
    assert float(rows[2]["detect_s"]) == 0 and float(rows[2]["total_s"]) == 0
