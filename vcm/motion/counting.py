"""Repetition counting from the periodicity of a body signal, with hysteresis; no training.

Each signal of :data:`vcm.motion.features.SIGNALS` has its own :class:`RepCounter`. A counter
keeps the signal's last ``history`` values; their minimum and maximum set two thresholds, at
``low`` and ``high`` of the way up the range. The signal is *down* once below the lower
threshold and *up* once above the upper one; between the two it keeps its state (the
hysteresis that keeps noise near one threshold from counting twice). One repetition is one
return from up to down: a squat counts when the person stands up again, an arm raise when
the arms come down. Nothing counts while the range is below ``min_range`` (standing still).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from vcm.motion.features import SIGNALS


class RepCounter:
    """Counts the cycles of one signal; see the module's description.

    Args:
        history: values kept for the range (frames; a few periods of the slowest motion).
        min_range: smallest peak-to-peak range that counts, in the signal's units.
        low, high: the thresholds as fractions of the range, 0 <= low < high <= 1.
    """

    def __init__(self, *, history: int, min_range: float, low: float = 0.35, high: float = 0.65):
        if not 0 <= low < high <= 1:
            raise ValueError(f"need 0 <= low < high <= 1, got {low} and {high}")
        self.values: deque[float] = deque(maxlen=max(2, int(history)))
        self.min_range = float(min_range)
        self.low, self.high = float(low), float(high)
        self.state: str | None = None
        self.count = 0

    @property
    def range(self) -> float:
        """Peak-to-peak range of the kept values (0 with fewer than two)."""
        return max(self.values) - min(self.values) if len(self.values) > 1 else 0.0

    def update(self, value: float) -> int:
        """Add the next value (NaN: a missing one, skipped); the count so far."""
        if math.isnan(value):
            return self.count
        self.values.append(float(value))
        if self.range < self.min_range:
            return self.count
        bottom = min(self.values)
        if value <= bottom + self.low * self.range:
            if self.state == "up":
                self.count += 1
            self.state = "down"
        elif value >= bottom + self.high * self.range:
            self.state = "up"
        return self.count


class SignalCounters:
    """One :class:`RepCounter` per signal of :data:`SIGNALS`, fed the mean of the last
    ``smooth`` frames' values (keypoint noise would otherwise widen the range and cross the
    thresholds); the count reported is that of the signal whose range is the largest share
    of its nominal range."""

    def __init__(self, *, history: int, smooth: int = 1, min_share: float = 0.25,
                 low: float = 0.35, high: float = 0.65):
        self.recent: deque[np.ndarray] = deque(maxlen=max(1, int(smooth)))
        self.nominal = np.array(list(SIGNALS.values()))
        self.counters = [RepCounter(history=history, min_range=min_share * nominal, low=low,
                                    high=high) for nominal in self.nominal]

    def update(self, signals: np.ndarray) -> int:
        """Add one frame's signals (:func:`vcm.motion.features.body_signals`); the count of
        the dominant signal so far."""
        self.recent.append(np.asarray(signals, dtype=np.float64))
        stacked = np.stack(self.recent)
        known = ~np.isnan(stacked)
        sums = np.where(known, stacked, 0.0).sum(axis=0)
        counts = known.sum(axis=0)
        smoothed = np.divide(sums, counts, out=np.full(len(sums), np.nan), where=counts > 0)
        for counter, value in zip(self.counters, smoothed, strict=True):
            counter.update(float(value))
        shares = [counter.range / nominal for counter, nominal in zip(self.counters, self.nominal)]
        return self.counters[int(np.argmax(shares))].count


def count_repetitions(signal, *, history: int, min_range: float, low: float = 0.35,
                      high: float = 0.65) -> int:
    """Repetitions in a whole signal sequence (a :class:`RepCounter` run over it)."""
    counter = RepCounter(history=history, min_range=min_range, low=low, high=high)
    for value in signal:
        counter.update(float(value))
    return counter.count
