"""Bjontegaard deltas between two rate-accuracy curves (VCEG-M33, with JCT-VC's PCHIP variant).

Here the "distortion" axis is a task accuracy (pose mAP or MOTA, in [0, 1] or below) instead
of PSNR, and the rate is bits per pixel. The interpolation and integration come from the
``bjontegaard`` package (FAU-LMS), whose ``pchip`` result matches the JVET CTC Excel sheet and
whose ``cubic`` result is the classic VCEG-M33 polynomial fit; this module adds the checks that
sweep data needs (too few points, repeated or constant accuracy, non-overlapping ranges,
non-finite values) and turns those into NaN with a logged reason instead of an exception or a
meaningless number.

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

import bjontegaard
import numpy as np
import pandas as pd
from scipy.interpolate import Akima1DInterpolator, PchipInterpolator
from scipy.optimize import brentq

from vcm.errors import VcmError
from vcm.experiment.tables import select_codec

LOG = logging.getLogger(__name__)

METHODS = {"pchip": 2, "akima": 2, "cubic": 4}
"""Interpolation methods and the fewest points each needs: a cubic polynomial has four
coefficients; PCHIP and Akima fall back to a straight line on two points."""

ANCHOR_PIPELINE = "single"
TEST_PIPELINE = "multitask"


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
    anchor, test, reason = _prepare(rate_anchor, quality_anchor, rate_test, quality_test, method)
    if reason:
        return math.nan, reason
    # Rate as a function of quality: the independent axis is quality.
    reason = _check_axis(anchor[1], test[1], "quality")
    if reason:
        return math.nan, reason
    return _call(bjontegaard.bd_rate, anchor, test, method, order=1), ""


def bd_quality_with_reason(
    rate_anchor, quality_anchor, rate_test, quality_test, *, method: str = "pchip"
) -> tuple[float, str]:
    """:func:`bd_quality` and why it is NaN ("" when it is a number), without logging."""
    anchor, test, reason = _prepare(rate_anchor, quality_anchor, rate_test, quality_test, method)
    if reason:
        return math.nan, reason
    reason = _check_axis(anchor[0], test[0], "rate")
    if reason:
        return math.nan, reason
    return _call(bjontegaard.bd_psnr, anchor, test, method, order=0), ""


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


def bd_table(
    summary: pd.DataFrame, metric: str, *, method: str = "pchip", codec: str | None = None,
    test: str = TEST_PIPELINE, anchor: str = ANCHOR_PIPELINE,
) -> pd.DataFrame:
    """BD-rate and BD-quality of the ``test`` pipeline (default multitask) against the
    ``anchor`` (default single-task) for ``metric`` ("pose_ap" or "mota") against ``bpp``,
    one row per sequence plus "average".

    Columns: ``bd_rate_percent`` (percent of the single-task rate), ``bd_quality`` (in the
    metric's unit), ``crossing_bpp`` (only where the multitask value is the same at every QP,
    as MOTA is: the single-task BPP of that value, :func:`crossing_rate`; else NaN),
    ``points`` (QPs used, multitask/single) and ``note`` (why a value is NaN, or what a flat
    multitask curve means; empty otherwise). The average row is the mean of the sequences'
    values, as the JVET CTC averages per-sequence BD-rates; it is NaN when any sequence's value
    is. ``codec`` picks the codec when the summary holds several. Sequences without any value
    of ``metric`` (no ground truth for that task) are left out.
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
        rate, rate_reason = bd_rate_with_reason(*curves, method=method)
        quality, quality_reason = bd_quality_with_reason(*curves, method=method)
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
        notes += [f"BD-quality: {quality_reason}"] if quality_reason else []
        for note in notes:
            LOG.warning("%s %s: %s", sequence, metric, note)
        rows[sequence] = {
            "bd_rate_percent": rate,
            "bd_quality": quality,
            "crossing_bpp": crossing,
            "points": f"{len(test_points)}/{len(anchor_points)}",
            "note": "; ".join(notes),
        }
    columns = ["bd_rate_percent", "bd_quality", "crossing_bpp", "points", "note"]
    result = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    average_notes = [
        f"{column}: {int(result[column].isna().sum())} of {len(result)} sequences undefined"
        for column in ("bd_rate_percent", "bd_quality")
        if result[column].isna().any()
    ]
    result.loc["average"] = {
        "bd_rate_percent": result["bd_rate_percent"].mean(skipna=False),
        "bd_quality": result["bd_quality"].mean(skipna=False),
        # A BPP at which one sequence's curve crosses its own value: a mean over sequences
        # would be the rate of no sequence.
        "crossing_bpp": math.nan,
        "points": "",
        "note": "; ".join(average_notes),
    }
    result.index.name = "sequence"
    return result


def bd_caption(metric: str, codec: str) -> str:
    """The caption of :func:`bd_table`'s file for ``metric``, saying what its columns mean."""
    return (
        f"BD-rate and BD-{metric} of multitask against single-task ({codec}): bd_rate_percent "
        f"the rate difference at equal {metric} (negative: multitask needs fewer bits), "
        f"bd_quality the mean {metric} difference at equal rate. Where multitask {metric} is "
        f"the same at every QP (as MOTA is: its boxes come from the original), BD-rate cannot "
        f"exist; crossing_bpp is then the single-task BPP at which it reaches the multitask "
        f"{metric}, to compare with the multitask BPP (Table 4)."
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


def _call(function, anchor, test, method: str, order: int) -> float:
    """Run a ``bjontegaard`` function on curves sorted by their independent variable.

    ``order`` is the index (0 rate, 1 quality) of the independent variable. The package needs
    it increasing (PCHIP requires it; it only reverses fully descending input).
    """
    arguments = []
    for rates, qualities in (anchor, test):
        permutation = np.argsort((rates, qualities)[order], kind="stable")
        arguments += [rates[permutation], qualities[permutation]]
    with warnings.catch_warnings():
        # Partial overlap is allowed here (the integral covers the common range only);
        # the package would warn below 75%.
        warnings.simplefilter("ignore", UserWarning)
        value = function(*arguments, method=method, require_matching_points=False, min_overlap=0)
    return float(value)
