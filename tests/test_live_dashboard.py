"""The live dashboard (issue 21): the WebSocket framing by RFC 6455's own examples, the picture
drawn by hand-worked pixels, a viewer's bounded updates, and the page and its WebSocket on a
loopback session (real x265 coding and decoding of a 12-frame 160x96 synthetic sequence with
exact boxes); refused requests; a stalled viewer's drops counted while the others go on.

The browser test (headless Debian Chromium) is tests/test_live_dashboard_browser.py.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import struct
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from vcm.errors import VcmError
from vcm.live import websocket
from vcm.live.dashboard import PALETTE, Dashboard, Viewer, http_address, render, track_rows
from vcm.live.edge import Edge, open_source
from vcm.live.protocol import Hello
from vcm.live.server import AnalysisServer, Tasks

from live_runs import SECONDS, vcm_process
from test_live_server import FPS, FRAMES, HEIGHT, WIDTH, edge_stages, sequence  # noqa: F401


# ------------------------------------------------------------------ a minimal WebSocket client


class Client:
    """A WebSocket client over a plain socket (RFC 6455), to see exactly what the server does."""

    def __init__(self, address, path: str = "/ws", headers: dict | None = None,
                 receive_buffer: int | None = None) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.socket.settimeout(SECONDS)
        self.socket.connect(address)
        self.key = base64.b64encode(os.urandom(16)).decode()
        fields = {"Host": f"{address[0]}:{address[1]}", "Upgrade": "websocket",
                  "Connection": "Upgrade", "Sec-WebSocket-Key": self.key,
                  "Sec-WebSocket-Version": "13", **(headers or {})}
        request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value
                                                        in fields.items() if value is not None)
        self.socket.sendall((request + "\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.socket.recv(4096)
            if not chunk:
                break
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {name.lower(): value for name, _, value in
                        (line.partition(": ") for line in lines[1:])}

    def _read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.socket.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def frame(self) -> tuple[int, bytes]:
        first, second = self._read(2)
        assert second & 0x80 == 0, "a server frame must not be masked"
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", self._read(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", self._read(8))
        return first & 0x0F, self._read(size)

    def message(self) -> dict:
        opcode, payload = self.frame()
        assert opcode == websocket.TEXT
        return json.loads(payload)

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.socket.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def close(self) -> None:
        self.socket.close()


def get(address, path: str, host: str | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection(*address, timeout=SECONDS)
    try:
        connection.request("GET", path, headers={"Host": host} if host else {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


# ------------------------------------------------------------------------------- by hand


def test_accept_key_is_rfc_6455s_example():
    # RFC 6455, 1.3: the key "dGhlIHNhbXBsZSBub25jZQ==" is answered with this value.
    assert websocket.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert websocket.valid_key("dGhlIHNhbXBsZSBub25jZQ==")
    assert not websocket.valid_key("c2hvcnQ=") and not websocket.valid_key("not base64!")


def test_server_frames_by_hand():
    # RFC 6455, 5.7: a single-frame unmasked text message "Hello".
    assert websocket.frame(b"Hello") == bytes.fromhex("810548656c6c6f")
    # 126 bytes take the 16-bit length, 65536 the 64-bit one (5.2).
    assert websocket.frame(b"x" * 126)[:4] == bytes.fromhex("817e007e")
    assert websocket.frame(b"x" * 65536)[:10] == bytes.fromhex("817f0000000000010000")
    assert websocket.frame(b"\x03\xe8", websocket.CLOSE) == bytes.fromhex("880203e8")


def read_client_frame(data: bytes) -> tuple[int, bytes]:
    first, second = socket.socketpair()
    with first, second:
        second.settimeout(5)
        first.sendall(data)
        return websocket.read_frame(second)


def test_client_frames_by_hand():
    # RFC 6455, 5.7: a single-frame masked text message "Hello".
    assert read_client_frame(bytes.fromhex("818537fa213d7f9f4d5158")) == (websocket.TEXT, b"Hello")
    with pytest.raises(websocket.WebSocketError, match="not masked"):  # a client must mask
        read_client_frame(bytes.fromhex("810548656c6c6f"))
    with pytest.raises(websocket.WebSocketError, match="over the limit"):
        read_client_frame(bytes([0x81, 0xFE]) + struct.pack("!H", websocket.MAX_CLIENT_FRAME + 1))
    with pytest.raises(websocket.WebSocketError, match="over the limit"):  # a control frame
        read_client_frame(bytes([0x89, 0xFE]) + struct.pack("!H", 126))


@pytest.mark.parametrize("text, address", [
    ("8080", ("127.0.0.1", 8080)), ("0", ("127.0.0.1", 0)), ("0.0.0.0:80", ("0.0.0.0", 80)),
    ("[::1]:9000", ("::1", 9000)), ("localhost:1", ("localhost", 1)),
])
def test_http_addresses(text, address):
    assert http_address(text) == address


@pytest.mark.parametrize("text", ["", "host", "host:", ":80", "1:65536", "x:-1"])
def test_bad_http_addresses_are_refused(text):
    with pytest.raises(VcmError, match="expected \\[HOST:\\]PORT"):
        http_address(text)


def test_track_rows_join_the_motion_task_by_track_id():
    message = {"tracks": [[3, 1, 2, 3, 4], [5, 5, 6, 7, 8], [6, 0, 0, 1, 1]],
               "motion": [{"track": 5, "label": "squat", "score": 0.875, "reps": 4},
                          {"track": 6, "label": "standing", "score": 0.5, "reps": None}]}
    assert track_rows(message) == [
        {"id": 3, "box": [1.0, 2.0, 3.0, 4.0], "motion": None},
        {"id": 5, "box": [5.0, 6.0, 7.0, 8.0], "motion": {"label": "squat", "score": 0.875, "reps": 4}},
        {"id": 6, "box": [0.0, 0.0, 1.0, 1.0], "motion": {"label": "standing", "score": 0.5, "reps": None}},
    ]
    assert track_rows({"boxes": []}) == []


def rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(encoded["size"]), "counts": encoded["counts"].decode()}


def test_render_draws_masks_boxes_tracks_and_skeletons_by_hand():
    image = np.zeros((60, 80, 3), np.uint8)
    mask = np.zeros((60, 80), bool)
    mask[40:50, 50:70] = True
    keypoints = np.zeros((17, 3))
    # Left and right shoulder (COCO 6 and 7, joined in the skeleton) at y = 10, x 10 and 40;
    # the hip (12, joined to 6) below the score threshold: no line to it.
    keypoints[5], keypoints[6], keypoints[11] = (10, 10, 0.9), (40, 10, 0.9), (10, 30, 0.1)
    message = {"boxes": [[2, 2, 78, 58, 0.9]], "tracks": [[1, 20, 36, 40, 56]],
               "masks": [{"segmentation": rle(mask)}],
               "poses": [{"keypoints": keypoints.reshape(-1).tolist()}]}
    drawn = render(image, message)
    assert drawn.shape == image.shape and not image.any()  # the frame is left as it was
    # Inside the mask, away from the lines: black tinted 45% towards the first colour.
    expected = np.round(np.array(PALETTE[0]) * 0.45)
    np.testing.assert_array_equal(drawn[45, 60], expected)
    assert not drawn[45, 72].any()  # right of the mask, inside the detection box
    np.testing.assert_array_equal(drawn[2, 40], (160, 160, 160))  # the detection box's top
    np.testing.assert_array_equal(drawn[46, 20], PALETTE[1])  # track 1's left edge, 2 px
    np.testing.assert_array_equal(drawn[10, 25], (0, 255, 255))  # the shoulder line
    assert not drawn[20, 10].any()  # no line to the hip
    # Scaled to fit 40 px wide: half size, the mask's middle still tinted.
    small = render(image, message, max_width=40)
    assert small.shape == (30, 40, 3)
    np.testing.assert_array_equal(small[22, 30], expected)
    # A mask whose box is a track's (IoU at least 0.5) takes the track's colour.
    tracked = np.zeros((60, 80), bool)
    tracked[38:54, 22:38] = True
    drawn = render(image, {**message, "masks": [{"segmentation": rle(tracked), "bbox": [21, 37, 18, 18]}]})
    np.testing.assert_array_equal(drawn[45, 30], np.round(np.array(PALETTE[1]) * 0.45))


def test_a_viewer_keeps_one_update_per_stream_and_counts_the_replaced():
    viewer = Viewer()
    viewer.offer("a", b'{"n":1}')
    viewer.offer("b", b'{"n":2}')
    viewer.offer("a", b'{"n":3}')  # replaces the unsent {"n":1}
    updates = [json.loads(update) for update in viewer.take(timeout=0)]
    assert [update["n"] for update in updates] == [2, 3]
    assert [update["viewer"] for update in updates] == [{"updates": 1, "dropped": 1},
                                                        {"updates": 2, "dropped": 1}]
    assert viewer.take(timeout=0) == []


# --------------------------------------------------------------------------------- on loopback


@pytest.fixture
def dashboard():
    started = Dashboard().start()
    yield started
    started.stop()


def until_ended(client: Client, stream: str | None = None) -> list[dict]:
    messages = []
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        message = client.message()
        messages.append(message)
        if message["type"] == "stream" and message["state"] == "ended" and stream in (None, message["stream"]):
            return messages
    raise AssertionError("the stream did not end")


def test_the_page_and_its_websocket_show_a_loopback_session(sequence, tmp_path, dashboard):
    status, headers, page = get(dashboard.address, "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    text = page.decode()
    # One file: no external asset, and no path of the server's.
    assert "<script src" not in text and "<link" not in text and "http://" not in text
    assert str(Path.cwd()) not in text and str(tmp_path) not in text
    assert get(dashboard.address, "/dashboard.html")[0] == 404
    client = Client(dashboard.address)
    assert client.status == 101
    assert client.headers["sec-websocket-accept"] == websocket.accept_key(client.key)
    server = AnalysisServer(tmp_path / "sessions", tasks=Tasks(pose=None, segment="box"),
                            watchers=[dashboard]).start()
    try:
        report = Edge(open_source(str(sequence)), server.address, edge_stages(sequence),
                      codec="x265", results_path=tmp_path / "results.jsonl").run()
        messages = until_ended(client)
    finally:
        server.stop(timeout=SECONDS)
        client.close()
    assert report.results == FRAMES
    (folder,) = server.sessions
    updates = [message for message in messages if message["type"] == "stream"]
    assert {update["stream"] for update in updates} == {folder.name}
    assert str(tmp_path) not in json.dumps(messages)  # the session's name, never its folder
    first, last = updates[0], updates[-1]
    assert (first["codec"], first["qp"], first["width"], first["height"], first["fps"]) == (
        "x265", 32, WIDTH, HEIGHT, FPS)
    # The frame counter only goes up, and ends at the last frame, all frames answered.
    frames = [update["frame"] for update in updates if update["frame"] is not None]
    assert frames == sorted(frames) and frames[-1] == FRAMES
    assert (last["state"], last["reason"], last["frames"]) == ("ended", "complete", FRAMES)
    # What the page shows is what the edge got for that frame.
    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    answer = results[-1]
    assert [row["id"] for row in last["tracks"]] == [track[0] for track in answer["tracks"]]
    assert (last["boxes"], last["masks"], last["poses"]) == (len(answer["boxes"]), len(answer["masks"]), 0)
    assert last["tracks"] and last["motion"] is False
    # The stream's bitrate at its frame rate, as the edge reports it; the server's latency.
    assert last["stats"]["kbps"] == pytest.approx(report.kbps, abs=0.01)
    assert last["stats"]["latency_ms"] > 0 and last["stats"]["fps"] > 0
    assert (last["stats"]["frames_skipped"], last["stats"]["results_dropped"]) == (0, 0)
    assert last["viewer"]["dropped"] >= 0 and last["viewer"]["updates"] == len(updates)
    import cv2

    header, _, data = last["picture"].partition(",")
    assert header == "data:image/jpeg;base64"
    picture = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (HEIGHT, WIDTH, 3)


def test_a_dashboard_with_a_token_refuses_requests_without_it(tmp_path):
    dashboard = Dashboard(token="s3cret").start()
    try:
        for path in ("/", "/?token=wrong", "/ws"):
            assert get(dashboard.address, path)[0] == 403, path
        assert Client(dashboard.address, "/ws?token=wrong").status == 403
        assert get(dashboard.address, "/?token=s3cret")[0] == 200
        client = Client(dashboard.address, "/ws?token=s3cret")
        assert client.status == 101
        client.close()
    finally:
        dashboard.stop()


def test_serving_beyond_loopback_needs_the_token():
    with pytest.raises(VcmError, match="needs the server's token"):
        Dashboard(host="0.0.0.0")


@pytest.mark.parametrize("headers, status", [
    ({"Host": "attacker.example:80"}, 403),  # DNS rebinding: a name that is not loopback
    ({"Origin": "http://attacker.example"}, 403),  # another site's page
    ({"Sec-WebSocket-Version": "8"}, 400),
    ({"Sec-WebSocket-Key": "c2hvcnQ="}, 400),
    ({"Upgrade": None}, 400),
])
def test_a_loopback_dashboard_refuses_other_sites_and_broken_handshakes(dashboard, headers, status):
    client = Client(dashboard.address, headers=headers)
    assert client.status == status
    client.close()
    assert dashboard.viewers == []


def test_a_connection_that_sends_no_request_is_closed():
    dashboard = Dashboard(request_seconds=0.5).start()
    try:
        with socket.create_connection(dashboard.address, timeout=SECONDS) as idle:
            assert idle.recv(100) == b""  # closed by the server, with nothing sent
    finally:
        dashboard.stop()


def test_the_dashboard_answers_a_ping_and_a_close(dashboard):
    client = Client(dashboard.address)
    client.send(websocket.PING, b"abc")
    assert client.frame() == (websocket.PONG, b"abc")
    client.send(websocket.CLOSE, b"\x03\xe8")
    assert client.frame() == (websocket.CLOSE, b"\x03\xe8")
    client.close()
    deadline = time.monotonic() + SECONDS
    while dashboard.viewers and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dashboard.viewers == []


def fake_session(name: str):
    """What the dashboard reads of a server's session."""
    hello = Hello(codec="x265", options={}, qp=32, width=320, height=240, fps=25.0)
    return SimpleNamespace(hello=hello, recording=SimpleNamespace(folder=Path(name)),
                           frames_skipped=0, results_dropped=0, reason="complete")


def test_a_stalled_viewer_drops_updates_and_counts_them_while_the_others_go_on():
    dashboard = Dashboard(max_rate=1000).start()
    stalled = Client(dashboard.address, receive_buffer=4096)  # never reads until the end
    steady = Client(dashboard.address)
    session = fake_session("20261206T000000Z-001")
    rng = np.random.default_rng(1)
    frames = 60
    try:
        dashboard.session_started(session)
        seen = [steady.message()]
        assert seen[0]["frame"] is None
        for number in range(1, frames + 1):
            # Noise does not compress: each update is a JPEG of about 100 kB.
            image = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
            clock = {"received": number / 25, "answered": number / 25 + 0.01}
            dashboard.session_frame(session, image, {"type": "frame", "frame": number, "bytes": 1000,
                                                     "boxes": [], "tracks": [[7, 10, 10, 50, 90]],
                                                     "clock": clock})
            # The steady viewer reads each frame before the next is given, so it drops none.
            while not seen or seen[-1]["frame"] != number:
                seen.append(steady.message())
        dashboard.session_ended(session)
        assert until_ended(steady)[-1]["viewer"]["dropped"] == 0
        last = until_ended(stalled)[-1]
    finally:
        stalled.close()
        steady.close()
        dashboard.stop()
    assert [message["frame"] for message in seen][-frames:] == list(range(1, frames + 1))
    # The stalled viewer got the first updates, then the end; what it could not take in
    # between was replaced, and it is told how many.
    assert 0 < last["viewer"]["dropped"] < frames
    assert last["viewer"]["updates"] + last["viewer"]["dropped"] == frames + 2
    assert last["frame"] == frames and last["stats"]["fps"] == pytest.approx(25.0)
    assert last["stats"]["latency_ms"] == pytest.approx(10.0)
    assert last["stats"]["kbps"] == pytest.approx(1000 * 8 * 25 / 1000)


# ------------------------------------------------------------------------------------ commands


def test_vcm_serve_http_serves_the_page_until_stopped(tmp_path):
    import re
    import signal

    with vcm_process("serve", "--root", str(tmp_path / "sessions"), "--port", "0",
                     "--pose", "none", "--http", "0") as process:
        assert re.match(r"listening on 127\.0\.0\.1:\d+", process.stderr.readline())
        found = re.match(r"dashboard on http://127\.0\.0\.1:(\d+)/$", process.stderr.readline())
        assert found
        status, _, page = get(("127.0.0.1", int(found.group(1))), "/")
        assert status == 200 and b"vcm live" in page
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=SECONDS)


def test_vcm_live_http_shows_the_session_while_it_runs(sequence, tmp_path):
    from typer.testing import CliRunner

    from vcm.cli import app

    result = CliRunner().invoke(app, [
        "live", str(sequence), "-o", str(tmp_path / "results.jsonl"), "--root",
        str(tmp_path / "sessions"), "--detector", "oracle", "--codec", "x265", "--pose", "none",
        "--max-frames", "4", "--no-progress", "--http", "127.0.0.1:0"])
    assert result.exit_code == 0, result.output
    assert "dashboard on http://127.0.0.1:" in result.stderr
    assert json.loads(result.stdout)["results"] == 4


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_vcm_stream_loopback_http_serves_the_page_while_the_stream_runs(sequence, tmp_path,
                                                                        token):
    import re

    output = tmp_path / "results.jsonl"
    # Paced at 5 fps, the 12 frames take over 2 s: the page is asked for while they stream.
    with vcm_process("stream", str(sequence), "--loopback", "-o", str(output), "--root",
                     str(tmp_path / "sessions"), "--detector", "oracle", "--codec", "x265",
                     "--pose", "none", "--realtime", "--fps", "5", "--no-progress",
                     "--http", "127.0.0.1:0", *(["--token", token] if token else [])) as process:
        found = re.match(r"dashboard on http://127\.0\.0\.1:(\d+)/ while the stream runs$",
                         process.stderr.readline())
        assert found
        address = ("127.0.0.1", int(found.group(1)))
        status, headers, page = get(address, f"/?token={token}" if token else "/")
        # As `vcm serve --http`: with a token, the page needs it.
        refused = get(address, "/")[0] if token else None
        assert process.poll() is None  # asked while the stream ran
        assert process.wait(timeout=SECONDS) == 0, process.stderr.read()
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"<title>vcm live</title>" in page
    assert refused == (403 if token else None)
    assert len(output.read_text().splitlines()) == FRAMES


def test_vcm_stream_http_needs_loopback(tmp_path):
    from typer.testing import CliRunner

    from vcm.cli import app

    result = CliRunner().invoke(app, ["stream", "clip.mkv", "--to", "127.0.0.1:9", "-o",
                                      str(tmp_path / "results.jsonl"), "--http", "0"])
    assert result.exit_code == 1
    assert result.output == ("error: stream: --http needs --loopback (the dashboard of a server "
                             "elsewhere is `vcm serve --http`)\n")
    assert list(tmp_path.iterdir()) == []


def test_render_writes_the_motion_label_and_count_beside_the_track_id():
    image = np.zeros((100, 200, 3), np.uint8)
    plain = {"tracks": [[1, 20, 50, 60, 90]]}
    moving = {**plain, "motion": [{"track": 1, "label": "squat", "score": 0.9, "reps": 4}]}
    # The label is written on a bar of the track's colour above the box, 4 px wider than the
    # text: "#1" is 20 px wide in OpenCV's simplex font at scale 0.45, "#1 squat x4" 90 px.
    # The bar's right margin is where no letter is drawn: x 20 + 90 + 2 and 20 + 20 + 2.
    np.testing.assert_array_equal(render(image, moving)[45, 112], PALETTE[1])
    assert not render(image, plain)[45, 112].any()
    np.testing.assert_array_equal(render(image, plain)[45, 42], PALETTE[1])
    assert not render(image, plain)[45, 45].any()
