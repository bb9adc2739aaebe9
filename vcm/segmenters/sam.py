"""Segment Anything (SAM) prompted with each person box, through Meta's reference code
(``segment-anything`` 1.0, pure Python on torch).

Per frame, SAM's image encoder (ViT-B by default; ViT-L and ViT-H too) runs once on the frame
as ``SamPredictor.set_image`` prepares it: resized so its long side is 1024 pixels, normalised
and padded to 1024x1024, whatever the frame's size. All boxes of the frame then go through the
prompt encoder and the mask decoder as one batch of box prompts, with
``multimask_output=False``: a box is not an ambiguous prompt, and for those SAM's predictor
asks for one mask rather than three candidates. The decoder's 256x256 logits are upscaled to
the frame (``Sam.postprocess_masks``); a pixel is the person's where its probability passes
``threshold`` (SAM's own cut is 0.5, logit 0), and with ``restrict="box"`` only where the pixel's
centre also lies inside the box (SAM may follow the person, or a neighbour, out of the box).

segment-anything is optional (see :mod:`vcm.frameworks`); it is imported only when a
segmenter is built. Meta's published weights come from the model store (``sam-vit-b``,
``sam-vit-l``, ``sam-vit-h``); ``weights="random"`` builds the same network randomly initialised from
``seed``, for tests and latency.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vcm.errors import VcmError
from vcm.frameworks import describe_device, load_state_dict, require, seeded, select_device
from vcm.masks import box_pixel_mask, encode_mask
from vcm.registry import DEVICE, SEED, THREADS, Option
from vcm.segmenters.base import SEGMENTERS, SegmentByFrame
from vcm.store import STORE, ModelFile, ModelSpec, ModelStore, register_model, weights_record

MODELS_BY_ENCODER = {"vit_b": "sam-vit-b", "vit_l": "sam-vit-l", "vit_h": "sam-vit-h"}
"""The model store's name for each encoder's checkpoint: one model each, so that
``vcm models fetch sam-vit-b`` downloads the 375 MB ViT-B alone, not all three (3.9 GB)."""

_RELEASE_URL = "https://dl.fbaipublicfiles.com/segment_anything"

# Meta publishes the URLs (segment-anything README, "Model Checkpoints") but no checksum; the
# six hex digits in each name are the start of the file's MD5, not of its sha256. The sha256
# digests are those of the files as mirrored on Hugging Face (git-lfs oids of
# huggingface.co/mashb1t/misc, commit 78e1813, sizes 375042383 / 1249524607 / 2564550879
# bytes) and checked by downloaders such as micro-sam (micro_sam/util.py, _CHECKSUMS); the two
# agree for all three files.
CHECKPOINTS = {
    "vit_b": ModelFile(
        "sam_vit_b_01ec64.pth", f"{_RELEASE_URL}/sam_vit_b_01ec64.pth",
        "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
    ),
    "vit_l": ModelFile(
        "sam_vit_l_0b3195.pth", f"{_RELEASE_URL}/sam_vit_l_0b3195.pth",
        "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
    ),
    "vit_h": ModelFile(
        "sam_vit_h_4b8939.pth", f"{_RELEASE_URL}/sam_vit_h_4b8939.pth",
        "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
    ),
}
ENCODERS = tuple(CHECKPOINTS)
"""SAM's image encoders, smallest first: ViT-B (91M parameters), ViT-L, ViT-H."""

WEIGHTS_SOURCES = ("sam", "random")

RESTRICTIONS = ("box", "frame")
"""Where a mask may have pixels: inside its box, or anywhere in the frame."""

REQUIREMENTS = ("torch", "torchvision", "segment_anything")
"""What ``segment_anything`` imports (its predictor resizes frames with torchvision)."""

for _encoder, _model in MODELS_BY_ENCODER.items():
    register_model(ModelSpec(
        name=_model,
        description=(
            f"Segment Anything (SAM) {_encoder} checkpoint trained on SA-1B (Apache-2.0), "
            "github.com/facebookresearch/segment-anything#model-checkpoints"
        ),
        files=(CHECKPOINTS[_encoder],),
    ))


@SEGMENTERS.register("sam")
class SamSegmenter(SegmentByFrame):
    """Person masks from Segment Anything, one box prompt per person (see the module docstring).

    Arguments: ``encoder`` one of :data:`ENCODERS`; ``weights`` ``sam`` (Meta's checkpoint,
    from the model store) or ``random`` (randomly initialised from ``seed``); ``seed`` the
    torch seed the network is built under; ``device`` ``auto``, ``cpu``, ``cuda`` or
    ``cuda:N``; ``threshold`` the mask probability in (0, 1) above which a pixel is the
    person's (SAM's 0.5); ``restrict`` ``box`` (mask pixels only inside the box) or ``frame``;
    ``threads`` torch's CPU thread count (process-wide; ``None`` leaves it alone); ``store``
    the :class:`ModelStore` (default: from the environment).
    """

    name = "sam"
    requirements = REQUIREMENTS
    option_schema = {
        "encoder": Option(str, choices=ENCODERS, help="SAM image encoder"),
        "weights": Option(str, choices=WEIGHTS_SOURCES),
        "seed": SEED,
        "device": DEVICE,
        "threshold": Option(float, above=0.0, high=0.999, help="mask probability, (0, 1)"),
        "restrict": Option(str, choices=RESTRICTIONS, help="mask pixels inside box or frame"),
        "threads": THREADS,
        "store": STORE,
    }

    @classmethod
    def model_files(cls, *, encoder: str = "vit_b", weights: str = "sam",
                    **_: object) -> list[tuple[str, str]]:
        """The model store files ``(model, file name)`` a segmenter with these options loads."""
        if weights != "sam" or encoder not in CHECKPOINTS:
            return []
        return [(MODELS_BY_ENCODER[encoder], CHECKPOINTS[encoder].filename)]

    def __init__(
        self,
        *,
        encoder: str = "vit_b",
        weights: str = "sam",
        seed: int = 0,
        device: str = "auto",
        threshold: float = 0.5,
        restrict: str = "box",
        threads: int | None = None,
        store: ModelStore | None = None,
    ) -> None:
        if encoder not in CHECKPOINTS:
            raise VcmError(f"unknown sam encoder {encoder!r}; choose one of: {', '.join(ENCODERS)}")
        if weights not in WEIGHTS_SOURCES:
            raise VcmError(f"unknown sam weights {weights!r}; choose one of: "
                           f"{', '.join(WEIGHTS_SOURCES)}")
        if not 0.0 < threshold < 1.0:
            raise VcmError(f"sam threshold must be in (0, 1), got {threshold!r}")
        if restrict not in RESTRICTIONS:
            raise VcmError(f"unknown sam restrict {restrict!r}; choose one of: "
                           f"{', '.join(RESTRICTIONS)}")
        require("the sam segmenter", self.requirements)
        import segment_anything
        import torch

        if threads is not None:
            torch.set_num_threads(int(threads))
        self.encoder = encoder
        self.weights = weights
        self.seed = int(seed)
        self.threshold = float(threshold)
        self.restrict = restrict
        self.device = select_device(device)
        self.weights_path: Path | None = None
        if weights == "sam":  # fetched first: a missing or wrong file fails before the build
            store = store if store is not None else ModelStore()
            self.weights_path = store.fetch(MODELS_BY_ENCODER[encoder],
                                            CHECKPOINTS[encoder].filename)
        with seeded(self.seed):
            # Built without a checkpoint: segment_anything's own loader unpickles anything.
            model = segment_anything.sam_model_registry[encoder]()
        if self.weights_path is not None:
            load_state_dict(model, self.weights_path, f"SAM {encoder}")
        self.model = model.to(self.device).eval()
        self._predictor = segment_anything.SamPredictor(self.model)

    def mask_logits(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> Any:
        """SAM's (N, H, W) mask logits (torch float32, on the model's device) over the whole
        (H, W, 3) uint8 BGR frame for its N boxes (``x1, y1, x2, y2`` frame pixels), all N as
        one batch of prompts."""
        import torch

        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got "
                             f"{frame_bgr.shape} {frame_bgr.dtype}")
        frame_size = frame_bgr.shape[:2]
        self._predictor.set_image(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB), image_format="RGB")
        prompts = torch.as_tensor(sam_box_prompts(boxes), dtype=torch.float32, device=self.device)
        logits, _, _ = self._predictor.predict_torch(
            None, None, boxes=self._predictor.transform.apply_boxes_torch(prompts, frame_size),
            multimask_output=False, return_logits=True,
        )
        self._predictor.reset_image()  # the frame's embedding is not needed again
        return logits[:, 0]

    def segment(
        self, frame_bgr: np.ndarray, boxes: np.ndarray, scores: np.ndarray
    ) -> list[dict | None]:
        """COCO RLE frame masks for each box (``x1, y1, x2, y2`` pixels inside the frame), or
        ``None`` where no pixel passes. ``scores`` are not used."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return []
        logit_threshold = math.log(self.threshold / (1.0 - self.threshold))
        person = (self.mask_logits(frame_bgr, boxes) > logit_threshold).cpu().numpy()
        return person_masks(person, boxes, self.restrict)

    def describe(self) -> dict:
        """Encoder, weights (URL and sha256, or the seed), device, threshold and restriction."""
        from importlib.metadata import version

        return {
            "name": self.name,
            "model": f"segment-anything/{self.encoder}",
            "encoder": self.encoder,
            "weights": weights_record(CHECKPOINTS[self.encoder], self.weights_path,
                                      source="Meta segment-anything release", seed=self.seed),
            "segment_anything": version("segment-anything"),
            **describe_device(self.device),
            "image_size": self.model.image_encoder.img_size,
            "prompt": "each box, all boxes of a frame in one batch, one mask per box",
            "threshold": self.threshold,
            "restrict": self.restrict,
            "score": "detector score",
        }


def sam_box_prompts(boxes: np.ndarray) -> np.ndarray:
    """SAM box prompts (N, 4) for boxes ``x1, y1, x2, y2`` in frame pixels (pixel c spans
    [c, c + 1)): the indices of each box's first and last pixel column and row.

    SAM's prompt encoder reads coordinates as pixel indices (it adds 0.5 to reach the pixel
    centre), so a box's right and bottom edges go in one pixel in: a box one pixel wide is
    the prompt ``x1 == x2``, never less."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    prompts = boxes.copy()
    prompts[:, 2:] = np.maximum(boxes[:, 2:] - 1.0, boxes[:, :2])
    return prompts


def person_masks(person: np.ndarray, boxes: np.ndarray, restrict: str) -> list[dict | None]:
    """COCO RLE of each of the N (H, W) bool frame masks ``person`` (N, H, W); with
    ``restrict="box"`` only the pixels whose centres lie inside the mask's box (``boxes``
    (N, 4) ``x1, y1, x2, y2`` frame pixels) are kept. ``None`` for a mask left empty."""
    if restrict not in RESTRICTIONS:
        raise ValueError(f"restrict must be one of {', '.join(RESTRICTIONS)}, got {restrict!r}")
    person = np.asarray(person, dtype=bool)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if person.ndim != 3 or len(person) != len(boxes):
        raise ValueError(f"expected one (H, W) mask per box: {person.shape} masks, "
                         f"{len(boxes)} boxes")
    masks: list[dict | None] = []
    for mask, box in zip(person, boxes):
        if restrict == "box":
            mask = mask & box_pixel_mask(box, mask.shape)
        masks.append(encode_mask(mask) if mask.any() else None)
    return masks

