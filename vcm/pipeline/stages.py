"""The per-frame stages of the multitask pipeline: detect, foreground, pose, segment, track.

Each is a :class:`~vcm.pipeline.frames.Stage`: frames (pixels and boxes) in, the same frames
out with the stage's record attached under its ``name``; state across frames lives in the
instance. Backends come from the registries (detectors, pose estimators, segmenters,
trackers) and are handed in built; a stage never looks one up itself.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vcm.boxtasks import BatchFunction, BoxOutput, frame_scoring_at_least, outputs_of_batch
from vcm.detections import FrameDetections
from vcm.masking import (
    ForegroundOptions,
    box_regions,
    compose,
    mask_regions,
    person_pixels,
    segmentation_boxes,
)
from vcm.pipeline.frames import Frame, Stage


def kept_boxes(frame: Frame, min_score: float) -> FrameDetections:
    """The frame's boxes scoring at least ``min_score`` (all of them when it is 0 or less),
    as :func:`vcm.boxtasks.boxes_scoring_at_least` keeps them."""
    return frame_scoring_at_least(frame.detections, min_score)


def close_backend(backend) -> None:
    """``backend.close()`` where the backend has one (MediaPipe's graphs do)."""
    close = getattr(backend, "close", None)
    if close is not None:
        close()


class DetectStage(Stage):
    """Person boxes of each frame from a registered detector.

    Record: :class:`~vcm.detections.FrameDetections`, the boxes scoring at least ``score``
    after :func:`vcm.detectors.base.postprocess` (clipped to the frame, non-finite and empty
    ones dropped, counted in ``dropped``); they also become the frame's ``boxes`` and
    ``scores``. A batching detector (``detect_batch``) gets ``frames_per_batch`` frames.
    """

    def __init__(self, detector, *, score: float = 0.6, name: str = "detect"):
        from vcm.detectors.base import frames_per_batch

        self.detector = detector
        self.score = float(score)
        self.name = name
        self.frames_per_batch = frames_per_batch(detector)
        self.dropped = 0

    def process_batch(self, frames: Sequence[Frame]) -> list[Frame]:
        from vcm.detectors.base import postprocess

        images = [frame.image for frame in frames]
        numbers = [frame.number for frame in frames]
        if len(frames) == 1:
            raw = [self.detector.detect(images[0], numbers[0])]
        else:
            raw = self.detector.detect_batch(images, numbers)
        finished = []
        for frame, (raw_boxes, raw_scores) in zip(frames, raw, strict=True):
            height, width = frame.image.shape[:2]
            boxes, scores, dropped = postprocess(raw_boxes, raw_scores, width=width,
                                                 height=height, score_threshold=self.score)
            self.dropped += dropped
            detections = FrameDetections(frame.number, boxes, scores)
            finished.append(frame.with_record(self.name, detections, boxes=detections.boxes,
                                              scores=detections.scores))
        return finished

    def close(self) -> None:
        close_backend(self.detector)

    def describe(self) -> dict:
        return {"stage": self.name, "detector": self.detector.describe(), "score": self.score}


class BoxTaskStage(Stage):
    """A task on the frame's person boxes: ``run_batch`` gets each frame's boxes scoring at
    least ``min_score``, clipped to the frame, those with no area inside it left out
    (:func:`vcm.boxtasks.outputs_of_batch`), ``frames_per_batch`` frames at a time (the
    ``backend``'s own ``frames_per_batch`` where one is given).

    Record: :meth:`record` of the frame's :class:`~vcm.boxtasks.BoxOutput` list (one per
    kept box, in box order, ``output`` ``None`` where the backend found nothing); here that
    list itself. Counts ``boxes`` handed in and ``missing`` outputs.
    """

    noun = "output"
    role = "backend"
    """What :meth:`describe` calls the backend (``estimator``, ``segmenter``)."""

    def __init__(self, run_batch: BatchFunction, *, frames_per_batch: int = 1,
                 min_score: float = 0.0, name: str = "boxes", backend=None):
        self.run_batch = run_batch
        self.backend = backend
        self.backend_name = getattr(backend, "name", name)
        self.frames_per_batch = max(1, int(getattr(backend, "frames_per_batch",
                                                   frames_per_batch)))
        self.min_score = float(min_score)
        self.name = name
        self.boxes = 0
        self.missing = 0

    def process_batch(self, frames: Sequence[Frame]) -> list[Frame]:
        detections = [kept_boxes(frame, self.min_score) for frame in frames]
        per_frame = outputs_of_batch(self.run_batch, [frame.image for frame in frames],
                                     detections)
        finished = []
        for frame, outputs in zip(frames, per_frame, strict=True):
            self.boxes += len(outputs)
            self.missing += sum(result.output is None for result in outputs)
            finished.append(frame.with_record(self.name, self.record(frame, outputs)))
        return finished

    def record(self, frame: Frame, outputs: list[BoxOutput]) -> object:
        return outputs

    def close(self) -> None:
        close_backend(self.backend)

    @property
    def found(self) -> int:
        """Boxes the backend gave an output for."""
        return self.boxes - self.missing

    def describe(self) -> dict:
        described = {"stage": self.name, "min_score": self.min_score}
        if self.backend is not None:
            described[self.role] = self.backend.describe()
        return described


class PoseStage(BoxTaskStage):
    """Top-down pose of every person box with a registered pose estimator.

    Record: list of :class:`~vcm.keypoints.PersonPose`, one per box with a pose, in box
    order (``image_id`` the frame number, ``box`` the detection box as given, ``score``
    :func:`vcm.pose.base.person_score`).
    """

    noun = "pose"
    role = "estimator"

    def __init__(self, estimator, *, min_score: float = 0.0, name: str = "pose"):
        super().__init__(estimator.estimate_batch, backend=estimator, min_score=min_score,
                         name=name)
        self.estimator = estimator

    def record(self, frame: Frame, outputs: list[BoxOutput]) -> list:
        from vcm.keypoints import PersonPose
        from vcm.pose.base import person_score

        return [PersonPose(image_id=result.frame, keypoints=result.output,
                           score=person_score(result.output[:, 2], result.score), box=result.box)
                for result in outputs if result.output is not None]


class SegmentStage(BoxTaskStage):
    """A person mask in every person box with a registered segmenter.

    Record: list of :class:`~vcm.masks.PersonMask`, one per box with a mask, in box order
    (``image_id`` the frame number, ``box`` the clipped box, ``score`` the detector's).
    """

    noun = "mask"
    role = "segmenter"

    def __init__(self, segmenter, *, min_score: float = 0.0, name: str = "segment"):
        super().__init__(segmenter.segment_batch, backend=segmenter, min_score=min_score,
                         name=name)
        self.segmenter = segmenter

    def record(self, frame: Frame, outputs: list[BoxOutput]) -> list:
        from vcm.masks import PersonMask

        height, width = frame.image.shape[:2]
        masks = []
        for result in outputs:
            if result.output is None:
                continue
            if tuple(result.output["size"]) != (height, width):
                raise RuntimeError(f"{self.segmenter.name} returned a mask of size "
                                   f"{result.output['size']} for a {width}x{height} frame")
            masks.append(PersonMask(image_id=result.frame, mask=result.output,
                                    score=result.score, box=result.clipped_box))
        return masks


class TrackStage(Stage):
    """Track ids for the frame's boxes with a registered tracker; the tracker's state (its
    tracks, lost tracks and next id) lives in the stage, one stage per video or stream.

    Record: :class:`~vcm.tracks.FrameTracks` of the frame. Needs no pixels, unless the
    tracker has an appearance ``embedder`` (the ``iou`` tracker's ``appearance``): then each
    frame's boxes are embedded from its pixels (the decoded foreground or original) and the
    embeddings go to ``update``. ``gallery``: known identities (ids, embeddings) to start from
    (:meth:`vcm.trackers.iou.IouTracker.init_state`); :meth:`identities` gives them back.
    """

    def __init__(self, tracker, *, fps: float, name: str = "track", gallery=None):
        self.tracker = tracker
        self.fps = float(fps)
        self.name = name
        self.embedder = getattr(tracker, "embedder", None)
        if gallery is None:
            self.state = tracker.init_state(fps)
        else:
            self.state = tracker.init_state(fps, gallery=gallery)

    def process_batch(self, frames: Sequence[Frame]) -> list[Frame]:
        finished = []
        for frame in frames:
            if self.embedder is None:
                self.state, tracks = self.tracker.update(self.state, frame.detections)
            else:
                if frame.image is None:
                    raise ValueError(f"frame {frame.number}: tracking with appearance needs "
                                     "the frame's pixels")
                embeddings = self.embedder.embed(frame.image, frame.boxes)
                self.state, tracks = self.tracker.update(self.state, frame.detections,
                                                         embeddings)
            finished.append(frame.with_record(self.name, tracks))
        return finished

    def identities(self):
        """The tracker's known identities now (ids, embeddings), for a gallery."""
        return self.tracker.identities(self.state)

    def describe(self) -> dict:
        described = {"stage": self.name, "tracker": getattr(self.tracker, "name", None)
                     or type(self.tracker).__name__, "fps": self.fps}
        if self.embedder is not None:
            described["appearance"] = self.embedder.describe()
        return described


class PersonPixelsStage(Stage):
    """The person pixels a ``mask`` foreground keeps: the segmenter's person masks of the
    frame's boxes (scoring at least ``min_score``) grown by the variant's margins
    (:func:`vcm.masking.segmentation_boxes`), a box without a mask counted whole.

    Record: bool (H, W), the union (:func:`vcm.masking.person_pixels`). Counts
    ``boxes_without_mask``. ``segmenter`` has ``person_masks(frame_bgr, boxes)``
    (:class:`vcm.segmenters.mediapipe_backend.MediaPipeSegmenter`).
    """

    def __init__(self, segmenter, options: ForegroundOptions, *, min_score: float = 0.0,
                 name: str = "mask"):
        self.segmenter = segmenter
        self.options = options
        self.min_score = float(min_score)
        self.name = name
        self.boxes_without_mask = 0

    def process_batch(self, frames: Sequence[Frame]) -> list[Frame]:
        finished = []
        for frame in frames:
            height, width = frame.image.shape[:2]
            grown = segmentation_boxes(kept_boxes(frame, self.min_score).boxes, width, height,
                                       self.options)
            masks = self.segmenter.person_masks(frame.image, grown)
            self.boxes_without_mask += sum(mask is None for mask in masks)
            finished.append(frame.with_record(self.name,
                                              person_pixels(masks, grown, width, height)))
        return finished

    def close(self) -> None:
        close_backend(self.segmenter)

    def describe(self) -> dict:
        return {"stage": self.name, "segmenter": self.segmenter.describe()}


class AnonymiseStage(Stage):
    """Faces made unrecognisable in the *original* frame before :class:`ForegroundStage`
    composes it (the variant's ``anonymise``, :mod:`vcm.anonymise`): ``finder`` searches the
    frame's boxes scoring at least ``min_score``, grown by the variant's margins and clipped
    (:func:`vcm.masking.segmentation_boxes`, the kept boxes); each face found, grown by
    ``anonymise_margin``, is blurred, pixelated or filled; a box with no face has its top
    ``anonymise_head`` anonymised instead. The result becomes the frame's ``image``.

    Record: int64 (M, 4) ``c0, r0, c1, r1`` (end exclusive), the rectangles anonymised.
    Counts ``boxes``, ``boxes_with_face``, ``faces`` and ``boxes_head`` (no face found: the
    head region was anonymised, or nothing with ``anonymise_head`` 0). ``finder`` has
    ``faces(frame_bgr, boxes)`` (:class:`vcm.anonymise.FaceFinder`).
    """

    def __init__(self, finder, options: ForegroundOptions, *, min_score: float = 0.0,
                 name: str = "anonymise"):
        self.finder = finder
        self.options = options
        self.min_score = float(min_score)
        self.name = name
        self.boxes = self.boxes_with_face = self.faces = self.boxes_head = 0

    def process_batch(self, frames: Sequence[Frame]) -> list[Frame]:
        from vcm.anonymise import anonymise_image, face_rectangles

        finished = []
        for frame in frames:
            height, width = frame.image.shape[:2]
            boxes = segmentation_boxes(kept_boxes(frame, self.min_score).boxes, width, height,
                                       self.options)
            faces = self.finder.faces(frame.image, boxes)
            found = sum(len(box_faces) > 0 for box_faces in faces)
            self.boxes += len(boxes)
            self.boxes_with_face += found
            self.boxes_head += len(boxes) - found
            self.faces += sum(len(box_faces) for box_faces in faces)
            rectangles = face_rectangles(faces, boxes, width, height,
                                         margin=self.options.anonymise_margin,
                                         head=self.options.anonymise_head)
            image = anonymise_image(frame.image, rectangles, self.options.anonymise,
                                    self.options.anonymise_blocks)
            finished.append(frame.with_record(self.name, rectangles, image=image))
        return finished

    def counts(self) -> dict:
        """``boxes`` searched, ``boxes_with_face``, ``faces`` found, ``boxes_head``."""
        return {"boxes": self.boxes, "boxes_with_face": self.boxes_with_face,
                "faces": self.faces, "boxes_head": self.boxes_head}

    def close(self) -> None:
        close_backend(self.finder)

    def describe(self) -> dict:
        return {"stage": self.name, "finder": self.finder.describe()}


class ForegroundStage(Stage):
    """The foreground of each frame (:mod:`vcm.masking`): the pixels of its boxes scoring at
    least ``min_score``, the variant's fill elsewhere; the foreground becomes the frame's
    ``image``. Record: the kept region, bool (H, W).

    A ``hold`` window of H frames keeps the union of its frames' regions, so the stage holds
    frames back: it returns a window's frames together once its last frame is in (a delay
    of up to H - 1 frames), and :meth:`flush` returns the last, shorter window. With
    ``mask``, each frame must carry the record of a :class:`PersonPixelsStage` named
    ``mask_record`` (see :func:`foreground_stages`).
    """

    def __init__(self, options: ForegroundOptions | None = None, *, min_score: float = 0.0,
                 mask_record: str = "mask", name: str = "foreground"):
        self.options = options if options is not None else ForegroundOptions()
        self.min_score = float(min_score)
        self.mask_record = mask_record
        self.name = name
        self._window: list[tuple[Frame, np.ndarray]] = []

    def process_batch(self, frames: Sequence[Frame]) -> list[Frame]:
        finished = []
        for frame in frames:
            self._window.append(frame)
            if len(self._window) == self.options.hold:
                finished.extend(self.flush())
        return finished

    def flush(self) -> list[Frame]:
        """The frames of the window so far, rendered (none when it is empty)."""
        window, self._window = self._window, []
        if not window:
            return []
        width, height = _size(window[0])
        boxes = [kept_boxes(frame, self.min_score).boxes for frame in window]
        if self.options.mask == "none":
            regions = box_regions(boxes, width, height, self.options)
        else:
            regions = mask_regions([self._person_pixels(frame) for frame in window], boxes,
                                   width, height, self.options)
        return [frame.with_record(self.name, region,
                                  image=compose(frame.image, region, self.options))
                for frame, region in zip(window, regions, strict=True)]

    def _person_pixels(self, frame: Frame) -> np.ndarray:
        if self.mask_record not in frame.records:
            raise ValueError(f"frame {frame.number}: a {self.options.mask!r} mask foreground "
                             f"needs the {self.mask_record!r} record of a PersonPixelsStage")
        return frame.records[self.mask_record]

    def describe(self) -> dict:
        return {"stage": self.name, "variant": self.options.describe(),
                "min_score": self.min_score}


def _size(frame: Frame) -> tuple[int, int]:
    height, width = frame.image.shape[:2]
    return width, height


def foreground_stages(options: ForegroundOptions | None = None, *, min_score: float = 0.0,
                      segmenter=None, face_finder=None) -> list[Stage]:
    """The stages that render a foreground variant: :class:`ForegroundStage`, after a
    :class:`PersonPixelsStage` with ``segmenter`` (default: MediaPipe's ``options.mask``
    model, :func:`vcm.foreground.build_mask_segmenter`) for a ``mask`` variant, and after an
    :class:`AnonymiseStage` with ``face_finder`` (default :class:`vcm.anonymise.FaceFinder`)
    for an ``anonymise`` variant (the segmenter sees the faces; the foreground does not)."""
    options = options if options is not None else ForegroundOptions()
    stages: list[Stage] = []
    if options.mask != "none":
        if segmenter is None:
            from vcm.foreground import build_mask_segmenter

            segmenter = build_mask_segmenter(options)
        stages.append(PersonPixelsStage(segmenter, options, min_score=min_score))
    if options.anonymise != "none":
        if face_finder is None:
            from vcm.anonymise import FaceFinder

            face_finder = FaceFinder()
        stages.append(AnonymiseStage(face_finder, options, min_score=min_score))
    return [*stages, ForegroundStage(options, min_score=min_score)]
