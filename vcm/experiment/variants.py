"""The multitask variants of one sweep side by side, and the paper's score-threshold study.

A sweep config may run several multitask pipelines (``variants:``, ``score_study:``; see
:func:`vcm.config.multitask_variants`): ``multitask`` and ``multitask-<name>``, each point
recording its ``foreground`` (``paper`` or the options that differ from it) and ``score``
(the shared detector's threshold). Here:

* :func:`variants_table`: per multitask pipeline and sequence, the accuracy at the lowest and
  highest QP and BD figures against single-task and against the paper's foreground at the
  same score: BD-rate for pose AP and mask AP (negative: fewer bits for equal accuracy),
  BD-quality for MOTA and HOTA (constant over QP in multitask, so no BD-rate exists).
* :func:`score_study_table`: the pipelines that differ from the config's own ``multitask`` only
  in score, by score: BPP and the task metrics (the paper's Fig. 3 study).
"""

from __future__ import annotations

import math

import pandas as pd

from vcm.experiment.tables import AVERAGE, has_values, pipelines_of, select_codec

SINGLE = "single"
MAIN = "multitask"
PAPER_FOREGROUND = "paper"

RATE_METRICS = ("pose_ap", "segm_ap")
"""Metrics that change with QP in multitask: compared by BD-rate."""

FLAT_METRICS = ("mota", "hota")
"""Metrics a multitask pipeline has once per sequence (its boxes come from the original):
compared by BD-quality, the mean gain at equal rate."""

STUDY_METRICS = ("bpp", "pose_ap", "segm_ap", "mota", "idf1", "hota")


def multitask_pipelines(rows: pd.DataFrame) -> list[str]:
    """The multitask pipelines of ``rows`` in table order (``multitask`` first); tracker
    variants (``multitask+<name>``: the same points tracked otherwise) are not among them."""
    return [name for name in pipelines_of(rows) if name != SINGLE and "+" not in name]


def pipeline_facts(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per multitask pipeline: its ``variant``, ``foreground`` and ``score`` (the
    first value its points record; a pipeline's points all record the same)."""
    rows = rows[rows["pipeline"].isin(multitask_pipelines(rows))]
    columns = [column for column in ("variant", "foreground", "score") if column in rows.columns]
    facts = rows.groupby("pipeline", sort=False)[columns].first()
    return facts.reindex(multitask_pipelines(rows))


def paper_anchor(facts: pd.DataFrame, pipeline: str) -> str | None:
    """The multitask pipeline with the paper's foreground at ``pipeline``'s score (``None``
    when the sweep has none, or when it is ``pipeline`` itself)."""
    if not {"foreground", "score"} <= set(facts.columns) \
            or facts.loc[pipeline, "foreground"] == PAPER_FOREGROUND:
        return None
    score = facts.loc[pipeline, "score"]
    same = facts[(facts["foreground"] == PAPER_FOREGROUND)
                 & ((facts["score"] == score) | (facts["score"].isna() & pd.isna(score)))]
    return same.index[0] if len(same) else None


def variants_table(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """Each multitask pipeline against single-task and against the paper's foreground.

    Index: ``"<pipeline> <sequence>"`` for each multitask pipeline and each sequence, then
    ``average`` (the mean of the sequences' BD figures, as :func:`vcm.experiment.bdrate.bd_table`).
    Columns: ``foreground``, ``score``; ``bpp qp<lo>``/``bpp qp<hi>``; ``encode_s``, the
    mean seconds of a point's encoding (when the summary has them); for pose and mask AP
    their values at the lowest and highest QP, ``BD-rate % vs single`` and ``BD-rate % vs
    paper``; for MOTA and HOTA their value and ``BD-quality vs single``; after each BD figure
    its ``... overlap %``, the share of the range it is averaged over that both curves cover
    (:func:`vcm.experiment.bdrate.overlap_share`). A metric no sequence
    has is left out; a BD figure that cannot be computed is NaN (the log says why).
    """
    from vcm.experiment.bdrate import QUALITY_OVERLAP, RATE_OVERLAP, bd_table

    rows = select_codec(summary, codec)
    facts = pipeline_facts(rows)
    qps = sorted(rows["qp"].astype(int).unique())
    low, high = qps[0], qps[-1]
    rate_metrics = [metric for metric in RATE_METRICS if has_values(rows, metric)]
    flat_metrics = [metric for metric in FLAT_METRICS if has_values(rows, metric)]
    has_single = (rows["pipeline"] == SINGLE).any()
    has_encode_seconds = has_values(rows, "encode_s")
    records = {}
    for pipeline in facts.index:
        points = rows[rows["pipeline"] == pipeline]
        anchor = paper_anchor(facts, pipeline)
        figures = {}
        for metric in rate_metrics:
            for name, against in (("single", SINGLE if has_single else None), ("paper", anchor)):
                if against is not None:
                    bd = bd_table(rows, metric, test=pipeline, anchor=against)
                    figures[f"{metric} BD-rate % vs {name}"] = bd["bd_rate_percent"]
                    figures[f"{metric} BD-rate % vs {name} overlap %"] = bd[RATE_OVERLAP]
        for metric in flat_metrics:
            if has_single:
                bd = bd_table(rows, metric, test=pipeline, anchor=SINGLE)
                figures[f"{metric} BD-quality vs single"] = bd["bd_quality"]
                figures[f"{metric} BD-quality vs single overlap %"] = bd[QUALITY_OVERLAP]
        sequences = sorted(points["sequence"].unique())
        # One sequence: its row is the average already.
        for sequence in sequences + ([AVERAGE] if len(sequences) > 1 else []):
            at = points if sequence == AVERAGE else points[points["sequence"] == sequence]
            record = {
                "foreground": facts.loc[pipeline].get("foreground", ""),
                "score": facts.loc[pipeline].get("score", math.nan),
            }
            for qp in (low, high):
                record[f"bpp qp{qp}"] = _mean_at(at, "bpp", qp)
            for metric in rate_metrics:
                for qp in (low, high):
                    record[f"{metric} qp{qp}"] = _mean_at(at, metric, qp)
                for name in ("vs single", "vs paper"):
                    for column in (f"{metric} BD-rate % {name}", f"{metric} BD-rate % {name} overlap %"):
                        if column in figures:
                            record[column] = figures[column].get(sequence, math.nan)
            if has_encode_seconds:
                record["encode_s"] = float(at["encode_s"].astype(float).mean())
            for metric in flat_metrics:
                record[metric] = float(at[metric].astype(float).mean())
                for column in (f"{metric} BD-quality vs single", f"{metric} BD-quality vs single overlap %"):
                    if column in figures:
                        record[column] = figures[column].get(sequence, math.nan)
            records[f"{pipeline} {sequence}"] = record
    columns = ["foreground", "score", f"bpp qp{low}", f"bpp qp{high}", "encode_s"]
    for metric in rate_metrics:
        columns += [f"{metric} qp{low}", f"{metric} qp{high}", f"{metric} BD-rate % vs single",
                    f"{metric} BD-rate % vs single overlap %", f"{metric} BD-rate % vs paper",
                    f"{metric} BD-rate % vs paper overlap %"]
    for metric in flat_metrics:
        columns += [metric, f"{metric} BD-quality vs single", f"{metric} BD-quality vs single overlap %"]
    table = pd.DataFrame.from_dict(records, orient="index")
    table = table[[column for column in dict.fromkeys(columns) if column in table.columns]]
    table.index.name = "pipeline sequence"
    return table


def score_study_table(summary: pd.DataFrame, codec: str | None = None) -> pd.DataFrame:
    """The score-threshold study: the config's own ``multitask`` pipeline and every multitask
    pipeline with its foreground at another score, by sequence and score.

    Index ``"<sequence> <score>"`` (scores ascending); columns ``pipeline``, ``boxes`` (boxes
    sent), then for each metric of :data:`STUDY_METRICS` that the sweep has: its value at each
    QP (``"<metric> qp<QP>"``) for metrics that change with QP, or once (``mota``, ``idf1``,
    ``hota``). Empty when the sweep varied no score."""
    rows = select_codec(summary, codec)
    study = study_rows(rows)
    if study.empty:
        return pd.DataFrame(index=pd.Index([], name="sequence score"))
    qps = sorted(study["qp"].astype(int).unique())
    records = {}
    for (sequence, score), points in study.groupby(["sequence", "score"], sort=True):
        points = points.set_index(points["qp"].astype(int))
        record = {"pipeline": points["pipeline"].iloc[0]}
        if "boxes" in points.columns:
            record["boxes"] = float(points["boxes"].astype(float).iloc[0])
        for metric in STUDY_METRICS:
            if not has_values(study, metric):
                continue
            if metric in ("mota", "idf1", "hota"):
                record[metric] = float(points[metric].astype(float).mean())
            else:
                for qp in qps:
                    record[f"{metric} qp{qp}"] = float(points[metric].get(qp, math.nan))
        records[f"{sequence} {score:g}"] = record
    table = pd.DataFrame.from_dict(records, orient="index")
    table.index.name = "sequence score"
    return table


def study_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of the score study: multitask pipelines whose foreground is that of
    ``multitask`` (the config's own); empty when fewer than two scores are among them."""
    if not {"foreground", "score"} <= set(rows.columns) or not (rows["pipeline"] == MAIN).any():
        return rows.iloc[0:0]
    foreground = rows.loc[rows["pipeline"] == MAIN, "foreground"].iloc[0]
    study = rows[(rows["pipeline"] != SINGLE) & (rows["foreground"] == foreground)
                 & rows["score"].notna()]
    if study["score"].nunique() < 2:
        return rows.iloc[0:0]
    return study


def _mean_at(points: pd.DataFrame, metric: str, qp: int) -> float:
    values = points.loc[points["qp"].astype(int) == qp, metric].astype(float)
    return float(values.mean()) if len(values) else math.nan
