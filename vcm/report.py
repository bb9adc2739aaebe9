"""Collect the points of a sweep into one table, ``results/summary.csv``.

A point's record is ``results/<pipeline>/<sequence>/<codec>/qp<qp>/point.json`` (see
:mod:`vcm.points`), written by ``vcm point``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vcm.errors import VcmError
from vcm.fileio import atomic_output
from vcm.points import SUMMARY_COLUMNS, load_record, summary_row

POINT_GLOB = "*/*/*/qp*/point.json"


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
    codec, qp, with the columns :data:`vcm.points.SUMMARY_COLUMNS`."""
    rows = [
        summary_row(load_record(path, "point record"), source=path)
        for path in point_records(results, only)
    ]
    if not rows:
        raise VcmError(f"{results}: no results found (expected {POINT_GLOB})")
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    return table.sort_values(["sequence", "pipeline", "codec", "qp"]).reset_index(drop=True)


def write_summary(results: Path, output: Path, only: list[Path] | None = None) -> pd.DataFrame:
    """Write :func:`collect_points` of ``results`` to ``output`` as CSV; return the table."""
    table = collect_points(results, only)
    with atomic_output(output) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g")
    return table
