"""Yolo-Fastest v1.1 (Darknet) through OpenCV's DNN module on the CPU.

The model files come from the model store (``yolo-fastest``; see :mod:`vcm.store`).
OpenCV runs the network with ``cv2.getNumThreads()`` threads, a process-wide setting
(``threads`` changes it for the whole process; ``OPENCV_FOR_THREADS_NUM`` sets it at start).
"""

from __future__ import annotations

import cv2
import numpy as np

from vcm.detectors.base import DETECTORS, non_maximum_suppression
from vcm.errors import VcmError
from vcm.registry import THREADS, Option
from vcm.store import STORE, ModelStore, file_sha256

MODEL = "yolo-fastest"

# variant -> file stem in the store; person is class 0 in all three
# ("body" has the one class "body", the COCO models have "person" first).
VARIANTS = {
    "body": "yolo-fastest-1.1_body",
    "coco": "yolo-fastest-1.1",
    "coco-xl": "yolo-fastest-1.1-xl",
}
PERSON_CLASS = 0


@DETECTORS.register("yolo-fastest")
class YoloFastestDetector:
    """Person detection with Yolo-Fastest v1.1.

    Arguments: ``variant`` one of ``body`` (person-only, default), ``coco``, ``coco-xl``;
    ``input_size`` the square network input in pixels (a multiple of 32; the models were
    trained at 320, 416 sees smaller people); ``nms_iou`` the IoU above which a
    lower-scoring box is suppressed; ``threads`` OpenCV's thread count (process-wide,
    ``None`` leaves it alone); ``store`` the :class:`ModelStore` (default: from the
    environment).
    """

    name = "yolo-fastest"
    option_schema = {
        "variant": Option(str, choices=tuple(VARIANTS)),
        "input_size": Option(int, low=32, high=4096, multiple_of=32,
                             help="network input side in pixels"),
        "nms_iou": Option(float, low=0.0, high=1.0, help="NMS IoU"),
        "threads": THREADS,
        "store": STORE,
    }

    @classmethod
    def model_files(cls, *, variant: str = "body", **_: object) -> list[tuple[str, str]]:
        """The model store files ``(model, file name)`` a detector with these options loads."""
        if variant not in VARIANTS:
            return []
        return [(MODEL, f"{VARIANTS[variant]}.{suffix}") for suffix in ("cfg", "weights")]

    def __init__(
        self,
        *,
        variant: str = "body",
        input_size: int = 320,
        nms_iou: float = 0.45,
        threads: int | None = None,
        store: ModelStore | None = None,
    ) -> None:
        if variant not in VARIANTS:
            raise VcmError(
                f"unknown yolo-fastest variant {variant!r}; choose one of: {', '.join(VARIANTS)}"
            )
        if input_size <= 0 or input_size % 32:
            raise VcmError(
                f"yolo-fastest input_size must be a positive multiple of 32, got {input_size}"
            )
        self.variant = variant
        self.input_size = int(input_size)
        self.nms_iou = float(nms_iou)
        self.threads = threads
        store = store if store is not None else ModelStore()
        stem = VARIANTS[variant]
        self.files = {
            suffix: store.fetch(MODEL, f"{stem}.{suffix}") for suffix in ("cfg", "weights")
        }
        try:
            self._net = cv2.dnn.readNetFromDarknet(
                str(self.files["cfg"]), str(self.files["weights"])
            )
        except cv2.error as error:
            raise VcmError(f"{self.files['weights']}: OpenCV cannot load it ({error})") from None
        self._net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self._net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self._output_names = self._net.getUnconnectedOutLayersNames()
        if threads is not None:
            cv2.setNumThreads(int(threads))

    def detect(self, frame_bgr: np.ndarray, frame_number: int) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes (N, 4) ``x1, y1, x2, y2`` in frame pixels and scores (N,) in [0, 1]."""
        height, width = frame_bgr.shape[:2]
        # Stretched, not letterboxed, to the square input, as Darknet does: box coordinates
        # are then fractions of the frame's width and height.
        blob = cv2.dnn.blobFromImage(
            frame_bgr, 1 / 255.0, (self.input_size, self.input_size), swapRB=True, crop=False
        )
        self._net.setInput(blob)
        outputs = self._net.forward(self._output_names)
        rows = np.concatenate([output.reshape(-1, output.shape[-1]) for output in outputs])
        return decode_yolo_rows(
            rows, width=width, height=height, class_index=PERSON_CLASS, nms_iou=self.nms_iou
        )

    def describe(self) -> dict:
        return {
            "name": self.name,
            "model": f"{MODEL}/{VARIANTS[self.variant]}",
            "variant": self.variant,
            "files": {path.name: file_sha256(path) for path in self.files.values()},
            "opencv": cv2.__version__,
            "dnn": "opencv backend, cpu target",
            "threads": cv2.getNumThreads(),
            "input_size": self.input_size,
            "nms_iou": self.nms_iou,
        }


def decode_yolo_rows(
    rows: np.ndarray, *, width: int, height: int, class_index: int, nms_iou: float
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes and scores of one class from cv2.dnn Darknet ``[yolo]`` output rows, after NMS.

    Each row is ``cx, cy, w, h`` as fractions of the input, objectness, then one column per
    class. OpenCV already multiplies the class columns by objectness, and zeroes products
    under 0.2 (score thresholds lower than that have no effect), so column
    ``5 + class_index`` is the detection score; multiplying by column 4 again would square
    the objectness. Returns boxes (N, 4) ``x1, y1, x2, y2`` in pixels of a ``width`` x
    ``height`` frame and scores (N,), for rows with a positive score.
    """
    scores = rows[:, 5 + class_index].astype(np.float64)
    candidates = rows[scores > 0].astype(np.float64)
    scores = scores[scores > 0]
    center_x, center_y = candidates[:, 0] * width, candidates[:, 1] * height
    half_w, half_h = candidates[:, 2] * width / 2, candidates[:, 3] * height / 2
    boxes = np.column_stack(
        [center_x - half_w, center_y - half_h, center_x + half_w, center_y + half_h]
    )
    kept = non_maximum_suppression(boxes, scores, iou_threshold=nms_iou)
    return boxes[kept], scores[kept]
