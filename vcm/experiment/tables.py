"""The paper's result tables (Tables 4-7) from the sweep summary, and their CSV/Markdown files.

The summary has one row per (sequence, pipeline, codec, qp) (see :mod:`vcm.experiment.points`). Every
table here is for one codec. Column names are ``"<sequence> <pipeline>"`` with ``average`` as
the sequence of the mean over sequences, when there are several (one sequence's average would
only repeat it). An average covers only the sequences that have a
value at every QP where the pipeline has any, so that it never mixes different sets of
sequences from one QP to the next; the sequences left out are logged. A sequence without any
value of a metric (no ground truth for that task: ``pose_gt: null``, ``track_gt: null``) is
left out of that metric's table, and a metric no sequence has gets no table.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from vcm.errors import VcmError
from vcm.fileio import atomic_output

LOG = logging.getLogger(__name__)

PIPELINES = ("multitask", "single")
"""Pipelines in table order; others found in a summary follow, sorted."""

AVERAGE = "average"
DROP_ROW = "drop %"
KEY_COLUMNS = ["sequence", "pipeline", "codec", "qp"]
STAGE_COLUMNS = ["detect_s", "pose_s", "track_s", "total_s"]
THIRD_TASK_COLUMNS = ["segment_s", "total_two_tasks_s"]
"""Table 7 columns of the third task (segmentation), shown when the sweep ran it."""
RATIO_ROW = "multitask / single"
REDUCTION_SUFFIX = " multitask reduction %"
TASK_METRICS = {"pose": "pose_ap", "track": "mota", "segment": "segm_ap"}
"""Each task and the metric a sequence has when it has that task's ground truth."""
CODEC_STAGE_COLUMNS = ["encode_s", "decode_s"]

Formatter = Callable[[object, str, float], str]
"""``(row label, column name, value) -> cell text`` for Markdown."""


def select_codec(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """The rows of ``codec``; with ``codec=None`` the summary must hold exactly one codec.

    Raises :class:`VcmError` when the key columns are missing, a point appears twice, the
    codec is absent, or several codecs are present and none is chosen.
    """
    require_columns(summary, KEY_COLUMNS)
    codecs = sorted(summary["codec"].dropna().unique())
    if not codecs:
        raise VcmError("summary is empty")
    if codec is None:
        if len(codecs) > 1:
            raise VcmError(f"summary holds several codecs ({', '.join(codecs)}); choose one")
        codec = codecs[0]
    elif codec not in codecs:
        raise VcmError(f"summary has no rows for codec {codec!r} (has {', '.join(codecs)})")
    rows = summary[summary["codec"] == codec]
    repeated = rows[rows.duplicated(KEY_COLUMNS, keep=False)]
    if not repeated.empty:
        first = repeated.iloc[0]
        raise VcmError(
            f"summary repeats the point {first['sequence']} {first['pipeline']} {codec} qp{first['qp']}"
        )
    return rows


def has_values(summary: pd.DataFrame, column: str) -> bool:
    """Whether ``summary`` has ``column`` with at least one value (not all NaN)."""
    return column in summary.columns and bool(summary[column].notna().any())


def require_columns(summary: pd.DataFrame, columns: list[str]) -> None:
    """Raise :class:`VcmError` naming the ``columns`` the summary lacks."""
    missing = [column for column in columns if column not in summary.columns]
    if missing:
        raise VcmError(f"summary lacks column(s): {', '.join(missing)}")


def pipelines_of(summary: pd.DataFrame) -> list[str]:
    """The pipelines present, in :data:`PIPELINES` order, then any others sorted."""
    present = set(summary["pipeline"].dropna().unique())
    return [name for name in PIPELINES if name in present] + sorted(present - set(PIPELINES))


def per_qp(summary: pd.DataFrame, column: str, codec: str | None = None) -> pd.DataFrame:
    """``column`` by QP: index ``qp`` (ascending ints), columns a MultiIndex
    ``(pipeline, sequence)`` with the sequences sorted and, when there are several,
    ``average`` last in each pipeline. Sequences without any value of ``column`` are left out;
    other missing points are NaN."""
    rows = select_codec(summary, codec)
    require_columns(rows, [column])
    wide = rows.pivot(index="qp", columns=["pipeline", "sequence"], values=column).sort_index()
    wide.index = wide.index.astype(int)
    sequences = sorted(rows.loc[rows[column].notna(), "sequence"].unique())
    blocks = {}
    for pipeline in pipelines_of(rows):
        block = wide[pipeline].reindex(columns=sequences).astype(float)
        if len(sequences) > 1:
            block[AVERAGE] = average_over_sequences(block, f"{pipeline} {column}")
        blocks[pipeline] = block
    result = pd.concat(blocks, axis=1, names=["pipeline", "sequence"])
    result.index.name = "qp"
    return result


def overall(wide: pd.DataFrame) -> str:
    """The sequence name of :func:`per_qp`'s across-sequences column: ``average``, or the one
    sequence's own name when there is just one."""
    sequences = list(dict.fromkeys(name for _, name in wide.columns))
    return AVERAGE if AVERAGE in sequences or len(sequences) != 1 else sequences[0]


def reduction_column(table: pd.DataFrame) -> str | None:
    """The ``"<average or sequence> multitask reduction %"`` column of :func:`bpp_table`'s
    ``table``, or None when it has none (no multitask pipeline)."""
    found = [name for name in table.columns if str(name).endswith(REDUCTION_SUFFIX)]
    return found[0] if found else None


def average_over_sequences(block: pd.DataFrame, what: str = "") -> pd.Series:
    """Mean over the columns (sequences) of ``block`` (index QP) that have a value at every
    QP where any column has one; NaN at QPs where none has."""
    measured = block.notna().any(axis=1)
    complete = [name for name in block.columns if block.loc[measured, name].notna().all()]
    left_out = [name for name in block.columns if name not in complete and block[name].notna().any()]
    if left_out:
        LOG.warning("average of %s leaves out %s (missing at some QP)", what, ", ".join(map(str, left_out)))
    if not complete:
        return pd.Series(math.nan, index=block.index)
    average = block[complete].mean(axis=1)
    average[~measured] = math.nan
    return average


def relative_drop(series: pd.Series) -> float:
    """Percent fall from the lowest-QP value to the highest-QP value of ``series`` (index
    QP; NaN points skipped): ``100 * (first - last) / first``. NaN when fewer than two points
    or when the first value is not positive (a relative fall from 0 or below means nothing)."""
    values = series.dropna().sort_index()
    if len(values) < 2 or values.iloc[0] <= 0:
        return math.nan
    return float(100.0 * (values.iloc[0] - values.iloc[-1]) / values.iloc[0])


def bpp_table(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """Table 4: bits per pixel by QP (index ``qp``), columns ``"<sequence> <pipeline>"`` for
    every sequence and ``average`` (several sequences), then ``"average multitask reduction
    %"``: the mean over sequences of ``100 * (1 - bpp / original_bpp)``, the saving of the
    multitask input against the uncompressed original (``"<sequence> multitask reduction
    %"`` with one sequence)."""
    rows = select_codec(summary, codec)
    require_columns(rows, ["bpp", "original_bpp"])
    bpp = per_qp(rows, "bpp")
    table = _flatten(bpp)
    if "multitask" in bpp.columns.get_level_values(0):
        original = _original_bpp(rows)
        sequences = [name for name in bpp["multitask"].columns if name != AVERAGE]
        reduction = 100.0 * (1.0 - bpp["multitask"][sequences] / original.reindex(sequences))
        if len(sequences) > 1:
            reduction = average_over_sequences(reduction, "multitask BPP reduction")
            table[f"{AVERAGE}{REDUCTION_SUFFIX}"] = reduction
        else:
            table[f"{sequences[0]}{REDUCTION_SUFFIX}"] = reduction[sequences[0]]
    return table


def metric_table(summary: pd.DataFrame, metric: str, codec: str | None = None) -> pd.DataFrame:
    """``metric`` by QP (index ``qp``, then a last row ``"drop %"``), columns
    ``"<sequence> <pipeline>"`` for every sequence and ``average`` (several sequences). The drop row is
    :func:`relative_drop` of each column: percent fall from the lowest to the highest QP."""
    table = _flatten(per_qp(summary, metric, codec))
    drops = {name: relative_drop(table[name]) for name in table.columns}
    table.index = table.index.astype(object)
    table.loc[DROP_ROW] = drops
    return table


def pose_table(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """Table 5: pose mAP (COCO keypoint AP, 0..1) by QP, multitask and single-task; see
    :func:`metric_table`."""
    return metric_table(summary, "pose_ap", codec)


def segm_table(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """Table 5b: person mask AP (COCO mask AP, 0..1) by QP, multitask and single-task; see
    :func:`metric_table`."""
    return metric_table(summary, "segm_ap", codec)


def mota_table(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """Table 6: MOTA (at most 1) by QP, multitask and single-task; see :func:`metric_table`."""
    return metric_table(summary, "mota", codec)


def hota_table(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """Table 6b: HOTA (0..1, TrackEval) by QP, multitask and single-task; see
    :func:`metric_table`."""
    return metric_table(summary, "hota", codec)


IDENTITY_METRICS = ("idf1", "assa", "id_switches")
"""The identity metrics of :func:`identity_table`: IDF1, HOTA's association accuracy and the
identity switches (motmetrics' ``num_switches``)."""


def identity_table(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """Table 6c: who stays who, by QP (index ``qp``): for each metric of
    :data:`IDENTITY_METRICS` with a value, columns ``"<sequence> <pipeline> <metric>"`` as
    :func:`metric_table` names them (without its drop row: a count of switches has no
    percent fall). Beside Table 6's MOTA and 6b's HOTA."""
    rows = select_codec(summary, codec)
    blocks = []
    for metric in IDENTITY_METRICS:
        if metric not in rows.columns or not has_values(rows, metric):
            continue
        block = _flatten(per_qp(summary, metric, codec))
        blocks.append(block.rename(columns=lambda name, metric=metric: f"{name} {metric}"))
    if not blocks:
        raise VcmError("the summary has no IDF1, AssA or identity switches")
    return pd.concat(blocks, axis=1)


def time_table(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """Table 7: mean seconds per point of each stage, by task set and pipeline.

    Sequences are grouped by the set of tasks they have (:func:`task_sets`: a sequence without
    pose ground truth runs no pose, so its times must not be averaged with those of one that
    does). Index: ``"<tasks>: <pipeline>"`` (tasks joined by ``+``, e.g. ``pose+track:
    multitask``), and with both pipelines ``"<tasks>: multitask / single"``, the ratio of
    their mean times, then ``"<tasks>: multitask / single qp<QP>"``, the same ratio at each
    QP (mean multitask time of the group's points at that QP over the mean single-task time).

    Columns: ``sequences`` (the group's, comma-separated), ``detect_s``, ``pose_s``,
    ``track_s``, ``total_s`` (the paper's total, codec excluded), then, when the sweep ran
    segmentation (some ``segment_s`` > 0), ``segment_s`` and ``total_two_tasks_s`` (pose and
    tracking alone; ``total_s`` then counts all three tasks), then ``encode_s`` and
    ``decode_s`` when the summary has them (codec time, reported apart), and ``points``
    (summary rows averaged; NaN on ratio rows). NaN times are skipped. With two tasks
    (``total_two_tasks_s``) and three (``total_s``) the paper's claim that sharing one
    detection pays more with more tasks can be read off directly.
    """
    rows = select_codec(summary, codec)
    require_columns(rows, STAGE_COLUMNS)
    third_task = ("segment_s" in rows.columns
                  and (rows["segment_s"].astype(float).fillna(0) > 0).any())
    stage_columns = list(STAGE_COLUMNS)
    if third_task:
        require_columns(rows, THIRD_TASK_COLUMNS)
        stage_columns[3:3] = ["segment_s"]
        stage_columns.append("total_two_tasks_s")
    columns = stage_columns + [name for name in CODEC_STAGE_COLUMNS if name in rows.columns]
    records = {}
    for tasks, sequences in task_sets(rows).items():
        group = rows[rows["sequence"].isin(sequences)]
        means = {}
        for pipeline in pipelines_of(group):
            points = group[group["pipeline"] == pipeline]
            means[pipeline] = points[columns].astype(float).mean()
            records[f"{tasks}: {pipeline}"] = {
                "sequences": ", ".join(sequences), **means[pipeline].to_dict(), "points": len(points),
            }
        if not {"multitask", "single"} <= set(means):
            continue
        ratios = {RATIO_ROW: means["multitask"] / means["single"]}
        for qp, at in group.groupby(group["qp"].astype(int), sort=True):
            by_pipeline = at[columns].astype(float).groupby(at["pipeline"]).mean()
            if {"multitask", "single"} <= set(by_pipeline.index):
                ratios[f"{RATIO_ROW} qp{qp}"] = by_pipeline.loc["multitask"] / by_pipeline.loc["single"]
        for label, ratio in ratios.items():
            records[f"{tasks}: {label}"] = {"sequences": ", ".join(sequences), **ratio.to_dict(),
                                            "points": math.nan}
    table = pd.DataFrame.from_dict(records, orient="index", columns=["sequences", *columns, "points"])
    table.index.name = "tasks: pipeline"
    return table


def task_sets(summary: pd.DataFrame) -> dict[str, list[str]]:
    """Sequences grouped by the tasks they have: ``{"pose+track": ["a", "b"], ...}``, tasks in
    :data:`TASK_METRICS` order, sequences sorted. A sequence has a task when any of its points
    has a value of the task's metric (it has that ground truth); one with none is under
    ``"no task"``."""
    groups: dict[str, list[str]] = {}
    for sequence, points in summary.groupby("sequence", sort=True):
        tasks = [task for task, metric in TASK_METRICS.items() if has_values(points, metric)]
        groups.setdefault("+".join(tasks) or "no task", []).append(sequence)
    return dict(sorted(groups.items()))


METRIC_OF_TABLE = {"table5_pose": "pose_ap", "table5b_segm": "segm_ap", "table6_mota": "mota",
                   "table6b_hota": "hota", "table6c_identity": "idf1"}
"""The metric each per-task table shows; a table whose metric has no value is not written."""


def formats_table(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """Detection formats compared on the same sweep: multitask BPP by QP (index ``qp``) with
    the sweep's detections sent in each registered format (``bpp_<format>`` of the points),
    columns ``"<sequence> video"`` (the coded foreground alone) and ``"<sequence> <format>"``;
    a last row ``"bytes per box"`` gives each format's bytes per detected box. Empty when the
    summary has no multitask point with a detection file."""
    from vcm.experiment.points import FORMAT_BPP_COLUMNS, format_bpp_column
    from vcm.detformats import DETECTION_FORMATS

    rows = select_codec(summary, codec)
    columns = ["video_bpp", "boxes", "width", "height", "frames", *FORMAT_BPP_COLUMNS]
    if not set(columns) <= set(rows.columns):
        return pd.DataFrame(index=pd.Index([], name="qp"))
    rows = rows[(rows["pipeline"] == "multitask") & rows["boxes"].notna()]
    table = {}
    per_box = {}
    for sequence, points in rows.groupby("sequence", sort=True):
        points = points.sort_values("qp").set_index("qp")
        table[f"{sequence} video"] = points["video_bpp"].astype(float)
        per_box[f"{sequence} video"] = math.nan
        pixels = points[["width", "height", "frames"]].astype(float).prod(axis=1)
        for name in DETECTION_FORMATS.names():
            bpp = points[format_bpp_column(name)].astype(float)
            table[f"{sequence} {name}"] = bpp
            detection_bytes = (bpp - points["video_bpp"].astype(float)) * pixels / 8
            per_box[f"{sequence} {name}"] = float((detection_bytes / points["boxes"]).mean())
    result = pd.DataFrame(table)
    result.index = result.index.astype(object)
    result.index.name = "qp"
    if not result.empty:
        result.loc["bytes per box"] = per_box
    return result


def bd_rate_by_format(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """BD-rate (percent) of multitask against single-task for pose AP and MOTA with the
    multitask BPP of each detection format (``bpp_<format>``): index the sequences and
    ``average`` (several sequences), columns ``"<format> pose_ap"``, ``"<format> mota"``, each
    followed by its ``"... overlap %"`` (see :func:`vcm.experiment.bdrate.bd_table`). The task metrics are the
    sweep's own (measured with its format); only the rate changes with the format."""
    from vcm.experiment.bdrate import RATE_OVERLAP, bd_table
    from vcm.detformats import DETECTION_FORMATS
    from vcm.experiment.points import format_bpp_column

    rows = select_codec(summary, codec)
    columns = {}
    for name in DETECTION_FORMATS.names():
        column = format_bpp_column(name)
        if column not in rows.columns:
            continue
        with_format = rows.copy()
        multitask = with_format["pipeline"] == "multitask"
        with_format.loc[multitask, "bpp"] = with_format.loc[multitask, column]
        for metric in ("pose_ap", "mota"):
            if has_values(with_format, metric):  # a task no sequence has ground truth for
                bd = bd_table(with_format, metric, codec=codec)
                columns[f"{name} {metric}"] = bd["bd_rate_percent"]
                columns[f"{name} {metric} overlap %"] = bd[RATE_OVERLAP]
    table = pd.DataFrame(columns)
    table.index.name = "sequence"
    return table


TABLES = {
    "table4_bpp": (
        bpp_table,
        "Table 4. Bits per pixel by QP (multitask: detection file + coded foreground; single: coded "
        "original), and the multitask saving against the uncompressed original in percent.",
    ),
    "table5_pose": (
        pose_table,
        "Table 5. Pose mAP (COCO keypoint AP, 0..1) by QP; last row: fall from the lowest to the "
        "highest QP in percent of the lowest-QP value.",
    ),
    "table5b_segm": (
        segm_table,
        "Table 5b. Person mask AP (COCO mask AP, 0..1; the third task) by QP; last row: fall "
        "from the lowest to the highest QP in percent of the lowest-QP value.",
    ),
    "table6_mota": (
        mota_table,
        "Table 6. MOTA by QP; last row: fall from the lowest to the highest QP in percent of the "
        "lowest-QP value.",
    ),
    "table6b_hota": (
        hota_table,
        "Table 6b (not in the paper). HOTA (TrackEval: mean over IoU thresholds 0.05-0.95 of "
        "sqrt(DetA x AssA)) by QP; last row: fall from the lowest to the highest QP in percent.",
    ),
    "table6c_identity": (
        identity_table,
        "Table 6c (not in the paper). Identities by QP: IDF1 (0..1), AssA (HOTA's association "
        "accuracy, 0..1) and identity switches (a count) of each pipeline.",
    ),
    "table7_time": (
        time_table,
        "Table 7. Mean seconds per point and stage, for each set of tasks the sequences have "
        "(sequences with different tasks are never averaged together); total_s = detect_s + "
        "pose_s + track_s (+ segment_s when segmentation ran; total_two_tasks_s: pose and "
        "tracking alone), codec time (encode_s, decode_s) apart; multitask / single: the ratio "
        "of the mean times, over all QPs and at each QP (qpN).",
    ),
}
"""File stem -> (table function, caption)."""


def write_tables(
    summary: pd.DataFrame, folder: str | Path, header: str = "", codec: str | None = None
) -> list[Path]:
    """Write Tables 4-7 of ``summary`` into ``folder`` as ``<stem>.csv`` and ``<stem>.md``
    (stems in :data:`TABLES`), each atomically; ``header`` (e.g. the run manifest: versions,
    config hash) heads every file. A task table whose metric has no value for this codec
    (no sequence has that ground truth, or the sweep did not run segmentation) is skipped and
    logged. Returns the paths, CSV before Markdown, in table order."""
    paths = []
    rows = select_codec(summary, codec)
    for stem, (function, caption) in TABLES.items():
        metric = METRIC_OF_TABLE.get(stem)
        # Table 5b needs the third task: a summary of the paper's two has no mask AP at all.
        if metric is not None and (metric in rows.columns or stem == "table5b_segm") \
                and not has_values(rows, metric):
            LOG.info("%s: no sequence has %s; table not written", stem, metric)
            continue
        paths += write_table(function(summary, codec), folder, stem, caption=caption, header=header)
    return paths


def write_table(
    table: pd.DataFrame,
    folder: str | Path,
    stem: str,
    *,
    caption: str = "",
    header: str = "",
    formatter: Formatter | None = None,
) -> list[Path]:
    """Write ``table`` as ``<stem>.csv`` and ``<stem>.md`` in ``folder``, atomically.

    The CSV starts with ``header`` as ``# `` comment lines (read it back with
    ``pd.read_csv(path, comment="#", index_col=0)``); floats keep 6 significant digits. The
    Markdown starts with ``header`` in an HTML comment, then ``caption``, then the table, cells
    written by ``formatter`` (default :func:`default_formatter`).
    """
    folder = Path(folder)
    csv_path = folder / f"{stem}.csv"
    markdown_path = folder / f"{stem}.md"
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    with atomic_output(csv_path) as temporary:
        temporary.write_text(comment + table.to_csv(float_format="%.6g", lineterminator="\n"), encoding="utf-8")
    parts = []
    if header:
        # "--" may not appear inside an HTML comment.
        parts.append("<!--\n" + header.replace("--", "- -").rstrip("\n") + "\n-->\n")
    if caption:
        parts.append(caption + "\n")
    parts.append(markdown(table, formatter or default_formatter))
    with atomic_output(markdown_path) as temporary:
        temporary.write_text("\n".join(parts), encoding="utf-8")
    return [csv_path, markdown_path]


LOW_OVERLAP_PERCENT = 50.0
"""An overlap share (a column named ``*overlap_percent`` or ``*overlap %``) under this is
marked in Markdown (see :data:`vcm.experiment.bdrate.LOW_OVERLAP`)."""


def default_formatter(row: object, column: str, value: object) -> str:
    """Cell text: percentages (a ``%`` in the row or column name) and seconds (``_s``) with 2
    decimals, overlap shares as whole percent with `` (low)`` under
    :data:`LOW_OVERLAP_PERCENT`, other floats with 4 significant digits, NaN as ``n/a``."""
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if column.endswith(("overlap_percent", "overlap %")):
            return f"{value:.0f}%" + (" (low)" if value < LOW_OVERLAP_PERCENT else "")
        if "%" in str(row) or "%" in column or column.endswith("_s"):
            return f"{value:.2f}"
        return f"{value:.4g}"
    return str(value)


def markdown(table: pd.DataFrame, formatter: Formatter = default_formatter) -> str:
    """``table`` as a GitHub Markdown table, index first, numbers right-aligned."""
    columns = [str(name) for name in table.columns]
    header = [str(table.index.name or "")] + columns
    alignment = [":--"] + ["--:" if pd.api.types.is_numeric_dtype(table[name]) else ":--" for name in table.columns]
    lines = [_markdown_row(header), _markdown_row(alignment)]
    for label, row in table.iterrows():
        cells = [str(label)] + [formatter(label, str(name), _python(row[name])) for name in table.columns]
        lines.append(_markdown_row(cells))
    return "\n".join(lines) + "\n"


def _markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _python(value: object) -> object:
    """numpy scalars as Python ones, so the formatter sees ``float``/``int``."""
    return value.item() if hasattr(value, "item") else value


def _flatten(wide: pd.DataFrame) -> pd.DataFrame:
    """``(pipeline, sequence)`` columns as ``"<sequence> <pipeline>"``, sequences in order,
    each sequence's pipelines side by side, ``average`` last."""
    sequences = list(dict.fromkeys(name for _, name in wide.columns))
    pipelines = list(dict.fromkeys(name for name, _ in wide.columns))
    order = [(pipeline, sequence) for sequence in sequences for pipeline in pipelines]
    table = wide.reindex(columns=pd.MultiIndex.from_tuples(order))
    table.columns = [f"{sequence} {pipeline}" for pipeline, sequence in order]
    table.index.name = "qp"
    return table


def _original_bpp(rows: pd.DataFrame) -> pd.Series:
    """``original_bpp`` per sequence; it must be one positive value per sequence."""
    values = rows.groupby("sequence")["original_bpp"].unique()
    for sequence, found in values.items():
        if len(found) != 1 or not found[0] > 0:
            raise VcmError(
                f"original_bpp of {sequence} must be one positive value, found {', '.join(map(str, found))}"
            )
    return values.map(lambda found: float(found[0]))
