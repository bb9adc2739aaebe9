"""Tracker variants in one sweep (config `trackers:`): pipelines multitask+<name> and
single+<name>, their rules, and the trackers table."""

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from vcm.config import check_sweep_config, load_config, tracker_pipelines
from vcm.errors import VcmError
from vcm.experiment.trackers import trackers_table, tracking_pipelines
from vcm.experiment.variants import multitask_pipelines

REPOSITORY = Path(__file__).resolve().parents[1]
REID_CONFIG = REPOSITORY / "configs" / "reid.yaml"


def test_each_tracker_entry_is_a_multitask_and_a_single_pipeline():
    config = load_config(REID_CONFIG)
    assert tracker_pipelines(config) == {
        "multitask+byte": {"base": "multitask", "name": "byte", "tracker": "iou",
                           "options": {"byte_track_score": 0.6}},
        "single+byte": {"base": "single", "name": "byte", "tracker": "iou",
                        "options": {"byte_track_score": 0.6}},
        "multitask+appearance": {"base": "multitask", "name": "appearance", "tracker": "iou",
                                 "options": {"byte_track_score": 0.6, "appearance": "histogram"}},
        "single+appearance": {"base": "single", "name": "appearance", "tracker": "iou",
                              "options": {"byte_track_score": 0.6, "appearance": "histogram"}},
    }


@pytest.mark.parametrize("entry, message", [
    ({"tracker": "nosuch"}, "trackers/x/tracker: unknown tracker 'nosuch'"),
    ({"tracker": "iou", "options": {"mode": "byte"}}, "trackers/x/options: unknown option 'mode'"),
    ({"tracker": "iou", "options": {"reid_distance": 3}}, "trackers/x/options: "),
    ({"tracker": "iou", "options": {"appearance": "nosuch"}},
     "trackers/x/options/appearance: unknown appearance embedder 'nosuch'"),
    ({"tracker": "iou", "options": {"appearance": "histogram", "appearance_options": {"bins": 1}}},
     "trackers/x/options/appearance_options: "),
])
def test_a_tracker_entry_the_sweep_cannot_run_is_refused(entry, message):
    config = load_config(REID_CONFIG)
    config["trackers"] = {"x": entry}
    with pytest.raises(VcmError, match=re.escape(message)):
        check_sweep_config(config, source="reid.yaml")


def test_a_tracker_variant_name_with_a_slash_is_refused():
    config = load_config(REID_CONFIG)
    config["trackers"] = {"../x": {"tracker": "iou"}}
    with pytest.raises(VcmError):
        check_sweep_config(config, source="reid.yaml")


def summary_rows():
    """Four QPs; single+a's IDF1 rises by 0.4 per decade of BPP from 0.4 at 0.01 BPP;
    multitask+a has the same IDF1 at half the BPP; multitask and single are flat."""
    rows = []
    for qp, bpp in zip((22, 27, 32, 37), (0.1, 0.05, 0.02, 0.01)):
        idf1 = 0.4 + 0.4 * math.log10(bpp / 0.01)
        for pipeline, rate, value, switches in (
                ("single+a", bpp, idf1, 3), ("multitask+a", bpp / 2, idf1, 1),
                ("single", bpp, 0.5, 4), ("multitask", bpp / 2, 0.5, 2)):
            rows.append({"sequence": "s", "pipeline": pipeline, "codec": "vvenc", "qp": qp,
                         "bpp": rate, "mota": value, "idf1": value, "hota": value,
                         "assa": value, "id_switches": switches})
    return pd.DataFrame(rows)


def test_trackers_table_sets_every_tracking_pipeline_side_by_side():
    summary = summary_rows()
    assert tracking_pipelines(summary) == ["multitask", "single", "multitask+a", "single+a"]
    # The tracker variants are not multitask variants (no variants table for them).
    assert multitask_pipelines(summary) == ["multitask"]
    table = trackers_table(summary)
    assert list(table.index) == ["multitask s", "single s", "multitask+a s", "single+a s"]
    assert table.loc["single+a s", "idf1 qp22"] == pytest.approx(0.8)
    assert table.loc["single+a s", "idf1 qp37"] == pytest.approx(0.4)
    assert table.loc["multitask+a s", "id_switches qp22"] == 1
    assert table.loc["single s", "id_switches qp37"] == 4
    # The same IDF1 at half the rate: BD-rate -50 %; at equal rate, IDF1 is higher by the
    # curve's slope (0.4 per decade) times log10(2) decades.
    assert table.loc["multitask+a s", "idf1 BD-rate % vs single"] == pytest.approx(-50, abs=1e-6)
    assert table.loc["multitask+a s", "idf1 BD-quality vs single"] == pytest.approx(
        0.4 * math.log10(2), abs=1e-6)
    # Flat multitask against single (also flat): no rate gives equal quality, and at equal
    # rate they are the same.
    assert math.isnan(table.loc["multitask s", "hota BD-rate % vs single"])
    assert table.loc["multitask s", "hota BD-quality vs single"] == pytest.approx(0, abs=1e-9)
    # Single-task rows have no BD figures against themselves.
    assert math.isnan(table.loc["single+a s", "idf1 BD-quality vs single"])


def test_dry_run_tracks_each_point_once_more_per_tracker_variant(tmp_path):
    bin_dir = Path(sys.executable).parent
    environment = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    completed = subprocess.run(
        [str(bin_dir / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(REID_CONFIG), "--cores", "1",
         "--dry-run", "--printshellcmds"],
        capture_output=True, text=True, env=environment, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    output = completed.stdout + completed.stderr
    tracks = [line for line in output.splitlines() if line.lstrip().startswith("Shell command: vcm track")]
    variant_tracks = [line for line in tracks if "+" in line.split(" -o ")[1]]
    # 2 tracker variants x (multitask, single) x 2 QPs.
    assert len(variant_tracks) == 8
    for qp in (22, 47):
        appearance_multitask = next(line for line in variant_tracks
                                    if f"multitask+appearance/tiny/vvenc/qp{qp}/tracks.txt" in line)
        # With appearance, multitask embeds its point's decoded foreground from the shared boxes.
        assert "detections/tiny/score0.6/detections.vcmd" in appearance_multitask
        assert f"--video results/reid/multitask/tiny/vvenc/qp{qp}/decoded.mkv" in appearance_multitask
        appearance_single = next(line for line in variant_tracks
                                 if f"single+appearance/tiny/vvenc/qp{qp}/tracks.txt" in line)
        assert f"single/tiny/vvenc/qp{qp}/track_detections.zip" in appearance_single
        assert f"--video results/reid/single/tiny/vvenc/qp{qp}/decoded.mkv" in appearance_single
        byte = next(line for line in variant_tracks
                    if f"multitask+byte/tiny/vvenc/qp{qp}/tracks.txt" in line)
        assert "--video" not in byte and "-p byte_track_score=0.6" in byte
    # A tracker variant's point shares its base's bits and pose, with its own tracks.
    point = next(line for line in output.splitlines()
                 if "vcm point" in line and "--pipeline multitask+appearance" in line and "qp22" in line)
    assert "--bpp results/reid/multitask/tiny/vvenc/qp22/bpp.json" in point
    assert "--pose-eval results/reid/multitask/tiny/vvenc/qp22/pose_eval.json" in point
    assert "--track-eval results/reid/multitask+appearance/tiny/vvenc/qp22/track_eval.json" in point
    assert "--run results/reid/multitask+appearance/tiny/vvenc/qp22/tracks.txt.run.json" in point
    assert "multitask/tiny/tracks.txt.run.json" not in point
    assert sum("vcm point" in line for line in output.splitlines()) == 12
