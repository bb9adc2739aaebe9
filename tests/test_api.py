"""vcm.api.multitask: the stages chained on one video give what the commands give."""

import numpy as np
import pytest

import vcm.api
from vcm.detectors import build_detector, detect_video
from vcm.foreground import write_foreground_video
from vcm.detformats.voc_zip import write_detections_zip
from vcm.pose import build_pose_estimator, estimate_video
from vcm.synth import synthesize_sequence
from vcm.trackers import track_sequence
from vcm.trackers.iou import IouTracker
from vcm.video import open_video


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "sample"
    synthesize_sequence(root, frames=6, width=320, height=240, people=2, seed=3, progress=False)
    return root


def test_multitask_equals_the_commands_one_stage_at_a_time(sample, tmp_path):
    result = vcm.api.multitask(sample, detector="oracle", detector_options={"sequence": sample},
                               estimator="blazepose", tracker="iou")
    # The same stages, run one at a time through files as the commands run them.
    detections = detect_video(open_video(sample), build_detector("oracle", sequence=sample),
                              score_threshold=0.6, progress=False)
    assert [f.boxes.tolist() for f in result.detections] == [f.boxes.tolist() for f in detections]
    assert result.detections.count == 12  # two people in each of the 6 frames
    zip_path, foreground = tmp_path / "detections.zip", tmp_path / "foreground.mkv"
    write_detections_zip(detections, zip_path)
    write_foreground_video(sample, zip_path, foreground, progress=False)
    poses = estimate_video(open_video(foreground), detections, build_pose_estimator("blazepose"),
                           progress=False)
    assert len(result.poses) == len(poses) > 0
    for ours, theirs in zip(result.poses, poses):
        assert ours.image_id == theirs.image_id
        assert np.array_equal(ours.keypoints, theirs.keypoints)
    tracks = track_sequence(detections, IouTracker(), fps=open_video(sample).info.fps)
    assert [f.ids.tolist() for f in result.tracks] == [f.ids.tolist() for f in tracks]
    assert [f.ids.tolist() for f in result.tracks][:2] == [[], [1, 2]]
    assert set(result.seconds) == {"detect", "foreground", "pose", "track"}
    assert result.masks == []


def test_a_task_left_out_is_not_run(sample):
    result = vcm.api.multitask(sample, detector="oracle", detector_options={"sequence": sample},
                               estimator=None, tracker=None)
    assert result.poses == [] and len(result.tracks) == 0
    assert set(result.seconds) == {"detect", "foreground"}
