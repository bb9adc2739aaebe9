import struct

import matplotlib.image
import numpy as np
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


def _png_dpi(path):
    """The resolution a PNG's pHYs chunk states, in dots per inch (read from the bytes, not
    through matplotlib): pixels per metre times 0.0254."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position = 8
    while position < len(data):
        length = struct.unpack(">I", data[position:position + 4])[0]
        kind = data[position + 4:position + 8]
        if kind == b"pHYs":
            x_per_metre, y_per_metre, unit = struct.unpack(">IIB", data[position + 8:position + 17])
            assert unit == 1 and x_per_metre == y_per_metre
            return x_per_metre * 0.0254
        position += 12 + length
    raise AssertionError(f"{path} has no pHYs chunk")


def test_write_plots_png_and_pdf(tmp_path):
    paths = write_plots(hand_made_summary(), tmp_path, published=paper_results())
    assert [path.name for path in paths] == [f"{name}.{extension}" for name in NAMES for extension in ("png", "pdf")]
    assert all(path.stat().st_size > 0 for path in paths)
    # 150 dpi, 4.8 x 3.6 inch panels (720 x 540 pixels), at most 3 per row: a, b, average
    # side by side.
    sizes = {"bpp_reduction_vs_qp": (540, 720), "change_vs_qp": (540, 1440)}
    for name in NAMES:
        image = matplotlib.image.imread(tmp_path / f"{name}.png")
        assert image.shape[:2] == sizes.get(name, (540, 2160)), name
        # PNG stores whole pixels per metre: 5906 for 150 dpi.
        assert _png_dpi(tmp_path / f"{name}.png") == approx(150, abs=0.05)
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
    assert sorted(lines) == ["multitask", "paper multitask (HiEve real video, published points)", "single"]
    assert lines["multitask"].get_ydata().tolist() == approx([97.5, 99.65])
    # single: a 1 - 1.2/12 = 90%, b 1 - 2.4/24 = 90%; a 99%, b 99%.
    assert lines["single"].get_ydata().tolist() == approx([90.0, 99.0])
    paper = lines["paper multitask (HiEve real video, published points)"]
    assert paper.get_xdata().tolist() == [22, 47]
    assert paper.get_ydata().tolist() == approx([97.5, 99.7])
    # The paper published two points, not the curve between them: no joining line.
    assert paper.get_linestyle() == "None" and paper.get_marker() == "o"
    assert lines["multitask"].get_linestyle() == "-"


def test_relative_change_with_and_without_paper():
    summary = hand_made_summary()
    figure = figure_relative_change(summary, ["pose_ap", "mota"], paper_results())
    assert [len(axes.get_lines()) for axes in figure.axes] == [4, 4]
    pose = _lines(figure.axes[0])
    assert pose["single"].get_ydata().tolist() == approx([0.0, -40.625])
    assert pose["paper single (HiEve real video, published points)"].get_ydata().tolist() == approx([0.0, -16.8])
    assert pose["paper multitask (HiEve real video, published points)"].get_ydata().tolist() == approx([0.0, -7.73])
    mota = _lines(figure.axes[1])
    assert mota["multitask"].get_ydata().tolist() == approx([0.0, 0.0])
    assert mota["paper single (HiEve real video, published points)"].get_ydata().tolist() == approx([0.0, -43.4])
    assert {line.get_linestyle() for label, line in {**pose, **mota}.items() if "paper" in label} == {"None"}
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
def test_motion_accuracy_figures_appear_when_the_summary_has_motion_scores():
    summary = hand_made_summary()
    summary["motion_accuracy"] = float("nan")  # a sweep without a motion section
    assert not {"motion_accuracy_vs_qp", "motion_accuracy_vs_bpp"} & set(figures(summary))
    summary["motion_accuracy"] = summary["pose_ap"] / 2
    made = figures(summary)
    assert {"motion_accuracy_vs_qp", "motion_accuracy_vs_bpp"} <= set(made)
    average = _lines(made["motion_accuracy_vs_qp"].axes[2])
    assert average["single"].get_ydata().tolist() == approx([0.4, 0.2375])
    assert made["motion_accuracy_vs_qp"].axes[0].get_ylabel() == "motion accuracy (per clip)"


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
    # One sequence has pose AP: its panel alone, no "average" panel repeating it.
    assert titles == ["a"]
    only = _lines(made["pose_ap_vs_bpp"].axes[0])
    assert sorted(only["multitask"].get_xdata().tolist()) == approx([0.06, 0.3])


def test_four_sequences_make_two_rows():
    summary = hand_made_summary()
    renamed = [summary.assign(sequence=summary["sequence"] + suffix) for suffix in ("1", "2")]
    figure = figure_metric_vs_qp(pd.concat(renamed), "bpp")
    assert [axes.get_title() for axes in figure.axes] == ["a1", "a2", "b1", "b2", "average"]
    assert tuple(figure.get_size_inches()) == approx((14.4, 7.2))


def _with_variants():
    """The hand-made summary with two more multitask pipelines: ``multitask-grey`` (pose AP
    0.05 higher) and ``multitask-margin``, whose every number is multitask's."""
    summary = hand_made_summary()
    multitask = summary[summary["pipeline"] == "multitask"]
    grey = multitask.assign(pipeline="multitask-grey", pose_ap=multitask["pose_ap"] + 0.05)
    margin = multitask.assign(pipeline="multitask-margin")
    return pd.concat([summary, grey, margin], ignore_index=True)


def test_each_pipeline_has_its_own_marker_and_dash_in_every_figure():
    made = figures(_with_variants(), paper_results())
    seen = {}
    for name in ("fig5_pose_ap_vs_qp", "pose_ap_vs_bpp", "bpp_vs_qp", "change_vs_qp"):
        for axes in made[name].axes:
            for label, line in _lines(axes).items():
                if label.startswith("paper"):
                    continue
                pipeline = label.split(" (same as ")[0]
                # The dash pattern as drawn (Line2D has no public getter: custom patterns
                # all report get_linestyle() "--").
                style = (line.get_marker(), str(line._dash_pattern), line.get_color())
                # The same pipeline looks the same in every panel of every figure.
                assert seen.setdefault(pipeline, style) == style, (name, pipeline)
    assert sorted(seen) == ["multitask", "multitask-grey", "multitask-margin", "single"]
    markers = [style[0] for style in seen.values()]
    dashes = [style[1] for style in seen.values()]
    colours = [style[2] for style in seen.values()]
    assert len(set(markers)) == len(set(dashes)) == len(set(colours)) == 4


def test_coincident_lines_say_so_in_the_legend():
    figure = figure_metric_vs_qp(_with_variants(), "pose_ap")
    labels = list(_lines(figure.axes[0]))
    # multitask-margin's pose AP is multitask's at every QP; grey's is not.
    assert labels == ["multitask", "single", "multitask-grey", "multitask-margin (same as multitask)"]
    legend = [text.get_text() for text in figure.axes[-1].get_legend().get_texts()]
    assert "multitask-margin (same as multitask)" in legend
    # The repeating line is drawn under the one it repeats.
    lines = _lines(figure.axes[0])
    assert lines["multitask-margin (same as multitask)"].get_zorder() < lines["multitask"].get_zorder()
    # Panels a and b label their lines as the last panel does: one legend, in the last.
    assert [axes.get_legend() is not None for axes in figure.axes] == [False, False, True]


def test_a_panel_whose_coincidences_differ_gets_its_own_legend():
    summary = _with_variants()
    # In b alone, grey's pose AP is multitask's too.
    b_grey = (summary["sequence"] == "b") & (summary["pipeline"] == "multitask-grey")
    summary.loc[b_grey, "pose_ap"] -= 0.05
    figure = figure_metric_vs_qp(summary, "pose_ap")
    assert [axes.get_legend() is not None for axes in figure.axes] == [False, True, True]
    legend = [text.get_text() for text in figure.axes[1].get_legend().get_texts()]
    assert "multitask-grey (same as multitask)" in legend
    # MOTA does not depend on the foreground: all three multitask lines coincide.
    mota = list(_lines(figure_metric_vs_qp(_with_variants(), "mota").axes[0]))
    assert mota == ["multitask", "single", "multitask-grey (same as multitask)",
                    "multitask-margin (same as multitask)"]


def test_titles_name_the_codec_and_its_preset():
    made = figures(hand_made_summary(), paper_results(), codec_label="vvenc, preset faster")
    for name, figure in made.items():
        assert "vvenc, preset faster" in figure.get_suptitle(), name
    # Without a label, the codec's name at least.
    assert "(vvenc)" in figure_metric_vs_qp(hand_made_summary(), "bpp").get_suptitle()


def test_one_sequence_has_no_average_panel():
    summary = hand_made_summary()
    summary = summary[summary["sequence"] == "a"]
    made = figures(summary, paper_results())
    for name in ("bpp_vs_qp", "fig5_pose_ap_vs_qp", "pose_ap_vs_bpp", "mota_vs_bpp"):
        assert [axes.get_title() for axes in made[name].axes] == ["a"], name
    (axes,) = made["bpp_reduction_vs_qp"].axes
    assert axes.get_title() == "a"
    # a's own saving: 1 - 0.3/12, 1 - 0.06/12.
    assert _lines(axes)["multitask"].get_ydata().tolist() == approx([97.5, 99.5])
    change = _lines(made["change_vs_qp"].axes[0])
    assert change["single"].get_ydata().tolist() == approx([0.0, 100 * (0.6 / 0.9 - 1)])
    assert np.isfinite(change["multitask"].get_ydata()).all()
