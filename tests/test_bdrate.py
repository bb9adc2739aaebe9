import logging
import math
import warnings

import numpy as np
import pytest
from pytest import approx

from vcm.experiment.bdrate import (
    BdFigure,
    bd_caption,
    bd_quality_figure,
    bd_rate_figure,
    overlap_share,
    bd_quality,
    bd_quality_with_reason,
    bd_rate,
    bd_rate_with_reason,
    bd_table,
    crossing_rate,
    crossing_rate_with_reason,
)
from vcm.errors import VcmError

from summaries import hand_made_summary

# VCEG-M33's example curves, with the cubic-fit results asserted by the C++ port of the ETRO
# reference implementation (tbr/bjontegaard_cpp, example.cpp): BD-PSNR 0.800713 dB,
# BD-rate -13.261773 % (6 decimals).
M33_ANCHOR = ([90.33, 181.03, 332.99, 547.79], [27.95, 31.17, 34.44, 38.11])
M33_TEST = ([127.1719, 186.14, 307.2924, 481.5588], [29.9286, 32.4165, 34.7013, 37.4561])

# JCTVC-E137 data with the PCHIP BD-rates pinned by Netflix VMAF's tests
# (python/test/bd_rate_calculator_test.py, BDrateCalculatorJCTVCTest, given as fractions).
E137_CASES = [
    (
        [(108048.8736, 43.6471), (61279.976, 40.3953), (33905.6656, 37.247), (18883.6928, 34.2911)],
        [(108061.2784, 43.6768), (61299.9936, 40.4232), (33928.7472, 37.2761), (18910.912, 34.3147)],
        -0.00465215420752807 * 100,
    ),
    (
        [(40433.8848, 37.5761), (7622.7456, 35.3756), (2394.488, 33.8977), (1017.6184, 32.0603)],
        [(40370.12, 37.5982), (7587.0024, 35.4025), (2390.0944, 33.9194), (1017.0984, 32.0822)],
        -0.018779823450567612 * 100,
    ),
]

RATES = [0.5, 0.2, 0.1, 0.05, 0.03]
ACCURACY = [0.9, 0.8, 0.65, 0.5, 0.3]


def test_vceg_m33_cubic_reference():
    assert bd_rate(*M33_ANCHOR, *M33_TEST, method="cubic") == approx(-13.261773, abs=5e-7)
    assert bd_quality(*M33_ANCHOR, *M33_TEST, method="cubic") == approx(0.800713, abs=5e-7)


@pytest.mark.parametrize(("anchor", "test", "expected"), E137_CASES)
def test_jctvc_e137_pchip_reference(anchor, test, expected):
    rate_anchor, quality_anchor = zip(*anchor)
    rate_test, quality_test = zip(*test)
    assert bd_rate(rate_anchor, quality_anchor, rate_test, quality_test) == approx(expected, abs=1e-9)


@pytest.mark.parametrize("method", ["pchip", "cubic", "akima"])
def test_rates_scaled_by_0_9_give_exactly_minus_10_percent(method):
    scaled = [0.9 * rate for rate in RATES]
    assert bd_rate(RATES, ACCURACY, scaled, ACCURACY, method=method) == approx(-10.0, abs=1e-9)
    # Same accuracy at 0.9x the rate: +11.1...% the other way round.
    assert bd_rate(scaled, ACCURACY, RATES, ACCURACY, method=method) == approx(100 / 0.9 - 100, abs=1e-9)


@pytest.mark.parametrize("method", ["pchip", "cubic", "akima"])
def test_accuracy_shifted_by_a_constant_gives_that_constant(method):
    shifted = [value + 0.05 for value in ACCURACY]
    assert bd_quality(RATES, ACCURACY, RATES, shifted, method=method) == approx(0.05, abs=1e-12)
    assert bd_quality(RATES, shifted, RATES, ACCURACY, method=method) == approx(-0.05, abs=1e-12)


def test_identical_curves_give_zero():
    assert bd_rate(RATES, ACCURACY, RATES, ACCURACY) == approx(0.0, abs=1e-12)
    assert bd_quality(RATES, ACCURACY, RATES, ACCURACY) == approx(0.0, abs=1e-12)


def test_point_order_does_not_matter():
    order = [3, 0, 4, 1, 2]
    shuffled_rates = [RATES[i] for i in order]
    shuffled_accuracy = [ACCURACY[i] for i in order]
    test_rates = [0.8 * rate for rate in RATES]
    expected = bd_rate(RATES, ACCURACY, test_rates, ACCURACY)
    assert bd_rate(shuffled_rates, shuffled_accuracy, test_rates, ACCURACY) == approx(expected)
    assert expected == approx(-20.0)


def test_two_points_pchip_is_linear():
    # Anchor: log10(rate) linear in quality, 0.12 at 0.6 and 1.2 at 0.9 (one decade per 0.3);
    # test: 0.06 at 0.7, 0.3 at 0.8. Over the common quality range 0.7..0.8 both lines average
    # to their value at 0.75: anchor 0.12 * 10**0.5, test 0.06 * 5**0.5, ratio 2**-1.5.
    assert bd_rate([1.2, 0.12], [0.9, 0.6], [0.3, 0.06], [0.8, 0.7]) == approx(100 * (2**-1.5 - 1))


def test_missing_point_is_left_out():
    with_nan = ACCURACY[:2] + [float("nan")] + ACCURACY[3:]
    shifted = [value + 0.05 for value in ACCURACY]
    assert bd_quality(RATES, with_nan, RATES, shifted) == approx(
        bd_quality(RATES[:2] + RATES[3:], ACCURACY[:2] + ACCURACY[3:], RATES, shifted)
    )


def test_too_few_points_for_cubic_is_nan(caplog):
    with caplog.at_level(logging.WARNING, logger="vcm.experiment.bdrate"):
        value = bd_rate(RATES[:3], ACCURACY[:3], RATES[:3], ACCURACY[:3], method="cubic")
    assert math.isnan(value)
    assert "anchor curve has 3 finite points; cubic needs at least 4" in caplog.text
    assert not math.isnan(bd_rate(RATES[:3], ACCURACY[:3], RATES[:3], ACCURACY[:3], method="pchip"))
    value, reason = bd_rate_with_reason(RATES[:1], ACCURACY[:1], RATES, ACCURACY)
    assert math.isnan(value) and reason == "anchor curve has 1 finite points; pchip needs at least 2"


def test_constant_accuracy_has_no_bd_rate_but_a_bd_quality():
    # Multitask MOTA does not change with QP: rate is not a function of it.
    constant = [0.7] * len(RATES)
    value, reason = bd_rate_with_reason(RATES, ACCURACY, RATES, constant)
    assert math.isnan(value)
    assert reason == "test quality is constant (0.7), so it cannot be interpolated over quality"
    # Against the rate it is a flat line; the anchor's PCHIP over the same rates is compared.
    assert not math.isnan(bd_quality(RATES, ACCURACY, RATES, constant))


def test_repeated_accuracy_is_nan():
    value, reason = bd_rate_with_reason(RATES, [0.9, 0.8, 0.8, 0.5, 0.3], RATES, ACCURACY)
    assert math.isnan(value) and reason == "anchor curve repeats a quality value, so it cannot be interpolated over quality"


def test_non_overlapping_ranges_are_nan():
    low_accuracy = [value - 1.0 for value in ACCURACY]
    value, reason = bd_rate_with_reason(RATES, ACCURACY, RATES, low_accuracy)
    assert math.isnan(value) and reason.startswith("quality ranges do not overlap (anchor 0.3..0.9, test -0.7..-0.1)")
    high_rates = [rate * 100 for rate in RATES]
    value, reason = bd_quality_with_reason(RATES, ACCURACY, high_rates, ACCURACY)
    assert math.isnan(value) and reason.startswith("rate ranges do not overlap")


def test_non_positive_rate_is_nan():
    value, reason = bd_rate_with_reason([0.0] + RATES[1:], ACCURACY, RATES, ACCURACY)
    assert math.isnan(value) and reason == "anchor curve has a rate <= 0 (log rate undefined)"


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown BD method 'linear'"):
        bd_rate(RATES, ACCURACY, RATES, ACCURACY, method="linear")
    with pytest.raises(ValueError, match="test curve has 5 rates but 4 qualities"):
        bd_quality(RATES, ACCURACY, RATES, ACCURACY[:4])


def test_bd_table_pose_worked_by_hand():
    table = bd_table(hand_made_summary(), "pose_ap")
    assert table.index.tolist() == ["a", "b", "average"]
    assert table.columns.tolist() == ["bd_rate_percent", "rate_overlap_percent", "bd_quality",
                                      "quality_overlap_percent", "crossing_bpp", "points", "note"]
    # Multitask pose AP changes with QP: no crossing rate.
    assert table["crossing_bpp"].isna().all()
    # Two QPs: PCHIP is a straight line, and a line's mean over an interval is its midpoint.
    # a, BD-rate: see test_two_points_pchip_is_linear.
    assert table.loc["a", "bd_rate_percent"] == approx(100 * (2**-1.5 - 1))
    # a, BD-quality over log10 rate from log10(0.12) to log10(0.3), midpoint m:
    # single 0.6 + 0.3 * (m - log10 0.12) = 0.6 + 0.15 log10 2.5;
    # multitask 0.7 + 0.1 * (m - log10 0.06) / log10 5 = 0.7 + 0.05 / log10 5.
    expected_a = 0.1 + 0.05 / np.log10(5) - 0.15 * np.log10(2.5)
    assert table.loc["a", "bd_quality"] == approx(expected_a)
    # b: single log10 rate 0.24 -> 2.4 over 0.35 -> 0.7; multitask 0.048 -> 0.6 over 0.5 -> 0.6.
    # BD-rate over quality 0.5..0.6, midpoint 0.55: single 0.24 * 10**(0.2/0.35),
    # multitask 0.048 * 12.5**0.5.
    expected_rate_b = 0.048 * 12.5**0.5 / (0.24 * 10 ** (0.2 / 0.35))
    assert table.loc["b", "bd_rate_percent"] == approx(100 * (expected_rate_b - 1))
    assert table.loc["average", "bd_rate_percent"] == approx(
        (table.loc["a", "bd_rate_percent"] + table.loc["b", "bd_rate_percent"]) / 2
    )
    assert table.loc["a", "points"] == "2/2"
    # Overlaps. a: pose AP single 0.6..0.9, multitask 0.7..0.8: 0.1 of 0.3; log10 BPP single
    # 0.12..1.2, multitask 0.06..0.3: log10 2.5 of log10 20. b: 0.1 of 0.35 (0.35..0.7 and
    # 0.5..0.6); log10 2.5 (0.24..0.6) of log10 50 (0.048..2.4). The average: the smallest.
    assert table["rate_overlap_percent"].tolist() == approx([100 / 3, 100 / 3.5, 100 / 3.5])
    assert table["quality_overlap_percent"].tolist() == approx(
        [100 * np.log10(2.5) / np.log10(20), 100 * np.log10(2.5) / np.log10(50),
         100 * np.log10(2.5) / np.log10(50)])
    # All under 50%: each sequence's note marks both figures; the average has no note of its own.
    assert table.loc["a", "note"] == (
        "BD-rate integrates over 33% of the pose_ap range the curves span (under 50%); "
        "BD-quality integrates over 31% of the log BPP range the curves span (under 50%)")
    assert table.loc["b", "note"].startswith("BD-rate integrates over 29% of the pose_ap range")
    assert table.loc["average", "note"] == ""


def test_bd_table_mota_constant_multitask(caplog):
    table = bd_table(hand_made_summary(), "mota")
    assert math.isnan(table.loc["a", "bd_rate_percent"])
    assert table.loc["a", "note"] == (
        "BD-rate: multitask mota is constant (0.75) over QP, so no rate gives equal quality; "
        "bd_quality is the gain at equal rate, crossing_bpp the single-task rate of equal mota; "
        "BD-quality integrates over 31% of the log BPP range the curves span (under 50%)"
    )
    # No BD-rate, so no overlap for it either.
    assert math.isnan(table.loc["a", "rate_overlap_percent"])
    assert math.isnan(table.loc["average", "bd_rate_percent"])
    assert table.loc["average", "note"] == "bd_rate_percent: 2 of 2 sequences undefined"
    # Multitask MOTA is flat (0.75 for a, 0.5 for b); single-task is a line over log10 rate,
    # 0.4 -> 0.8 over one decade for a (0.45 -> 0.6 for b), evaluated at the midpoint of the
    # common range log10(0.12)..log10(0.3) (b: log10(0.24)..log10(0.6)).
    expected_a = 0.75 - (0.4 + 0.2 * np.log10(2.5))
    expected_b = 0.5 - (0.45 + 0.075 * np.log10(2.5))
    assert table.loc["a", "bd_quality"] == approx(expected_a)
    assert table.loc["b", "bd_quality"] == approx(expected_b)
    assert table.loc["average", "bd_quality"] == approx((expected_a + expected_b) / 2)
    assert "a mota: BD-rate: multitask mota is constant" in caplog.text
    # Crossing: single-task MOTA is the same line over log10 rate. a: 0.4 + 0.4 (x - log10
    # 0.12) = 0.75 at x = log10 0.12 + 0.875; b: 0.45 + 0.15 (x - log10 0.24) = 0.5 at
    # x = log10 0.24 + 1/3. Multitask a and b reach the same MOTA at 0.06 and 0.048 BPP.
    assert table.loc["a", "crossing_bpp"] == approx(0.12 * 10**0.875)
    assert table.loc["b", "crossing_bpp"] == approx(0.24 * 10 ** (1 / 3))
    assert math.isnan(table.loc["average", "crossing_bpp"])


def test_crossing_rate_takes_the_lowest_crossing_of_a_bent_curve():
    # Single-task MOTA rises then falls (as the synthetic sample's does): four points of the
    # parabola -0.5 x^2 + 0.1 x + 0.8 over x = log10 rate = -1, 0, 0.5, 1 (MOTA 0.2, 0.8,
    # 0.725, 0.4). The cubic fit is that parabola; it reaches 0.5 at x = 0.1 -+ sqrt(0.61),
    # and the lower root is the answer.
    rates, mota_values = [0.1, 1.0, 10**0.5, 10.0], [0.2, 0.8, 0.725, 0.4]
    crossing = crossing_rate(rates, mota_values, 0.5, method="cubic")
    assert crossing == approx(10 ** (0.1 - math.sqrt(0.61)))
    # PCHIP keeps each piece between its ends: the lowest crossing lies between 0.1 and 1.
    pchip = crossing_rate(rates, mota_values, 0.5)
    assert 0.1 < pchip < 1.0
    # Never reached, or reached already at the lowest rate: NaN and why.
    value, reason = crossing_rate_with_reason(rates, mota_values, 0.9)
    assert math.isnan(value)
    assert reason == "single-task stays below 0.9 at every rate measured (at most 0.8)"
    value, reason = crossing_rate_with_reason(rates[:1], mota_values[:1], 0.5)
    assert reason == "single-task curve has 1 finite points; pchip needs at least 2"
    value, reason = crossing_rate_with_reason(rates, mota_values, 0.1)
    assert math.isnan(value)
    assert reason == "single-task is above 0.1 already at its lowest rate 0.1"
    assert crossing_rate(rates, mota_values, 0.2) == approx(0.1)


def test_bd_caption_says_why_mota_has_no_bd_rate():
    caption = bd_caption("mota", "vvenc")
    assert "BD-rate cannot exist" in caption and "crossing_bpp" in caption

def test_bd_table_unknown_metric():
    with pytest.raises(VcmError, match="summary has no column 'psnr'"):
        bd_table(hand_made_summary(), "psnr")


def test_bd_table_leaves_out_a_sequence_without_the_metric():
    # Issue 10: b has no tracking ground truth (track_gt: null).
    summary = hand_made_summary()
    summary.loc[summary["sequence"] == "b", "mota"] = float("nan")
    table = bd_table(summary, "mota")
    # One sequence left: its row, and no "average" that would only repeat it.
    assert table.index.tolist() == ["a"]


def test_overlap_share_worked_by_hand():
    # [0.2, 0.6] and [0.4, 0.8] share [0.4, 0.6]: 0.2 of the union's 0.6.
    assert overlap_share([0.2, 0.4, 0.6], [0.8, 0.4]) == approx(1 / 3)
    # Nested: [0.25, 0.5] inside [0, 1] covers a quarter of it; order does not matter.
    assert overlap_share([0.25, 0.5], [1.0, 0.0]) == approx(0.25)
    assert overlap_share([0.0, 1.0], [0.0, 1.0]) == 1.0
    # Disjoint, or touching at one point: nothing in common.
    assert overlap_share([0.1, 0.2], [0.3, 0.4]) == 0.0
    assert overlap_share([0.1, 0.2], [0.2, 0.4]) == 0.0
    # NaN points are left out; an empty range or a union of no width has no share.
    assert overlap_share([0.2, float("nan"), 0.6], [0.4, 0.8]) == approx(1 / 3)
    assert math.isnan(overlap_share([], [0.4, 0.8]))
    assert math.isnan(overlap_share([0.5, 0.5], [0.5]))


def test_low_overlap_is_marked_from_the_package_warning_and_not_leaked():
    rates = [0.1, 0.2, 0.4]
    # Qualities 0.2..0.6 against 0.4..0.8: BD-rate averages over a third of the range.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the package's warning must not escape
        low = bd_rate_figure(rates, [0.2, 0.4, 0.6], rates, [0.4, 0.6, 0.8])
    assert low.overlap == approx(1 / 3) and low.low_overlap and low.reason == ""
    assert math.isfinite(low.value)
    # 0.2..0.7 against 0.3..0.8: 0.4 of 0.6, two thirds: not marked.
    high = bd_rate_figure(rates, [0.2, 0.45, 0.7], rates, [0.3, 0.55, 0.8])
    assert high.overlap == approx(2 / 3) and not high.low_overlap
    # BD-quality's share is of the log10-rate range: 0.1..0.4 against 0.2..0.8 share
    # log10 2 of log10 8, a third.
    quality = bd_quality_figure(rates, [0.2, 0.4, 0.6], [0.2, 0.4, 0.8], [0.2, 0.4, 0.6])
    assert quality.overlap == approx(1 / 3) and quality.low_overlap
    # Undefined figures carry no overlap.
    flat = bd_rate_figure(rates, [0.5, 0.5, 0.5], rates, [0.4, 0.6, 0.8])
    assert isinstance(flat, BdFigure) and math.isnan(flat.value) and math.isnan(flat.overlap)
    assert flat.reason == "anchor quality is constant (0.5), so it cannot be interpolated over quality"
    assert not flat.low_overlap
