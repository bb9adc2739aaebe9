"""A hand-made sweep summary: 2 sequences x 2 pipelines x 2 QPs, numbers chosen to be worked
out on paper (see the expected values in test_tables, test_plots and test_bdrate)."""

from __future__ import annotations

import pandas as pd

# sequence, pipeline, qp, bpp, pose_ap, mota, detect_s, pose_s, track_s, encode_s, original_bpp
POINTS = [
    ("a", "multitask", 22, 0.3, 0.8, 0.75, 10.0, 2.0, 1.0, 5.0, 12.0),
    ("a", "multitask", 47, 0.06, 0.7, 0.75, 10.0, 2.0, 1.0, 3.0, 12.0),
    ("a", "single", 22, 1.2, 0.9, 0.8, 4.0, 3.0, 2.0, 6.0, 12.0),
    ("a", "single", 47, 0.12, 0.6, 0.4, 4.0, 3.0, 2.0, 4.0, 12.0),
    ("b", "multitask", 22, 0.6, 0.6, 0.5, 20.0, 4.0, 1.0, 7.0, 24.0),
    ("b", "multitask", 47, 0.048, 0.5, 0.5, 20.0, 4.0, 1.0, 5.0, 24.0),
    ("b", "single", 22, 2.4, 0.7, 0.6, 8.0, 3.0, 2.0, 8.0, 24.0),
    ("b", "single", 47, 0.24, 0.35, 0.45, 8.0, 3.0, 2.0, 6.0, 24.0),
]


def hand_made_summary(codec: str = "vvenc") -> pd.DataFrame:
    """The summary of :data:`POINTS` with every column of ``results/summary.csv`` the report
    stage reads; ``total_s = detect_s + pose_s + track_s``, ``hota = mota - 0.1``; rows in a
    shuffled order."""
    rows = []
    for sequence, pipeline, qp, bpp, pose_ap, mota, detect, pose, track, encode, original in POINTS:
        rows.append({
            "sequence": sequence, "pipeline": pipeline, "codec": codec, "qp": qp, "bpp": bpp,
            "pose_ap": pose_ap, "mota": mota, "idf1": 0.5, "hota": mota - 0.1,
            "detect_s": detect, "pose_s": pose,
            "track_s": track, "encode_s": encode, "decode_s": 1.0,
            "total_s": detect + pose + track, "original_bpp": original,
        })
    # Unsorted input: the tables must not depend on row order.
    return pd.DataFrame(rows).iloc[[5, 2, 7, 0, 3, 6, 1, 4]].reset_index(drop=True)
