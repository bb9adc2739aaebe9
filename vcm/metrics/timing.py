"""Run time as the paper counts it (Table 7): codec time is reported apart, never in totals."""

from __future__ import annotations


def multitask_seconds(detect: float, pose: float, track: float) -> float:
    """Multitask time: shared detection + pose without a detector + tracking without one."""
    return detect + pose + track


def single_task_seconds(
    pose_detect: float, pose: float, track_detect: float, track: float
) -> float:
    """Single-task time: pose with its own detector + tracking with its own detector."""
    return (pose_detect + pose) + (track_detect + track)


def codec_seconds(encode: float, decode: float) -> float:
    """Codec time (encode + decode), reported beside the task totals, not inside them."""
    return encode + decode
