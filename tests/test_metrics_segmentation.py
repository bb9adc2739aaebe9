"""COCO mask AP through pycocotools, against cases worked out by hand."""

import json
import math

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vcm.errors import VcmError
from vcm.masks import PersonMask, encode_mask
from vcm.metrics.segmentation import MASK_METRICS, evaluate_masks, mask_iou

HEIGHT, WIDTH = 40, 60


def rectangle(x1, y1, x2, y2) -> dict:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[y1:y2, x1:x2] = True
    return encode_mask(mask)


def ground_truth(*masks_by_image) -> dict:
    """One image per argument (ids 1, 2, ...), each with the listed RLE masks."""
    images = [{"id": number, "width": WIDTH, "height": HEIGHT}
              for number in range(1, len(masks_by_image) + 1)]
    annotations = [{"image_id": number, "segmentation": mask}
                   for number, masks in enumerate(masks_by_image, start=1) for mask in masks]
    return {"images": images, "annotations": annotations}


PERSON = rectangle(10, 5, 20, 15)  # 10 x 10 = 100 pixels


def test_a_perfect_mask_gives_one():
    scores = evaluate_masks(ground_truth([PERSON]), [PersonMask(1, PERSON, 0.9)])
    assert set(scores) == set(MASK_METRICS)
    # pycocotools averages in floating point: 0.9999999999999999 is its 1.
    for name in ("AP", "AP50", "AP75", "AR"):
        assert scores[name] == pytest.approx(1.0)
    # 100 pixels is a small area (< 32^2): no medium or large person to find.
    assert scores["APs"] == pytest.approx(1.0) and math.isnan(scores["APm"]) and math.isnan(scores["APl"])


def test_a_larger_mask_matches_below_its_iou_only():
    # 10 x 14 around the 10 x 10 person: IoU = 100 / 140 = 0.714, so it matches at the
    # thresholds 0.50, 0.55, 0.60, 0.65 and 0.70 and not at 0.75 ... 0.95: AP = 5 / 10.
    larger = rectangle(10, 3, 20, 17)
    assert mask_iou(larger, PERSON) == pytest.approx(100 / 140)
    scores = evaluate_masks(ground_truth([PERSON]), [PersonMask(1, larger, 0.9)])
    assert scores["AP50"] == pytest.approx(1.0) and scores["AP75"] == 0.0
    assert scores["AP"] == pytest.approx(0.5) and scores["AR"] == pytest.approx(0.5)


def test_a_half_mask_has_iou_one_half():
    half = rectangle(10, 5, 15, 15)
    assert mask_iou(half, PERSON) == 0.5
    # 0.5 is the lowest threshold itself, which counts as a match (IoU >= threshold).
    scores = evaluate_masks(ground_truth([PERSON]), [PersonMask(1, half, 0.9)])
    assert scores["AP50"] == pytest.approx(1.0) and scores["AP"] == pytest.approx(0.1)
    smaller = rectangle(10, 5, 14, 15)  # IoU 0.4: no match at all
    assert evaluate_masks(ground_truth([PERSON]), [PersonMask(1, smaller, 0.9)])["AP"] == 0.0


def test_one_of_two_people_found():
    # Recall reaches 0.5 at precision 1, and COCO's 101 recall points 0, 0.01, ..., 0.5 have
    # precision 1, the other 50 precision 0: AP = 51 / 101.
    other = rectangle(30, 20, 45, 38)
    scores = evaluate_masks(ground_truth([PERSON, other]), [PersonMask(1, other, 0.8)])
    assert scores["AP"] == pytest.approx(51 / 101) and scores["AR"] == 0.5


def test_a_false_positive_ranked_first_halves_precision():
    # Ranked: a false mask (score 0.9), then the right one (0.5). At recall 1 precision is
    # 1/2, and COCO's interpolated precision is 1/2 at every recall point: AP = 0.5.
    wrong = rectangle(40, 20, 50, 30)
    scores = evaluate_masks(ground_truth([PERSON]),
                            [PersonMask(1, wrong, 0.9), PersonMask(1, PERSON, 0.5)])
    assert scores["AP"] == pytest.approx(0.5) and scores["AR"] == pytest.approx(1.0)


def test_empty_cases():
    no_results = evaluate_masks(ground_truth([PERSON]), [])
    assert no_results["AP"] == 0.0 and no_results["AR"] == 0.0
    nobody = evaluate_masks(ground_truth([]), [PersonMask(1, PERSON, 0.9)])
    assert math.isnan(nobody["AP"]) and math.isnan(nobody["AR"])


def test_results_for_other_images_or_sizes_are_errors():
    with pytest.raises(VcmError, match="image_id 2 is not an image of ground truth"):
        evaluate_masks(ground_truth([PERSON]), [PersonMask(2, PERSON, 0.9)])
    small = encode_mask(np.ones((4, 4)))
    with pytest.raises(VcmError, match="mask is 4x4 but the image is 60x40"):
        evaluate_masks(ground_truth([PERSON]), [PersonMask(1, small, 0.9)])


def test_coco_polygons_fed_back_give_one(mirror, tmp_path):
    """The mirror's real COCO polygon masks, converted to RLE results: AP = AR = 1."""
    path = mirror / "datasets" / "coco-keypoints-mini" / "test_coco.json"
    dataset = json.loads(path.read_text())
    sizes = {image["id"]: (image["height"], image["width"]) for image in dataset["images"]}
    results = []
    for annotation in dataset["annotations"]:
        height, width = sizes[annotation["image_id"]]
        rle = mask_utils.merge(mask_utils.frPyObjects(annotation["segmentation"], height, width))
        results.append(PersonMask(annotation["image_id"], encode_mask(mask_utils.decode(rle)), 1.0))
    scores = evaluate_masks(path, results)
    assert scores["AP"] == pytest.approx(1.0) and scores["AR"] == pytest.approx(1.0)
    # Each mask moved 8 pixels right no longer matches at the strictest thresholds.
    shifted = [PersonMask(person.image_id, encode_mask(np.roll(
        mask_utils.decode({"size": person.mask["size"],
                           "counts": person.mask["counts"].encode()}), 8, axis=1)), 1.0)
        for person in results]
    assert evaluate_masks(path, shifted)["AP"] < 0.9
