"""The paper's published numbers, as a results record, and ours beside them.

Only the summary percentages that the paper states in its text are stored (see
``PAPER.md``); its per-QP table values are not available here and are not made up.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd

from vcm.experiment.tables import (
    DROP_ROW, bpp_table, has_values, metric_table, overall, per_qp, reduction_column, select_codec,
)

QP_KEY = "qp"
BPP_REDUCTION_KEY = "multitask_bpp_reduction_percent"
PAPER_FOOTAGE = "real video: HiEve videos 2, 4, 7, 16 (crowded scenes), VTM 12.0"
"""What the paper's numbers were measured on, for captions beside ours."""

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
    averaged columns of Tables 5 and 6 (the one sequence's columns when there is one). The
    footage differs: :func:`comparison_caption` says on what each side was measured.
    """
    published = published or paper_results()
    results = published["results"]
    paper_qps = results.get(QP_KEY, [])
    paper_span = f"{paper_qps[0]}->{paper_qps[-1]}" if paper_qps else ""
    rows = select_codec(summary, codec)
    bpp = bpp_table(rows)
    column = reduction_column(bpp)
    reduction = bpp[column].dropna() if column else pd.Series(dtype=float)
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
        table = metric_table(rows, metric) if has_values(rows, metric) else None
        across = overall(per_qp(rows, metric)) if table is not None else ""
        for pipeline in ("multitask", "single"):
            column = f"{across} {pipeline}"
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


def our_footage(sequences: list[str], config: dict | None = None) -> str:
    """What our sequences are, from the sweep's ``config`` (its ``sequences`` section): a
    synthetic sample (``synth:``), a mirror dataset (``dataset:``) or a user's file
    (``path:``), e.g. ``"sample: synthetic sample (vcm data synth, 60 frames 640x360)"``.
    Without a config the names alone, and that the footage is not recorded."""
    described = (config or {}).get("sequences") or {}
    parts = []
    for name in sequences:
        entry = described.get(name)
        if not isinstance(entry, dict):
            parts.append(name)
        elif isinstance(entry.get("synth"), dict):
            synth = entry["synth"]
            size = f", {synth.get('frames', '?')} frames {synth.get('width', '?')}x{synth.get('height', '?')}"
            parts.append(f"{name}: synthetic sample (vcm data synth{size})")
        elif entry.get("dataset"):
            parts.append(f"{name}: dataset {entry['dataset']}")
        elif entry.get("path"):
            parts.append(f"{name}: footage {Path(str(entry['path'])).name}")
        else:
            parts.append(name)
    text = "; ".join(parts)
    if not described:
        text += " (footage not recorded: run the report with the sweep's --config)"
    return text


def comparison_caption(codec_label: str, footage: str, published: dict | None = None) -> str:
    """The caption of :func:`paper_comparison`'s table: our codec and footage, the paper's,
    and that different footage makes the two columns a comparison of trends, not a
    reproduction."""
    published = published or paper_results()
    caption = (
        f"Ours ({codec_label}; {footage}) beside {published['name']} ({PAPER_FOOTAGE}). "
        "The footage differs: 'ours' was measured on the sequences named here, 'paper' on "
        "the paper's real video, so a gap between the columns may come from the footage "
        "(people's size, crowding, motion, the detector's recall on it) and not from the "
        "method."
    )
    if "synthetic" in footage:
        caption += " A synthetic sample in particular is no stand-in for HiEve."
    return caption
