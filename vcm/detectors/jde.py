"""The detector ``jde``: JDE-1088x608's person boxes and 512-d appearance embeddings
(:mod:`vcm.nets.jde` has the steps and their sources, :mod:`vcm.nets.darknet` the network).

Besides ``detect`` (boxes and scores, as every detector), ``detect_embed`` gives each box's
L2-normalised embedding, for a tracker that associates by appearance as JDE's does, and
``embed(frame, boxes)`` gives JDE's embedding of any boxes (those of a detections file, say):
the same interface as the appearance embedders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vcm.detectors.base import DETECTORS
from vcm.errors import VcmError
from vcm.frameworks import describe_device, require, seeded, select_device
from vcm.nets.jde import (
    EMBEDDING_DIM, INPUT_HEIGHT, INPUT_WIDTH, MODEL, TRAINING_ONLY, WEIGHTS,
    embeddings_of_boxes, letterbox, network_input, select, to_frame, to_input,
)
from vcm.registry import DEVICE, FRAMES_PER_BATCH, SEED, THREADS, Option
from vcm.store import STORE, ModelStore, weights_record


def _multiple_of_32(name: str, value: int) -> int:
    if value < 32 or value % 32:
        raise VcmError(f"jde {name} must be a positive multiple of 32 pixels, got {value!r}")
    return int(value)


@DETECTORS.register("jde")
class JDEDetector:
    """Person boxes and 512-d embeddings from JDE-1088x608.

    Arguments: ``weights`` ``"mot"`` (the published weights, through ``store``) or
    ``"random"`` (random initialisation from ``seed``, for tests and latency); ``device``
    ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; ``frames_per_batch`` frames per forward pass;
    ``min_score`` JDE's confidence threshold (0.5); ``nms_iou`` JDE's NMS IoU (0.4);
    ``input_width``/``input_height`` the letterbox size (JDE's 1088 x 608; multiples of 32,
    other sizes only for tests and latency: the weights were trained at 1088 x 608);
    ``threads`` torch's CPU thread count (process-wide; ``None`` leaves it alone).
    """

    name = "jde"
    dimension = EMBEDDING_DIM
    requirements = ("torch",)
    option_schema = {
        "weights": Option(str, choices=("mot", "random")),
        "seed": SEED,
        "device": DEVICE,
        "frames_per_batch": FRAMES_PER_BATCH,
        "min_score": Option(float, low=0.0, high=1.0, help="JDE's confidence threshold"),
        "nms_iou": Option(float, above=0.0, high=1.0, help="JDE's NMS IoU threshold"),
        "input_width": Option(int, low=32, high=4096, multiple_of=32, help="pixels"),
        "input_height": Option(int, low=32, high=4096, multiple_of=32, help="pixels"),
        "threads": THREADS,
        "store": STORE,
    }

    @classmethod
    def model_files(cls, *, weights: str = "mot", **_: object) -> list[tuple[str, str]]:
        """The model store files ``(model, file name)`` a detector with these options loads."""
        return [(MODEL, WEIGHTS.filename)] if weights == "mot" else []

    def __init__(
        self,
        *,
        weights: str = "mot",
        seed: int = 0,
        device: str = "auto",
        frames_per_batch: int = 1,
        min_score: float = 0.5,
        nms_iou: float = 0.4,
        input_width: int = INPUT_WIDTH,
        input_height: int = INPUT_HEIGHT,
        threads: int | None = None,
        store: ModelStore | None = None,
    ) -> None:
        if weights not in ("mot", "random"):
            raise VcmError(f"jde weights must be 'mot' or 'random', got {weights!r}")
        if frames_per_batch < 1:
            raise VcmError(f"jde frames_per_batch must be at least 1, got {frames_per_batch}")
        if not 0.0 <= min_score <= 1.0:
            raise VcmError(f"jde min_score must be in [0, 1], got {min_score!r}")
        if not 0.0 < nms_iou <= 1.0:
            raise VcmError(f"jde nms_iou must be in (0, 1], got {nms_iou!r}")
        self.input_width = _multiple_of_32("input_width", input_width)
        self.input_height = _multiple_of_32("input_height", input_height)
        require("the jde detector", self.requirements)
        import torch

        from vcm.nets.checkpoints import load_strictly
        from vcm.nets.darknet import JDENetwork

        if threads is not None:
            torch.set_num_threads(int(threads))
        self.weights = weights
        self.seed = int(seed)
        self.frames_per_batch = int(frames_per_batch)
        self.min_score = float(min_score)
        self.nms_iou = float(nms_iou)
        self.device = select_device(device)
        self.weights_path: Path | None = None
        if weights == "mot":  # fetched first: a missing or wrong file fails before the build
            store = store if store is not None else ModelStore()
            self.weights_path = store.fetch(MODEL, WEIGHTS.filename)
        with seeded(self.seed):
            network = JDENetwork()
        if self.weights_path is not None:
            load_strictly(network, self.weights_path, "JDE-1088x608", drop=TRAINING_ONLY)
        self.network = network.to(self.device).eval()
        self._torch = torch

    def detect(self, frame_bgr: np.ndarray, frame_number: int) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes (N, 4) ``x1, y1, x2, y2`` in frame pixels and scores (N,)."""
        boxes, scores, _ = self.detect_embed_batch([frame_bgr])[0]
        return boxes, scores

    def detect_batch(self, frames_bgr: list[np.ndarray], frame_numbers: list[int]
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`detect` for several frames in one forward pass."""
        return [(boxes, scores) for boxes, scores, _ in self.detect_embed_batch(frames_bgr)]

    def detect_embed(self, frame_bgr: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, 4) in frame pixels (float64), scores (N,) and embeddings (N, 512) float32,
        L2-normalised, of one (H, W, 3) uint8 BGR frame."""
        return self.detect_embed_batch([frame_bgr])[0]

    def detect_embed_batch(self, frames_bgr: list[np.ndarray]
                           ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """:meth:`detect_embed` for several frames in one forward pass."""
        if not frames_bgr:
            return []
        heads = self._heads(frames_bgr)
        results = []
        for index, frame in enumerate(frames_bgr):
            boxes, scores, embeddings = select(
                [head[index] for head in heads], min_score=self.min_score, nms_iou=self.nms_iou)
            boxes = to_frame(boxes, frame.shape[1], frame.shape[0],
                             self.input_width, self.input_height)
            results.append((boxes, scores, embeddings))
        return results

    def embed(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """JDE's embeddings (N, 512) float32, L2-normalised, of ``boxes`` (N, 4) ``x1, y1, x2,
        y2`` in pixels of the (H, W, 3) uint8 BGR frame: each box takes the embedding of the
        proposal that overlaps it most (:func:`vcm.nets.jde.embeddings_of_boxes`), so a box this
        detector found gets the embedding :meth:`detect_embed` gave it."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        heads = self._heads([frame_bgr])
        inputs = to_input(boxes, frame_bgr.shape[1], frame_bgr.shape[0],
                          self.input_width, self.input_height)
        return embeddings_of_boxes(inputs, [head[0] for head in heads])

    def _heads(self, frames_bgr: list[np.ndarray]) -> list[np.ndarray]:
        """The network's three head outputs for the frames, as numpy (B, 536, h, w) each."""
        torch = self._torch
        for frame in frames_bgr:
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got "
                                 f"{frame.shape} {frame.dtype}")
        batch = np.stack([
            network_input(letterbox(frame, self.input_width, self.input_height)[0])
            for frame in frames_bgr
        ])
        with torch.inference_mode():
            heads = self.network(torch.from_numpy(batch).to(self.device))
        return [head.float().cpu().numpy() for head in heads]

    def describe(self) -> dict:
        """Model, weights (URL and sha256, or the seed), device and thresholds."""
        return {
            "name": self.name,
            "model": "JDE-1088x608 (Towards-Realtime-MOT, Darknet-53 + 3 YOLO heads + 512-d "
                     "embeddings)",
            "weights": weights_record(WEIGHTS, self.weights_path,
                                      source="JDE README (Google Drive)", seed=self.seed),
            **describe_device(self.device),
            "input": [self.input_width, self.input_height],
            "frames_per_batch": self.frames_per_batch,
            "min_score": self.min_score,
            "nms_iou": self.nms_iou,
            "embedding_dim": EMBEDDING_DIM,
        }
