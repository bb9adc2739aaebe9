import json
import math

from pytest import approx

from vcm.experiment.published import PAPER_RESULTS, drop_key, paper_comparison, paper_results

from summaries import hand_made_summary


def test_paper_record_holds_only_the_stated_numbers():
    record = paper_results()
    assert set(record) == {"name", "description", "results"}
    assert record["name"] == "Jeong et al. 2022 (JBE 27(3))"
    assert record["results"] == {
        "qp": [22, 47],
        "multitask_bpp_reduction_percent": [97.5, 99.7],
        "multitask_pose_ap_drop_percent": [7.73],
        "single_pose_ap_drop_percent": [16.8],
        "multitask_mota_drop_percent": [0.0],
        "single_mota_drop_percent": [43.4],
    }
    assert drop_key("single", "mota") == "single_mota_drop_percent"
    # Plain JSON, and a copy: callers cannot change the stored record.
    assert json.loads(json.dumps(record)) == record
    record["results"]["qp"].append(52)
    assert PAPER_RESULTS["results"]["qp"] == [22, 47]


def test_paper_comparison_of_the_hand_made_summary():
    comparison = paper_comparison(hand_made_summary())
    assert comparison.columns.tolist() == ["ours", "paper", "our_qps", "paper_qps"]
    assert comparison.index.tolist() == [
        "multitask BPP reduction at lowest QP",
        "multitask BPP reduction at highest QP",
        "multitask pose mAP drop",
        "single pose mAP drop",
        "multitask MOTA drop",
        "single MOTA drop",
    ]
    assert comparison["ours"].tolist() == approx([
        97.5, (99.5 + 99.8) / 2, 100 * 0.1 / 0.7, 100 * 0.325 / 0.8, 0.0, 100 * 0.275 / 0.7,
    ])
    assert comparison["paper"].tolist() == approx([97.5, 99.7, 7.73, 16.8, 0.0, 43.4])
    assert comparison["our_qps"].tolist() == ["22", "47", "22->47", "22->47", "22->47", "22->47"]
    assert comparison["paper_qps"].tolist() == ["22", "47", "22->47", "22->47", "22->47", "22->47"]


def test_paper_comparison_with_only_the_multitask_front_end():
    summary = hand_made_summary()
    summary = summary[summary["pipeline"] == "multitask"].drop(columns=["pose_ap", "mota"])
    comparison = paper_comparison(summary)
    assert comparison.loc["multitask BPP reduction at lowest QP", "ours"] == approx(97.5)
    assert math.isnan(comparison.loc["single MOTA drop", "ours"])
    assert comparison.loc["single MOTA drop", "paper"] == approx(43.4)
    assert comparison.loc["single MOTA drop", "our_qps"] == ""
