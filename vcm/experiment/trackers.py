"""Tracking with and without appearance in one sweep: the ``trackers`` table.

A sweep config's ``trackers:`` section (:func:`vcm.config.tracker_pipelines`) adds, per
tracker variant ``<name>``, the pipelines ``multitask+<name>`` and ``single+<name>``: the
points of ``multitask`` and ``single`` tracked once more with that tracker (bits, pose and
segmentation shared). :func:`trackers_table` sets every tracking pipeline side by side: MOTA,
IDF1, HOTA, AssA and identity switches at the lowest and highest QP, and for each multitask
pipeline BD-rate and BD-quality of MOTA, IDF1 and HOTA against the single-task pipeline with
the same tracker. With appearance, multitask tracks embed the decoded foreground, so they
depend on the QP and BD-rate can exist; without it they are flat over QP and only
BD-quality (the mean gain at equal rate) does.
"""

from __future__ import annotations

import pandas as pd

from vcm.config import MULTITASK, SINGLE, TRACKER_SEPARATOR
from vcm.experiment.tables import has_values, pipelines_of, select_codec

TRACK_METRICS = ("mota", "idf1", "hota", "assa", "id_switches")
"""The columns of :func:`trackers_table` at the lowest and highest QP."""

BD_METRICS = ("mota", "idf1", "hota")
"""The metrics :func:`trackers_table` compares by BD-rate and BD-quality."""


def is_tracker_pipeline(pipeline: str) -> bool:
    """Whether ``pipeline`` is a tracker variant's (``multitask+<name>``, ``single+<name>``)."""
    return TRACKER_SEPARATOR in pipeline


def tracking_pipelines(rows: pd.DataFrame) -> list[str]:
    """``multitask``, ``single`` (those present), then the tracker variants' pipelines, each
    ``multitask+<name>`` before its ``single+<name>``."""
    present = pipelines_of(rows)
    variants = [name for name in present if is_tracker_pipeline(name)]
    names = sorted({name.split(TRACKER_SEPARATOR, 1)[1] for name in variants})
    ordered = [name for name in (MULTITASK, SINGLE) if name in present]
    for name in names:
        ordered += [f"{base}{TRACKER_SEPARATOR}{name}" for base in (MULTITASK, SINGLE)
                    if f"{base}{TRACKER_SEPARATOR}{name}" in present]
    return ordered


def single_of(pipeline: str) -> str:
    """The single-task pipeline with ``pipeline``'s tracker: ``single`` for ``multitask``,
    ``single+<name>`` for ``multitask+<name>``."""
    if is_tracker_pipeline(pipeline):
        return SINGLE + TRACKER_SEPARATOR + pipeline.split(TRACKER_SEPARATOR, 1)[1]
    return SINGLE


def trackers_table(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """Every tracking pipeline of ``summary`` (:func:`tracking_pipelines`) by sequence.

    Index ``"<pipeline> <sequence>"``. Columns: for each metric of :data:`TRACK_METRICS` with a
    value, ``"<metric> qp<lo>"`` and ``"<metric> qp<hi>"`` (MOTA, IDF1, HOTA, AssA: 0..1;
    identity switches: a count); then, on multitask rows whose single-task pipeline with the
    same tracker is in the sweep, for each metric of :data:`BD_METRICS`, ``"<metric> BD-rate
    % vs single"`` (negative: fewer bits for the same value) and ``"<metric> BD-quality vs
    single"`` (in the metric's unit; positive: better at equal rate), as
    :func:`vcm.experiment.bdrate.bd_table` computes them (NaN where it cannot: for a flat
    multitask curve BD-rate does not exist). Empty when the sweep has no tracking values.
    """
    from vcm.experiment.bdrate import bd_table

    rows = select_codec(summary, codec)
    metrics = [metric for metric in TRACK_METRICS if metric in rows.columns and has_values(rows, metric)]
    if not metrics:
        return pd.DataFrame()
    qps = sorted(rows["qp"].astype(int).unique())
    low, high = qps[0], qps[-1]
    present = set(rows["pipeline"])
    records = {}
    for pipeline in tracking_pipelines(rows):
        bd = {}
        anchor = single_of(pipeline)
        if not pipeline.startswith(SINGLE) and anchor in present:
            for metric in BD_METRICS:
                if metric in metrics:
                    bd[metric] = bd_table(rows, metric, test=pipeline, anchor=anchor)
        points = rows[rows["pipeline"] == pipeline]
        for sequence, sequence_points in points.groupby("sequence", sort=True):
            by_qp = sequence_points.assign(qp=sequence_points["qp"].astype(int)).set_index("qp")
            record = {}
            for metric in metrics:
                for qp in (low, high):
                    record[f"{metric} qp{qp}"] = by_qp[metric].get(qp, float("nan"))
            for metric, table in bd.items():
                found = sequence in table.index
                record[f"{metric} BD-rate % vs single"] = (
                    table.loc[sequence, "bd_rate_percent"] if found else float("nan"))
                record[f"{metric} BD-quality vs single"] = (
                    table.loc[sequence, "bd_quality"] if found else float("nan"))
            records[f"{pipeline} {sequence}"] = record
    return pd.DataFrame.from_dict(records, orient="index")
