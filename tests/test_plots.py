import matplotlib.image
import pandas as pd
from pytest import approx

from vcm.experiment.plots import (
    figure_bpp_reduction,
    figures,
    figure_metric_vs_qp,
    figure_rate_accuracy,
    figure_relative_change,
    save_figure,
    write_plots,
)
from vcm.experiment.published import paper_results

from summaries import hand_made_summary

NAMES = [
    "bpp_vs_qp", "fig5_pose_ap_vs_qp", "pose_ap_vs_bpp", "fig6_mota_vs_qp", "mota_vs_bpp",
    "bpp_reduction_vs_qp", "change_vs_qp",
]


def _lines(axes):
    return {line.get_label(): line for line in axes.get_lines()}


def test_write_plots_png_and_pdf(tmp_path):
    paths = write_plots(hand_made_summary(), tmp_path, published=paper_results())
    assert [path.name for path in paths] == [f"{name}.{extension}" for name in NAMES for extension in ("png", "pdf")]
    assert all(path.stat().st_size > 0 for path in paths)
    # 100 dpi, 4 x 3.2 inch panels, at most 3 per row: a, b, average side by side.
    sizes = {"bpp_reduction_vs_qp": (320, 400), "change_vs_qp": (320, 800)}
    for name in NAMES:
        image = matplotlib.image.imread(tmp_path / f"{name}.png")
        assert image.shape[:2] == sizes.get(name, (320, 1200)), name
    for name in NAMES:
        assert (tmp_path / f"{name}.pdf").read_bytes().startswith(b"%PDF")
    assert not [path for path in tmp_path.iterdir() if "partial" in path.name]


def test_saved_figures_are_deterministic(tmp_path):
    first = save_figure(figure_metric_vs_qp(hand_made_summary(), "pose_ap"), tmp_path / "first" / "figure")
    second = save_figure(figure_metric_vs_qp(hand_made_summary(), "pose_ap"), tmp_path / "second" / "figure")
    assert [path.name for path in first] == ["figure.png", "figure.pdf"]
    for one, other in zip(first, second):
        assert one.read_bytes() == other.read_bytes(), one.name
    assert b"CreationDate" not in first[1].read_bytes()


def test_metric_vs_qp_panels_and_lines():
    figure = figure_metric_vs_qp(hand_made_summary(), "pose_ap")
    assert [axes.get_title() for axes in figure.axes] == ["a", "b", "average"]
    assert [len(axes.get_lines()) for axes in figure.axes] == [2, 2, 2]
    average = _lines(figure.axes[2])
    assert average["multitask"].get_xdata().tolist() == [22, 47]
    assert average["multitask"].get_ydata().tolist() == approx([0.7, 0.6])
    assert average["single"].get_ydata().tolist() == approx([0.8, 0.475])
    assert _lines(figure.axes[0])["single"].get_ydata().tolist() == approx([0.9, 0.6])


def test_bpp_vs_qp_is_logarithmic():
    figure = figure_metric_vs_qp(hand_made_summary(), "bpp")
    assert all(axes.get_yscale() == "log" for axes in figure.axes)
    assert _lines(figure.axes[1])["multitask"].get_ydata().tolist() == approx([0.6, 0.048])


def test_rate_accuracy_curves():
    figure = figure_rate_accuracy(hand_made_summary(), "mota")
    assert [len(axes.get_lines()) for axes in figure.axes] == [2, 2, 2]
    average = _lines(figure.axes[2])
    assert average["multitask"].get_xdata().tolist() == approx([0.45, 0.054])
    assert average["multitask"].get_ydata().tolist() == approx([0.625, 0.625])
    assert average["single"].get_xdata().tolist() == approx([1.8, 0.18])
    assert figure.axes[0].get_xscale() == "log"


def test_bpp_reduction_with_paper_values():
    figure = figure_bpp_reduction(hand_made_summary(), paper_results())
    (axes,) = figure.axes
    lines = _lines(axes)
    assert sorted(lines) == ["multitask", "paper multitask", "single"]
    assert lines["multitask"].get_ydata().tolist() == approx([97.5, 99.65])
    # single: a 1 - 1.2/12 = 90%, b 1 - 2.4/24 = 90%; a 99%, b 99%.
    assert lines["single"].get_ydata().tolist() == approx([90.0, 99.0])
    assert lines["paper multitask"].get_xdata().tolist() == [22, 47]
    assert lines["paper multitask"].get_ydata().tolist() == approx([97.5, 99.7])
    assert lines["paper multitask"].get_linestyle() == "--"
    assert lines["multitask"].get_linestyle() == "-"


def test_relative_change_with_and_without_paper():
    summary = hand_made_summary()
    figure = figure_relative_change(summary, ["pose_ap", "mota"], paper_results())
    assert [len(axes.get_lines()) for axes in figure.axes] == [4, 4]
    pose = _lines(figure.axes[0])
    assert pose["single"].get_ydata().tolist() == approx([0.0, -40.625])
    assert pose["paper single"].get_ydata().tolist() == approx([0.0, -16.8])
    assert pose["paper multitask"].get_ydata().tolist() == approx([0.0, -7.73])
    mota = _lines(figure.axes[1])
    assert mota["multitask"].get_ydata().tolist() == approx([0.0, 0.0])
    assert mota["paper single"].get_ydata().tolist() == approx([0.0, -43.4])
    plain = figure_relative_change(summary, ["pose_ap", "mota"])
    assert [len(axes.get_lines()) for axes in plain.axes] == [2, 2]


def test_missing_points_and_columns():
    summary = hand_made_summary()
    summary.loc[(summary["sequence"] == "b") & (summary["pipeline"] == "single"), "pose_ap"] = float("nan")
    figure = figure_metric_vs_qp(summary, "pose_ap")
    assert [sorted(_lines(axes)) for axes in figure.axes] == [
        ["multitask", "single"], ["multitask"], ["multitask", "single"],
    ]
    assert _lines(figure.axes[2])["single"].get_ydata().tolist() == approx([0.9, 0.6])


def test_summary_without_mota_skips_its_figures():
    assert list(figures(hand_made_summary().drop(columns="mota"))) == [
        "bpp_vs_qp", "fig5_pose_ap_vs_qp", "pose_ap_vs_bpp", "bpp_reduction_vs_qp", "change_vs_qp",
    ]


def test_mask_ap_figures_appear_when_the_summary_has_mask_ap():
    summary = hand_made_summary()
    summary["segm_ap"] = float("nan")
    assert "segm_ap_vs_qp" not in figures(summary)
    summary["segm_ap"] = summary["pose_ap"] / 2
    made = figures(summary)
    assert {"segm_ap_vs_qp", "segm_ap_vs_bpp"} <= set(made)
    average = _lines(made["segm_ap_vs_qp"].axes[2])
    assert average["single"].get_ydata().tolist() == approx([0.4, 0.2375])
    assert [axes.get_title() for axes in made["change_vs_qp"].axes] == [
        "pose mAP (COCO keypoint AP)", "MOTA", "person mask AP (COCO mask AP)"]
def test_metric_without_values_skips_its_figures_and_a_sequence_without_it_its_panel():
    # Issue 10: no sequence has tracking ground truth, and b has no pose ground truth.
    summary = hand_made_summary()
    summary["mota"] = float("nan")
    summary.loc[summary["sequence"] == "b", "pose_ap"] = float("nan")
    made = figures(summary)
    assert list(made) == [
        "bpp_vs_qp", "fig5_pose_ap_vs_qp", "pose_ap_vs_bpp", "bpp_reduction_vs_qp", "change_vs_qp",
    ]
    titles = [axes.get_title() for axes in made["fig5_pose_ap_vs_qp"].axes]
    assert titles == ["a", "average"]
    # The average panel of the rate-accuracy figure is a's alone: BPP 0.06 and 0.3 for multitask.
    average = _lines(made["pose_ap_vs_bpp"].axes[1])
    assert sorted(average["multitask"].get_xdata().tolist()) == approx([0.06, 0.3])


def test_four_sequences_make_two_rows():
    summary = hand_made_summary()
    renamed = [summary.assign(sequence=summary["sequence"] + suffix) for suffix in ("1", "2")]
    figure = figure_metric_vs_qp(pd.concat(renamed), "bpp")
    assert [axes.get_title() for axes in figure.axes] == ["a1", "a2", "b1", "b2", "average"]
    assert tuple(figure.get_size_inches()) == approx((12.0, 6.4))
