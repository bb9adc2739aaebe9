import math

import pandas as pd
import pytest
from pytest import approx

from vcm.errors import VcmError
from vcm.experiment.tables import (
    DROP_ROW,
    formats_table,
    bpp_table,
    hota_table,
    identity_table,
    markdown,
    mota_table,
    per_qp,
    pose_table,
    relative_drop,
    segm_table,
    time_table,
    write_tables,
)

from summaries import hand_made_summary


def test_bpp_table_values_and_reduction():
    table = bpp_table(hand_made_summary())
    assert table.index.tolist() == [22, 47]
    assert table.columns.tolist() == [
        "a multitask", "a single", "b multitask", "b single",
        "average multitask", "average single", "average multitask reduction %",
    ]
    assert table.loc[22, "a multitask"] == approx(0.3)
    assert table.loc[47, "b single"] == approx(0.24)
    assert table["average multitask"].tolist() == approx([(0.3 + 0.6) / 2, (0.06 + 0.048) / 2])
    assert table["average single"].tolist() == approx([(1.2 + 2.4) / 2, (0.12 + 0.24) / 2])
    # a (original 12 bpp): 1 - 0.3/12 = 97.5%, 1 - 0.06/12 = 99.5%;
    # b (original 24 bpp): 1 - 0.6/24 = 97.5%, 1 - 0.048/24 = 99.8%.
    assert table["average multitask reduction %"].tolist() == approx([97.5, (99.5 + 99.8) / 2])


def test_pose_table_values_and_drop():
    table = pose_table(hand_made_summary())
    assert table.index.tolist() == [22, 47, "drop %"]
    assert table.loc[22, "average multitask"] == approx((0.8 + 0.6) / 2)
    assert table.loc[47, "average single"] == approx((0.6 + 0.35) / 2)
    drop = table.loc["drop %"]
    assert drop["a multitask"] == approx(100 * 0.1 / 0.8)
    assert drop["a single"] == approx(100 * 0.3 / 0.9)
    assert drop["b single"] == approx(50.0)
    assert drop["average multitask"] == approx(100 * (0.7 - 0.6) / 0.7)
    assert drop["average single"] == approx(100 * (0.8 - 0.475) / 0.8)


def test_mota_table_constant_multitask_drops_zero():
    table = mota_table(hand_made_summary())
    drop = table.loc["drop %"]
    assert drop["a multitask"] == 0.0 and drop["average multitask"] == 0.0
    assert drop["a single"] == approx(50.0)
    assert drop["b single"] == approx(25.0)
    assert drop["average single"] == approx(100 * (0.7 - 0.425) / 0.7)


def test_hota_table_by_qp():
    # hota = mota - 0.1: a single 0.7 -> 0.3, b single 0.5 -> 0.35; multitask constant.
    table = hota_table(hand_made_summary())
    assert table.loc[22, "a single"] == approx(0.7)
    assert table.loc[47, "average single"] == approx((0.3 + 0.35) / 2)
    drop = table.loc["drop %"]
    assert drop["a multitask"] == approx(0.0) and drop["b multitask"] == approx(0.0)
    assert drop["a single"] == approx(100 * 0.4 / 0.7)
    assert drop["average single"] == approx(100 * (0.6 - 0.325) / 0.6)


def test_identity_table_by_qp():
    summary = hand_made_summary()
    # AssA and switches of sequence a only (b's evaluations predate them: NaN).
    summary["assa"] = float("nan")
    summary["id_switches"] = float("nan")
    for pipeline, qp, assa, switches in (("multitask", 22, 0.6, 2), ("multitask", 47, 0.6, 2),
                                         ("single", 22, 0.7, 1), ("single", 47, 0.3, 9)):
        at = (summary["sequence"] == "a") & (summary["pipeline"] == pipeline) & \
            (summary["qp"] == qp)
        summary.loc[at, ["assa", "id_switches"]] = assa, switches
    table = identity_table(summary)
    assert list(table.columns) == [
        "a multitask idf1", "a single idf1", "b multitask idf1", "b single idf1",
        "average multitask idf1", "average single idf1",
        "a multitask assa", "a single assa", "a multitask id_switches", "a single id_switches"]
    assert list(table.index) == [22, 47]
    assert table.loc[47, "a single id_switches"] == 9
    assert table.loc[22, "average single idf1"] == approx(0.5)
    assert table.loc[47, "a single assa"] == approx(0.3)
    # Without AssA or switches at all (an old summary): IDF1 alone.
    assert list(identity_table(hand_made_summary()).columns)[-1] == "average single idf1"


def test_time_table_means_per_pipeline():
    table = time_table(hand_made_summary())
    # Both sequences have pose and tracking ground truth: one task set.
    assert table.index.tolist() == [
        "pose+track: multitask", "pose+track: single", "pose+track: multitask / single",
        "pose+track: multitask / single qp22", "pose+track: multitask / single qp47",
    ]
    assert table.columns.tolist() == ["sequences", "detect_s", "pose_s", "track_s", "total_s", "encode_s",
                                      "decode_s", "points"]
    assert set(table["sequences"]) == {"a, b"}
    times = table.drop(columns="sequences")
    assert times.loc["pose+track: multitask"].tolist() == approx([15.0, 3.0, 1.0, 19.0, 5.0, 1.0, 4])
    assert times.loc["pose+track: single"].tolist() == approx([6.0, 3.0, 2.0, 11.0, 6.0, 1.0, 4])
    ratio = times.loc["pose+track: multitask / single"]
    assert ratio[:-1].tolist() == approx([15 / 6, 1.0, 0.5, 19 / 11, 5 / 6, 1.0])
    assert math.isnan(ratio["points"])
    # Per QP: only the encoder's time changes with QP. QP 22: multitask (5 + 7) / 2 = 6 s,
    # single (6 + 8) / 2 = 7 s; QP 47: 4 s and 5 s.
    at_22 = times.loc["pose+track: multitask / single qp22"]
    at_47 = times.loc["pose+track: multitask / single qp47"]
    assert at_22[:-1].tolist() == approx([15 / 6, 1.0, 0.5, 19 / 11, 6 / 7, 1.0])
    assert at_47["encode_s"] == approx(4 / 5) and at_47["total_s"] == approx(19 / 11)


def test_time_table_never_averages_sequences_with_different_tasks():
    # b has no tracking ground truth: its points run pose alone (track_s 0), so its times
    # stand in a group of their own instead of pulling a's pose+track means down.
    summary = hand_made_summary()
    b = summary["sequence"] == "b"
    summary.loc[b, "mota"] = float("nan")
    summary.loc[b, "track_s"] = 0.0
    summary["total_s"] = summary[["detect_s", "pose_s", "track_s"]].sum(axis=1)
    table = time_table(summary)
    assert table.index.tolist() == [
        "pose: multitask", "pose: single", "pose: multitask / single",
        "pose: multitask / single qp22", "pose: multitask / single qp47",
        "pose+track: multitask", "pose+track: single", "pose+track: multitask / single",
        "pose+track: multitask / single qp22", "pose+track: multitask / single qp47",
    ]
    assert table.loc["pose: multitask", "sequences"] == "b"
    assert table.loc["pose+track: single", "sequences"] == "a"
    # b: multitask 20 + 4 + 0 = 24 s, single 8 + 3 + 0 = 11 s; a: 13 s and 9 s.
    assert table.loc["pose: multitask", ["total_s", "points"]].tolist() == approx([24.0, 2])
    assert table.loc["pose: multitask / single", "total_s"] == approx(24 / 11)
    assert table.loc["pose+track: multitask / single", "total_s"] == approx(13 / 9)
    assert table.loc["pose+track: multitask / single qp47", "encode_s"] == approx(3 / 4)


def test_time_table_with_a_third_task_gives_both_ratios():
    # Segmentation adds 2 s per point to both pipelines; single-task also runs its own
    # detector for it (2 s on a, 4 s on b), multitask reuses the shared boxes.
    summary = hand_made_summary()
    single = summary["pipeline"] == "single"
    summary["segment_s"] = 2.0
    summary["segment_detect_s"] = 0.0
    summary.loc[single, "segment_detect_s"] = summary.loc[single, "sequence"].map({"a": 2.0, "b": 4.0})
    summary["detect_s"] += summary["segment_detect_s"]
    summary["total_s"] = summary[["detect_s", "pose_s", "track_s", "segment_s"]].sum(axis=1)
    summary["total_two_tasks_s"] = summary["total_s"] - summary["segment_s"] - summary["segment_detect_s"]
    summary["segm_ap"] = 0.5  # both sequences have the third task's ground truth
    table = time_table(summary).rename(index=lambda label: label.removeprefix("pose+track+segment: "))
    assert table.columns.tolist() == ["sequences", "detect_s", "pose_s", "track_s", "segment_s", "total_s",
                                      "total_two_tasks_s", "encode_s", "decode_s", "points"]
    # multitask: 15 + 3 + 1 + 2 = 21 s with three tasks, 19 with two; single: 9 + 3 + 2 + 2
    # = 16 with three, 11 with two. The ratio falls from 19/11 to 21/16 with the third task.
    assert table.loc["multitask", ["total_s", "total_two_tasks_s"]].tolist() == approx([21.0, 19.0])
    assert table.loc["single", ["detect_s", "total_s", "total_two_tasks_s"]].tolist() == \
        approx([9.0, 16.0, 11.0])
    ratio = table.loc["multitask / single"]
    assert ratio["total_two_tasks_s"] == approx(19 / 11) and ratio["total_s"] == approx(21 / 16)


def test_segm_table_only_when_the_summary_has_mask_ap(tmp_path):
    summary = hand_made_summary()
    stems = {path.stem for path in write_tables(summary, tmp_path / "two")}
    assert "table5b_segm" not in stems
    summary["segm_ap"] = summary["pose_ap"] / 2
    table = segm_table(summary)
    assert table.loc[22, "a single"] == approx(0.45) and table.loc[DROP_ROW, "a single"] == approx(100 / 3)
    assert "table5b_segm" in {path.stem for path in write_tables(summary, tmp_path / "three")}


def test_average_leaves_out_a_sequence_missing_at_some_qp(caplog):
    summary = hand_made_summary()
    missing = (summary["sequence"] == "b") & (summary["pipeline"] == "single") & (summary["qp"] == 47)
    table = pose_table(summary[~missing])
    assert math.isnan(table.loc[47, "b single"])
    # Only a is complete for single-task, so its average is a's curve.
    assert table.loc[[22, 47], "average single"].tolist() == approx([0.9, 0.6])
    assert table.loc[[22, 47], "average multitask"].tolist() == approx([0.7, 0.6])
    assert "average of single pose_ap leaves out b" in caplog.text


def test_sequence_without_a_metric_is_left_out_of_its_table():
    # Issue 10: b has no pose ground truth (pose_gt: null), so no pose AP at any point.
    summary = hand_made_summary()
    summary.loc[summary["sequence"] == "b", "pose_ap"] = float("nan")
    table = pose_table(summary)
    # One sequence left: no "average" columns that would only repeat a's.
    assert table.columns.tolist() == ["a multitask", "a single"]
    assert table.loc[[22, 47], "a multitask"].tolist() == approx([0.8, 0.7])
    # b's other metrics are untouched.
    assert "b multitask" in mota_table(summary).columns


def test_write_tables_skips_a_metric_no_sequence_has(tmp_path):
    summary = hand_made_summary()
    summary["pose_ap"] = float("nan")
    names = [path.name for path in write_tables(summary, tmp_path)]
    assert "table5_pose.csv" not in names and "table6_mota.csv" in names


def test_only_one_pipeline_present():
    summary = hand_made_summary()
    table = bpp_table(summary[summary["pipeline"] == "multitask"])
    assert table.columns.tolist() == ["a multitask", "b multitask", "average multitask", "average multitask reduction %"]


def test_relative_drop_edge_cases():
    assert relative_drop(pd.Series([0.5, 0.4], index=[22, 47])) == approx(20.0)
    assert relative_drop(pd.Series([0.4, 0.5], index=[47, 22])) == approx(20.0)
    assert math.isnan(relative_drop(pd.Series([0.5], index=[22])))
    assert math.isnan(relative_drop(pd.Series([0.0, 0.1], index=[22, 47])))
    assert math.isnan(relative_drop(pd.Series([-0.2, -0.5], index=[22, 47])))


def test_per_qp_layout():
    wide = per_qp(hand_made_summary(), "bpp")
    assert wide.index.tolist() == [22, 47]
    assert wide.columns.tolist() == [
        ("multitask", "a"), ("multitask", "b"), ("multitask", "average"),
        ("single", "a"), ("single", "b"), ("single", "average"),
    ]


def test_several_codecs_need_a_choice():
    summary = pd.concat([hand_made_summary("vvenc"), hand_made_summary("x265")])
    summary.loc[summary["codec"] == "x265", "bpp"] *= 2
    with pytest.raises(VcmError, match="several codecs \\(vvenc, x265\\); choose one"):
        bpp_table(summary)
    assert bpp_table(summary, codec="x265").loc[22, "a multitask"] == approx(0.6)
    with pytest.raises(VcmError, match="no rows for codec 'vtm'"):
        bpp_table(summary, codec="vtm")


def test_malformed_summaries():
    summary = hand_made_summary()
    with pytest.raises(VcmError, match="lacks column\\(s\\): original_bpp"):
        bpp_table(summary.drop(columns="original_bpp"))
    with pytest.raises(VcmError, match="lacks column\\(s\\): mota"):
        mota_table(summary.drop(columns="mota"))
    with pytest.raises(VcmError, match="repeats the point a multitask vvenc qp22"):
        pose_table(pd.concat([summary, summary.iloc[[3]]]))
    with pytest.raises(VcmError, match="summary is empty"):
        time_table(summary.iloc[:0])
    varying = summary.copy()
    varying.loc[(varying["sequence"] == "a") & (varying["qp"] == 47), "original_bpp"] = 24.0
    with pytest.raises(VcmError, match="original_bpp of a must be one positive value"):
        bpp_table(varying)


def test_write_tables_csv_and_markdown(tmp_path):
    header = "vcm 0.1.0\nconfig sha256 0123abcd"
    paths = write_tables(hand_made_summary(), tmp_path / "tables", header=header)
    names = [path.name for path in paths]
    assert names == [
        "table4_bpp.csv", "table4_bpp.md", "table5_pose.csv", "table5_pose.md",
        "table6_mota.csv", "table6_mota.md", "table6b_hota.csv", "table6b_hota.md",
        "table6c_identity.csv", "table6c_identity.md", "table7_time.csv", "table7_time.md",
    ]
    assert all(path.is_file() for path in paths)
    assert not [path for path in (tmp_path / "tables").iterdir() if "partial" in path.name]

    csv_text = (tmp_path / "tables" / "table5_pose.csv").read_text()
    assert csv_text.splitlines()[:4] == [
        "# vcm 0.1.0",
        "# config sha256 0123abcd",
        "qp,a multitask,a single,b multitask,b single,average multitask,average single",
        "22,0.8,0.9,0.6,0.7,0.7,0.8",
    ]
    back = pd.read_csv(tmp_path / "tables" / "table5_pose.csv", comment="#", index_col=0)
    assert back.loc["drop %", "average single"] == approx(40.625)

    markdown_text = (tmp_path / "tables" / "table4_bpp.md").read_text()
    lines = markdown_text.splitlines()
    assert lines[:4] == ["<!--", "vcm 0.1.0", "config sha256 0123abcd", "-->"]
    assert lines[5].startswith("Table 4. Bits per pixel by QP")
    assert lines[7:] == [
        "| qp | a multitask | a single | b multitask | b single | average multitask | average single "
        "| average multitask reduction % |",
        "| :-- | --: | --: | --: | --: | --: | --: | --: |",
        "| 22 | 0.3 | 1.2 | 0.6 | 2.4 | 0.45 | 1.8 | 97.50 |",
        "| 47 | 0.06 | 0.12 | 0.048 | 0.24 | 0.054 | 0.18 | 99.65 |",
    ]
    time_lines = (tmp_path / "tables" / "table7_time.md").read_text().splitlines()
    assert "| pose+track: multitask | a, b | 15.00 | 3.00 | 1.00 | 19.00 | 5.00 | 1.00 | 4 |" in time_lines
    assert "| pose+track: multitask / single qp22 | a, b | 2.50 | 1.00 | 0.50 | 1.73 | 0.86 | 1.00 | n/a |" \
        in time_lines


def test_write_tables_without_header_has_no_comments(tmp_path):
    paths = write_tables(hand_made_summary(), tmp_path)
    assert paths[0].read_text().startswith("qp,a multitask,")
    assert paths[1].read_text().startswith("Table 4.")


def test_markdown_writes_nan_and_escapes_pipes():
    table = pd.DataFrame({"x|y": [float("nan"), 0.123456]}, index=pd.Index(["p", "q"], name="k"))
    assert markdown(table).splitlines() == ["| k | x\\|y |", "| :-- | --: |", "| p | n/a |", "| q | 0.1235 |"]


def test_header_cannot_close_the_markdown_comment(tmp_path):
    paths = write_tables(hand_made_summary(), tmp_path, header="a --> b")
    assert paths[1].read_text().splitlines()[:3] == ["<!--", "a - -> b", "-->"]


def test_formats_table_bpp_per_format_and_bytes_per_box():
    summary = hand_made_summary()
    # Sequence a, multitask: 10 x 10 pixels x 8 frames = 800 pixels, 4 boxes; the vcmd file
    # sent is 5 bytes (0.05 BPP, 1.25 bytes per box), as voc-zip it would be 400 (4.0 BPP).
    summary[["width", "height", "frames"]] = [10, 10, 8]
    summary["boxes"] = math.nan
    summary["video_bpp"] = summary["bpp"]
    summary["bpp_vcmd"] = summary["bpp"]
    summary["bpp_voc_zip"] = summary["bpp"]
    sent = (summary["sequence"] == "a") & (summary["pipeline"] == "multitask")
    summary.loc[sent, "boxes"] = 4
    summary.loc[sent, "video_bpp"] = summary.loc[sent, "bpp"] - 0.05
    summary.loc[sent, "bpp_voc_zip"] = summary.loc[sent, "video_bpp"] + 4.0

    table = formats_table(summary)

    assert list(table.columns) == ["a video", "a vcmd", "a voc-zip"]
    assert table.loc[22].tolist() == approx([0.25, 0.3, 4.25])
    assert table.loc[47].tolist() == approx([0.01, 0.06, 4.01])
    assert math.isnan(table.loc["bytes per box", "a video"])
    assert table.loc["bytes per box", ["a vcmd", "a voc-zip"]].tolist() == approx([1.25, 100.0])
    assert formats_table(hand_made_summary()).empty  # a summary from before detection columns


def test_one_sequence_has_no_average_anywhere():
    summary = hand_made_summary()
    summary = summary[summary["sequence"] == "a"]
    assert per_qp(summary, "bpp").columns.tolist() == [("multitask", "a"), ("single", "a")]
    bpp = bpp_table(summary)
    # The saving is a's own: 1 - 0.3/12 and 1 - 0.06/12.
    assert bpp.columns.tolist() == ["a multitask", "a single", "a multitask reduction %"]
    assert bpp["a multitask reduction %"].tolist() == approx([97.5, 99.5])
    for table in (pose_table(summary), mota_table(summary), hota_table(summary)):
        assert not [name for name in table.columns if "average" in name]


def test_overlap_cells_are_marked_under_half():
    table = pd.DataFrame({"bd_rate_percent": [12.5, -3.0], "rate_overlap_percent": [33.3, 75.0]},
                         index=pd.Index(["a", "b"], name="sequence"))
    text = markdown(table)
    assert "| a | 12.5 | 33% (low) |" in text
    assert "| b | -3 | 75% |" in text
