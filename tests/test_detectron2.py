"""The detectron2 detector: resize arithmetic, options, the model store entry and the missing
package error (no marker); Instances -> person boxes on torch tensors (``heavy``); the real
network with random weights (``detectron2``, needs detectron2 installed)."""

from __future__ import annotations

import hashlib
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import vcm.frameworks
from vcm.detectors.base import DETECTORS, detect_video, frames_per_batch
from vcm.detectors.detectron2 import (
    CONFIGS,
    WEIGHTS_FILES,
    Detectron2Detector,
    instances_to_person_boxes,
    shortest_edge_size,
)
from vcm.errors import VcmError
from vcm.store import MODELS, ModelStore
from vcm.video import open_video

X101 = "COCO-Detection/faster_rcnn_X_101_32x8d_FPN_3x"
R50 = "COCO-Detection/faster_rcnn_R_50_FPN_3x"


# shortest_edge_size: detectron2's test resize, 800 / 1333, worked out by hand as (h, w).

@pytest.mark.parametrize(
    ("height", "width", "expected"),
    [
        # 1920x1080: 800 / 1080 scales the width to 1422.2 > 1333, so the width is capped:
        # height 800 * 1333 / 1422.2 = 749.8 -> 750, width 1333.
        (1080, 1920, (750, 1333)),
        # Portrait 1080x1920: the same numbers transposed.
        (1920, 1080, (1333, 750)),
        # 3840x2160 has the 1080p aspect ratio: the same output.
        (2160, 3840, (750, 1333)),
        # PETS09 768x576: 768 * 800 / 576 = 1066.7 <= 1333 -> int(1067.2) = 1067.
        (576, 768, (800, 1067)),
        # CIF 352x288: 352 * 800 / 288 = 977.8 -> 978.
        (288, 352, (800, 978)),
        # Square: both sides 800.
        (64, 64, (800, 800)),
        # 1000x100: 8x makes the width 8000, capped to 1333 (scale 0.166625): height
        # 800 * 0.166625 = 133.3 -> 133.
        (100, 1000, (133, 1333)),
    ],
)
def test_shortest_edge_size_hand_worked(height, width, expected):
    assert shortest_edge_size(height, width, 800, 1333) == expected


def test_shortest_edge_size_rounds_halves_up():
    # 5x2 to a shortest edge of 1: width 2.5 -> int(2.5 + 0.5) = 3 (Python's round gives 2).
    assert shortest_edge_size(2, 5, 1, 1333) == (1, 3)


def test_shortest_edge_size_zero_keeps_the_size():
    assert shortest_edge_size(49, 65, 0, 1333) == (49, 65)


# Options, registration and the model store entry: no torch, no detectron2.

def test_registered_with_its_requirements():
    assert DETECTORS.get("detectron2") is Detectron2Detector
    assert Detectron2Detector.name == "detectron2"
    assert Detectron2Detector.requirements == ("torch", "detectron2")


def test_model_store_entry_has_both_model_zoo_files():
    spec = MODELS["detectron2"]
    assert CONFIGS == (X101, R50)
    assert {name: (spec.file(name).url, spec.file(name).sha256) for name in spec.files} == {
        "faster_rcnn_X_101_32x8d_FPN_3x-model_final_68b088.pkl": (
            "https://dl.fbaipublicfiles.com/detectron2/COCO-Detection/"
            "faster_rcnn_X_101_32x8d_FPN_3x/139173657/model_final_68b088.pkl",
            None,
        ),
        "faster_rcnn_R_50_FPN_3x-model_final_280758.pkl": (
            "https://dl.fbaipublicfiles.com/detectron2/COCO-Detection/"
            "faster_rcnn_R_50_FPN_3x/137849458/model_final_280758.pkl",
            None,
        ),
    }
    assert {config: spec.file(WEIGHTS_FILES[config].filename) for config in CONFIGS} == (
        WEIGHTS_FILES
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"config": "COCO-Detection/retinanet_R_50_FPN_3x"},
         f"unknown detectron2 config 'COCO-Detection/retinanet_R_50_FPN_3x'; "
         f"choose one of: {X101}, {R50}"),
        ({"weights": "imagenet"},
         "unknown detectron2 weights 'imagenet'; choose one of: coco, random"),
        ({"frames_per_batch": 0}, "frames_per_batch must be a positive integer, got 0"),
        ({"frames_per_batch": 1.5}, "frames_per_batch must be a positive integer, got 1.5"),
        ({"min_score": 1.5}, r"min_score must be in \[0, 1\], got 1.5"),
        ({"min_score": -0.1}, r"min_score must be in \[0, 1\], got -0.1"),
    ],
)
def test_bad_options_are_reported_before_anything_is_imported(options, message):
    with pytest.raises(VcmError, match=message):
        Detectron2Detector(**options)


def test_missing_detectron2_names_it_and_its_install_command(monkeypatch):
    # Whatever is installed here: detectron2 looks missing, everything else present.
    monkeypatch.setattr(vcm.frameworks, "module_available", lambda module: module != "detectron2")
    with pytest.raises(VcmError) as raised:
        Detectron2Detector(weights="random")
    assert str(raised.value) == (
        "the detectron2 detector needs detectron2, not installed: detectron2: pip install "
        "--no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git' "
        "'protobuf>=4.25.3,<5' 'setuptools<81' (after torch)"
    )


def test_detectron2_whose_model_zoo_fails_to_import_says_how_to_reinstall(monkeypatch):
    # detectron2 installed, but its model_zoo import fails as it does under setuptools >= 81
    # (which removed pkg_resources): an error with the install command, not a traceback.
    monkeypatch.setattr(vcm.frameworks, "module_available", lambda module: True)
    real_import = vcm.frameworks.importlib.import_module

    def import_module(name):
        if name == "detectron2.model_zoo":
            raise ModuleNotFoundError("No module named 'pkg_resources'")
        return real_import(name)

    monkeypatch.setattr(vcm.frameworks.importlib, "import_module", import_module)
    with pytest.raises(VcmError) as raised:
        Detectron2Detector(weights="random")
    assert str(raised.value) == (
        "the detectron2 detector: detectron2 is installed but importing detectron2.model_zoo "
        "fails (ModuleNotFoundError: No module named 'pkg_resources'); reinstall: detectron2: "
        "pip install --no-build-isolation "
        "'git+https://github.com/facebookresearch/detectron2.git' "
        "'protobuf>=4.25.3,<5' 'setuptools<81' (after torch)"
    )


# instances_to_person_boxes on real torch tensors.

class Boxes:
    """Holds ``tensor`` (N, 4), as detectron2.structures.Boxes does."""

    def __init__(self, tensor):
        self.tensor = tensor


class Instances:
    """The three fields of detectron2.structures.Instances that the detector reads, with the
    same names and shapes: ``pred_boxes`` (Boxes), ``scores`` (N,), ``pred_classes`` (N,)."""

    def __init__(self, boxes, scores, classes):
        import torch

        self.pred_boxes = Boxes(torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4))
        self.scores = torch.as_tensor(scores, dtype=torch.float32)
        self.pred_classes = torch.as_tensor(classes, dtype=torch.int64)


@pytest.mark.heavy
def test_instances_keep_person_rows_in_order():
    instances = Instances(
        boxes=[
            [100, 50, 140, 130],  # person, 0.25
            [5, 5, 15, 25],       # car (class 2)
            [10, 20, 30, 60],     # person, 0.75: after the 0.25 one, as the model gave them
            [0, 0, 1, 1],         # traffic light (class 9)
        ],
        scores=[0.25, 0.5, 0.75, 0.125],
        classes=[0, 2, 0, 9],
    )
    boxes, scores = instances_to_person_boxes(instances)
    assert boxes.dtype == np.float64 and scores.dtype == np.float64
    np.testing.assert_array_equal(boxes, [[100, 50, 140, 130], [10, 20, 30, 60]])
    np.testing.assert_array_equal(scores, [0.25, 0.75])


@pytest.mark.heavy
def test_instances_other_class():
    instances = Instances([[1, 2, 3, 4], [5, 6, 7, 8]], [0.5, 0.25], [0, 2])
    boxes, scores = instances_to_person_boxes(instances, person_class=2)
    np.testing.assert_array_equal(boxes, [[5, 6, 7, 8]])
    np.testing.assert_array_equal(scores, [0.25])


@pytest.mark.heavy
def test_instances_empty_and_without_people():
    for instances in (Instances([], [], []), Instances([[1, 2, 3, 4]], [0.5], [1])):
        boxes, scores = instances_to_person_boxes(instances)
        assert boxes.shape == (0, 4) and scores.shape == (0,)
        assert boxes.dtype == np.float64 and scores.dtype == np.float64


@pytest.mark.heavy
def test_instances_tensors_that_track_gradients():
    instances = Instances([[1, 2, 3, 4]], [0.5], [0])
    instances.pred_boxes.tensor.requires_grad_(True)
    instances.scores.requires_grad_(True)
    boxes, scores = instances_to_person_boxes(instances)
    np.testing.assert_array_equal(boxes, [[1, 2, 3, 4]])
    np.testing.assert_array_equal(scores, [0.5])


@pytest.mark.heavy
def test_instances_with_unequal_fields_are_rejected():
    instances = Instances([[1, 2, 3, 4], [5, 6, 7, 8]], [0.5], [0, 0])
    with pytest.raises(ValueError, match="2 boxes, 1 scores and 2 classes"):
        instances_to_person_boxes(instances)


# The constructor and the frame preparation against a stand-in for detectron2 (needs torch):
# the glue this module adds, checked here where detectron2 cannot be installed. The stand-in
# has only the names the module imports, with detectron2's signatures.

class StandInCfg(SimpleNamespace):
    """The CfgNode keys the detector reads or sets, at detectron2's defaults."""

    def __init__(self, input_format: str):
        super().__init__(
            MODEL=SimpleNamespace(
                ROI_HEADS=SimpleNamespace(SCORE_THRESH_TEST=0.05, NMS_THRESH_TEST=0.5),
                DEVICE="cuda",
                WEIGHTS="detectron2://ImageNetPretrained/MSRA/R-50.pkl",
            ),
            INPUT=SimpleNamespace(FORMAT=input_format, MIN_SIZE_TEST=800, MAX_SIZE_TEST=1333),
            TEST=SimpleNamespace(DETECTIONS_PER_IMAGE=100),
        )
        self.merged: list[str] = []

    def merge_from_file(self, path: str) -> None:
        self.merged.append(path)

    def freeze(self) -> None:
        pass


class StandInModel:
    """Records its inputs; answers one person and one car per image."""

    def __init__(self, cfg):
        import torch

        self.cfg = cfg
        self.initial_draw = float(torch.rand(()))  # what random initialisation would draw
        self.calls: list[list[dict]] = []
        self.in_eval_mode = False

    def eval(self):
        self.in_eval_mode = True
        return self

    def __call__(self, inputs: list[dict]) -> list[dict]:
        self.calls.append(inputs)
        return [
            {"instances": Instances([[1, 2, 3, 4], [5, 6, 7, 8]], [0.5, 0.25], [0, 2])}
            for _ in inputs
        ]


@pytest.fixture
def stand_in_detectron2(monkeypatch):
    """Puts a stand-in ``detectron2`` package in ``sys.modules``; returns what it records."""
    record = SimpleNamespace(input_format="BGR", loaded=[], config_files=[])

    def get_config_file(path):
        record.config_files.append(path)
        return f"/configs/{path}"

    def get_cfg():
        record.cfg = StandInCfg(record.input_format)
        return record.cfg

    def build_model(cfg):
        record.model = StandInModel(cfg)
        return record.model

    class DetectionCheckpointer:
        def __init__(self, model):
            self.model = model

        def load(self, path):
            record.loaded.append((self.model, path))
            return {}

    class ResizeTransform:
        def __init__(self, h, w, new_h, new_w, interp=None):
            self.size = (h, w, new_h, new_w)

        def apply_image(self, image):
            h, w, new_h, new_w = self.size
            assert image.shape[:2] == (h, w)
            return cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)

    modules = {
        "detectron2": SimpleNamespace(__version__="0.6+stand-in"),
        "detectron2.model_zoo": SimpleNamespace(get_config_file=get_config_file),
        "detectron2.checkpoint": SimpleNamespace(DetectionCheckpointer=DetectionCheckpointer),
        "detectron2.config": SimpleNamespace(get_cfg=get_cfg),
        "detectron2.modeling": SimpleNamespace(build_model=build_model),
        "detectron2.data": SimpleNamespace(),
        "detectron2.data.transforms": SimpleNamespace(ResizeTransform=ResizeTransform),
    }
    modules["detectron2"].model_zoo = modules["detectron2.model_zoo"]
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    available = vcm.frameworks.module_available
    monkeypatch.setattr(
        vcm.frameworks, "module_available",
        lambda module: module == "detectron2" or available(module),
    )
    return record


class OneFileStore:
    """A model store that has every file at one path."""

    def __init__(self, path):
        self.path = path
        self.fetched: list[tuple[str, str]] = []

    def fetch(self, model, filename):
        self.fetched.append((model, filename))
        return self.path


@pytest.mark.heavy
def test_model_zoo_construction(stand_in_detectron2, tmp_path):
    weights_path = tmp_path / "weights.pkl"
    weights_path.write_bytes(b"not really weights")
    store = OneFileStore(weights_path)
    detector = Detectron2Detector(config=R50, device="cpu", min_score=0.3, store=store)
    record = stand_in_detectron2
    assert store.fetched == [("detectron2", "faster_rcnn_R_50_FPN_3x-model_final_280758.pkl")]
    assert record.config_files == [f"{R50}.yaml"]
    assert record.cfg.merged == [f"/configs/{R50}.yaml"]
    assert record.cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST == 0.3
    assert record.cfg.MODEL.DEVICE == "cpu"
    assert record.cfg.MODEL.WEIGHTS == str(weights_path)
    assert record.loaded == [(record.model, str(weights_path))]
    assert record.model.in_eval_mode
    described = detector.describe()
    assert described["weights"] == {
        "source": "detectron2 model zoo",
        "url": WEIGHTS_FILES[R50].url,
        "file": "faster_rcnn_R_50_FPN_3x-model_final_280758.pkl",
        "sha256": hashlib.sha256(b"not really weights").hexdigest(),
    }
    assert (described["config"], described["device"]) == (R50, "cpu")
    assert (described["detectron2"], described["min_score"]) == ("0.6+stand-in", 0.3)
    assert described["frames_per_batch"] == 1


@pytest.mark.heavy
def test_random_construction_is_seeded_and_loads_nothing(stand_in_detectron2):
    import torch

    before = torch.random.get_rng_state()
    detector = Detectron2Detector(weights="random", seed=7, device="cpu")
    record = stand_in_detectron2
    assert record.loaded == [] and record.cfg.MODEL.WEIGHTS == ""
    assert record.config_files == [f"{X101}.yaml"]
    torch.manual_seed(7)
    assert record.model.initial_draw == float(torch.rand(()))
    torch.random.set_rng_state(before)
    assert detector.describe()["weights"] == "random (seed 7)"


@pytest.mark.heavy
@pytest.mark.parametrize(("input_format", "first_channel"), [("BGR", 10.0), ("RGB", 30.0)])
def test_frames_go_to_the_model_as_one_batch(stand_in_detectron2, input_format, first_channel):
    stand_in_detectron2.input_format = input_format
    detector = Detectron2Detector(weights="random", device="cpu", frames_per_batch=2)
    frame = np.empty((48, 64, 3), dtype=np.uint8)
    frame[:] = (10, 20, 30)  # B, G, R
    results = detector.detect_batch([frame, frame.copy()], [1, 2])
    [inputs] = stand_in_detectron2.model.calls
    assert [(item["height"], item["width"]) for item in inputs] == [(48, 64), (48, 64)]
    for item in inputs:
        # 64x48 -> shortest edge 800: 64 * 800 / 48 = 1066.7 -> 1067 wide.
        assert item["image"].shape == (3, 800, 1067) and item["image"].dtype.is_floating_point
        assert float(item["image"][0].min()) == float(item["image"][0].max()) == first_channel
        assert float(item["image"][1].min()) == float(item["image"][1].max()) == 20.0
    assert len(results) == 2
    for boxes, scores in results:  # the person row of each image, not the car
        np.testing.assert_array_equal(boxes, [[1, 2, 3, 4]])
        np.testing.assert_array_equal(scores, [0.5])


@pytest.mark.heavy
def test_detect_is_a_batch_of_one(stand_in_detectron2):
    detector = Detectron2Detector(weights="random", device="cpu")
    boxes, scores = detector.detect(np.zeros((49, 65, 3), dtype=np.uint8), 1)
    [inputs] = stand_in_detectron2.model.calls
    assert len(inputs) == 1 and (inputs[0]["height"], inputs[0]["width"]) == (49, 65)
    np.testing.assert_array_equal(scores, [0.5])


# The real network, randomly initialised: needs detectron2. R50-FPN keeps it quick on a CPU;
# min_score 0 keeps every box. A random classifier gives one arbitrary class a score of 1 (the
# random backbone's box features have a norm of about 18000, measured), so its rows are
# replaced: every class scores 0 except person (0) and car (2), whose rows are seeded random
# vectors scaled to logits of about 4 +- 1, so that both win proposals and the person filter
# has rows to keep and rows to drop. With zero box deltas the boxes are the proposals.

PERSON, CAR = 0, 2
BOX_FEATURE_NORM = 2e4


def random_frame(height: int, width: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def random_r50():
    import torch

    detector = Detectron2Detector(
        config=R50, weights="random", device="cpu", min_score=0.0, frames_per_batch=2
    )
    predictor = detector.model.roi_heads.box_predictor
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        predictor.cls_score.weight.zero_()
        predictor.cls_score.bias.zero_()
        for category in (PERSON, CAR):
            predictor.cls_score.weight[category] = torch.randn(
                predictor.cls_score.in_features, generator=generator
            ) / BOX_FEATURE_NORM
            predictor.cls_score.bias[category] = 4.0
        predictor.bbox_pred.weight.zero_()
        predictor.bbox_pred.bias.zero_()
    return detector


@pytest.fixture(scope="module")
def default_predictor(random_r50):
    """detectron2's own DefaultPredictor with the same network (weights copied)."""
    from detectron2.engine import DefaultPredictor

    predictor = DefaultPredictor(random_r50.cfg.clone())
    predictor.model.load_state_dict(random_r50.model.state_dict())
    return predictor


def predictor_person_rows(predictor, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes and scores of DefaultPredictor's answer for one BGR frame, and checks
    that it also has rows of another class (so keeping only people is tested)."""
    instances = predictor(frame)["instances"]
    classes = instances.pred_classes.numpy()
    assert (classes == PERSON).sum() > 0 and (classes != PERSON).sum() > 0
    person = classes == PERSON
    return (instances.pred_boxes.tensor.numpy()[person].astype(np.float64),
            instances.scores.numpy()[person].astype(np.float64))


@pytest.mark.detectron2
def test_random_network_boxes_are_in_frame_pixels(random_r50):
    landscape, portrait = random_frame(48, 64, seed=1), random_frame(64, 48, seed=2)
    for instances, (height, width) in zip(
        random_r50.predict([landscape, portrait]), [(48, 64), (64, 48)], strict=True
    ):
        # The network saw 800x1067 and 1067x800; the boxes come back in each frame's pixels.
        assert instances.image_size == (height, width)
        boxes = instances.pred_boxes.tensor.cpu().numpy()
        assert 0 < len(instances) <= random_r50.cfg.TEST.DETECTIONS_PER_IMAGE
        assert boxes.shape == (len(instances), 4)
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= width).all()
        assert (boxes[:, 1] >= 0).all() and (boxes[:, 3] <= height).all()
        assert (boxes[:, 2] >= boxes[:, 0]).all() and (boxes[:, 3] >= boxes[:, 1]).all()


@pytest.mark.detectron2
@pytest.mark.parametrize(("height", "width", "seed"), [(48, 64, 3), (97, 61, 4)])
def test_random_network_detect_equals_default_predictor(random_r50, default_predictor,
                                                        height, width, seed):
    frame = random_frame(height, width, seed=seed)
    expected_boxes, expected_scores = predictor_person_rows(default_predictor, frame)
    boxes, scores = random_r50.detect(frame, 1)
    assert boxes.dtype == np.float64 and scores.dtype == np.float64
    assert ((scores >= 0) & (scores <= 1)).all()
    np.testing.assert_array_equal(boxes, expected_boxes)
    np.testing.assert_array_equal(scores, expected_scores)


@pytest.mark.detectron2
def test_random_network_batches_equal_default_predictor(random_r50, default_predictor):
    assert frames_per_batch(random_r50) == 2
    # Frames of one size: a batch pads its images to the largest, so a smaller frame in a
    # batch is not the image DefaultPredictor sees alone. Batched matrix products round
    # differently: scores move by a few 1e-7 (measured).
    frames = [random_frame(48, 64, seed=5), random_frame(48, 64, seed=6)]
    results = random_r50.detect_batch(frames, [1, 2])
    assert len(results) == 2
    for frame, (boxes, scores) in zip(frames, results, strict=True):
        expected_boxes, expected_scores = predictor_person_rows(default_predictor, frame)
        np.testing.assert_allclose(boxes, expected_boxes, atol=1e-4)
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-5)


@pytest.mark.detectron2
def test_random_network_on_a_video(random_r50, small_clip):
    path, _ = small_clip
    sequence = detect_video(open_video(path), random_r50, score_threshold=0.0, progress=False)
    assert [frame.frame for frame in sequence.frames] == [1, 2, 3, 4, 5]
    assert (sequence.width, sequence.height) == (65, 49)


@pytest.mark.detectron2
def test_random_weights_depend_on_the_seed_only():
    import torch

    def parameters(seed: int) -> dict:
        detector = Detectron2Detector(config=R50, weights="random", seed=seed, device="cpu")
        return detector.model.state_dict()

    first, again, other = parameters(0), parameters(0), parameters(1)
    assert all(torch.equal(first[name], again[name]) for name in first)
    assert not all(torch.equal(first[name], other[name]) for name in first)


@pytest.mark.detectron2
def test_describe_random_network(random_r50):
    import detectron2

    record = random_r50.describe()
    assert record["name"] == "detectron2"
    assert record["config"] == R50
    assert record["weights"] == "random (seed 0)"
    assert record["device"] == "cpu"
    assert record["detectron2"] == detectron2.__version__
    assert record["min_score"] == 0.0 and record["frames_per_batch"] == 2
    assert record["input"] == {"format": "BGR", "min_size_test": 800, "max_size_test": 1333}


@pytest.mark.detectron2
def test_model_zoo_weights_missing_offline(tmp_path):
    store = ModelStore(
        cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True, models=MODELS
    )
    with pytest.raises(VcmError, match="faster_rcnn_R_50_FPN_3x/137849458/model_final_280758.pkl"):
        Detectron2Detector(config=R50, device="cpu", store=store)
