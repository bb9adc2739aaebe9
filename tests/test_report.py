import json
import logging
import math
from pathlib import Path

import pytest

from vcm.errors import VcmError
from vcm.experiment.points import SUMMARY_COLUMNS, build_point
from vcm.experiment.report import collect_points, write_summary

BPP = {"bytes": 1920, "bits": 15360, "width": 64, "height": 48, "frames": 10, "bpp": 0.5}


def _point(results, sequence, qp, bytes_, pipeline="multitask"):
    folder = results / pipeline / sequence / "vvenc" / f"qp{qp}"
    folder.mkdir(parents=True)
    # 64 x 48 x 10 = 30720 pixels.
    bpp = {**BPP, "bytes": bytes_, "bits": bytes_ * 8, "bpp": bytes_ * 8 / 30720}
    record = build_point(sequence=sequence, pipeline=pipeline, codec="vvenc", qp=qp, bpp=bpp)
    (folder / "point.json").write_text(json.dumps(record))
    return folder / "point.json"


def test_point_adds_up_times_as_the_paper_does():
    runs = [
        {"seconds": {"detect": 2.0, "zip": 0.1}},
        {"seconds": {"pose": 3.0}},
        {"seconds": {"detect": 1.5, "zip": 0.1}},
        {"seconds": {"track": 0.25}},
    ]
    codecs = [{"encode_seconds": 4.0}, {"decode_seconds": 0.5}]
    record = build_point(
        sequence="s", pipeline="single", codec="vvenc", qp=32, bpp=BPP,
        pose_evaluation={"AP": 0.61}, track_evaluation={"mota": 0.7, "idf1": 0.8, "hota": 0.65},
        run_records=runs, codec_records=codecs,
    )
    results = {metric: values[0] for metric, values in record["results"].items()}
    # Two detectors (2.0 + 1.5 s), pose 3.0 s, tracking 0.25 s; the codec's 4.5 s stay apart.
    assert results["detect_s"] == 3.5
    assert results["total_s"] == 3.5 + 3.0 + 0.25
    assert (results["encode_s"], results["decode_s"]) == (4.0, 0.5)
    assert (results["pose_ap"], results["mota"], results["idf1"], results["bpp"]) == (0.61, 0.7, 0.8, 0.5)
    assert results["hota"] == 0.65
    assert results["original_bpp"] == 12.0
    assert record["point"] == {"sequence": "s", "pipeline": "single", "codec": "vvenc", "qp": 32,
                               "detections_format": "", "variant": "", "foreground": ""}
    # Not a multitask variant: no score, no foreground rendered.
    assert results["score"] is None and results["foreground_s"] == results["mask_s"] == 0.0
    # Single-task sends no detection file: all of its BPP is video.
    assert (results["video_bpp"], results["detections_bpp"]) == (0.5, 0.0)
    assert results["bpp_vcmd"] == results["bpp_voc_zip"] == 0.5


def test_point_with_a_third_task_keeps_the_two_task_total():
    runs = [
        {"seconds": {"detect": 2.0, "zip": 0.1}},   # pose's own detector
        {"seconds": {"pose": 3.0}},
        {"seconds": {"detect": 1.5, "zip": 0.1}},   # tracking's own detector
        {"seconds": {"track": 0.25}},
        {"seconds": {"segment": 1.25}},
    ]
    record = build_point(
        sequence="s", pipeline="single", codec="vvenc", qp=32, bpp=BPP,
        segm_evaluation={"AP": 0.42, "AP50": 0.7}, run_records=runs,
        segment_detect_records=[{"seconds": {"detect": 1.75, "zip": 0.1}}],
    )
    results = {metric: values[0] for metric, values in record["results"].items()}
    # Three detectors 2.0 + 1.5 + 1.75 s; the third and segmentation's 1.25 s are the third
    # task's, so the two-task total is the paper's 3.5 + 3.0 + 0.25 s.
    assert results["detect_s"] == 5.25 and results["segment_detect_s"] == 1.75
    assert results["segment_s"] == 1.25 and results["segm_ap"] == 0.42
    assert results["total_s"] == 5.25 + 3.0 + 0.25 + 1.25
    assert results["total_two_tasks_s"] == 3.5 + 3.0 + 0.25


# 100 x 50 pixels x 4 frames = 20,000 pixels; 2,000 bytes of video and a 500-byte vcmd file of
# 100 boxes, which would take 10,000 bytes as voc-zip.
SPLIT_BPP = {"bytes": 2500, "bits": 20000, "width": 100, "height": 50, "frames": 4, "bpp": 1.0}
DETECTIONS = {"format": "vcmd", "frames": 4, "boxes": 100, "bytes": 500,
              "bytes_by_format": {"vcmd": 500, "voc-zip": 10000}}


def test_point_splits_bpp_into_video_and_detections():
    record = build_point(sequence="s", pipeline="multitask", codec="vvenc", qp=32,
                         bpp=SPLIT_BPP, detections=DETECTIONS)
    results = {metric: values[0] for metric, values in record["results"].items()}
    assert results["video_bpp"] == 2000 * 8 / 20000 == 0.8
    assert results["detections_bpp"] == 500 * 8 / 20000 == 0.2
    assert results["bytes_per_box"] == 5.0
    assert results["bpp_vcmd"] == 1.0
    assert results["bpp_voc_zip"] == (2000 + 10000) * 8 / 20000 == 4.8
    assert record["point"]["detections_format"] == "vcmd"


def test_point_reads_assa_and_identity_switches_where_the_evaluation_has_them():
    evaluation = {"mota": 0.7, "idf1": 0.8, "hota": 0.65, "assa": 0.55, "num_switches": 3}
    record = build_point(sequence="s", pipeline="single", codec="vvenc", qp=32, bpp=BPP,
                         track_evaluation=evaluation)
    assert (record["results"]["assa"], record["results"]["id_switches"]) == ([0.55], [3.0])
    older = build_point(sequence="s", pipeline="single", codec="vvenc", qp=32, bpp=BPP,
                        track_evaluation={"mota": 0.7, "idf1": 0.8, "hota": 0.65})
    assert older["results"]["assa"] == older["results"]["id_switches"] == [None]
    with pytest.raises(VcmError, match="num_switches must be a number"):
        build_point(sequence="s", pipeline="single", codec="vvenc", qp=32, bpp=BPP,
                    track_evaluation={**evaluation, "num_switches": "3"})


def test_point_refuses_a_detection_file_larger_than_the_bpp_bytes():
    with pytest.raises(VcmError, match="not among the BPP record's 2500 bytes"):
        build_point(sequence="s", pipeline="multitask", codec="vvenc", qp=32, bpp=SPLIT_BPP,
                    detections={**DETECTIONS, "bytes": 2501})


def test_missing_evaluations_are_null_in_strict_json(tmp_path):
    # Regression (issue 10): point.json wrote a bare NaN, which strict JSON readers refuse.
    record = build_point(sequence="s", pipeline="multitask", codec="vvenc", qp=22, bpp=BPP,
                         track_evaluation={"mota": math.nan, "idf1": 0.0, "hota": 0.0})
    text = json.dumps(record, allow_nan=False)
    results = json.loads(text)["results"]
    assert results["pose_ap"] == [None] and results["mota"] == [None]
    assert results["segm_ap"] == [None] and results["segment_s"] == [0.0]
    assert results["idf1"] == [0.0]
    # The summary reads null as NaN, in a float column.
    folder = tmp_path / "multitask" / "s" / "vvenc" / "qp22"
    folder.mkdir(parents=True)
    (folder / "point.json").write_text(text)
    table = collect_points(tmp_path)
    assert math.isnan(table.loc[0, "pose_ap"]) and math.isnan(table.loc[0, "mota"])
    assert table["pose_ap"].dtype == float


def test_summary_has_one_row_per_point_in_order(tmp_path):
    _point(tmp_path, "b", 22, 3840)
    _point(tmp_path, "a", 47, 384)
    _point(tmp_path, "a", 22, 1920, pipeline="single")
    _point(tmp_path, "a", 22, 1920)
    table = collect_points(tmp_path)
    assert list(table.columns) == SUMMARY_COLUMNS
    assert table[["sequence", "pipeline", "qp"]].values.tolist() == [
        ["a", "multitask", 22], ["a", "multitask", 47], ["a", "single", 22], ["b", "multitask", 22],
    ]
    assert table["bpp"].tolist() == [0.5, 0.1, 0.5, 1.0]


def test_only_the_given_points(tmp_path):
    keep = _point(tmp_path, "a", 22, 1920)
    _point(tmp_path, "stale", 22, 1920)
    output = tmp_path / "summary.csv"
    write_summary(tmp_path, output, [keep])
    lines = output.read_text().splitlines()
    assert lines[0] == ",".join(SUMMARY_COLUMNS)
    assert len(lines) == 2 and lines[1].startswith("a,multitask,vvenc,22,0.5,1920,")


def test_malformed_record_is_named(tmp_path):
    path = _point(tmp_path, "a", 22, 1920)
    path.write_text("{not json")
    with pytest.raises(VcmError, match="qp22/point.json: malformed point record"):
        collect_points(tmp_path)
    path.write_text('{"point": {}}')
    with pytest.raises(VcmError, match="qp22/point.json: malformed point record"):
        collect_points(tmp_path)


def test_no_results(tmp_path):
    with pytest.raises(VcmError, match="no results found"):
        collect_points(tmp_path)
    with pytest.raises(VcmError, match="results folder does not exist"):
        collect_points(tmp_path / "missing")


def test_manifest_lists_each_model_of_a_backend(tmp_path):
    from vcm.experiment.manifest import backends_used

    def record(path, **parameters):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"parameters": parameters}))

    x101 = {"name": "detectron2", "model": "detectron2/X101", "device": "cuda"}
    r50 = {"name": "detectron2", "model": "detectron2/R50", "device": "cuda"}
    hrnet = {"name": "hrnet", "model": "mmpose/hrnet"}
    record(tmp_path / "a" / "detections.zip.run.json", detector=x101)
    record(tmp_path / "b" / "pose.json.run.json", detector=r50, estimator=hrnet)
    record(tmp_path / "c" / "pose.json.run.json", detector=r50, estimator=hrnet)
    assert backends_used(tmp_path) == {
        "detectron2": x101, "detectron2 detectron2/R50": r50, "hrnet": hrnet,
    }


def _partial_sweep(results):
    """Points of a and b at QP 22, and a alone at QP 47, both pipelines: every average then
    leaves b out (a note for each pipeline's BPP, an expected one)."""
    for pipeline in ("multitask", "single"):
        _point(results, "a", 22, 1920, pipeline=pipeline)
        _point(results, "a", 47, 384, pipeline=pipeline)
        _point(results, "b", 22, 3840, pipeline=pipeline)


def test_report_keeps_expected_notes_in_its_log_and_off_the_console(tmp_path, caplog):
    from vcm.experiment.report import REPORT_LOG, write_report_logged

    results = tmp_path / "results"
    _partial_sweep(results)
    with caplog.at_level(logging.DEBUG, logger="vcm"):
        summary, written, log_path, notes = write_report_logged(results, results / "summary.csv")
    assert log_path == results / REPORT_LOG
    log = log_path.read_text()
    assert "average of multitask bpp leaves out b (missing at some QP)" in log
    assert "average of single bpp leaves out b (missing at some QP)" in log
    assert notes == log.count("WARNING ") and notes >= 2
    # None of them reached the console's logger.
    assert "leaves out b" not in caplog.text
    assert len(summary) == 6 and results / "manifest.json" in written


def test_report_notes_reach_the_console_when_the_report_fails(tmp_path, caplog):
    from vcm.experiment.report import captured_records

    with caplog.at_level(logging.INFO, logger="vcm"), pytest.raises(VcmError):
        with captured_records("vcm.experiment"):
            logging.getLogger("vcm.experiment.tables").warning("a note before the failure")
            raise VcmError("failed")
    assert "a note before the failure" in caplog.text


def test_vcm_report_prints_paths_and_one_line_of_notes(tmp_path):
    from typer.testing import CliRunner

    from vcm.cli import app

    results = tmp_path / "results"
    _partial_sweep(results)
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(results)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # The paths written, one a line; no dump of the summary table.
    assert lines[0] == str(results / "summary.csv") and lines[-1] == str(results / "report.log")
    assert all(Path(line).is_file() for line in lines)
    assert "sequence" not in result.stdout
    notes = [line for line in result.stderr.splitlines() if "notes on figures" in line]
    assert len(notes) == 1 and notes[0].endswith(str(results / "report.log"))
    assert "leaves out b" not in result.stderr
    # --verbose: the summary table as well.
    verbose = runner.invoke(app, ["-v", "report", str(results)])
    assert verbose.exit_code == 0 and "sequence" in verbose.stdout.splitlines()[0]


def test_codec_label_names_the_preset():
    from vcm.experiment.report import codec_label

    sidecars = {"codecs": {"vvenc": {"codec": "vvenc", "options": {"preset": "faster", "intra_period": 32}}}}
    assert codec_label("vvenc", sidecars) == "vvenc, preset faster"
    # No sidecar read: the config says.
    config = {"codecs": {}, "config": {"codecs": {"x265": {"preset": "medium"}}}}
    assert codec_label("x265", config) == "x265, preset medium"
    vtm = {"codecs": {"vtm": {"codec": "vtm", "options": {"cfg": "/opt/vtm/cfg/encoder_randomaccess_vtm.cfg"}}}}
    assert codec_label("vtm", vtm) == "vtm, cfg encoder_randomaccess_vtm.cfg"
    assert codec_label("ffv1", {"codecs": {}, "config": None}) == "ffv1"


def test_paper_comparison_caption_names_both_footages():
    from vcm.experiment.published import comparison_caption, our_footage

    config = {"sequences": {"sample": {"synth": {"frames": 60, "width": 640, "height": 360}},
                            "pets": {"dataset": "PETS09-S3MF1", "pose_gt": None}}}
    footage = our_footage(["pets", "sample"], config)
    assert footage == ("pets: dataset PETS09-S3MF1; "
                       "sample: synthetic sample (vcm data synth, 60 frames 640x360)")
    caption = comparison_caption("vvenc, preset faster", footage)
    assert "synthetic sample" in caption and "HiEve videos 2, 4, 7, 16" in caption
    assert "vvenc, preset faster" in caption and "real video" in caption
    assert caption.endswith("A synthetic sample in particular is no stand-in for HiEve.")
    real = comparison_caption("vvenc, preset faster", our_footage(["pets"], config))
    assert "PETS09-S3MF1" in real and "synthetic" not in real
    assert our_footage(["s"]) == "s (footage not recorded: run the report with the sweep's --config)"
