"""Motion windows compared on the synthetic motions: window length, features, distance.

Writes ``--clips`` synthetic clips per motion (``vcm data motions``: squat, jumping jack, arm
raise, walking in place, standing; 320x240 at 10 fps, one person, seed ``--seed``), takes
each clip's exact keypoints and tracks (``gt/``), optionally with Gaussian noise of
``--noise`` times the person's box height added to every keypoint coordinate (a stand-in for a
pose estimator's error), and classifies each clip with a gallery of the *other* clips (leave
one out) for every combination of window length (``--windows`` seconds), features
(``bones``, ``positions``) and distance (``stats``, ``plain``, ``dtw``).

Prints, per combination: clip accuracy and macro-F1 (the label most frames of the clip
carry), frame accuracy (share of the labelled frames whose label is right; frames before a
track's window is half full count as wrong), repetition-count MAE (counting needs no
gallery, so it is the same for all rows of one noise level), and milliseconds per track and
frame of the motion stage (one CPU thread, wall clock).

Run: ``python experiments/bench_motion.py`` (about a minute on one core; ``--noise 0.02``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from vcm.keypoints import PersonPose
from vcm.motion import KnnMotion
from vcm.motion.evaluate import (
    ClipPoses,
    MotionScores,
    clip_frames,
    fit_gallery,
    run_motion,
    score_row,
)
from vcm.motion.labels import read_labels
from vcm.synth import synthesize_motions


def noisy(poses: ClipPoses, noise: float, rng: np.random.Generator) -> ClipPoses:
    """``poses`` with Gaussian noise of ``noise`` box heights on every keypoint coordinate."""
    if noise == 0:
        return poses
    frames = []
    for frame in poses.frames:
        people = []
        for pose in frame.records["pose"]:
            keypoints = pose.keypoints.copy()
            height = pose.box[3] - pose.box[1]
            keypoints[:, :2] += rng.normal(0, noise * height, (len(keypoints), 2))
            people.append(PersonPose(pose.image_id, keypoints, pose.score, pose.box))
        frames.append(frame.with_record("pose", people))
    return ClipPoses(poses.clip, poses.fps, frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4, help="clips per motion")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--noise", type=float, default=0.0,
                        help="keypoint noise, in box heights (standard deviation)")
    parser.add_argument("--windows", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    arguments = parser.parse_args()
    rng = np.random.default_rng(arguments.seed)
    with tempfile.TemporaryDirectory() as folder:
        labels = Path(folder) / "motions" / "labels.csv"
        synthesize_motions(labels.parent, clips_per_motion=arguments.clips, seed=arguments.seed)
        rows = read_labels(labels)
        clips = {row.clip: noisy(clip_frames(row.clip), arguments.noise, rng) for row in rows}
    frames = sum(row.end_frame - row.start_frame + 1 for row in rows)
    print(f"{len(rows)} clips, {frames} labelled frames at 10 fps, noise {arguments.noise:g} "
          "box heights; leave one clip out")
    print(f"{'window':>6} {'features':<9} {'distance':<8} {'clip acc':>8} {'macro-F1':>8} "
          f"{'frame acc':>9} {'reps MAE':>8} {'ms/track-frame':>14}")
    for window in arguments.windows:
        for features in ("bones", "positions"):
            for distance in ("stats", "plain", "dtw"):
                scores, right, seconds, track_frames = MotionScores(), 0, 0.0, 0
                for clip, poses in clips.items():
                    gallery = fit_gallery(rows, clips, features=features, distance=distance,
                                          window_seconds=window, leave_out=clip)
                    start = time.perf_counter()
                    motion = run_motion(poses, KnnMotion(gallery=gallery))
                    seconds += time.perf_counter() - start
                    track_frames += sum(len(entries) for entries in motion.values())
                    for row in rows:
                        if row.clip != clip:
                            continue
                        score_row(row, motion, scores)
                        right += sum(entry["label"] == row.label
                                     for number, entries in motion.items() if number in row
                                     for entry in entries.values())
                summary = scores.summary()["clip"]
                print(f"{window:>6g} {features:<9} {distance:<8} {summary['accuracy']:>8.3f} "
                      f"{summary['macro_f1']:>8.3f} {right / frames:>9.3f} "
                      f"{summary['reps_mae']:>8.3f} {1000 * seconds / track_frames:>14.3f}")


if __name__ == "__main__":
    main()
