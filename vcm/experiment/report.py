"""Collect the points of a sweep into one table, ``results/summary.csv``.

A point's record is ``results/<pipeline>/<sequence>/<codec>/qp<qp>/point.json`` (see
:mod:`vcm.experiment.points`), written by ``vcm point``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from vcm.errors import VcmError
from vcm.fileio import atomic_output
from vcm.experiment.points import SUMMARY_COLUMNS, load_record, summary_row

POINT_GLOB = "*/*/*/qp*/point.json"


def point_records(results: Path, only: list[Path] | None = None) -> list[Path]:
    """The point records of ``results``: all of them, or just ``only`` (a sweep's own)."""
    if not results.is_dir():
        raise VcmError(f"{results}: results folder does not exist")
    if only is None:
        return sorted(results.glob(POINT_GLOB))
    for path in only:
        if not path.is_file():
            raise VcmError(f"{path}: file does not exist")
    return sorted(only)


def collect_points(results: Path, only: list[Path] | None = None) -> pd.DataFrame:
    """One row per point record (see :func:`point_records`), sorted by sequence, pipeline,
    codec, qp, with the columns :data:`vcm.experiment.points.SUMMARY_COLUMNS`."""
    rows = [
        summary_row(load_record(path, "point record"), source=path)
        for path in point_records(results, only)
    ]
    if not rows:
        raise VcmError(f"{results}: no results found (expected {POINT_GLOB})")
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    return table.sort_values(["sequence", "pipeline", "codec", "qp"]).reset_index(drop=True)


def write_report(
    results: Path,
    output: Path,
    only: list[Path] | None = None,
    *,
    config: dict | None = None,
) -> tuple[pd.DataFrame, list[Path]]:
    """Write the summary CSV, the run manifest, the paper's tables (with BD-rate and the
    comparison with published values) and the plots next to ``output``; return the summary
    and the paths written besides it. Tables and plots cover one codec each, in
    ``tables/<codec>/`` and ``plots/<codec>/``."""
    from vcm.experiment.bdrate import bd_caption, bd_table
    from vcm.experiment.manifest import build_manifest, manifest_header
    from vcm.experiment.plots import write_plots
    from vcm.experiment.published import paper_comparison, paper_results
    from vcm.experiment.tables import bd_rate_by_format, formats_table, has_values, write_table, write_tables

    summary = write_summary(results, output, only)
    folder = output.parent
    manifest = build_manifest(results, config)
    manifest_path = folder / "manifest.json"
    with atomic_output(manifest_path) as temporary:
        temporary.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    header = manifest_header(manifest)
    written = [manifest_path]
    for codec in sorted(summary["codec"].unique()):
        tables = folder / "tables" / codec
        written += write_tables(summary, tables, header=header, codec=codec)
        for metric in ("pose_ap", "mota", "segm_ap"):
            if not has_values(summary[summary["codec"] == codec], metric):
                continue  # no sequence has this task's ground truth (or no segmentation ran)
            written += write_table(
                bd_table(summary, metric, codec=codec), tables, f"bd_{metric}",
                caption=bd_caption(metric, codec),
                header=header,
            )
        formats = formats_table(summary, codec=codec)
        if not formats.empty:
            written += write_table(
                formats, tables, "detection_formats",
                caption=f"Multitask BPP by QP with the detections in each format ({codec}); "
                "video = the coded foreground alone; last row: bytes per box",
                header=header,
            )
            written += write_table(
                bd_rate_by_format(summary, codec=codec), tables, "bd_rate_by_format",
                caption=f"BD-rate (%) of multitask against single-task with the multitask "
                f"BPP of each detection format ({codec}); task metrics as measured",
                header=header,
            )
        written += write_variant_tables(summary, tables, codec=codec, header=header)
        written += write_table(
            paper_comparison(summary, codec=codec), tables, "paper_comparison",
            caption=f"Ours ({codec}) beside {paper_results()['name']}", header=header,
        )
        written += write_plots(summary, folder / "plots" / codec, published=paper_results(),
                               codec=codec)
    return summary, written


def write_variant_tables(summary: pd.DataFrame, folder: Path, *, codec: str, header: str) -> list[Path]:
    """``variants`` (when the sweep ran more than one multitask pipeline) and ``score_study``
    (when it varied the shared detector's score) for ``codec``, in ``folder``."""
    from vcm.experiment.tables import write_table
    from vcm.experiment.variants import multitask_pipelines, score_study_table, variants_table

    rows = summary[summary["codec"] == codec]
    written = []
    if len(multitask_pipelines(rows)) > 1:
        written += write_table(
            variants_table(summary, codec=codec), folder, "variants",
            caption=f"Multitask variants ({codec}): foreground and shared detector score; BPP "
            "and accuracy at the lowest and highest QP; BD-rate (%) of pose and mask AP "
            "against single-task and against the paper's foreground at the same score "
            "(negative: fewer bits for equal accuracy; n/a for the paper's foreground "
            "itself); MOTA and HOTA with their BD-quality against single-task (the mean gain "
            "at equal rate; multitask tracking does not change with QP).",
            header=header,
        )
    study = score_study_table(summary, codec=codec)
    if not study.empty:
        written += write_table(
            study, folder, "score_study",
            caption=f"Score-threshold study ({codec}; the paper's Fig. 3): the multitask "
            "pipeline at each shared detector score (same foreground), boxes sent, BPP and "
            "accuracy by QP; MOTA, IDF1 and HOTA do not depend on the QP.",
            header=header,
        )
    return written


def write_summary(results: Path, output: Path, only: list[Path] | None = None) -> pd.DataFrame:
    """Write :func:`collect_points` of ``results`` to ``output`` as CSV; return the table."""
    table = collect_points(results, only)
    with atomic_output(output) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g")
    return table
