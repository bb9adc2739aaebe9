"""Collect the per-point results of a sweep into one table (``results/summary.csv``).

A point's directory is ``results/<pipeline>/<sequence>/<codec>/qp<qp>/``; its ``bpp.json`` is
the output of ``vcm bpp``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from vcm.errors import VcmError
from vcm.fileio import atomic_output

POINT_PATTERN = re.compile(r"^(?P<pipeline>[^/]+)/(?P<sequence>[^/]+)/(?P<codec>[^/]+)/qp(?P<qp>\d+)$")
SUMMARY_COLUMNS = ["sequence", "pipeline", "codec", "qp", "bpp", "bytes", "frames", "width", "height"]


def collect_points(results: Path) -> pd.DataFrame:
    """One row per ``bpp.json`` under ``results``, sorted by sequence, pipeline, codec, qp."""
    if not results.is_dir():
        raise VcmError(f"{results}: results folder does not exist")
    rows = []
    for record_path in sorted(results.glob("*/*/*/qp*/bpp.json")):
        point = POINT_PATTERN.match(record_path.parent.relative_to(results).as_posix())
        if point is None:
            continue
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            rows.append({
                "sequence": point["sequence"],
                "pipeline": point["pipeline"],
                "codec": point["codec"],
                "qp": int(point["qp"]),
                "bpp": float(record["bpp"]),
                "bytes": int(record["bytes"]),
                "frames": int(record["frames"]),
                "width": int(record["width"]),
                "height": int(record["height"]),
            })
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise VcmError(f"{record_path}: malformed BPP record ({error})") from None
    if not rows:
        raise VcmError(f"{results}: no results found (expected */*/*/qp*/bpp.json)")
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    return table.sort_values(["sequence", "pipeline", "codec", "qp"]).reset_index(drop=True)


def write_summary(results: Path, output: Path) -> pd.DataFrame:
    """Write :func:`collect_points` of ``results`` to ``output`` as CSV; return the table."""
    table = collect_points(results)
    with atomic_output(output) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g")
    return table
