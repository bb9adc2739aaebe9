"""torchvision's Faster R-CNN detectors (COCO), for machines where detectron2 cannot be installed.

Two models: ``fasterrcnn_resnet50_fpn_v2`` (ResNet-50 FPN, the improved v2 recipe, COCO box
AP 46.7) and ``fasterrcnn_mobilenet_v3_large_fpn`` (MobileNetV3-Large FPN, AP 32.8, several
times faster on a CPU). Their COCO weights come from the model store (``torchvision``; see
:mod:`vcm.store`); ``weights="random"`` builds the same network randomly initialised, for tests
and latency benchmarks. torchvision's models resize each frame internally (shortest side
``min_size``, longest at most ``max_size``) and return boxes in the frame's own pixels.
"""

from __future__ import annotations

import numpy as np

from vcm.detectors.base import DETECTORS
from vcm.errors import VcmError
from vcm.registry import DEVICE, FRAMES_PER_BATCH, SEED, THREADS, Option
from vcm.frameworks import describe_device, require, seeded, select_device
from vcm.store import STORE, ModelFile, ModelSpec, ModelStore, file_sha256, register_model

MODEL = "torchvision"

# torchvision publishes the first 8 hex digits of each file's sha256 in its name.
WEIGHTS = {
    "fasterrcnn_resnet50_fpn_v2": ModelFile(
        "fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth",
        "https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth",
        "dd69338a",
    ),
    "fasterrcnn_mobilenet_v3_large_fpn": ModelFile(
        "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth",
        "https://download.pytorch.org/models/fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth",
        "fb6a3cc7",
    ),
}

register_model(ModelSpec(
    name=MODEL,
    description="torchvision Faster R-CNN COCO weights (BSD-3-Clause code; COCO-trained)",
    files=tuple(WEIGHTS.values()),
))

PERSON_LABEL = 1
"""torchvision's detection models number COCO's categories by their COCO ids, background 0:
person is 1."""


@DETECTORS.register("torchvision")
class TorchvisionDetector:
    """Person boxes from a torchvision Faster R-CNN.

    Arguments: ``model`` one of :data:`WEIGHTS` (default ``fasterrcnn_resnet50_fpn_v2``);
    ``weights`` ``"coco"`` (the published COCO weights, through ``store``) or ``"random"``
    (random initialisation from ``seed``); ``device`` ``auto`` (CUDA when present), ``cpu``,
    ``cuda`` or ``cuda:N``; ``frames_per_batch`` frames per forward pass; ``min_score`` the
    model's own box score threshold (the sweep's threshold is applied afterwards);
    ``min_size``/``max_size`` the internal resize (torchvision's defaults 800/1333);
    ``threads`` torch's CPU thread count (process-wide; ``None`` leaves it alone).
    """

    name = "torchvision"
    requirements = ("torch", "torchvision")
    option_schema = {
        "model": Option(str, choices=tuple(WEIGHTS), help="torchvision model name"),
        "weights": Option(str, choices=("coco", "random")),
        "seed": SEED,
        "device": DEVICE,
        "frames_per_batch": FRAMES_PER_BATCH,
        "min_score": Option(float, low=0.0, high=1.0, help="the model's own score threshold"),
        "min_size": Option(int, low=32, high=8192, help="internal resize, short side (pixels)"),
        "max_size": Option(int, low=32, high=8192, help="internal resize, long side (pixels)"),
        "threads": THREADS,
        "store": STORE,
    }

    @classmethod
    def model_files(cls, *, model: str = "fasterrcnn_resnet50_fpn_v2", weights: str = "coco",
                    **_: object) -> list[tuple[str, str]]:
        """The model store files ``(model, file name)`` a detector with these options loads."""
        if weights != "coco" or model not in WEIGHTS:
            return []
        return [(MODEL, WEIGHTS[model].filename)]

    def __init__(
        self,
        *,
        model: str = "fasterrcnn_resnet50_fpn_v2",
        weights: str = "coco",
        seed: int = 0,
        device: str = "auto",
        frames_per_batch: int = 1,
        min_score: float = 0.05,
        min_size: int = 800,
        max_size: int = 1333,
        threads: int | None = None,
        store: ModelStore | None = None,
    ) -> None:
        require("the torchvision detector", self.requirements)
        import torch
        import torchvision

        if model not in WEIGHTS:
            raise VcmError(
                f"unknown torchvision model {model!r}; choose one of: {', '.join(WEIGHTS)}"
            )
        if weights not in ("coco", "random"):
            raise VcmError(f"torchvision weights must be 'coco' or 'random', got {weights!r}")
        if frames_per_batch < 1:
            raise VcmError(f"frames_per_batch must be at least 1, got {frames_per_batch}")
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.model_name = model
        self.weights = weights
        self.seed = int(seed)
        self.frames_per_batch = int(frames_per_batch)
        self.min_score = float(min_score)
        self.min_size, self.max_size = int(min_size), int(max_size)
        self.device = select_device(device)
        self.weights_path = None
        builder = getattr(torchvision.models.detection, model)
        options = dict(weights=None, weights_backbone=None, box_score_thresh=self.min_score,
                       min_size=self.min_size, max_size=self.max_size)
        if weights == "random":
            with seeded(self.seed):
                network = builder(**options)
        else:
            store = store if store is not None else ModelStore()
            self.weights_path = store.fetch(MODEL, WEIGHTS[model].filename)
            network = builder(**options)
            state = torch.load(self.weights_path, map_location="cpu", weights_only=True)
            try:
                network.load_state_dict(state)
            except RuntimeError as error:
                raise VcmError(f"{self.weights_path}: not {model} weights ({error})") from None
        self._network = network.to(self.device).eval()
        self._torch = torch

    def detect(self, frame_bgr: np.ndarray, frame_number: int) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes (N, 4) ``x1, y1, x2, y2`` in frame pixels and scores (N,)."""
        return self.detect_batch([frame_bgr], [frame_number])[0]

    def detect_batch(
        self, frames_bgr: list[np.ndarray], frame_numbers: list[int]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`detect` for several frames in one forward pass."""
        torch = self._torch
        images = [
            torch.from_numpy(np.ascontiguousarray(frame[:, :, ::-1]))
            .to(self.device).permute(2, 0, 1).float().div_(255.0)
            for frame in frames_bgr
        ]
        with torch.inference_mode():
            outputs = self._network(images)
        return [person_boxes(output) for output in outputs]

    def describe(self) -> dict:
        import torchvision

        return {
            "name": self.name,
            "model": f"torchvision/{self.model_name}",
            "weights": (
                f"random (seed {self.seed})" if self.weights_path is None
                else {self.weights_path.name: file_sha256(self.weights_path)}
            ),
            "torchvision": torchvision.__version__,
            **describe_device(self.device),
            "frames_per_batch": self.frames_per_batch,
            "min_score": self.min_score,
            "min_size": self.min_size,
            "max_size": self.max_size,
        }


def person_boxes(output: dict) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) and scores (N,) of the person rows of one torchvision detection output
    (a dict of tensors ``boxes`` (M, 4), ``scores`` (M,), ``labels`` (M,)), as float64."""
    labels = output["labels"].detach().cpu().numpy()
    person = labels == PERSON_LABEL
    boxes = output["boxes"].detach().cpu().numpy().astype(np.float64).reshape(-1, 4)[person]
    scores = output["scores"].detach().cpu().numpy().astype(np.float64).reshape(-1)[person]
    return boxes, scores
