"""The mmpose HRNet-W32 estimator with random weights: a real forward pass on CPU.

Needs torch, mmengine, mmcv, mmdet and mmpose (marker ``heavy``; `make test` runs these in
.venv-heavy, whose mmcv is mmcv-lite).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from vcm.detections import DetectionSequence, FrameDetections
from vcm.errors import VcmError
from vcm.pose import build_pose_estimator, crop_windows, estimate_video, person_score
from vcm.store import ModelFile, ModelSpec, ModelStore, file_sha256
from vcm.video import open_video, write_lossless_video

pytestmark = pytest.mark.heavy

BOXES = np.array([[100.0, 50.0, 180.0, 300.0], [300.0, 20.0, 400.0, 340.0]])


@pytest.fixture(scope="module")
def estimator():
    return build_pose_estimator("hrnet", weights="random", seed=0, device="cpu",
                                flip_test=False)


def frame(seed: int = 0, width: int = 640, height: int = 360) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_one_pose_per_box_inside_its_crop_window(estimator):
    poses = estimator.estimate(frame(), BOXES, np.array([0.9, 0.8]))
    assert len(poses) == 2
    # mmpose's window: the box grown to 192:256 = 0.75 about its centre, times 1.25. Every
    # heatmap peak maps back inside it, in frame pixels (not crop pixels 0..192). A heatmap
    # with no positive value has no peak: mmpose puts it at heatmap pixel -1, score <= 0.
    windows = crop_windows(BOXES, padding=1.25, aspect=0.75)
    for keypoints, window in zip(poses, windows):
        assert keypoints.shape == (17, 3) and keypoints.dtype == np.float64
        assert ((keypoints[:, 2] >= 0) & (keypoints[:, 2] <= 1)).all()
        keypoints = keypoints[keypoints[:, 2] > 0]
        assert len(keypoints) >= 5
        assert (keypoints[:, 0] >= window[0] - 1).all() and (keypoints[:, 0] <= window[2] + 1).all()
        assert (keypoints[:, 1] >= window[1] - 1).all() and (keypoints[:, 1] <= window[3] + 1).all()


def test_crops_of_several_frames_share_a_batch_with_the_same_result(estimator):
    frames = [frame(1), frame(2)]
    boxes = [BOXES, BOXES[1:]]
    batched = estimator.estimate_batch(frames, boxes, [np.ones(2), np.ones(1)])
    assert [len(poses) for poses in batched] == [2, 1]
    for image, frame_boxes, poses in zip(frames, boxes, batched):
        for single, together in zip(estimator.estimate(image, frame_boxes, np.ones(len(frame_boxes))), poses):
            np.testing.assert_allclose(together, single, atol=1e-3)


def test_a_frame_without_boxes_gives_no_poses(estimator):
    assert estimator.estimate_batch([frame(), frame(1)], [np.zeros((0, 4)), BOXES[:1]],
                                    [np.zeros(0), np.ones(1)])[0] == []


def test_the_same_seed_builds_the_same_network(estimator):
    again = build_pose_estimator("hrnet", weights="random", seed=0, device="cpu",
                                 flip_test=False)
    image = frame()
    np.testing.assert_array_equal(again.estimate(image, BOXES, np.ones(2))[0],
                                  estimator.estimate(image, BOXES, np.ones(2))[0])


def test_estimate_video_multiplies_the_detector_score_in(estimator, tmp_path):
    frames = [frame(seed, 320, 240) for seed in range(3)]
    path = tmp_path / "clip.mkv"
    write_lossless_video(iter(frames), path, width=320, height=240, fps=5)
    boxes = np.array([[40.0, 30.0, 120.0, 220.0]])
    detections = DetectionSequence(
        320, 240, [FrameDetections(n, boxes, np.array([0.5])) for n in (1, 2, 3)],
        source="oracle",
    )
    poses = estimate_video(open_video(path), detections, estimator, progress=False)
    assert [pose.image_id for pose in poses] == [1, 2, 3]
    decoded = [np.asarray(image) for image in open_video(path)]
    for pose, image in zip(poses, decoded):
        keypoints = estimator.estimate(image, boxes, np.array([0.5]))[0]
        np.testing.assert_allclose(pose.keypoints, keypoints, atol=1e-6)
        assert pose.score == pytest.approx(person_score(keypoints[:, 2], 0.5))
        np.testing.assert_array_equal(pose.box, boxes[0])


def test_checkpoint_loads_from_the_store(estimator, tmp_path):
    """A checkpoint in the store (the seed-5 random network's state, in mmpose's
    {"state_dict": ...} layout) is what the estimator runs."""
    import torch

    reference = build_pose_estimator("hrnet", weights="random", seed=5, device="cpu",
                                     flip_test=False)
    path = checkpoint_path(tmp_path)
    torch.save({"meta": {"epoch": 210}, "state_dict": reference._model.state_dict()}, path)
    store = store_serving(path, tmp_path)
    loaded = build_pose_estimator("hrnet", weights="coco", device="cpu", flip_test=False,
                                  store=store)
    image = frame()
    np.testing.assert_array_equal(loaded.estimate(image, BOXES, np.ones(2))[0],
                                  reference.estimate(image, BOXES, np.ones(2))[0])
    assert loaded.describe()["weights"] == {path.name: file_sha256(path)}


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    import torch

    path = checkpoint_path(tmp_path)
    torch.save({"state_dict": {"conv.weight": torch.zeros(1)}}, path)
    with pytest.raises(VcmError, match=r"c78dce93_20200708.pth: does not fit td-hm_hrnet-w32"):
        build_pose_estimator("hrnet", weights="coco", device="cpu", store=store_serving(path, tmp_path))


def checkpoint_path(tmp_path):
    """Where a store mirrored at ``tmp_path/mirror`` keeps the HRNet checkpoint."""
    from vcm.pose import hrnet

    path = tmp_path / "mirror" / "models" / "mmpose" / hrnet.CHECKPOINTS[hrnet.CONFIG].filename
    path.parent.mkdir(parents=True)
    return path


def store_serving(path, tmp_path) -> ModelStore:
    """A store (mirror ``tmp_path/mirror``) that knows ``path`` by its sha256."""
    spec = ModelSpec("mmpose", (ModelFile(path.name, "http://127.0.0.1:9/h", file_sha256(path)),))
    return ModelStore(cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror",
                      offline=True, models={"mmpose": spec})


def test_mmcv_without_compiled_ops_gets_operators_that_raise(estimator):
    from vcm.pose.hrnet import MissingMmcvOperator

    operators = sys.modules["mmcv._ext"]
    if estimator.compiled_ops:  # the full mmcv: its real operators are there
        assert not getattr(operators, "vcm_stand_in", False)
    else:
        with pytest.raises(MissingMmcvOperator, match="'nms' was called.*mmcv-lite"):
            operators.nms()
    assert estimator.describe()["mmcv_compiled_ops"] == estimator.compiled_ops


def test_describe_names_config_weights_and_device(estimator):
    record = estimator.describe()
    assert record["model"] == "mmpose/td-hm_hrnet-w32_8xb64-210e_coco-256x192"
    assert record["weights"] == "random (seed 0)"
    assert record["device"] == "cpu"
    assert record["flip_test"] is False
    assert record["mmpose"] == "1.3.2"


def test_options_are_checked():
    with pytest.raises(VcmError, match="pose estimator hrnet: option weights must be one of "
                                       "coco, random; got 'imagenet'"):
        build_pose_estimator("hrnet", weights="imagenet")
    with pytest.raises(VcmError, match="option crops_per_batch must be at least 1"):
        build_pose_estimator("hrnet", weights="random", crops_per_batch=0)
