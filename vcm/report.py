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


def point_records(results: Path, only: list[Path] | None = None) -> list[Path]:
    """The ``bpp.json`` files of ``results``: all of them, or just ``only`` (a sweep's own)."""
    if not results.is_dir():
        raise VcmError(f"{results}: results folder does not exist")
    if only is None:
        return sorted(results.glob("*/*/*/qp*/bpp.json"))
    for path in only:
        if not path.is_file():
            raise VcmError(f"{path}: file does not exist")
    return sorted(only)


def collect_points(results: Path, only: list[Path] | None = None) -> pd.DataFrame:
    """One row per point record (see :func:`point_records`), sorted by sequence, pipeline,
    codec, qp."""
    rows = []
    for record_path in point_records(results, only):
        try:
            relative = record_path.resolve().parent.relative_to(results.resolve()).as_posix()
        except ValueError:
            raise VcmError(f"{record_path}: not inside {results}") from None
        point = POINT_PATTERN.match(relative)
        if point is None:
            raise VcmError(f"{record_path}: not at <pipeline>/<sequence>/<codec>/qp<QP>/bpp.json")
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


def write_summary(results: Path, output: Path, only: list[Path] | None = None) -> pd.DataFrame:
    """Write :func:`collect_points` of ``results`` to ``output`` as CSV; return the table."""
    table = collect_points(results, only)
    with atomic_output(output) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g")
    return table
