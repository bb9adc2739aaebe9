"""The paper's published numbers, as a results record, and ours beside them.

Only the summary percentages that the paper states in its text are stored (see
``PAPER.md``); its per-QP table values are not available here and are not made up.
"""

from __future__ import annotations

import copy

import pandas as pd

from vcm.experiment.tables import AVERAGE, DROP_ROW, bpp_table, metric_table, select_codec

QP_KEY = "qp"
BPP_REDUCTION_KEY = "multitask_bpp_reduction_percent"

PAPER_RESULTS = {
    "name": "Jeong et al. 2022 (JBE 27(3))",
    "description": (
        "Min Hyuk Jeong et al., 'Comparison of Artificial Intelligence Multitask Performance "
        "using Object Detection and Foreground Image', JBE 27(3), May 2022, "
        "doi:10.5909/JBE.2022.27.3.308; HiEve videos 2, 4, 7, 16, VTM 12.0. Summary numbers "
        "from the text, averaged over the four videos. multitask_bpp_reduction_percent: saving "
        "of zipped XML + coded foreground against the uncompressed original, one value per "
        "entry of qp. *_drop_percent: one value each, the fall from the first to the last "
        "entry of qp (QP 22 to QP 47) in percent of the QP 22 value; multitask MOTA is the "
        "same at every QP (drop 0)."
    ),
    "results": {
        QP_KEY: [22, 47],
        BPP_REDUCTION_KEY: [97.5, 99.7],
        "multitask_pose_ap_drop_percent": [7.73],
        "single_pose_ap_drop_percent": [16.8],
        "multitask_mota_drop_percent": [0.0],
        "single_mota_drop_percent": [43.4],
    },
}


def paper_results() -> dict:
    """The paper's record ``{"name", "description", "results": {metric: [values]}}`` (a copy)."""
    return copy.deepcopy(PAPER_RESULTS)


def drop_key(pipeline: str, metric: str) -> str:
    """Results key of the published QP 22 -> 47 drop of ``metric`` ("pose_ap", "mota")."""
    return f"{pipeline}_{metric}_drop_percent"


def paper_comparison(summary: pd.DataFrame, codec: str | None = None, published: dict | None = None) -> pd.DataFrame:
    """Our summary numbers beside the published ones (default :func:`paper_results`).

    Index: the quantity; columns ``ours``, ``paper`` (both percent; NaN where unknown),
    ``our_qps`` and ``paper_qps`` (the QP, or ``"low->high"`` for a drop), since our sweep's
    lowest and highest QPs need not be the paper's 22 and 47. Our BPP reduction is the
    average multitask reduction at our lowest and highest QP (Table 4); drops are those of the
    averaged columns of Tables 5 and 6.
    """
    published = published or paper_results()
    results = published["results"]
    paper_qps = results.get(QP_KEY, [])
    paper_span = f"{paper_qps[0]}->{paper_qps[-1]}" if paper_qps else ""
    rows = select_codec(summary, codec)
    bpp = bpp_table(rows)
    reduction = bpp.get(f"{AVERAGE} multitask reduction %", pd.Series(dtype=float)).dropna()
    records = {}
    for position, label in ((0, "lowest"), (-1, "highest")):
        ours = reduction.iloc[position] if len(reduction) else float("nan")
        our_qp = str(reduction.index[position]) if len(reduction) else ""
        paper = results.get(BPP_REDUCTION_KEY, [])
        records[f"multitask BPP reduction at {label} QP"] = {
            "ours": float(ours),
            "paper": float(paper[position]) if paper else float("nan"),
            "our_qps": our_qp,
            "paper_qps": str(paper_qps[position]) if paper_qps else "",
        }
    for metric, title in (("pose_ap", "pose mAP"), ("mota", "MOTA")):
        table = metric_table(rows, metric) if metric in rows.columns else None
        for pipeline in ("multitask", "single"):
            column = f"{AVERAGE} {pipeline}"
            has_column = table is not None and column in table.columns
            values = table[column].drop(DROP_ROW).dropna() if has_column else pd.Series(dtype=float)
            paper = results.get(drop_key(pipeline, metric), [])
            records[f"{pipeline} {title} drop"] = {
                "ours": float(table.loc[DROP_ROW, column]) if has_column else float("nan"),
                "paper": float(paper[0]) if paper else float("nan"),
                "our_qps": f"{values.index[0]}->{values.index[-1]}" if len(values) >= 2 else "",
                "paper_qps": paper_span if paper else "",
            }
    comparison = pd.DataFrame.from_dict(records, orient="index", columns=["ours", "paper", "our_qps", "paper_qps"])
    comparison.index.name = "quantity (percent)"
    return comparison
