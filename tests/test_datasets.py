import json

import numpy as np
import pytest

from vcm.datasets.coco import read_coco_keypoints
from vcm.datasets.hieve import (
    HIEVE_KEYPOINT_NAMES,
    HIEVE_KEYPOINT_SIGMAS,
    coco_to_hieve_keypoints,
    hieve_flags_to_coco,
    read_hieve_poses,
    read_hieve_tracks,
)
from vcm.datasets.posetrack import POSETRACK18_KEYPOINT_NAMES, read_posetrack18
from vcm.errors import VcmError
from vcm.keypoints import COCO_KEYPOINT_NAMES, PersonPose
from vcm.metrics.pose import evaluate_keypoints

# ---------------------------------------------------------------- COCO


def test_coco_mini_people(mirror):
    path = mirror / "datasets" / "coco-keypoints-mini" / "test_coco.json"
    ground_truth = read_coco_keypoints(path)
    assert ground_truth.image_ids == (785, 40083, 196141, 197388)
    assert len(ground_truth.people) == 14
    assert sum((person.keypoints[:, 2] > 0).any() for person in ground_truth.people) == 12
    assert ground_truth.keypoint_names == COCO_KEYPOINT_NAMES
    first = ground_truth.people[0]
    assert first.image_id == 785
    np.testing.assert_allclose(first.keypoints[0], [367, 81, 2])
    # bbox [280.79, 44.73, 218.7, 346.68] as x1, y1, x2, y2.
    np.testing.assert_allclose(first.box, [280.79, 44.73, 499.49, 391.41])
    assert ground_truth.coco is not None and len(ground_truth.coco["annotations"]) == 14


def test_coco_bad_annotation_names_file_and_index(tmp_path):
    path = tmp_path / "bad_coco.json"
    path.write_text(json.dumps({
        "images": [{"id": 5}],
        "annotations": [
            {"image_id": 5, "category_id": 1, "keypoints": [0] * 51},
            {"image_id": 6, "category_id": 1, "keypoints": [0] * 51},
        ],
    }))
    with pytest.raises(VcmError, match="bad_coco.json: annotation 1: image_id 6 is not in"):
        read_coco_keypoints(path)


# ---------------------------------------------------------------- PoseTrack18


def posetrack_file(tmp_path, images, annotations):
    path = tmp_path / "000342_mpii_test.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "person"}]}))
    return path


def posetrack_images():
    return [
        {"id": 10003420000, "frame_id": 10003420000, "file_name": "images/000000.jpg",
         "is_labeled": True, "nframes": 3},
        {"id": 10003420001, "frame_id": 10003420001, "file_name": "images/000001.jpg",
         "is_labeled": False, "nframes": 3},
        {"id": 10003420002, "frame_id": 10003420002, "file_name": "images/000002.jpg",
         "is_labeled": True, "nframes": 3},
    ]


def posetrack_keypoints(x0):
    keypoints = np.zeros((17, 3))
    keypoints[:, 0] = x0 + np.arange(17)
    keypoints[:, 1] = 100 + 10 * np.arange(17)
    keypoints[:, 2] = 1
    keypoints[3:5] = 0  # PoseTrack18 never labels the ears
    return keypoints.reshape(-1).tolist()


def test_posetrack_image_ids_become_frame_numbers_in_file_order(tmp_path):
    annotations = [
        {"id": 1, "image_id": 10003420002, "track_id": 4, "bbox": [40, 90, 30, 180],
         "keypoints": posetrack_keypoints(50), "category_id": 1},
        {"id": 2, "image_id": 10003420000, "track_id": 3, "bbox": [10, 90, 30, 180],
         "keypoints": posetrack_keypoints(20), "category_id": 1},
    ]
    ground_truth = read_posetrack18(posetrack_file(tmp_path, posetrack_images(), annotations))
    assert ground_truth.keypoint_names == POSETRACK18_KEYPOINT_NAMES
    people = ground_truth.people
    assert [(person.image_id, person.track_id) for person in people] == [(3, 4), (1, 3)]
    np.testing.assert_allclose(ground_truth.people[0].box, [40, 90, 70, 270])
    assert ground_truth.image_ids == (1, 3)  # frame 2 is not labelled
    assert [image["id"] for image in ground_truth.coco["images"]] == [1, 2, 3]
    assert [annotation["image_id"] for annotation in ground_truth.coco["annotations"]] == [3, 1]
    assert ground_truth.coco["annotations"][0]["num_keypoints"] == 15
    assert ground_truth.coco["annotations"][0]["area"] == 30 * 180
    # Its own people as predictions on frames 1 and 3, plus one on the unlabelled frame 2,
    # which evaluation ignores.
    predictions = [PersonPose(person.image_id, person.keypoints, 1.0)
                   for person in ground_truth.people]
    predictions.append(PersonPose(2, ground_truth.people[0].keypoints, 1.0))
    assert evaluate_keypoints(ground_truth, predictions)["AP"] == pytest.approx(1.0)


def test_posetrack_frames_must_be_in_order(tmp_path):
    images = posetrack_images()
    images[1]["frame_id"], images[2]["frame_id"] = images[2]["frame_id"], images[1]["frame_id"]
    with pytest.raises(VcmError, match="image 2: frame_id 10003420001 does not follow"):
        read_posetrack18(posetrack_file(tmp_path, images, []))


def test_posetrack_annotation_for_unknown_image(tmp_path):
    annotations = [{"image_id": 1, "track_id": 0, "keypoints": posetrack_keypoints(0)}]
    with pytest.raises(VcmError, match="000342_mpii_test.json: annotation 0: image_id 1 is not"):
        read_posetrack18(posetrack_file(tmp_path, posetrack_images(), annotations))


def test_posetrack_short_keypoints(tmp_path):
    annotations = [{"image_id": 10003420000, "keypoints": [1.0] * 50}]
    with pytest.raises(VcmError, match="annotation 0: keypoints must hold 51 numbers"):
        read_posetrack18(posetrack_file(tmp_path, posetrack_images(), annotations))


# ---------------------------------------------------------------- HiEve

HIEVE_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotation>
  <folder>hm_in_fighting1</folder>
  <filename>0.jpg</filename>
  <size><width>1920</width><height>1080</height><depth>3</depth></size>
  <object>
    <name>P-1</name><action>standing-alone</action><pose>unspecified</pose>
    <bndbox>
      <xmin>747</xmin><ymin>103</ymin><xmax>1044</xmax><ymax>1079</ymax>
      <Nose>928,185,0</Nose><Chest>943,278,1</Chest><Right-shoulder>880,300,-1</Right-shoulder>
    </bndbox>
  </object>
  <object>
    <name>P-12</name>
    <bndbox><xmin>10</xmin><ymin>20</ymin><xmax>29</xmax><ymax>59</ymax>
      <Left-ankle>15,55,0</Left-ankle></bndbox>
  </object>
</annotation>
"""


def test_hieve_flags_reverse_to_coco():
    # HiEve 0 visible -> COCO 2; 1 invisible -> 1; -1 unlabelled -> 0.
    np.testing.assert_array_equal(hieve_flags_to_coco([0, 1, -1, 0]), [2, 1, 0, 2])
    with pytest.raises(ValueError, match="got 2"):
        hieve_flags_to_coco([0, 2])


def test_hieve_pose_files(tmp_path):
    (tmp_path / "000000.xml").write_text(HIEVE_XML)
    (tmp_path / "000002.json").write_text(json.dumps({"annotation": {
        "size": {"width": "1920", "height": "1080", "depth": "3"},
        "object": {"name": "P-1", "bndbox": {
            "xmin": "700", "ymin": "100", "xmax": "999", "ymax": "1000",
            "Left_Wrist": "800,500,1", "right hip": "750,600,0"}},
    }}))
    ground_truth = read_hieve_poses(tmp_path)
    assert ground_truth.keypoint_names == HIEVE_KEYPOINT_NAMES
    assert ground_truth.image_ids == (1, 2, 3)  # files 000000..000002 are frames 1..3
    people = ground_truth.people
    assert [(person.image_id, person.track_id) for person in people] == [(1, 1), (1, 12), (3, 1)]
    first = people[0].keypoints
    np.testing.assert_allclose(first[0], [928, 185, 2])  # nose visible
    np.testing.assert_allclose(first[1], [943, 278, 1])  # chest invisible
    np.testing.assert_allclose(first[2], [0, 0, 0])  # right shoulder not annotated
    assert (first[3:, 2] == 0).all()  # parts not in the file
    # Inclusive xmax/ymax become exclusive edges.
    np.testing.assert_allclose(people[0].box, [747, 103, 1045, 1080])
    np.testing.assert_allclose(people[1].keypoints[13], [15, 55, 2])
    np.testing.assert_allclose(people[2].keypoints[7], [800, 500, 1])  # left wrist
    np.testing.assert_allclose(people[2].keypoints[8], [750, 600, 2])  # right hip
    assert ground_truth.coco["images"][0] == {"id": 1, "width": 1920, "height": 1080}
    assert ground_truth.coco["annotations"][0]["num_keypoints"] == 2
    np.testing.assert_allclose(ground_truth.sigmas, HIEVE_KEYPOINT_SIGMAS)
    # 14 keypoints need 14 sigmas: the ground truth's own are used.
    predictions = [PersonPose(person.image_id, person.keypoints, 1.0) for person in people]
    assert evaluate_keypoints(ground_truth, predictions)["AP"] == pytest.approx(1.0)


def test_coco_keypoints_map_to_hieve():
    coco = np.column_stack([np.arange(17) * 10.0, np.arange(17) * 10.0 + 1, np.linspace(0, 1, 17)])
    hieve = coco_to_hieve_keypoints(coco)
    assert hieve.shape == (14, 3)
    # nose, chest, right shoulder/elbow/wrist, left ..., right hip/knee/ankle, left ...
    np.testing.assert_allclose(hieve[[0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], 0],
                               [0, 60, 80, 100, 50, 70, 90, 120, 140, 160, 110, 130, 150])
    # Chest: midpoint of the shoulders (COCO 5 at 50,51 and 6 at 60,61), lower confidence.
    np.testing.assert_allclose(hieve[1], [55, 56, 5 / 16])
    with pytest.raises(ValueError, match=r"\(17, 3\)"):
        coco_to_hieve_keypoints(np.zeros((14, 3)))


def test_hieve_bad_flag_names_the_file(tmp_path):
    (tmp_path / "000004.xml").write_text(HIEVE_XML.replace("928,185,0", "928,185,3"))
    with pytest.raises(VcmError, match=r"000004.xml: object 0: .*got 3"):
        read_hieve_poses(tmp_path)


def test_hieve_frames_past_the_video(tmp_path):
    (tmp_path / "000004.xml").write_text(HIEVE_XML)
    with pytest.raises(VcmError, match="frame 5 is past the video's 4 frames"):
        read_hieve_poses(tmp_path, frames=4)
    assert read_hieve_poses(tmp_path, frames=9).image_ids == tuple(range(1, 10))


def test_hieve_doctype_is_refused(tmp_path):
    (tmp_path / "000000.xml").write_text('<!DOCTYPE a [<!ENTITY x "y">]>' + HIEVE_XML[38:])
    with pytest.raises(VcmError, match="DOCTYPE"):
        read_hieve_poses(tmp_path)


def test_hieve_empty_folder(tmp_path):
    with pytest.raises(VcmError, match="no HiEve frame files"):
        read_hieve_poses(tmp_path)


def test_hieve_tracks(tmp_path):
    path = tmp_path / "1.txt"
    path.write_text("1,3,10,20,30,40,1,-1,-1,-1\n2,3,12,20,30,40,0,-1,-1,-1\n")
    tracks = read_hieve_tracks(path)
    assert tracks.frame.tolist() == [1, 2]
    assert tracks.ids.tolist() == [3, 3]
    np.testing.assert_allclose(tracks.boxes[0], [10, 20, 40, 60])
    assert tracks.confidence.tolist() == [1, 0]
