"""Bjontegaard deltas between two rate-accuracy curves (VCEG-M33, with JCT-VC's PCHIP variant).

Here the "distortion" axis is a task accuracy (pose mAP or MOTA, in [0, 1] or below) instead
of PSNR, and the rate is bits per pixel. The interpolation and integration come from the
``bjontegaard`` package (FAU-LMS), whose ``pchip`` result matches the JVET CTC Excel sheet and
whose ``cubic`` result is the classic VCEG-M33 polynomial fit; this module adds the checks that
sweep data needs (too few points, repeated or constant accuracy, non-overlapping ranges,
non-finite values) and turns those into NaN with a logged reason instead of an exception or a
meaningless number.

A BD figure is an average over the part of the independent axis that both curves cover; where
that part is small the figure rests on little of either curve. Every figure therefore comes
with its overlap share (:func:`overlap_share`), and the tables mark a share under
:data:`LOW_OVERLAP`: the package's own low-overlap warning is caught per call and becomes
that mark, never silenced globally.

Multitask tracking takes its boxes from the original video, so its MOTA is the same at every
QP: a BD-rate (rate difference at equal quality) cannot exist. For such a flat test curve the
figures that do exist are the BD-quality (BD-MOTA: the mean accuracy difference at equal rate)
and the crossing rate: the BPP at which the single-task curve reaches the multitask value
(:func:`crossing_rate`).
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import bjontegaard
import numpy as np
import pandas as pd
from scipy.interpolate import Akima1DInterpolator, PchipInterpolator
from scipy.optimize import brentq

from vcm.errors import VcmError
from vcm.experiment.tables import AVERAGE, select_codec

LOG = logging.getLogger(__name__)

METHODS = {"pchip": 2, "akima": 2, "cubic": 4}
"""Interpolation methods and the fewest points each needs: a cubic polynomial has four
coefficients; PCHIP and Akima fall back to a straight line on two points."""

ANCHOR_PIPELINE = "single"
TEST_PIPELINE = "multitask"

LOW_OVERLAP = 0.5
"""Overlap share (0..1) under which a BD figure is marked: the curves share less than half of
the range they span together."""

OVERLAP_WARNING = "Insufficient curve overlap"
"""How the ``bjontegaard`` package's low-overlap warning starts (it is raised below the
``min_overlap`` it is given, here :data:`LOW_OVERLAP`)."""


@dataclass(frozen=True)
class BdFigure:
    """One Bjontegaard delta and what it rests on.

    ``value``: the delta (percent for BD-rate, the metric's unit for BD-quality), NaN when
    undefined; ``overlap``: :func:`overlap_share` of the two curves on the integration axis
    (0..1; NaN with ``value``); ``reason``: why ``value`` is NaN,
    "" otherwise; ``low_overlap``: the package warned that the overlap is under
    :data:`LOW_OVERLAP`.
    """

    value: float
    overlap: float = math.nan
    reason: str = ""
    low_overlap: bool = False


def overlap_share(anchor_values, test_values) -> float:
    """Share (0..1) of the union of two curves' ranges on one axis that both ranges cover.

    With ranges ``[a0, a1]`` (anchor) and ``[t0, t1]`` (test): ``max(0, min(a1, t1) -
    max(a0, t0)) / (max(a1, t1) - min(a0, t0))``. E.g. qualities over [0.2, 0.6] and
    [0.4, 0.8] share [0.4, 0.6], 0.2 of the union's 0.6: 1/3. This is the ``bjontegaard``
    package's own measure: BD-rate integrates over quality, so its share is of the quality
    range; BD-quality integrates over log10 rate, so its share is of the log-rate range (pass
    log10 rates). NaN when either range is empty or the union has no width.
    """
    anchor_values = np.asarray(anchor_values, dtype=float)
    test_values = np.asarray(test_values, dtype=float)
    anchor_values = anchor_values[np.isfinite(anchor_values)]
    test_values = test_values[np.isfinite(test_values)]
    if not anchor_values.size or not test_values.size:
        return math.nan
    union = max(anchor_values.max(), test_values.max()) - min(anchor_values.min(), test_values.min())
    if union <= 0:
        return math.nan
    common = min(anchor_values.max(), test_values.max()) - max(anchor_values.min(), test_values.min())
    return float(max(common, 0.0) / union)


def bd_rate(rate_anchor, quality_anchor, rate_test, quality_test, *, method: str = "pchip") -> float:
    """BD-rate in percent: the average rate difference of the test curve against the anchor at
    equal quality, over the quality range both curves cover. Negative: the test needs fewer
    bits. Rates in any positive unit (BPP here), qualities in the metric's unit.

    The curves need not be sorted or monotonic: points are ordered by the independent variable
    (quality here) and interpolated through. Points with a NaN rate or quality are left out.
    Returns NaN, with the reason logged as a warning, when the curves do not allow it (see
    :func:`bd_rate_with_reason`). Raises ValueError for an unknown ``method`` or when a
    curve's rates and qualities differ in length.
    """
    value, reason = bd_rate_with_reason(rate_anchor, quality_anchor, rate_test, quality_test, method=method)
    if reason:
        LOG.warning("BD-rate undefined: %s", reason)
    return value


def bd_quality(rate_anchor, quality_anchor, rate_test, quality_test, *, method: str = "pchip") -> float:
    """BD-quality in the metric's unit: the average quality difference of the test curve
    against the anchor at equal rate, over the log-rate range both curves cover (BD-PSNR with
    accuracy in place of PSNR). Positive: the test is more accurate.

    NaN and errors as for :func:`bd_rate`.
    """
    value, reason = bd_quality_with_reason(rate_anchor, quality_anchor, rate_test, quality_test, method=method)
    if reason:
        LOG.warning("BD-quality undefined: %s", reason)
    return value


def bd_rate_with_reason(
    rate_anchor, quality_anchor, rate_test, quality_test, *, method: str = "pchip"
) -> tuple[float, str]:
    """:func:`bd_rate` and why it is NaN ("" when it is a number), without logging."""
    figure = bd_rate_figure(rate_anchor, quality_anchor, rate_test, quality_test, method=method)
    return figure.value, figure.reason


def bd_quality_with_reason(
    rate_anchor, quality_anchor, rate_test, quality_test, *, method: str = "pchip"
) -> tuple[float, str]:
    """:func:`bd_quality` and why it is NaN ("" when it is a number), without logging."""
    figure = bd_quality_figure(rate_anchor, quality_anchor, rate_test, quality_test, method=method)
    return figure.value, figure.reason


def bd_rate_figure(
    rate_anchor, quality_anchor, rate_test, quality_test, *, method: str = "pchip"
) -> BdFigure:
    """:func:`bd_rate` with its overlap share of the quality range (see :class:`BdFigure`),
    without logging."""
    anchor, test, reason = _prepare(rate_anchor, quality_anchor, rate_test, quality_test, method)
    if reason:
        return BdFigure(math.nan, reason=reason)
    # Rate as a function of quality: the independent axis is quality.
    reason = _check_axis(anchor[1], test[1], "quality")
    if reason:
        return BdFigure(math.nan, reason=reason)
    value, low_overlap = _call(bjontegaard.bd_rate, anchor, test, method, order=1)
    return BdFigure(value, overlap_share(anchor[1], test[1]), "", low_overlap)


def bd_quality_figure(
    rate_anchor, quality_anchor, rate_test, quality_test, *, method: str = "pchip"
) -> BdFigure:
    """:func:`bd_quality` with its overlap share of the log10-rate range (see
    :class:`BdFigure`), without logging."""
    anchor, test, reason = _prepare(rate_anchor, quality_anchor, rate_test, quality_test, method)
    if reason:
        return BdFigure(math.nan, reason=reason)
    reason = _check_axis(anchor[0], test[0], "rate")
    if reason:
        return BdFigure(math.nan, reason=reason)
    value, low_overlap = _call(bjontegaard.bd_psnr, anchor, test, method, order=0)
    return BdFigure(value, overlap_share(np.log10(anchor[0]), np.log10(test[0])), "", low_overlap)


def crossing_rate(rate_anchor, quality_anchor, level: float, *, method: str = "pchip") -> float:
    """The lowest rate at which the anchor curve reaches quality ``level``, in the rates' unit.

    The curve is interpolated over log10 rate as the BD-quality integral does (PCHIP, Akima,
    or a cubic polynomial fit), within the measured rates only. NaN, with the reason logged,
    when the curve never reaches ``level`` there (see :func:`crossing_rate_with_reason`).
    """
    value, reason = crossing_rate_with_reason(rate_anchor, quality_anchor, level, method=method)
    if reason:
        LOG.warning("crossing rate undefined: %s", reason)
    return value


def crossing_rate_with_reason(
    rate_anchor, quality_anchor, level: float, *, method: str = "pchip"
) -> tuple[float, str]:
    """:func:`crossing_rate` and why it is NaN ("" when it is a number), without logging."""
    anchor, _, reason = _prepare(rate_anchor, quality_anchor, rate_anchor, quality_anchor, method)
    if reason:
        return math.nan, reason.replace("anchor", "single-task", 1)
    rates, qualities = anchor
    if np.unique(rates).size < rates.size:
        return math.nan, "single-task curve repeats a rate"
    order = np.argsort(rates)
    log_rates, qualities = np.log10(rates[order]), qualities[order]
    if method == "cubic":
        curve = np.poly1d(np.polyfit(log_rates, qualities, 3))
    elif method == "akima" and len(log_rates) > 2:
        curve = Akima1DInterpolator(log_rates, qualities)
    else:  # PCHIP; Akima on two points is the same straight line
        curve = PchipInterpolator(log_rates, qualities)
    # The first sign change of curve - level on a fine grid brackets the lowest crossing.
    grid = np.linspace(log_rates[0], log_rates[-1], 2001)
    difference = curve(grid) - level
    reached = np.flatnonzero(difference >= 0)
    if not len(reached):
        return math.nan, (f"single-task stays below {level:g} at every rate measured "
                          f"(at most {qualities.max():g})")
    first = reached[0]
    if first == 0:
        if difference[0] == 0:
            return float(rates.min()), ""
        return math.nan, (f"single-task is above {level:g} already at its lowest rate "
                          f"{rates.min():g}")
    root = brentq(lambda x: float(curve(x)) - level, grid[first - 1], grid[first])
    return float(10.0**root), ""


RATE_OVERLAP = "rate_overlap_percent"
QUALITY_OVERLAP = "quality_overlap_percent"
BD_COLUMNS = ["bd_rate_percent", RATE_OVERLAP, "bd_quality", QUALITY_OVERLAP, "crossing_bpp",
              "points", "note"]
"""Columns of :func:`bd_table`."""


def bd_table(
    summary: pd.DataFrame, metric: str, *, method: str = "pchip", codec: str | None = None,
    test: str = TEST_PIPELINE, anchor: str = ANCHOR_PIPELINE,
) -> pd.DataFrame:
    """BD-rate and BD-quality of the ``test`` pipeline (default multitask) against the
    ``anchor`` (default single-task) for ``metric`` ("pose_ap" or "mota") against ``bpp``,
    one row per sequence, plus "average" when there are several.

    Columns (:data:`BD_COLUMNS`): ``bd_rate_percent`` (percent of the single-task rate),
    ``rate_overlap_percent`` (:func:`overlap_share` of the two curves' ``metric`` ranges, the
    range BD-rate integrates over, in percent), ``bd_quality`` (in the metric's unit),
    ``quality_overlap_percent`` (the same for the log10-BPP range BD-quality integrates over),
    ``crossing_bpp`` (only where the multitask value is the same at every QP, as MOTA is:
    the single-task BPP of that value, :func:`crossing_rate`; else NaN), ``points`` (QPs used,
    multitask/single) and ``note`` (why a value is NaN, what a flat multitask curve means, or
    that a figure rests on an overlap under :data:`LOW_OVERLAP`; empty otherwise). The average
    row is the mean of the sequences' values, as the JVET CTC averages per-sequence BD-rates
    (NaN when any sequence's value is), with the smallest of their overlaps. ``codec`` picks
    the codec when the summary holds several. Sequences without any value of ``metric`` (no
    ground truth for that task) are left out.
    """
    if metric not in summary.columns:
        raise VcmError(f"summary has no column {metric!r}")
    table = select_codec(summary, codec)
    rows = {}
    for sequence, points in table.groupby("sequence", sort=True):
        if not points[metric].notna().any():
            continue
        anchor_points = points[points["pipeline"] == anchor].sort_values("qp")
        test_points = points[points["pipeline"] == test].sort_values("qp")
        curves = (anchor_points["bpp"], anchor_points[metric], test_points["bpp"], test_points[metric])
        rate = bd_rate_figure(*curves, method=method)
        quality = bd_quality_figure(*curves, method=method)
        rate_reason = rate.reason
        crossing = math.nan
        flat = _constant(test_points[metric])
        if flat is not None:
            crossing, crossing_reason = crossing_rate_with_reason(
                anchor_points["bpp"], anchor_points[metric], flat, method=method
            )
            rate_reason = (f"{test} {metric} is constant ({flat:g}) over QP, so no rate "
                           f"gives equal quality; bd_quality is the gain at equal rate, "
                           f"crossing_bpp the {'single-task' if anchor == 'single' else anchor} rate "
                           f"of equal {metric}")
            if crossing_reason:
                rate_reason += f" (crossing_bpp: {crossing_reason})"
        notes = [f"BD-rate: {rate_reason}"] if rate_reason else []
        notes += [f"BD-quality: {quality.reason}"] if quality.reason else []
        for note in notes:
            LOG.warning("%s %s: %s", sequence, metric, note)
        notes += [overlap_note(name, figure, axis) for name, figure, axis in
                  (("BD-rate", rate, metric), ("BD-quality", quality, "log BPP"))
                  if figure.low_overlap]
        rows[sequence] = {
            "bd_rate_percent": rate.value,
            RATE_OVERLAP: 100.0 * rate.overlap,
            "bd_quality": quality.value,
            QUALITY_OVERLAP: 100.0 * quality.overlap,
            "crossing_bpp": crossing,
            "points": f"{len(test_points)}/{len(anchor_points)}",
            "note": "; ".join(notes),
        }
    result = pd.DataFrame.from_dict(rows, orient="index", columns=BD_COLUMNS)
    if len(result) > 1:
        result.loc[AVERAGE] = _average_row(result)
    result.index.name = "sequence"
    return result


def overlap_note(name: str, figure: BdFigure, axis: str) -> str:
    """The mark of a BD figure whose curves overlap on less than :data:`LOW_OVERLAP`."""
    return (f"{name} integrates over {100 * figure.overlap:.0f}% of the {axis} range the curves "
            f"span (under {100 * LOW_OVERLAP:.0f}%)")


def _average_row(result: pd.DataFrame) -> dict:
    """The ``average`` row of :func:`bd_table` over its sequence rows."""
    notes = [
        f"{column}: {int(result[column].isna().sum())} of {len(result)} sequences undefined"
        for column in ("bd_rate_percent", "bd_quality")
        if result[column].isna().any()
    ]
    return {
        "bd_rate_percent": result["bd_rate_percent"].mean(skipna=False),
        # The weakest support of any sequence's figure is the average's.
        RATE_OVERLAP: result[RATE_OVERLAP].min(skipna=False),
        "bd_quality": result["bd_quality"].mean(skipna=False),
        QUALITY_OVERLAP: result[QUALITY_OVERLAP].min(skipna=False),
        # A BPP at which one sequence's curve crosses its own value: a mean over sequences
        # would be the rate of no sequence.
        "crossing_bpp": math.nan,
        "points": "",
        "note": "; ".join(notes),
    }


def bd_caption(metric: str, codec: str) -> str:
    """The caption of :func:`bd_table`'s file for ``metric``, saying what its columns mean."""
    return (
        f"BD-rate and BD-{metric} of multitask against single-task ({codec}): bd_rate_percent "
        f"the rate difference at equal {metric} (negative: multitask needs fewer bits), "
        f"bd_quality the mean {metric} difference at equal rate. Where multitask {metric} is "
        f"the same at every QP (as MOTA is: its boxes come from the original), BD-rate cannot "
        f"exist; crossing_bpp is then the single-task BPP at which it reaches the multitask "
        f"{metric}, to compare with the multitask BPP (Table 4). rate_overlap_percent and "
        f"quality_overlap_percent: the share of the {metric} range and of the log-BPP range "
        f"that both curves cover, over which each BD figure is averaged; under "
        f"{100 * LOW_OVERLAP:.0f}% (marked) the figure rests on a small part of either curve."
    )


def _constant(values: pd.Series) -> float | None:
    """The value of a curve whose finite values are all equal (at least two), else None."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if len(finite) >= 2 and np.unique(finite).size == 1:
        return float(finite[0])
    return None


def _prepare(rate_anchor, quality_anchor, rate_test, quality_test, method: str):
    """Both curves as finite (rate, quality) arrays, or the reason they cannot be used."""
    if method not in METHODS:
        raise ValueError(f"unknown BD method {method!r}; choose one of {', '.join(METHODS)}")
    curves = []
    for name, rates, qualities in (("anchor", rate_anchor, quality_anchor), ("test", rate_test, quality_test)):
        rates = np.asarray(rates, dtype=float).ravel()
        qualities = np.asarray(qualities, dtype=float).ravel()
        if rates.shape != qualities.shape:
            raise ValueError(f"{name} curve has {rates.size} rates but {qualities.size} qualities")
        # A missing metric at one QP (NaN) leaves the other points usable.
        finite = np.isfinite(rates) & np.isfinite(qualities)
        rates, qualities = rates[finite], qualities[finite]
        if (rates <= 0).any():
            return None, None, f"{name} curve has a rate <= 0 (log rate undefined)"
        needed = METHODS[method]
        if rates.size < needed:
            return None, None, f"{name} curve has {rates.size} finite points; {method} needs at least {needed}"
        curves.append((rates, qualities))
    return curves[0], curves[1], ""


def _check_axis(anchor_values: np.ndarray, test_values: np.ndarray, axis: str) -> str:
    """Why ``axis`` cannot be the independent variable of both curves, or ""."""
    for name, values in (("anchor", anchor_values), ("test", test_values)):
        if np.unique(values).size == 1:
            return f"{name} {axis} is constant ({values[0]:g}), so it cannot be interpolated over {axis}"
        if np.unique(values).size < values.size:
            return f"{name} curve repeats a {axis} value, so it cannot be interpolated over {axis}"
    low = max(anchor_values.min(), test_values.min())
    high = min(anchor_values.max(), test_values.max())
    if high <= low:
        return (
            f"{axis} ranges do not overlap (anchor {anchor_values.min():g}..{anchor_values.max():g}, "
            f"test {test_values.min():g}..{test_values.max():g})"
        )
    return ""


def _call(function, anchor, test, method: str, order: int) -> tuple[float, bool]:
    """Run a ``bjontegaard`` function on curves sorted by their independent variable; return
    its value and whether it warned that the curves overlap on less than :data:`LOW_OVERLAP`.

    ``order`` is the index (0 rate, 1 quality) of the independent variable. The package needs
    it increasing (PCHIP requires it; it only reverses fully descending input).
    """
    arguments = []
    for rates, qualities in (anchor, test):
        permutation = np.argsort((rates, qualities)[order], kind="stable")
        arguments += [rates[permutation], qualities[permutation]]
    # Partial overlap is allowed (the integral covers the common range only), but not hidden:
    # this call's low-overlap warning is caught and returned, to mark the figure; any other
    # warning is passed on.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = function(*arguments, method=method, require_matching_points=False,
                         min_overlap=LOW_OVERLAP)
    low_overlap = False
    for warning in caught:
        if str(warning.message).startswith(OVERLAP_WARNING):
            low_overlap = True
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return float(value), low_overlap
