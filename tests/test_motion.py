"""Motion recognition and repetition counting (vcm.motion): features, counting, the gallery,
the labels file, the evaluator's numbers, the stage and the commands."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vcm.cli import app
from vcm.errors import VcmError
from vcm.keypoints import COCO_KEYPOINT_NAMES, PersonPose
from vcm.motion import Gallery, KnnMotion, MotionStage, poses_by_track, read_gallery, read_labels
from vcm.motion.counting import RepCounter, SignalCounters, count_repetitions
from vcm.motion.evaluate import (
    MotionScores,
    accuracy,
    clip_frames,
    evaluate_motion,
    macro_f1,
    score_row,
)
from vcm.motion.features import body_signals, feature_size, frame_features
from vcm.motion.gallery import dtw_distance, resample_window, write_gallery
from vcm.pipeline.frames import Frame
from vcm.tracks import FrameTracks

INDEX = {name: number for number, name in enumerate(COCO_KEYPOINT_NAMES)}


def stick_figure(knee_flexion: float = 0.0, arm_elevation: float = 0.0, *, x: float = 100.0,
                 y: float = 50.0, scale: float = 1.0, leg: float = 1.0) -> np.ndarray:
    """(17, 3) keypoints of a person facing the camera: torso 40 px, thighs and shins 30 px
    times ``leg``, both knees flexed by ``knee_flexion`` (thigh forward-up, shin down), both
    upper arms raised ``arm_elevation`` from straight down; moved to ``x, y`` and scaled."""
    points = np.zeros((17, 3))
    points[:, 2] = 1.0
    place = {"nose": (0, -15), "left_eye": (2, -17), "right_eye": (-2, -17),
             "left_ear": (4, -16), "right_ear": (-4, -16),
             "left_shoulder": (10, 0), "right_shoulder": (-10, 0),
             "left_hip": (6, 40), "right_hip": (-6, 40)}
    for side, lateral in (("left", 1), ("right", -1)):
        hip = np.array(place[f"{side}_hip"], float)
        # Thigh turned by the flexion from straight down; the shin straight down again.
        knee = hip + 30 * leg * np.array([lateral * math.sin(knee_flexion), math.cos(knee_flexion)])
        place[f"{side}_knee"] = tuple(knee)
        place[f"{side}_ankle"] = tuple(knee + 30 * leg * np.array([0.0, 1.0]))
        shoulder = np.array(place[f"{side}_shoulder"], float)
        elbow = shoulder + 20 * np.array([lateral * math.sin(arm_elevation),
                                          math.cos(arm_elevation)])
        place[f"{side}_elbow"] = tuple(elbow)
        place[f"{side}_wrist"] = tuple(elbow + 18 * np.array([lateral * math.sin(arm_elevation),
                                                              math.cos(arm_elevation)]))
    for name, (dx, dy) in place.items():
        points[INDEX[name], :2] = (x + scale * dx, y + scale * dy)
    return points


# ------------------------------------------------------------------------------ features


def test_features_do_not_change_with_translation_scale_or_leg_length():
    base = stick_figure(0.7, 1.2)
    moved = stick_figure(0.7, 1.2, x=413.5, y=-20.0, scale=3.7)
    longer_legs = stick_figure(0.7, 1.2, leg=1.4)
    for features in ("bones", "positions"):
        assert frame_features(moved, features) == pytest.approx(frame_features(base, features))
    assert frame_features(longer_legs) == pytest.approx(frame_features(base))
    # Positions are not normalised for proportions: longer legs put the ankles elsewhere.
    assert frame_features(longer_legs, "positions") != pytest.approx(
        frame_features(base, "positions"))
    assert body_signals(moved) == pytest.approx(body_signals(base))


def test_bone_features_are_the_bones_directions():
    features = frame_features(stick_figure(0.0, math.pi / 2))
    # Upper arms straight out sideways: |cos| 1, sin 0; thighs straight down: 0, 1.
    assert features[0:2] == pytest.approx([1.0, 0.0])
    assert features[8:10] == pytest.approx([0.0, 1.0])
    # The torso from the shoulder centre to the hip centre: straight down.
    assert features[16:18] == pytest.approx([0.0, 1.0])


def test_signals_are_the_angles_drawn():
    knee, arm, alternation = body_signals(stick_figure(0.5, 1.0))
    assert knee == pytest.approx(0.5)
    assert arm == pytest.approx(1.0)
    assert alternation == pytest.approx(0.0)


def test_a_missing_keypoint_gives_nan_not_a_made_up_value():
    keypoints = stick_figure()
    keypoints[INDEX["left_wrist"], 2] = 0.0
    features = frame_features(keypoints)
    assert np.isnan(features[2:4]).all() and not np.isnan(features[:2]).any()


# ------------------------------------------------------------------------------ counting


def test_hysteresis_counts_a_cycle_once_despite_jitter_near_the_middle():
    # Range 1 after the second value: thresholds 0.35 and 0.65. The jitter between 0.45 and
    # 0.55 stays between them, so only the two returns to 0 count (one threshold at 0.5
    # would count four).
    values = [0, 1, 0.45, 0.55, 0.45, 0.55, 0, 1, 0]
    assert count_repetitions(values, history=20, min_range=0.5) == 2


def test_a_range_below_the_minimum_counts_nothing():
    assert count_repetitions([0, 0.2, 0, 0.2, 0, 0.2, 0], history=20, min_range=0.5) == 0


def test_nan_values_are_skipped():
    counter = RepCounter(history=10, min_range=0.5)
    for value in [0, 1, math.nan, 0]:
        counter.update(value)
    assert counter.count == 1


def test_a_synthetic_squat_sequence_of_three_is_counted_exactly():
    # 3 squats of 20 frames each, knee flexion 0 -> 1.6 rad -> 0, a rest before and after.
    flexion = [0.0] * 5 + [0.8 * (1 - math.cos(2 * math.pi * t / 20)) for t in range(60)] + [0.0] * 5
    counters = SignalCounters(history=60)
    reps = [counters.update(body_signals(stick_figure(angle))) for angle in flexion]
    assert reps[-1] == 3
    # Each squat counts when the person is back up: after frames 5 + 20 k - 5 or so, not before.
    assert reps[5 + 10] == 0 and reps[5 + 20 + 10] == 1


def test_knn_motion_counts_without_a_gallery_and_says_unknown():
    motion = KnnMotion()
    state = motion.new_track(fps=10)
    # 3 arm raises of 15 frames, then half a second (its smoothing) with the arms down.
    for t in range(45 + 5):
        angle = 1.4 * (1 - math.cos(2 * math.pi * t / 15)) if t < 45 else 0.0
        motion.update(state, stick_figure(arm_elevation=angle))
    assert (state.label, state.score, state.reps) == ("unknown", 0.0, 3)


# ------------------------------------------------------------------------------ gallery


def test_resample_fills_missing_values_from_the_last_known_one():
    frames = np.array([[math.nan, 1.0], [2.0, math.nan], [4.0, 5.0]])
    assert resample_window(frames, 3).tolist() == [[2.0, 1.0], [2.0, 1.0], [4.0, 5.0]]
    assert resample_window(frames, 5)[:, 0].tolist() == [2.0, 2.0, 2.0, 3.0, 4.0]


def test_dtw_aligns_a_shifted_window_that_plain_distance_does_not():
    a = np.array([[0.0], [0.0], [1.0], [0.0]])
    b = np.array([[0.0], [1.0], [0.0], [0.0]])
    assert dtw_distance(a, b) == 0.0
    assert np.linalg.norm(a - b) / 2 == pytest.approx(math.sqrt(2) / 2)


def test_knn_votes_the_majority_of_the_k_nearest():
    windows = np.array([[[0.0]] * 2, [[0.1]] * 2, [[0.2]] * 2, [[5.0]] * 2, [[5.1]] * 2])
    gallery = Gallery(("a", "a", "b", "c", "c"), windows, features="bones", distance="plain", k=3)
    # Nearest to 0.15: 0.1 (a), 0.2 (b), 0.0 (a): a with 2 of 3 votes.
    assert gallery.classify(np.array([[0.15], [0.15]])) == ("a", pytest.approx(2 / 3))
    assert gallery.classify(np.array([[5.0], [5.0]]), leave_out=np.array([0, 0, 0, 1, 1], bool)
                            ) == ("a", pytest.approx(2 / 3))


def test_a_model_file_reads_back(tmp_path):
    windows = np.arange(2 * 16 * 18, dtype=float).reshape(2, 16, 18) / 100
    gallery = Gallery(("squat", "standing"), windows, distance="dtw", window_seconds=1.5, k=1)
    write_gallery(gallery, tmp_path / "model.json")
    again = read_gallery(tmp_path / "model.json")
    assert (again.labels, again.distance, again.window_seconds, again.k) == (
        ("squat", "standing"), "dtw", 1.5, 1)
    assert again.windows == pytest.approx(windows)


@pytest.mark.parametrize("change, problem", [
    (lambda d: d.update(format="other"), "not a vcm-motion-gallery file"),
    (lambda d: d.update(k=0), "k must be"),
    (lambda d: d.update(windows=[[[0.0] * 18] * 16]), "windows must be 2 x 16 x 18"),
    (lambda d: d.pop("labels"), "missing 'labels'"),
])
def test_a_malformed_model_names_the_file_and_the_problem(tmp_path, change, problem):
    gallery = Gallery(("a", "b"), np.zeros((2, 16, 18)))
    document = gallery.to_dict()
    change(document)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document))
    with pytest.raises(VcmError, match=f"^{path}: not a motion model .*{problem}"):
        read_gallery(path)


# ------------------------------------------------------------------------------ labels


def write_labels(folder: Path, text: str) -> Path:
    path = folder / "labels.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_labels_read_with_clips_relative_to_the_file(tmp_path):
    path = write_labels(tmp_path, "clip,label,start_frame,end_frame,reps\n"
                                  "a/b.mp4,squat,1,40,3\n\nc,standing,5,9,\n")
    rows = read_labels(path)
    assert [(row.clip, row.label, row.start_frame, row.end_frame, row.reps, row.line)
            for row in rows] == [(tmp_path / "a/b.mp4", "squat", 1, 40, 3, 2),
                                 (tmp_path / "c", "standing", 5, 9, None, 4)]


@pytest.mark.parametrize("text, problem", [
    ("clip,label,start,end,reps\n", ":1: the header must be clip,label,start_frame,end_frame,reps"),
    ("clip,label,start_frame,end_frame,reps\n", ": no labelled rows"),
    ("clip,label,start_frame,end_frame,reps\nx,squat,0,4,\n", ":2: start_frame must be from 1"),
    ("clip,label,start_frame,end_frame,reps\nx,squat,5,4,\n", ":2: end_frame must be from 5"),
    ("clip,label,start_frame,end_frame,reps\nx,squat,1,4,two\n", ":2: reps must be a whole number"),
    ("clip,label,start_frame,end_frame,reps\nx,squat,1,4\n", ":2: expected 5 fields, got 4"),
    ("clip,label,start_frame,end_frame,reps\n,squat,1,4,\n", ":2: clip is empty"),
])
def test_malformed_labels_name_the_line(tmp_path, text, problem):
    path = write_labels(tmp_path, text)
    with pytest.raises(VcmError) as raised:
        read_labels(path)
    assert str(raised.value) == f"{path}{problem}" or str(raised.value).startswith(f"{path}{problem}")


# ------------------------------------------------------------------------------ evaluator


def entry(track: int, label: str, reps: int) -> dict:
    return {"track": track, "label": label, "score": 1.0, "reps": reps}


def test_evaluator_numbers_on_a_hand_made_labels_file(tmp_path):
    path = write_labels(tmp_path, "clip,label,start_frame,end_frame,reps\n"
                                  "one,a,3,5,3\n"
                                  "one,a,6,7,2\n"
                                  "two,b,1,2,\n"
                                  "two,c,3,4,5\n")
    rows = read_labels(path)
    # Clip one: track 1 counts 1 before frame 3 and 4 at frame 5 (3 in row 1); its frames
    # 3-5 say a, a, b (a). Frames 6-7: track 1 says b twice and ends at 8 (4 in row 2);
    # track 2 says a twice with count 0.
    one = {2: {1: entry(1, "a", 1)}, 3: {1: entry(1, "a", 2)}, 4: {1: entry(1, "a", 3)},
           5: {1: entry(1, "b", 4)},
           6: {1: entry(1, "b", 6), 2: entry(2, "a", 0)},
           7: {1: entry(1, "b", 8), 2: entry(2, "a", 0)}}
    # Clip two: one track saying b throughout, count n + 1 at frame n (3 at the end of row
    # 3, which has no count to compare; 5 - 3 = 2 in row 4).
    two = {n: {3: entry(3, "b", n + 1)} for n in range(1, 5)}
    scores = MotionScores()
    for row, motion in zip(rows, [one, one, two, two]):
        score_row(row, motion, scores)
    assert [(row["predicted"], row["predicted_reps"]) for row in scores.rows] == [
        ("a", 3), ("a", 4), ("b", 3), ("b", 2)]
    # Row 2: 2 frames of b (track 1) and 2 of a (track 2): a tie goes to a; track 1 is
    # seen as often as track 2 and comes first, so its 8 - 4 counts.
    # Clip level: truth a, a, b, c; predicted a, a, b, b: accuracy 3/4.
    # F1: a 2/(2+0+0) = 1; b 2/(2+1+0) = 2/3; c 0 -> macro (1 + 2/3 + 0) / 3 = 5/9.
    # Counts (row 3 has none): |3-3|, |2-4|, |5-2| -> MAE 5/3; within one 1/3.
    clip = scores.summary()["clip"]
    assert clip["accuracy"] == pytest.approx(3 / 4)
    assert clip["macro_f1"] == pytest.approx(5 / 9)
    assert clip["reps_mae"] == pytest.approx(5 / 3)
    assert clip["reps_within_one"] == pytest.approx(1 / 3)
    assert clip["counted"] == 3
    # Tracks: (row 1, t1: a), (row 2, t1: b), (row 2, t2: a), (row 3, t3: b), (row 4, t3: b).
    # Truth a, a, a, b, c; predicted a, b, a, b, b: accuracy 3/5. F1 a: 2 hits, 1 miss:
    # 4/(4+0+1) = 4/5; b: 1 hit, 2 false: 2/(2+2+0) = 1/2; c: 0.
    track = scores.summary()["track"]
    assert track["count"] == 5
    assert track["accuracy"] == pytest.approx(3 / 5)
    assert track["macro_f1"] == pytest.approx((4 / 5 + 1 / 2 + 0) / 3)
    # Counts: t1 row 1: 4 - 1 = 3 (3); t1 row 2: 8 - 4 = 4 (2); t2 row 2: 0 (2);
    # t3 row 4: 5 - 3 = 2 (5): MAE (0 + 2 + 2 + 3) / 4.
    assert track["reps_mae"] == pytest.approx(7 / 4)
    assert track["reps_within_one"] == pytest.approx(1 / 4)


def test_metrics_of_nothing_are_nan():
    assert math.isnan(accuracy([], [])) and math.isnan(macro_f1([], []))
    assert macro_f1(["a", "b"], ["b", "a"]) == 0.0


@pytest.fixture(scope="module")
def motion_clips(tmp_path_factory) -> Path:
    from vcm.synth import synthesize_motions

    folder = tmp_path_factory.mktemp("motions") / "clips"
    synthesize_motions(folder, motions=("squat", "jumping_jack", "arm_raise"),
                       clips_per_motion=2, width=96, height=96, fps=8, seed=4)
    return folder


def test_a_clip_is_classified_by_a_gallery_of_the_other_clips(motion_clips):
    rows = read_labels(motion_clips / "labels.csv")
    clips = {row.clip: clip_frames(row.clip) for row in rows}
    scores = evaluate_motion(rows, clips, leave_one_out=True)
    # Every clip's label comes from the windows of the other five clips only.
    assert [row["predicted"] for row in scores.rows] == [row.label for row in rows]
    # The counts are the repetitions the generator drew.
    assert [row["predicted_reps"] for row in scores.rows] == [row.reps for row in rows]


def test_the_synthetic_labels_match_the_clips(motion_clips):
    text = (motion_clips / "labels.csv").read_text()
    lines = text.splitlines()
    assert lines[0] == "clip,label,start_frame,end_frame,reps"
    assert [line.split(",")[:2] for line in lines[1:]] == [
        [f"{motion}-{n}", motion] for motion in ("squat", "jumping_jack", "arm_raise")
        for n in (1, 2)]
    for line in lines[1:]:
        clip, _, _, end, _ = line.split(",")
        seqinfo = (motion_clips / clip / "seqinfo.ini").read_text()
        assert f"seqLength={end}" in seqinfo


# ------------------------------------------------------------------------------ stage


def test_poses_go_to_the_track_they_overlap():
    tracks = FrameTracks(1, [4, 9], [[0, 0, 10, 10], [20, 0, 30, 10]], [1, 1])
    near_9 = PersonPose(1, stick_figure(), box=[21, 0, 31, 10])  # IoU 9/11 with track 9
    far = PersonPose(1, stick_figure(), box=[100, 100, 110, 110])
    own = PersonPose(1, stick_figure(x=5), track_id=4)
    matched = poses_by_track([near_9, far, own], tracks)
    assert sorted(matched) == [4, 9]
    assert matched[9] is near_9.keypoints and matched[4] is own.keypoints


def test_the_stage_writes_each_tracks_motion_and_forgets_lost_tracks():
    stage = MotionStage(KnnMotion(), fps=10, forget_seconds=0.5)
    box = np.array([0, 0, 50, 100.0])
    records = []
    # Two arm raises of 10 frames, arms down for frames 21-25, the track gone from frame 26.
    for number in range(1, 33):
        angle = 1.4 * (1 - math.cos(2 * math.pi * (number - 1) / 10)) if number <= 20 else 0.0
        pose = PersonPose(number, stick_figure(arm_elevation=angle), box=box)
        tracks = FrameTracks(number, [7], [box], [1.0]) if number <= 25 else FrameTracks(number)
        frame = Frame(number, None, records={"pose": [pose], "track": tracks})
        records.append(stage.process(frame)[0].records["motion"])
    assert records[24] == [{"track": 7, "label": "unknown", "score": 0.0, "reps": 2}]
    assert records[25] == []
    assert 7 not in stage.tracks  # unseen for more than 5 frames


def test_the_stage_needs_poses_and_tracks():
    stage = MotionStage(KnnMotion(), fps=10)
    with pytest.raises(ValueError, match="'track' record"):
        stage.process(Frame(1, None, records={"pose": []}))


# ------------------------------------------------------------------------------ commands


def test_motion_run_writes_json_lines_from_pose_and_track_files(tmp_path):
    from vcm.keypoints import write_pose_results
    from vcm.tracks import TrackSequence, write_tracks_txt

    box = np.array([10, 10, 60, 110.0])
    poses, frames = [], []
    for number in range(1, 36):  # 3 arm raises of 10 frames, then 5 frames at rest
        angle = 1.4 * (1 - math.cos(2 * math.pi * (number - 1) / 10)) if number <= 30 else 0.0
        poses.append(PersonPose(number, stick_figure(arm_elevation=angle), 0.9, box))
        frames.append(FrameTracks(number, [3], [box], [0.9]))
    write_pose_results(poses, tmp_path / "pose.json")
    write_tracks_txt(TrackSequence(frames), tmp_path / "tracks.txt")
    result = CliRunner().invoke(app, ["motion", "run", str(tmp_path / "pose.json"),
                                      str(tmp_path / "tracks.txt"), "-o",
                                      str(tmp_path / "motion.jsonl"), "--fps", "10"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "motion.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(1, 36))
    assert lines[-1]["motion"] == [{"track": 3, "label": "unknown", "score": 0.0, "reps": 3}]


def test_motion_fit_and_evaluate_on_synthetic_clips(motion_clips, tmp_path):
    model = tmp_path / "model.json"
    result = CliRunner().invoke(app, ["motion", "fit", str(motion_clips / "labels.csv"),
                                      "-o", str(model), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert Counter(read_gallery(model).labels).keys() == {"squat", "jumping_jack", "arm_raise"}
    result = CliRunner().invoke(app, ["motion", "evaluate", str(motion_clips / "labels.csv"),
                                      "--model", str(model), "--no-progress",
                                      "-o", str(tmp_path / "scores.json")])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output
    summary = json.loads((tmp_path / "scores.json").read_text())["summary"]
    # The gallery holds these very clips: each window's nearest neighbour is itself.
    assert summary["clip"]["accuracy"] == 1.0 and summary["clip"]["reps_mae"] == 0.0


@pytest.mark.parametrize("text, problem", [
    ("clip,label\n", "labels.csv:1: the header must be"),
    ("clip,label,start_frame,end_frame,reps\nmissing,squat,1,4,\n",
     "labels.csv:2: clip {folder}/missing does not exist"),
])
def test_motion_fit_refuses_bad_labels_in_one_line_and_writes_nothing(tmp_path, text, problem):
    labels = write_labels(tmp_path, text)
    result = CliRunner().invoke(app, ["motion", "fit", str(labels), "-o",
                                      str(tmp_path / "model.json"), "--no-progress"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    assert problem.format(folder=tmp_path) in result.output
    assert not (tmp_path / "model.json").exists()


def test_motion_evaluate_needs_a_model_or_leave_one_out(tmp_path):
    labels = write_labels(tmp_path, "clip,label,start_frame,end_frame,reps\nx,a,1,2,\n")
    result = CliRunner().invoke(app, ["motion", "evaluate", str(labels), "--no-progress"])
    assert result.exit_code == 1
    assert "give either --model MODEL or --leave-one-out" in result.output


# ------------------------------------------------------------------------------ live


def test_live_tasks_refuse_motion_without_pose_and_track():
    from vcm.live.server import Tasks

    with pytest.raises(VcmError, match="motion needs pose and track"):
        Tasks(pose="blazepose", track=None, motion="knn")
    with pytest.raises(VcmError, match="motion needs pose and track"):
        Tasks(pose=None, track="iou", motion="knn")


def test_live_motion_runs_after_tracking_and_reaches_the_frame_message():
    from vcm.live.server import Tasks, frame_message

    tasks = Tasks(pose="blazepose", track="iou", motion="knn")
    stages = tasks.track_stages(10.0)
    assert [stage.name for stage in stages] == ["track", "motion"]
    assert "motion" in tasks.names() and tasks.describe()["motion"] == "knn"
    box = np.array([10, 10, 60, 110.0])
    for number in (1, 2, 3):  # the tracker confirms a track in its second frame
        frame = Frame(number, None, box[None], np.array([0.9]),
                      records={"pose": [PersonPose(number, stick_figure(), 0.9, box)]})
        for stage in stages:
            (frame,) = stage.process(frame)
    track_id = int(frame.records["track"].ids[0])
    message = frame_message(frame, analysed=True, times={}, received=0.0, size=10)
    assert message["motion"] == [{"track": track_id, "label": "unknown", "score": 0.0,
                                  "reps": 0}]
    # A frame whose pose was skipped under lag gets no motion, and no error.
    skipped = Frame(4, None, box[None], np.array([0.9]))
    for stage in stages:
        (skipped,) = stage.process(skipped)
    assert skipped.records["motion"] == []


def test_serve_refuses_motion_without_tracking(tmp_path):
    result = CliRunner().invoke(app, ["serve", "--root", str(tmp_path / "sessions"), "--port", "0",
                                      "--pose", "none", "--motion", "knn"])
    assert result.exit_code == 1
    assert result.output == ("error: motion needs pose and track: give a pose estimator and a "
                             "tracker\n")


def test_a_pose_file_of_another_layout_is_refused_in_one_line(tmp_path):
    from vcm.keypoints import write_pose_results
    from vcm.tracks import TrackSequence, write_tracks_txt

    box = np.array([10, 10, 60, 110.0])
    write_pose_results([PersonPose(1, np.ones((14, 3)), 0.9, box)], tmp_path / "pose.json")
    write_tracks_txt(TrackSequence([FrameTracks(1, [1], [box], [0.9])]), tmp_path / "tracks.txt")
    result = CliRunner().invoke(app, ["motion", "run", str(tmp_path / "pose.json"),
                                      str(tmp_path / "tracks.txt"), "-o", str(tmp_path / "m.jsonl")])
    assert result.exit_code == 1
    assert result.output == (f"error: {tmp_path / 'pose.json'}: result entry 0: motion needs the "
                             "17 COCO keypoints, got 14\n")
    assert not (tmp_path / "m.jsonl").exists()


def test_a_labels_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "labels.csv"
    import os

    os.mkfifo(fifo)
    with pytest.raises(VcmError, match="not a regular file"):
        read_labels(fifo)


def test_data_motions_writes_clips_and_labels(tmp_path):
    result = CliRunner().invoke(app, ["data", "motions", str(tmp_path / "m"), "--clips", "1",
                                      "--width", "64", "--height", "64", "--fps", "4",
                                      "--min-reps", "2", "--max-reps", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = read_labels(tmp_path / "m" / "labels.csv")
    assert [(row.clip.name, row.label, row.reps) for row in rows] == [
        ("squat-1", "squat", 2), ("jumping_jack-1", "jumping_jack", 2),
        ("arm_raise-1", "arm_raise", 2), ("walk_in_place-1", "walk_in_place", 2),
        ("standing-1", "standing", 0)]
    assert all((row.clip / "gt" / "keypoints.json").is_file() for row in rows)


def test_a_live_loopback_session_answers_each_frame_with_its_motion(tmp_path):
    from vcm.detectors import DETECTORS
    from vcm.live.edge import Edge, open_source
    from vcm.live.server import AnalysisServer, Tasks
    from vcm.pipeline import DetectStage, foreground_stages
    from vcm.synth import synthesize_motions

    synthesize_motions(tmp_path / "clips", motions=("squat",), clips_per_motion=1,
                       width=192, height=160, fps=10, reps=(2, 2))
    clip = tmp_path / "clips" / "squat-1"
    server = AnalysisServer(tmp_path / "sessions",
                            tasks=Tasks(pose="blazepose", track="iou", motion="knn")).start()
    try:
        stages = [DetectStage(DETECTORS.build("oracle", sequence=clip), score=0.5),
                  *foreground_stages()]
        edge = Edge(open_source(str(clip)), server.address, stages,
                    results_path=tmp_path / "results.jsonl", codec="x265", qp=27)
        report = edge.run()
    finally:
        server.stop(timeout=60)
    assert report.server_end["reason"] == "complete"
    messages = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(messages) == report.results > 0
    assert all(isinstance(message["motion"], list) for message in messages)
    # Each motion entry is a track of its frame, and the person is tracked and posed.
    for message in messages:
        tracked = {track[0] for track in message["tracks"]}
        assert {entry["track"] for entry in message["motion"]} <= tracked
    assert sum(len(message["motion"]) for message in messages) > len(messages) // 2
    # The two squats the clip holds, counted on the decoded x265 pictures' poses.
    assert [entry["reps"] for entry in messages[-1]["motion"]] == [2]
    # The session's motion.jsonl is what `vcm motion run` writes on its poses and tracks,
    # byte for byte, and holds what the server answered, frame by frame.
    (folder,) = server.sessions
    batch = tmp_path / "motion.jsonl"
    result = CliRunner().invoke(app, ["motion", "run", str(folder / "poses.json"),
                                      str(folder / "tracks.txt"), "-o", str(batch), "--fps", "10"])
    assert result.exit_code == 0, result.output
    assert (folder / "motion.jsonl").read_bytes() == batch.read_bytes()
    recorded = [json.loads(line) for line in batch.read_text().splitlines()]
    assert [(line["frame"], line["motion"]) for line in recorded] == \
        [(message["frame"], message["motion"]) for message in messages]


def test_a_live_session_records_a_motion_model_given_as_a_path(tmp_path):
    """A library caller may pass the model as a ``Path`` (the CLI passes text): session.json
    and its run record hold it as text, and the session runs to its end."""
    from vcm.detectors import DETECTORS
    from vcm.live.edge import Edge, open_source
    from vcm.live.server import AnalysisServer, Tasks
    from vcm.pipeline import DetectStage, foreground_stages
    from vcm.synth import synthesize_motions

    synthesize_motions(tmp_path / "clips", motions=("squat",), clips_per_motion=1,
                       width=96, height=96, fps=10, reps=(1, 1))
    clip = tmp_path / "clips" / "squat-1"
    model = tmp_path / "model.json"
    write_gallery(Gallery((), np.zeros((0, 16, feature_size("bones")))), model)  # empty
    tasks = Tasks(pose="blazepose", track="iou", motion="knn", motion_options={"model": model})
    server = AnalysisServer(tmp_path / "sessions", tasks=tasks).start()
    try:
        stages = [DetectStage(DETECTORS.build("oracle", sequence=clip), score=0.5),
                  *foreground_stages()]
        report = Edge(open_source(str(clip)), server.address, stages, codec="x265", qp=27,
                      max_frames=3).run()
    finally:
        server.stop(timeout=60)
    assert report.server_end["reason"] == "complete"
    (folder,) = server.sessions
    session = json.loads((folder / "session.json").read_text())
    assert session["state"] == "ended" and session["frames"] == 3
    assert session["tasks"]["motion_options"] == {"model": str(model)}
    record = json.loads((folder / "session.json.run.json").read_text())
    assert record["parameters"]["tasks"]["motion_options"] == {"model": str(model)}


def write_records(path: Path, frames: dict[int, list[tuple]]) -> None:
    path.write_text("".join(json.dumps({"frame": number, "motion": [
        {"track": track, "label": label, "score": 1.0, "reps": reps}
        for track, label, reps in entries]}) + "\n" for number, entries in frames.items()))


def test_evaluate_motion_scores_a_records_file_worked_by_hand(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "labels.csv").write_text("clip,label,start_frame,end_frame,reps\n"
                                         "a,squat,1,4,2\na,standing,5,6,\nb,squat,1,9,1\n")
    write_records(tmp_path / "motion.jsonl", {
        1: [(1, "squat", 0), (2, "unknown", 0)], 2: [(1, "squat", 1), (2, "unknown", 0)],
        3: [(1, "arm_raise", 1)], 4: [(1, "squat", 3)], 5: [(1, "standing", 3)],
        6: [(1, "squat", 3)]})
    result = CliRunner().invoke(app, ["evaluate", "motion", str(tmp_path / "motion.jsonl"),
                                      "--labels", str(tmp_path / "labels.csv"),
                                      "--clip", "a", "-o", str(tmp_path / "e.json")])
    assert result.exit_code == 0, result.output
    scores = json.loads((tmp_path / "e.json").read_text())
    # Row 1 (frames 1-4): track 1 votes squat 3 to 1 and counts 3 - 0; track 2 says unknown.
    # Row 2 (frames 5-6): track 1 ties standing 1, squat 1 (the first by name wins: squat)
    # and counts 3 - 3 = 0; the row has no reps. Clip b is not these records' clip.
    assert [(row["label"], row["predicted"], row["reps"], row["predicted_reps"], row["tracks"])
            for row in scores["rows"]] == [("squat", "squat", 2, 3, 2),
                                           ("standing", "squat", None, 0, 1)]
    # Per row: 1 of 2 right; F1 squat 2/3, standing 0; one count, off by 1.
    assert scores["clip"] == pytest.approx({"count": 2, "accuracy": 0.5, "macro_f1": 1 / 3,
                                            "reps_mae": 1.0, "reps_within_one": 1.0, "counted": 1})
    # Per track: (squat, squat, 2 vs 3), (squat, unknown, 2 vs 0), (standing, squat, none).
    assert scores["track"] == pytest.approx({"count": 3, "accuracy": 1 / 3, "macro_f1": 0.25,
                                             "reps_mae": 1.5, "reps_within_one": 0.5,
                                             "counted": 2})


@pytest.mark.parametrize("line, problem", [
    ('{"frame": 1, "motion": []}\n{"frame": 1, "motion": []}', ":2: not a motion record (frame 1 "),
    ('{"frame": 1, "motion": [{"track": 1, "label": "x", "score": 2, "reps": 0}]}',
     ":1: not a motion record (track 1: not a label, a score in [0, 1] and reps)"),
    ('{"frame": 1}', ":1: not a motion record (missing 'motion')"),
    ("not json", ":1: not a motion record"),
])
def test_evaluate_motion_refuses_a_bad_records_line_in_one_line(tmp_path, line, problem):
    (tmp_path / "labels.csv").write_text("clip,label,start_frame,end_frame,reps\na,squat,1,4,2\n")
    (tmp_path / "motion.jsonl").write_text(line + "\n")
    result = CliRunner().invoke(app, ["evaluate", "motion", str(tmp_path / "motion.jsonl"),
                                      "--labels", str(tmp_path / "labels.csv"),
                                      "--clip", "a", "-o", str(tmp_path / "e.json")])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {tmp_path / 'motion.jsonl'}{problem}")
    assert len(result.output.splitlines()) == 1 and not (tmp_path / "e.json").exists()


def test_evaluate_motion_needs_a_labelled_row_of_the_clip(tmp_path):
    (tmp_path / "labels.csv").write_text("clip,label,start_frame,end_frame,reps\na,squat,1,4,2\n")
    write_records(tmp_path / "motion.jsonl", {1: []})
    result = CliRunner().invoke(app, ["evaluate", "motion", str(tmp_path / "motion.jsonl"),
                                      "--labels", str(tmp_path / "labels.csv"),
                                      "--clip", "b"])
    assert result.exit_code == 1
    assert result.output == f"error: {tmp_path / 'labels.csv'}: no row labels clip b\n"


# ------------------------------------------------------------------------------ pipeline poses


def invoke(*arguments: object) -> str:
    """Run ``vcm ARGUMENTS`` in-process; its output, after asserting it succeeded."""
    result = CliRunner().invoke(app, [str(argument) for argument in arguments])
    assert result.exit_code == 0, result.output
    return result.output


def test_motion_evaluate_on_pipeline_poses_scores_what_the_commands_give(tmp_path, monkeypatch):
    """``--poses pipeline`` runs detector, foreground, pose estimator and tracker on each
    clip's pixels; what it scores equals `vcm motion run` on the poses and tracks the
    batch commands write for that clip, scored by `vcm evaluate motion`."""
    from vcm.synth import synthesize_motions

    from conftest import mirror_dir, require_mirror

    require_mirror("models", "yolo-fastest")  # the pipeline's default detector
    monkeypatch.setenv("VCM_MIRROR", str(mirror_dir()))
    monkeypatch.setenv("VCM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VCM_OFFLINE", "1")
    clips = tmp_path / "clips"
    # One person each; knees for squats, arms for arm raises: two motions far apart.
    rows = synthesize_motions(clips, motions=("squat", "arm_raise"), clips_per_motion=1,
                              reps=(2, 3), width=128, height=128, fps=8, seed=4)
    labels = clips / "labels.csv"
    pipeline = ["--poses", "pipeline", "--detector", "yolo-fastest", "--estimator", "blazepose",
                "--tracker", "iou", "--no-progress"]
    gallery = tmp_path / "gallery.json"
    invoke("motion", "fit", labels, "-o", gallery, *pipeline)
    scores = tmp_path / "scores.json"
    invoke("motion", "evaluate", labels, "--model", gallery, *pipeline, "-o", scores)
    evaluated = json.loads(scores.read_text())
    for name, *_ in rows:
        clip, work = clips / name, tmp_path / name
        work.mkdir()
        detections = work / "detections.zip"
        invoke("detect", clip, "-o", detections, "--detector", "yolo-fastest", "--no-progress")
        invoke("foreground", clip, detections, "-o", work / "foreground.mkv", "--no-progress")
        invoke("pose", work / "foreground.mkv", detections, "-o", work / "pose.json",
               "--no-progress")
        invoke("track", detections, "-o", work / "tracks.txt", "--like", clip)
        invoke("motion", "run", work / "pose.json", work / "tracks.txt",
               "-o", work / "motion.jsonl", "--model", gallery, "--like", clip)
        invoke("evaluate", "motion", work / "motion.jsonl", "--labels", labels,
               "--clip", name, "-o", work / "eval.json")
        commands = json.loads((work / "eval.json").read_text())
        assert commands["rows"] == [{**row, "clip": name} for row in evaluated["rows"]
                                    if Path(row["clip"]).name == name]
        tracks = [track for track in evaluated["tracks"] if Path(track["clip"]).name == name]
        assert commands["track"]["count"] == len(tracks)
        assert commands["track"]["accuracy"] == sum(
            track["predicted"] == track["label"] for track in tracks) / len(tracks)
    # Each clip draws one person: one track. The gallery holds the windows of these very
    # pipeline poses, so each window's nearest ones are its own clip's: the clip's motion.
    # Counting needs no gallery: the drawn repetitions, to within one (the estimator's
    # keypoints are not exact).
    assert [(row["label"], row["predicted"], row["tracks"]) for row in evaluated["rows"]] == [
        (label, label, 1) for _, label, *_ in rows]
    assert evaluated["summary"]["clip"]["accuracy"] == 1.0
    assert evaluated["summary"]["clip"]["reps_within_one"] == 1.0
