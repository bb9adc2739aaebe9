"""Bjontegaard deltas between two rate-accuracy curves (VCEG-M33, with JCT-VC's PCHIP variant).

Here the "distortion" axis is a task accuracy (pose mAP or MOTA, in [0, 1] or below) instead
of PSNR, and the rate is bits per pixel. The interpolation and integration come from the
``bjontegaard`` package (FAU-LMS), whose ``pchip`` result matches the JVET CTC Excel sheet and
whose ``cubic`` result is the classic VCEG-M33 polynomial fit; this module adds the checks that
sweep data needs (too few points, repeated or constant accuracy, non-overlapping ranges,
non-finite values) and turns those into NaN with a logged reason instead of an exception or a
meaningless number.
"""

from __future__ import annotations

import logging
import math
import warnings

import bjontegaard
import numpy as np
import pandas as pd

from vcm.errors import VcmError
from vcm.tables import select_codec

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


def bd_table(summary: pd.DataFrame, metric: str, *, method: str = "pchip", codec: str | None = None) -> pd.DataFrame:
    """BD-rate and BD-quality of the multitask pipeline (test) against single-task (anchor)
    for ``metric`` ("pose_ap" or "mota") against ``bpp``, one row per sequence plus "average".

    Columns: ``bd_rate_percent`` (percent of the single-task rate), ``bd_quality`` (in the
    metric's unit), ``points`` (QPs used, multitask/single) and ``note`` (why a value is NaN;
    empty otherwise). The average row is the mean of the sequences' values, as the JVET CTC
    averages per-sequence BD-rates; it is NaN when any sequence's value is. ``codec`` picks the
    codec when the summary holds several.
    """
    if metric not in summary.columns:
        raise VcmError(f"summary has no column {metric!r}")
    table = select_codec(summary, codec)
    rows = {}
    for sequence, points in table.groupby("sequence", sort=True):
        anchor = points[points["pipeline"] == ANCHOR_PIPELINE].sort_values("qp")
        test = points[points["pipeline"] == TEST_PIPELINE].sort_values("qp")
        curves = (anchor["bpp"], anchor[metric], test["bpp"], test[metric])
        rate, rate_reason = bd_rate_with_reason(*curves, method=method)
        quality, quality_reason = bd_quality_with_reason(*curves, method=method)
        notes = [f"BD-rate: {rate_reason}"] if rate_reason else []
        notes += [f"BD-quality: {quality_reason}"] if quality_reason else []
        for note in notes:
            LOG.warning("%s %s: %s", sequence, metric, note)
        rows[sequence] = {
            "bd_rate_percent": rate,
            "bd_quality": quality,
            "points": f"{len(test)}/{len(anchor)}",
            "note": "; ".join(notes),
        }
    result = pd.DataFrame.from_dict(rows, orient="index", columns=["bd_rate_percent", "bd_quality", "points", "note"])
    average_notes = [
        f"{column}: {int(result[column].isna().sum())} of {len(result)} sequences undefined"
        for column in ("bd_rate_percent", "bd_quality")
        if result[column].isna().any()
    ]
    result.loc["average"] = {
        "bd_rate_percent": result["bd_rate_percent"].mean(skipna=False),
        "bd_quality": result["bd_quality"].mean(skipna=False),
        "points": "",
        "note": "; ".join(average_notes),
    }
    result.index.name = "sequence"
    return result


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
