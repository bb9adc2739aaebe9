"""Person masks: RLE helpers, results JSON and instance ground truth, with hostile files."""

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vcm.errors import VcmError
from vcm.masks import (
    PersonMask,
    _compressed_runs,
    decode_mask,
    encode_mask,
    mask_area,
    mask_box,
    paste_window_mask,
    read_instance_ground_truth,
    read_mask_results,
    rle_problem,
    write_mask_results,
)

# 2 rows x 3 columns; column-major order reads 0 0 | 1 0 | 1 1: runs 2 background, 1 person,
# 1 background, 2 person.
SMALL = np.array([[0, 1, 1],
                  [0, 0, 1]], dtype=bool)


def column_major_runs(mask: np.ndarray) -> list[int]:
    """Runs of a mask in COCO's order (column-major, background first), worked out directly."""
    flat = mask.flatten(order="F").astype(int)
    runs, current, length = [], 0, 0
    for value in flat:
        if value == current:
            length += 1
        else:
            runs.append(length)
            current, length = value, 1
    runs.append(length)
    return runs


def test_encode_gives_text_counts_of_the_hand_worked_runs():
    rle = encode_mask(SMALL)
    assert rle["size"] == [2, 3] and isinstance(rle["counts"], str)
    assert _compressed_runs(rle["counts"], 6) == [2, 1, 1, 2]
    assert (decode_mask(rle) == SMALL).all()
    assert mask_area(rle) == 3
    assert mask_box(rle).tolist() == [1.0, 0.0, 3.0, 2.0]


def test_compressed_runs_match_pycocotools_on_random_masks():
    rng = np.random.default_rng(3)
    for _ in range(50):
        height, width = rng.integers(1, 40, 2)
        mask = rng.random((height, width)) < rng.random()
        rle = encode_mask(mask)
        assert _compressed_runs(rle["counts"], height * width) == column_major_runs(mask)
        assert rle_problem(rle, (height, width)) is None


def test_empty_and_full_masks():
    empty, full = encode_mask(np.zeros((4, 5))), encode_mask(np.ones((4, 5)))
    assert mask_area(empty) == 0 and mask_area(full) == 20
    assert mask_box(empty).tolist() == [0, 0, 0, 0]
    assert rle_problem(empty) is None and rle_problem(full) is None


@pytest.mark.parametrize("rle, problem", [
    ({"size": [2, 3], "counts": "05"}, "runs cover 5 pixels but the mask has 2 x 3 = 6"),
    ({"size": [2, 3], "counts": "061"}, "runs cover 7 pixels"),
    ({"size": [2, 3], "counts": "0P"}, "the text ends inside a run"),   # 'P': 0x20, more follows
    ({"size": [2, 3], "counts": "0 6"}, "character ' ' at 1"),
    ({"size": [2, 3], "counts": "0A"}, "run 1 is negative"),  # 'A': 17 = 1 + sign bit 0x10
    ({"size": [2, 3], "counts": [2, 1, 1, 3]}, "runs cover 7 pixels"),
    ({"size": [2, 3], "counts": [2, -1, 5]}, "whole numbers >= 0"),
    ({"size": [2, 3], "counts": 6}, "RLE text or a list"),
    ({"size": [0, 3], "counts": ""}, "size must be [height, width]"),
    ({"size": [2, 3.5], "counts": "06"}, "size must be [height, width]"),
    ({"size": [2, 3]}, "exactly 'size' and 'counts'"),
    ([[1, 2, 3, 4, 5, 6]], "must be an RLE object"),
])
def test_rle_problems_are_named(rle, problem):
    assert problem in rle_problem(rle)


def test_rle_of_another_size_than_the_image_is_a_problem():
    assert rle_problem(encode_mask(SMALL), (3, 2)) == \
        "mask is 3x2 but the image is 2x3 (width x height)"


def test_paste_window_mask_drops_what_lies_outside_the_frame():
    window = np.ones((3, 4), dtype=bool)
    pasted = paste_window_mask(window, (-1, 2), (4, 5))
    expected = np.zeros((4, 5), dtype=bool)
    expected[2:4, 0:3] = True
    assert (pasted == expected).all()
    assert not paste_window_mask(window, (10, 10), (4, 5)).any()


def test_results_round_trip(tmp_path):
    path = tmp_path / "masks.json"
    people = [PersonMask(3, encode_mask(SMALL), 0.9, np.array([1, 0, 3, 2]), track_id=5),
              PersonMask(4, encode_mask(~SMALL), 0.25)]
    write_mask_results(people, path)
    entries = json.loads(path.read_text())
    assert entries[0] == {"image_id": 3, "category_id": 1,
                          "segmentation": {"size": [2, 3], "counts": encode_mask(SMALL)["counts"]},
                          "score": 0.9, "bbox": [1.0, 0.0, 2.0, 2.0], "track_id": 5}
    read = read_mask_results(path, image_sizes={3: (2, 3), 4: (2, 3)})
    assert [(p.image_id, p.score, p.track_id) for p in read] == [(3, 0.9, 5), (4, 0.25, -1)]
    assert (decode_mask(read[1].mask) == ~SMALL).all()
    assert read[0].box.tolist() == [1, 0, 3, 2] and read[1].box is None


def write_entries(tmp_path, entries) -> str:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(entries))
    return path


GOOD = {"image_id": 1, "segmentation": {"size": [2, 3], "counts": "2111"}, "score": 0.5}


@pytest.mark.parametrize("change, message", [
    ({"segmentation": {"size": [2, 3], "counts": "01"}}, "result entry 0: corrupt RLE"),
    ({"segmentation": {"size": [3, 3], "counts": "2111"}}, "result entry 0: corrupt RLE"),
    ({"bbox": [1, 0, 5, 2]}, "bbox [1, 0, 5, 2] is outside the 3x2 frame"),
    ({"bbox": [-1, 0, 1, 1]}, "outside the 3x2 frame"),
    ({"bbox": [0, 0, -1, 1]}, "width and height must be 0 or more"),
    ({"score": 1.5}, "score must be in [0, 1]"),
    ({"score": float("nan")}, "score must hold finite numbers"),
    ({"image_id": True}, "image_id must be an integer"),
    ({"image_id": -2}, "image_id must be 0 or more"),
    ({"category_id": 2}, "category_id must be 1"),
    ({"track_id": "a"}, "track_id must be an integer"),
])
def test_hostile_results_name_the_file_and_entry(tmp_path, change, message):
    path = write_entries(tmp_path, [GOOD, {**GOOD, **change}][1:])
    with pytest.raises(VcmError, match=r"bad.json: result entry 0: ") as error:
        read_mask_results(path)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_results_of_the_wrong_size_or_image_are_errors(tmp_path):
    path = write_entries(tmp_path, [GOOD])
    with pytest.raises(VcmError, match="mask is 3x2 but the image is 4x2"):
        read_mask_results(path, image_sizes={1: (2, 4)})
    with pytest.raises(VcmError, match="image_id 1 is not an image of the ground truth"):
        read_mask_results(path, image_sizes={2: (2, 3)})


@pytest.mark.parametrize("text, message", [
    ("{", "not valid JSON"),
    ('{"a": 1}', "expected a JSON list of results, got dict"),
    ('[3]', "result entry 0: expected an object"),
    ('[{"image_id": 1}]', "missing 'segmentation'"),
])
def test_unreadable_results(tmp_path, text, message):
    path = tmp_path / "masks.json"
    path.write_text(text)
    with pytest.raises(VcmError, match=message):
        read_mask_results(path)
    with pytest.raises(VcmError, match="does not exist"):
        read_mask_results(tmp_path / "missing.json")


def polygon_ground_truth() -> dict:
    # A 4 x 4 square with corners on pixel edges covers 16 pixels of a 10 x 8 image.
    square = [2.0, 1.0, 6.0, 1.0, 6.0, 5.0, 2.0, 5.0]
    return {"images": [{"id": 7, "width": 10, "height": 8}],
            "annotations": [{"image_id": 7, "segmentation": [square]},
                            {"image_id": 7, "category_id": 3, "segmentation": [square]}]}


def test_ground_truth_fills_in_area_bbox_and_drops_other_categories():
    dataset = read_instance_ground_truth(polygon_ground_truth())
    [annotation] = dataset["annotations"]
    expected = mask_utils.merge(mask_utils.frPyObjects([[2, 1, 6, 1, 6, 5, 2, 5]], 8, 10))
    assert annotation["area"] == float(mask_utils.area(expected))
    assert annotation["bbox"] == [float(v) for v in mask_utils.toBbox(expected)]
    assert annotation["iscrowd"] == 0 and annotation["id"] == 1


@pytest.mark.parametrize("change, message", [
    (lambda d: d["images"][0].pop("width"), "image 0 needs whole 'width' and 'height'"),
    (lambda d: d["annotations"][0].update(image_id=8), "annotation 0: image_id 8 is not in"),
    (lambda d: d["annotations"][0].update(segmentation=[[1, 2, 3, 4]]), "at least 3 points"),
    (lambda d: d["annotations"][0].update(segmentation=[]), "segmentation has no polygon"),
    (lambda d: d["annotations"][0].update(segmentation={"size": [8, 9], "counts": "0`1"}),
     "mask is 9x8 but the image is 10x8"),
    (lambda d: d["annotations"][0].update(segmentation={"size": [8, 10], "counts": "0"}),
     "corrupt RLE"),
    (lambda d: d["annotations"][0].pop("segmentation"), "missing 'segmentation'"),
    (lambda d: d["images"].append({"id": 7, "width": 1, "height": 1}), "image id 7 is listed twice"),
])
def test_hostile_ground_truth(tmp_path, change, message):
    dataset = polygon_ground_truth()
    change(dataset)
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(dataset))
    with pytest.raises(VcmError, match="gt.json: ") as error:
        read_instance_ground_truth(path)
    assert message in str(error.value)
