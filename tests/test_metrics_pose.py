import math

import numpy as np
import pytest

from vcm.datasets.coco import read_coco_keypoints
from vcm.errors import VcmError
from vcm.keypoints import PersonPose, ground_truth_coco, write_pose_results
from vcm.metrics.pose import KEYPOINT_METRICS, evaluate_keypoints, object_keypoint_similarity


@pytest.fixture
def coco_mini(mirror):
    return read_coco_keypoints(mirror / "datasets" / "coco-keypoints-mini" / "test_coco.json")


def fed_back(ground_truth, shift=0.0):
    """The ground truth's labelled people as predictions with score 1.0, moved by ``shift`` px.

    People without a labelled keypoint are left out: COCOeval ignores them as ground truth,
    and as predictions (all keypoints at 0, 0) they would be false positives.
    """
    return [
        PersonPose(person.image_id, person.keypoints + [shift, shift, 0.0], 1.0)
        for person in ground_truth.people
        if (person.keypoints[:, 2] > 0).any()
    ]


def one_person_ground_truth(*, area_side=100.0):
    """One image (id 1) with one person: 17 labelled keypoints, box area_side x area_side."""
    keypoints = np.column_stack([np.linspace(10, 90, 17), np.linspace(5, 95, 17), np.full(17, 2)])
    person = PersonPose(1, keypoints, box=[0, 0, area_side, area_side])
    return ground_truth_coco([person], image_ids=[1], keypoint_names=[str(i) for i in range(17)])


def test_ground_truth_fed_back_scores_one(coco_mini):
    predictions = fed_back(coco_mini)
    assert len(predictions) == 12  # 14 people, 2 of them without keypoints
    metrics = evaluate_keypoints(coco_mini, predictions)
    assert set(metrics) == set(KEYPOINT_METRICS)
    assert metrics == {name: pytest.approx(1.0) for name in KEYPOINT_METRICS}


def test_ground_truth_as_path_and_results_as_file(coco_mini, tmp_path):
    results = tmp_path / "poses.json"
    write_pose_results(fed_back(coco_mini), results)
    metrics = evaluate_keypoints(coco_mini.source, results)
    assert metrics["AP"] == pytest.approx(1.0)
    assert metrics["AR"] == pytest.approx(1.0)


def test_shifted_keypoints_lower_ap(coco_mini):
    metrics = evaluate_keypoints(coco_mini, fed_back(coco_mini, shift=5.0))
    # Measured 0.484: a 5-pixel error is large against the small faces' sigmas.
    assert metrics["AP"] < 0.9
    assert metrics["AR"] < 1.0


def test_larger_sigmas_forgive_shifted_keypoints(coco_mini):
    shifted = fed_back(coco_mini, shift=5.0)
    coco_ap = evaluate_keypoints(coco_mini, shifted)["AP"]
    loose_ap = evaluate_keypoints(coco_mini, shifted, sigmas=coco_mini.sigmas * 3)["AP"]
    assert loose_ap > coco_ap


def test_oks_by_hand():
    ground_truth = np.array([[10.0, 10.0, 2], [50.0, 50.0, 0]])
    # d^2 = 8, k = 2 x 0.1, area 100: OKS = exp(-8 / (2 x 100 x 0.04)) = exp(-1); the second
    # keypoint is unlabelled and does not count.
    predicted = np.array([[12.0, 12.0, 0.9], [0.0, 0.0, 0.9]])
    oks = object_keypoint_similarity(predicted, ground_truth, area=100.0, sigmas=[0.1, 0.1])
    assert oks == pytest.approx(math.exp(-1))


def test_ap_counts_the_oks_thresholds_a_prediction_passes():
    ground_truth = one_person_ground_truth()
    sigmas = np.full(17, 0.1)
    # Every keypoint moved by d with d^2 = -ln(0.82) x 2 x area x (2 sigma)^2 gives OKS 0.82:
    # a match at thresholds 0.50, 0.55, ..., 0.80 (7 of 10), so AP = AR = 0.7.
    distance = math.sqrt(-math.log(0.82) * 2 * 100 * 100 * 0.2**2)
    keypoints = np.array(ground_truth["annotations"][0]["keypoints"]).reshape(17, 3)
    keypoints[:, 0] += distance
    metrics = evaluate_keypoints(ground_truth, [PersonPose(1, keypoints, 0.9)], sigmas=sigmas)
    assert metrics["AP"] == pytest.approx(0.7)
    assert metrics["AR"] == pytest.approx(0.7)
    assert metrics["AP50"] == pytest.approx(1.0)
    assert metrics["AP75"] == pytest.approx(1.0)
    # One person of area 10000 px^2 > 96^2 is "large"; no medium person: undefined, NaN.
    assert metrics["APl"] == pytest.approx(0.7)
    assert math.isnan(metrics["APm"])


def test_one_of_two_people_found():
    people = [
        PersonPose(1, np.column_stack([np.arange(17.0) * 5, np.arange(17.0) * 9, np.full(17, 2)]),
                   box=[0, 0, 100, 150]),
        PersonPose(1, np.column_stack([np.arange(17.0) * 5 + 300, np.arange(17.0) * 9,
                                       np.full(17, 2)]), box=[300, 0, 400, 150]),
    ]
    ground_truth = ground_truth_coco(people, image_ids=[1], keypoint_names=[""] * 17)
    metrics = evaluate_keypoints(ground_truth, [PersonPose(1, people[0].keypoints, 0.8)])
    # Recall 1/2 at precision 1: COCO's 101-point precision is 1 at recall 0.00..0.50
    # (51 points) and 0 above, so AP = 51/101; AR = 1/2.
    assert metrics["AP"] == pytest.approx(51 / 101)
    assert metrics["AR"] == pytest.approx(0.5)


def test_no_predictions_give_zero(coco_mini):
    assert evaluate_keypoints(coco_mini, []) == {name: 0.0 for name in KEYPOINT_METRICS}


def test_no_ground_truth_gives_nan(coco_mini):
    empty = ground_truth_coco([], image_ids=[1, 2], keypoint_names=[""] * 17)
    prediction = PersonPose(1, np.ones((17, 3)), 0.9)
    for results in ([], [prediction]):
        metrics = evaluate_keypoints(empty, results)
        assert all(math.isnan(value) for value in metrics.values())
    no_images = {"images": [], "annotations": []}
    assert all(math.isnan(value) for value in evaluate_keypoints(no_images, []).values())


def test_results_for_another_video_are_an_error(coco_mini):
    strangers = [PersonPose(999, np.ones((17, 3)), 0.9), PersonPose(1000, np.ones((17, 3)), 0.9)]
    with pytest.raises(VcmError, match="image ids 999, 1000"):
        evaluate_keypoints(coco_mini, fed_back(coco_mini) + strangers)


def test_keypoint_count_must_match(coco_mini):
    with pytest.raises(VcmError, match="14 keypoints"):
        evaluate_keypoints(coco_mini, [PersonPose(785, np.ones((14, 3)), 0.9)])


def test_sigmas_must_match_the_keypoints(coco_mini):
    with pytest.raises(ValueError, match="14 sigmas for 17 keypoints"):
        evaluate_keypoints(coco_mini, [], sigmas=np.full(14, 0.1))


def test_image_ids_restrict_evaluation():
    ground_truth = one_person_ground_truth()
    ground_truth["images"].append({"id": 2})
    exact = np.array(ground_truth["annotations"][0]["keypoints"]).reshape(17, 3)
    stray = PersonPose(2, exact, 1.0)  # a confident prediction on a frame without people
    with_stray = evaluate_keypoints(ground_truth, [PersonPose(1, exact, 0.5), stray])
    assert with_stray["AP"] < 1.0
    only_frame_1 = evaluate_keypoints(ground_truth, [PersonPose(1, exact, 0.5), stray],
                                      image_ids=[1])
    assert only_frame_1["AP"] == pytest.approx(1.0)
    with pytest.raises(VcmError, match="no images with ids 3"):
        evaluate_keypoints(ground_truth, [], image_ids=[3])


def test_evaluation_prints_nothing(coco_mini, capsys):
    evaluate_keypoints(coco_mini, fed_back(coco_mini))
    assert capsys.readouterr().out == ""


# -- body keypoints only (issue 22: anonymised faces) --------------------------------------------


def test_body_ap_leaves_the_face_keypoints_out():
    from vcm.metrics.pose import evaluate_body_keypoints

    ground_truth = one_person_ground_truth()
    keypoints = np.array(ground_truth["annotations"][0]["keypoints"], dtype=float).reshape(17, 3)
    # Face keypoints (0..4) 1000 px off, body exact: OKS over all 17 is 12/17 = 0.706 (the
    # face terms are exp(-huge) = 0), a match at thresholds 0.50..0.70 (5 of 10): AP 0.5.
    # Over the body keypoints only, OKS is 1: AP 1.
    moved = keypoints.copy()
    moved[:5, 0] += 1000
    prediction = [PersonPose(1, moved, 0.9)]
    assert evaluate_keypoints(ground_truth, prediction)["AP"] == pytest.approx(0.5)
    assert evaluate_body_keypoints(ground_truth, prediction)["AP"] == pytest.approx(1.0)
    # A body keypoint off instead: that one counts in both.
    moved = keypoints.copy()
    moved[5:, 0] += 1000
    assert evaluate_body_keypoints(ground_truth, [PersonPose(1, moved, 0.9)])["AP"] == 0.0


def test_body_ap_ignores_people_labelled_only_on_the_face():
    from vcm.metrics.pose import evaluate_body_keypoints

    body = np.column_stack([np.arange(17.0) * 5, np.arange(17.0) * 9, np.full(17, 2)])
    face_only = body.copy() + [300, 0, 0]
    face_only[5:, 2] = 0
    people = [PersonPose(1, body, box=[0, 0, 100, 150]),
              PersonPose(1, face_only, box=[300, 0, 400, 150])]
    ground_truth = ground_truth_coco(people, image_ids=[1], keypoint_names=[""] * 17)
    prediction = [PersonPose(1, body, 0.8)]
    # All keypoints: the second person is missed, AP 51/101 (test_one_of_two_people_found).
    assert evaluate_keypoints(ground_truth, prediction)["AP"] == pytest.approx(51 / 101)
    # Body only: the second person has no labelled keypoint left, so pycocotools ignores it.
    assert evaluate_body_keypoints(ground_truth, prediction)["AP"] == pytest.approx(1.0)


def test_body_ap_of_the_ground_truth_fed_back_is_one_and_needs_coco_keypoints(coco_mini):
    from vcm.metrics.pose import evaluate_body_keypoints

    metrics = evaluate_body_keypoints(coco_mini, fed_back(coco_mini))
    assert metrics["AP"] == pytest.approx(1.0) and metrics["AR"] == pytest.approx(1.0)
    assert evaluate_body_keypoints(coco_mini, fed_back(coco_mini, shift=8.0))["AP"] < 1.0
    fourteen = {"images": [{"id": 1, "width": 9, "height": 9}],
                "annotations": [{"image_id": 1, "keypoints": [1, 1, 2] * 14, "bbox": [0, 0, 9, 9]}]}
    with pytest.raises(VcmError, match="needs COCO's 17 keypoints"):
        evaluate_body_keypoints(fourteen, [])
