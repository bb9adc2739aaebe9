"""The batch tasks the ``vcm`` commands run: files in, a results file and its run record out.

Each runs the stages of :mod:`vcm.pipeline.stages` over a video or detection file with the
batch driver (through :func:`vcm.pose.estimate_video`, :func:`vcm.segmenters.segment_video`,
:func:`vcm.trackers.track_sequence`, :func:`vcm.detectors.detect_video` and
:func:`vcm.foreground.write_foreground_video`) and returns a :class:`TaskResult` for the
command to print. Backends come in built (the CLI builds them from its options); the
seconds of a task are its stage's, as the driver measured them (reading and decoding
frames, and writing the results, excepted).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vcm.detections import DetectionSequence
from vcm.errors import VcmError
from vcm.logs import log_run
from vcm.masking import ForegroundOptions
from vcm.pipeline.driver import StageTimes
from vcm import runrecord
from vcm.video import VideoSource

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskResult:
    """What a batch task wrote.

    Attributes:
        output: the results file.
        count: what it holds: poses, masks, tracked boxes or detected boxes.
        seconds: seconds by step, as in the run record (``pose``, ``detect``, ...).
        frames: frames processed.
        tracks: distinct track ids (tracking; 0 otherwise).
        crops: the crop-fill report of a box task (:func:`crop_fill`), else empty.
        details: what else the command may print (the foreground's segmenter, say).
    """

    output: Path
    count: int
    seconds: dict[str, float]
    frames: int = 0
    tracks: int = 0
    crops: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)


def box_task_inputs(video: Path, detections: Path, score: float,
                    foreground_options: dict[str, Any] | None = None):
    """The video, its detections scoring at least ``score``, and the foreground variant
    ``foreground_options`` (``vcm foreground -p`` options; the paper's when empty)."""
    from vcm.boxtasks import boxes_scoring_at_least
    from vcm.detformats import read_detections
    from vcm.video import open_video

    source = open_video(video)
    boxes = boxes_scoring_at_least(read_detections(detections), score)
    variant = ForegroundOptions.from_options(foreground_options or {})
    return source, boxes, variant


def crop_fill(backend, boxes: DetectionSequence, variant: ForegroundOptions) -> dict:
    """:func:`vcm.masking.crop_fill_report` for a backend that says where it crops
    (``crop_windows_for``), with the variant; else a note that it does not say."""
    from vcm.masking import crop_fill_report

    if not hasattr(backend, "crop_windows_for"):
        return {"crops": "not known: the backend does not say where it crops"}
    report = crop_fill_report([frame.boxes for frame in boxes.frames], boxes.width, boxes.height,
                              variant, backend.crop_windows_for)
    return {**report, "variant": variant.describe()}


def _box_task_steps(task: str):
    """``(run over the video, write the results, what the backend is called)`` of a task
    on the shared boxes."""
    if task == "pose":
        from vcm.keypoints import write_pose_results
        from vcm.pose import estimate_video

        return estimate_video, write_pose_results, "estimator"
    if task == "segment":
        from vcm.masks import write_mask_results
        from vcm.segmenters import segment_video

        return segment_video, write_mask_results, "segmenter"
    raise ValueError(f"no task on the shared boxes {task!r}: pose or segment")


def run_box_task(task: str, source: VideoSource, detections: DetectionSequence, backend,
                 output: Path, *, progress: bool = True,
                 detections_label: str = "detections") -> TaskResult:
    """Run ``task`` (``pose`` or ``segment``) with ``backend`` (a pose estimator or a
    segmenter) on the boxes of ``detections`` in ``source``; write the results (COCO
    keypoint or instance results) to ``output``. ``count``: poses or masks written."""
    run_video, write_results, _ = _box_task_steps(task)
    times = StageTimes()
    results = run_video(source, detections, backend, progress=progress,
                        detections_label=detections_label, times=times)
    write_results(results, output)
    return TaskResult(output, len(results), {task: times.seconds.get(task, 0.0)},
                      frames=len(detections))


def run_tracking(detections: DetectionSequence, tracker, fps: float, output: Path, *,
                 video: Path | None = None, gallery: Path | None = None) -> TaskResult:
    """Track the boxes of ``detections`` (a video at ``fps``); write MOTChallenge rows.

    With appearance the pixels come from ``video``; ``gallery`` (an SQLite file,
    :mod:`vcm.trackers.gallery`) gives the known identities, and the result's
    ``details["identities"]`` holds every identity of the run (ids, embeddings) for the
    caller to store once everything else is written (:func:`track_task`).
    """
    from vcm.trackers import track_sequence
    from vcm.tracks import write_tracks_txt

    embedder = getattr(tracker, "embedder", None)
    if embedder is None and (video is not None or gallery is not None):
        option, path = ("--video", video) if video is not None else ("--gallery", gallery)
        raise VcmError(f"{path}: {option} is for tracking with appearance; set the tracker "
                       "option appearance (e.g. -p appearance=histogram)")
    if embedder is not None and video is None:
        raise VcmError(f"{output}: tracking with appearance needs --video, the decoded video "
                       "whose pixels are embedded")
    known = None
    if gallery is not None:
        from vcm.trackers.gallery import read_gallery

        known = read_gallery(gallery, embedder.describe())
        if not len(known[0]):
            known = (known[0], np.zeros((0, embedder.dimension), dtype=np.float32))
    source = None
    if video is not None:
        from vcm.video import open_video

        source = open_video(video)
    times = StageTimes()
    stages: list = []
    tracks = track_sequence(detections, tracker, fps=fps, times=times, video=source,
                            gallery=known, stage_out=stages)
    write_tracks_txt(tracks, output)
    details = {"identities": stages[0].identities()} if gallery is not None else {}
    return TaskResult(output, tracks.count, {"track": times.seconds.get("track", 0.0)},
                      frames=len(tracks), tracks=len(tracks.track_ids), details=details)


def box_task(task: str, video: Path, detections: Path, output: Path, backend, *,
             score: float = 0.0, foreground_options: dict[str, Any] | None = None,
             progress: bool = True, keep_every: int = 1, tracks: Path | None = None,
             carry: str = "interpolate", downscale: int = 1,
             downscale_regions: int = 1) -> TaskResult:
    """``vcm pose`` and ``vcm segment``: :func:`run_box_task` on the boxes of the detection
    file scoring at least ``score``; the run record holds the crop-fill report of the
    foreground variant ``foreground_options``.

    With ``keep_every`` k above 1 the video holds every k-th frame of the detections'
    (``vcm foreground --keep-every``): the task runs on those frames with their boxes and its
    results keep the original frame numbers; with ``tracks`` (the full-rate tracker's
    MOTChallenge txt) the frames between are filled in along each track
    (:func:`vcm.temporal.carry_poses` with ``carry``; masks always move with their box).
    With ``downscale`` F above 1 the video is at 1/F of each side (``vcm foreground
    --downscale``): its frames are restored to the detections' size first
    (:class:`vcm.spatial.RestoredSource`). With ``downscale_regions`` F above 1 (``vcm
    foreground --downscale-regions``) each kept rectangle, worked out from the boxes scoring
    at least ``score`` and the variant, is restored in place first
    (:class:`vcm.spatial.RegionRestoredSource`)."""
    role = _box_task_steps(task)[2]
    source, boxes, variant = box_task_inputs(video, detections, score, foreground_options)
    resampled = {}
    if downscale != 1:
        from vcm.spatial import RestoredSource, check_downscale

        source = RestoredSource(source, boxes.width, boxes.height, check_downscale(downscale))
        resampled["downscale"] = downscale
    if downscale_regions != 1:
        from vcm.spatial import RegionRestoredSource, check_region_scaling
        from vcm.temporal import check_keep_every

        factor = check_region_scaling(downscale_regions, variant, downscale)
        source = RegionRestoredSource(source, boxes, variant, factor,
                                      check_keep_every(keep_every))
        resampled["downscale_regions"] = factor
    if keep_every != 1 or tracks is not None:
        resampled.update(keep_every=keep_every, tracks=tracks,
                        carry=carry if tracks is not None else None)
    log_run(task, video=video, detections=detections, score=score,
            **{role: backend.describe()}, **resampled)
    if "keep_every" not in resampled:
        crops = crop_fill(backend, boxes, variant)
        result = run_box_task(task, source, boxes, backend, output, progress=progress,
                              detections_label=str(detections))
    else:
        result, crops = _resampled_box_task(task, source, boxes, backend, output, variant,
                                            keep_every=keep_every, tracks=tracks, carry=carry,
                                            progress=progress, label=str(detections))
    runrecord.write_run_record(output, task, result.seconds, video=video, detections=detections,
                     score=score, crops=crops, **{role: backend.describe()}, **resampled)
    return TaskResult(output, result.count, result.seconds, result.frames, crops=crops,
                      details=result.details)


def _resampled_box_task(task: str, source: VideoSource, boxes: DetectionSequence, backend,
                        output: Path, variant: ForegroundOptions, *, keep_every: int,
                        tracks: Path | None, carry: str, progress: bool,
                        label: str) -> tuple[TaskResult, dict]:
    """:func:`box_task` on the coded frames of a temporally resampled foreground, results
    renumbered to the original frames and carried along ``tracks`` when given."""
    from vcm import temporal
    from vcm.tracks import read_tracks_txt

    keep_every = temporal.check_keep_every(keep_every)
    if carry not in temporal.CARRY_MODES:
        raise VcmError(f"carry must be one of {', '.join(temporal.CARRY_MODES)}, got {carry!r}")
    run_video, write_results, _ = _box_task_steps(task)
    coded = temporal.coded_detections(boxes, keep_every)
    crops = crop_fill(backend, coded, variant)
    times = StageTimes()
    results = run_video(source, coded, backend, progress=progress,
                        detections_label=f"{label} (keep_every {keep_every})", times=times)
    results = [replace(person, image_id=temporal.original_frame_number(person.image_id,
                                                                       keep_every))
               for person in results]
    coded_count = len(results)
    start = time.perf_counter()
    if tracks is not None:
        track_sequence = read_tracks_txt(tracks, num_frames=len(boxes))
        if task == "pose":
            results = temporal.carry_poses(results, track_sequence, keep_every, carry)
        else:
            results = temporal.carry_masks(results, track_sequence, keep_every)
    seconds = {task: times.seconds.get(task, 0.0), "carry": time.perf_counter() - start}
    write_results(results, output)
    return TaskResult(output, len(results), seconds, frames=len(boxes),
                      details={"coded": coded_count, "carried": len(results) - coded_count}), crops


def frame_rate(fps: float | None, like: Path | None, detections: DetectionSequence) -> float:
    """``fps`` if given, else the frame rate of the video ``like``, else the detection
    file's, else 30."""
    if fps is not None:
        return fps
    if like is not None:
        from vcm.video import open_video

        return open_video(like).info.fps
    return detections.fps or 30.0


def track_task(detections: Path, output: Path, tracker, *, tracker_name: str,
               options: dict[str, Any], fps: float | None = None,
               like: Path | None = None, video: Path | None = None,
               gallery: Path | None = None) -> TaskResult:
    """``vcm track``: track the boxes of the detection file (frame rate as :func:`frame_rate`);
    with appearance, on the pixels of ``video``, with the identities of ``gallery``
    (:func:`run_tracking`)."""
    from vcm.detformats import read_detections

    boxes = read_detections(detections)
    fps = frame_rate(fps, like if like is not None else video, boxes)
    log_run("track", detections=detections, tracker=tracker_name, fps=fps, options=options)
    result = run_tracking(boxes, tracker, fps, output, video=video, gallery=gallery)
    # Recorded only when given, so the run record of plain tracking stays as it was.
    extra = {name: value for name, value in (("video", video), ("gallery", gallery))
             if value is not None}
    runrecord.write_run_record(output, "track", result.seconds, detections=detections,
                     tracker=tracker_name, fps=fps, options=options, **extra)
    if gallery is not None:
        from vcm.trackers.gallery import write_gallery

        # Last, in one transaction: a run that fails before here leaves the gallery as it was.
        write_gallery(gallery, *result.details["identities"], tracker.embedder.describe())
    return result


def detect_task(video: Path, output: Path, detector, *, score: float, detection_format,
                format_options: dict[str, Any], progress: bool = True) -> TaskResult:
    """``vcm detect``: the boxes of ``detector`` scoring at least ``score`` in every frame
    of ``video``, written in ``detection_format`` (a :mod:`vcm.detformats` format)."""
    from vcm.detectors import detect_video
    from vcm.video import open_video

    source = open_video(video)
    log_run("detect", video=video, output=output, detector=detector.describe(), score=score,
            frames=source.info.frames, format=detection_format.name,
            format_options=format_options)
    times = StageTimes()
    detections = detect_video(source, detector, score_threshold=score, progress=progress,
                              times=times)
    start = time.perf_counter()
    detection_format.write(detections, output, **format_options)
    seconds = {"detect": times.seconds.get("detect", 0.0), "write": time.perf_counter() - start}
    runrecord.write_run_record(output, "detect", seconds, video=video, detector=detector.describe(),
                     score=score, frames=len(detections), boxes=detections.count,
                     format=detection_format.name, format_options=format_options)
    return TaskResult(output, detections.count, seconds, frames=len(detections))


def foreground_task(video: Path, detections: Path, output: Path, *, score: float = 0.0,
                    variant: ForegroundOptions | None = None, log_path: Path | None = None,
                    progress: bool = True, keep_every: int = 1,
                    downscale: int = 1, downscale_regions: int = 1) -> TaskResult:
    """``vcm foreground``: the foreground video of the variant (the paper's by default),
    every ``keep_every``-th frame of it (:mod:`vcm.temporal`) at 1/``downscale`` of each
    side or with only its kept rectangles shrunk 1/``downscale_regions`` times
    (:mod:`vcm.spatial`; the run record has each only above 1); the run record keeps
    the mask segmenter's seconds apart from rendering (issue 13)."""
    from vcm.foreground import write_foreground_video

    variant = variant if variant is not None else ForegroundOptions()
    log_run("foreground", video=video, detections=detections, output=output, score=score,
            variant=variant.describe())
    result = write_foreground_video(video, detections, output, min_score=score,
                                    options=variant, log_path=log_path, progress=progress,
                                    keep_every=keep_every, downscale=downscale,
                                    downscale_regions=downscale_regions)
    seconds = {"render": result.render_seconds, "foreground": result.total_seconds}
    recorded = {}
    if result.segmenter is not None:
        seconds["segment"] = result.segment_seconds
        recorded["segmenter"] = result.segmenter
        recorded["boxes_without_mask"] = result.boxes_without_mask
    if result.anonymiser is not None:
        seconds["anonymise"] = result.anonymise_seconds
        recorded["anonymiser"] = result.anonymiser
    if keep_every != 1:
        recorded["keep_every"] = keep_every
    if downscale != 1:
        recorded["downscale"] = downscale
    if downscale_regions != 1:
        recorded["downscale_regions"] = downscale_regions
    runrecord.write_run_record(output, "foreground", seconds, video=video, detections=detections,
                     frames=result.frames, variant=variant.describe(), **recorded)
    return TaskResult(output, result.frames, seconds, frames=result.frames, details=recorded)


def single_task(task: str, video: Path, output: Path, backend, *, detector, score: float,
                codec: str, qp: int, codec_options: dict[str, Any],
                workdir: Path | None = None, progress: bool = True,
                tracker_name: str = "", tracker_options: dict[str, Any] | None = None,
                ) -> TaskResult:
    """``vcm single-task pose|segment|track``: code the original ``video``, decode it, detect
    with the task's own ``detector``, then run ``task`` with ``backend`` (an estimator, a
    segmenter or a tracker; a tracker with appearance embeds the decoded frames) and write
    ``output`` and its run record."""
    from vcm.single_task import run_single_task

    if task == "track":
        from vcm.video import open_video

        fps = open_video(video).info.fps

        def run_task(decoded, boxes):
            # With appearance, the pixels embedded are those of the coded original.
            pixels = decoded.info.path if getattr(backend, "embedder", None) is not None else None
            return run_tracking(boxes, backend, fps, output, video=pixels)
        described = {"tracker": tracker_name, "fps": fps,
                     "tracker_options": tracker_options or {}}
    else:
        role = _box_task_steps(task)[2]

        def run_task(decoded, boxes):
            return run_box_task(task, decoded, boxes, backend, output, progress=progress)
        described = {role: backend.describe()}
    results: list[TaskResult] = []

    def run(decoded, boxes) -> float:
        results.append(run_task(decoded, boxes))
        return results[-1].seconds[task]

    seconds = run_single_task(
        video, output, stage=f"single-task {task}", step=task, task=run, codec=codec, qp=qp,
        codec_options=codec_options, detector=detector, score=score, workdir=workdir,
        progress=progress, **described,
    )
    [result] = results
    return TaskResult(output, result.count, seconds, result.frames, tracks=result.tracks)
