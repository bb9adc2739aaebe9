"""Collect the points of a sweep into one table, ``results/summary.csv``.

A point's record is ``results/<pipeline>/<sequence>/<codec>/qp<qp>/point.json`` (see
:mod:`vcm.experiment.points`), written by ``vcm point``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from vcm.errors import VcmError
from vcm.fileio import atomic_output
from vcm.experiment.points import SUMMARY_COLUMNS, load_record, summary_row

POINT_GLOB = "*/*/*/qp*/point.json"
REPORT_LOG = "report.log"
"""The report's own log, beside the summary: every message the tables and plots logged."""
QUIET_LOGGER = "vcm.experiment"
"""The logger whose messages (expected notes: undefined BD figures, partial averages) go to
:data:`REPORT_LOG` instead of the console."""


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
    from vcm.experiment.published import comparison_caption, our_footage, paper_comparison, paper_results
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
        label = codec_label(codec, manifest)
        tables = folder / "tables" / codec
        written += write_tables(summary, tables, header=header, codec=codec)
        # BD-IDF1 and BD-HOTA too: with appearance, multitask identities depend on the QP.
        for metric in ("pose_ap", "mota", "idf1", "hota", "segm_ap", "motion_accuracy"):
            if metric not in summary.columns or not has_values(summary[summary["codec"] == codec], metric):
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
                f"BPP of each detection format ({label}); task metrics as measured; "
                "'overlap %': the share of the metric's range both curves cover (low: under 50%)",
                header=header,
            )
        written += write_variant_tables(summary, tables, codec=codec, header=header)
        written += write_motion_table(summary, tables, codec=codec, header=header)
        sequences = sorted(summary.loc[summary["codec"] == codec, "sequence"].unique())
        written += write_table(
            paper_comparison(summary, codec=codec), tables, "paper_comparison",
            caption=comparison_caption(label, our_footage(sequences, config)), header=header,
        )
        written += write_plots(summary, folder / "plots" / codec, published=paper_results(),
                               codec=codec, codec_label=label)
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
            "at equal rate; multitask tracking does not change with QP). After each BD figure, "
            "'overlap %': the share of the range it is averaged over (the metric's for BD-rate, "
            "log BPP's for BD-quality) that both curves cover; low: under 50%, the figure rests "
            "on a small part of either curve.",
            header=header,
        )
    written += write_tracker_table(rows, folder, codec=codec, header=header)
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


def write_tracker_table(rows: pd.DataFrame, folder: Path, *, codec: str, header: str) -> list[Path]:
    """``trackers`` for ``codec`` in ``folder`` when the sweep ran tracker variants
    (``trackers:``, pipelines ``multitask+<name>`` and ``single+<name>``); nothing otherwise."""
    from vcm.experiment.tables import write_table
    from vcm.experiment.trackers import is_tracker_pipeline, trackers_table

    if not any(is_tracker_pipeline(name) for name in rows["pipeline"].unique()):
        return []
    qps = sorted(rows["qp"].astype(int).unique())
    return write_table(
        trackers_table(rows, codec=codec), folder, "trackers",
        caption=f"Trackers ({codec}): every tracking pipeline (multitask+<name> and "
        "single+<name>: the points of multitask and single tracked with the config's "
        f"`trackers:` entry <name>) at QP {qps[0]} and {qps[-1]}: MOTA, IDF1, HOTA, AssA "
        "(0..1) and identity switches (a count); on multitask rows BD-rate (%) and BD-quality "
        "of MOTA, IDF1 and HOTA against the single-task pipeline with the same tracker "
        "(BD-rate exists only where the multitask curve changes with QP, as it does with "
        "appearance).",
        header=header,
    )


def write_motion_table(summary: pd.DataFrame, folder: Path, *, codec: str, header: str) -> list[Path]:
    """``motion`` for ``codec`` in ``folder`` when the sweep scored the motion task
    (``motion:`` with ``motion_gt``); nothing otherwise."""
    from vcm.experiment.motion import motion_table
    from vcm.experiment.tables import write_table

    table = motion_table(summary, codec=codec)
    if table.empty:
        return []
    return write_table(
        table, folder, "motion",
        caption=f"Motion recognition by QP ({codec}; docs/motion.md), multitask against "
        "single-task: BPP, per-clip accuracy and macro-F1 (0..1) and repetition count MAE, "
        "each the mean over the sequences scored; last row: BD-rate (%) of accuracy against "
        "single-task (n/a where the curves allow none; per sequence in bd_motion_accuracy).",
        header=header,
    )


def write_summary(results: Path, output: Path, only: list[Path] | None = None) -> pd.DataFrame:
    """Write :func:`collect_points` of ``results`` to ``output`` as CSV; return the table."""
    table = collect_points(results, only)
    with atomic_output(output) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g")
    return table


def codec_label(codec: str, manifest: dict) -> str:
    """``codec`` and the settings that make its rate, for titles and captions: its preset
    (``"vvenc, preset faster"``) or VTM's configuration file, from the sidecars the manifest
    read (``codecs``) or else the config's ``codecs`` section; the bare name when neither
    says."""
    recorded = [entry.get("options") or {} for entry in (manifest.get("codecs") or {}).values()
                if entry.get("codec") == codec]
    configured = ((manifest.get("config") or {}).get("codecs") or {}).get(codec) or {}
    for options in [*recorded, configured]:
        if options.get("preset"):
            return f"{codec}, preset {options['preset']}"
        if options.get("cfg"):
            return f"{codec}, cfg {Path(str(options['cfg'])).name}"
    return codec


def write_report_logged(
    results: Path, output: Path, only: list[Path] | None = None, *, config: dict | None = None,
) -> tuple[pd.DataFrame, list[Path], Path, int]:
    """:func:`write_report`, with the messages of :data:`QUIET_LOGGER` (undefined BD figures,
    averages that leave a sequence out: expected, and said in the tables' notes) kept out of
    the console and written, all levels, to :data:`REPORT_LOG` beside ``output``. Returns the
    summary, the paths written, the log's path and how many warnings it holds. Should the
    report fail, the messages go to the console as usual and no log is written."""
    with captured_records(QUIET_LOGGER) as records:
        summary, written = write_report(results, output, only, config=config)
    log_path = output.parent / REPORT_LOG
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    with atomic_output(log_path) as temporary:
        temporary.write_text("".join(formatter.format(record) + "\n" for record in records),
                             encoding="utf-8")
    warnings = sum(1 for record in records if record.levelno >= logging.WARNING)
    return summary, written, log_path, warnings


@contextmanager
def captured_records(name: str) -> Iterator[list[logging.LogRecord]]:
    """Collect the records of logger ``name`` (every level) instead of passing them on to
    the console; if the block fails, pass them on after all, so the failure has its context."""
    logger = logging.getLogger(name)
    records: list[logging.LogRecord] = []
    handler = _ListHandler(records)
    saved = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    except BaseException:
        logger.propagate, logger.level = saved
        for record in records:
            if logger.parent is not None and record.levelno >= logger.parent.getEffectiveLevel():
                logger.parent.handle(record)
        raise
    finally:
        logger.removeHandler(handler)
        logger.propagate, logger.level = saved


class _ListHandler(logging.Handler):
    """A logging handler that appends each record to a list."""

    def __init__(self, records: list[logging.LogRecord]):
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
