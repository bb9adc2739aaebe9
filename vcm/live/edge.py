"""The live edge: capture, detect, render the foreground, encode with the detections in each
access unit, send; read the results that come back and time every frame.

Threads and bounded queues:

* *capture* reads the source (a file paced at its frame rate with ``realtime``, a
  MOTChallenge folder, or a live source ffmpeg reads); when the next stage is behind, a paced
  or live source drops the frame (counted as ``dropped_capture``), a file read as fast as
  possible waits instead;
* the caller's thread runs the detect and foreground stages (:mod:`vcm.pipeline`, the same
  components as ``vcm detect`` and ``vcm foreground``) and writes each rendered frame to the
  encoder (:class:`~vcm.live.coding.LiveEncoder`);
* *sender* takes each access unit as it comes out of the encoder, inserts that frame's
  detections as an annotated regions SEI and writes it to the socket;
* *receiver* reads the server's result lines and times each frame (:class:`FrameTiming`).

The sender and receiver work on one connection's state, an :class:`EdgeSession` made for
that connection alone, so that a reconnection starts with a new encoder and no frame of the
session before.

Times are ``time.monotonic()`` seconds; on one machine the server's clock readings in its
messages are on the same clock (Linux ``CLOCK_MONOTONIC``), so transport and return are
split; across machines only their sum (``network``) means anything.
"""

from __future__ import annotations

import collections
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from vcm.bitstream.access_units import AccessUnitEmbedder
from vcm.errors import VcmError
from vcm.live.coding import SYNTAX, LiveEncoder, live_codec
from vcm.live.protocol import MAX_LINE_BYTES, Hello, ProtocolError, parse_message, read_line
from vcm.live.threads import spawn
from vcm.pipeline import Frame, Pipeline, StageTimes

LIVE_PREFIXES = ("rtsp://", "rtmp://", "tcp://", "udp://", "http://", "https://", "srt://", "/dev/video")

CONNECT_SECONDS = 10.0
RECONNECT_SECONDS = 1.0
"""Pause before a new connection after a failed one."""
RESULT_SECONDS = 120.0
"""How long the edge waits for the server's next line before it gives up."""


@dataclass
class FrameSource:
    """Frames to stream: ``frames`` yields ``bgr24`` arrays of ``height`` x ``width`` x 3.

    ``live``: a camera or network source (frames come when they come; never paced).
    """

    name: str
    width: int
    height: int
    fps: float
    frames: Iterator[np.ndarray]
    live: bool = False
    count: int | None = None


def open_source(spec: str, *, fps: float | None = None) -> FrameSource:
    """A video file, a MOTChallenge sequence folder, or a live source ffmpeg reads (a V4L2
    device ``/dev/videoN``, an ``rtsp://``, ``tcp://``, ``udp://``, ``http://`` URL)."""
    if spec.startswith(LIVE_PREFIXES):
        return _live_source(spec, fps)
    from vcm.video import open_video

    source = open_video(Path(spec))
    info = source.info
    return FrameSource(spec, info.width, info.height, fps or info.fps, iter(source),
                       count=info.frames)


def _live_source(spec: str, fps: float | None) -> FrameSource:
    import imageio_ffmpeg

    input_params = ["-f", "v4l2"] if spec.startswith("/dev/video") else []
    input_params += ["-rw_timeout", "10000000"] if "://" in spec else []
    reader = imageio_ffmpeg.read_frames(spec, pix_fmt="bgr24", input_params=input_params)
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as error:
        raise VcmError(f"{spec}: cannot open the live source ({error})") from None
    width, height = meta["size"]

    def frames() -> Iterator[np.ndarray]:
        try:
            for buffer in reader:
                yield np.frombuffer(buffer, np.uint8).reshape(height, width, 3)
        finally:
            reader.close()

    return FrameSource(spec, width, height, fps or float(meta.get("fps") or 25.0), frames(),
                       live=True)


@dataclass
class FrameTiming:
    """One frame's trip, in seconds (see the module docstring): ``stages`` by name
    (``detect``, ``render``, ``encode``, ``transport``, ``decode``, ``queue`` (decoded, waiting
    for the analyser), ``pose``, ``segment``, ``track``, ``return``), and ``latency``, capture to result at the edge."""

    frame: int
    latency: float
    stages: dict[str, float]


@dataclass
class EdgeReport:
    """What a run of the edge did and measured.

    Attributes:
        frames_captured, frames_sent, results: counts; dropped_capture: frames the capture
            dropped because the edge was behind (paced or live sources only).
        bytes_sent: stream bytes (SEIs included).
        seconds: wall-clock from the first capture to the last result.
        first_result, last_result: ``time.monotonic()`` when the first and the last result
            came (``None`` before one did); their span gives :attr:`steady_throughput`.
        timings: per frame (results received).
        server_end: the last session's ``end`` message (``frames_skipped``,
            ``results_dropped``).
        sessions: the server's session folder names, one per connection.
        reconnects: connections made after the first; frames_lost: frames sent (or held by
            the stages) in a session that failed before answering them.
    """

    frames_captured: int = 0
    frames_sent: int = 0
    dropped_capture: int = 0
    results: int = 0
    bytes_sent: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    timings: list[FrameTiming] = field(default_factory=list)
    server_end: dict = field(default_factory=dict)
    sessions: list[str] = field(default_factory=list)
    reconnects: int = 0
    frames_lost: int = 0
    started: float | None = None
    first_result: float | None = None
    last_result: float | None = None

    @property
    def throughput(self) -> float:
        """Results per second of wall-clock time (so far, while running)."""
        seconds = self.seconds
        if not seconds and self.started is not None:
            seconds = time.monotonic() - self.started
        return self.results / seconds if seconds > 0 else 0.0

    @property
    def steady_throughput(self) -> float:
        """Results per second from the first result to the last: the rate once the pipeline
        is full, without its start (model loading, the coders' lag) that :attr:`throughput`
        counts; 0 with fewer than two results."""
        if self.results < 2 or self.last_result is None or self.last_result <= self.first_result:
            return 0.0
        return (self.results - 1) / (self.last_result - self.first_result)

    @property
    def kbps(self) -> float:
        """The stream's bitrate at its frame rate, in kbit/s."""
        return self.bytes_sent * 8 * self.fps / self.frames_sent / 1000 if self.frames_sent else 0.0

    def latency_summary(self) -> dict:
        """p50, p95 and max latency (s), and the median of each stage (s)."""
        if not self.timings:
            return {}
        latencies = np.array([timing.latency for timing in self.timings])
        stages = collections.defaultdict(list)
        for timing in self.timings:
            for name, seconds in timing.stages.items():
                stages[name].append(seconds)
        return {
            "p50": float(np.percentile(latencies, 50)),
            "p95": float(np.percentile(latencies, 95)),
            "max": float(latencies.max()),
            "stage_median": {name: float(np.median(values)) for name, values in stages.items()},
        }

    def to_dict(self) -> dict:
        return {
            "sessions": self.sessions, "reconnects": self.reconnects,
            "frames_lost": self.frames_lost, "frames_captured": self.frames_captured,
            "frames_sent": self.frames_sent, "dropped_capture": self.dropped_capture,
            "results": self.results, "bytes_sent": self.bytes_sent,
            "seconds": round(self.seconds, 4), "throughput_fps": round(self.throughput, 3),
            "steady_fps": round(self.steady_throughput, 3),
            "kbps": round(self.kbps, 3), "latency": self.latency_summary(),
            "server": self.server_end,
        }


_END = object()


@dataclass
class EdgeSession:
    """One connection's state, owned by one session of an :class:`Edge` and handed to its
    sender and receiver threads, so that a new session (a reconnection) starts clean.

    Attributes:
        connection: the socket; buffer: bytes read past the server's ``accepted`` line.
        encoder, embedder: this session's coder (a new coded sequence) and SEI embedder.
        lost: set once the session cannot go on (the reason in ``failure``).
        info: stream frame number (1-based, per session) -> its times so far (monotonic s).
        waiting: each coded frame's detections, until its access unit comes out.
        sent_before, results_before: the edge's counts when the session started.
    """

    connection: socket.socket
    buffer: bytearray
    encoder: LiveEncoder
    embedder: AccessUnitEmbedder
    sent_before: int = 0
    results_before: int = 0
    lost: threading.Event = field(default_factory=threading.Event)
    info: dict[int, dict] = field(default_factory=dict)
    waiting: collections.deque = field(default_factory=collections.deque)
    failure: str | None = None

    def fail(self, problem: str) -> None:
        """Mark the session lost; the first problem is the one reported."""
        if not self.lost.is_set():
            self.failure = self.failure or problem
        self.lost.set()


class Edge:
    """Streams ``source`` to the server at ``address`` (see the module docstring).

    Args:
        source: the frames.
        address: ``(host, port)`` of ``vcm serve``.
        stages: the per-frame stages before coding: a detect stage named ``detect``, then the
            foreground stages (see :func:`vcm.pipeline.foreground_stages`).
        codec: ``vvenc`` or ``x265``; qp, preset, intra_period, threads: its settings.
        token: the server's shared secret, if it has one.
        realtime: pace a file at its frame rate (and drop frames when behind).
        max_frames: stop after this many captured frames.
        queue_frames: frames held between capture and detection.
        results_path: JSON lines file to write each result to (with its ``timing``).
        reconnects: new connections allowed after a failed one (see :meth:`run`).
        on_result: called with each :class:`FrameTiming` (for a status line).
    """

    def __init__(self, source: FrameSource, address: tuple[str, int], stages: list, *,
                 codec: str = "vvenc", qp: int = 32, preset: str | None = None,
                 intra_period: int = 32, threads: int | None = None, token: str | None = None,
                 realtime: bool = False, max_frames: int | None = None, queue_frames: int = 4,
                 results_path: Path | None = None, reconnects: int = 0,
                 on_result: Callable[[FrameTiming, EdgeReport], None] | None = None) -> None:
        self.source = source
        self.address = address
        self.pipeline = Pipeline(stages, times=StageTimes())
        self.codec = live_codec(codec, preset=preset, intra_period=intra_period, threads=threads)
        self.qp = qp
        self.token = token
        self.realtime = realtime
        self.max_frames = max_frames
        self.captured: queue.Queue = queue.Queue(queue_frames)
        self.results_path = results_path
        if results_path is not None:
            Path(results_path).write_text("")  # sessions append to it
        self.reconnects = reconnects
        self.on_result = on_result
        self.report = EdgeReport(fps=source.fps)
        self.source_failure: str | None = None  # set by the capture thread
        self.stop_capture = threading.Event()

    def run(self) -> EdgeReport:
        """Stream until the source ends (or ``max_frames``), then wait for every result.

        A session whose connection fails is followed by a new one (a new encoder, so a new
        IDR), at most ``reconnects`` times; the frames it had sent without an answer are
        counted as ``frames_lost``."""
        self.report.started = time.monotonic()
        capture = spawn("edge-capture", self._capture)
        try:
            while True:
                try:
                    failure = self._session()
                except ConnectionError as error:
                    failure = str(error)
                if failure is None:
                    break
                if self.report.reconnects >= self.reconnects:
                    raise VcmError(failure)
                self.report.reconnects += 1
                time.sleep(RECONNECT_SECONDS)
        finally:
            self.stop_capture.set()
            while capture.is_alive():
                try:
                    self.captured.get(timeout=0.1)
                except queue.Empty:
                    pass
            self.report.seconds = time.monotonic() - self.report.started
            self.pipeline.close()
        if self.source_failure:
            raise VcmError(self.source_failure)
        return self.report

    def _session(self) -> str | None:
        """One connection: ``None`` once the source has ended and every result is in, else
        what made the connection fail first."""
        hello = Hello(codec=self.codec.name, options=self.codec.options(), qp=self.qp,
                      width=self.source.width, height=self.source.height, fps=self.source.fps,
                      token=self.token)
        connection = _connect(self.address)
        buffer = bytearray()
        try:
            try:
                connection.sendall(hello.to_line())
                answer = read_line(connection, buffer, MAX_LINE_BYTES)
            except OSError as error:
                raise ConnectionError(f"{_name(self.address)}: the hello failed ({error})") from None
            if answer is None:
                raise ConnectionError(f"{_name(self.address)}: the server closed the connection")
            message = parse_message(answer)
            if message["type"] != "accepted":
                raise VcmError(f"{_name(self.address)}: the server refused the stream: "
                               f"{message.get('error', message)}")
            self.report.sessions.append(str(message.get("session", "")))
            encoder = LiveEncoder(self.codec, width=self.source.width,
                                  height=self.source.height, fps=self.source.fps, qp=self.qp)
            session = EdgeSession(
                connection, buffer, encoder,
                AccessUnitEmbedder(SYNTAX[self.codec.name], self.source.width,
                                   self.source.height, name=_name(self.address)),
                sent_before=self.report.frames_sent, results_before=self.report.results)
            threads = [spawn("edge-send", self._send, session),
                       spawn("edge-results", self._receive, session)]
            ended = False
            try:
                ended = self._process(session)
            finally:
                if ended:
                    encoder.finish()
                else:
                    session.lost.set()
                    _shut(connection)
                    encoder.close()
                for thread in threads:
                    thread.join(RESULT_SECONDS)
                encoder.close()
        finally:
            connection.close()
        if ended and not session.lost.is_set():
            return None
        self.report.frames_lost += ((self.report.frames_sent - session.sent_before)
                                    - (self.report.results - session.results_before))
        return session.failure or f"{_name(self.address)}: the session failed"

    def _capture(self) -> None:
        interval = 1.0 / self.source.fps
        paced = self.realtime and not self.source.live
        drops = paced or self.source.live
        start = time.monotonic()
        try:
            for index, image in enumerate(self.source.frames):
                if self.stop_capture.is_set() or (self.max_frames is not None
                                                  and index >= self.max_frames):
                    break
                if paced:
                    delay = start + index * interval - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                self.report.frames_captured += 1
                item = (image, time.monotonic())
                if drops:
                    try:
                        self.captured.put_nowait(item)
                    except queue.Full:
                        self.report.dropped_capture += 1
                else:
                    self.captured.put(item)
        except VcmError as error:
            self.source_failure = str(error)
        finally:
            self.captured.put(_END)

    def _process(self, session: EdgeSession) -> bool:
        """Detect, render and encode captured frames: ``True`` at the source's end, ``False``
        once the session is lost (frames the stages still hold are dropped with it)."""
        number = 0
        times = self.pipeline.times
        while True:
            if session.lost.is_set():
                self.report.frames_lost += len(self.pipeline.finish())
                return False
            try:
                item = self.captured.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _END:
                finished = self._timed(times, self.pipeline.finish)
            else:
                image, captured = item
                number += 1
                session.info[number] = {"captured": captured}
                finished = self._timed(times, self.pipeline.push, Frame(number, image))
            for frame, stage_seconds in finished:
                session.info[frame.number].update(stage_seconds)
                session.info[frame.number]["encode_start"] = time.monotonic()
                session.waiting.append(frame.detections)
                try:
                    session.encoder.encode(frame.image)
                except VcmError:
                    if session.lost.is_set():
                        return False
                    raise
                self.report.frames_sent += 1
            if item is _END:
                self.captured.put(_END)  # a later session ends at once too
                return True

    @staticmethod
    def _timed(times: StageTimes, call, *arguments) -> list[tuple[Frame, dict]]:
        """``call``'s finished frames, each with the stage seconds of the call shared out."""
        before = dict(times.seconds)
        frames = call(*arguments)
        if not frames:
            return []
        spent = {_edge_stage(name): (seconds - before.get(name, 0.0)) / len(frames)
                 for name, seconds in times.seconds.items()}
        return [(frame, spent) for frame in frames]

    def _send(self, session: EdgeSession) -> None:
        number = 0
        try:
            while True:
                unit = session.encoder.next_access_unit(timeout=RESULT_SECONDS)
                if unit is None:
                    break
                number += 1
                encoded = time.monotonic()
                unit = session.embedder.embed(unit, session.waiting.popleft())
                info = session.info[number]
                info["encode"] = encoded - info.pop("encode_start")
                info["sent"] = time.monotonic()
                session.connection.sendall(unit)
                self.report.bytes_sent += len(unit)
            session.connection.shutdown(socket.SHUT_WR)
        except (OSError, VcmError, queue.Empty) as error:
            session.fail(f"{_name(self.address)}: sending stopped ({error})")
            _shut(session.connection)

    def _receive(self, session: EdgeSession) -> None:
        connection, buffer = session.connection, session.buffer
        connection.settimeout(RESULT_SECONDS)
        output = open(self.results_path, "a", encoding="utf-8") if self.results_path else None
        try:
            while True:
                line = read_line(connection, buffer, MAX_LINE_BYTES)
                if line is None:
                    session.fail(f"{_name(self.address)}: the server closed the connection "
                                 "before its end message")
                    return
                message = parse_message(line)
                if message["type"] == "end":
                    self.report.server_end = {key: value for key, value in message.items()
                                              if key != "type"}
                    if message.get("reason") != "complete":
                        session.fail(f"{_name(self.address)}: the session ended: "
                                     f"{message.get('reason')}")
                    return
                if message["type"] == "error":
                    session.fail(f"{_name(self.address)}: server error: {message.get('error')}")
                    return
                if message["type"] != "frame":
                    continue
                arrived = time.monotonic()
                timing = _timing(session.info, message, arrived)
                if self.report.first_result is None:
                    self.report.first_result = arrived
                self.report.last_result = arrived
                self.report.results += 1
                self.report.timings.append(timing)
                if output is not None:
                    message["timing"] = {"latency": timing.latency, **timing.stages}
                    output.write(json.dumps(message, separators=(",", ":")) + "\n")
                if self.on_result is not None:
                    self.on_result(timing, self.report)
        except (OSError, ProtocolError) as error:
            session.fail(f"{_name(self.address)}: results stopped ({error})")
        finally:
            if output is not None:
                output.close()


def _timing(times: dict[int, dict], message: dict, arrived: float) -> FrameTiming:
    """The :class:`FrameTiming` of a ``frame`` message, from the edge's ``times`` of that
    frame (taken out of ``times``) and the server's."""
    info = times.pop(int(message["frame"]), {})
    server = message.get("times", {})
    clock = message.get("clock", {})
    stages = {name: info[name] for name in ("detect", "render", "encode") if name in info}
    if "sent" in info and "received" in clock:
        stages["transport"] = clock["received"] - info["sent"]
    for name in ("decode", "queue", "pose", "segment", "track"):
        if name in server:
            stages[name] = server[name]
    if "answered" in clock:
        stages["return"] = arrived - clock["answered"]
    return FrameTiming(frame=int(message["frame"]),
                       latency=arrived - info.get("captured", arrived), stages=stages)


def _edge_stage(name: str) -> str:
    """The latency table's name of an edge stage: the foreground's stages are ``render``."""
    return "detect" if name == "detect" else "render"


def _shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _connect(address: tuple[str, int]) -> socket.socket:
    try:
        connection = socket.create_connection(address, timeout=CONNECT_SECONDS)
    except OSError as error:
        raise ConnectionError(f"{_name(address)}: cannot connect ({error.strerror or error})") from None
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connection.settimeout(RESULT_SECONDS)
    return connection


def _name(address: tuple[str, int]) -> str:
    return f"{address[0]}:{address[1]}"
