"""The detectron2-mask segmenter: options and the store entry (no marker); the real Mask R-CNN
with random weights on the given boxes (``detectron2``, needs detectron2 installed)."""

from __future__ import annotations

import numpy as np
import pytest

from vcm.errors import VcmError
from vcm.segmenters import SEGMENTERS
from vcm.segmenters.detectron2_mask import CONFIGS, MODEL, WEIGHTS_FILES, Detectron2MaskSegmenter
from vcm.store import MODELS


def test_registered_with_its_model_store_entry():
    assert "detectron2-mask" in SEGMENTERS.names()
    assert set(MODELS[MODEL].files) == {WEIGHTS_FILES[CONFIGS[0]].filename}
    assert WEIGHTS_FILES[CONFIGS[0]].url.endswith(
        "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x/137849600/model_final_f10217.pkl")


@pytest.mark.parametrize("options, message", [
    ({"config": "COCO-Detection/faster_rcnn_R_50_FPN_3x"}, "unknown detectron2-mask config"),
    ({"weights": "imagenet"}, "unknown detectron2-mask weights"),
    ({"threshold": 0.0}, "threshold must be in"),
])
def test_bad_options_are_refused_before_anything_is_imported(options, message):
    with pytest.raises(VcmError, match=message):
        Detectron2MaskSegmenter(**options)


@pytest.mark.detectron2
def test_random_mask_rcnn_gives_one_mask_per_box_inside_it():
    from vcm.masks import decode_mask

    segmenter = Detectron2MaskSegmenter(weights="random", device="cpu")
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10.0, 20.0, 60.0, 110.0], [100.5, 0.0, 160.0, 50.0]])
    masks = segmenter.segment(frame, boxes, np.array([0.9, 0.8]))
    assert len(masks) == 2 and segmenter.segment(frame, np.zeros((0, 4)), np.zeros(0)) == []
    for mask, (x1, y1, x2, y2) in zip(masks, boxes):
        if mask is None:
            continue
        pixels = decode_mask(mask)
        assert pixels.shape == (120, 160)
        rows, columns = np.nonzero(pixels)
        # paste_masks_in_image never writes outside the box (rounded out to whole pixels).
        assert columns.min() >= np.floor(x1) and columns.max() < np.ceil(x2)
        assert rows.min() >= np.floor(y1) and rows.max() < np.ceil(y2)
    # Built under the seed: the same network, the same probabilities.
    again = Detectron2MaskSegmenter(weights="random", device="cpu")
    np.testing.assert_array_equal(segmenter.mask_probabilities(frame, boxes).numpy(),
                                  again.mask_probabilities(frame, boxes).numpy())
    assert segmenter.describe()["weights"] == "random (seed 0)"
