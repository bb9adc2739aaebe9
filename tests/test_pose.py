import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vcm.datasets.coco import read_coco_keypoints
from vcm.datasets.mot import SequenceInfo, write_seqinfo
from vcm.detections import DetectionSequence, FrameDetections
from vcm.errors import VcmError
from vcm.keypoints import (
    COCO_KEYPOINT_NAMES,
    PersonPose,
    read_pose_results,
    to_coco_result,
    write_pose_results,
)
from vcm.pose import (
    POSE_ESTIMATORS,
    BatchByFrame,
    build_pose_estimator,
    crop_windows,
    estimate_video,
    extract_crop,
    person_score,
)
from vcm.datasets.mot import read_mot_txt
from vcm.pose.blazepose import (
    BLAZEPOSE_TO_COCO,
    BlazePoseEstimator,
    blazepose_windows,
    landmarks_to_coco,
)
from vcm.video import open_video

from clips import MiscountedSource


@pytest.fixture(scope="module")
def blazepose():
    with BlazePoseEstimator() as estimator:
        yield estimator


@pytest.fixture
def coco_mini(mirror):
    return read_coco_keypoints(mirror / "datasets" / "coco-keypoints-mini" / "test_coco.json")


def coco_image(ground_truth, image_id):
    image = next(image for image in ground_truth.coco["images"] if image["id"] == image_id)
    path = f"{ground_truth.source.rsplit('/', 1)[0]}/{image['file_name']}"
    frame = cv2.imread(path)
    assert frame is not None, path
    return frame


# ---------------------------------------------------------------- crops and scores


def test_crop_window_is_a_padded_square_about_the_box_centre():
    # Box 20 x 40 centred on (20, 40): the square side is the long side 40, x 1.25 = 50.
    windows = crop_windows(np.array([[10, 20, 30, 60]]), padding=1.25, aspect=1.0)
    np.testing.assert_allclose(windows, [[-5, 15, 45, 65]])
    # HRNet's 3:4 window for the same box: height 40 (width 30 >= 20), x 1.25 -> 37.5 x 50.
    windows = crop_windows(np.array([[10, 20, 30, 60]]), padding=1.25, aspect=0.75)
    np.testing.assert_allclose(windows, [[1.25, 15, 38.75, 65]])


def test_blazepose_windows_for_each_crop_mode():
    # Box 20 x 40 centred on (20, 40), padding 0.25 (x 1.25).
    box = np.array([[10, 20, 30, 60]])
    # "box": its own 1:2 shape, 25 x 50.
    np.testing.assert_allclose(blazepose_windows(box, crop="box", padding=0.25),
                               [[7.5, 15, 32.5, 65]])
    # "square": the long side 40 -> 50 x 50.
    np.testing.assert_allclose(blazepose_windows(box, crop="square", padding=0.25),
                               [[-5, 15, 45, 65]])
    # Width/height 0.75: width 40 * 0.75 = 30 -> 37.5 x 50.
    np.testing.assert_allclose(blazepose_windows(box, crop="aspect", aspect=0.75, padding=0.25),
                               [[1.25, 15, 38.75, 65]])
    # No padding: the box itself.
    np.testing.assert_allclose(blazepose_windows(box, crop="box", padding=0.0), box)


def test_crop_is_black_outside_the_frame():
    frame = np.full((10, 20, 3), 7, dtype=np.uint8)
    crop, origin = extract_crop(frame, np.array([-2.0, 5.0, 4.0, 13.0]))
    assert crop.shape == (8, 6, 3)
    np.testing.assert_array_equal(origin, [-2, 5])
    assert (crop[:5, 2:] == 7).all()  # frame rows 5..9, columns 0..3
    assert (crop[:, :2] == 0).all() and (crop[5:] == 0).all()


def test_person_score_is_detector_score_times_mean_confident_keypoint_score():
    # Keypoints above 0.2: 0.9 and 0.5, mean 0.7; x detector 0.8 = 0.56.
    assert person_score(np.array([0.9, 0.5, 0.1]), 0.8) == pytest.approx(0.56)
    assert person_score(np.array([0.1, 0.2]), 0.8) == 0.0


def test_landmarks_map_back_to_frame_pixels():
    landmarks = np.zeros((33, 3))
    landmarks[0] = [0.5, 0.25, 0.9]  # nose at the crop's centre column, a quarter down
    landmarks[28] = [1.1, 1.0, 0.3]  # right ankle just past the crop's right edge
    keypoints = landmarks_to_coco(landmarks, np.array([100.0, 50.0]), np.array([200.0, 400.0]))
    assert keypoints.shape == (17, 3)
    np.testing.assert_allclose(keypoints[0], [200, 150, 0.9])
    np.testing.assert_allclose(keypoints[16], [320, 450, 0.3])


def test_blazepose_landmark_map_names_the_coco_keypoints():
    from mediapipe.python.solutions.pose import PoseLandmark

    assert BLAZEPOSE_TO_COCO == (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
    names = tuple(PoseLandmark(index).name.lower() for index in BLAZEPOSE_TO_COCO)
    assert names == COCO_KEYPOINT_NAMES


# ---------------------------------------------------------------- blazepose on real images


def test_blazepose_finds_coco_people_where_they_are(blazepose, coco_mini):
    found = total = 0
    for image_id in coco_mini.image_ids:
        people = [person for person in coco_mini.people
                  if person.image_id == image_id and (person.keypoints[:, 2] > 0).any()]
        boxes = np.array([person.box for person in people])
        poses = blazepose.estimate(coco_image(coco_mini, image_id), boxes, np.ones(len(boxes)))
        assert len(poses) == len(people)
        for person, keypoints in zip(people, poses):
            total += 1
            if keypoints is None:
                continue
            found += 1
            assert keypoints.shape == (17, 3)
            assert ((keypoints[:, 2] >= 0) & (keypoints[:, 2] <= 1)).all()
    # 11 of the 12 people with keypoints were found when this test was written.
    assert total == 12
    assert found >= 9


def test_blazepose_nose_lands_on_the_ground_truth_nose(blazepose, coco_mini):
    # The single, large, frontal person of image 785 (box 219 x 347 px).
    person = next(person for person in coco_mini.people if person.image_id == 785)
    [keypoints] = blazepose.estimate(coco_image(coco_mini, 785), person.box[None], np.ones(1))
    assert keypoints is not None
    labelled = person.keypoints[:, 2] > 0
    errors = np.linalg.norm(keypoints[:, :2] - person.keypoints[:, :2], axis=1)[labelled]
    # Measured: nose 4.3 px off, median 6 px, for a person 347 px tall.
    assert errors[0] < 15
    assert np.median(errors) < 20


def test_blazepose_blank_crop_has_no_pose(blazepose):
    black = np.zeros((240, 320, 3), dtype=np.uint8)
    assert blazepose.estimate(black, np.array([[100, 40, 180, 200]]), np.array([0.9])) == [None]
    assert blazepose.estimate(black, np.zeros((0, 4)), np.zeros(0)) == []


def test_blazepose_describes_itself(blazepose):
    description = blazepose.describe()
    assert description["name"] == "blazepose"
    assert description["crop"] == "box"
    assert description["padding"] == 0.25
    assert "pose_landmark_full.tflite" in description["files"]
    assert "blazepose" in POSE_ESTIMATORS.names()


@pytest.mark.parametrize("crop", ["tall", 0.5, True])
def test_blazepose_rejects_an_unknown_crop(crop):
    with pytest.raises(ValueError, match="crop must be one of box, square, aspect"):
        BlazePoseEstimator(crop=crop)
    with pytest.raises(VcmError, match="pose estimator blazepose: option crop must"):
        build_pose_estimator("blazepose", crop=crop)


def test_blazepose_rejects_a_negative_padding_or_a_non_positive_aspect():
    with pytest.raises(ValueError, match="padding must be 0 or more, got -0.1"):
        BlazePoseEstimator(padding=-0.1)
    with pytest.raises(ValueError, match="aspect must be positive, got 0"):
        BlazePoseEstimator(aspect=0)
    with pytest.raises(VcmError, match="pose estimator blazepose: option aspect must be at "
                                       "least 0.1, got 0"):
        build_pose_estimator("blazepose", aspect=0)


def test_blazepose_default_crop_keeps_poses_on_their_person_in_a_crowd(blazepose, mirror):
    # Regression (issue 10): on PETS09-S3MF1 the old square crop takes in the neighbours and
    # MediaPipe fits one of them. Measured on these frames with ground-truth boxes: square
    # crops put 5 of 18 poses nearer another person's box, the default box crops 0 of 21.
    # A pose is on its person when its torso centre (mean of shoulders and hips) is nearest
    # to its own box's centre.
    sequence = mirror / "datasets" / "PETS09-S3MF1"
    gt = read_mot_txt(sequence / "gt" / "gt.txt")
    found = wrong = 0
    for frame in (61, 85, 91, 103):
        boxes = gt.at_frame(frame).boxes
        image = cv2.imread(str(sequence / "img1" / f"{frame:06d}.jpg"))
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        for own, keypoints in enumerate(blazepose.estimate(image, boxes, np.ones(len(boxes)))):
            if keypoints is None:
                continue
            found += 1
            torso = keypoints[[5, 6, 11, 12], :2].mean(axis=0)
            wrong += int(np.argmin(np.linalg.norm(centres - torso, axis=1)) != own)
    assert wrong == 0
    assert found >= 18


def test_unknown_estimator_is_an_error():
    with pytest.raises(VcmError, match="unknown pose estimator 'nope'"):
        build_pose_estimator("nope")


# ---------------------------------------------------------------- the video loop


class ScriptedEstimator(BatchByFrame):
    """Puts every box's keypoints at the box centre with score 0.5; no pose for wide boxes."""

    name = "scripted"
    keypoint_names = COCO_KEYPOINT_NAMES

    def __init__(self):
        self.frames_seen = 0

    def estimate(self, frame_bgr, boxes, scores):
        self.frames_seen += 1
        poses = []
        for box in boxes:
            if box[2] - box[0] > box[3] - box[1]:
                poses.append(None)
                continue
            centre = (box[:2] + box[2:]) / 2
            poses.append(np.tile([centre[0], centre[1], 0.5], (17, 1)))
        return poses

    def describe(self):
        return {"name": self.name}


def clip_detections(frames=5, width=65, height=49):
    detections = [FrameDetections(number) for number in range(1, frames + 1)]
    detections[1] = FrameDetections(2, [[10, 10, 20, 40], [0, 0, 30, 10]], [0.8, 0.9])
    if frames >= 5:
        detections[4] = FrameDetections(5, [[30, 5, 40, 45]], [0.6])
    return DetectionSequence(width, height, detections, source="detections.zip")


@pytest.mark.parametrize("decoded, message", [
    (6, "clip.mkv: has more than the 5 frames of run/dets.zip"),
    (4, "clip.mkv: decoded 4 frames but run/dets.zip has 5"),
])
def test_estimate_video_names_a_video_that_decodes_another_frame_count(decoded, message):
    with pytest.raises(VcmError, match=message):
        estimate_video(MiscountedSource(Path("clip.mkv"), decoded), clip_detections(),
                       ScriptedEstimator(), progress=False, detections_label="run/dets.zip")


def test_estimate_video_numbers_frames_and_scores_people(small_clip):
    path, _ = small_clip
    estimator = ScriptedEstimator()
    poses = estimate_video(open_video(path), clip_detections(), estimator, progress=False)
    assert estimator.frames_seen == 5
    assert [pose.image_id for pose in poses] == [2, 5]  # the wide box of frame 2 has no pose
    np.testing.assert_allclose(poses[0].keypoints[0], [15, 25, 0.5])
    np.testing.assert_allclose(poses[0].box, [10, 10, 20, 40])
    assert poses[0].score == pytest.approx(0.8 * 0.5)
    assert poses[1].score == pytest.approx(0.6 * 0.5)


def test_estimate_video_rejects_detections_of_another_video(small_clip):
    path, _ = small_clip
    # The message names the detections file the caller gives, not a path stored inside it.
    message = r"^run/dets\.zip: detections cover 4 frames but .*mkv has 5"
    with pytest.raises(VcmError, match=message):
        estimate_video(open_video(path), clip_detections(frames=4), ScriptedEstimator(),
                       progress=False, detections_label="run/dets.zip")
    with pytest.raises(VcmError, match=r"^run/dets\.zip: .* 64x49 frames but .*clip.mkv is 65x49"):
        estimate_video(open_video(path), clip_detections(width=64), ScriptedEstimator(),
                       progress=False, detections_label="run/dets.zip")


def test_blazepose_through_estimate_video(blazepose, coco_mini, tmp_path):
    # A 2-frame MOTChallenge sequence of COCO image 785, its person's box in frame 2 only.
    frame = coco_image(coco_mini, 785)
    height, width = frame.shape[:2]
    (tmp_path / "img1").mkdir()
    for number in (1, 2):
        cv2.imwrite(str(tmp_path / "img1" / f"{number:06d}.png"), frame)
    write_seqinfo(SequenceInfo(tmp_path, "coco785", "img1", 1.0, 2, width, height, ".png"),
                  tmp_path / "seqinfo.ini")
    person = next(person for person in coco_mini.people if person.image_id == 785)
    detections = DetectionSequence(
        width, height, [FrameDetections(1), FrameDetections(2, [person.box], [0.9])]
    )
    [pose] = estimate_video(open_video(tmp_path), detections, blazepose, progress=False)
    assert pose.image_id == 2
    assert np.linalg.norm(pose.keypoints[0, :2] - person.keypoints[0, :2]) < 15
    assert 0 < pose.score <= 0.9


# ---------------------------------------------------------------- results JSON


def test_results_round_trip(tmp_path):
    keypoints = np.column_stack([np.arange(17) * 1.5, np.arange(17) * 2.25, np.linspace(0, 1, 17)])
    poses = [
        PersonPose(3, keypoints, 0.75, box=[10, 20, 110, 220], track_id=7),
        PersonPose(4, keypoints + 1, 0.5),
    ]
    path = tmp_path / "out" / "poses.json"
    write_pose_results(poses, path)
    entries = json.loads(path.read_text())
    assert entries[0]["bbox"] == [10, 20, 100, 200]
    assert entries[0]["category_id"] == 1 and len(entries[0]["keypoints"]) == 51
    assert "bbox" not in entries[1] and "track_id" not in entries[1]
    read = read_pose_results(path)
    assert [(pose.image_id, pose.score, pose.track_id) for pose in read] == [
        (3, 0.75, 7), (4, 0.5, -1)
    ]
    np.testing.assert_allclose(read[0].keypoints, keypoints, atol=1e-4)
    np.testing.assert_allclose(read[0].box, [10, 20, 110, 220])
    assert read[1].box is None
    assert list(tmp_path.joinpath("out").iterdir()) == [path]  # no temporary file left


def test_empty_results_round_trip(tmp_path):
    write_pose_results([], tmp_path / "none.json")
    assert read_pose_results(tmp_path / "none.json") == []


@pytest.mark.parametrize(
    "entry, problem",
    [
        ({"image_id": 1, "keypoints": [1.0] * 51}, "missing 'score'"),
        ({"image_id": "1", "keypoints": [1.0] * 51, "score": 1}, "image_id must be an integer"),
        ({"image_id": 1, "keypoints": [1.0] * 50, "score": 1}, "3K numbers"),
        ({"image_id": 1, "keypoints": [1.0] * 50 + [None], "score": 1}, "must hold numbers"),
        ({"image_id": 1, "keypoints": [1.0] * 51, "score": 1, "category_id": 2}, "category_id"),
        ({"image_id": 1, "keypoints": [1.0] * 51, "score": 1, "bbox": [0, 0, -1, 1]}, "width"),
        ({"image_id": 1, "keypoints": [1.0] * 48, "score": 1}, "16 keypoints, but entry 0 has 17"),
        ([1, 2], "expected an object"),
    ],
)
def test_malformed_result_names_file_and_index(tmp_path, entry, problem):
    good = to_coco_result(PersonPose(1, np.ones((17, 3)), 0.5))
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([good, entry]))
    with pytest.raises(VcmError, match=rf"bad.json: result entry 1: .*{problem}"):
        read_pose_results(path)


def test_non_finite_result_is_rejected(tmp_path):
    path = tmp_path / "nan.json"
    path.write_text('[{"image_id": 1, "keypoints": [NaN' + ", 1" * 50 + '], "score": 1}]')
    with pytest.raises(VcmError, match="nan.json: result entry 0: keypoints must hold finite"):
        read_pose_results(path)


def test_missing_or_broken_results_file(tmp_path):
    with pytest.raises(VcmError, match="absent.json: file does not exist"):
        read_pose_results(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(VcmError, match="broken.json: not valid JSON"):
        read_pose_results(tmp_path / "broken.json")
    (tmp_path / "object.json").write_text("{}")
    with pytest.raises(VcmError, match="object.json: expected a JSON list"):
        read_pose_results(tmp_path / "object.json")
