"""Figures of a sweep: the paper's Figs. 5 and 6 (mAP and MOTA by QP), BPP by QP,
rate-accuracy curves, and our summary percentages beside the paper's.

Every figure is a plain :class:`matplotlib.figure.Figure` (no pyplot, no display), written as
PNG and PDF with fixed metadata so that the same summary gives the same bytes. Per-sequence
figures have one panel per sequence and an ``average`` panel (averages as in
:mod:`vcm.experiment.tables`); in each panel one line per pipeline. Published values, where given, are
dashed and labelled ``paper``.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vcm.fileio import atomic_output
from vcm.experiment.published import BPP_REDUCTION_KEY, QP_KEY, drop_key
from vcm.experiment.tables import AVERAGE, has_values, per_qp, select_codec
from vcm.experiment.variants import STUDY_METRICS, study_rows

PANEL_INCHES = (4.0, 3.2)
DPI = 100
MAX_COLUMNS = 3
STYLE = {"multitask": {"color": "C0", "marker": "o"}, "single": {"color": "C1", "marker": "s"}}
METRIC_LABELS = {"pose_ap": "pose mAP (COCO keypoint AP)", "mota": "MOTA",
                 "segm_ap": "person mask AP (COCO mask AP)", "bpp": "bits per pixel",
                 "idf1": "IDF1", "hota": "HOTA"}
FLAT_STUDY_METRICS = ("mota", "idf1", "hota")
"""Metrics of the score study that a multitask pipeline has once per sequence (any QP)."""

SAVE_RC = {"svg.hashsalt": "vcm", "pdf.compression": 6}
"""rc settings for saving: a fixed SVG hash salt, and PDF compression pinned so a changed
default cannot change the bytes."""

PDF_METADATA = {"CreationDate": None}
"""No timestamp in the PDF, so identical figures give identical files."""


def write_plots(
    summary: pd.DataFrame, folder: str | Path, published: dict | None = None, codec: str | None = None
) -> list[Path]:
    """Write every figure of :func:`figures` into ``folder`` as ``<name>.png`` and
    ``<name>.pdf``, atomically, and return the paths written."""
    paths = []
    for name, figure in figures(summary, published, codec).items():
        paths += save_figure(figure, Path(folder) / name)
    return paths


def figures(summary: pd.DataFrame, published: dict | None = None, codec: str | None = None) -> dict[str, Figure]:
    """Every figure of ``summary`` by file stem: ``bpp_vs_qp``, ``fig5_pose_ap_vs_qp``,
    ``pose_ap_vs_bpp``, ``fig6_mota_vs_qp``, ``mota_vs_bpp``, ``segm_ap_vs_qp``,
    ``segm_ap_vs_bpp``, ``bpp_reduction_vs_qp`` and ``change_vs_qp``; a figure whose column is
    absent from the summary, or has no value (no sequence has that task's ground truth, or the
    sweep did not run segmentation), is left out; a sequence without values of a metric has no
    panel in its figures.
    ``published`` (a results record such as :func:`vcm.experiment.published.paper_results`) adds the
    paper's values to the last two."""
    rows = select_codec(summary, codec)
    result = {"bpp_vs_qp": figure_metric_vs_qp(rows, "bpp")}
    for name, metric in (("fig5_pose_ap_vs_qp", "pose_ap"), ("fig6_mota_vs_qp", "mota"),
                         ("segm_ap_vs_qp", "segm_ap")):
        if has_values(rows, metric):
            result[name] = figure_metric_vs_qp(rows, metric)
            result[f"{metric}_vs_bpp"] = figure_rate_accuracy(rows, metric)
    if "original_bpp" in rows.columns:
        result["bpp_reduction_vs_qp"] = figure_bpp_reduction(rows, published)
    metrics = [metric for metric in ("pose_ap", "mota", "segm_ap") if has_values(rows, metric)]
    if metrics:
        result["change_vs_qp"] = figure_relative_change(rows, metrics, published)
    if not study_rows(rows).empty:
        result["score_study"] = figure_score_study(rows)
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


def figure_metric_vs_qp(summary: pd.DataFrame, metric: str, codec: str | None = None) -> Figure:
    """``metric`` (a summary column) against QP: one panel per sequence and ``average``, one
    line per pipeline (Figs. 5 and 6 for ``pose_ap`` and ``mota``; BPP on a log axis)."""
    wide = per_qp(summary, metric, codec)
    figure, panels = _panels(_sequences(wide))
    for sequence, axes in panels.items():
        for pipeline in _pipelines(wide):
            _line(axes, wide.index, wide[(pipeline, sequence)], pipeline)
        axes.set_xlabel("QP")
        axes.set_ylabel(METRIC_LABELS.get(metric, metric))
        if metric == "bpp":
            axes.set_yscale("log")
    _legend(panels[AVERAGE])
    return figure


def figure_rate_accuracy(summary: pd.DataFrame, metric: str, codec: str | None = None) -> Figure:
    """``metric`` against bits per pixel (log axis), points joined in QP order: one panel per
    sequence and ``average`` (average accuracy against average BPP, both over the sequences
    that have ``metric``), one line per pipeline."""
    rows = select_codec(summary, codec)
    rows = rows[rows["sequence"].isin(rows.loc[rows[metric].notna(), "sequence"])]
    rates = per_qp(rows, "bpp")
    accuracy = per_qp(rows, metric)
    figure, panels = _panels(_sequences(accuracy))
    for sequence, axes in panels.items():
        for pipeline in _pipelines(accuracy):
            _line(axes, rates[(pipeline, sequence)], accuracy[(pipeline, sequence)], pipeline)
        axes.set_xscale("log")
        axes.set_xlabel(METRIC_LABELS["bpp"])
        axes.set_ylabel(METRIC_LABELS.get(metric, metric))
    _legend(panels[AVERAGE])
    return figure


def figure_bpp_reduction(summary: pd.DataFrame, published: dict | None = None, codec: str | None = None) -> Figure:
    """Average saving against the uncompressed original, ``100 * (1 - bpp / original_bpp)``,
    against QP: one line per pipeline, and the paper's multitask values (dashed) if given."""
    rows = select_codec(summary, codec)
    reduction = rows.assign(bpp_reduction=100.0 * (1.0 - rows["bpp"] / rows["original_bpp"]))
    wide = per_qp(reduction, "bpp_reduction")
    figure, panels = _panels([AVERAGE])
    axes = panels[AVERAGE]
    for pipeline in _pipelines(wide):
        _line(axes, wide.index, wide[(pipeline, AVERAGE)], pipeline)
    results = (published or {}).get("results", {})
    if BPP_REDUCTION_KEY in results and QP_KEY in results:
        qps = results[QP_KEY][: len(results[BPP_REDUCTION_KEY])]
        _line(axes, qps, results[BPP_REDUCTION_KEY], "multitask", label="paper multitask", dashed=True)
    axes.set_xlabel("QP")
    axes.set_ylabel("saving vs uncompressed (%)")
    _legend(axes)
    return figure


def figure_relative_change(
    summary: pd.DataFrame, metrics: list[str], published: dict | None = None, codec: str | None = None
) -> Figure:
    """Change of each averaged metric from its lowest-QP value, in percent, against QP: one
    panel per metric, one line per pipeline, and the paper's QP 22 -> 47 drops (dashed, as
    the two points 0 and -drop) if given."""
    figure, panels = _panels(metrics)
    results = (published or {}).get("results", {})
    for metric, axes in panels.items():
        wide = per_qp(summary, metric, codec)
        for pipeline in _pipelines(wide):
            average = wide[(pipeline, AVERAGE)].dropna()
            if len(average) and average.iloc[0] > 0:
                _line(axes, average.index, 100.0 * (average / average.iloc[0] - 1.0), pipeline)
        for pipeline in STYLE:
            drop = results.get(drop_key(pipeline, metric))
            qps = results.get(QP_KEY)
            if drop and qps:
                _line(axes, [qps[0], qps[-1]], [0.0, -drop[0]], pipeline, label=f"paper {pipeline}", dashed=True)
        axes.set_title(METRIC_LABELS.get(metric, metric))
        axes.set_xlabel("QP")
        axes.set_ylabel("change from lowest QP (%)")
        _legend(axes)
    return figure


def figure_score_study(summary: pd.DataFrame, codec: str | None = None) -> Figure:
    """The score-threshold study (the paper's Fig. 3): each metric of the multitask pipelines
    that differ only in the shared detector's score, against that score; one panel per
    sequence and metric, one line per QP (one line for MOTA, IDF1 and HOTA, which do not
    depend on the QP in multitask). BPP on a log axis."""
    study = study_rows(select_codec(summary, codec))
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
            for qp in qps[:1] if metric in FLAT_STUDY_METRICS else qps:
                at = points[points["qp"].astype(int) == qp].sort_values("score")
                label = "any QP" if metric in FLAT_STUDY_METRICS else f"QP {qp}"
                axes.plot(at["score"].astype(float), at[metric].astype(float), marker="o",
                          label=label)
            axes.set_xlabel("detector score threshold")
            axes.set_ylabel(METRIC_LABELS.get(metric, metric))
            if metric == "bpp":
                axes.set_yscale("log")
            _legend(axes)
    return figure


def _sequences(wide: pd.DataFrame) -> list[str]:
    """Panel names: the sequences, then ``average``."""
    names = list(dict.fromkeys(sequence for _, sequence in wide.columns))
    return [name for name in names if name != AVERAGE] + [AVERAGE]


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


def _line(axes, x, y, pipeline: str, label: str | None = None, dashed: bool = False) -> None:
    """Plot the finite (x, y) points as one line; nothing when there are none."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return
    style = dict(STYLE.get(pipeline) or {"marker": "^", "color": _variant_color(pipeline)})
    if dashed:
        style.update(linestyle="--", marker="x")
    axes.plot(x[finite], y[finite], label=label or pipeline, **style)


def _variant_color(pipeline: str) -> str:
    """A colour of its own for a multitask variant (``multitask-<name>``): one of C2..C9 (C0
    and C1 are multitask and single), the same for a name in every figure and every sweep."""
    return f"C{2 + zlib.crc32(pipeline.encode()) % 8}"


def _legend(axes) -> None:
    if axes.get_lines():
        axes.legend(fontsize="small")
