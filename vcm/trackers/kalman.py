"""Constant-velocity Kalman filter over boxes, batched over tracks (the JDE/DeepSORT filter).

The state of one track is 8 numbers ``(cx, cy, a, h, vcx, vcy, va, vh)``: the box center in
pixels, its aspect ratio ``a = width / height``, its height in pixels, and their velocities per
frame. The measurement is ``(cx, cy, a, h)``. Noise standard deviations scale with the box
height (``std_weight_position`` and ``std_weight_velocity`` of it), as in DeepSORT's and JDE's
``KalmanFilter``, so the filter behaves the same for near and far people.

In that filter the motion, measurement and noise matrices and the initial covariance never
couple different coordinates, so the 8 x 8 covariance only ever has nonzero entries between a
coordinate and its own velocity. Covariances are therefore stored exactly, as an array of shape
(N, 3, 4): per track, the position variances, the position-velocity covariances and the
velocity variances of the 4 coordinates (:func:`full_covariance` expands them). This makes a
frame a handful of elementwise numpy operations, with no per-track 4 x 4 solve.

Means have shape (N, 8). Methods never modify their arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHI2_INV_95 = {
    1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877, 5: 11.070, 6: 12.592, 7: 14.067, 8: 15.507,
    9: 16.919,
}
"""0.95 quantile of the chi-square distribution by degrees of freedom: the gating threshold on
the squared Mahalanobis distance (4 degrees of freedom for a full ``cx, cy, a, h`` measurement)."""

_ASPECT = 2  # index of the aspect ratio among cx, cy, a, h: its noise does not scale with height


def boxes_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """Convert (N, 4) ``x1, y1, x2, y2`` pixel boxes to (N, 4) ``cx, cy, width/height, height``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    xyah = np.empty_like(boxes)
    xyah[:, :2] = (boxes[:, :2] + boxes[:, 2:]) / 2
    xyah[:, 3] = boxes[:, 3] - boxes[:, 1]
    xyah[:, 2] = (boxes[:, 2] - boxes[:, 0]) / xyah[:, 3]
    return xyah


def xyah_to_boxes(xyah: np.ndarray) -> np.ndarray:
    """Convert (N, >=4) rows starting ``cx, cy, aspect, height`` to (N, 4) ``x1, y1, x2, y2``."""
    xyah = np.asarray(xyah, dtype=np.float64)
    half = np.empty((len(xyah), 2))
    half[:, 1] = xyah[:, 3] / 2
    half[:, 0] = xyah[:, 2] * half[:, 1]
    return np.concatenate([xyah[:, :2] - half, xyah[:, :2] + half], axis=1)


def full_covariance(covariances: np.ndarray) -> np.ndarray:
    """Expand (N, 3, 4) stored covariances to the (N, 8, 8) matrices they stand for."""
    full = np.zeros((len(covariances), 8, 8))
    coordinate = np.arange(4)
    full[:, coordinate, coordinate] = covariances[:, 0]
    full[:, coordinate, coordinate + 4] = covariances[:, 1]
    full[:, coordinate + 4, coordinate] = covariances[:, 1]
    full[:, coordinate + 4, coordinate + 4] = covariances[:, 2]
    return full


@dataclass(frozen=True)
class KalmanFilter:
    """Constant-velocity filter over ``cx, cy, a, h`` with height-scaled noise.

    Attributes:
        std_weight_position: position noise standard deviation, as a fraction of box height.
        std_weight_velocity: velocity noise standard deviation, as a fraction of box height.
    """

    std_weight_position: float = 1.0 / 20
    std_weight_velocity: float = 1.0 / 160

    def initiate(self, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start tracks at (N, 4) ``cx, cy, a, h`` measurements with zero velocity.

        Returns ``means`` (N, 8) and ``covariances`` (N, 3, 4).
        """
        measurements = np.asarray(measurements, dtype=np.float64).reshape(-1, 4)
        means = np.zeros((len(measurements), 8))
        means[:, :4] = measurements
        covariances = np.zeros((len(measurements), 3, 4))
        covariances[:, 0] = _height_scaled(measurements[:, 3], 2 * self.std_weight_position, 1e-2)
        covariances[:, 2] = _height_scaled(measurements[:, 3], 10 * self.std_weight_velocity, 1e-5)
        return means, covariances

    def predict(self, means: np.ndarray, covariances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance (N, 8) ``means`` and (N, 3, 4) ``covariances`` by one frame."""
        height = means[:, 3]
        predicted_means = means.copy()
        predicted_means[:, :4] += means[:, 4:]
        position, cross, velocity = covariances[:, 0], covariances[:, 1], covariances[:, 2]
        predicted = np.empty_like(covariances)
        # F P F^T + Q with F = [[1, 1], [0, 1]] per coordinate.
        predicted[:, 0] = (
            position + 2 * cross + velocity
            + _height_scaled(height, self.std_weight_position, 1e-2)
        )
        predicted[:, 1] = cross + velocity
        predicted[:, 2] = velocity + _height_scaled(height, self.std_weight_velocity, 1e-5)
        return predicted_means, predicted

    def project(self, means: np.ndarray, covariances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Measurement-space means (N, 4) and variances (N, 4), measurement noise included.

        The projected covariance is diagonal; its diagonal is returned.
        """
        noise = _height_scaled(means[:, 3], self.std_weight_position, 1e-1)
        return means[:, :4], covariances[:, 0] + noise

    def update(
        self, means: np.ndarray, covariances: np.ndarray, measurements: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct (N, 8) ``means``, (N, 3, 4) ``covariances`` with (N, 4) measurements by row."""
        projected_means, projected = self.project(means, covariances)
        position, cross, velocity = covariances[:, 0], covariances[:, 1], covariances[:, 2]
        position_gain = position / projected
        velocity_gain = cross / projected
        innovation = np.asarray(measurements, dtype=np.float64) - projected_means
        updated_means = means.copy()
        updated_means[:, :4] += position_gain * innovation
        updated_means[:, 4:] += velocity_gain * innovation
        # P - K S K^T per coordinate, with K = (position, cross) / S.
        updated = np.empty_like(covariances)
        updated[:, 0] = position - position_gain * position
        updated[:, 1] = cross - position_gain * cross
        updated[:, 2] = velocity - velocity_gain * cross
        return updated_means, updated

    def gating_distance(
        self, means: np.ndarray, covariances: np.ndarray, measurements: np.ndarray
    ) -> np.ndarray:
        """Squared Mahalanobis distances (N, M) from N track states to M ``cx, cy, a, h`` rows.

        Compare with ``CHI2_INV_95[4]`` to gate out unlikely pairs.
        """
        projected_means, projected = self.project(means, covariances)
        measurements = np.asarray(measurements, dtype=np.float64).reshape(-1, 4)
        difference = measurements[None, :, :] - projected_means[:, None, :]
        return np.sum(difference**2 / projected[:, None, :], axis=2)


def _height_scaled(height: np.ndarray, weight: float, aspect_std: float) -> np.ndarray:
    """(N, 4) variances: ``(weight * height)^2`` for cx, cy, h and ``aspect_std^2`` for a."""
    std = np.repeat((weight * height)[:, None], 4, axis=1)
    std[:, _ASPECT] = aspect_std
    return std**2
