import pytest

from vcm.metrics.timing import codec_seconds, multitask_seconds, single_task_seconds


def test_multitask_counts_the_shared_detection_once():
    # Detection 12 s is shared; pose 30 s and tracking 0.5 s reuse its boxes.
    assert multitask_seconds(detect=12.0, pose=30.0, track=0.5) == pytest.approx(42.5)


def test_single_task_counts_each_tasks_own_detector():
    # Pose: its detector 9 s + 30 s; tracking: its detector 4 s + 0.5 s.
    assert single_task_seconds(pose_detect=9.0, pose=30.0, track_detect=4.0, track=0.5) == pytest.approx(43.5)


def test_codec_time_is_apart():
    assert codec_seconds(encode=7.5, decode=0.25) == pytest.approx(7.75)
