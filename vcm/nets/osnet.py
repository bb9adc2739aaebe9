"""OSNet-x1.0 re-identification features per person box (torchreid's ``osnet_x1_0``,
Zhou et al. ICCV 2019): an appearance backend with the ``embed(frame_bgr, boxes)`` interface.

Each box is cut from the frame (pixels ``floor(x1) .. ceil(x2)`` clipped to the frame, at least
one pixel), resized to 128 x 256 (width x height, torchreid's ``height=256, width=128``) with
bilinear interpolation, turned to RGB in [0, 1] and normalised with ImageNet's mean
(0.485, 0.456, 0.406) and standard deviation (0.229, 0.224, 0.225), as torchreid's
``FeatureExtractor`` does (it resizes with PIL's bilinear filter, this with OpenCV's: the two
differ slightly on downscaling). The network's 512-d output is L2-normalised, so the cosine
similarity of two boxes is the dot product of their embeddings.

The published weights are torchreid's model-zoo ``osnet_x1_0`` trained on MSMT17 (Google
Drive, no checksum published). The store entry therefore has none: the first download (or the
first use of a file put in the cache by hand) is pinned by its sha256, and the ``sha256``
option pins a digest the user chose, refusing any other file. torch is imported only when an
embedder is built.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from vcm.errors import VcmError
from vcm.frameworks import describe_device, require, seeded, select_device
from vcm.registry import DEVICE, SEED, THREADS, Option
from vcm.store import STORE, ModelFile, ModelSpec, ModelStore, register_model, weights_record

MODEL = "torchreid"
INPUT_WIDTH, INPUT_HEIGHT = 128, 256
MEAN_RGB = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD_RGB = np.array([0.229, 0.224, 0.225], dtype=np.float32)
EMBEDDING_DIM = 512

WEIGHTS = ModelFile(
    "osnet_x1_0_msmt17_256x128_amsgrad_ep150_stp60_lr0.0015_b64_fb10_softmax_labelsmooth_flip.pth",
    # torchreid's model zoo (kaiyangzhou.github.io/deep-person-reid/MODEL_ZOO, "Same-domain
    # ReID", osnet_x1_0, MSMT17); Google Drive, no checksum published.
    "https://drive.google.com/uc?id=112EMUfBPYeYg70w-syK6V6Mx8-Qb9Q1M",
    None,
)

SPEC = register_model(ModelSpec(
    name=MODEL,
    description="torchreid OSNet-x1.0 re-ID weights, MSMT17 (MIT-licensed code, "
                "github.com/KaiyangZhou/deep-person-reid)",
    files=(WEIGHTS,),
))

TRAINING_ONLY = ("classifier.",)
"""Checkpoint parameters the embedder does not use: torchreid's identity classifier
(``Linear(512, identities)``, 4101 rows for MSMT17)."""

_SHA256 = Option(str, optional=True, pattern="[0-9a-f]{64}",
                 help="64 lowercase hex digits: the sha256 of the weights file you trust")


def crop_pixels(boxes: np.ndarray, frame_width: int, frame_height: int) -> np.ndarray:
    """Integer pixel ranges ``x1, y1, x2, y2`` (end exclusive) of the boxes (N, 4) ``x1, y1, x2,
    y2`` in frame pixels: every pixel a box touches, clipped to the frame, at least one pixel."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not np.isfinite(boxes).all():
        raise ValueError("boxes must be finite")
    x1 = np.clip(np.floor(boxes[:, 0]), 0, frame_width - 1)
    y1 = np.clip(np.floor(boxes[:, 1]), 0, frame_height - 1)
    x2 = np.maximum(np.clip(np.ceil(boxes[:, 2]), 0, frame_width), x1 + 1)
    y2 = np.maximum(np.clip(np.ceil(boxes[:, 3]), 0, frame_height), y1 + 1)
    return np.stack([x1, y1, x2, y2], axis=1).astype(np.int64)


def crop_inputs(frame_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The network input of each box: (N, 3, 256, 128) float32, normalised RGB."""
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got "
                         f"{frame_bgr.shape} {frame_bgr.dtype}")
    pixels = crop_pixels(boxes, frame_bgr.shape[1], frame_bgr.shape[0])
    inputs = np.empty((len(pixels), 3, INPUT_HEIGHT, INPUT_WIDTH), dtype=np.float32)
    for index, (x1, y1, x2, y2) in enumerate(pixels):
        crop = cv2.resize(frame_bgr[y1:y2, x1:x2], (INPUT_WIDTH, INPUT_HEIGHT),
                          interpolation=cv2.INTER_LINEAR)
        rgb = crop[:, :, ::-1].astype(np.float32) / 255.0
        inputs[index] = ((rgb - MEAN_RGB) / STD_RGB).transpose(2, 0, 1)
    return inputs


class OSNetEmbedder:
    """512-d L2-normalised OSNet-x1.0 embeddings of person boxes.

    Arguments: ``weights`` ``"msmt17"`` (torchreid's MSMT17 weights, through ``store``) or
    ``"random"`` (random initialisation from ``seed``); ``sha256`` the full digest of the
    weights file the user trusts (optional; without it the store pins the first file it
    finds); ``device``; ``crops_per_batch`` boxes per forward pass; ``threads`` torch's CPU
    thread count (process-wide; ``None`` leaves it alone).
    """

    name = "osnet"
    dim = EMBEDDING_DIM
    dimension = EMBEDDING_DIM
    requirements = ("torch",)
    option_schema = {
        "weights": Option(str, choices=("msmt17", "random")),
        "sha256": _SHA256,
        "seed": SEED,
        "device": DEVICE,
        "crops_per_batch": Option(int, low=1, high=4096, help="boxes per forward pass"),
        "threads": THREADS,
        "store": STORE,
    }

    @classmethod
    def model_files(cls, *, weights: str = "msmt17", **_: object) -> list[tuple[str, str]]:
        """The model store files ``(model, file name)`` an embedder with these options loads."""
        return [(MODEL, WEIGHTS.filename)] if weights == "msmt17" else []

    def __init__(
        self,
        *,
        weights: str = "msmt17",
        sha256: str | None = None,
        seed: int = 0,
        device: str = "auto",
        crops_per_batch: int = 64,
        threads: int | None = None,
        store: ModelStore | None = None,
    ) -> None:
        if weights not in ("msmt17", "random"):
            raise VcmError(f"osnet weights must be 'msmt17' or 'random', got {weights!r}")
        problem = _SHA256.problem(sha256)
        if problem:
            raise VcmError(f"osnet sha256 {problem}")
        if crops_per_batch < 1:
            raise VcmError(f"osnet crops_per_batch must be at least 1, got {crops_per_batch}")
        require("the osnet embedder", self.requirements)
        import torch

        from vcm.nets.checkpoints import load_strictly
        from vcm.nets.osnet_torch import OSNet

        if threads is not None:
            torch.set_num_threads(int(threads))
        self.weights = weights
        self.seed = int(seed)
        self.crops_per_batch = int(crops_per_batch)
        self.device = select_device(device)
        self.weights_path: Path | None = None
        if weights == "msmt17":
            self.weights_path = pinned_store(store, sha256).fetch(MODEL, WEIGHTS.filename)
        with seeded(self.seed):
            network = OSNet()
        if self.weights_path is not None:
            load_strictly(network, self.weights_path, "OSNet-x1.0", drop=TRAINING_ONLY)
        self.network = network.to(self.device).eval()
        self._torch = torch

    def embed(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Embeddings (N, 512) float32, L2-normalised, of the N boxes (``x1, y1, x2, y2``
        frame pixels) of one (H, W, 3) uint8 BGR frame; (0, 512) for no boxes."""
        torch = self._torch
        inputs = crop_inputs(frame_bgr, boxes)
        if len(inputs) == 0:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        features = []
        with torch.inference_mode():
            for start in range(0, len(inputs), self.crops_per_batch):
                batch = torch.from_numpy(inputs[start:start + self.crops_per_batch])
                output = self.network(batch.to(self.device))
                features.append(torch.nn.functional.normalize(output.float(), dim=1).cpu())
        return torch.cat(features).numpy().astype(np.float32)

    def describe(self) -> dict:
        """Model, weights (URL and sha256, or the seed), device and preprocessing."""
        return {
            "name": self.name,
            "model": "torchreid osnet_x1_0 (512-d, L2-normalised)",
            "weights": weights_record(WEIGHTS, self.weights_path,
                                      source="torchreid model zoo, MSMT17", seed=self.seed),
            **describe_device(self.device),
            "input": [INPUT_WIDTH, INPUT_HEIGHT],
            "normalisation": {"mean_rgb": MEAN_RGB.tolist(), "std_rgb": STD_RGB.tolist()},
            "crops_per_batch": self.crops_per_batch,
        }


def pinned_store(store: ModelStore | None, sha256: str | None) -> ModelStore:
    """``store`` (default: from the environment), with the OSNet weights' checksum set to
    ``sha256`` when one is given, so that a file with any other digest is refused."""
    store = store if store is not None else ModelStore()
    if sha256 is None:
        return store
    pinned = dataclasses.replace(WEIGHTS, sha256=sha256)
    models = {**store.models, MODEL: ModelSpec(MODEL, (pinned,), SPEC.description)}
    return ModelStore(cache_dir=store.cache_dir, mirror_dir=store.mirror_dir,
                      offline=store.offline, models=models, progress=store.progress)

