"""Figures of a sweep: the paper's Figs. 5 and 6 (mAP and MOTA by QP), BPP by QP,
rate-accuracy curves, and our summary percentages beside the paper's.

Every figure is a plain :class:`matplotlib.figure.Figure` (no pyplot, no display), written as
PNG (at :data:`DPI`) and PDF with fixed metadata so that the same summary gives the same
bytes. Per-sequence figures have one panel per sequence and, with several sequences, an
``average`` panel (averages as in :mod:`vcm.experiment.tables`); in each panel one line per
pipeline. Each pipeline keeps one colour, marker and dash pattern in every figure of a report
(:func:`pipeline_styles`), so the figures read in greyscale; a line that lies on an earlier
one (equal within :data:`COINCIDENT_TOLERANCE`) says so in the legend, ``(same as <name>)``.
Published values, where given, are points without a joining line (the paper publishes those
points, not a curve), labelled ``paper``. Every figure's title names the codec and its preset.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vcm.fileio import atomic_output
from vcm.experiment.published import BPP_REDUCTION_KEY, QP_KEY, drop_key
from vcm.experiment.tables import AVERAGE, has_values, overall, per_qp, pipelines_of, select_codec
from vcm.experiment.variants import STUDY_METRICS, study_rows

PANEL_INCHES = (4.8, 3.6)
DPI = 150
"""PNG resolution: a 4.8 x 3.6 inch panel is 720 x 540 pixels."""
MAX_COLUMNS = 3
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
DASHES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (12, 3)), (0, (3, 1, 1, 1, 3, 3)),
          (0, (1, 3)), (0, (8, 2, 1, 2, 1, 2)), (0, (2, 4)))
"""Marker shapes and dash patterns, one pair per pipeline (:func:`pipeline_styles`)."""
COINCIDENT_TOLERANCE = 1e-9
"""Two lines whose points differ by at most this (absolute, in the axes' units, after a
relative 1e-6) are the same line."""
PAPER_STYLE = {"color": "black", "linestyle": "None", "markersize": 9, "markerfacecolor": "none",
               "markeredgewidth": 1.5}
"""Published points: hollow black markers (the pipeline's shape), no joining line."""
PAPER_LEGEND = "HiEve real video, published points"
"""What the paper's points are, in their legend label: other footage than ours."""
METRIC_LABELS = {"pose_ap": "pose mAP (COCO keypoint AP)", "mota": "MOTA",
                 "segm_ap": "person mask AP (COCO mask AP)", "bpp": "bits per pixel",
                 "idf1": "IDF1", "hota": "HOTA", "motion_accuracy": "motion accuracy (per clip)"}
FLAT_STUDY_METRICS = ("mota", "idf1", "hota")
"""Metrics of the score study that a multitask pipeline has once per sequence (any QP)."""

SAVE_RC = {"svg.hashsalt": "vcm", "pdf.compression": 6}
"""rc settings for saving: a fixed SVG hash salt, and PDF compression pinned so a changed
default cannot change the bytes."""

PDF_METADATA = {"CreationDate": None}
"""No timestamp in the PDF, so identical figures give identical files."""


def write_plots(
    summary: pd.DataFrame, folder: str | Path, published: dict | None = None, codec: str | None = None,
    codec_label: str = "",
) -> list[Path]:
    """Write every figure of :func:`figures` into ``folder`` as ``<name>.png`` and
    ``<name>.pdf``, atomically, and return the paths written."""
    paths = []
    for name, figure in figures(summary, published, codec, codec_label).items():
        paths += save_figure(figure, Path(folder) / name)
    return paths


def pipeline_styles(pipelines: list[str]) -> dict[str, dict]:
    """A colour, marker and dash pattern for each pipeline, all three different from every
    other pipeline's (up to ten pipelines; past that, they repeat): ``multitask`` and
    ``single`` first, then the others sorted by name, so a pipeline has the same style in
    every figure drawn from the same set of pipelines."""
    ordered = [name for name in ("multitask", "single") if name in pipelines]
    ordered += sorted(set(pipelines) - set(ordered))
    return {
        name: {"color": f"C{index % 10}", "marker": MARKERS[index % len(MARKERS)],
               "linestyle": DASHES[index % len(DASHES)]}
        for index, name in enumerate(ordered)
    }


def figures(
    summary: pd.DataFrame, published: dict | None = None, codec: str | None = None, codec_label: str = "",
) -> dict[str, Figure]:
    """Every figure of ``summary`` by file stem: ``bpp_vs_qp``, ``fig5_pose_ap_vs_qp``,
    ``pose_ap_vs_bpp``, ``fig6_mota_vs_qp``, ``mota_vs_bpp``, ``segm_ap_vs_qp``,
    ``segm_ap_vs_bpp``, ``motion_accuracy_vs_qp``, ``motion_accuracy_vs_bpp``,
    ``bpp_reduction_vs_qp`` and ``change_vs_qp``; a figure whose column is
    absent from the summary, or has no value (no sequence has that task's ground truth, or the
    sweep did not run segmentation), is left out; a sequence without values of a metric has no
    panel in its figures.
    ``published`` (a results record such as :func:`vcm.experiment.published.paper_results`) adds the
    paper's values to the last two. ``codec_label`` (e.g. ``"vvenc, preset faster"``; default
    the codec's name) ends every title."""
    rows = select_codec(summary, codec)
    label = codec_label or str(rows["codec"].iloc[0])
    result = {"bpp_vs_qp": figure_metric_vs_qp(rows, "bpp", codec_label=label)}
    for name, metric in (("fig5_pose_ap_vs_qp", "pose_ap"), ("fig6_mota_vs_qp", "mota"),
                         ("segm_ap_vs_qp", "segm_ap"),
                         ("motion_accuracy_vs_qp", "motion_accuracy")):
        if has_values(rows, metric):
            result[name] = figure_metric_vs_qp(rows, metric, codec_label=label)
            result[f"{metric}_vs_bpp"] = figure_rate_accuracy(rows, metric, codec_label=label)
    if "original_bpp" in rows.columns:
        result["bpp_reduction_vs_qp"] = figure_bpp_reduction(rows, published, codec_label=label)
    metrics = [metric for metric in ("pose_ap", "mota", "segm_ap") if has_values(rows, metric)]
    if metrics:
        result["change_vs_qp"] = figure_relative_change(rows, metrics, published, codec_label=label)
    if not study_rows(rows).empty:
        result["score_study"] = figure_score_study(rows, codec_label=label)
    return result


def save_figure(figure: Figure, stem: Path) -> list[Path]:
    """Write ``figure`` to ``<stem>.png`` (at :data:`DPI`) and ``<stem>.pdf``, atomically."""
    paths = []
    with matplotlib.rc_context(SAVE_RC):
        for extension, metadata in (("png", None), ("pdf", PDF_METADATA)):
            path = stem.with_name(f"{stem.name}.{extension}")
            with atomic_output(path) as temporary:
                figure.savefig(temporary, format=extension, dpi=DPI, metadata=metadata)
            paths.append(path)
    return paths


def figure_metric_vs_qp(
    summary: pd.DataFrame, metric: str, codec: str | None = None, codec_label: str = "",
) -> Figure:
    """``metric`` (a summary column) against QP: one panel per sequence and ``average``, one
    line per pipeline (Figs. 5 and 6 for ``pose_ap`` and ``mota``; BPP on a log axis)."""
    rows = select_codec(summary, codec)
    wide = per_qp(rows, metric)
    figure, panels = _panels(_sequences(wide))
    styles = pipeline_styles(pipelines_of(rows))
    for sequence, axes in panels.items():
        _pipeline_lines(axes, [(pipeline, wide.index, wide[(pipeline, sequence)])
                               for pipeline in _pipelines(wide)], styles)
        axes.set_xlabel("QP")
        axes.set_ylabel(METRIC_LABELS.get(metric, metric))
        if metric == "bpp":
            axes.set_yscale("log")
    _panel_legends(panels)
    _title(figure, f"{METRIC_LABELS.get(metric, metric)} by QP", rows, codec_label)
    return figure


def figure_rate_accuracy(
    summary: pd.DataFrame, metric: str, codec: str | None = None, codec_label: str = "",
) -> Figure:
    """``metric`` against bits per pixel (log axis), points joined in QP order: one panel per
    sequence and ``average`` (average accuracy against average BPP, both over the sequences
    that have ``metric``), one line per pipeline."""
    rows = select_codec(summary, codec)
    styles = pipeline_styles(pipelines_of(rows))
    rows = rows[rows["sequence"].isin(rows.loc[rows[metric].notna(), "sequence"])]
    rates = per_qp(rows, "bpp")
    accuracy = per_qp(rows, metric)
    figure, panels = _panels(_sequences(accuracy))
    for sequence, axes in panels.items():
        _pipeline_lines(axes, [(pipeline, rates[(pipeline, sequence)], accuracy[(pipeline, sequence)])
                               for pipeline in _pipelines(accuracy)], styles)
        axes.set_xscale("log")
        axes.set_xlabel(METRIC_LABELS["bpp"])
        axes.set_ylabel(METRIC_LABELS.get(metric, metric))
    _panel_legends(panels)
    _title(figure, f"{METRIC_LABELS.get(metric, metric)} against bits per pixel", rows, codec_label)
    return figure


def figure_bpp_reduction(
    summary: pd.DataFrame, published: dict | None = None, codec: str | None = None, codec_label: str = "",
) -> Figure:
    """Average saving against the uncompressed original, ``100 * (1 - bpp / original_bpp)``,
    against QP: one line per pipeline, and the paper's multitask values (points) if given."""
    rows = select_codec(summary, codec)
    reduction = rows.assign(bpp_reduction=100.0 * (1.0 - rows["bpp"] / rows["original_bpp"]))
    wide = per_qp(reduction, "bpp_reduction")
    across = overall(wide)
    figure, panels = _panels([across])
    axes = panels[across]
    styles = pipeline_styles(pipelines_of(rows))
    _pipeline_lines(axes, [(pipeline, wide.index, wide[(pipeline, across)]) for pipeline in _pipelines(wide)],
                    styles)
    results = (published or {}).get("results", {})
    if BPP_REDUCTION_KEY in results and QP_KEY in results:
        qps = results[QP_KEY][: len(results[BPP_REDUCTION_KEY])]
        _paper_points(axes, qps, results[BPP_REDUCTION_KEY], "multitask", styles)
    axes.set_xlabel("QP")
    axes.set_ylabel("saving vs uncompressed (%)")
    _legend(axes)
    _title(figure, "BPP saving against the uncompressed original", rows, codec_label)
    return figure


def figure_relative_change(
    summary: pd.DataFrame, metrics: list[str], published: dict | None = None, codec: str | None = None,
    codec_label: str = "",
) -> Figure:
    """Change of each averaged metric (the one sequence's, with one) from its lowest-QP value,
    in percent, against QP: one panel per metric, one line per pipeline, and the paper's QP
    22 -> 47 drops (the two points 0 and -drop, not joined) if given."""
    rows = select_codec(summary, codec)
    styles = pipeline_styles(pipelines_of(rows))
    figure, panels = _panels(metrics)
    results = (published or {}).get("results", {})
    for metric, axes in panels.items():
        wide = per_qp(rows, metric)
        across = overall(wide)
        lines = []
        for pipeline in _pipelines(wide):
            average = wide[(pipeline, across)].dropna()
            if len(average) and average.iloc[0] > 0:
                lines.append((pipeline, average.index, 100.0 * (average / average.iloc[0] - 1.0)))
        _pipeline_lines(axes, lines, styles)
        for pipeline in ("multitask", "single"):
            drop = results.get(drop_key(pipeline, metric))
            qps = results.get(QP_KEY)
            if drop and qps:
                _paper_points(axes, [qps[0], qps[-1]], [0.0, -drop[0]], pipeline, styles)
        axes.set_title(METRIC_LABELS.get(metric, metric))
        axes.set_xlabel("QP")
        axes.set_ylabel("change from lowest QP (%)")
        _legend(axes)
    _title(figure, "change from the lowest QP", rows, codec_label)
    return figure


def figure_score_study(summary: pd.DataFrame, codec: str | None = None, codec_label: str = "") -> Figure:
    """The score-threshold study (the paper's Fig. 3): each metric of the multitask pipelines
    that differ only in the shared detector's score, against that score; one panel per
    sequence and metric, one line per QP (one line for MOTA, IDF1 and HOTA, which do not
    depend on the QP in multitask). BPP on a log axis."""
    rows = select_codec(summary, codec)
    study = study_rows(rows)
    sequences = sorted(study["sequence"].unique())
    metrics = [metric for metric in STUDY_METRICS if has_values(study, metric)]
    names = [f"{sequence}: {METRIC_LABELS.get(metric, metric)}"
             for sequence in sequences for metric in metrics]
    figure, panels = _panels(names)
    qps = sorted(study["qp"].astype(int).unique())
    for sequence in sequences:
        points = study[study["sequence"] == sequence]
        for metric in metrics:
            axes = panels[f"{sequence}: {METRIC_LABELS.get(metric, metric)}"]
            for index, qp in enumerate(qps[:1] if metric in FLAT_STUDY_METRICS else qps):
                at = points[points["qp"].astype(int) == qp].sort_values("score")
                label = "any QP" if metric in FLAT_STUDY_METRICS else f"QP {qp}"
                axes.plot(at["score"].astype(float), at[metric].astype(float), label=label,
                          color=f"C{index % 10}", marker=MARKERS[index % len(MARKERS)],
                          linestyle=DASHES[index % len(DASHES)])
            axes.set_xlabel("detector score threshold")
            axes.set_ylabel(METRIC_LABELS.get(metric, metric))
            if metric == "bpp":
                axes.set_yscale("log")
            _legend(axes)
    _title(figure, "shared detector score study", rows, codec_label)
    return figure


def _sequences(wide: pd.DataFrame) -> list[str]:
    """Panel names: the sequences, then ``average`` when there is one."""
    names = list(dict.fromkeys(sequence for _, sequence in wide.columns))
    return [name for name in names if name != AVERAGE] + [name for name in names if name == AVERAGE]


def _pipelines(wide: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(pipeline for pipeline, _ in wide.columns))


def _panels(names: list[str]) -> tuple[Figure, dict[str, object]]:
    """A figure of ``PANEL_INCHES`` panels, at most ``MAX_COLUMNS`` per row, titled ``names``."""
    columns = min(len(names), MAX_COLUMNS)
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(PANEL_INCHES[0] * columns, PANEL_INCHES[1] * rows), dpi=DPI, layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    panels = {}
    for index, axes in enumerate(grid.ravel()):
        if index < len(names):
            axes.set_title(names[index])
            axes.grid(True, alpha=0.3)
            panels[names[index]] = axes
        else:
            figure.delaxes(axes)
    return figure, panels


def _title(figure: Figure, what: str, rows: pd.DataFrame, codec_label: str) -> None:
    """``<what>`` and, on a line of its own (a one-panel figure is narrow), ``(<codec
    label>)`` above the panels; the codec's name without a label."""
    figure.suptitle(f"{what}\n({codec_label or ', '.join(sorted(rows['codec'].unique()))})",
                    fontsize="medium")


def _pipeline_lines(axes, lines: list[tuple[str, object, object]], styles: dict[str, dict]) -> None:
    """Plot each ``(pipeline, x, y)`` as one line in its style; a line equal to an earlier one
    is labelled ``"<pipeline> (same as <earlier>)"``, since it is drawn under it."""
    drawn: list[tuple[str, np.ndarray, np.ndarray]] = []
    for pipeline, x, y in lines:
        x, y = _finite(x, y)
        if not len(x):
            continue
        label, style = pipeline, dict(styles.get(pipeline, {}))
        for other, other_x, other_y in drawn:
            if _same_line(x, y, other_x, other_y):
                # Under the line it repeats, so the one the legend names stays visible.
                label, style["zorder"] = f"{pipeline} (same as {other})", 1.9
                break
        axes.plot(x, y, label=label, **style)
        drawn.append((pipeline, x, y))


def _same_line(x, y, other_x, other_y) -> bool:
    """Whether two lines have the same points, within :data:`COINCIDENT_TOLERANCE`."""
    return (x.shape == other_x.shape
            and np.allclose(x, other_x, rtol=1e-6, atol=COINCIDENT_TOLERANCE)
            and np.allclose(y, other_y, rtol=1e-6, atol=COINCIDENT_TOLERANCE))


def _paper_points(axes, x, y, pipeline: str, styles: dict[str, dict]) -> None:
    """The paper's published values of ``pipeline`` as points, not joined: it published
    these points, not the curve between them."""
    x, y = _finite(x, y)
    marker = styles.get(pipeline, {}).get("marker", "*")
    axes.plot(x, y, label=f"paper {pipeline} ({PAPER_LEGEND})", marker=marker, **PAPER_STYLE)


def _finite(x, y) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) points where both are finite."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    return x[finite], y[finite]


def _panel_legends(panels: dict[str, object]) -> None:
    """A legend in the last panel, and in any other panel whose lines are labelled otherwise
    (another pipeline missing, or another line that repeats one), so every panel's
    coincidences are said."""
    last = list(panels.values())[-1]
    _legend(last)
    labels = [line.get_label() for line in last.get_lines()]
    for axes in list(panels.values())[:-1]:
        if [line.get_label() for line in axes.get_lines()] != labels:
            _legend(axes)


def _legend(axes) -> None:
    if axes.get_lines():
        axes.legend(fontsize="small")
