"""The analysis server: receives live streams, runs the tasks on each frame, sends results back
and records every session in the formats the batch stages write.

One thread accepts connections (at most ``max_sessions`` at once; more are told so and
closed). Each session has three threads and bounded queues between them:

* the *receiver* reads the socket, cuts the Annex-B stream into access units
  (:class:`~vcm.bitstream.access_units.AccessUnitSplitter`), reads each AU's boxes from its
  annotated regions SEI, appends the AU to the recording and feeds the decoder. When the
  analysis falls behind, the bounded queue to it fills and the receiver stops reading: TCP
  carries the back-pressure to the edge, which drops frames before coding them (counted
  there), since a decoder cannot skip a frame that later ones refer to;
* the *analyser* pairs each decoded frame with its boxes and runs the stages
  (:mod:`vcm.pipeline`: pose, segment, track), the live driver of the same components the
  batch commands run. With ``max_lag`` set, a frame that finds more than ``max_lag`` decoded
  frames waiting behind it skips the pixel tasks (pose, segment; tracking still sees every
  frame): counted per session as ``frames_skipped`` and said in the frame's result;
* the *sender* writes result lines from a bounded queue; results that find it full are
  dropped and counted (``results_dropped``), never silently.

A session's folder under ``root`` is named by the server (``<UTC time>-<number>``); nothing
a client sends names a path. See :class:`Recording` for its files. Each session's pose and
segment stages are its own, built before it connects (:meth:`AnalysisServer.pixel_stages`).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import os
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from vcm.bitstream.access_units import AccessUnitExtractor, AccessUnitSplitter
from vcm.bitstream.bits import BitstreamError
from vcm.codecs.base import build_codec, padded_size
from vcm.codecs.pipeline import EncodeResult, sidecar_path
from vcm.detections import DetectionSequence, FrameDetections
from vcm.errors import VcmError
from vcm.fileio import atomic_output
from vcm.live.coding import LIVE_CODECS, SYNTAX, LiveDecoder, encoder_argv
from vcm.live.protocol import (
    MAX_HELLO_BYTES,
    Hello,
    ProtocolError,
    message_line,
    read_line,
    token_matches,
)
from vcm.live.threads import name_this_thread, spawn
from vcm.pipeline import Frame, Pipeline, PoseStage, SegmentStage, StageTimes, TrackStage

LOG = logging.getLogger(__name__)

RECEIVE_BYTES = 1 << 16
HANDSHAKE_SECONDS = 10.0
"""How long a client may take to send its hello line."""
IDLE_SECONDS = 60.0
"""How long a session may go without a byte from the edge before the server ends it."""
REFUSE_SECONDS = 1.0
"""How long a refused client's input is drained before the connection closes."""
DRAIN_BYTES = 1 << 20
DECODE_SECONDS = 60.0
"""How long the analyser waits for the decoder's next frame before it gives up."""


OPTION_FIELDS = ("pose_options", "segment_options", "track_options", "motion_options")


@dataclass(frozen=True)
class Tasks:
    """The tasks a server runs on every frame, by registry name (``None``: not run).

    Attributes:
        pose, segment, track, motion: backend names (pose estimator, segmenter, tracker,
            motion recognizer; motion needs pose and track).
        pose_options, segment_options, track_options, motion_options: their keyword arguments
            (a path-like value is kept as text: session.json records them).
        score: boxes scoring below this are left out of pose and segmentation (the batch
            commands' ``--score``).
    """

    pose: str | None = "blazepose"
    segment: str | None = None
    track: str | None = "iou"
    pose_options: dict = field(default_factory=dict)
    segment_options: dict = field(default_factory=dict)
    track_options: dict = field(default_factory=dict)
    score: float = 0.0
    motion: str | None = None
    motion_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in OPTION_FIELDS:
            object.__setattr__(self, name, {
                key: os.fspath(value) if isinstance(value, os.PathLike) else value
                for key, value in getattr(self, name).items()})
        if self.motion and not (self.pose and self.track):
            raise VcmError("motion needs pose and track: give a pose estimator and a tracker")

    def pixel_stages(self) -> list:
        """Fresh pose and segment stages (one set per session: no state is shared)."""
        from vcm.pose import POSE_ESTIMATORS
        from vcm.segmenters import SEGMENTERS

        stages = []
        if self.pose:
            stages.append(PoseStage(POSE_ESTIMATORS.build(self.pose, **self.pose_options),
                                    min_score=self.score))
        if self.segment:
            stages.append(SegmentStage(SEGMENTERS.build(self.segment, **self.segment_options),
                                       min_score=self.score))
        return stages

    def track_stages(self, fps: float) -> list:
        from vcm.trackers import TRACKERS

        if not self.track:
            return []
        stages = [TrackStage(TRACKERS.build(self.track, **self.track_options), fps=fps)]
        if self.motion:
            from vcm.motion import MOTION_RECOGNIZERS, MotionStage

            # A frame skipped under lag has no poses: it gets no motion, the counts go on.
            stages.append(MotionStage(MOTION_RECOGNIZERS.build(self.motion, **self.motion_options),
                                      fps=fps, require_pose=False))
        return stages

    def names(self) -> list[str]:
        return [name for name, backend in (("pose", self.pose), ("segment", self.segment),
                                           ("track", self.track), ("motion", self.motion))
                if backend]

    def describe(self) -> dict:
        return {"pose": self.pose, "pose_options": self.pose_options,
                "segment": self.segment, "segment_options": self.segment_options,
                "track": self.track, "track_options": self.track_options, "score": self.score,
                "motion": self.motion, "motion_options": self.motion_options}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Recording:
    """A session's folder, written as the session goes (names are fixed, see docs/live.md):

    * ``session.json``: the stream's settings and state: ``"running"`` until the session
      ends, then ``"ended"`` with ``reason``, ``frames`` and ``bytes``;
    * ``stream.266`` / ``stream.265``: the Annex-B stream exactly as received, whole access
      units only (each written before its line in ``frames.jsonl``);
    * ``frames.jsonl``: one line per complete AU, ``{"frame", "end"}`` (its last byte's
      offset + 1): if the server dies, the stream is valid up to the last line's ``end``;
    * ``results.jsonl``: every ``frame`` message sent, as sent;
    * at the end: ``stream.26x.json`` (the ``vcm encode`` sidecar), ``detections.vcmd``,
      ``poses.json``, ``masks.json``, ``tracks.txt`` (as ``vcm detections extract``,
      ``vcm pose``, ``vcm segment``, ``vcm track`` write them), ``motion.jsonl`` (as ``vcm
      motion run`` writes it on those poses and tracks at the stream's frame rate) and
      ``session.json.run.json``.
    """

    def __init__(self, root: Path, hello: Hello, codec, tasks: Tasks) -> None:
        self.folder = _new_session_folder(root)
        self.hello = hello
        self.codec = codec
        self.tasks = tasks
        self.stream_path = self.folder / f"stream{codec.extension}"
        self.started = _utc_now()
        self.stream = open(self.stream_path, "wb")
        self.index = open(self.folder / "frames.jsonl", "w", encoding="utf-8")
        self.results = open(self.folder / "results.jsonl", "w", encoding="utf-8")
        self.bytes = 0
        self.frames = 0
        self.write_state({"state": "running"})

    def settings(self) -> dict:
        return {"codec": self.hello.codec, "options": self.codec.options(), "qp": self.hello.qp,
                "width": self.hello.width, "height": self.hello.height, "fps": self.hello.fps,
                "tasks": self.tasks.describe(), "started": self.started,
                "stream": self.stream_path.name}

    def write_state(self, state: dict) -> None:
        with atomic_output(self.folder / "session.json") as temporary:
            temporary.write_text(json.dumps({**self.settings(), **state}, indent=2) + "\n")

    def add_access_unit(self, access_unit: bytes) -> None:
        self.stream.write(access_unit)
        self.stream.flush()
        self.bytes += len(access_unit)
        self.frames += 1
        self.index.write(json.dumps({"frame": self.frames, "end": self.bytes}) + "\n")
        self.index.flush()

    def add_result(self, line: bytes) -> None:
        self.results.write(line.decode("utf-8"))
        self.results.flush()

    def close(self, *, reason: str, seconds: dict, counts: dict, detections: list,
              frames: list, embedded: dict | None) -> None:
        """Write the batch-format files and the final state."""
        for handle in (self.stream, self.index, self.results):
            handle.close()
        write_stream_sidecar(self.stream_path, self.hello, self.codec, frames=self.frames,
                             size=self.bytes, embedded=embedded)
        problems = []
        if detections:  # the batch formats hold at least one frame
            try:
                self._write_task_files(detections, frames)
            except (VcmError, OSError) as error:
                problems.append(str(error))
        from vcm.runrecord import write_run_record

        write_run_record(self.folder / "session.json", "live", seconds, **counts,
                         tasks=self.tasks.describe())
        self.write_state({"state": "ended", "reason": reason, "frames": self.frames,
                          "bytes": self.bytes, "ended": _utc_now(), **counts,
                          **({"problems": problems} if problems else {})})

    def _write_task_files(self, detections: list, frames: list) -> None:
        from vcm.detformats import write_detections

        # No frame rate, as `vcm detections extract` writes none.
        write_detections(DetectionSequence(self.hello.width, self.hello.height, detections),
                         self.folder / "detections.vcmd")
        if self.tasks.pose:
            from vcm.keypoints import write_pose_results

            write_pose_results([pose for frame in frames for pose in frame.records.get("pose", ())],
                               self.folder / "poses.json")
        if self.tasks.segment:
            from vcm.masks import write_mask_results

            write_mask_results([mask for frame in frames for mask in frame.records.get("segment", ())],
                               self.folder / "masks.json")
        if self.tasks.track:
            from vcm.tracks import TrackSequence, write_tracks_txt

            write_tracks_txt(TrackSequence([frame.records["track"] for frame in frames]),
                             self.folder / "tracks.txt")
        if self.tasks.motion:
            write_session_motion(self.folder, self.tasks, self.hello.fps)


def write_session_motion(folder: Path, tasks: Tasks, fps: float) -> None:
    """Write ``motion.jsonl`` in a session's ``folder`` from its ``poses.json`` and
    ``tracks.txt``, as ``vcm motion run poses.json tracks.txt --fps FPS`` (with the session's
    recognizer options) writes it: the batch file, whatever frames the live server skipped."""
    from vcm.motion import MOTION_RECOGNIZERS
    from vcm.motion.run import motion_file

    motion_file(folder / "poses.json", folder / "tracks.txt", folder / "motion.jsonl",
                MOTION_RECOGNIZERS.build(tasks.motion, **tasks.motion_options), fps=fps)


def write_stream_sidecar(stream_path: Path, hello: Hello, codec, *, frames: int, size: int,
                         embedded: dict | None) -> None:
    """The ``vcm encode`` sidecar of a recorded stream of ``frames`` AUs and ``size`` bytes;
    ``embedded``: what its SEIs carried (:meth:`AccessUnitExtractor.record`)."""
    padded_width, padded_height = padded_size(hello.width, hello.height)
    EncodeResult(
        bitstream=stream_path.name, input="live", codec=hello.codec, qp=hello.qp,
        options=codec.options(),
        argv=[encoder_argv(codec, width=hello.width, height=hello.height, fps=hello.fps,
                           qp=hello.qp)],
        width=hello.width, height=hello.height, padded_width=padded_width,
        padded_height=padded_height, fps=hello.fps, frames=frames, bytes=size,
        encode_seconds=0.0, ffmpeg_version=_ffmpeg_version(), vcm_version=_vcm_version(),
        embedded_detections=embedded,
    ).write(sidecar_path(stream_path))


_folder_lock = threading.Lock()


def _new_session_folder(root: Path) -> Path:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    with _folder_lock:
        for number in range(1, 10_000):
            folder = root / f"{stamp}-{number:03d}"
            try:
                folder.mkdir(parents=True)
                return folder
            except FileExistsError:
                continue
    raise VcmError(f"{root}: cannot create a session folder")


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _ffmpeg_version() -> str:
    from vcm.ffmpeg import ffmpeg_version

    return ffmpeg_version()


def _vcm_version() -> str:
    from vcm.logs import package_version

    return package_version("vcm")


_END = object()


class Session:
    """One edge's stream: receive, decode, analyse, answer, record (see the module docstring)."""

    def __init__(self, server: AnalysisServer, connection: socket.socket, hello: Hello, codec,
                 recording: Recording) -> None:
        self.server = server
        self.connection = connection
        self.hello = hello
        self.codec = codec
        self.recording = recording
        self.syntax = SYNTAX[hello.codec]
        self.pending: queue.Queue = queue.Queue(server.queue_frames)
        self.outgoing: queue.Queue = queue.Queue(server.queue_results)
        self.times = StageTimes()
        self.pixels = Pipeline(server.pixel_stages(), times=self.times)
        track = server.tasks.track_stages(hello.fps)
        # With a gallery, the tracker starts from the identities known when the session starts
        # (vcm.live.gallery: stored again when it ends).
        self.gallery_lease = None
        if server.gallery is not None and track:
            known, self.gallery_lease = server.gallery.check_out(track[0].embedder)
            track[0] = TrackStage(track[0].tracker, fps=hello.fps, gallery=known)
        self.track_stage = track[0] if track else None
        self.tracking = Pipeline(track, times=self.times)
        self.decoder = LiveDecoder(codec, width=hello.width, height=hello.height,
                                   max_pending=server.queue_frames)
        self.detections: list = []
        self.finished: list[Frame] = []
        self.frames_skipped = 0
        self.results_dropped = 0
        self.send_failed = False
        self.reason = "complete"
        self.extractor: AccessUnitExtractor | None = None

    def run(self, buffer: bytearray) -> None:
        name_this_thread("srv-receive")
        analyser = spawn("srv-analyse", self._analyse)
        sender = spawn("srv-send", self._send)
        self._tell("started")
        try:
            self._receive(buffer)
        except Exception as error:  # noqa: BLE001 - the session must end and say why
            self.reason = f"error: {error}"
            LOG.exception("session %s", self.recording.folder.name)
        finally:
            self.decoder.finish()
            self.pending.put(_END)
            analyser.join(timeout=DECODE_SECONDS + 10)
            self.decoder.close()
            for pipeline in (self.pixels, self.tracking):
                pipeline.close()  # the backends' models and threads
            # The recording is complete before the edge hears the end.
            self._close_recording()
            self._tell("ended")
            self._put({"type": "end", "frames": len(self.finished),
                       "reason": self.reason, "frames_skipped": self.frames_skipped,
                       "results_dropped": self.results_dropped}, force=True)
            self.outgoing.put(_END)
            sender.join(timeout=IDLE_SECONDS)
            try:
                self.connection.close()
            except OSError:
                pass

    def _receive(self, buffer: bytearray) -> None:
        splitter = AccessUnitSplitter(self.syntax)
        extractor = AccessUnitExtractor(self.syntax, self.hello.width, self.hello.height)
        self.connection.settimeout(self.server.idle_seconds)
        data = bytes(buffer)
        while True:
            if not data:
                try:
                    data = self.connection.recv(RECEIVE_BYTES)
                except socket.timeout:
                    self.reason = f"no data from the edge for {self.server.idle_seconds:g} s"
                    return
                except OSError as error:
                    self.reason = ("server stopped" if self.server.stopping.is_set()
                                   else f"disconnected ({error.strerror or error})")
                    return
                if not data:
                    if self.server.stopping.is_set():
                        self.reason = "server stopped"
                        return
                    break
            try:
                units = splitter.feed(data)
            except BitstreamError as error:
                self.reason = f"error: bad stream after frame {self.recording.frames}: {error}"
                return
            data = b""
            for unit in units:
                self._take(unit, extractor)
            if self.server.stopping.is_set():
                self.reason = "server stopped"
                return
        try:
            last = splitter.flush()
        except BitstreamError as error:
            self.reason = f"disconnected inside frame {self.recording.frames + 1} ({error})"
            return
        if last is not None:
            self._take(last, extractor)

    def _take(self, unit: bytes, extractor: AccessUnitExtractor) -> None:
        received = time.monotonic()
        # The tasks see the boxes exactly as the recording's detections.vcmd gives them back
        # (`vcm detections extract` writes that file), so the batch commands run on the
        # recording reproduce the session's results.
        detections = vcmd_frame(extractor.extract(unit), self.hello.width, self.hello.height)
        self.extractor = extractor
        self.recording.add_access_unit(unit)
        self.detections.append(detections)
        self.decoder.decode(unit)
        self.pending.put((detections, received, len(unit)))

    def _analyse(self) -> None:
        try:
            while True:
                item = self.pending.get()
                if item is _END:
                    break
                detections, received, size = item
                decoded = self.decoder.next_frame(timeout=DECODE_SECONDS)
                if decoded is None:
                    raise VcmError(f"the decoder stopped before frame {detections.frame} "
                                   f"({self.decoder.problem()})")
                image, decoded_at = decoded
                analysed_at = time.monotonic()
                frame = Frame.of(image, detections)
                lag = self.decoder.frames.qsize()
                skip = self.server.max_lag is not None and lag > self.server.max_lag
                before = dict(self.times.seconds)
                if skip:
                    self.frames_skipped += 1
                    done = [frame]
                else:
                    done = self.pixels.push(frame)
                for finished in done:
                    for tracked in self.tracking.push(finished):
                        self.finished.append(tracked)
                        times = {name: round(self.times.seconds[name] - before.get(name, 0.0), 6)
                                 for name in self.times.seconds}
                        times["decode"] = round(decoded_at - received, 6)
                        times["queue"] = round(analysed_at - decoded_at, 6)
                        message = frame_message(tracked, analysed=not skip, times=times,
                                                received=received, size=size)
                        self._put(message)
                        self._tell("frame", tracked.image, message)
        except Exception as error:  # noqa: BLE001 - reported in the session's end
            self.reason = f"error: {error}"
            LOG.exception("session %s analysis", self.recording.folder.name)
            # Stop the receiver: nothing more can be answered.
            try:
                self.connection.shutdown(socket.SHUT_RD)
            except OSError:
                pass
            while self.pending.get() is not _END:
                pass

    def _tell(self, event: str, *arguments) -> None:
        """Call every watcher's ``session_<event>(session, *arguments)`` (``started``;
        ``frame`` with the decoded picture and the frame message; ``ended``). A watcher's
        failure is logged; the session goes on."""
        for watcher in self.server.watchers:
            try:
                getattr(watcher, f"session_{event}")(self, *arguments)
            except Exception:  # noqa: BLE001 - the dashboard must not end a session
                LOG.exception("session %s: watcher %s", self.recording.folder.name, event)

    def _put(self, message: dict, force: bool = False) -> None:
        if message["type"] == "frame":
            message["clock"]["answered"] = time.monotonic()
        line = message_line(message)
        if message["type"] == "frame":
            self.recording.add_result(line)
        if force:
            self.outgoing.put(line)
            return
        try:
            self.outgoing.put_nowait(line)
        except queue.Full:
            self.results_dropped += 1

    def _send(self) -> None:
        self.connection.settimeout(self.server.idle_seconds)
        while True:
            line = self.outgoing.get()
            if line is _END:
                break
            if self.send_failed:
                continue
            try:
                self.connection.sendall(line)
            except OSError:
                self.send_failed = True

    def _close_recording(self) -> None:
        seconds = dict(self.times.seconds)
        counts = {"frames_analysed": len(self.finished) - self.frames_skipped,
                  "frames_skipped": self.frames_skipped,
                  "results_dropped": self.results_dropped,
                  "results_undelivered": self.send_failed}
        if self.reason != "complete":
            LOG.warning("session %s ended: %s", self.recording.folder.name, self.reason)
        # Frames the analysis never reached are not in the task files; the stream and its
        # detections still hold them (session.json: frames vs frames_analysed).
        frames = self.finished
        if self.gallery_lease is not None:
            counts["gallery"] = self._store_identities()
        embedded = None
        if self.extractor is not None:
            embedded = {**self.extractor.record(), "detections": "live"}
        self.recording.close(reason=self.reason, seconds=seconds, counts=counts,
                             detections=self.detections[: len(frames)], frames=frames,
                             embedded=embedded)


    def _store_identities(self) -> dict:
        """Store the session's identities in the server's gallery; what happened, for
        session.json (a gallery that cannot be written is said there and in the log)."""
        ids, embeddings = self.track_stage.identities()
        try:
            renumbered = self.server.gallery.check_in(ids, embeddings, self.gallery_lease)
        except VcmError as error:
            LOG.warning("session %s: gallery not stored: %s", self.recording.folder.name, error)
            return {"stored": 0, "error": str(error)}
        return {"stored": len(ids),
                "renumbered": {str(old): new for old, new in renumbered.items()}}


def vcmd_frame(frame: FrameDetections, width: int, height: int) -> FrameDetections:
    """``frame`` as a ``vcmd`` file (default options) gives it back."""
    from vcm.detformats.vcmd import quantise

    return quantise(DetectionSequence(width, height, [frame])).frames[0]


def frame_message(frame: Frame, *, analysed: bool, times: dict, received: float,
                  size: int) -> dict:
    """The ``frame`` results message of a finished frame (see docs/live.md)."""
    from vcm.keypoints import to_coco_result as pose_entry
    from vcm.masks import to_coco_result as mask_entry

    message = {
        "type": "frame", "frame": frame.number, "bytes": size, "analysed": analysed,
        "boxes": [[*map(float, box), float(score)] for box, score in zip(frame.boxes, frame.scores)],
    }
    if "pose" in frame.records:
        message["poses"] = [pose_entry(pose) for pose in frame.records["pose"]]
    if "segment" in frame.records:
        message["masks"] = [mask_entry(mask) for mask in frame.records["segment"]]
    if "track" in frame.records:
        tracks = frame.records["track"]
        message["tracks"] = [[int(track_id), *map(float, box)]
                             for track_id, box in zip(tracks.ids, tracks.boxes)]
    if "motion" in frame.records:
        message["motion"] = frame.records["motion"]
    message["times"] = times
    message["clock"] = {"received": received}
    return message


class AnalysisServer:
    """Listens for edges and runs a :class:`Session` for each (see the module docstring).

    Args:
        root: folder the session folders go in (created if missing).
        host, port: where to listen; port 0 lets the OS choose (see :attr:`address`).
        token: shared secret every client must send; required unless ``host`` is loopback.
        tasks: what runs on each frame.
        max_sessions: sessions at once; more clients are refused with an ``error`` line.
        queue_frames: frames held between the receiver and the analyser (and decoded).
        queue_results: result lines held for a slow edge before they are dropped.
        max_lag: see the module docstring; ``None``: every frame is analysed.
        idle_seconds: a session without a byte from its edge this long is ended.
        watchers: objects told of each session's start, frames and end (see
            :meth:`Session._tell`; the dashboard, :mod:`vcm.live.dashboard`).
        gallery: a :class:`vcm.live.gallery.LiveGallery` the sessions' tracker with
            appearance starts from and stores its identities in (``None``: none).
    """

    def __init__(self, root: str | Path, *, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, tasks: Tasks | None = None, max_sessions: int = 4,
                 queue_frames: int = 16, queue_results: int = 64, max_lag: int | None = None,
                 idle_seconds: float = IDLE_SECONDS, watchers=(), gallery=None) -> None:
        if not is_loopback(host) and not token:
            raise VcmError(f"{host}: listening on an address other than loopback needs a token "
                           "(--token or VCM_LIVE_TOKEN)")
        self.root = Path(root)
        self.host, self.port = host, port
        self.token = token
        self.tasks = tasks if tasks is not None else Tasks()
        if gallery is not None and not (self.tasks.track
                                        and self.tasks.track_options.get("appearance")):
            raise VcmError(f"{gallery.path}: --gallery is for tracking with appearance; set "
                           "the tracker option appearance (e.g. --track-option appearance=histogram)")
        if gallery is not None:
            from vcm.trackers import TRACKERS

            # Refused now, with one line, rather than at each session's start.
            gallery.check_out(TRACKERS.build(self.tasks.track, **self.tasks.track_options).embedder)
        self.gallery = gallery
        self.max_sessions = max_sessions
        self.queue_frames = queue_frames
        self.queue_results = queue_results
        self.max_lag = max_lag
        self.idle_seconds = idle_seconds
        self.watchers = list(watchers)
        self.stopping = threading.Event()
        self.sessions: list[Path] = []
        self.refused = 0
        self._active = threading.Semaphore(max_sessions)
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._spare: list | None = None
        self._spare_lock = threading.Lock()

    def pixel_stages(self) -> list:
        """A new session's pose and segment stages: the set prepared in advance if it is
        ready (and another is then prepared in the background), else a new set.

        Built when a session starts, the first set costs the backends' imports (0.6 s for
        MediaPipe) and each set its models' loading, all before the session's first frame;
        prepared in advance, a camera's first result comes that much sooner. No state is
        shared: each set serves one session only."""
        with self._spare_lock:
            stages, self._spare = self._spare, None
        if stages is None:
            return self.tasks.pixel_stages()
        spawn("srv-prepare", self._prepare)
        return stages

    def _prepare(self) -> None:
        """Build a spare set of pixel stages (closed at once if the server is stopping or
        already holds one)."""
        try:
            stages = self.tasks.pixel_stages()
        except Exception:  # noqa: BLE001 - a session builds its own and reports the error
            LOG.exception("preparing the pose and segment stages")
            return
        with self._spare_lock:
            if self._spare is None and not self.stopping.is_set():
                self._spare, stages = stages, []
        for stage in stages:
            stage.close()

    @property
    def address(self) -> tuple[str, int]:
        """The host and port listened on (the OS's port when 0 was asked)."""
        if self._listener is None:
            raise VcmError("the server is not started")
        return self._listener.getsockname()[:2]

    def start(self) -> AnalysisServer:
        """Bind; build the first session's pixel stages (see :meth:`pixel_stages`: a backend
        that cannot be built fails here, with its error); listen and accept in a background
        thread."""
        self.root.mkdir(parents=True, exist_ok=True)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
        except OSError as error:
            listener.close()
            raise VcmError(f"{self.host}:{self.port}: cannot listen ({error.strerror})") from None
        try:
            spare = self.tasks.pixel_stages()
        except BaseException:
            listener.close()
            raise
        with self._spare_lock:
            self._spare = spare
        listener.listen(16)
        listener.settimeout(0.2)
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()
        return self

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads = [alive for alive in self._threads if alive.is_alive()] + [thread]
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        if not self._active.acquire(blocking=False):
            self.refused += 1
            _refuse(connection, f"the server has {self.max_sessions} sessions already")
            return
        try:
            self._serve_session(connection)
        finally:
            self._active.release()

    def _serve_session(self, connection: socket.socket) -> None:
        buffer = bytearray()
        connection.settimeout(HANDSHAKE_SECONDS)
        try:
            line = read_line(connection, buffer, MAX_HELLO_BYTES)
            if line is None:
                raise ProtocolError("the connection closed before the hello line")
            hello = Hello.parse(line)
            if not token_matches(self.token, hello.token):
                raise ProtocolError("wrong or missing token")
            if hello.codec not in LIVE_CODECS:
                raise ProtocolError(f"codec must be one of {', '.join(LIVE_CODECS)}")
            try:
                codec = build_codec(hello.codec, **hello.options)
                codec.check_qp(hello.qp)
            except VcmError as error:
                raise ProtocolError(str(error)) from None
        except (ProtocolError, socket.timeout, OSError) as error:
            self.refused += 1
            message = "no hello line in time" if isinstance(error, socket.timeout) else str(error)
            _refuse(connection, message)
            return
        recording = Recording(self.root, hello, codec, self.tasks)
        self.sessions.append(recording.folder)
        self._connections.add(connection)
        try:
            session = Session(self, connection, hello, codec, recording)
        except Exception as error:
            _refuse(connection, f"cannot start the session ({error})")
            recording.close(reason=f"error: {error}", seconds={}, counts={}, detections=[],
                            frames=[], embedded=None)
            return
        try:
            connection.sendall(message_line({"type": "accepted", "session": recording.folder.name,
                                             "tasks": self.tasks.names()}))
        except OSError:
            pass
        try:
            session.run(buffer)
        finally:
            self._connections.discard(connection)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no session is running (``True``), at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, end the sessions (their recordings are closed) and wait."""
        self.stopping.set()
        if self._listener is not None:
            self._listener.close()
        for connection in list(self._connections):
            try:
                # The sessions' receivers see the end, record what they have and say why.
                connection.shutdown(socket.SHUT_RD)
            except OSError:
                pass
        if self._acceptor is not None:
            self._acceptor.join(timeout)
        self.wait_idle(timeout)
        with self._spare_lock:
            stages, self._spare = self._spare or [], None
        for stage in stages:
            stage.close()

    def serve_forever(self) -> None:
        """Run until interrupted (Ctrl-C or SIGTERM), then stop."""
        try:
            while not self.stopping.wait(0.5):
                pass
        finally:
            self.stop()


def _refuse(connection: socket.socket, reason: str) -> None:
    """Send an ``error`` line and close. Unread input is drained for a moment first (at most
    :data:`DRAIN_BYTES`), since closing a socket with unread input resets the connection and
    the client would lose the line."""
    try:
        connection.settimeout(REFUSE_SECONDS)
        connection.sendall(message_line({"type": "error", "error": reason}))
        connection.shutdown(socket.SHUT_WR)
        drained = 0
        while drained < DRAIN_BYTES:
            data = connection.recv(RECEIVE_BYTES)
            if not data:
                break
            drained += len(data)
    except OSError:
        pass
    finally:
        connection.close()


__all__ = ["AnalysisServer", "Recording", "Session", "Tasks", "frame_message", "is_loopback"]
