"""The ``iou`` tracker: JDE's association cascade with box overlap in place of appearance.

This follows ``JDETracker.update`` of Towards-Realtime-MOT (Wang et al., "Towards Real-Time
Multi-Object Tracking", ``tracker/multitracker.py``) step by step, with the appearance
embedding distance of its first association replaced by the IoU distance, as in the paper's
multitask tracking, which associates the detector's boxes by IoU alone. The association cost
of a track and a detection is ``1 - IoU`` of the track's Kalman-predicted box and the
detection box; a pair can match when its cost is at most the step's threshold. Per frame:

1. Predict every confirmed track and every lost track one frame ahead (a lost track's height
   velocity is zeroed first, as in JDE).
2. First association: those tracks against all detections (optionally gated by the Kalman
   Mahalanobis distance, as JDE gates its embedding cost).
3. Second association: the confirmed tracks left over against the detections left over; the
   tracks still unmatched become lost.
4. Unconfirmed tracks (born in the previous frame) against the detections left over; an
   unconfirmed track without a match is removed.
5. Every detection still left, if its score is at least ``new_track_score``, starts an
   unconfirmed track with the next id. It is confirmed, and first output, when it is matched
   in the next frame (or at once in frame 1 with ``activate_first_frame``).
With ``byte_track_score`` set, detections are split as in ByteTrack (Zhang et al., "ByteTrack:
Multi-Object Tracking by Associating Every Detection Box", ECCV 2022, ``BYTETracker.update``):
high-score boxes (at least ``byte_track_score``) go through steps 2-5 as above; low-score
boxes (from ``byte_low_score``, 0.1, up to ``byte_track_score``) take part only in a further
pass after step 3:

3b. BYTE: the confirmed tracks still unmatched against the low-score boxes (cost at most
   ``second_match_cost``, ByteTrack's 0.5); the tracks still unmatched become lost. A
   low-score box matched nowhere is dropped: it neither confirms nor starts a track.

and in step 5 only high-score boxes scoring at least ``byte_track_score + 0.1`` start a track
(ByteTrack's ``det_thresh``). Without low-score boxes this is the JDE cascade unchanged.

6. A lost track not matched for more than ``max_time_lost`` frames is removed, so a track
   whose detections are missing for up to ``max_time_lost`` consecutive frames keeps its id.
   ``max_time_lost = int(fps * track_buffer / 30)``: JDE's buffer scaled by the frame rate.
7. A tracked and a lost track whose boxes overlap with a cost below ``duplicate_cost`` are
   duplicates: the one tracked for fewer frames is dropped.

With ``appearance`` set (an embedder of :data:`vcm.appearance.EMBEDDERS`, e.g.
``histogram``), :meth:`IouTracker.update` takes one embedding per detection as well, each
track keeps a smoothed embedding (JDE's: ``momentum * old + (1 - momentum) * new``,
renormalised), and association uses appearance twice:

2. In the first association a pair needs both its IoU cost at most ``first_match_cost`` and
   its appearance (cosine) distance at most ``appearance_gate``; among such pairs the
   assignment minimises ``(1 - appearance_weight) * (1 - IoU) + appearance_weight *
   distance``, so when people cross, the boxes go to the tracks that look like them.
4b. Re-identification, after step 4: the lost tracks not re-found by overlap (and the
   identities of a gallery, see below) against the detections still left that may start a
   track, by appearance distance alone, at most ``reid_distance``. A matched lost track
   keeps its id and restarts its Kalman state at the detection (its prediction is stale);
   a matched gallery identity becomes a confirmed track with the gallery's id.

``lost_seconds`` (any mode) replaces ``track_buffer``: lost tracks are kept that many seconds
of video, so that re-identification can find people who were away that long.

A gallery (:meth:`IouTracker.init_state` with ``gallery``; :mod:`vcm.trackers.gallery`
stores it) is a set of known identities with their embeddings: they can be recalled in
step 4b at any time, new ids start above theirs, and a lost track that times out is added to
them instead of forgotten, so :meth:`IouTracker.identities` at the end holds every identity
seen, for the gallery to store.

Differences from JDE, all deliberate: appearance is optional and never used without overlap
except in step 4b (JDE's first association is appearance and motion gating alone); a timed-out lost track is
removed in the frame it times out (JDE still lets it be re-found in the next frame, because
it subtracts the removed tracks one frame late); the output box is the detection box the
track was matched with in this frame (JDE writes the Kalman-corrected box; set
``output_kalman_boxes`` for that); IoU is computed on exclusive-edge pixel boxes (JDE adds 1
pixel to widths and heights); ids restart at 1 for every sequence (JDE's counter is global).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Mapping

import numpy as np
from scipy.optimize import linear_sum_assignment

from vcm.appearance import cosine_distances, normalised
from vcm.boxes import pairwise_iou
from vcm.detections import FrameDetections
from vcm.errors import VcmError
from vcm.registry import Option
from vcm.trackers import TRACKERS
from vcm.trackers.kalman import CHI2_INV_95, KalmanFilter, boxes_to_xyah, xyah_to_boxes
from vcm.tracks import FrameTracks


@dataclass(frozen=True)
class TrackTable:
    """Live tracks as parallel arrays, one row per track: tracked rows first, then lost rows.

    Attributes:
        ids: int64 (N,): track ids, from 1.
        means: float64 (N, 8): Kalman state ``cx, cy, a, h`` and velocities (pixels, per frame).
        covariances: float64 (N, 3, 4): Kalman covariances, stored as
            :mod:`vcm.trackers.kalman` describes.
        boxes: float64 (N, 4): the last detection box matched, ``x1, y1, x2, y2`` in pixels.
        scores: float64 (N,): the last matched detection's score.
        lost: bool (N,): not matched in the frame it was last updated for.
        activated: bool (N,): confirmed (matched in at least two frames, or born in frame 1
            with ``activate_first_frame``); only confirmed tracks are output or can be lost.
        start_frames: int64 (N,): frame the track was born in.
        end_frames: int64 (N,): last frame the track was matched (or born) in.
        embeddings: float32 (N, D): smoothed L2-normalised appearance embeddings; D is 0
            when appearance is off.
    """

    ids: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    lost: np.ndarray
    activated: np.ndarray
    start_frames: np.ndarray
    end_frames: np.ndarray
    embeddings: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls, dimension: int = 0) -> "TrackTable":
        """No tracks; embeddings of ``dimension`` values."""
        return cls(
            ids=np.zeros((0,), dtype=np.int64),
            means=np.zeros((0, 8)),
            covariances=np.zeros((0, 3, 4)),
            boxes=np.zeros((0, 4)),
            scores=np.zeros((0,)),
            lost=np.zeros((0,), dtype=bool),
            activated=np.zeros((0,), dtype=bool),
            start_frames=np.zeros((0,), dtype=np.int64),
            end_frames=np.zeros((0,), dtype=np.int64),
            embeddings=np.zeros((0, dimension), dtype=np.float32),
        )


@dataclass(frozen=True)
class IouTrackerState:
    """Everything the ``iou`` tracker remembers between frames.

    Attributes:
        frame: the last frame processed (1-based); 0 before the first.
        next_id: the id the next new track gets.
        max_time_lost: frames a lost track is kept before it is removed.
        tracks: the live (tracked and lost) tracks.
        memory_ids: int64 (K,): identities known but not live (a gallery's, and those timed
            out since), which step 4b can recall.
        memory_embeddings: float32 (K, D): their embeddings.
        remember: a timed-out track joins the memory (a gallery is in use) instead of being
            forgotten.
    """

    frame: int
    next_id: int
    max_time_lost: int
    tracks: TrackTable
    memory_ids: np.ndarray = field(default_factory=lambda: np.zeros((0,), dtype=np.int64))
    memory_embeddings: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    remember: bool = False


APPEARANCE_GATE = 0.22
"""Default largest appearance distance of a first-association pair (``histogram`` embedder):
the 99.5th percentile of the distances between a person's track and their box in the next
frame, on yolo-fastest's boxes of PETS09-S3MF1 (0.215), rounded up
(``experiments/bench_reid.py --distances``; docs/reid.md)."""
REID_DISTANCE = 0.11
"""Default largest appearance distance of a re-identification (step 4b): the 1st percentile
of the distances between a person's track and other people's boxes 1 to 5 s later, there
(0.112), rounded down, so about 1 stranger in 100 would pass."""


@TRACKERS.register("iou")
@dataclass(frozen=True, kw_only=True)
class IouTracker:
    """JDE's association cascade on box IoU alone (see the module docstring for the steps).

    Costs are ``1 - IoU``; JDE's defaults throughout.

    Attributes:
        track_buffer: frames a lost track is kept at 30 fps; scaled by the video's frame rate.
        first_match_cost: largest cost matched in the first association (IoU >= 0.3).
        second_match_cost: largest cost matched in the second association (IoU >= 0.5).
        unconfirmed_match_cost: largest cost that confirms an unconfirmed track (IoU >= 0.3).
        duplicate_cost: a tracked and a lost track closer than this are duplicates (IoU > 0.85).
        gating: also forbid first-association pairs whose squared Mahalanobis distance exceeds
            the chi-square 95% quantile (JDE gates its embedding cost so). Off by default: with
            IoU as the cost the overlap already keeps pairs local.
        min_score: detections scoring below this are ignored (JDE's ``conf_thres``). 0 by
            default because the detection stage already applies the score threshold (0.6 in
            the paper) and the tracker should not silently apply a second one.
        new_track_score: unmatched detections scoring at least this start a track (JDE's
            ``det_thresh``, equal to its ``conf_thres``, so every detection JDE keeps may start
            one); 0 by default for the same reason.
        activate_first_frame: confirm tracks born in frame 1 at once, so frame 1 has output
            (FairMOT and ByteTrack do this; JDE does not).
        output_kalman_boxes: output the Kalman-corrected box instead of the matched detection.
        byte_track_score: None (off), or ByteTrack's track threshold: detections below it are
            low-score boxes, matched only in the BYTE pass (step 3b), and new tracks need
            ``byte_track_score + 0.1``. Set it to the sweep's detector score threshold and
            detect at ``byte_low_score`` so that the detections zip keeps the low boxes.
        byte_low_score: with BYTE, detections below this are ignored (ByteTrack's 0.1).
        std_weight_position: Kalman position noise, as a fraction of box height.
        std_weight_velocity: Kalman velocity noise, as a fraction of box height.
        appearance: None (off), or the name of an embedder in
            :data:`vcm.appearance.EMBEDDERS`; :meth:`update` then needs the embeddings.
        appearance_options: the embedder's options (None: its defaults).
        appearance_weight: weight of the appearance distance in the first association's
            cost, 0 to 1.
        appearance_gate: largest appearance distance matched in the first association.
        reid_distance: largest appearance distance of a re-identification (step 4b).
        embedding_momentum: weight of a track's old embedding when a new one is averaged in.
        lost_seconds: None, or seconds of video a lost track is kept (replaces
            ``track_buffer``).
    """

    _COST: ClassVar[Option] = Option(float, low=0.0, high=1.0, help="a 1 - IoU cost")
    option_schema: ClassVar[dict[str, Option]] = {
        # A day of 30 fps video: more is surely a typo.
        "track_buffer": Option(int, low=0, high=30 * 86400, help="frames at 30 fps"),
        "first_match_cost": _COST,
        "second_match_cost": _COST,
        "unconfirmed_match_cost": _COST,
        "duplicate_cost": _COST,
        "gating": Option(bool),
        "min_score": Option(float, low=0.0, high=1.0),
        "new_track_score": Option(float, low=0.0, high=1.0),
        "activate_first_frame": Option(bool),
        "output_kalman_boxes": Option(bool),
        "byte_track_score": Option(float, low=0.0, high=1.0, optional=True,
                                   help="BYTE's track threshold (null: BYTE off)"),
        "byte_low_score": Option(float, low=0.0, high=1.0, help="BYTE ignores boxes below this"),
        "std_weight_position": Option(float, above=0.0, high=100.0, help="fraction of height"),
        "std_weight_velocity": Option(float, above=0.0, high=100.0, help="fraction of height"),
        "appearance": Option(str, optional=True, pattern=r"[a-z0-9][a-z0-9_.-]{0,63}",
                             help="an appearance embedder's name (null: off)"),
        "appearance_options": Option(dict, optional=True, help="the embedder's options"),
        "appearance_weight": Option(float, low=0.0, high=1.0, help="weight of appearance"),
        "appearance_gate": Option(float, low=0.0, high=2.0, help="a cosine distance"),
        "reid_distance": Option(float, low=0.0, high=2.0, help="a cosine distance"),
        "embedding_momentum": Option(float, low=0.0, high=1.0, help="weight of the old embedding"),
        # A day: more is surely a typo.
        "lost_seconds": Option(float, low=0.0, high=86400.0, optional=True,
                               help="seconds a lost track is kept (null: track_buffer)"),
    }

    track_buffer: int = 30
    first_match_cost: float = 0.7
    second_match_cost: float = 0.5
    unconfirmed_match_cost: float = 0.7
    duplicate_cost: float = 0.15
    gating: bool = False
    min_score: float = 0.0
    new_track_score: float = 0.0
    activate_first_frame: bool = False
    output_kalman_boxes: bool = False
    byte_track_score: float | None = None
    byte_low_score: float = 0.1
    std_weight_position: float = 1.0 / 20
    std_weight_velocity: float = 1.0 / 160
    appearance: str | None = None
    appearance_options: dict | None = None
    appearance_weight: float = 0.5
    appearance_gate: float = APPEARANCE_GATE
    reid_distance: float = REID_DISTANCE
    embedding_momentum: float = 0.9
    lost_seconds: float | None = None
    kalman: KalmanFilter = field(init=False, repr=False, compare=False)
    embedder: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.track_buffer < 0:
            raise ValueError(f"track_buffer must not be negative, got {self.track_buffer}")
        for name in ("first_match_cost", "second_match_cost", "unconfirmed_match_cost",
                     "duplicate_cost"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a 1 - IoU cost in [0, 1], got {value}")
        if self.byte_track_score is not None and not (
            0.0 <= self.byte_low_score < self.byte_track_score <= 1.0
        ):
            raise ValueError(
                f"BYTE needs 0 <= byte_low_score < byte_track_score <= 1, got "
                f"{self.byte_low_score} and {self.byte_track_score}"
            )
        kalman = KalmanFilter(self.std_weight_position, self.std_weight_velocity)
        object.__setattr__(self, "kalman", kalman)
        embedder = None
        if self.appearance is not None:
            from vcm.appearance import EMBEDDERS

            embedder = EMBEDDERS.build(self.appearance, **(self.appearance_options or {}))
        elif self.appearance_options:
            raise ValueError("appearance_options needs appearance (an embedder's name)")
        object.__setattr__(self, "embedder", embedder)

    @property
    def dimension(self) -> int:
        """Values per appearance embedding (0: appearance off)."""
        return 0 if self.embedder is None else int(self.embedder.dimension)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "IouTracker":
        """Build from a config mapping whose keys are the constructor's parameter names."""
        allowed = {item.name for item in fields(cls) if item.init}
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise VcmError(
                f"unknown iou tracker parameter {unknown[0]!r}; choose from: "
                f"{', '.join(sorted(allowed))}"
            )
        return cls(**config)

    def init_state(self, fps: float, gallery: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> IouTrackerState:
        """The state before frame 1 of a video shown at ``fps`` frames per second.

        ``gallery``: known identities as ids, int (K,) of distinct ids from 1, and their
        embeddings, float32 (K, D); needs appearance. New ids start above the largest.
        """
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if self.lost_seconds is not None:
            max_time_lost = int(fps * self.lost_seconds)
        else:
            # fps * buffer / 30 rather than JDE's fps / 30 * buffer: the product of integers
            # is exact, so e.g. a buffer of 7 frames is never truncated to 6 by rounding.
            max_time_lost = int(fps * self.track_buffer / 30.0)
        empty = TrackTable.empty(self.dimension)
        if gallery is None:
            return IouTrackerState(frame=0, next_id=1, max_time_lost=max_time_lost,
                                   tracks=empty, memory_embeddings=empty.embeddings)
        if self.embedder is None:
            raise ValueError("a gallery needs appearance (an embedder's name)")
        ids = np.asarray(gallery[0], dtype=np.int64).reshape(-1)
        embeddings = np.asarray(gallery[1], dtype=np.float32)
        if embeddings.shape != (len(ids), self.dimension):
            raise ValueError(f"the gallery's embeddings have shape {embeddings.shape}; "
                             f"{self.appearance} gives {self.dimension} values per box")
        if len(ids) and (ids.min() < 1 or len(np.unique(ids)) != len(ids)):
            raise ValueError("gallery ids must be distinct and 1 or more")
        next_id = int(ids.max()) + 1 if len(ids) else 1
        return IouTrackerState(frame=0, next_id=next_id, max_time_lost=max_time_lost,
                               tracks=empty, memory_ids=ids, memory_embeddings=embeddings,
                               remember=True)

    def identities(self, state: IouTrackerState) -> tuple[np.ndarray, np.ndarray]:
        """Every identity ``state`` knows with an embedding: its confirmed tracks (tracked
        or lost) and its memory; ids int64 (K,) ascending, embeddings float32 (K, D)."""
        table = state.tracks
        rows = np.flatnonzero(table.activated)
        ids = np.concatenate([table.ids[rows], state.memory_ids])
        embeddings = np.concatenate([table.embeddings[rows], state.memory_embeddings])
        order = np.argsort(ids, kind="stable")
        return ids[order], embeddings[order]

    def update(
        self, state: IouTrackerState, detections: FrameDetections,
        embeddings: np.ndarray | None = None,
    ) -> tuple[IouTrackerState, FrameTracks]:
        """Associate the detections of frame ``state.frame + 1``; ``state`` is left unchanged.

        ``embeddings``: with appearance, float32 (N, D), one L2-normalised row per detection
        (``self.embedder.embed`` of the frame's pixels and ``detections.boxes``).
        Returns the new state and the confirmed tracks matched in this frame, sorted by id.
        """
        frame = state.frame + 1
        if detections.frame != frame:
            raise ValueError(
                f"expected the detections of frame {frame}, got frame {detections.frame}"
            )
        detection_boxes, detection_scores = detections.boxes, detections.scores
        appearance = self.embedder is not None
        if appearance:
            if embeddings is None:
                raise ValueError(f"frame {frame}: appearance tracking needs an embedding per "
                                 "detection (the frame's pixels)")
            detection_embeddings = np.asarray(embeddings, dtype=np.float32)
            if detection_embeddings.shape != (len(detection_boxes), self.dimension):
                raise ValueError(f"frame {frame}: embeddings of shape "
                                 f"{detection_embeddings.shape} for {len(detection_boxes)} "
                                 f"detections of {self.dimension} values")
        else:
            detection_embeddings = np.zeros((len(detection_boxes), 0), dtype=np.float32)
        minimum = self.min_score
        if self.byte_track_score is not None:
            minimum = max(minimum, self.byte_low_score)
        if minimum > 0:
            keep = detection_scores >= minimum
            detection_boxes, detection_scores = detection_boxes[keep], detection_scores[keep]
            detection_embeddings = detection_embeddings[keep]
        # Indices into detection_boxes: the high-score boxes go through the JDE cascade, the
        # low-score ones (BYTE only) through step 3b alone.
        if self.byte_track_score is None:
            high = np.arange(len(detection_scores))
            low = _NO_INDICES
            birth_score = self.new_track_score
        else:
            high = np.flatnonzero(detection_scores >= self.byte_track_score)
            low = np.flatnonzero(detection_scores < self.byte_track_score)
            birth_score = max(self.new_track_score, self.byte_track_score + 0.1)
        measurements = boxes_to_xyah(detection_boxes)
        table = state.tracks
        kalman = self.kalman
        lost = table.lost
        confirmed = np.flatnonzero(~lost & table.activated)
        unconfirmed = np.flatnonzero(~lost & ~table.activated)
        lost_rows = np.flatnonzero(lost)
        pool = np.concatenate([confirmed, lost_rows])

        # Step 1 (numbered as in the module docstring): predict.
        means = table.means.copy()
        covariances = table.covariances.copy()
        if len(pool):
            pool_means = table.means[pool]
            pool_means[len(confirmed):, 7] = 0.0
            means[pool], covariances[pool] = kalman.predict(pool_means, table.covariances[pool])
        track_boxes = xyah_to_boxes(means)

        # Step 2: first association.
        cost = 1.0 - pairwise_iou(track_boxes[pool], detection_boxes[high])
        if self.gating and cost.size:
            distances = kalman.gating_distance(means[pool], covariances[pool],
                                               measurements[high])
            cost[distances > CHI2_INV_95[4]] = np.inf
        if appearance:
            rows, columns, free_pool, free = self._assign_with_appearance(
                cost, table.embeddings[pool], detection_embeddings[high])
        else:
            rows, columns, free_pool, free = _assign(cost, self.first_match_cost)
        first_tracks, first_detections, remaining = pool[rows], high[columns], high[free]
        refound = first_tracks[lost[first_tracks]]

        # Step 3: second association.
        leftover = pool[free_pool]
        retry = leftover[~lost[leftover]]
        cost = 1.0 - pairwise_iou(track_boxes[retry], detection_boxes[remaining])
        rows, columns, free_retry, free = _assign(cost, self.second_match_cost)
        second_tracks, second_detections = retry[rows], remaining[columns]
        remaining = remaining[free]

        # Step 3b (BYTE): the tracks still unmatched against the low-score boxes.
        retry = retry[free_retry]
        cost = 1.0 - pairwise_iou(track_boxes[retry], detection_boxes[low])
        rows, columns, free_retry, _ = _assign(cost, self.second_match_cost)
        second_tracks = np.concatenate([second_tracks, retry[rows]])
        second_detections = np.concatenate([second_detections, low[columns]])
        newly_lost = retry[free_retry]

        # Steps 4 and 5: confirm unconfirmed tracks, then births.
        cost = 1.0 - pairwise_iou(track_boxes[unconfirmed], detection_boxes[remaining])
        rows, columns, _, free = _assign(cost, self.unconfirmed_match_cost)
        third_tracks, third_detections = unconfirmed[rows], remaining[columns]
        remaining = remaining[free]
        births = remaining[detection_scores[remaining] >= birth_score]

        # Step 4b: re-identify lost tracks and remembered identities by appearance.
        memory_ids, memory_embeddings = state.memory_ids, state.memory_embeddings
        reidentified, reid_detections = _NO_INDICES, _NO_INDICES
        recalled_ids, recalled = _NO_INDICES, _NO_INDICES
        if appearance and len(births):
            waiting = leftover[lost[leftover]]
            known = np.concatenate([table.embeddings[waiting], memory_embeddings])
            distance = cosine_distances(known, detection_embeddings[births])
            rows, columns, _, free = _assign(distance, self.reid_distance)
            from_table = rows < len(waiting)
            reidentified, reid_detections = waiting[rows[from_table]], births[columns[from_table]]
            recalled_rows = rows[~from_table] - len(waiting)
            recalled_ids, recalled = memory_ids[recalled_rows], births[columns[~from_table]]
            forgotten = np.ones(len(memory_ids), dtype=bool)
            forgotten[recalled_rows] = False
            memory_ids, memory_embeddings = memory_ids[forgotten], memory_embeddings[forgotten]
            births = births[np.isin(births, recalled, invert=True)
                            & np.isin(births, reid_detections, invert=True)]
            refound = np.concatenate([refound, reidentified])

        # Kalman update of every matched track at once; step 6: time out lost tracks.
        matched_tracks = np.concatenate([first_tracks, second_tracks, third_tracks])
        matched_detections = np.concatenate(
            [first_detections, second_detections, third_detections]
        )
        boxes = table.boxes.copy()
        scores = table.scores.copy()
        end_frames = table.end_frames.copy()
        track_embeddings = table.embeddings
        if len(matched_tracks):
            means[matched_tracks], covariances[matched_tracks] = kalman.update(
                means[matched_tracks], covariances[matched_tracks], measurements[matched_detections]
            )
        if len(reidentified):
            # A track re-found after an absence restarts where it is seen: its prediction
            # has drifted for as long as it was away.
            means[reidentified], covariances[reidentified] = kalman.initiate(
                measurements[reid_detections])
        matched_tracks = np.concatenate([matched_tracks, reidentified])
        matched_detections = np.concatenate([matched_detections, reid_detections])
        if len(matched_tracks):
            boxes[matched_tracks] = detection_boxes[matched_detections]
            scores[matched_tracks] = detection_scores[matched_detections]
            end_frames[matched_tracks] = frame
            if appearance:
                track_embeddings = track_embeddings.copy()
                momentum = self.embedding_momentum
                track_embeddings[matched_tracks] = normalised(
                    momentum * track_embeddings[matched_tracks]
                    + (1.0 - momentum) * detection_embeddings[matched_detections])
        matched = np.zeros(len(table), dtype=bool)
        matched[matched_tracks] = True
        still_tracked = np.flatnonzero(~lost & matched)
        timed_out = frame - table.end_frames > state.max_time_lost
        kept_lost = np.flatnonzero(lost & ~matched & ~timed_out)
        if state.remember:
            expired = np.flatnonzero(lost & ~matched & timed_out & table.activated)
            memory_ids = np.concatenate([memory_ids, table.ids[expired]])
            memory_embeddings = np.concatenate([memory_embeddings, table.embeddings[expired]])

        # JDE's list order: tracks still tracked, new tracks, re-found tracks, then the lost
        # tracks kept and those lost in this frame. The order only breaks assignment ties,
        # but keeping it keeps the output deterministic and comparable with JDE.
        before = still_tracked
        after = np.concatenate([refound, kept_lost, newly_lost])
        new_ids = np.arange(state.next_id, state.next_id + len(births))
        born = np.concatenate([recalled, births])
        birth_ids = np.concatenate([recalled_ids, new_ids])
        birth_means, birth_covariances = kalman.initiate(measurements[born])
        count_tracked = len(before) + len(born) + len(refound)
        count = count_tracked + len(kept_lost) + len(newly_lost)
        activated = np.ones(count, dtype=bool)
        # A recalled identity is confirmed at once: the gallery has seen it before.
        activated[len(before) + len(recalled):len(before) + len(born)] = (
            self.activate_first_frame and frame == 1)
        next_table = TrackTable(
            ids=_join(table.ids, before, birth_ids, after),
            means=_join(means, before, birth_means, after),
            covariances=_join(covariances, before, birth_covariances, after),
            boxes=_join(boxes, before, detection_boxes[born], after),
            scores=_join(scores, before, detection_scores[born], after),
            lost=np.arange(count) >= count_tracked,
            activated=activated,
            start_frames=_join(table.start_frames, before, np.full(len(born), frame), after),
            end_frames=_join(end_frames, before, np.full(len(born), frame), after),
            embeddings=_join(track_embeddings, before, detection_embeddings[born], after),
        )
        # Step 7.
        next_table = self._drop_duplicates(next_table, count_tracked)
        next_state = IouTrackerState(
            frame=frame,
            next_id=state.next_id + len(births),
            max_time_lost=state.max_time_lost,
            tracks=next_table,
            memory_ids=memory_ids,
            memory_embeddings=memory_embeddings,
            remember=state.remember,
        )
        return next_state, self._output(next_table, frame)

    def _assign_with_appearance(self, iou_cost: np.ndarray, track_embeddings: np.ndarray,
                                detection_embeddings: np.ndarray):
        """Step 2 with appearance: pairs within both thresholds, assigned by the blended
        cost (see the module docstring); returns as :func:`_assign` does."""
        distance = cosine_distances(track_embeddings, detection_embeddings)
        weight = self.appearance_weight
        cost = (1.0 - weight) * iou_cost + weight * distance
        cost[(iou_cost > self.first_match_cost) | (distance > self.appearance_gate)] = np.inf
        # Every allowed pair's blended cost is at most the larger of the two thresholds.
        return _assign(cost, max(self.first_match_cost, self.appearance_gate))

    def _drop_duplicates(self, table: TrackTable, count_tracked: int) -> TrackTable:
        """Drop the younger of each tracked/lost pair whose boxes nearly coincide."""
        if count_tracked == 0 or count_tracked == len(table):
            return table
        boxes = xyah_to_boxes(table.means)
        cost = 1.0 - pairwise_iou(boxes[:count_tracked], boxes[count_tracked:])
        tracked, lost = np.nonzero(cost < self.duplicate_cost)
        if not len(tracked):
            return table
        lost = lost + count_tracked
        ages = table.end_frames - table.start_frames
        tracked_older = ages[tracked] > ages[lost]
        keep = np.ones(len(table), dtype=bool)
        keep[lost[tracked_older]] = False
        keep[tracked[~tracked_older]] = False
        rows = np.flatnonzero(keep)
        return TrackTable(**{item.name: getattr(table, item.name)[rows] for item in fields(table)})

    def _output(self, table: TrackTable, frame: int) -> FrameTracks:
        rows = np.flatnonzero(~table.lost & table.activated)
        rows = rows[np.argsort(table.ids[rows], kind="stable")]
        if self.output_kalman_boxes:
            boxes = xyah_to_boxes(table.means[rows])
        else:
            boxes = table.boxes[rows]
        return FrameTracks(frame, table.ids[rows], boxes, table.scores[rows])


_NO_INDICES = np.zeros((0,), dtype=np.int64)


def _assign(
    cost: np.ndarray, max_cost: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching keeping only pairs with cost <= ``max_cost``.

    Returns matched row and column indices (rows ascending) and the unmatched rows and
    columns (ascending).
    """
    count_rows, count_columns = cost.shape
    if count_rows == 0 or count_columns == 0:
        return _NO_INDICES, _NO_INDICES, np.arange(count_rows), np.arange(count_columns)
    # As JDE does: every cost above the threshold becomes the same just-too-high value, so the
    # solver never trades a good pair for a slightly less bad one that is dropped anyway.
    rows, columns = linear_sum_assignment(np.minimum(cost, max_cost + 1e-4))
    keep = cost[rows, columns] <= max_cost
    rows, columns = rows[keep], columns[keep]
    free_rows = np.ones(count_rows, dtype=bool)
    free_rows[rows] = False
    free_columns = np.ones(count_columns, dtype=bool)
    free_columns[columns] = False
    return rows, columns, np.flatnonzero(free_rows), np.flatnonzero(free_columns)


def _join(
    values: np.ndarray, before: np.ndarray, middle: np.ndarray, after: np.ndarray
) -> np.ndarray:
    """``values[before]``, then ``middle``, then ``values[after]``, along the first axis."""
    return np.concatenate([values[before], middle.astype(values.dtype, copy=False), values[after]])
