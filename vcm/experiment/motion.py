"""The motion task by QP, multitask against single-task: the ``motion`` table.

A sweep config's ``motion:`` section runs the motion task (docs/motion.md) on every
multitask and single-task point's poses and tracks and, with ``motion_gt``, scores it per
clip; the points carry :data:`vcm.experiment.points.MOTION_COLUMNS`. :func:`motion_table`
sets the two pipelines side by side by QP, with the BD-rate of motion accuracy where the
curves allow one.
"""

from __future__ import annotations

import math

import pandas as pd

from vcm.config import MULTITASK, SINGLE
from vcm.experiment.tables import AVERAGE, has_values, select_codec

MOTION_LABELS = (("bpp", "BPP"), ("motion_accuracy", "accuracy"),
                 ("motion_macro_f1", "macro-F1"), ("motion_count_mae", "count MAE"))
"""Summary column and table label of each column of :func:`motion_table`, per pipeline."""

BD_ROW = "accuracy BD-rate % vs single"
"""The last row of :func:`motion_table`: BD-rate of motion accuracy in the multitask accuracy
column."""


def motion_table(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """Motion scores by QP of ``multitask`` and ``single`` (those present) for ``codec``.

    Index ``"qp<N>"`` (ascending), then :data:`BD_ROW`. Columns ``"<pipeline> BPP"``,
    ``"<pipeline> accuracy"``, ``"<pipeline> macro-F1"`` (0..1) and ``"<pipeline> count MAE"``
    (repetitions): each the mean over the sequences with a motion accuracy (a sequence
    without a value at a QP is left out of that QP's mean). :data:`BD_ROW` holds, under
    ``"multitask accuracy"``, the BD-rate (%, negative: multitask needs fewer bits for the
    same accuracy) of multitask against single-task
    (:func:`vcm.experiment.bdrate.bd_table`: its ``average`` over sequences, or the one
    sequence's), NaN where the curves allow none (a flat curve, too few QPs, no overlap) or a
    pipeline is missing; every other cell of that row is NaN. Empty when no point has a
    motion accuracy.
    """
    from vcm.experiment.bdrate import bd_table

    rows = select_codec(summary, codec)
    if "motion_accuracy" not in rows.columns or not has_values(rows, "motion_accuracy"):
        return pd.DataFrame()
    sequences = rows.loc[rows["motion_accuracy"].notna(), "sequence"].unique()
    rows = rows[rows["sequence"].isin(sequences)]
    columns = {}
    pipelines = [name for name in (MULTITASK, SINGLE) if (rows["pipeline"] == name).any()]
    for pipeline in pipelines:
        points = rows[rows["pipeline"] == pipeline]
        by_qp = points.groupby(points["qp"].astype(int))
        for column, label in MOTION_LABELS:
            columns[f"{pipeline} {label}"] = by_qp[column].mean()
    table = pd.DataFrame(columns).sort_index()
    table.index = [f"qp{qp}" for qp in table.index]
    bd_rate = math.nan
    if pipelines == [MULTITASK, SINGLE]:
        bd = bd_table(rows, "motion_accuracy", test=MULTITASK, anchor=SINGLE)
        if len(bd):
            bd_rate = float(bd.loc[AVERAGE if AVERAGE in bd.index else bd.index[0], "bd_rate_percent"])
    table.loc[BD_ROW] = math.nan
    if f"{MULTITASK} accuracy" in table.columns:
        table.loc[BD_ROW, f"{MULTITASK} accuracy"] = bd_rate
    return table
