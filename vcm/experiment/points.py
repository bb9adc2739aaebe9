"""One measured point of a sweep (sequence, pipeline, codec, QP) in the results shape every vcm
tool reads: ``{"name", "description", "point": {...}, "results": {metric: [value]}}``.

A point gathers what the stages wrote: the ``vcm bpp`` record, the detection file that was
sent (its format, boxes and bytes, and its bytes in every other format), the pose, tracking
and segmentation evaluations, the run records (``*.run.json``: seconds per step) and the codec
sidecars (``encode_seconds``/``decode_seconds``). Times follow the paper (see
:mod:`vcm.metrics.timing`): ``detect_s`` is the sum of every detector run the pipeline needs
(one shared run for multitask, one per task for single-task), ``total_s`` is
``detect_s + pose_s + track_s + segment_s`` (every task the point ran) and
``total_two_tasks_s`` the paper's two tasks alone: ``total_s`` less segmentation and the
detector run only segmentation needed (``segment_detect_s``, 0 for multitask); codec time is
kept apart.

A metric that was not measured (the sequence has no ground truth for that task) or has no
value (MOTA without ground-truth boxes) is ``null``: the record is strict JSON, and the
summary reads it as NaN.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

from vcm.detformats import DETECTION_FORMATS
from vcm.errors import VcmError, shown
from vcm.jsonio import load_json
from vcm.metrics.timing import codec_seconds

ORIGINAL_BPP = 12.0
"""Bits per pixel of the uncompressed original as the codecs take it: 8-bit yuv420p."""

def format_bpp_column(name: str) -> str:
    """The summary column of the BPP a point would have with detection format ``name``."""
    return "bpp_" + name.replace("-", "_")


FORMAT_BPP_COLUMNS = [format_bpp_column(name) for name in DETECTION_FORMATS.names()]

DETECTION_COLUMNS = [
    "video_bpp", "detections_bpp", "detections_format", "boxes", "bytes_per_box",
    *FORMAT_BPP_COLUMNS,
]
"""The BPP split and the detection file's cost. Records written before these existed read
as NaN (and format ``""``)."""

VARIANT_COLUMNS = ["variant", "score", "foreground", "foreground_s", "mask_s"]
"""Which multitask pipeline a point is: the config's variant name (empty for the config's
own), the shared detector's score, the foreground variant (``paper`` or its options that
differ from the paper's, ``key=value,...``), the seconds rendering it took (apart from the
task times, as codec time is) and, of those, the seconds the person segmenter of a ``mask``
variant took. Single-task points and records written before these existed read as ``""``,
NaN, ``""``, 0, 0."""

MOTION_COLUMNS = ["motion_accuracy", "motion_macro_f1", "motion_count_mae"]
"""The motion task's scores of a point (``vcm evaluate motion``'s per-clip ``accuracy`` and
``macro_f1``, 0..1, and ``reps_mae``, repetitions): NaN without a ``motion`` section, without
its ``motion_gt``, in records written before it existed, or where nothing was scored."""

SUMMARY_COLUMNS = [
    "sequence", "pipeline", "codec", "qp", "bpp", "bytes", "pose_ap", "mota", "idf1", "hota",
    "assa", "id_switches", "segm_ap", *MOTION_COLUMNS, "detect_s", "pose_s", "track_s", "segment_s", "segment_detect_s", "encode_s",
    "decode_s", "total_s", "total_two_tasks_s", "original_bpp", "frames", "width", "height",
    *DETECTION_COLUMNS, *VARIANT_COLUMNS,
]
"""Columns of ``results/summary.csv``, in order."""


def load_record(path: Path, what: str) -> dict:
    """A JSON object from ``path``; a missing or malformed file is a :class:`VcmError`.

    The fields that :func:`build_point` reads as numbers (:data:`RECORD_NUMBERS` of ``what``)
    must, where present, be numbers or null (``"seconds.*"``: every value of the object
    ``seconds``), else the error names ``path`` and the field.
    """
    record = load_json(path, what=what)
    if not isinstance(record, dict):
        raise VcmError(f"{path}: malformed {what} (not a JSON object)")
    for key in RECORD_NUMBERS.get(what, ()):
        if key.endswith(".*"):
            container = record.get(key[:-2], {})
            if not isinstance(container, dict):
                raise VcmError(f"{path}: malformed {what} ({key[:-2]} is not an object)")
            items = [(f"{key[:-2]}.{name}", value) for name, value in container.items()]
        elif key not in record and what in RECORD_REQUIRED:
            raise VcmError(f"{path}: malformed {what} (no {key})")
        else:
            items = [(key, record[key])] if key in record else []
        for name, value in items:
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise VcmError(f"{path}: malformed {what} ({name} must be a number, got {shown(value)})")
    return record


RECORD_NUMBERS = {
    "BPP record": ("bpp", "bytes", "frames", "width", "height"),
    "pose evaluation": ("AP",),
    "segmentation evaluation": ("AP",),
    "tracking evaluation": ("mota", "idf1", "hota"),
    "run record": ("seconds.*",),
    "codec sidecar": ("encode_seconds", "decode_seconds"),
}
"""The fields :func:`build_point` reads as numbers from each kind of record."""

RECORD_REQUIRED = ("BPP record", "pose evaluation", "segmentation evaluation", "tracking evaluation")
"""The kinds of record whose :data:`RECORD_NUMBERS` must all be there (null for no value)."""


def _metric(evaluation: dict | None, key: str, what: str) -> float:
    """``evaluation[key]`` as a float; NaN without an evaluation or for ``null``. A missing
    key is a :class:`VcmError` (:func:`load_record` has checked the value's type)."""
    if evaluation is None:
        return math.nan
    if key not in evaluation:
        raise VcmError(f"malformed {what} (no {key})")
    value = evaluation[key]
    return math.nan if value is None else float(value)


def _optional_metric(evaluation: dict | None, key: str, what: str) -> float:
    """``evaluation[key]`` as a float; NaN without it, for ``null`` or without an evaluation;
    a value that is not a number is a :class:`VcmError`."""
    if evaluation is None or evaluation.get(key) is None:
        return math.nan
    value = evaluation[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise VcmError(f"malformed {what} ({key} must be a number, got {shown(value)})")
    return float(value)


def _seconds(run_records: list[dict], step: str) -> float:
    return sum(float(record.get("seconds", {}).get(step, 0.0)) for record in run_records)


def build_point(
    *,
    sequence: str,
    pipeline: str,
    codec: str,
    qp: int,
    bpp: dict,
    pose_evaluation: dict | None = None,
    track_evaluation: dict | None = None,
    segm_evaluation: dict | None = None,
    motion_evaluation: dict | None = None,
    run_records: list[dict] = (),
    segment_detect_records: list[dict] = (),
    codec_records: list[dict] = (),
    detections: dict | None = None,
    variant: str = "",
    score: float | None = None,
    foreground_record: dict | None = None,
) -> dict:
    """Assemble one point record; a metric whose evaluation is absent, and any value that is
    not a finite number, is None (``null`` in the JSON file).

    ``run_records`` are the run records of every stage the point ran except
    ``segment_detect_records``: those of a detector run that only segmentation needed (the
    single-task segmentation baseline's own detector), counted in ``detect_s`` and in
    ``segment_detect_s``.

    ``detections`` is the :func:`vcm.detformats.detections_record` of the detection file among
    the BPP record's files (multitask), or None when no detection file is sent (single-task,
    or detections inside the bitstream). It splits ``bpp`` into ``video_bpp`` and
    ``detections_bpp`` and gives ``bytes_per_box`` and, per registered format ``f``,
    ``bpp_f``: the BPP with the same detections sent in ``f`` (default options).

    ``variant``, ``score`` and ``foreground_record`` (the run record of ``vcm foreground``)
    say which multitask pipeline this is (:data:`VARIANT_COLUMNS`).

    ``motion_evaluation`` is ``vcm evaluate motion``'s record of the point (its ``clip``
    scores give :data:`MOTION_COLUMNS`).
    """
    try:
        values = {
            "bpp": float(bpp["bpp"]),
            "bytes": int(bpp["bytes"]),
            "frames": int(bpp["frames"]),
            "width": int(bpp["width"]),
            "height": int(bpp["height"]),
        }
    except (KeyError, TypeError, ValueError) as error:
        raise VcmError(f"BPP record of {sequence} {pipeline} {codec} qp{qp}: missing {error}") from None
    values["pose_ap"] = _metric(pose_evaluation, "AP", "pose evaluation")
    values["mota"] = _metric(track_evaluation, "mota", "tracking evaluation")
    values["idf1"] = _metric(track_evaluation, "idf1", "tracking evaluation")
    values["hota"] = _metric(track_evaluation, "hota", "tracking evaluation")
    # Evaluations written before these were reported have neither: NaN, not an error.
    values["assa"] = _optional_metric(track_evaluation, "assa", "tracking evaluation")
    values["id_switches"] = _optional_metric(track_evaluation, "num_switches",
                                             "tracking evaluation")
    values["segm_ap"] = _metric(segm_evaluation, "AP", "segmentation evaluation")
    clip_scores = (motion_evaluation or {}).get("clip")
    if motion_evaluation is not None and not isinstance(clip_scores, dict):
        raise VcmError("malformed motion evaluation (no clip scores)")
    for column, key in zip(MOTION_COLUMNS, ("accuracy", "macro_f1", "reps_mae")):
        values[column] = _optional_metric(clip_scores, key, "motion evaluation")
    runs = list(run_records) + list(segment_detect_records)
    for step in ("detect", "pose", "track", "segment"):
        values[f"{step}_s"] = _seconds(runs, step)
    values["segment_detect_s"] = _seconds(list(segment_detect_records), "detect")
    values["encode_s"] = sum(float(record.get("encode_seconds", 0.0)) for record in codec_records)
    values["decode_s"] = sum(float(record.get("decode_seconds", 0.0)) for record in codec_records)
    values["total_s"] = (values["detect_s"] + values["pose_s"] + values["track_s"]
                         + values["segment_s"])
    values["total_two_tasks_s"] = (values["total_s"] - values["segment_s"]
                                   - values["segment_detect_s"])
    values["original_bpp"] = ORIGINAL_BPP
    values.update(_detection_values(values, detections, sequence, pipeline, codec, qp))
    values["score"] = math.nan if score is None else float(score)
    values["foreground_s"] = (_seconds([foreground_record], "foreground")
                              if foreground_record else 0.0)
    values["mask_s"] = _seconds([foreground_record], "segment") if foreground_record else 0.0
    detections_format = detections["format"] if detections else ""
    foreground = foreground_label(foreground_record) if foreground_record else ""
    return {
        "name": f"{sequence} {pipeline} {codec} qp{qp}",
        "description": (
            f"{pipeline} pipeline on {sequence}, {codec} at QP {qp}; times in seconds, codec "
            f"time ({codec_seconds(values['encode_s'], values['decode_s']):.3f} s) apart"
        ),
        "point": {"sequence": sequence, "pipeline": pipeline, "codec": codec, "qp": qp,
                  "detections_format": detections_format, "variant": variant,
                  "foreground": foreground},
        "results": {metric: [_finite_or_none(value)] for metric, value in values.items()},
    }


def foreground_label(run_record: dict) -> str:
    """The foreground variant of a ``vcm foreground`` run record as one short text: ``paper``
    for the paper's (boxes, black), else its options that differ from the paper's as
    ``key=value`` joined by commas, in the renderer's order (e.g. ``margin=0.25,fill=grey``),
    then ``keep_every=<k>`` for a foreground of every k-th frame, ``downscale=<F>`` for
    one at 1/F of each side and ``downscale_regions=<F>`` for one whose kept rectangles
    alone are (e.g. ``keep_every=4`` for the paper's boxes at a quarter of
    the frames)."""
    from vcm.masking import ForegroundOptions

    options = (run_record.get("parameters") or {}).get("variant") or {}
    if not isinstance(options, dict):
        raise VcmError(f"malformed foreground run record (variant is {shown(options)})")
    # Every option, the anonymise ones too (describe() leaves those out when they are off),
    # in the renderer's field order, not the record's (run records sort their keys).
    paper = asdict(ForegroundOptions())
    changed = [f"{key}={options[key]}" for key in paper
               if key in options and options[key] != paper[key]]
    # fill_scale means nothing with a black or grey fill, mask_grow nothing without a mask.
    if options.get("fill", "black") in ("black", "grey"):
        changed = [item for item in changed if not item.startswith("fill_scale=")]
    if options.get("mask", "none") == "none":
        changed = [item for item in changed if not item.startswith("mask_grow=")]
    for key in ("keep_every", "downscale", "downscale_regions"):
        value = (run_record.get("parameters") or {}).get(key, 1)
        if value != 1:
            changed.append(f"{key}={value}")
    return ",".join(changed) or "paper"


def _finite_or_none(value: float | int) -> float | int | None:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _detection_values(values: dict, detections: dict | None, *where) -> dict:
    pixels = values["width"] * values["height"] * values["frames"]
    if not detections:
        return {"video_bpp": values["bpp"], "detections_bpp": 0.0, "boxes": math.nan,
                "bytes_per_box": math.nan,
                **{column: values["bpp"] for column in FORMAT_BPP_COLUMNS}}
    try:
        sent = int(detections["bytes"])
        boxes = int(detections["boxes"])
        by_format = {name: int(size) for name, size in detections["bytes_by_format"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise VcmError(f"detections record of {' '.join(map(str, where))}: missing {error}") from None
    if sent > values["bytes"]:
        raise VcmError(f"detections record of {' '.join(map(str, where))}: the detection file "
                       f"({sent} bytes) is not among the BPP record's {values['bytes']} bytes")
    video_bytes = values["bytes"] - sent
    return {
        "video_bpp": video_bytes * 8 / pixels,
        "detections_bpp": sent * 8 / pixels,
        "boxes": boxes,
        "bytes_per_box": sent / boxes if boxes else math.nan,
        **{format_bpp_column(name): (video_bytes + size) * 8 / pixels
           for name, size in by_format.items()},
    }


def summary_row(point: dict, *, source: Path) -> dict:
    """The ``summary.csv`` row of a point record read from ``source``; ``null`` is NaN."""
    try:
        row = dict(point["point"])
        for metric, values in point["results"].items():
            value = values[0]
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise VcmError(f"{source}: malformed point record (results.{metric} must be a "
                               f"number or null, got {shown(value)})")
            row[metric] = math.nan if value is None else value
        row.setdefault("detections_format", "")
        for column in DETECTION_COLUMNS:
            row.setdefault(column, math.nan)
        row.setdefault("variant", "")
        row.setdefault("foreground", "")
        row.setdefault("score", math.nan)
        row.setdefault("foreground_s", 0.0)
        row.setdefault("mask_s", 0.0)
        for column in MOTION_COLUMNS:
            row.setdefault(column, math.nan)
        return {column: row[column] for column in SUMMARY_COLUMNS}
    except (KeyError, TypeError, IndexError) as error:
        raise VcmError(f"{source}: malformed point record (missing {error})") from None
