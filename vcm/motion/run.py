"""``vcm motion run``, ``fit`` and ``evaluate`` as library calls: files in, files out."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from vcm.errors import VcmError
from vcm.motion.base import KnnMotion, MotionStage
from vcm.motion.evaluate import ClipPoses, MotionScores, clip_frames, evaluate_motion, fit_gallery
from vcm.motion.gallery import Gallery, write_gallery
from vcm.motion.labels import read_labels
from vcm.motion.records import write_motion_records
from vcm.pipeline.frames import Frame

DEFAULT_FPS = 30.0


@dataclass(frozen=True)
class MotionRun:
    """What :func:`motion_file` wrote: frames, tracks with a motion, seconds in the stage."""

    output: Path
    frames: int
    tracks: int
    seconds: float


def motion_file(poses: Path, tracks: Path, output: Path, recognizer: KnnMotion, *,
                fps: float | None = None, like: Path | None = None) -> MotionRun:
    """Motion records (:mod:`vcm.motion.records`) of a video from its poses (COCO keypoint
    results JSON, ``vcm pose``) and tracks (MOTChallenge txt, ``vcm track``), at ``fps``
    (else ``like``'s frame rate, else :data:`DEFAULT_FPS`)."""
    from vcm.keypoints import read_pose_results
    from vcm.tracks import FrameTracks, read_tracks_txt

    if fps is None:
        if like is not None:
            from vcm.video import open_video

            fps = open_video(like).info.fps
        else:
            fps = DEFAULT_FPS
    people: dict[int, list] = {}
    for index, pose in enumerate(read_pose_results(poses)):
        if pose.keypoints.shape != (17, 3):
            raise VcmError(f"{poses}: result entry {index}: motion needs the 17 COCO keypoints, "
                           f"got {len(pose.keypoints)}")
        people.setdefault(pose.image_id, []).append(pose)
    track_frames = read_tracks_txt(tracks).frames
    # The frames either file has (not every number up to the largest: a pose file's one
    # entry at frame 10**12 must not make a loop that long).
    numbers = sorted(set(range(1, len(track_frames) + 1)) | set(people))
    stage = MotionStage(recognizer, fps=fps)
    records, seen = [], set()
    start = time.perf_counter()
    for number in numbers:
        frame_tracks = track_frames[number - 1] if number <= len(track_frames) \
            else FrameTracks(number)
        motion = stage.motion_of(Frame(number, None, records={"pose": people.get(number, []),
                                                              "track": frame_tracks}))
        seen.update(entry["track"] for entry in motion)
        records.append((number, motion))
    seconds = time.perf_counter() - start
    write_motion_records(records, output)
    return MotionRun(output, len(numbers), len(seen), seconds)


def load_clips(labels: Path, *, source: str, progress: bool = False, **settings):
    """The rows of ``labels`` and the poses of each clip they name (:func:`clip_frames`)."""
    rows = read_labels(labels)
    clips: dict[Path, ClipPoses] = {}
    for clip in tqdm(list(dict.fromkeys(row.clip for row in rows)), desc="clips", unit="clip",
                     disable=not progress):
        if not clip.exists():
            line = next(row.line for row in rows if row.clip == clip)
            raise VcmError(f"{labels}:{line}: clip {clip} does not exist")
        clips[clip] = clip_frames(clip, source, **settings)
    return rows, clips


def fit_file(labels: Path, output: Path, *, source: str = "truth", progress: bool = False,
             features: str = "bones", distance: str = "stats", window_seconds: float = 2.0,
             k: int = 5, **settings) -> Gallery:
    """Fit a gallery on the clips of ``labels`` and write it to ``output``."""
    rows, clips = load_clips(labels, source=source, progress=progress, **settings)
    gallery = fit_gallery(rows, clips, features=features, distance=distance,
                          window_seconds=window_seconds, k=k)
    write_gallery(gallery, output)
    return gallery


def evaluate_file(labels: Path, *, model: Path | None = None, leave_one_out: bool = False,
                  source: str = "truth", progress: bool = False, features: str = "bones",
                  distance: str = "stats", window_seconds: float = 2.0, k: int = 5,
                  **settings) -> MotionScores:
    """Score the clips of ``labels`` with the gallery ``model``, or each clip with a gallery
    of the others (``leave_one_out``)."""
    if (model is None) == (not leave_one_out):
        raise VcmError("motion evaluate: give either --model MODEL or --leave-one-out")
    recognizer = KnnMotion(model) if model is not None else None
    rows, clips = load_clips(labels, source=source, progress=progress, **settings)
    return evaluate_motion(rows, clips, recognizer=recognizer, leave_one_out=leave_one_out,
                           features=features, distance=distance, window_seconds=window_seconds,
                           k=k)


def evaluate_records(records: Path, labels: Path, clip: str) -> dict:
    """``vcm evaluate motion``: the rows of ``labels`` whose clip column names ``clip`` (the
    same path relative to the labels file) scored on the motion records file ``records``, as
    ``{"clip": {...}, "track": {...}, "rows": [...]}`` (:meth:`MotionScores.summary`, one
    level a key; ``null`` where nothing was scored)."""
    import math

    from vcm.motion.evaluate import score_records
    from vcm.motion.records import read_motion_records

    target = (Path(labels).parent / clip).resolve()
    rows = [row for row in read_labels(labels) if row.clip.resolve() == target]
    if not rows:
        raise VcmError(f"{labels}: no row labels clip {clip}")
    scores = score_records(rows, read_motion_records(records))

    def finite(value):
        return None if isinstance(value, float) and math.isnan(value) else value

    summary = {level: {key: finite(value) for key, value in numbers.items()}
               for level, numbers in scores.summary().items()}
    return {**summary, "rows": [{**row, "clip": Path(row["clip"]).name} for row in scores.rows]}
