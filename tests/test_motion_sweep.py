"""The sweep's `motion` section: the point's motion scores, the config's checks, and the
`motion` table by QP, multitask against single-task, on made-up numbers worked out by hand."""

import math

import pandas as pd
import pytest

from vcm.config import load_config, motion_problems
from vcm.errors import VcmError
from vcm.experiment.motion import BD_ROW, motion_table
from vcm.experiment.points import SUMMARY_COLUMNS, build_point, summary_row

QPS = (22, 27, 32, 37)
BPP_RECORD = {"bpp": 0.5, "bytes": 100, "frames": 10, "width": 64, "height": 48}


def summary_rows():
    """Two scored sequences and one without motion scores, four QPs.

    s1: single-task accuracy 0.8, 0.6, 0.4, 0.2 at 1.6, 0.8, 0.4, 0.2 BPP; multitask the same
    accuracies at half the BPP (BD-rate exactly -50 %). s2: single-task 1.0, 0.8, 0.6, 0.4 at
    1.0, 0.5, 0.25, 0.125 BPP; multitask accuracy 1.0 at every QP (flat: no BD-rate).
    s3: no motion scores (9.9 BPP), left out of every mean."""
    rows = []

    def add(sequence, pipeline, bpps, accuracies, f1s, maes):
        for qp, bpp, accuracy, f1, mae in zip(QPS, bpps, accuracies, f1s, maes):
            rows.append({"sequence": sequence, "pipeline": pipeline, "codec": "vvenc", "qp": qp,
                         "bpp": bpp, "motion_accuracy": accuracy, "motion_macro_f1": f1,
                         "motion_count_mae": mae})

    add("s1", "single", (1.6, 0.8, 0.4, 0.2), (0.8, 0.6, 0.4, 0.2), (0.7, 0.5, 0.3, 0.1),
        (0.0, 1.0, 2.0, 3.0))
    add("s1", "multitask", (0.8, 0.4, 0.2, 0.1), (0.8, 0.6, 0.4, 0.2), (0.6, 0.6, 0.4, 0.2),
        (1.0, 1.0, 1.0, 1.0))
    add("s2", "single", (1.0, 0.5, 0.25, 0.125), (1.0, 0.8, 0.6, 0.4), (0.9, 0.7, 0.5, 0.3),
        (0.0, 0.0, 1.0, 1.0))
    add("s2", "multitask", (0.3, 0.2, 0.1, 0.05), (1.0, 1.0, 1.0, 1.0), (1.0, 1.0, 1.0, 1.0),
        (0.5, 0.5, 0.5, 0.5))
    nan = (math.nan,) * 4
    add("s3", "single", (9.9,) * 4, nan, nan, nan)
    add("s3", "multitask", (9.9,) * 4, nan, nan, nan)
    return pd.DataFrame(rows)


def test_motion_table_means_over_scored_sequences_by_qp():
    table = motion_table(summary_rows(), codec="vvenc")
    assert list(table.index) == ["qp22", "qp27", "qp32", "qp37", BD_ROW]
    assert list(table.columns) == [
        "multitask BPP", "multitask accuracy", "multitask macro-F1", "multitask count MAE",
        "single BPP", "single accuracy", "single macro-F1", "single count MAE"]
    # qp22: multitask BPP (0.8 + 0.3) / 2, accuracy (0.8 + 1.0) / 2, F1 (0.6 + 1.0) / 2,
    # MAE (1.0 + 0.5) / 2; single BPP (1.6 + 1.0) / 2, accuracy (0.8 + 1.0) / 2.
    assert table.loc["qp22", "multitask BPP"] == pytest.approx(0.55)
    assert table.loc["qp22", "multitask accuracy"] == pytest.approx(0.9)
    assert table.loc["qp22", "multitask macro-F1"] == pytest.approx(0.8)
    assert table.loc["qp22", "multitask count MAE"] == pytest.approx(0.75)
    assert table.loc["qp22", "single BPP"] == pytest.approx(1.3)
    assert table.loc["qp22", "single accuracy"] == pytest.approx(0.9)
    # qp37: single accuracy (0.2 + 0.4) / 2, MAE (3 + 1) / 2; multitask BPP (0.1 + 0.05) / 2.
    assert table.loc["qp37", "single accuracy"] == pytest.approx(0.3)
    assert table.loc["qp37", "single count MAE"] == pytest.approx(2.0)
    assert table.loc["qp37", "multitask BPP"] == pytest.approx(0.075)
    # s2's multitask curve is flat: no BD-rate there, so no average either (n/a).
    assert table.loc[BD_ROW].isna().all()


def test_motion_table_bd_rate_of_accuracy_where_the_curves_allow():
    rows = summary_rows()
    table = motion_table(rows[rows["sequence"] == "s1"], codec="vvenc")
    # Same accuracy at half the bits at every point: -50 %.
    assert table.loc[BD_ROW, "multitask accuracy"] == pytest.approx(-50.0, abs=1e-6)
    assert table.loc[BD_ROW].drop("multitask accuracy").isna().all()
    single_only = motion_table(rows[rows["pipeline"] == "single"], codec="vvenc")
    assert "multitask accuracy" not in single_only.columns
    assert single_only.loc[BD_ROW].isna().all()


def test_motion_table_is_empty_without_motion_scores():
    rows = summary_rows()
    assert motion_table(rows[rows["sequence"] == "s3"], codec="vvenc").empty
    assert motion_table(rows.drop(columns=[column for column in rows.columns
                                           if column.startswith("motion_")]), codec="vvenc").empty


def test_a_point_reads_the_clip_scores_of_its_motion_evaluation(tmp_path):
    evaluation = {"clip": {"count": 4, "accuracy": 0.75, "macro_f1": 0.5, "reps_mae": 1.25,
                           "reps_within_one": 0.5, "counted": 4},
                  "track": {"count": 2, "accuracy": 1.0, "macro_f1": 1.0, "reps_mae": None,
                            "reps_within_one": None, "counted": 0}, "rows": []}
    point = build_point(sequence="s", pipeline="single", codec="vvenc", qp=22, bpp=BPP_RECORD,
                        motion_evaluation=evaluation)
    row = summary_row(point, source=tmp_path / "point.json")
    assert (row["motion_accuracy"], row["motion_macro_f1"], row["motion_count_mae"]) == (0.75, 0.5, 1.25)
    unscored = {**evaluation, "clip": {**evaluation["clip"], "reps_mae": None}}
    point = build_point(sequence="s", pipeline="single", codec="vvenc", qp=22, bpp=BPP_RECORD,
                        motion_evaluation=unscored)
    assert math.isnan(summary_row(point, source=tmp_path / "point.json")["motion_count_mae"])
    # Without a motion section, and in records written before it: NaN.
    plain = build_point(sequence="s", pipeline="single", codec="vvenc", qp=22, bpp=BPP_RECORD)
    assert math.isnan(summary_row(plain, source=tmp_path / "p.json")["motion_accuracy"])
    for column in ("motion_accuracy", "motion_macro_f1", "motion_count_mae"):
        del plain["results"][column]
    assert math.isnan(summary_row(plain, source=tmp_path / "p.json")["motion_macro_f1"])
    assert "motion_accuracy" in SUMMARY_COLUMNS
    with pytest.raises(VcmError, match="malformed motion evaluation"):
        build_point(sequence="s", pipeline="single", codec="vvenc", qp=22, bpp=BPP_RECORD,
                    motion_evaluation={"rows": []})


def write_labels(folder, clips):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "labels.csv").write_text(
        "clip,label,start_frame,end_frame,reps\n"
        + "".join(f"{clip},squat,1,10,2\n" for clip in clips))
    return folder / "labels.csv"


def test_the_motion_section_needs_its_gallery_labels_and_a_row_per_sequence(tmp_path):
    labels = write_labels(tmp_path / "clips", ["a"])
    config = {"sequences": {"a": {"path": str(tmp_path / "clips" / "a")},
                            "b": {"path": str(tmp_path / "clips" / "b")}},
              "motion": {"recognizer": "knn", "options": {"model": str(tmp_path / "no.json")},
                         "motion_gt": str(labels)}}
    problems = motion_problems(config)
    assert problems == [
        f"motion/options/model: {tmp_path / 'no.json'}: no such file (make one: vcm motion fit "
        "LABELS -o GALLERY.json)",
        f"motion/motion_gt: {labels}: no row labels sequence b (clip b)"]
    config["motion"] = {"recognizer": "knn", "motion_gt": None}
    assert motion_problems(config) == []
    config["motion"]["motion_gt"] = str(tmp_path / "none.csv")
    assert motion_problems(config) == [
        f"motion/motion_gt: {tmp_path / 'none.csv'}: no such file (none: `motion_gt: null`)"]
    assert motion_problems({"sequences": {}}) == []


def test_an_unknown_recognizer_or_key_is_refused(tmp_path):
    base = (tmp_path / "base.yaml")
    text = (
        "sequences: {tiny: {synth: {frames: 4, width: 96, height: 64, people: 1}}}\n"
        "detector: {name: hog}\npose: {estimator: blazepose}\ntrack: {tracker: iou}\n"
        "single_task: {pose: {name: hog}, track: {name: hog}}\ncodecs: {ffv1: {}}\nqps: [0]\n")
    base.write_text(text + "motion: {recognizer: nearest}\n")
    with pytest.raises(VcmError, match="motion/recognizer: unknown motion recognizer 'nearest'"):
        load_config(base)
    base.write_text(text + "motion: {recognizer: knn, labels: x.csv}\n")
    with pytest.raises(VcmError, match="motion: Additional properties"):
        load_config(base)
