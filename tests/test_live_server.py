"""The live edge and analysis server on loopback (issue 18): results, recordings equal to the
batch commands' files, and what happens to bad, broken, slow and refused clients.

Real ffmpeg encoders and decoders, a 12-frame 160x96 synthetic sequence with exact boxes
(the oracle detector), 127.0.0.1 and OS-chosen ports; every socket and child process has a
timeout.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vcm.bitstream.access_units import AccessUnitEmbedder
from vcm.bitstream.annexb import parse_stream
from vcm.cli import app
from vcm.detectors import DETECTORS
from vcm.errors import VcmError
from vcm.live.coding import SYNTAX, LiveEncoder, live_codec
from vcm.live.edge import Edge, open_source
from vcm.live.protocol import Hello, parse_message, read_line
from vcm.live.server import AnalysisServer, Tasks
from vcm.pipeline import DetectStage, Frame, foreground_stages
from vcm.synth import synthesize_sequence

from live_runs import SECONDS, vcm_process

FRAMES = 12
WIDTH, HEIGHT, FPS = 160, 96, 10.0


@pytest.fixture(scope="module")
def sequence(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("live") / "synth"
    synthesize_sequence(folder, frames=FRAMES, width=WIDTH, height=HEIGHT, fps=FPS, people=2)
    return folder


def edge_stages(sequence: Path) -> list:
    return [DetectStage(DETECTORS.build("oracle", sequence=sequence), score=0.5),
            *foreground_stages()]


def run_edge(sequence: Path, server: AnalysisServer, tmp_path: Path, **options):
    edge = Edge(open_source(str(sequence)), server.address, edge_stages(sequence),
                results_path=tmp_path / "results.jsonl", **options)
    return edge.run()


def coded_units(sequence: Path, codec: str = "x265") -> list[bytes]:
    """The access units an edge sends for the sequence, SEIs in."""
    source = open_source(str(sequence))
    detector = DETECTORS.build("oracle", sequence=sequence)
    encoder = LiveEncoder(live_codec(codec), width=WIDTH, height=HEIGHT, fps=FPS, qp=32)
    embedder = AccessUnitEmbedder(SYNTAX[codec], WIDTH, HEIGHT)
    stage = DetectStage(detector, score=0.5)
    detections = []
    try:
        for number, image in enumerate(source.frames, start=1):
            detections.append(stage.process(Frame(number, image))[0].detections)
            encoder.encode(image)
        encoder.finish()
        units = []
        while (unit := encoder.next_access_unit(timeout=SECONDS)) is not None:
            units.append(embedder.embed(unit, detections[len(units)]))
    finally:
        encoder.close()
    return units


def hello_line(codec: str = "x265", token: str | None = None) -> bytes:
    return Hello(codec=codec, options=live_codec(codec).options(), qp=32, width=WIDTH,
                 height=HEIGHT, fps=FPS, token=token).to_line()


def connect(server: AnalysisServer) -> socket.socket:
    connection = socket.create_connection(server.address, timeout=SECONDS)
    connection.settimeout(SECONDS)
    return connection


def read_all(connection: socket.socket, buffer: bytearray | None = None) -> list[dict]:
    buffer, messages = buffer if buffer is not None else bytearray(), []
    while (line := read_line(connection, buffer, 1 << 24)) is not None:
        messages.append(parse_message(line))
    return messages


def session_state(folder: Path) -> dict:
    return json.loads((folder / "session.json").read_text())


@pytest.fixture
def server(tmp_path):
    started = AnalysisServer(tmp_path / "sessions", tasks=Tasks(pose=None, segment="box")).start()
    yield started
    started.stop(timeout=SECONDS)


def invoke(*arguments) -> None:
    result = CliRunner().invoke(app, [str(argument) for argument in arguments])
    assert result.exit_code == 0, result.output


def assert_batch_files_equal(folder: Path, stream: Path, work: Path) -> None:
    """The session's task files in ``folder`` are what the batch commands write on ``stream``
    (BlazePose, MediaPipe masks, iou tracks), byte for byte."""
    invoke("decode", stream, "-o", work / "decoded.mkv")
    invoke("detections", "extract", stream, "-o", work / "detections.vcmd")
    invoke("pose", work / "decoded.mkv", work / "detections.vcmd", "-o",
           work / "poses.json", "--no-progress")
    invoke("segment", work / "decoded.mkv", work / "detections.vcmd", "-o",
           work / "masks.json", "--segmenter", "mediapipe", "--no-progress")
    invoke("track", work / "detections.vcmd", "-o", work / "tracks.txt", "--fps", FPS)
    for name in ("detections.vcmd", "poses.json", "masks.json", "tracks.txt"):
        assert (folder / name).read_bytes() == (work / name).read_bytes(), name


@pytest.mark.parametrize("codec", ["vvenc", "x265"])
def test_a_live_session_equals_the_batch_commands_on_its_recording(sequence, tmp_path, codec):
    tasks = Tasks(pose="blazepose", segment="mediapipe", track="iou")
    server = AnalysisServer(tmp_path / "sessions", tasks=tasks).start()
    try:
        report = run_edge(sequence, server, tmp_path, codec=codec, qp=32)
    finally:
        server.stop(timeout=SECONDS)
    assert report.results == FRAMES and report.server_end["reason"] == "complete"
    (folder,) = server.sessions
    stream = folder / f"stream{live_codec(codec).extension}"
    assert_batch_files_equal(folder, stream, tmp_path)
    # Masks read the decoded pixels (at 160x96 BlazePose may find no pose in x265's frames).
    assert json.loads((folder / "masks.json").read_text()), "no mask to compare"
    # What came back over the socket is what was recorded, frame by frame.
    sent = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    got = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [message["frame"] for message in got] == list(range(1, FRAMES + 1))
    assert [message["poses"] for message in got] == [message["poses"] for message in sent]
    state = session_state(folder)
    assert (state["state"], state["frames"], state["bytes"]) == ("ended", FRAMES, stream.stat().st_size)


def test_an_edge_that_disconnects_mid_frame_leaves_the_frames_before_it(sequence, server):
    units = coded_units(sequence)
    with connect(server) as connection:
        connection.sendall(hello_line())
        assert parse_message(read_line(connection, bytearray(), 4096))["type"] == "accepted"
        connection.sendall(b"".join(units[:3]) + units[3][: len(units[3]) // 2])
    assert server.wait_idle(SECONDS)
    (folder,) = server.sessions
    state = session_state(folder)
    assert state["state"] == "ended" and state["frames"] == 3
    assert "inside frame 4" in state["reason"]
    assert (folder / "stream.265").read_bytes() == b"".join(units[:3])
    assert len((folder / "tracks.txt").read_text().splitlines()) > 0
    assert len(parse_stream((folder / "stream.265").read_bytes()).pictures) == 3


def test_garbage_in_the_stream_ends_the_session_and_says_why(sequence, server):
    units = coded_units(sequence)
    with connect(server) as connection:
        connection.sendall(hello_line())
        buffer = bytearray()
        assert parse_message(read_line(connection, buffer, 4096))["type"] == "accepted"
        connection.sendall(units[0] + units[1] + units[2])
        # ffmpeg's HEVC decoder hands a picture out one or two AUs late: frame 1 is sure.
        assert parse_message(read_line(connection, buffer, 1 << 20))["frame"] == 1
        connection.sendall(b"\x17" + os.urandom(3000))
        connection.shutdown(socket.SHUT_WR)
        messages = read_all(connection, buffer)
    assert [message["type"] for message in messages] == ["frame", "frame", "end"]
    assert messages[-1]["reason"].startswith("error: bad stream after frame 3")
    assert "not an Annex-B stream" in messages[-1]["reason"]
    (folder,) = server.sessions
    assert session_state(folder)["frames"] == 3


def test_garbage_instead_of_a_stream_is_refused(server):
    with connect(server) as connection:
        connection.sendall(hello_line() + b"\x17" * 100)
        connection.shutdown(socket.SHUT_WR)
        messages = read_all(connection)
    assert [message["type"] for message in messages] == ["accepted", "end"]
    assert "not an Annex-B stream" in messages[-1]["reason"]
    (folder,) = server.sessions
    assert session_state(folder)["frames"] == 0


@pytest.mark.parametrize("greeting, problem", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not a vcm live stream"),
    (b"VCMLIVE/1 " + b"x" * 5000, "longer than 4096"),
    (b"\x00\x00\x00\x01\x00\xa1\x28", "not a vcm live stream"),
])
def test_a_client_that_does_not_speak_the_protocol_is_refused(server, greeting, problem):
    with connect(server) as connection:
        connection.sendall(greeting + b"\n")
        messages = read_all(connection)
    assert messages[0]["type"] == "error" and problem in messages[0]["error"]
    assert server.sessions == [] and not any(server.root.iterdir())


def test_a_server_with_a_token_refuses_clients_without_it(sequence, tmp_path):
    server = AnalysisServer(tmp_path / "sessions", token="s3cret", tasks=Tasks(pose=None)).start()
    try:
        for token in (None, "wrong"):
            with connect(server) as connection:
                connection.sendall(hello_line(token=token))
                assert "token" in read_all(connection)[0]["error"]
        report = run_edge(sequence, server, tmp_path, codec="x265", token="s3cret")
        assert report.results == FRAMES
    finally:
        server.stop(timeout=SECONDS)
    assert len(server.sessions) == 1


def test_live_tasks_are_built_from_registry_names_and_checked_before_any_session():
    from vcm.live import live_tasks

    assert live_tasks("blazepose", "none", "iou", score=0.25) == Tasks(
        pose="blazepose", segment=None, track="iou", score=0.25)
    assert live_tasks("none", "box", "none") == Tasks(pose=None, segment="box", track=None)
    with pytest.raises(VcmError, match="nosuchpose"):
        live_tasks("nosuchpose", "none", "iou")
    with pytest.raises(VcmError, match="no_such_option"):
        live_tasks("blazepose", "none", "iou", track_options={"no_such_option": 1})


def test_each_session_gets_pixel_stages_of_its_own_built_before_it_connects(tmp_path):
    # Built when the server starts (a backend that cannot be built fails there), then one
    # set prepared ahead for each next session: never shared.
    with pytest.raises(VcmError, match="no_such_option"):
        AnalysisServer(tmp_path / "bad", tasks=Tasks(
            pose=None, segment="box", segment_options={"no_such_option": 1})).start()
    server = AnalysisServer(tmp_path / "sessions", tasks=Tasks(pose=None, segment="box")).start()
    try:
        first, second = server.pixel_stages(), server.pixel_stages()
        assert [type(stage).__name__ for stage in first + second] == ["SegmentStage"] * 2
        assert first[0].segmenter is not second[0].segmenter
    finally:
        server.stop()


def test_listening_beyond_loopback_needs_a_token(tmp_path):
    with pytest.raises(VcmError, match="needs a token"):
        AnalysisServer(tmp_path, host="0.0.0.0")


def test_sessions_over_the_limit_are_refused(sequence, tmp_path):
    server = AnalysisServer(tmp_path / "sessions", max_sessions=1, tasks=Tasks(pose=None)).start()
    try:
        with connect(server) as first:
            first.sendall(hello_line())
            assert parse_message(read_line(first, bytearray(), 4096))["type"] == "accepted"
            with connect(server) as second:
                second.sendall(hello_line())
                assert "1 sessions already" in read_all(second)[0]["error"]
    finally:
        server.stop(timeout=SECONDS)
    assert server.refused == 1


def test_reconnecting_starts_a_new_session_with_a_fresh_idr(sequence, server, tmp_path):
    for _ in range(2):
        assert run_edge(sequence, server, tmp_path, codec="vvenc").results == FRAMES
    assert len(server.sessions) == 2
    for folder in server.sessions:
        stream = parse_stream((folder / "stream.266").read_bytes())
        assert stream.pictures[0].nal_type in (7, 8)  # IDR_W_RADL, IDR_N_LP
        assert session_state(folder)["reason"] == "complete"


def test_an_edge_reconnects_to_a_restarted_server_with_a_fresh_idr(sequence, tmp_path):
    first = AnalysisServer(tmp_path / "first", tasks=Tasks(pose=None)).start()
    port = first.address[1]
    stopped = {}

    def stop_after_four(timing, report):
        if report.results == 4 and not stopped:
            stopped["at"] = True
            first.stop(timeout=SECONDS)
            stopped["second"] = AnalysisServer(tmp_path / "second", port=port,
                                               tasks=Tasks(pose=None)).start()

    # Frames from the 10th on wait until the edge's second session is accepted, so that the
    # second session has frames to code however long the first server takes to stop (under
    # load all 12 frames could otherwise go to the first session, and the second get none).
    # Nine frames before the gate: the server's decoder hands pictures out up to 3 access
    # units late, and the 4th result must come for the first server to be stopped.
    source = open_source(str(sequence))
    second_session = threading.Event()

    def gated(frames):
        for index, image in enumerate(frames):
            if index == 9:
                second_session.wait(SECONDS)
            yield image

    source = dataclasses.replace(source, frames=gated(source.frames))
    edge = Edge(source, ("127.0.0.1", port), edge_stages(sequence),
                codec="x265", realtime=True, reconnects=3, on_result=stop_after_four)

    def open_gate():
        deadline = time.monotonic() + SECONDS
        while len(edge.report.sessions) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        second_session.set()

    gate = threading.Thread(target=open_gate, daemon=True)
    gate.start()
    try:
        report = edge.run()
    finally:
        second_session.set()
        gate.join(SECONDS)
        first.stop(timeout=SECONDS)
        if "second" in stopped:
            stopped["second"].stop(timeout=SECONDS)
    (before,) = first.sessions
    (after,) = stopped["second"].sessions
    assert session_state(before)["reason"] == "server stopped"
    assert session_state(after)["reason"] == "complete"
    assert report.reconnects == 1 and len(report.sessions) == 2
    done = session_state(before)["frames_analysed"] + session_state(after)["frames_analysed"]
    assert done == report.results
    assert report.results + report.frames_lost + report.dropped_capture == FRAMES
    assert session_state(after)["frames"] > 0
    assert parse_stream((after / "stream.265").read_bytes()).pictures[0].nal_type in (19, 20)


def test_a_slow_edge_drops_captured_frames_and_counts_them(sequence, server, tmp_path):
    class SlowDetect(DetectStage):
        def process_batch(self, frames):
            time.sleep(3 / FPS)  # three frame intervals per frame
            return super().process_batch(frames)

    stages = [SlowDetect(DETECTORS.build("oracle", sequence=sequence), score=0.5),
              *foreground_stages()]
    report = Edge(open_source(str(sequence)), server.address, stages, codec="x265",
                  realtime=True, queue_frames=1).run()
    assert report.dropped_capture > 0
    assert report.frames_captured == FRAMES
    assert report.frames_sent + report.dropped_capture == FRAMES
    assert report.results == report.frames_sent


def test_a_paced_edge_that_cannot_keep_up_drops_exactly_what_its_queue_cannot_hold(sequence,
                                                                                   server):
    # Detection of the first frame waits until the capture has read all 12 frames: the
    # stage holds frame 1, the one-frame queue frame 2, and the other 10 find it full.
    class StuckDetect(DetectStage):
        def __init__(self, *arguments, **options):
            super().__init__(*arguments, **options)
            self.edge = None

        def process_batch(self, frames):
            deadline = time.monotonic() + SECONDS
            while self.edge.report.frames_captured < FRAMES and time.monotonic() < deadline:
                time.sleep(0.01)
            return super().process_batch(frames)

    detect = StuckDetect(DETECTORS.build("oracle", sequence=sequence), score=0.5)
    edge = Edge(open_source(str(sequence)), server.address, [detect, *foreground_stages()],
                codec="x265", realtime=True, queue_frames=1)
    detect.edge = edge
    report = edge.run()
    assert (report.frames_captured, report.dropped_capture, report.frames_sent,
            report.results) == (FRAMES, FRAMES - 2, 2, 2)
    assert report.to_dict()["dropped_capture"] == FRAMES - 2


def test_results_an_edge_cannot_take_in_time_are_dropped_and_counted(sequence, tmp_path,
                                                                     monkeypatch):
    # A slow link to the edge: the server's sender sends nothing until every frame has been
    # analysed, so the 12 results meet a results queue of 3 lines; 9 are dropped.
    from vcm.live.server import Session

    send = Session._send

    def slow_send(session):
        # Until each frame's line is queued or dropped (a frame is counted as finished just
        # before its line is queued).
        deadline = time.monotonic() + SECONDS
        while (session.results_dropped + session.outgoing.qsize() < FRAMES
               and time.monotonic() < deadline):
            time.sleep(0.01)
        send(session)

    monkeypatch.setattr(Session, "_send", slow_send)
    server = AnalysisServer(tmp_path / "sessions", queue_results=3,
                            tasks=Tasks(pose=None, segment="box")).start()
    try:
        report = run_edge(sequence, server, tmp_path, codec="x265")
    finally:
        server.stop(timeout=SECONDS)
    assert (report.frames_sent, report.results) == (FRAMES, 3)
    assert report.server_end["reason"] == "complete"
    assert (report.server_end["frames"], report.server_end["results_dropped"]) == (FRAMES, 9)
    assert report.to_dict()["server"]["results_dropped"] == 9
    received = [json.loads(line)["frame"]
                for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert received == [1, 2, 3]
    (folder,) = server.sessions
    state = session_state(folder)
    assert (state["results_dropped"], state["frames_analysed"]) == (9, FRAMES)
    # The recording keeps every answer, the dropped ones too.
    assert len((folder / "results.jsonl").read_text().splitlines()) == FRAMES


def killed_session(units: list[bytes], root: Path, *tasks: str) -> Path:
    """The folder of a session whose `vcm serve` process was killed (SIGKILL) once it had
    answered 4 frames, with 6 whole AUs and part of the 7th sent."""
    with vcm_process("serve", "--root", str(root), "--port", "0", *tasks) as process:
        line = process.stderr.readline()
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", line).group(1))
        with socket.create_connection(("127.0.0.1", port), timeout=SECONDS) as connection:
            connection.settimeout(SECONDS)
            connection.sendall(hello_line())
            buffer = bytearray()
            assert parse_message(read_line(connection, buffer, 1 << 20))["type"] == "accepted"
            connection.sendall(b"".join(units[:6]) + units[6][:40])
            for _ in range(4):  # the decoder answers frame 4 once frame 6 is in
                assert parse_message(read_line(connection, buffer, 1 << 20))["type"] == "frame"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=SECONDS)
    (folder,) = root.iterdir()
    return folder


def test_a_killed_server_leaves_a_recording_valid_up_to_its_last_complete_frame(sequence, tmp_path):
    units = coded_units(sequence)
    folder = killed_session(units, tmp_path / "sessions", "--pose", "none", "--segment", "box")
    assert session_state(folder)["state"] == "running"
    index = [json.loads(line) for line in (folder / "frames.jsonl").read_text().splitlines()]
    assert index[-1] == {"frame": 6, "end": sum(map(len, units[:6]))}
    recorded = (folder / "stream.265").read_bytes()[: index[-1]["end"]]
    assert recorded == b"".join(units[:6])
    assert len(parse_stream(recorded).pictures) == 6
    result = CliRunner().invoke(app, ["decode", str(folder / "stream.265"), "-o",
                                      str(tmp_path / "decoded.mkv")])
    assert result.exit_code == 0, result.output


def test_a_killed_session_is_rebuilt_as_the_batch_commands_give_it(sequence, tmp_path):
    units = coded_units(sequence)
    folder = killed_session(units, tmp_path / "sessions", "--pose", "blazepose",
                            "--segment", "mediapipe", "--track", "iou")
    assert not (folder / "tracks.txt").exists()
    stream = folder / "stream.265"
    with open(stream, "ab") as recording:  # as if the kill came while the 7th AU was written
        recording.write(units[6][:40])
    result = CliRunner().invoke(app, ["session", "rebuild", str(folder)])
    assert result.exit_code == 0, result.output
    assert "6 frames, cut 40 bytes" in result.output
    assert stream.read_bytes() == b"".join(units[:6])
    state = session_state(folder)
    assert (state["state"], state["frames"], state["bytes"]) == ("ended", 6, stream.stat().st_size)
    assert_batch_files_equal(folder, stream, tmp_path)
    assert len((folder / "tracks.txt").read_text().splitlines()) > 0
    assert len(json.loads((folder / "masks.json").read_text())) > 0
    assert json.loads((folder / "stream.265.json").read_text())["frames"] == 6
    assert not list(folder.glob(".rebuild-*"))
    # Rebuilt once, the session has ended: a second rebuild is refused in one line.
    again = CliRunner().invoke(app, ["session", "rebuild", str(folder)])
    assert again.exit_code == 1 and "only an interrupted session is rebuilt" in again.output


def test_a_killed_motion_session_is_rebuilt_with_its_motion_records(sequence, tmp_path):
    units = coded_units(sequence)
    folder = killed_session(units, tmp_path / "sessions", "--pose", "blazepose",
                            "--track", "iou", "--motion", "knn")
    assert not (folder / "motion.jsonl").exists()
    result = CliRunner().invoke(app, ["session", "rebuild", str(folder)])
    assert result.exit_code == 0, result.output
    # motion.jsonl is what `vcm motion run` writes on the rebuilt poses and tracks.
    invoke("motion", "run", folder / "poses.json", folder / "tracks.txt", "-o",
           tmp_path / "motion.jsonl", "--fps", FPS)
    assert (folder / "motion.jsonl").read_bytes() == (tmp_path / "motion.jsonl").read_bytes()
    lines = [json.loads(line) for line in (folder / "motion.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == [1, 2, 3, 4, 5, 6]


def test_rebuilding_what_is_no_session_says_so_in_one_line(tmp_path):
    result = CliRunner().invoke(app, ["session", "rebuild", str(tmp_path)])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "session.json: no such file" in result.output
    assert list(tmp_path.iterdir()) == []


def test_vcm_live_streams_a_sequence_and_reports(sequence, tmp_path):
    result = CliRunner().invoke(app, [
        "live", str(sequence), "-o", str(tmp_path / "results.jsonl"), "--root",
        str(tmp_path / "sessions"), "--detector", "oracle", "--codec", "x265", "--pose", "none",
        "--max-frames", "6"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["frames_sent"], report["results"], report["server"]["reason"]) == (6, 6, "complete")
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["frame"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert all("latency" in json.loads(line)["timing"] for line in lines)


@pytest.mark.parametrize("arguments, problem", [
    (["serve", "--host", "0.0.0.0", "--port", "0"], "needs a token"),
    (["stream", "clip.mp4", "-o", "r.jsonl"], "either --to HOST:PORT or --loopback"),
    (["stream", "clip.mp4", "-o", "r.jsonl", "--to", "nohost"], "expected HOST:PORT"),
    (["serve", "--port", "0", "--http", "nohost:"], "expected [HOST:]PORT for --http"),
    (["serve", "--port", "0", "--http", "0.0.0.0:0"], "needs the server's token"),
])
def test_live_commands_say_what_is_wrong_in_one_line(tmp_path, monkeypatch, arguments, problem):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VCM_LIVE_TOKEN", raising=False)
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and problem in result.output


def test_a_server_behind_skips_pose_of_frames_and_counts_them(sequence, tmp_path):
    units = coded_units(sequence)
    server = AnalysisServer(tmp_path / "sessions", max_lag=0,
                            tasks=Tasks(pose="blazepose", segment=None)).start()
    try:
        with connect(server) as connection:
            connection.sendall(hello_line() + b"".join(units))
            connection.shutdown(socket.SHUT_WR)
            messages = read_all(connection)
    finally:
        server.stop(timeout=SECONDS)
    frames = [message for message in messages if message["type"] == "frame"]
    skipped = [message for message in frames if not message["analysed"]]
    # BlazePose loads its model on the first frame while the decoder runs on.
    assert skipped and len(frames) == FRAMES
    # A skipped frame has no pose field, but it is tracked like every frame.
    assert all("poses" not in message and "tracks" in message for message in skipped)
    assert messages[-1]["frames_skipped"] == len(skipped)
    state = session_state(server.sessions[0])
    assert (state["frames_skipped"], state["frames_analysed"]) == (len(skipped), FRAMES - len(skipped))
