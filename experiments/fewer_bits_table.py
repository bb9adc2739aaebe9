"""The fewer-bits table of docs/fewer-bits.md from a sweep's summary.csv (issue 23).

One row per pipeline: BPP, pose AP and mask AP at each QP; the BD-rate of pose AP and mask AP
against single-task and against an anchor variant (default margin 0.125 + grey + hold 32),
each with the share of the AP range both curves cover (``vcm.experiment.bdrate.bd_table``,
PCHIP); MOTA; the mean encoding seconds of a point. Markdown on stdout.

    python experiments/fewer_bits_table.py results/fewer-bits-regions/summary.csv
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from vcm.errors import VcmError
from vcm.experiment.bdrate import RATE_OVERLAP, bd_table

ANCHOR = "multitask-margin-grey-hold"


def bd_cell(summary: pd.DataFrame, metric: str, test: str, anchor: str) -> str:
    """``<BD-rate> % (<overlap> %)`` of ``test`` against ``anchor``; ``n/a`` where none."""
    if test == anchor or not (summary["pipeline"] == anchor).any():
        return ""
    table = bd_table(summary, metric, test=test, anchor=anchor)
    rate, overlap = table["bd_rate_percent"].iloc[-1], table[RATE_OVERLAP].iloc[-1]
    if not math.isfinite(rate):
        return "n/a"
    return f"{rate:+.1f} % ({overlap:.0f} %)"


def fewer_bits_table(summary: pd.DataFrame, anchor: str = ANCHOR) -> str:
    """The markdown table (module docstring) of every pipeline in ``summary``."""
    qps = sorted(summary["qp"].astype(int).unique())
    header = ["pipeline", *(f"BPP / pose AP / mask AP QP {qp}" for qp in qps),
              "pose BD-rate vs single (overlap)", "vs mgh", "mask BD-rate vs single", "vs mgh",
              "MOTA", "encode s/point"]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] * len(header)) + " |"]
    for pipeline, points in summary.groupby("pipeline", sort=False):
        points = points.assign(qp=points["qp"].astype(int)).set_index("qp")
        cells = [pipeline]
        for qp in qps:
            row = points.loc[qp]
            cells.append(f"{row['bpp']:.4f} / {row['pose_ap']:.3f} / {row['segm_ap']:.3f}")
        for metric in ("pose_ap", "segm_ap"):
            if pipeline == "single":
                cells += ["", ""]
            else:
                cells += [bd_cell(summary, metric, pipeline, "single"),
                          bd_cell(summary, metric, pipeline, anchor)]
        cells += [f"{points['mota'].mean():.3f}", f"{points['encode_s'].mean():.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", type=Path, help="a sweep's summary.csv")
    parser.add_argument("--anchor", default=ANCHOR, help="the variant of the 'vs' columns")
    arguments = parser.parse_args(argv)
    try:
        summary = pd.read_csv(arguments.summary, comment="#")
        print(fewer_bits_table(summary, arguments.anchor))
    except (OSError, VcmError, KeyError) as error:
        print(f"error: {arguments.summary}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
