"""HRNet-W32 (256x192, COCO) through mmpose 1.x, top-down on the shared person boxes.

The model is mmpose's ``td-hm_hrnet-w32_8xb64-210e_coco-256x192`` config (shipped inside the
mmpose wheel) with its published COCO checkpoint from the model store (``mmpose``; see
:mod:`vcm.store`), or randomly initialised (``weights="random"``) for tests and latency
benchmarks. Each box goes through the config's own test pipeline (centre and scale with
padding 1.25, affine warp to 192x256, flip test as the config sets it), exactly as
``mmpose.apis.inference_topdown`` prepares it, but the crops of several frames share one
forward pass. mmpose gives every box the score 1; :func:`vcm.pose.base.estimate_video`
multiplies the detector's score in.

mmcv's compiled operators (``mmcv._ext``) are not used by HRNet, but ``import mmpose`` imports
them through its transformer heads. With ``mmcv-lite``, which has none, :func:`import_mmpose`
puts a module in place of ``mmcv._ext`` whose every operator raises
:class:`MissingMmcvOperator` when called, so the import succeeds and a model that does need a
compiled operator fails loudly. With the full mmcv it changes nothing.
"""

from __future__ import annotations

import importlib.machinery
import logging
import sys
import types
from pathlib import Path
from typing import Sequence

import numpy as np

from vcm.boxes import clip_boxes
from vcm.errors import VcmError
from vcm.frameworks import (
    describe_device,
    load_state_dict,
    module_available,
    require,
    seeded,
    select_device,
)
from vcm.keypoints import COCO_KEYPOINT_NAMES
from vcm.pose.base import POSE_ESTIMATORS, crop_windows
from vcm.registry import DEVICE, FRAMES_PER_BATCH, SEED, THREADS, Option
from vcm.store import STORE, ModelFile, ModelSpec, ModelStore, file_sha256, register_model

LOG = logging.getLogger(__name__)

MODEL = "mmpose"
CONFIG = "td-hm_hrnet-w32_8xb64-210e_coco-256x192"
CONFIG_FOLDER = "body_2d_keypoint/topdown_heatmap/coco"

# OpenMMLab publishes the first 8 hex digits of each checkpoint's sha256 in its name.
CHECKPOINTS = {
    CONFIG: ModelFile(
        "hrnet_w32_coco_256x192-c78dce93_20200708.pth",
        "https://download.openmmlab.com/mmpose/top_down/hrnet/"
        "hrnet_w32_coco_256x192-c78dce93_20200708.pth",
        "c78dce93",
    ),
}

register_model(ModelSpec(
    name=MODEL,
    description="mmpose checkpoints (Apache-2.0), COCO-trained",
    files=tuple(CHECKPOINTS.values()),
))


class MissingMmcvOperator(RuntimeError):
    """A compiled mmcv operator was called, but the installed mmcv (mmcv-lite) has none."""


def _missing_operators_module() -> types.ModuleType:
    module = types.ModuleType(
        "mmcv._ext", "Installed by vcm: mmcv-lite has no compiled operators; each one raises."
    )

    def __getattr__(name: str):
        if name.startswith("__"):
            raise AttributeError(name)

        def operator(*args, **kwargs):
            raise MissingMmcvOperator(
                f"mmcv operator {name!r} was called, but this mmcv has no compiled operators "
                "(mmcv-lite); install the full mmcv (docs/install.md, 'Paper-grade backends')"
            )

        return operator

    module.__getattr__ = __getattr__
    # A spec without a loader: mmengine's mmcv_full_available() then says False, the truth.
    module.__spec__ = importlib.machinery.ModuleSpec("mmcv._ext", loader=None)
    module.vcm_stand_in = True
    return module


REQUIREMENTS = ("torch", "mmengine", "mmcv", "mmdet", "mmpose")
"""What ``import mmpose.apis`` needs (mmpose's RTMO head imports mmdet)."""


def import_mmpose() -> tuple[types.ModuleType, bool]:
    """Import mmpose for the ``hrnet`` estimator; returns ``(mmpose, compiled_ops)``.

    Missing packages are a :class:`VcmError` saying how to install them. Without
    ``mmcv._ext`` (mmcv-lite) a module of raising operators stands in for it (see the module
    docstring) and ``compiled_ops`` is false.
    """
    require("the hrnet pose estimator", REQUIREMENTS)
    loaded = sys.modules.get("mmcv._ext")
    if loaded is not None:
        compiled_ops = not getattr(loaded, "vcm_stand_in", False)
    else:
        compiled_ops = module_available("mmcv._ext")
    if not compiled_ops and loaded is None:
        LOG.warning("mmcv has no compiled operators (mmcv-lite): HRNet needs none; any model "
                    "that calls one will fail")
        sys.modules["mmcv._ext"] = _missing_operators_module()
    import mmpose
    import mmpose.apis  # noqa: F401  (the import that needs mmcv.ops)

    return mmpose, compiled_ops


def config_path(mmpose_module: types.ModuleType, config: str = CONFIG) -> Path:
    """The config file ``config`` inside the installed mmpose (its ``.mim/configs`` folder)."""
    path = Path(mmpose_module.__file__).parent / ".mim" / "configs" / CONFIG_FOLDER / f"{config}.py"
    if not path.is_file():
        raise VcmError(f"{path}: mmpose's config {config} is not there; install mmpose from "
                       "its wheel (which ships the configs)")
    return path


@POSE_ESTIMATORS.register("hrnet")
class HrnetEstimator:
    """HRNet-W32 256x192 (mmpose) on every person box.

    Arguments: ``weights`` ``"coco"`` (the published checkpoint, through ``store``) or
    ``"random"`` (random initialisation from ``seed``); ``device`` ``auto`` (CUDA when
    present), ``cpu``, ``cuda`` or ``cuda:N``; ``frames_per_batch`` frames whose crops share
    forward passes; ``crops_per_batch`` the most crops in one forward pass (memory);
    ``flip_test`` ``None`` keeps the config's setting (on), else forces it;
    ``threads`` torch's CPU thread count (process-wide; ``None`` leaves it alone).

    Keypoint confidences are the heatmap maxima mmpose reports, clipped to [0, 1].
    """

    name = "hrnet"
    keypoint_names = COCO_KEYPOINT_NAMES
    requirements = REQUIREMENTS
    option_schema = {
        "weights": Option(str, choices=("coco", "random")),
        "seed": SEED,
        "device": DEVICE,
        "frames_per_batch": FRAMES_PER_BATCH,
        "crops_per_batch": Option(int, low=1, high=4096, help="crops per forward pass"),
        "flip_test": Option(bool, optional=True, help="null: the config's setting"),
        "threads": THREADS,
        "store": STORE,
    }

    @classmethod
    def model_files(cls, *, weights: str = "coco", **_: object) -> list[tuple[str, str]]:
        """The model store files ``(model, file name)`` an estimator with these options loads."""
        return [(MODEL, CHECKPOINTS[CONFIG].filename)] if weights == "coco" else []

    def __init__(
        self,
        *,
        weights: str = "coco",
        seed: int = 0,
        device: str = "auto",
        frames_per_batch: int = 4,
        crops_per_batch: int = 64,
        flip_test: bool | None = None,
        threads: int | None = None,
        store: ModelStore | None = None,
    ) -> None:
        mmpose, self.compiled_ops = import_mmpose()
        import torch
        from mmengine.config import Config
        from mmengine.dataset import Compose, pseudo_collate
        from mmpose.apis import init_model

        if weights not in ("coco", "random"):
            raise VcmError(f"hrnet weights must be 'coco' or 'random', got {weights!r}")
        if frames_per_batch < 1 or crops_per_batch < 1:
            raise VcmError("frames_per_batch and crops_per_batch must be at least 1, got "
                           f"{frames_per_batch} and {crops_per_batch}")
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.weights = weights
        self.seed = int(seed)
        self.frames_per_batch = int(frames_per_batch)
        self.crops_per_batch = int(crops_per_batch)
        self.device = select_device(device)
        self.mmpose_version = mmpose.__version__
        self.config_file = config_path(mmpose)
        config = Config.fromfile(self.config_file)
        if flip_test is not None:
            config.model.test_cfg.flip_test = bool(flip_test)
        self.flip_test = bool(config.model.test_cfg.get("flip_test", False))
        with seeded(self.seed):
            # init_model leaves the weights as initialised when given no checkpoint.
            model = init_model(config, checkpoint=None, device="cpu")
        self.checkpoint = None
        if weights == "coco":
            store = store if store is not None else ModelStore()
            self.checkpoint = store.fetch(MODEL, CHECKPOINTS[CONFIG].filename)
            # Pre-1.0 key names are renamed by mmpose's own load hook.
            load_state_dict(model, self.checkpoint, CONFIG)
        self._model = model.to(self.device).eval()
        self._pipeline = Compose(config.test_dataloader.dataset.pipeline)
        self._collate = pseudo_collate
        self._torch = torch

    def estimate(
        self, frame_bgr: np.ndarray, boxes: np.ndarray, scores: np.ndarray
    ) -> list[np.ndarray | None]:
        """Keypoints (17, 3) ``x, y, confidence`` in frame pixels for each box."""
        return self.estimate_batch([frame_bgr], [boxes], [scores])[0]

    def estimate_batch(
        self,
        frames_bgr: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray],
        scores: Sequence[np.ndarray],
    ) -> list[list[np.ndarray | None]]:
        """:meth:`estimate` for several frames; their crops share forward passes."""
        samples = []
        counts = []
        for frame, frame_boxes in zip(frames_bgr, boxes, strict=True):
            # mmpose warps each box to 192x256, so no crop grows with the box; clipping keeps
            # the warp's scale finite and the person centred as in the frame.
            frame_boxes = clip_boxes(frame_boxes, frame.shape[1], frame.shape[0]).astype(
                np.float32)
            counts.append(len(frame_boxes))
            for box in frame_boxes:
                sample = dict(img=frame, bbox=box[None], bbox_score=np.ones(1, np.float32))
                sample.update(self._model.dataset_meta)
                samples.append(self._pipeline(sample))
        keypoints = []
        with self._torch.inference_mode():
            for start in range(0, len(samples), self.crops_per_batch):
                batch = self._collate(samples[start:start + self.crops_per_batch])
                for result in self._model.test_step(batch):
                    keypoints.append(pose_from_instances(result.pred_instances))
        per_frame, start = [], 0
        for count in counts:
            per_frame.append(keypoints[start:start + count])
            start += count
        return per_frame

    @staticmethod
    def crop_windows_for(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
        """The crop windows (N, 4) ``x1, y1, x2, y2`` pixels this estimator reads around
        ``boxes`` (N, 4) in a ``width`` x ``height`` frame: the config's test pipeline scales
        each clipped box by 1.25 and lengthens its short side to the 192x256 input's 0.75
        width / height."""
        return crop_windows(clip_boxes(boxes, width, height), padding=1.25, aspect=192 / 256)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "model": f"mmpose/{CONFIG}",
            "config": str(self.config_file),
            "weights": (
                f"random (seed {self.seed})" if self.checkpoint is None
                else {self.checkpoint.name: file_sha256(self.checkpoint)}
            ),
            "mmpose": self.mmpose_version,
            "mmcv_compiled_ops": self.compiled_ops,
            **describe_device(self.device),
            "flip_test": self.flip_test,
            "frames_per_batch": self.frames_per_batch,
            "crops_per_batch": self.crops_per_batch,
            "keypoint_score": "heatmap maximum, clipped to [0, 1]",
        }


def pose_from_instances(instances) -> np.ndarray:
    """Keypoints (K, 3) ``x, y, score`` of the one person in mmpose ``pred_instances``
    (``keypoints`` (1, K, 2) in image pixels, ``keypoint_scores`` (1, K)); scores are clipped
    to [0, 1]."""
    xy = np.asarray(instances.keypoints, dtype=np.float64).reshape(-1, 2)
    score = np.clip(np.asarray(instances.keypoint_scores, dtype=np.float64).reshape(-1), 0, 1)
    if len(xy) != len(score):
        raise RuntimeError(f"mmpose returned {len(xy)} keypoints but {len(score)} scores")
    return np.column_stack([xy, score])

