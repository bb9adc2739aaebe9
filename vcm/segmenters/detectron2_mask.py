"""Mask R-CNN's mask head run on the given boxes (detectron2 model zoo), no detection of its own.

The backbone runs on the whole frame (resized as detectron2's ``DefaultPredictor`` does); the
ROI heads then take the shared boxes as if they were their own proposals' final boxes
(``forward_with_given_boxes``, class person), predict a 28x28 mask per box, and
``paste_masks_in_image`` pastes each into the frame at its box, thresholded.

detectron2 is optional (see :mod:`vcm.frameworks`); it is imported only when a segmenter is
built. The model zoo's weights come from the model store (``detectron2-mask``);
``weights="random"`` builds the same network randomly initialised, for tests and latency.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vcm.detectors.detectron2 import (PERSON_CLASS, build_zoo_model, model_input,
                                     zoo_model_description)
from vcm.errors import VcmError
from vcm.frameworks import require, select_device
from vcm.masks import encode_mask
from vcm.registry import DEVICE, SEED, Option
from vcm.segmenters.base import SEGMENTERS, SegmentByFrame
from vcm.store import STORE, ModelFile, ModelSpec, ModelStore, register_model

MODEL = "detectron2-mask"

_MODEL_ZOO_URL = "https://dl.fbaipublicfiles.com/detectron2/COCO-InstanceSegmentation"

# config -> its weights in the model zoo (MODEL_ZOO.md; no checksum published: pinned on the
# first download into the store).
WEIGHTS_FILES = {
    "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x": ModelFile(
        "mask_rcnn_R_50_FPN_3x-model_final_f10217.pkl",
        f"{_MODEL_ZOO_URL}/mask_rcnn_R_50_FPN_3x/137849600/model_final_f10217.pkl",
        None,
    ),
}
CONFIGS = tuple(WEIGHTS_FILES)
"""The model zoo configs this backend builds (Mask R-CNN R50-FPN 3x)."""

WEIGHTS_SOURCES = ("coco", "random")

MODEL_SPEC = register_model(
    ModelSpec(
        name=MODEL,
        description=(
            "detectron2 model zoo Mask R-CNN weights trained on COCO (Apache-2.0), "
            "github.com/facebookresearch/detectron2/blob/main/MODEL_ZOO.md"
        ),
        files=tuple(WEIGHTS_FILES.values()),
    )
)


@SEGMENTERS.register("detectron2-mask")
class Detectron2MaskSegmenter(SegmentByFrame):
    """Person masks from detectron2's Mask R-CNN mask head, prompted by the given boxes.

    Arguments: ``config`` one of :data:`CONFIGS`; ``weights`` ``coco`` (from the model store)
    or ``random`` (randomly initialised from ``seed``); ``seed`` the torch seed the network is
    built under; ``device`` ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; ``threshold`` the mask
    probability in (0, 1) above which a pixel is the person (detectron2's 0.5); ``store`` the
    :class:`ModelStore` (default: from the environment).
    """

    name = "detectron2-mask"
    requirements = ("torch", "detectron2")
    option_schema = {
        "config": Option(str, choices=CONFIGS),
        "weights": Option(str, choices=WEIGHTS_SOURCES),
        "seed": SEED,
        "device": DEVICE,
        "threshold": Option(float, above=0.0, high=0.999, help="mask probability, (0, 1)"),
        "store": STORE,
    }

    def __init__(
        self,
        *,
        config: str = CONFIGS[0],
        weights: str = "coco",
        seed: int = 0,
        device: str = "auto",
        threshold: float = 0.5,
        store: ModelStore | None = None,
    ) -> None:
        if config not in WEIGHTS_FILES:
            raise VcmError(f"unknown detectron2-mask config {config!r}; choose one of: "
                           f"{', '.join(CONFIGS)}")
        if weights not in WEIGHTS_SOURCES:
            raise VcmError(f"unknown detectron2-mask weights {weights!r}; choose one of: "
                           f"{', '.join(WEIGHTS_SOURCES)}")
        if not 0.0 < threshold < 1.0:
            raise VcmError(f"detectron2-mask threshold must be in (0, 1), got {threshold!r}")
        require("the detectron2-mask segmenter", self.requirements)
        self.config = config
        self.weights = weights
        self.seed = int(seed)
        self.threshold = float(threshold)
        self.device = select_device(device)
        self.weights_path: Path | None = None
        if weights == "coco":
            store = store if store is not None else ModelStore()
            self.weights_path = store.fetch(MODEL, WEIGHTS_FILES[config].filename)
        self.cfg, self.model = build_zoo_model(
            config, weights_path=self.weights_path, device=self.device, seed=self.seed
        )

    def mask_probabilities(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> Any:
        """The mask head's (N, 28, 28) person probabilities (torch, on the model's device) for
        the N boxes (``x1, y1, x2, y2`` frame pixels) of ``frame_bgr``."""
        import torch
        from detectron2.structures import Boxes, Instances

        prepared = model_input(self.cfg, frame_bgr)
        scale_x = prepared["image"].shape[2] / prepared["width"]
        scale_y = prepared["image"].shape[1] / prepared["height"]
        with torch.no_grad():
            images = self.model.preprocess_image([prepared])
            features = self.model.backbone(images.tensor)
            given = Instances(images.image_sizes[0])
            scaled = np.asarray(boxes, dtype=np.float64) * [scale_x, scale_y, scale_x, scale_y]
            given.pred_boxes = Boxes(torch.as_tensor(scaled, dtype=torch.float32,
                                                     device=self.device))
            given.pred_classes = torch.full((len(boxes),), PERSON_CLASS, dtype=torch.int64,
                                            device=self.device)
            [instances] = self.model.roi_heads.forward_with_given_boxes(features, [given])
        return instances.pred_masks[:, 0]

    def segment(
        self, frame_bgr: np.ndarray, boxes: np.ndarray, scores: np.ndarray
    ) -> list[dict | None]:
        """COCO RLE frame masks for each box (``x1, y1, x2, y2`` pixels inside the frame), or
        ``None`` where no pixel passes the threshold. ``scores`` are not used."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return []
        import torch
        from detectron2.layers import paste_masks_in_image
        from detectron2.structures import Boxes

        probabilities = self.mask_probabilities(frame_bgr, boxes)
        frame_boxes = Boxes(torch.as_tensor(boxes, dtype=torch.float32, device=self.device))
        with torch.no_grad():
            pasted = paste_masks_in_image(probabilities, frame_boxes, frame_bgr.shape[:2],
                                          threshold=self.threshold)
        masks = pasted.cpu().numpy()
        return [encode_mask(mask) if mask.any() else None for mask in masks]

    def describe(self) -> dict:
        """Config, weights (URL and sha256, or the seed), device and threshold."""
        return {
            "name": self.name,
            **zoo_model_description(MODEL, WEIGHTS_FILES[self.config], self.config,
                                    self.weights_path, self.seed, self.device),
            "threshold": self.threshold,
            "mask_resolution": self.cfg.MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION * 2,
            "score": "detector score",
        }
