"""The live dashboard: one web page, served by the analysis server over HTTP, that shows every
stream's decoded picture with its boxes, track ids, skeletons, masks and motion labels drawn
over it, and the stream's frame rate, bitrate, latency and dropped frames (issue 21).

The analysis server tells its watchers about each session (:meth:`Dashboard.session_started`,
:meth:`Dashboard.session_frame`, :meth:`Dashboard.session_ended`) from its analyser thread;
the dashboard only keeps the latest frame of each stream there, so nothing it does can hold
the analysis up. A publisher thread renders at most ``max_rate`` pictures a second per
stream (the picture scaled to fit ``max_width`` x ``max_height``, then JPEG) and hands each
update to every viewer. A viewer holds at most one unsent update per stream: a newer one
replaces it, and the replaced one is counted in that viewer's ``dropped`` (sent with every
update, shown on the page). So a slow viewer costs the server one update per stream, never a
queue, and never slows the other viewers.

HTTP: ``GET /`` is the page (one HTML file with its script and style inline: no other
asset, no CDN, a Content-Security-Policy that allows nothing else); ``GET /ws`` is the
WebSocket (:mod:`vcm.live.websocket`) of updates, JSON text messages specified in
docs/live.md. Anything else is 404. The dashboard listens on loopback unless given the
server's token; with a token, the page and the WebSocket need ``?token=TOKEN``. Without one,
a request must name a loopback host (no DNS rebinding), and a WebSocket opened by a page must
come from the dashboard's own origin (no other site's page can watch).
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import numpy as np

from vcm.errors import VcmError
from vcm.keypoints import COCO_SKELETON
from vcm.live import websocket
from vcm.live.protocol import token_matches
from vcm.live.server import is_loopback

LOG = logging.getLogger(__name__)

MAX_RATE = 10.0
"""Most pictures a second sent per stream (and so per viewer and stream)."""
MAX_WIDTH, MAX_HEIGHT = 960, 720
"""The largest picture sent, in pixels: a larger stream is scaled down to fit."""
JPEG_QUALITY = 80
MAX_VIEWERS = 16
KEEP_ENDED = 8
"""Ended streams kept on the page (their last picture); older ones are removed."""
STATS_SECONDS = 5.0
"""The window the frame rate and latency are measured over, in seconds of the server's clock."""
SEND_SECONDS = 10.0
"""How long one update may take to go out to a viewer before the viewer is closed."""
REQUEST_SECONDS = 10.0
"""How long a connection may take to send its request (and stay idle between requests)."""
SEND_BUFFER_BYTES = 256 << 10
"""The socket send buffer of each viewer (the kernel's queue to it is bounded too; Linux
doubles the value for its bookkeeping)."""
POLL_SECONDS = 0.2
"""How often an idle viewer's connection is checked for the browser's frames."""
KEYPOINT_SCORE = 0.3
"""Keypoints scoring below this are not drawn."""
MASK_OPACITY = 0.45
PALETTE = ((255, 128, 0), (0, 200, 255), (60, 220, 60), (255, 0, 200), (0, 90, 255),
           (255, 255, 0), (160, 80, 255), (0, 255, 160), (80, 160, 255), (200, 200, 200))
"""BGR colours, one per track id (modulo its length)."""
CONTENT_SECURITY_POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                           "script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; "
                           "form-action 'none'; frame-ancestors 'none'")


def http_address(text: str) -> tuple[str, int]:
    """``[HOST:]PORT`` as ``(host, port)``; the host is 127.0.0.1 when left out, and an IPv6
    host goes in brackets (``[::1]:8080``). Port 0: any free one."""
    host, separator, port = text.rpartition(":")
    if not separator:
        host = "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) < 65536 or (separator and not host.strip("[]")):
        raise VcmError(f"{text}: expected [HOST:]PORT for --http")
    return host.strip("[]"), int(port)


def host_name(host_header: str) -> str:
    """The host of an HTTP ``Host`` header: ``localhost:8080`` -> ``localhost``, ``[::1]:80``
    -> ``::1``."""
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.partition(":")[0]


def start_dashboard(http: str | None, token: str | None = None) -> Dashboard | None:
    """A started :class:`Dashboard` on ``http`` (``[HOST:]PORT``, :func:`http_address`)
    with the server's ``token``; ``None`` when ``http`` is ``None``."""
    if http is None:
        return None
    host, port = http_address(http)
    return Dashboard(host=host, port=port, token=token).start()


# ------------------------------------------------------------------------------------ drawing


def track_color(track_id: int) -> tuple[int, int, int]:
    return PALETTE[track_id % len(PALETTE)]


def track_rows(message: dict) -> list[dict]:
    """One row per confirmed track of a ``frame`` message: ``id``, ``box`` (``x1, y1, x2,
    y2``, pixels) and ``motion`` (the motion task's ``label``, ``score``, ``reps`` of that
    track, ``reps`` ``None`` where the task gives none; or ``None``)."""
    motion = {int(entry["track"]): {"label": str(entry["label"]), "score": float(entry["score"]),
                                    "reps": None if entry.get("reps") is None else int(entry["reps"])}
              for entry in message.get("motion", ())}
    return [{"id": int(track_id), "box": [float(value) for value in box],
             "motion": motion.get(int(track_id))}
            for track_id, *box in message.get("tracks", ())]


def mask_track(entry: dict, rows: list[dict], index: int) -> int:
    """The track id a mask is coloured by: the track whose box overlaps the mask's ``bbox``
    (COCO ``x, y, w, h``) most, at an IoU of at least 0.5; else ``index``."""
    from vcm.boxes import pairwise_iou

    if "bbox" not in entry or not rows:
        return index
    x, y, w, h = entry["bbox"]
    overlaps = pairwise_iou(np.array([[x, y, x + w, y + h]]),
                            np.array([row["box"] for row in rows]))[0]
    best = int(np.argmax(overlaps))
    return rows[best]["id"] if overlaps[best] >= 0.5 else index


def picture_scale(width: int, height: int, max_width: int = MAX_WIDTH,
                  max_height: int = MAX_HEIGHT) -> float:
    """The factor a ``width`` x ``height`` picture is scaled by to fit (never above 1)."""
    return min(1.0, max_width / width, max_height / height)


def render(image: np.ndarray, message: dict, *, max_width: int = MAX_WIDTH,
           max_height: int = MAX_HEIGHT) -> np.ndarray:
    """``image`` (uint8 BGR, the decoded frame) scaled to fit ``max_width`` x ``max_height``
    with a ``frame`` message's results drawn over it: masks (tinted, :data:`MASK_OPACITY`),
    detection boxes (grey, 1 px), tracks (their colour, 2 px, ``#id`` and the motion label
    with its repetitions above), and skeletons (the COCO skeleton between keypoints that
    score at least :data:`KEYPOINT_SCORE`)."""
    import cv2

    from vcm.masks import decode_mask

    height, width = image.shape[:2]
    scale = picture_scale(width, height, max_width, max_height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    canvas = (cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1
              else image.copy())
    rows = track_rows(message)
    for index, entry in enumerate(message.get("masks", ())):
        mask = decode_mask(entry["segmentation"])
        if mask.shape != (height, width):
            continue
        rows_in, columns_in = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if len(rows_in) == 0:
            continue
        # Only the mask's bounding rectangle is scaled and blended: a person is a small part
        # of a frame.
        top, bottom, left, right = rows_in[0], rows_in[-1] + 1, columns_in[0], columns_in[-1] + 1
        inside = mask[top:bottom, left:right]
        if scale < 1:
            top, left = int(top * scale), int(left * scale)
            bottom = max(top + 1, min(size[1], round(bottom * scale)))
            right = max(left + 1, min(size[0], round(right * scale)))
            inside = cv2.resize(np.ascontiguousarray(inside, dtype=np.uint8), (right - left, bottom - top),
                                interpolation=cv2.INTER_NEAREST)
        inside = inside.astype(bool)
        region = canvas[top:bottom, left:right]
        color = np.array(track_color(mask_track(entry, rows, index)), dtype=np.float64)
        region[inside] = np.round(region[inside] * (1 - MASK_OPACITY) + color * MASK_OPACITY).astype(np.uint8)

    def point(x: float, y: float) -> tuple[int, int]:
        return round(x * scale), round(y * scale)

    for x1, y1, x2, y2, _ in message.get("boxes", ()):
        cv2.rectangle(canvas, point(x1, y1), point(x2 - 1, y2 - 1), (160, 160, 160), 1)
    for pose in message.get("poses", ()):
        keypoints = np.asarray(pose["keypoints"], dtype=np.float64).reshape(-1, 3)
        visible = keypoints[:, 2] >= KEYPOINT_SCORE
        for first, second in COCO_SKELETON:
            if max(first, second) <= len(keypoints) and visible[first - 1] and visible[second - 1]:
                cv2.line(canvas, point(*keypoints[first - 1, :2]), point(*keypoints[second - 1, :2]),
                         (0, 255, 255), 2, cv2.LINE_AA)
        for x, y, _ in keypoints[visible]:
            cv2.circle(canvas, point(x, y), 2, (0, 0, 255), -1, cv2.LINE_AA)
    for row in rows:
        color = track_color(row["id"])
        x1, y1, x2, y2 = row["box"]
        cv2.rectangle(canvas, point(x1, y1), point(x2 - 1, y2 - 1), color, 2)
        label = f"#{row['id']}"
        if row["motion"] is not None:
            label += f" {row['motion']['label']}"
            if row["motion"]["reps"] is not None:
                label += f" x{row['motion']['reps']}"
        left, top = point(x1, y1)
        (text_width, text_height), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        top = max(top, text_height + baseline + 2)
        cv2.rectangle(canvas, (left, top - text_height - baseline - 2), (left + text_width + 4, top),
                      color, -1)
        cv2.putText(canvas, label, (left + 2, top - baseline - 1), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def jpeg_data_url(image: np.ndarray, quality: int = JPEG_QUALITY) -> str:
    """``image`` (uint8 BGR) as a ``data:image/jpeg;base64,`` URL."""
    import cv2

    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise VcmError("the dashboard could not encode a picture as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


# ------------------------------------------------------------------------------ streams, viewers


@dataclass
class Stream:
    """What the dashboard knows of one session; guarded by the dashboard's lock."""

    name: str
    settings: dict
    state: str = "running"
    reason: str | None = None
    frames: int = 0
    bytes: int = 0
    frames_skipped: int = 0
    results_dropped: int = 0
    window: collections.deque = field(default_factory=collections.deque)
    """``(answered, received)`` server clock readings of the frames of the last
    :data:`STATS_SECONDS`."""
    latest: tuple | None = None
    """The newest ``(image, message)`` not yet rendered."""
    message: dict | None = None
    picture: str | None = None
    changed: bool = True
    published: float = -1e9
    ended_at: float = 0.0

    def add(self, message: dict) -> None:
        self.frames += 1
        self.bytes += int(message.get("bytes", 0))
        clock = message.get("clock", {})
        answered, received = clock.get("answered"), clock.get("received")
        if answered is not None and received is not None:
            self.window.append((float(answered), float(received)))
            while self.window and self.window[0][0] < answered - STATS_SECONDS:
                self.window.popleft()

    def stats(self) -> dict:
        """``fps``: results a second over the window; ``kbps``: the stream's bitrate at its
        frame rate (kbit/s, as the edge reports it); ``latency_ms``: median and ``latency_max_ms``
        largest of the server's time from a frame's last byte in to its result out, over the
        window; ``frames_skipped`` (pose and segmentation skipped, ``--max-lag``) and
        ``results_dropped`` (result lines the edge was too slow for), as the session counts."""
        times = list(self.window)
        fps = 0.0
        if len(times) >= 2 and times[-1][0] > times[0][0]:
            fps = (len(times) - 1) / (times[-1][0] - times[0][0])
        latencies = [answered - received for answered, received in times]
        return {
            "fps": round(fps, 2),
            "kbps": round(self.bytes * 8 * self.settings["fps"] / self.frames / 1000, 2)
            if self.frames else 0.0,
            "latency_ms": round(float(np.median(latencies)) * 1000, 1) if latencies else None,
            "latency_max_ms": round(max(latencies) * 1000, 1) if latencies else None,
            "frames_skipped": self.frames_skipped, "results_dropped": self.results_dropped,
        }

    def update(self) -> dict:
        """The update message of this stream (see docs/live.md, "The dashboard")."""
        message = self.message or {}
        rows = track_rows(message)
        return {
            "type": "stream", "stream": self.name, "state": self.state, "reason": self.reason,
            **self.settings, "frame": message.get("frame"), "frames": self.frames,
            "analysed": message.get("analysed"), "boxes": len(message.get("boxes", ())),
            "poses": len(message.get("poses", ())), "masks": len(message.get("masks", ())),
            "tracks": rows, "motion": "motion" in message, "stats": self.stats(),
            "picture": self.picture,
        }


class Viewer:
    """One browser's connection: at most one unsent update per stream (see the module
    docstring), ``sent`` and ``dropped`` counted."""

    def __init__(self) -> None:
        self.pending: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self.sent = 0
        self.dropped = 0
        self._ready = threading.Condition()

    def offer(self, stream: str, update: bytes) -> None:
        """Queue ``update`` of ``stream``, replacing (and counting) an unsent one; never
        blocks beyond the viewer's lock."""
        with self._ready:
            if stream in self.pending:
                self.dropped += 1
                del self.pending[stream]
            self.pending[stream] = update
            self._ready.notify()

    def take(self, timeout: float) -> list[bytes]:
        """The unsent updates, oldest first, each as sent (with the viewer's counts), after
        waiting up to ``timeout`` seconds for one."""
        with self._ready:
            if not self.pending:
                self._ready.wait(timeout)
            updates = []
            while self.pending:
                _, update = self.pending.popitem(last=False)
                self.sent += 1
                counts = json.dumps({"updates": self.sent, "dropped": self.dropped})
                updates.append(b'{"viewer":' + counts.encode() + b"," + update[1:])
            return updates


# ---------------------------------------------------------------------------------- dashboard


class Dashboard:
    """The page and its WebSocket, fed by an analysis server's sessions (see the module
    docstring). Pass it to :class:`~vcm.live.server.AnalysisServer` as a watcher.

    Args:
        host, port: where to listen (port 0: any free one, see :attr:`address`).
        token: the server's shared secret; required unless ``host`` is loopback.
        max_rate: most pictures a second per stream.
        max_width, max_height: the largest picture sent, in pixels.
        max_viewers: connections to the WebSocket at once; more are refused (503).
        request_seconds: how long a connection may take to send a request.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                 max_rate: float = MAX_RATE, max_width: int = MAX_WIDTH,
                 max_height: int = MAX_HEIGHT, max_viewers: int = MAX_VIEWERS,
                 request_seconds: float = REQUEST_SECONDS) -> None:
        if not is_loopback(host) and not token:
            raise VcmError(f"{host}: serving the dashboard on an address other than loopback "
                           "needs the server's token (--token or VCM_LIVE_TOKEN)")
        self.host, self.port, self.token = host, port, token
        self.max_rate = max_rate
        self.max_width, self.max_height = max_width, max_height
        self.max_viewers = max_viewers
        self.request_seconds = request_seconds
        self.page = resources.files("vcm.live").joinpath("static", "dashboard.html").read_bytes()
        self.streams: dict[str, Stream] = {}
        self.viewers: list[Viewer] = []
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> tuple[str, int]:
        """The host and port listened on."""
        if self._httpd is None:
            raise VcmError("the dashboard is not started")
        return self._httpd.server_address[:2]

    def url(self) -> str:
        """The page's address (without the token)."""
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    def start(self) -> Dashboard:
        """Listen, serve and publish in background threads."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_class = type("DashboardHTTPServer", (ThreadingHTTPServer,),
                            {"address_family": family, "daemon_threads": True,
                             "allow_reuse_address": True})
        try:
            self._httpd = server_class((self.host, self.port), _handler(self))
        except OSError as error:
            raise VcmError(f"{self.host}:{self.port}: cannot serve the dashboard "
                           f"({error.strerror})") from None
        for target in (self._httpd.serve_forever, self._publish_loop):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Publish what is left, close every viewer and stop listening."""
        self._publish_due(force=True)
        self._stopping.set()
        self._changed.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout)

    # The analysis server's watcher interface: called from a session's threads; each only
    # records under the lock (the analyser never waits for rendering or for a viewer).

    def session_started(self, session) -> None:
        hello = session.hello
        settings = {"codec": hello.codec, "qp": hello.qp, "width": hello.width,
                    "height": hello.height, "fps": hello.fps}
        with self._lock:
            self.streams[session.recording.folder.name] = Stream(session.recording.folder.name, settings)
        self._changed.set()

    def session_frame(self, session, image: np.ndarray, message: dict) -> None:
        with self._lock:
            stream = self.streams.get(session.recording.folder.name)
            if stream is None:
                return
            stream.add(message)
            stream.frames_skipped, stream.results_dropped = session.frames_skipped, session.results_dropped
            stream.latest = (image, message)
            stream.changed = True
        self._changed.set()

    def session_ended(self, session) -> None:
        with self._lock:
            stream = self.streams.get(session.recording.folder.name)
            if stream is None:
                return
            stream.state, stream.reason = "ended", session.reason
            stream.frames_skipped, stream.results_dropped = session.frames_skipped, session.results_dropped
            stream.ended_at, stream.changed = time.monotonic(), True
        self._changed.set()

    # Publishing.

    def _publish_loop(self) -> None:
        while not self._stopping.is_set():
            wait = self._publish_due()
            self._changed.wait(wait)
            self._changed.clear()

    def _publish_due(self, force: bool = False) -> float:
        """Render and hand out every changed stream whose last update is at least
        ``1 / max_rate`` old (every changed one with ``force``); the seconds until the next
        is due (1 when none waits)."""
        now = time.monotonic()
        interval = 1.0 / self.max_rate
        wait = 1.0
        with self._lock:
            due = []
            for stream in self.streams.values():
                if not stream.changed:
                    continue
                if force or now - stream.published >= interval:
                    due.append((stream, stream.latest))
                    stream.changed, stream.published, stream.latest = False, now, None
                else:
                    wait = min(wait, stream.published + interval - now)
            gone = self._forget_ended()
        for stream, latest in due:
            try:
                picture = None
                if latest is not None:
                    image, message = latest
                    picture = jpeg_data_url(render(image, message, max_width=self.max_width,
                                                   max_height=self.max_height))
                with self._lock:
                    if latest is not None:
                        stream.message, stream.picture = latest[1], picture
                    update = json.dumps(stream.update(), separators=(",", ":")).encode()
            except Exception:  # noqa: BLE001 - a bad frame must not stop the dashboard
                LOG.exception("dashboard: stream %s", stream.name)
                continue
            self._offer(stream.name, update)
        for name in gone:
            self._offer(name, json.dumps({"type": "gone", "stream": name}).encode())
        return max(wait, 0.0)

    def _forget_ended(self) -> list[str]:
        ended = sorted((stream for stream in self.streams.values()
                        if stream.state == "ended" and not stream.changed),
                       key=lambda stream: stream.ended_at)
        gone = [stream.name for stream in ended[: max(0, len(ended) - KEEP_ENDED)]]
        for name in gone:
            del self.streams[name]
        return gone

    def _offer(self, stream: str, update: bytes) -> None:
        with self._lock:
            viewers = list(self.viewers)
        for viewer in viewers:
            viewer.offer(stream, update)

    # Viewers.

    def add_viewer(self) -> Viewer | None:
        with self._lock:
            if len(self.viewers) >= self.max_viewers:
                return None
            viewer = Viewer()
            self.viewers.append(viewer)
            # A new viewer starts with every stream's latest update.
            current = [(stream.name, json.dumps(stream.update(), separators=(",", ":")).encode())
                       for stream in self.streams.values()]
        for name, update in current:
            viewer.offer(name, update)
        return viewer

    def _remove_viewer(self, viewer: Viewer) -> None:
        with self._lock:
            if viewer in self.viewers:
                self.viewers.remove(viewer)

    def serve_viewer(self, viewer: Viewer, connection: socket.socket) -> None:
        """Send ``viewer``'s updates until the browser closes, breaks the protocol, takes
        longer than :data:`SEND_SECONDS` for one update, or the dashboard stops."""
        connection.settimeout(SEND_SECONDS)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        try:
            while not self._stopping.is_set():
                for update in viewer.take(POLL_SECONDS):
                    connection.sendall(websocket.frame(update))
                readable, _, _ = select.select([connection], [], [], 0)
                if readable and not self._answer(connection):
                    return
            connection.sendall(websocket.frame(b"\x03\xe9", websocket.CLOSE))  # 1001: going away
        except (OSError, websocket.WebSocketError) as error:
            LOG.debug("dashboard viewer closed: %s", error)
        finally:
            self._remove_viewer(viewer)

    def _answer(self, connection: socket.socket) -> bool:
        """Read one frame from the browser and answer it; ``False`` once the viewer closed."""
        try:
            opcode, payload = websocket.read_frame(connection)
        except websocket.WebSocketError as error:
            code = websocket.CLOSE_TOO_BIG if "limit" in str(error) else websocket.CLOSE_PROTOCOL
            connection.sendall(websocket.frame(code.to_bytes(2, "big"), websocket.CLOSE))
            return False
        if opcode == websocket.CLOSE:
            connection.sendall(websocket.frame(payload[:2], websocket.CLOSE))
            return False
        if opcode == websocket.PING:
            connection.sendall(websocket.frame(payload, websocket.PONG))
        return True

    def allows(self, host_header: str | None, query: dict) -> bool:
        """Whether a request may see the page or the updates (see the module docstring)."""
        if self.token is not None:
            return token_matches(self.token, (query.get("token") or [None])[0])
        return is_loopback(host_name(host_header or ""))


def _handler(dashboard: Dashboard) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Unbuffered reading: after the WebSocket handshake the browser's frames are read
        # straight from the socket, so no byte of them may wait in a buffer.
        rbufsize = 0
        timeout = dashboard.request_seconds
        protocol_version = "HTTP/1.1"
        server_version = "vcm-dashboard"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path not in ("/", "/ws"):
                return self._refuse(404, "not found")
            if not dashboard.allows(self.headers.get("Host"), query):
                return self._refuse(403, "forbidden: wrong or missing token, or not a loopback host")
            if url.path == "/":
                return self._page()
            return self._websocket()

        def _page(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(dashboard.page)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.end_headers()
            self.wfile.write(dashboard.page)

        def _websocket(self) -> None:
            key = self.headers.get("Sec-WebSocket-Key")
            if (self.headers.get("Upgrade", "").lower() != "websocket"
                    or "upgrade" not in self.headers.get("Connection", "").lower()
                    or self.headers.get("Sec-WebSocket-Version") != "13"
                    or not websocket.valid_key(key)):
                return self._refuse(400, "expected a WebSocket (version 13) handshake")
            origin = self.headers.get("Origin")
            if origin is not None and origin != f"http://{self.headers.get('Host')}":
                return self._refuse(403, "forbidden: a page of another origin")
            viewer = dashboard.add_viewer()
            if viewer is None:
                return self._refuse(503, f"the dashboard has {dashboard.max_viewers} viewers already")
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", websocket.accept_key(key))
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True
            dashboard.serve_viewer(viewer, self.connection)

        def _refuse(self, status: int, text: str) -> None:
            body = (text + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's name
            LOG.debug("dashboard %s: " + format, self.address_string(), *args)

    return Handler


__all__ = ["Dashboard", "Viewer", "http_address", "render", "start_dashboard", "track_rows"]
