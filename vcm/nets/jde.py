"""JDE-1088x608 (Wang et al., "Towards Real-Time Multi-Object Tracking", ECCV 2020), the joint
detection and embedding network the paper's single-task tracking baseline runs: the steps
from a frame to person boxes, scores and a 512-d appearance embedding per box, in numpy
(the detector ``jde``, :mod:`vcm.detectors.jde`, runs them around the network).

What happens to a frame, following JDE's reference code (github.com/Zhongdao/Towards-Realtime-MOT):

1. :func:`letterbox` (``utils/datasets.py``): resized with ``INTER_AREA`` by
   ``ratio = min(608 / h, 1088 / w)`` to ``round(w * ratio) x round(h * ratio)``, padded to
   1088 x 608 with grey 127.5 (``round(pad - 0.1)`` before, ``round(pad + 0.1)`` after);
   then RGB, channels first, divided by 255.
2. :class:`vcm.nets.darknet.JDENetwork` gives three heads (strides 32, 16, 8), 4 anchors each
   (:data:`ANCHORS` from ``cfg/yolov3_1088x608.cfg``: anchors 8-11 at stride 32, 4-7 at 16,
   0-3 at 8).
3. :func:`decode_head` (``models.py`` ``YOLOLayer`` and ``utils/utils.py``
   ``decode_delta_map``): for anchor ``(aw, ah)`` pixels at cell ``(i, j)``,
   ``cx = aw * dx + i * stride``, ``cy = ah * dy + j * stride``, ``w = aw * exp(dw)``,
   ``h = ah * exp(dh)`` (the cell's corner, not its centre, is the anchor's origin, as in JDE);
   score = softmax of the two confidence logits, person's share; the embedding is the cell's
   512 channels, L2-normalised (every anchor of a cell shares it).
4. :func:`select` (``non_max_suppression``): proposals with score > ``min_score`` (JDE's
   ``conf_thres`` 0.5), greedy NMS at IoU ``nms_iou`` (JDE's ``nms_thres`` 0.4).
5. :func:`to_frame` (``scale_coords``): ``(x - pad_x) / ratio`` with JDE's
   ``pad_x = (1088 - w * ratio) / 2`` (not the rounded pad of step 1: JDE's own sub-pixel
   offset is kept so that boxes are JDE's).

The published weights (``jde.1088x608.uncertainty.pt``, JDE's README, Google Drive) come from
the model store, checked against the full sha256 that InterDigital's CompressAI-Vision (the
MPEG FCM reference software) checks them against in its model install script. torch is
imported only when the network is built (:mod:`vcm.nets.darknet`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from vcm.boxes import pairwise_iou
from vcm.store import ModelFile, ModelSpec, register_model

MODEL = "jde"

INPUT_WIDTH, INPUT_HEIGHT = 1088, 608
PAD_VALUE = 127.5
STRIDES = (32, 16, 8)
EMBEDDING_DIM = 512

ANCHORS = np.array([
    [8, 24], [11, 34], [16, 48], [23, 68],
    [32, 96], [45, 135], [64, 192], [90, 271],
    [128, 384], [180, 540], [256, 640], [512, 640],
], dtype=np.float64)
"""JDE's 12 anchors (width, height) in input pixels, from ``cfg/yolov3_1088x608.cfg``."""

HEAD_ANCHORS = (ANCHORS[8:12], ANCHORS[4:8], ANCHORS[0:4])
"""The anchors of each head, in the order of :data:`STRIDES` (the cfg's ``mask`` lines)."""

WEIGHTS = ModelFile(
    "jde.1088x608.uncertainty.pt",
    "https://drive.usercontent.google.com/download?export=download&confirm=t"
    "&id=1nlnuYfGNuHWZztQHXwVZSL_FvfE551pA",
    # The JDE authors publish no checksum. This is the digest InterDigital's CompressAI-Vision
    # checks the same Google Drive file against (scripts/install_uv.sh, its WEIGHTS list,
    # entry jde/jde.1088x608.uncertainty.pt; also in its older install script's JDE section).
    "6b135b0affa38899b607010c86c2f8dbc1c06956bad9ca1edd45b01e626933f1",
)

register_model(ModelSpec(
    name=MODEL,
    description=("JDE-1088x608 weights (MIT-licensed code, github.com/Zhongdao/"
                 "Towards-Realtime-MOT; trained on CityPersons, ETH, CUHK-SYSU, PRW, Caltech, "
                 "MOT17)"),
    files=(WEIGHTS,),
))

TRAINING_ONLY = ("classifier.",)
"""Checkpoint parameters the detector does not use: JDE's identity classifier
(``Linear(512, identities)``), whose size is the number of training identities."""


def letterbox(frame_bgr: np.ndarray, width: int = INPUT_WIDTH, height: int = INPUT_HEIGHT
              ) -> tuple[np.ndarray, float, float, float]:
    """JDE's letterbox of an (H, W, 3) uint8 frame into ``width`` x ``height``.

    Returns ``(image, ratio, pad_x, pad_y)``: the (height, width, 3) uint8 image, the scale
    factor, and JDE's padding ``(width - round(W * ratio)) / 2`` (and likewise for y) in pixels.
    """
    frame_height, frame_width = frame_bgr.shape[:2]
    ratio = min(height / frame_height, width / frame_width)
    new_width, new_height = round(frame_width * ratio), round(frame_height * ratio)
    pad_x, pad_y = (width - new_width) / 2, (height - new_height) / 2
    top, bottom = round(pad_y - 0.1), round(pad_y + 0.1)
    left, right = round(pad_x - 0.1), round(pad_x + 0.1)
    resized = cv2.resize(frame_bgr, (new_width, new_height), interpolation=cv2.INTER_AREA)
    image = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT,
                               value=(PAD_VALUE, PAD_VALUE, PAD_VALUE))
    return image, ratio, pad_x, pad_y


def network_input(image_bgr: np.ndarray) -> np.ndarray:
    """A letterboxed (H, W, 3) uint8 BGR image as JDE's network takes it: (3, H, W) float32
    RGB in [0, 1]."""
    return np.ascontiguousarray(image_bgr[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32) / 255.0


def decode_head(head: np.ndarray, anchors: np.ndarray, stride: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Proposals of one head output ``head`` (C, H, W), C = 24 + embedding channels.

    Returns boxes (4 * H * W, 4) ``cx, cy, w, h`` in input pixels, person scores
    (4 * H * W,) and, for each proposal, the flat index ``y * W + x`` of its cell; ordered by
    anchor, then row, then column (JDE's order).
    """
    anchor_count = len(anchors)
    _, rows, columns = head.shape
    deltas = head[: anchor_count * 6].reshape(anchor_count, 6, rows, columns).astype(np.float64)
    cell_y, cell_x = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
    anchor_w = anchors[:, 0, None, None]
    anchor_h = anchors[:, 1, None, None]
    boxes = np.stack([
        anchor_w * deltas[:, 0] + cell_x * stride,
        anchor_h * deltas[:, 1] + cell_y * stride,
        anchor_w * np.exp(deltas[:, 2]),
        anchor_h * np.exp(deltas[:, 3]),
    ], axis=-1)
    # softmax over (background, person), person's share: 1 / (1 + exp(background - person)).
    scores = 1.0 / (1.0 + np.exp(deltas[:, 4] - deltas[:, 5]))
    cells = np.broadcast_to(np.arange(rows * columns).reshape(rows, columns),
                            (anchor_count, rows, columns))
    return boxes.reshape(-1, 4), scores.reshape(-1), cells.reshape(-1)


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``cx, cy, w, h`` rows to ``x1, y1, x2, y2``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    half = boxes[:, 2:] / 2
    return np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)


def select(heads: list[np.ndarray], *, min_score: float, nms_iou: float,
           strides: tuple[int, ...] = STRIDES, head_anchors: tuple[np.ndarray, ...] = HEAD_ANCHORS
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """JDE's detections of one image from its head outputs (each (C, H, W)).

    Returns boxes (N, 4) ``x1, y1, x2, y2`` in input pixels (float64), scores (N,) and
    embeddings (N, 512) float32, L2-normalised, best score first; proposals need
    ``score > min_score`` and survive greedy NMS at IoU ``nms_iou``.
    """
    # Imported here: vcm.detectors imports the jde detector, which imports this module.
    from vcm.detectors.base import non_maximum_suppression

    all_boxes, all_scores, all_embeddings = [], [], []
    for head, anchors, stride in zip(heads, head_anchors, strides):
        boxes, scores, cells = decode_head(head, anchors, stride)
        confident = scores > min_score
        if not confident.any():
            continue
        embedding_map = head[len(anchors) * 6:].reshape(head.shape[0] - len(anchors) * 6, -1)
        all_boxes.append(boxes[confident])
        all_scores.append(scores[confident])
        all_embeddings.append(embedding_map[:, cells[confident]].T)
    if not all_boxes:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, EMBEDDING_DIM), np.float32)
    boxes = cxcywh_to_xyxy(np.concatenate(all_boxes))
    scores = np.concatenate(all_scores)
    embeddings = np.concatenate(all_embeddings).astype(np.float32)
    kept = non_maximum_suppression(boxes, scores, iou_threshold=nms_iou)
    return boxes[kept], scores[kept], l2_normalised(embeddings[kept])


def embeddings_of_boxes(boxes: np.ndarray, heads: list[np.ndarray], *,
                        strides: tuple[int, ...] = STRIDES,
                        head_anchors: tuple[np.ndarray, ...] = HEAD_ANCHORS) -> np.ndarray:
    """JDE's embedding for each of ``boxes`` (N, 4) ``x1, y1, x2, y2`` in input pixels: that of
    the proposal (any head, anchor and cell, before thresholding) whose box overlaps it most
    (IoU; the first in JDE's order on a tie). A box JDE itself detected gets the embedding
    :func:`select` gave it. Returns (N, 512) float32, L2-normalised."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    channels = heads[0].shape[0] - len(head_anchors[0]) * 6
    if len(boxes) == 0:
        return np.zeros((0, channels), np.float32)
    proposals, origins = [], []
    for index, (head, anchors, stride) in enumerate(zip(heads, head_anchors, strides)):
        head_boxes, _, cells = decode_head(head, anchors, stride)
        proposals.append(cxcywh_to_xyxy(head_boxes))
        origins.append(np.column_stack([np.full(len(cells), index), cells]))
    proposals, origins = np.concatenate(proposals), np.concatenate(origins)
    best = np.argmax(pairwise_iou(boxes, proposals), axis=1)
    rows = []
    for head_index, cell in origins[best]:
        head = heads[head_index]
        rows.append(head[len(head_anchors[head_index]) * 6:].reshape(channels, -1)[:, cell])
    return l2_normalised(np.stack(rows))


def to_input(boxes: np.ndarray, frame_width: int, frame_height: int,
             width: int = INPUT_WIDTH, height: int = INPUT_HEIGHT) -> np.ndarray:
    """Boxes in frame pixels to letterboxed input pixels: the inverse of :func:`to_frame`."""
    ratio = min(width / frame_width, height / frame_height)
    pad_x = (width - frame_width * ratio) / 2
    pad_y = (height - frame_height * ratio) / 2
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return boxes * ratio + [pad_x, pad_y, pad_x, pad_y]


def l2_normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows of ``vectors`` divided by their L2 norm (float32; an all-zero row stays zero, as
    torch's ``F.normalize`` leaves it)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def to_frame(boxes: np.ndarray, frame_width: int, frame_height: int,
             width: int = INPUT_WIDTH, height: int = INPUT_HEIGHT) -> np.ndarray:
    """Boxes ``x1, y1, x2, y2`` in letterboxed input pixels back to frame pixels, as JDE's
    ``scale_coords`` does (its padding ``(width - W * ratio) / 2``, unrounded)."""
    ratio = min(width / frame_width, height / frame_height)
    pad_x = (width - frame_width * ratio) / 2
    pad_y = (height - frame_height * ratio) / 2
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return (boxes - [pad_x, pad_y, pad_x, pad_y]) / ratio


def proposal_count(width: int = INPUT_WIDTH, height: int = INPUT_HEIGHT) -> int:
    """How many proposals JDE decodes for a ``width`` x ``height`` input: 4 per cell of the
    three heads (54264 at 1088 x 608, the count JDE's tracker code names)."""
    return sum(4 * math.ceil(width / stride) * math.ceil(height / stride) for stride in STRIDES)


__all__ = ["ANCHORS", "JDEDetector", "WEIGHTS", "letterbox", "decode_head", "select",
           "to_frame", "network_input", "proposal_count", "Any"]
