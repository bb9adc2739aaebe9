"""The torchvision Faster R-CNN detector with random weights: a real forward pass on CPU.

Needs torch and torchvision (marker ``heavy``; `make test` runs these in .venv-heavy).
"""

from __future__ import annotations

import numpy as np
import pytest

from vcm.detectors import build_detector, detect_video
from vcm.errors import VcmError
from vcm.store import ModelFile, ModelSpec, ModelStore, file_sha256
from vcm.video import open_video, write_lossless_video

from clips import moving_square_frames

pytestmark = pytest.mark.heavy

MOBILENET = "fasterrcnn_mobilenet_v3_large_fpn"


def person_detector(**options):
    """A randomly initialised MobileNet Faster R-CNN whose classifier favours "person" (label
    1), so that the random proposals come out as person boxes with scores near 1."""
    import torch

    detector = build_detector(
        "torchvision", model=MOBILENET, weights="random", seed=0, device="cpu", min_score=0.0,
        **options,
    )
    with torch.no_grad():
        detector._network.roi_heads.box_predictor.cls_score.bias[1] = 20.0
    return detector


def frame(width: int, height: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_person_boxes_keeps_label_1_as_float64():
    import torch

    from vcm.detectors.torchvision_rcnn import person_boxes

    output = {
        "boxes": torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], dtype=torch.float32),
        "scores": torch.tensor([0.9, 0.8, 0.7]),
        "labels": torch.tensor([1, 3, 1]),  # person, car, person (COCO ids)
    }
    boxes, scores = person_boxes(output)
    assert boxes.dtype == scores.dtype == np.float64
    np.testing.assert_array_equal(boxes, [[1, 2, 3, 4], [9, 10, 11, 12]])
    np.testing.assert_allclose(scores, [0.9, 0.7], rtol=1e-6)
    empty = {"boxes": torch.zeros((0, 4)), "scores": torch.zeros(0),
             "labels": torch.zeros(0, dtype=torch.int64)}
    boxes, scores = person_boxes(empty)
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_random_weights_give_person_boxes_in_frame_pixels():
    detector = person_detector()
    # 200x100 is resized to 1333x666 inside the model: boxes in that space would pass 200.
    boxes, scores = detector.detect(frame(200, 100), 1)
    assert boxes.dtype == np.float64 and boxes.shape[1] == 4
    assert len(boxes) > 0 and len(boxes) == len(scores)
    assert (boxes[:, [0, 2]] >= 0).all() and (boxes[:, [0, 2]] <= 200).all()
    assert (boxes[:, [1, 3]] >= 0).all() and (boxes[:, [1, 3]] <= 100).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    assert ((scores > 0.99) & (scores <= 1.0)).all()


def test_the_same_seed_builds_the_same_network():
    first, second = person_detector(), person_detector()
    image = frame(160, 120)
    np.testing.assert_array_equal(first.detect(image, 1)[0], second.detect(image, 1)[0])


def test_a_batch_gives_what_single_frames_give():
    detector = person_detector()
    frames = [frame(160, 120, seed) for seed in (1, 2)]
    batched = detector.detect_batch(frames, [1, 2])
    for image, (boxes, scores) in zip(frames, batched):
        single_boxes, single_scores = detector.detect(image, 1)
        np.testing.assert_allclose(boxes, single_boxes, atol=1e-3)
        np.testing.assert_allclose(scores, single_scores, atol=1e-5)


def test_detect_video_batches_frames_and_applies_the_threshold(tmp_path):
    frames = moving_square_frames(96, 64, 5)
    path = tmp_path / "clip.mkv"
    write_lossless_video(iter(frames), path, width=96, height=64, fps=5)
    detector = person_detector(frames_per_batch=2)
    sequence = detect_video(open_video(path), detector, score_threshold=0.5, progress=False)
    assert [detections.frame for detections in sequence.frames] == [1, 2, 3, 4, 5]
    expected = [detector.detect(image, number) for number, image in enumerate(frames, 1)]
    for detections, (boxes, scores) in zip(sequence.frames, expected):
        kept = scores >= 0.5
        np.testing.assert_allclose(detections.boxes, boxes[kept], atol=1e-3)


def test_coco_weights_load_from_the_store(tmp_path):
    """A checkpoint in the store (here: the seed-3 random network's state) is what the
    detector runs: it detects exactly what the seed-3 network does."""
    import torch

    reference = build_detector("torchvision", model=MOBILENET, weights="random", seed=3,
                               device="cpu", min_score=0.0)
    weights = tmp_path / "mirror" / "models" / "torchvision" / "weights.pth"
    weights.parent.mkdir(parents=True)
    torch.save(reference._network.state_dict(), weights)
    spec = ModelSpec("torchvision", (ModelFile("weights.pth", "http://127.0.0.1:9/w",
                                               file_sha256(weights)),))
    store = ModelStore(cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror",
                       offline=True, models={"torchvision": spec})
    from vcm.detectors import torchvision_rcnn

    original = torchvision_rcnn.WEIGHTS[MOBILENET]
    torchvision_rcnn.WEIGHTS[MOBILENET] = spec.files["weights.pth"]
    try:
        loaded = build_detector("torchvision", model=MOBILENET, weights="coco", device="cpu",
                                min_score=0.0, store=store)
    finally:
        torchvision_rcnn.WEIGHTS[MOBILENET] = original
    image = frame(160, 120)
    np.testing.assert_array_equal(loaded.detect(image, 1)[0], reference.detect(image, 1)[0])
    assert loaded.describe()["weights"] == {"weights.pth": file_sha256(weights)}


def test_options_are_checked():
    with pytest.raises(VcmError, match="detector torchvision: option model must be one of "
                                       ".*; got 'resnet'"):
        build_detector("torchvision", model="resnet", weights="random")
    with pytest.raises(VcmError, match="option weights must be one of coco, random; "
                                       "got 'imagenet'"):
        build_detector("torchvision", model=MOBILENET, weights="imagenet")


def test_describe_names_model_weights_and_device():
    record = person_detector().describe()
    assert record["model"] == f"torchvision/{MOBILENET}"
    assert record["weights"] == "random (seed 0)"
    assert record["device"] == "cpu"
    assert record["torch"].startswith("2.")
