"""A live server's gallery (`vcm serve --gallery`, `vcm live --gallery`, `vcm stream --loopback
--gallery`): a restarted session of the same scene keeps the same ids; overlapping sessions do
not overwrite each other's identities; tracking with appearance in a live session; `vcm stream
--loopback` takes the tasks of `vcm live`. Loopback, OS-chosen ports, synthetic clips of 12 and
57 frames."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vcm.cli import app
from vcm.detectors import DETECTORS
from vcm.errors import VcmError
from vcm.live.edge import Edge, open_source
from vcm.live.gallery import LiveGallery
from vcm.live.server import AnalysisServer, Tasks
from vcm.pipeline import DetectStage, foreground_stages
from vcm.synth import synthesize_sequence
from vcm.trackers.gallery import read_gallery
from vcm.tracks import read_tracks_txt

from live_runs import SECONDS, vcm_process

FRAMES = 12
APPEARANCE = Tasks(pose=None, segment=None, track="iou",
                   track_options={"appearance": "histogram"})


@pytest.fixture(scope="module")
def sequence(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("live") / "synth"
    # 320x240: at 160x96 the second person is some 18x50 pixels, too few for its colour
    # histogram to re-identify it across sessions (it gets a new id in the second one).
    synthesize_sequence(folder, frames=FRAMES, width=320, height=240, fps=10.0, people=2)
    return folder


def stream_once(sequence: Path, server: AnalysisServer, results: Path):
    stages = [DetectStage(DETECTORS.build("oracle", sequence=sequence), score=0.5),
              *foreground_stages()]
    return Edge(open_source(str(sequence)), server.address, stages, results_path=results).run()


def ids_by_box(tracks_txt: Path) -> dict:
    """{(frame, rounded box): id} of a MOTChallenge tracks file."""
    tracks = read_tracks_txt(tracks_txt)
    return {(number, *np.round(box).astype(int).tolist()): int(identity)
            for number, frame in enumerate(tracks.frames, start=1)
            for identity, box in zip(frame.ids, frame.boxes)}


def test_a_restarted_session_of_the_same_scene_keeps_the_same_ids(sequence, tmp_path):
    gallery = tmp_path / "gallery.sqlite"
    server = AnalysisServer(tmp_path / "sessions", tasks=APPEARANCE,
                            gallery=LiveGallery(gallery)).start()
    try:
        first = stream_once(sequence, server, tmp_path / "first.jsonl")
        second = stream_once(sequence, server, tmp_path / "second.jsonl")
    finally:
        server.stop(timeout=SECONDS)
    assert first.results == FRAMES and second.results == FRAMES
    folders = server.sessions
    assert len(folders) == 2
    before, after = (ids_by_box(folder / "tracks.txt") for folder in folders)
    assert set(before.values()) == {1, 2}
    # The second session starts knowing 1 and 2: a person it did not re-identify would get 3.
    common = before.keys() & after.keys()
    assert len(common) >= FRAMES  # both people, most frames
    assert {key: after[key] for key in common} == {key: before[key] for key in common}
    assert set(after.values()) == {1, 2}
    ids, embeddings = read_gallery(gallery, histogram_embedder().describe())
    assert ids.tolist() == [1, 2] and embeddings.shape[0] == 2
    assert session_state(folders[1])["gallery"] == {"stored": 2, "renumbered": {}}


def session_state(folder: Path) -> dict:
    import json

    return json.loads((folder / "session.json").read_text())


def histogram_embedder():
    from vcm.trackers import TRACKERS

    return TRACKERS.build("iou", appearance="histogram").embedder


def test_overlapping_sessions_store_new_identities_under_distinct_ids(tmp_path):
    embedder = histogram_embedder()
    gallery = LiveGallery(tmp_path / "gallery.sqlite")
    known, first = gallery.check_out(embedder)
    _, second = gallery.check_out(embedder)
    assert len(known[0]) == 0 and first.known_max == 0 and second.known_max == 0
    dimension = embedder.dimension
    a, b, c = (np.eye(dimension, dtype=np.float32)[index] for index in range(3))
    # Both sessions saw a new person they called 1; the first stores it; the second's 1 is
    # taken by then, so it is stored under the next id free of both (3), and its 2 as 2.
    assert gallery.check_in(np.array([1]), a[None], first) == {}
    assert gallery.check_in(np.array([1, 2]), np.stack([b, c]), second) == {1: 3}
    ids, embeddings = read_gallery(gallery.path, embedder.describe())
    assert ids.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(embeddings, np.stack([a, c, b]))
    # A later session that knew 1..3 updates 2 in place and adds 4.
    _, third = gallery.check_out(embedder)
    assert third.known_max == 3
    assert gallery.check_in(np.array([2, 4]), np.stack([a, b]), third) == {}
    ids, embeddings = read_gallery(gallery.path, embedder.describe())
    assert ids.tolist() == [1, 2, 3, 4]
    np.testing.assert_array_equal(embeddings[1], a)


def test_tracking_with_appearance_in_a_live_session_equals_vcm_track_on_its_recording(
        sequence, tmp_path):
    server = AnalysisServer(tmp_path / "sessions", tasks=APPEARANCE).start()
    try:
        report = stream_once(sequence, server, tmp_path / "results.jsonl")
    finally:
        server.stop(timeout=SECONDS)
    assert report.results == FRAMES and report.server_end["reason"] == "complete"
    (folder,) = server.sessions
    runner = CliRunner()
    stream = next(folder.glob("stream.26?"))
    for arguments in (["decode", stream, "-o", tmp_path / "decoded.mkv"],
                      ["track", folder / "detections.vcmd", "-o", tmp_path / "tracks.txt",
                       "--fps", "10", "-p", "appearance=histogram",
                       "--video", tmp_path / "decoded.mkv"]):
        result = runner.invoke(app, [str(argument) for argument in arguments])
        assert result.exit_code == 0, result.output
    assert (folder / "tracks.txt").read_bytes() == (tmp_path / "tracks.txt").read_bytes()
    assert set(ids_by_box(folder / "tracks.txt").values()) == {1, 2}


def test_a_gallery_without_appearance_is_refused_and_not_created(tmp_path):
    gallery = tmp_path / "gallery.sqlite"
    with pytest.raises(VcmError, match="--gallery is for tracking with appearance"):
        AnalysisServer(tmp_path / "sessions", tasks=Tasks(pose=None, track="iou"),
                       gallery=LiveGallery(gallery))
    result = CliRunner().invoke(app, ["serve", "--port", "0", "--pose", "none",
                                      "--root", str(tmp_path / "sessions"),
                                      "--gallery", str(gallery)])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    assert not gallery.exists()


def test_a_file_that_is_not_a_gallery_is_refused_at_start(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("not a database\n")
    with pytest.raises(VcmError, match="not a vcm gallery"):
        AnalysisServer(tmp_path / "sessions", tasks=APPEARANCE, gallery=LiveGallery(other))
    assert other.read_text() == "not a database\n"


def test_vcm_live_keeps_the_gallery_a_server_with_one_keeps(sequence, tmp_path):
    """`vcm live --gallery` stores what `vcm serve --gallery` stores for the same stream from
    `vcm stream`, and its next run of the same scene starts from it (the same ids)."""
    import json
    import re
    import signal

    common = ["--detector", "oracle", "--codec", "x265", "--no-progress"]
    appearance = ["--pose", "none", "--track-option", "appearance=histogram"]
    served = tmp_path / "served.sqlite"
    with vcm_process("serve", "--root", str(tmp_path / "served"), "--port", "0", *appearance,
                     "--gallery", str(served)) as process:
        port = re.match(r"listening on 127\.0\.0\.1:(\d+)", process.stderr.readline()).group(1)
        result = CliRunner().invoke(app, ["stream", str(sequence), "--to", f"127.0.0.1:{port}",
                                          "-o", str(tmp_path / "streamed.jsonl"), *common])
        assert result.exit_code == 0, result.output
        # The session stores its identities as it ends, which the edge does not wait for.
        wait_until(lambda: [folder for folder in (tmp_path / "served").iterdir()
                            if session_state(folder)["state"] == "ended"])
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=SECONDS)

    gallery = tmp_path / "live.sqlite"
    for run in ("first", "second"):
        result = CliRunner().invoke(app, [
            "live", str(sequence), "-o", str(tmp_path / f"{run}.jsonl"), "--root",
            str(tmp_path / run), *common, *appearance, "--gallery", str(gallery)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["results"] == FRAMES
        if run == "first":
            description = histogram_embedder().describe()
            (ids, embeddings), (expected_ids, expected) = (read_gallery(path, description)
                                                           for path in (gallery, served))
            assert ids.tolist() == expected_ids.tolist() == [1, 2]
            np.testing.assert_array_equal(embeddings, expected)
    (first,), (second,) = (list((tmp_path / run).iterdir()) for run in ("first", "second"))
    assert session_state(second)["gallery"] == {"stored": 2, "renumbered": {}}
    before, after = ids_by_box(first / "tracks.txt"), ids_by_box(second / "tracks.txt")
    common = before.keys() & after.keys()
    assert len(common) >= FRAMES
    assert {key: after[key] for key in common} == {key: before[key] for key in common}
    assert set(after.values()) == {1, 2}


def wait_until(condition) -> None:
    deadline = time.monotonic() + SECONDS
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("command", [["live"], ["stream", "--loopback"]])
@pytest.mark.parametrize("problem, arguments", [
    ("is also an input", ["--track-option", "appearance=histogram", "--gallery", "{output}"]),
    ("--gallery is for tracking with appearance", ["--gallery", "{gallery}"]),
])
def test_vcm_live_refuses_a_gallery_as_serve_does(sequence, tmp_path, problem, arguments,
                                                  command):
    output, gallery = tmp_path / "results.jsonl", tmp_path / "gallery.sqlite"
    arguments = [argument.format(output=output, gallery=gallery) for argument in arguments]
    result = CliRunner().invoke(app, [*command, str(sequence), "-o", str(output), "--root",
                                      str(tmp_path / "sessions"), "--detector", "oracle",
                                      "--pose", "none", "--no-progress", *arguments])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and problem in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_vcm_stream_loopback_takes_the_tasks_of_vcm_live_and_answers_the_same(tmp_path):
    """`vcm live` is `vcm stream --loopback` with its defaults: given the same tasks (motion
    with a model, tracking with appearance, a gallery), both answer every frame alike and
    store the same identities."""
    import json

    from vcm.synth import synthesize_motions

    # One person raising the arms twice, large enough for BlazePose (192x160, 57 frames).
    synthesize_motions(tmp_path / "clips", motions=("arm_raise",), clips_per_motion=1,
                       width=192, height=160, fps=10, reps=(2, 2), seed=1)
    clip, model = tmp_path / "clips" / "arm_raise-1", tmp_path / "model.json"
    result = CliRunner().invoke(app, ["motion", "fit", str(tmp_path / "clips" / "labels.csv"),
                                      "-o", str(model), "--no-progress"])
    assert result.exit_code == 0, result.output
    tasks = ["--detector", "oracle", "--codec", "x265", "--no-progress", "--motion", "knn",
             "--motion-option", f"model={model}", "--track-option", "appearance=histogram"]
    answers, galleries = {}, {}
    for name, command in (("live", ["live"]), ("stream", ["stream", "--loopback"])):
        galleries[name] = tmp_path / f"{name}.sqlite"
        result = CliRunner().invoke(app, [
            *command, str(clip), "-o", str(tmp_path / f"{name}.jsonl"), "--root",
            str(tmp_path / name), *tasks, "--gallery", str(galleries[name])])
        assert result.exit_code == 0, result.output
        # Every field but the measured times and clocks.
        answers[name] = [{key: value for key, value in json.loads(line).items()
                          if key not in ("times", "clock", "timing")}
                         for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
    assert answers["stream"] == answers["live"]
    assert [message["frame"] for message in answers["live"]] == list(range(1, 58))
    # The model knows one motion, and the clip draws two repetitions of it.
    assert answers["live"][-1]["motion"] == [{"track": 1, "label": "arm_raise", "score": 1.0,
                                              "reps": 2}]
    description = histogram_embedder().describe()
    (ids, embeddings), (stream_ids, stream_embeddings) = (
        read_gallery(galleries[name], description) for name in ("live", "stream"))
    assert ids.tolist() == stream_ids.tolist() == [1]
    np.testing.assert_array_equal(embeddings, stream_embeddings)


def test_vcm_stream_to_a_server_refuses_the_servers_task_options(tmp_path):
    result = CliRunner().invoke(app, ["stream", "clip.mkv", "--to", "127.0.0.1:9", "-o",
                                      str(tmp_path / "results.jsonl"), "--motion", "knn",
                                      "--gallery", str(tmp_path / "gallery.sqlite")])
    assert result.exit_code == 1
    assert result.output == ("error: stream: --motion, --gallery need --loopback (a server "
                             "elsewhere takes them itself: `vcm serve`)\n")
    assert list(tmp_path.iterdir()) == []
