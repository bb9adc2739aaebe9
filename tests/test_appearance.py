"""Appearance embeddings, tracking with appearance, and the persistent gallery.

The tracking cases are worked out by hand on drawn frames: people are flat-coloured boxes
(upper and lower body in two colours) on a grey background, so their embeddings are known to
be equal (same colours) or far apart (different hues).
"""

import sqlite3

import numpy as np
import pytest
from typer.testing import CliRunner

from vcm.appearance import EMBEDDERS, cosine_distances, normalised
from vcm.cli import app
from vcm.detections import FrameDetections
from vcm.errors import VcmError
from vcm.registry import Option
from vcm.synth import synthesize_sequence
from vcm.trackers import TRACKERS
from vcm.trackers.gallery import read_gallery, write_gallery

runner = CliRunner()
WIDTH, HEIGHT = 320, 240
# BGR colours of (upper, lower) body.
RED_BLUE = ((0, 0, 220), (220, 0, 0))
GREEN_YELLOW = ((0, 200, 0), (0, 220, 220))


def invoke(*arguments):
    return runner.invoke(app, [str(argument) for argument in arguments])


def draw(people) -> np.ndarray:
    """A grey frame with each ``(box, (upper, lower))`` drawn as two flat halves."""
    frame = np.full((HEIGHT, WIDTH, 3), 128, dtype=np.uint8)
    for (x1, y1, x2, y2), (upper, lower) in people:
        middle = (y1 + y2) // 2
        frame[y1:middle, x1:x2] = upper
        frame[middle:y2, x1:x2] = lower
    return frame


# --- the embedder -------------------------------------------------------------------------

def test_histogram_embeddings_are_unit_rows_equal_for_equal_colours():
    embedder = EMBEDDERS.build("histogram")
    frame = draw([((10, 20, 50, 100), RED_BLUE), ((200, 30, 250, 130), RED_BLUE),
                  ((100, 100, 140, 180), GREEN_YELLOW)])
    embeddings = embedder.embed(frame, np.array([[10, 20, 50, 100], [200, 30, 250, 130],
                                                 [100, 100, 140, 180]], dtype=float))
    assert embeddings.shape == (3, embedder.dimension) and embeddings.dtype == np.float32
    assert np.linalg.norm(embeddings, axis=1) == pytest.approx([1, 1, 1], abs=1e-6)
    distances = cosine_distances(embeddings, embeddings)
    # Same two flat colours in the same halves, whatever the box size: the same histogram.
    assert distances[0, 1] == pytest.approx(0.0, abs=1e-6)
    # Red/blue and green/yellow fall in different hue cells in every stripe: no overlap.
    assert distances[0, 2] == pytest.approx(1.0, abs=1e-6)


def test_histogram_box_outside_the_frame_and_no_boxes():
    embedder = EMBEDDERS.build("histogram", stripes=2, bins=8, joint=False)
    assert embedder.dimension == 2 * 3 * 8
    frame = draw([])
    embeddings = embedder.embed(frame, np.array([[-50, -50, -10, -10], [0, 0, 10, 20]], float))
    assert not embeddings[0].any()  # no pixel inside: a zero row, at distance 1 from all
    assert cosine_distances(embeddings[:1], embeddings[1:])[0, 0] == pytest.approx(1.0)
    # A flat grey box: per stripe, each channel's mass is in one bin, sqrt(1) each, 6 ones.
    assert embeddings[1] == pytest.approx(np.where(embeddings[1] > 0, 1 / np.sqrt(6), 0))
    assert embedder.embed(frame, np.zeros((0, 4))).shape == (0, 48)


def test_embedder_options_are_checked():
    with pytest.raises(VcmError, match="option space must be one of"):
        EMBEDDERS.build("histogram", space="cmyk")
    with pytest.raises(VcmError, match="unknown appearance embedder 'osnet-x'"):
        EMBEDDERS.get("osnet-x")
    with pytest.raises(ValueError, match="at most 8 bins"):
        EMBEDDERS.build("histogram", joint=True, bins=16)
    assert normalised(np.zeros((1, 3))).tolist() == [[0, 0, 0]]


# --- tracking with appearance --------------------------------------------------------------

def occlusion_scene():
    """Person A (red/blue) at x 40..80 in frames 1-5, hidden in frames 6-15, back at x 140..180
    in frames 16-20 (it walked on behind a pillar); person B (green/yellow) at x 240..280
    throughout. Returns per frame (frame pixels, detections)."""
    scene = []
    for number in range(1, 21):
        people = [((240, 60, 280, 180), GREEN_YELLOW)]
        if number <= 5:
            people.insert(0, ((40, 60, 80, 180), RED_BLUE))
        elif number >= 16:
            people.insert(0, ((140, 60, 180, 180), RED_BLUE))
        boxes = np.array([box for box, _ in people], dtype=float)
        scene.append((draw(people), FrameDetections(number, boxes, np.ones(len(boxes)))))
    return scene


def track_ids(tracker, scene, fps=10.0):
    state = tracker.init_state(fps)
    per_frame = []
    for frame, detections in scene:
        if tracker.embedder is None:
            state, tracks = tracker.update(state, detections)
        else:
            embeddings = tracker.embedder.embed(frame, detections.boxes)
            state, tracks = tracker.update(state, detections, embeddings)
        per_frame.append({int(x1): int(track) for track, (x1, *_rest)
                          in zip(tracks.ids, tracks.boxes)})
    return per_frame


def test_occlusion_splits_an_id_under_iou_and_keeps_it_with_appearance():
    scene = occlusion_scene()
    # IoU alone: track_buffer 30 at 10 fps keeps A lost for 10 frames, but its box comes
    # back 100 px away (IoU 0 with where it was): a new id, 3, output from its second frame.
    plain = track_ids(TRACKERS.build("iou"), scene)
    assert plain[1] == {40: 1, 240: 2}
    assert plain[15] == {240: 2}  # frame 16: the new track is not confirmed yet
    assert plain[16] == {140: 3, 240: 2}
    # With appearance and lost tracks kept 2 s: frame 16 re-identifies A as 1 at once.
    with_appearance = track_ids(TRACKERS.build("iou", appearance="histogram", lost_seconds=2.0),
                                scene)
    assert with_appearance[1] == {40: 1, 240: 2}
    assert with_appearance[15] == {140: 1, 240: 2}
    assert with_appearance[19] == {140: 1, 240: 2}
    # Lost for 1 s only (10 frames, A is away 10 frames and returns in the 11th): new id.
    short = track_ids(TRACKERS.build("iou", appearance="histogram", lost_seconds=0.9), scene)
    assert short[16] == {140: 3, 240: 2}


def test_appearance_does_not_change_plain_tracking_when_off():
    scene = occlusion_scene()
    assert track_ids(TRACKERS.build("iou", appearance=None), scene) == \
        track_ids(TRACKERS.build("iou"), scene)


def test_appearance_needs_embeddings_and_a_gallery_needs_appearance():
    tracker = TRACKERS.build("iou", appearance="histogram")
    state = tracker.init_state(10.0)
    with pytest.raises(ValueError, match="needs an embedding per detection"):
        tracker.update(state, FrameDetections(1, np.zeros((0, 4)), np.zeros(0)))
    with pytest.raises(ValueError, match="a gallery needs appearance"):
        TRACKERS.build("iou").init_state(10.0, gallery=(np.array([1]), np.ones((1, 4))))
    with pytest.raises(ValueError, match="shape"):
        tracker.init_state(10.0, gallery=(np.array([1]), np.ones((1, 4), dtype=np.float32)))


@pytest.mark.parametrize("options, problem", [
    ({"appearance": "nope"}, "unknown appearance embedder 'nope'"),
    ({"appearance_weight": 1.5}, "option appearance_weight must be at most 1"),
    ({"reid_distance": -0.1}, "option reid_distance must be at least 0"),
    ({"lost_seconds": -1}, "option lost_seconds must be at least 0"),
    ({"appearance_options": 3}, "option appearance_options must be of type dict"),
    ({"appearance": "histogram", "appearance_options": {"stripes": 0}},
     "option stripes must be at least 1"),
])
def test_appearance_options_are_checked(options, problem):
    with pytest.raises(VcmError, match=problem):
        TRACKERS.build("iou", **options)


def test_gallery_recalls_remembered_identities():
    scene = occlusion_scene()
    tracker = TRACKERS.build("iou", appearance="histogram", lost_seconds=0.5)
    embedder = tracker.embedder
    red_blue = embedder.embed(scene[0][0], scene[0][1].boxes[:1])
    green_yellow = embedder.embed(scene[0][0], scene[0][1].boxes[1:])
    # Known: 7 is green/yellow, 4 red/blue; new ids start at 8.
    state = tracker.init_state(10.0, gallery=(np.array([7, 4]),
                                              np.concatenate([green_yellow, red_blue])))
    assert state.next_id == 8
    outputs = []
    for frame, detections in scene:
        state, tracks = tracker.update(state, detections, embedder.embed(frame, detections.boxes))
        outputs.append({int(box[0]): int(track) for track, box in zip(tracks.ids, tracks.boxes)})
    # Recalled identities are confirmed at once, so frame 1 has output; A times out after
    # 5 frames lost, is remembered, and is recalled from memory in frame 16.
    assert outputs[0] == {40: 4, 240: 7}
    assert outputs[15] == {140: 4, 240: 7}
    ids, embeddings = tracker.identities(state)
    assert ids.tolist() == [4, 7] and embeddings.shape == (2, embedder.dimension)


# --- the gallery file ----------------------------------------------------------------------

DESCRIPTION = {"name": "histogram", "space": "hsv"}


def test_gallery_round_trip_update_and_limits(tmp_path):
    path = tmp_path / "gallery.sqlite"
    assert read_gallery(path, DESCRIPTION)[0].shape == (0,)
    first = normalised(np.eye(3, dtype=np.float32))
    write_gallery(path, np.array([1, 2, 3]), first, DESCRIPTION)
    write_gallery(path, np.array([3, 5]), first[:2], DESCRIPTION)
    ids, embeddings = read_gallery(path, DESCRIPTION)
    assert ids.tolist() == [1, 2, 3, 5]
    assert embeddings.tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0]]
    with sqlite3.connect(path) as connection:
        runs = dict(connection.execute("SELECT id, runs FROM identities").fetchall())
    assert runs == {1: 1, 2: 1, 3: 2, 5: 1}
    with pytest.raises(VcmError, match="not by this tracker's"):
        read_gallery(path, {"name": "histogram", "space": "lab"})
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE identities SET embedding = x'00' WHERE id = 2")
    with pytest.raises(VcmError, match="identity 2: embedding is not 3 float32"):
        read_gallery(path, DESCRIPTION)


def test_gallery_refuses_other_files_and_leaves_them_alone(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("my notes\n")
    with pytest.raises(VcmError, match="not an SQLite file"):
        write_gallery(text, np.array([1]), np.ones((1, 3)), DESCRIPTION)
    assert text.read_text() == "my notes\n"
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t(x)")
    before = other.read_bytes()
    with pytest.raises(VcmError, match="no meta table"):
        write_gallery(other, np.array([1]), np.ones((1, 3)), DESCRIPTION)
    assert other.read_bytes() == before


# --- through the CLI -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """8 frames of the synthetic sample at 320x240 with two people, and its oracle boxes."""
    root = tmp_path_factory.mktemp("data") / "sample"
    synthesize_sequence(root, frames=8, width=320, height=240, people=2, seed=3)
    detections = root.parent / "detections.zip"
    result = invoke("detect", root, "--detector", "oracle", "-o", detections, "--no-progress")
    assert result.exit_code == 0, result.output
    return root, detections


def read_rows(path):
    return sorted(tuple(line.split(",")[:3]) for line in path.read_text().splitlines())


def test_gallery_restores_ids_across_two_runs(tmp_path, sample):
    video, detections = sample
    gallery = tmp_path / "shop.sqlite"
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    appearance = ("-p", "appearance=histogram", "--video", video, "--gallery", gallery)
    result = invoke("track", detections, "-o", first, *appearance)
    assert result.exit_code == 0, result.output
    ids, _ = read_gallery(gallery, EMBEDDERS.build("histogram").describe())
    assert ids.tolist() == [1, 2]
    result = invoke("track", detections, "-o", second, *appearance)
    assert result.exit_code == 0, result.output
    first_rows, second_rows = read_rows(first), read_rows(second)
    # The second run knows both people from frame 1 on (recalled, confirmed at once); from
    # frame 2 on its rows are the first run's, ids included.
    assert {row for row in second_rows if row[0] != "1"} == set(first_rows)
    assert sorted(row[1] for row in second_rows if row[0] == "1") == ["1", "2"]
    assert read_gallery(gallery, EMBEDDERS.build("histogram").describe())[0].tolist() == [1, 2]


def test_cli_appearance_errors(tmp_path, sample):
    video, detections = sample
    out = tmp_path / "tracks.txt"
    gallery = tmp_path / "g.sqlite"

    def error_line(*arguments):
        result = invoke("track", detections, "-o", out, *arguments)
        assert result.exit_code == 1 and not out.exists(), result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
        return lines[0]

    assert error_line("--gallery", gallery) == (
        f"error: {gallery}: --gallery is for tracking with appearance; set the tracker option "
        "appearance (e.g. -p appearance=histogram)")
    assert "--video is for tracking with appearance" in error_line("--video", video)
    assert error_line("-p", "appearance=histogram") == (
        f"error: {out}: tracking with appearance needs --video, the decoded video whose "
        "pixels are embedded")
    assert "unknown appearance embedder 'sift'" in error_line(
        "-p", "appearance=sift", "--video", video)
    assert "is also an input" in error_line("-p", "appearance=histogram", "--video", video,
                                            "--gallery", detections)
    result = invoke("track", detections, "-o", gallery, "-p", "appearance=histogram",
                    "--video", video, "--gallery", gallery)
    assert result.exit_code == 1 and "is also an input" in result.output
    assert not gallery.exists()
    notes = tmp_path / "notes.db"
    notes.write_bytes(b"not a database")
    assert error_line("-p", "appearance=histogram", "--video", video, "--gallery", notes) == (
        f"error: {notes}: not a vcm gallery (not an SQLite file)")
    assert notes.read_bytes() == b"not a database"


def test_failed_run_leaves_the_gallery_as_it_was(tmp_path, sample):
    video, detections = sample
    gallery = tmp_path / "g.sqlite"
    write_gallery(gallery, np.array([3]), normalised(np.ones((1, 256))),
                  EMBEDDERS.build("histogram").describe())
    before = gallery.read_bytes()
    other = tmp_path / "other"
    synthesize_sequence(other, frames=5, width=320, height=240, people=1, seed=1)
    out = tmp_path / "tracks.txt"
    result = invoke("track", detections, "-o", out, "-p", "appearance=histogram", "--video",
                    other, "--gallery", gallery)
    assert result.exit_code == 1 and "frames" in result.output and not out.exists()
    assert gallery.read_bytes() == before


def test_single_task_tracking_with_appearance_embeds_the_coded_original(tmp_path, sample):
    video, detections = sample
    plain, with_appearance = tmp_path / "plain.txt", tmp_path / "appearance.txt"
    common = ("single-task", "track", video, "--codec", "vvenc", "--qp", "32", "--detector",
              "oracle", "--detector-option", f"sequence={video}", "--no-progress")
    assert invoke(*common, "-o", plain).exit_code == 0
    result = invoke(*common, "--tracker-option", "appearance=histogram", "-o", with_appearance)
    assert result.exit_code == 0, result.output
    # Two people who never meet: appearance changes no id, so the rows are the same.
    assert with_appearance.read_text() == plain.read_text() != ""


def test_the_sweep_refuses_appearance_with_variants_it_cannot_embed():
    from pathlib import Path

    from vcm.config import backend_option_problems, load_config

    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "ci.yaml")
    config["track"]["options"] = {"appearance": "histogram"}
    assert backend_option_problems(config) == []
    config["variants"] = {"half": {"keep_every": 2}}
    assert backend_option_problems(config) == [
        "variants/half: track/options appearance needs every frame at full size; this "
        "variant codes keep_every 2, downscale 1"]


def test_the_sweep_tracks_each_point_with_appearance(tmp_path):
    """A dry run of the ci sweep with appearance: tracking runs per point, on the decoded
    foreground (multitask) and the decoded original (single-task), and the points read those
    evaluations."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repository = Path(__file__).resolve().parents[1]
    config = tmp_path / "ci_reid.yaml"
    config.write_text((repository / "configs" / "ci.yaml").read_text().replace(
        "track: {tracker: iou, options: {}}",
        "track: {tracker: iou, options: {appearance: histogram}}"))
    bin_dir = Path(sys.executable).parent
    plan = subprocess.run(
        [str(bin_dir / "snakemake"), "--snakefile", str(repository / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(config), "--cores", "1",
         "--dry-run", "--printshellcmds"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert plan.returncode == 0, plan.stderr[-2000:]
    commands = [line for line in plan.stdout.splitlines() if line.startswith("vcm ")
                or "Shell command: vcm" in line]
    tracking = sorted(line for line in commands if "vcm track " in line)
    point = "results/ci_reid/{}/tiny/vvenc/qp{}"
    assert len(tracking) == 4
    for pipeline in ("multitask", "single"):
        for qp in (22, 47):
            folder = point.format(pipeline, qp)
            assert [line for line in tracking
                    if f"--video {folder}/decoded.mkv -o {folder}/tracks.txt" in line]
            assert [line for line in commands if "vcm point" in line
                    and f"--track-eval {folder}/track_eval.json" in line]
