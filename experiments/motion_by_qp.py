"""Motion accuracy and repetition-count error by QP, multitask against single-task, from a
finished sweep on motion clips (issue 21, item 3, until the sweep has a ``motion`` section).

For every point of the sweep (``multitask`` and ``single``, each sequence, codec and QP),
runs the motion task on the point's poses and tracks (:func:`vcm.motion.run.motion_file`,
as ``vcm motion run pose.json tracks.txt --model GALLERY --like SEQUENCE`` does), scores each
sequence's records on its rows of the labels CSV (:func:`vcm.motion.evaluate.score_records`,
as ``vcm evaluate motion`` does; a sequence is a clip named by the labels' ``clip`` column)
and prints one Markdown row per pipeline, codec and QP: mean bits per pixel over the
sequences, then per clip (labelled row) accuracy and macro-F1, count MAE and share within one
repetition, then per track accuracy.

Run: ``python experiments/motion_by_qp.py RESULTS LABELS GALLERY`` with ``RESULTS`` the
sweep's results folder (``results/<config>``), ``LABELS`` the clips' ``labels.csv`` and
``GALLERY`` a ``vcm motion fit`` model of *other* clips. The sequences must be MOTChallenge
folders next to ``LABELS`` (``vcm data motions``); multitask tracks are per sequence,
single-task tracks per point.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

from vcm.motion import KnnMotion
from vcm.motion.evaluate import MotionScores, score_records
from vcm.motion.labels import read_labels
from vcm.motion.records import read_motion_records
from vcm.motion.run import motion_file


def point_files(results: Path, pipeline: str, sequence: str, codec: str, qp: int):
    """(poses, tracks, bpp record) of one point of the sweep in ``results``."""
    point = results / pipeline / sequence / codec / f"qp{qp}"
    tracks = point / "tracks.txt" if pipeline == "single" else results / pipeline / sequence / "tracks.txt"
    return point / "pose.json", tracks, point / "bpp.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("labels", type=Path)
    parser.add_argument("gallery", type=Path)
    arguments = parser.parse_args()
    rows = read_labels(arguments.labels)
    clips = sorted({row.clip for row in rows})
    scores: dict[tuple, MotionScores] = defaultdict(MotionScores)
    bpps: dict[tuple, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as work:
        for pipeline in ("multitask", "single"):
            for point in sorted((arguments.results / pipeline).glob("*/*/qp*")):
                sequence, codec, qp = point.parent.parent.name, point.parent.name, int(point.name[2:])
                clip = arguments.labels.parent / sequence
                if clip not in clips:
                    continue
                poses, tracks, bpp = point_files(arguments.results, pipeline, sequence, codec, qp)
                records = Path(work) / f"{pipeline}-{sequence}-{codec}-{qp}.jsonl"
                motion_file(poses, tracks, records, KnnMotion(arguments.gallery), like=clip)
                found = score_records([row for row in rows if row.clip == clip],
                                      read_motion_records(records))
                key = (pipeline, codec, qp)
                scores[key].rows += found.rows
                scores[key].tracks += found.tracks
                bpps[key].append(json.loads(bpp.read_text())["bpp"])
    print("| pipeline | codec | QP | clips | BPP | accuracy | macro-F1 | count MAE | within 1 "
          "| track accuracy |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in sorted(scores, key=lambda key: (key[1], key[2], key[0])):
        summary = scores[key].summary()
        clip, track = summary["clip"], summary["track"]
        bpp = sum(bpps[key]) / len(bpps[key])
        print(f"| {key[0]} | {key[1]} | {key[2]} | {clip['count']} | {bpp:.4f} "
              f"| {clip['accuracy']:.2f} | {clip['macro_f1']:.2f} | {clip['reps_mae']:.2f} "
              f"| {clip['reps_within_one']:.2f} | {track['accuracy']:.2f} |")


if __name__ == "__main__":
    main()
