"""Faster R-CNN person detection with detectron2 (the paper's X101-FPN detector).

detectron2 is optional and not on PyPI (see :mod:`vcm.frameworks` for how to install it), so
this module imports it only when a detector is built: the backend is registered, and configs
that name it validate, everywhere. The model zoo's weights come from the model store
(``detectron2``; see :mod:`vcm.store`); ``weights="random"`` builds the same network randomly
initialised, for tests and latency measurements.

Frames are prepared as detectron2's ``DefaultPredictor`` prepares them (channel order from
``INPUT.FORMAT``; bilinear resize so that the shortest edge is ``INPUT.MIN_SIZE_TEST`` and the
longest at most ``INPUT.MAX_SIZE_TEST``), but the model gets a list of frames, so that several
frames share one forward pass; it maps its boxes back to each frame's own pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vcm.detectors.base import DETECTORS
from vcm.errors import VcmError
from vcm.registry import DEVICE, FRAMES_PER_BATCH, SEED, Option
from vcm.frameworks import describe_device, require, seeded, select_device
from vcm.store import STORE, ModelFile, ModelSpec, ModelStore, register_model, weights_record

MODEL = "detectron2"

_MODEL_ZOO_URL = "https://dl.fbaipublicfiles.com/detectron2/COCO-Detection"

# config -> its weights in the model zoo (detectron2's model_zoo.py lists the same URLs). The
# zoo names every file model_final_<hash>.pkl, so the store's name starts with the config.
# The zoo publishes no checksum: sha256=None, pinned on the first download into the store.
WEIGHTS_FILES = {
    "COCO-Detection/faster_rcnn_X_101_32x8d_FPN_3x": ModelFile(
        "faster_rcnn_X_101_32x8d_FPN_3x-model_final_68b088.pkl",
        f"{_MODEL_ZOO_URL}/faster_rcnn_X_101_32x8d_FPN_3x/139173657/model_final_68b088.pkl",
        None,
    ),
    "COCO-Detection/faster_rcnn_R_50_FPN_3x": ModelFile(
        "faster_rcnn_R_50_FPN_3x-model_final_280758.pkl",
        f"{_MODEL_ZOO_URL}/faster_rcnn_R_50_FPN_3x/137849458/model_final_280758.pkl",
        None,
    ),
}
CONFIGS = tuple(WEIGHTS_FILES)
"""The model zoo configs this backend builds; the first (X101-FPN, the paper's) is the default."""

WEIGHTS_SOURCES = ("coco", "random")

# detectron2's COCO models number the 80 categories contiguously from 0; "person" is 0.
PERSON_CLASS = 0

MODEL_SPEC = register_model(
    ModelSpec(
        name=MODEL,
        description=(
            "detectron2 model zoo Faster R-CNN weights trained on COCO (Apache-2.0), "
            "github.com/facebookresearch/detectron2/blob/main/MODEL_ZOO.md"
        ),
        files=tuple(WEIGHTS_FILES.values()),
    )
)


def check_options(*, config: str, weights: str, frames_per_batch: int, min_score: float) -> None:
    """Raise :class:`VcmError` for an option :class:`Detectron2Detector` cannot take."""
    if config not in WEIGHTS_FILES:
        raise VcmError(
            f"unknown detectron2 config {config!r}; choose one of: {', '.join(CONFIGS)}"
        )
    if weights not in WEIGHTS_SOURCES:
        raise VcmError(
            f"unknown detectron2 weights {weights!r}; choose one of: {', '.join(WEIGHTS_SOURCES)}"
        )
    if not isinstance(frames_per_batch, int) or frames_per_batch < 1:
        raise VcmError(
            f"detectron2 frames_per_batch must be a positive integer, got {frames_per_batch!r}"
        )
    if not 0.0 <= min_score <= 1.0:
        raise VcmError(f"detectron2 min_score must be in [0, 1], got {min_score!r}")


def shortest_edge_size(height: int, width: int, short: int, max_size: int) -> tuple[int, int]:
    """``(new_height, new_width)`` of a ``height`` x ``width`` image resized so that its shortest
    edge is ``short`` pixels, unless its longest edge would then exceed ``max_size`` pixels, in
    which case the longest edge is ``max_size``; the aspect ratio is kept and each side rounded
    to the nearest pixel. ``short == 0`` keeps the size.

    The arithmetic of detectron2's ``ResizeShortestEdge`` (``get_transform``, and
    ``get_output_shape`` in later versions), step for step, so the rounding is the same.
    """
    if short == 0:
        return height, width
    scale = short / min(height, width)
    if height < width:
        new_height, new_width = float(short), scale * width
    else:
        new_height, new_width = scale * height, float(short)
    if max(new_height, new_width) > max_size:
        scale = max_size / max(new_height, new_width)
        new_height *= scale
        new_width *= scale
    return int(new_height + 0.5), int(new_width + 0.5)


def instances_to_person_boxes(
    instances: Any, person_class: int = PERSON_CLASS
) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes and scores of one image's detectron2 ``Instances``, in their order.

    ``instances`` needs ``pred_boxes.tensor`` (N, 4) ``x1, y1, x2, y2`` in pixels,
    ``scores`` (N,) and ``pred_classes`` (N,): torch tensors on any device. Rows whose class
    is ``person_class`` are kept. Returns float64 arrays (M, 4) and (M,).
    """
    boxes = _to_numpy(instances.pred_boxes.tensor).astype(np.float64).reshape(-1, 4)
    scores = _to_numpy(instances.scores).astype(np.float64).reshape(-1)
    classes = _to_numpy(instances.pred_classes).reshape(-1)
    if not len(boxes) == len(scores) == len(classes):
        raise ValueError(
            f"instances have {len(boxes)} boxes, {len(scores)} scores and {len(classes)} classes"
        )
    person = classes == person_class
    return boxes[person], scores[person]


def _to_numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def zoo_model_description(model: str, weights_file: ModelFile, config: str,
                          weights_path: Path | None, seed: int, device: Any) -> dict:
    """What run records say of a model-zoo network (detector or mask head): store model and
    config, weights (``weights_file``'s URL and sha256, or the seed), device and detectron2's
    version."""
    import detectron2

    return {
        "model": f"{model}/{config}",
        "config": config,
        "weights": weights_record(weights_file, weights_path,
                                  source="detectron2 model zoo", seed=seed),
        **describe_device(device),
        "detectron2": detectron2.__version__,
    }


def build_zoo_model(
    config: str,
    *,
    weights_path: Path | None,
    device: Any,
    seed: int,
    score_threshold: float | None = None,
) -> tuple[Any, Any]:
    """detectron2 model-zoo model ``config`` (e.g. ``COCO-Detection/faster_rcnn_R_50_FPN_3x``)
    on ``device``, in eval mode, with ``weights_path`` loaded (``None``: random weights drawn
    under ``seed``) and, if given, ``score_threshold`` as the ROI heads' test threshold.
    Returns the frozen config and the model."""
    from detectron2 import model_zoo
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    try:
        config_file = model_zoo.get_config_file(f"{config}.yaml")
    except RuntimeError as error:
        raise VcmError(
            f"this detectron2 install has no model zoo configs ({error}); install it from "
            "its source tree, which ships detectron2/model_zoo/configs"
        ) from None
    cfg = get_cfg()
    cfg.merge_from_file(config_file)
    if score_threshold is not None:
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = score_threshold
    cfg.MODEL.DEVICE = str(device)
    cfg.MODEL.WEIGHTS = str(weights_path) if weights_path is not None else ""
    cfg.freeze()
    if cfg.INPUT.FORMAT not in ("BGR", "RGB"):
        raise VcmError(f"{config}: unsupported INPUT.FORMAT {cfg.INPUT.FORMAT!r}")
    # Built under the seed in both cases: random weights are then the same in every run,
    # and building never moves torch's global generator (the checkpoint overwrites the
    # initial values anyway).
    with seeded(seed):
        model = build_model(cfg)
    if weights_path is not None:
        DetectionCheckpointer(model).load(str(weights_path))
    return cfg, model.eval()


@DETECTORS.register("detectron2")
class Detectron2Detector:
    """Person detection with a detectron2 model zoo Faster R-CNN.

    Arguments: ``config`` one of :data:`CONFIGS` (default X101-32x8d-FPN 3x, the paper's;
    R50-FPN 3x is faster); ``weights`` ``coco`` (the config's trained weights, from the
    model store) or ``random`` (randomly initialised from ``seed``); ``seed`` the torch seed
    the network is built under; ``device`` ``auto``, ``cpu``, ``cuda`` or ``cuda:N``;
    ``frames_per_batch`` frames per forward pass; ``min_score`` the score under which the ROI
    heads drop a box (detectron2's test default; the sweep's threshold is applied later, by
    :func:`vcm.detectors.detect_video`); ``store`` the :class:`ModelStore` (default: from
    the environment).
    """

    name = "detectron2"
    requirements = ("torch", "detectron2")
    option_schema = {
        "config": Option(str, choices=CONFIGS, help="model zoo config"),
        "weights": Option(str, choices=WEIGHTS_SOURCES),
        "seed": SEED,
        "device": DEVICE,
        "frames_per_batch": FRAMES_PER_BATCH,
        "min_score": Option(float, low=0.0, high=1.0, help="ROI heads' score threshold"),
        "store": STORE,
    }

    @classmethod
    def model_files(cls, *, config: str = CONFIGS[0], weights: str = "coco",
                    **_: Any) -> list[tuple[str, str]]:
        """The model store files ``(model, file name)`` a detector with these options loads."""
        if weights != "coco" or config not in WEIGHTS_FILES:
            return []
        return [(MODEL, WEIGHTS_FILES[config].filename)]

    def __init__(
        self,
        *,
        config: str = CONFIGS[0],
        weights: str = "coco",
        seed: int = 0,
        device: str = "auto",
        frames_per_batch: int = 1,
        min_score: float = 0.05,
        store: ModelStore | None = None,
    ) -> None:
        check_options(
            config=config, weights=weights, frames_per_batch=frames_per_batch, min_score=min_score
        )
        require("the detectron2 detector", self.requirements)
        self.config = config
        self.weights = weights
        self.seed = int(seed)
        self.frames_per_batch = int(frames_per_batch)
        self.min_score = float(min_score)
        self.device = select_device(device)
        self.weights_path: Path | None = None
        if weights == "coco":
            store = store if store is not None else ModelStore()
            self.weights_path = store.fetch(MODEL, WEIGHTS_FILES[config].filename)
        self.cfg, self.model = build_zoo_model(
            config, weights_path=self.weights_path, device=self.device, seed=self.seed,
            score_threshold=self.min_score,
        )

    def predict(self, frames_bgr: Sequence[np.ndarray]) -> list[Any]:
        """The model's detectron2 ``Instances`` for each BGR frame, all classes, boxes in
        pixels of that frame (on the model's device)."""
        import torch

        inputs = [self._model_input(frame) for frame in frames_bgr]
        with torch.no_grad():
            outputs = self.model(inputs)
        return [output["instances"] for output in outputs]

    def detect(self, frame_bgr: np.ndarray, frame_number: int) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes (N, 4) ``x1, y1, x2, y2`` in frame pixels and scores (N,) in [0, 1]."""
        return self.detect_batch([frame_bgr], [frame_number])[0]

    def detect_batch(
        self, frames_bgr: Sequence[np.ndarray], frame_numbers: Sequence[int]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`detect` for several frames in one forward pass."""
        if len(frames_bgr) != len(frame_numbers):
            raise ValueError(f"{len(frames_bgr)} frames but {len(frame_numbers)} frame numbers")
        return [instances_to_person_boxes(instances) for instances in self.predict(frames_bgr)]

    def describe(self) -> dict:
        """Config, weights (URL and sha256, or the seed), device, thresholds and input size."""
        return {
            "name": self.name,
            **zoo_model_description(MODEL, WEIGHTS_FILES[self.config], self.config,
                                    self.weights_path, self.seed, self.device),
            "min_score": self.min_score,
            "nms_iou": self.cfg.MODEL.ROI_HEADS.NMS_THRESH_TEST,
            "detections_per_image": self.cfg.TEST.DETECTIONS_PER_IMAGE,
            "input": {
                "format": self.cfg.INPUT.FORMAT,
                "min_size_test": self.cfg.INPUT.MIN_SIZE_TEST,
                "max_size_test": self.cfg.INPUT.MAX_SIZE_TEST,
            },
            "frames_per_batch": self.frames_per_batch,
        }

    def _model_input(self, frame_bgr: np.ndarray) -> dict:
        return model_input(self.cfg, frame_bgr)


def model_input(cfg: Any, frame_bgr: np.ndarray) -> dict:
    """One frame as a detectron2 model built from ``cfg`` takes it: ``image`` (3, H', W')
    float32 tensor resized as ``DefaultPredictor`` does, and the frame's ``height`` and
    ``width`` for the output."""
    import torch
    from detectron2.data.transforms import ResizeTransform

    if cfg.INPUT.FORMAT == "RGB":
        image = np.ascontiguousarray(frame_bgr[:, :, ::-1])
    else:
        image = frame_bgr
    height, width = image.shape[:2]
    new_height, new_width = shortest_edge_size(
        height, width, cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST
    )
    # ResizeTransform is what ResizeShortestEdge returns (PIL bilinear for uint8); built here
    # directly because ResizeShortestEdge draws its size from numpy's global generator.
    resized = ResizeTransform(height, width, new_height, new_width).apply_image(image)
    tensor = torch.as_tensor(resized.astype("float32").transpose(2, 0, 1))
    return {"image": tensor, "height": height, "width": width}
