"""Temporal resampling of the foreground: code every k-th frame, carry poses to the others.

The detections travel at full frame rate (tracking needs no video at all), so the foreground
video only has to serve the box tasks. With ``keep_every = k`` the foreground holds the
*coded* frames 1, 1 + k, 1 + 2k, ... of the original (frame numbers are 1-based) at frame
rate ``fps / k``, so coded frame ``j`` shows at the same time, ``(j - 1) k / fps`` seconds, as
original frame ``(j - 1) k + 1``. Pose runs on the coded frames with their boxes; the frames
between are filled in along each track of the full-rate tracker output (:func:`carry_poses`):

* ``box``: the keypoints of the nearest coded frame of the same track (the earlier on a
  tie), moved and scaled with the track's box: ``x' = x1' + (x - x1) w' / w`` (and so for
  ``y``), where ``x1, w`` are the box's left edge and width at the coded frame and ``x1', w'``
  at the frame filled in.
* ``interpolate``: each keypoint's place inside its box (``(x - x1) / w``) at the coded frames
  before and after, interpolated linearly in time, then put into the box of the frame filled
  in; confidences and person scores are interpolated the same way. Where only one of the two
  coded frames has a pose of the track it is ``box``.

A box that only moves and scales carries its keypoints exactly either way. Frames are never
looked up beyond the two coded frames around them: a pose a whole step further away is stale.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from vcm.boxes import pairwise_iou
from vcm.detections import DetectionSequence
from vcm.errors import VcmError
from vcm.keypoints import PersonPose
from vcm.tracks import TrackSequence

CARRY_MODES = ("box", "interpolate")
"""How poses reach the frames between coded frames (module docstring)."""

MAX_KEEP_EVERY = 1000
"""Largest temporal step accepted (frames)."""

MATCH_IOU = 0.5
"""Least IoU between a pose's box and a track's box, in a coded frame, that makes the pose
that track's."""


def check_keep_every(keep_every: int) -> int:
    """``keep_every`` if it is a whole number in 1..:data:`MAX_KEEP_EVERY`, else
    :class:`VcmError`."""
    if isinstance(keep_every, bool) or not isinstance(keep_every, (int, np.integer)) \
            or not 1 <= keep_every <= MAX_KEEP_EVERY:
        raise VcmError(f"keep_every must be a whole number from 1 to {MAX_KEEP_EVERY}, "
                       f"got {keep_every!r}")
    return int(keep_every)


def coded_frame_numbers(frames: int, keep_every: int) -> list[int]:
    """The original frame numbers (1-based) of the coded frames of a ``frames``-frame video."""
    return list(range(1, frames + 1, check_keep_every(keep_every)))


def is_coded(frame: int, keep_every: int) -> bool:
    """Whether original frame ``frame`` (1-based) is coded at step ``keep_every``."""
    return (frame - 1) % keep_every == 0


def coded_frame_rate(fps: float, keep_every: int) -> float:
    """Frame rate of the coded frames of a video at ``fps``: ``fps / keep_every``."""
    return fps / check_keep_every(keep_every)


def coded_detections(detections: DetectionSequence, keep_every: int) -> DetectionSequence:
    """The detections of the coded frames, renumbered 1..M as the coded video's frames
    (frame rate ``fps / keep_every`` when known)."""
    from vcm.detections import FrameDetections

    frames = [FrameDetections(index, detections.frames[number - 1].boxes,
                              detections.frames[number - 1].scores)
              for index, number in enumerate(coded_frame_numbers(len(detections), keep_every),
                                             start=1)]
    fps = detections.fps / keep_every if detections.fps else 0.0
    return DetectionSequence(detections.width, detections.height, frames,
                             source=detections.source, fps=fps)


def original_frame_number(coded: int, keep_every: int) -> int:
    """The original frame number of coded frame ``coded`` (both 1-based)."""
    return (coded - 1) * keep_every + 1


def move_keypoints(keypoints: np.ndarray, source_box: np.ndarray,
                   target_box: np.ndarray) -> np.ndarray:
    """``keypoints`` (K, 3) of a person in ``source_box`` moved and scaled into ``target_box``
    (boxes ``x1, y1, x2, y2`` in pixels); the third column (confidence) is kept."""
    relative = box_relative(keypoints, source_box)
    return from_box_relative(relative, keypoints[:, 2], target_box)


def box_relative(keypoints: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The ``x, y`` of ``keypoints`` (K, >=2) as fractions of ``box``'s width and height from
    its top-left corner, (K, 2); a box of no width or height counts as one pixel wide."""
    origin = np.asarray(box[:2], dtype=np.float64)
    size = np.maximum(np.asarray(box[2:4], dtype=np.float64) - origin, 1.0)
    return (np.asarray(keypoints, dtype=np.float64)[:, :2] - origin) / size


def from_box_relative(relative: np.ndarray, confidence: np.ndarray,
                      box: np.ndarray) -> np.ndarray:
    """Keypoints (K, 3) at the fractions ``relative`` (K, 2) of ``box``, with ``confidence``."""
    origin = np.asarray(box[:2], dtype=np.float64)
    size = np.maximum(np.asarray(box[2:4], dtype=np.float64) - origin, 1.0)
    return np.column_stack([origin + relative * size, confidence])


def people_by_track(poses: Sequence, tracks: TrackSequence) -> dict[tuple[int, int], Any]:
    """``{(frame, track id): person}`` for people (poses or masks: ``image_id`` and ``box``)
    each matched to the track whose box in the person's frame overlaps its box most (IoU at
    least :data:`MATCH_IOU`), greedily by IoU; people with no such track are left out."""
    by_frame: dict[int, list[PersonPose]] = {}
    for pose in poses:
        if pose.box is not None:
            by_frame.setdefault(pose.image_id, []).append(pose)
    matched = {}
    for frame, people in by_frame.items():
        if not 1 <= frame <= len(tracks):
            continue
        frame_tracks = tracks.frames[frame - 1]
        if not len(frame_tracks):
            continue
        overlap = pairwise_iou(np.stack([pose.box for pose in people]), frame_tracks.boxes)
        while overlap.size and overlap.max() >= MATCH_IOU:
            person, track = np.unravel_index(int(np.argmax(overlap)), overlap.shape)
            matched[(frame, int(frame_tracks.ids[track]))] = people[person]
            overlap[person, :] = -1.0
            overlap[:, track] = -1.0
    return matched


def carry_poses(coded_poses: Sequence[PersonPose], tracks: TrackSequence, keep_every: int,
                how: str = "interpolate") -> list[PersonPose]:
    """Poses for every frame of ``tracks``: those of the coded frames as they are, and for
    each track in a frame between coded frames one pose carried from the coded frames of the
    same track (``how``: ``box`` or ``interpolate``, module docstring), with the track's box
    and id. Frame order, then coded poses before carried ones in track order."""
    if how not in CARRY_MODES:
        raise VcmError(f"carry must be one of {', '.join(CARRY_MODES)}, got {how!r}")
    return _carry(coded_poses, tracks, keep_every,
                  lambda *arguments: _carried_pose(*arguments, how=how))


def carry_masks(coded_masks: Sequence, tracks: TrackSequence, keep_every: int) -> list:
    """:func:`carry_poses` for :class:`vcm.masks.PersonMask` s: the mask of the nearest coded
    frame of the same track moved and scaled with the track's box (nearest pixel), cut to
    the frame."""
    return _carry(coded_masks, tracks, keep_every, _carried_mask)


def move_mask(binary: np.ndarray, source_box: np.ndarray, target_box: np.ndarray) -> np.ndarray:
    """The boolean (H, W) mask ``binary`` of a person in ``source_box`` moved and scaled into
    ``target_box``: pixel centre ``c'`` of the result is set where the source pixel at
    ``x1 + (c' + 0.5 - x1') w / w' - 0.5`` (nearest) is, and so for rows."""
    import cv2

    source = np.asarray(source_box, dtype=np.float64)
    target = np.asarray(target_box, dtype=np.float64)
    scale = np.maximum(source[2:4] - source[:2], 1.0) / np.maximum(target[2:4] - target[:2], 1.0)
    # Inverse map (result pixel -> source pixel) between pixel centres.
    offset = source[:2] + (0.5 - target[:2]) * scale - 0.5
    matrix = np.array([[scale[0], 0.0, offset[0]], [0.0, scale[1], offset[1]]])
    height, width = binary.shape
    moved = cv2.warpAffine(binary.astype(np.uint8), matrix, (width, height),
                           flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return moved.astype(bool)


def _carry(coded: Sequence, tracks: TrackSequence, keep_every: int, carried_one) -> list:
    keep_every = check_keep_every(keep_every)
    matched = people_by_track(coded, tracks)
    track_boxes = {(frame.frame, int(track_id)): box
                   for frame in tracks.frames for track_id, box in zip(frame.ids, frame.boxes)}
    by_frame: dict[int, list] = {}
    for person in coded:
        by_frame.setdefault(person.image_id, []).append(person)
    carried = []
    for frame in tracks.frames:
        number = frame.frame
        if is_coded(number, keep_every):
            carried.extend(by_frame.get(number, []))
            continue
        before = number - (number - 1) % keep_every
        after = before + keep_every
        for track_id, box in zip(frame.ids.tolist(), frame.boxes):
            earlier = matched.get((before, track_id))
            later = matched.get((after, track_id))
            if earlier is None and later is None:
                continue
            sources = {"earlier": (earlier, before), "later": (later, after)}
            carried.append(carried_one(sources, track_boxes, track_id, number,
                                       np.asarray(box, dtype=np.float64)))
    return carried


def _nearest(sources: dict, number: int):
    """The nearest of the coded frames before and after ``number`` that has the track's
    person, the earlier on a tie: ``(person, frame)``."""
    (earlier, before), (later, after) = sources["earlier"], sources["later"]
    use_later = earlier is None or (later is not None and after - number < number - before)
    return (later, after) if use_later else (earlier, before)


def _carried_pose(sources: dict, track_boxes: dict, track_id: int, number: int,
                  box: np.ndarray, *, how: str) -> PersonPose:
    (earlier, before), (later, after) = sources["earlier"], sources["later"]
    if how == "interpolate" and earlier is not None and later is not None \
            and earlier.keypoints.shape == later.keypoints.shape:
        weight = (number - before) / (after - before)
        relative = ((1 - weight) * box_relative(earlier.keypoints, track_boxes[(before, track_id)])
                    + weight * box_relative(later.keypoints, track_boxes[(after, track_id)]))
        confidence = (1 - weight) * earlier.keypoints[:, 2] + weight * later.keypoints[:, 2]
        keypoints = from_box_relative(relative, confidence, box)
        score = (1 - weight) * earlier.score + weight * later.score
        source = earlier
    else:
        source, at = _nearest(sources, number)
        keypoints = move_keypoints(source.keypoints, track_boxes[(at, track_id)], box)
        score = source.score
    return replace(source, image_id=number, keypoints=keypoints, score=float(score), box=box,
                   track_id=track_id)


def _carried_mask(sources: dict, track_boxes: dict, track_id: int, number: int,
                  box: np.ndarray):
    from vcm.masks import decode_mask, encode_mask

    source, at = _nearest(sources, number)
    moved = move_mask(decode_mask(source.mask), track_boxes[(at, track_id)], box)
    return replace(source, image_id=number, mask=encode_mask(moved), box=box,
                   track_id=track_id)
