"""Rebuild the task files of a session whose server stopped before its end (killed, power
lost): ``vcm session rebuild FOLDER``.

Such a recording holds ``session.json`` (``"state": "running"``), the stream with its whole
access units up to the last ``frames.jsonl`` line's ``end`` (and maybe part of the next one)
and the answers sent; the files written at a session's end are missing. The rebuild cuts the
stream at that ``end``, writes its ``vcm encode`` sidecar, then runs the batch commands'
functions on it (:func:`vcm.codecs.decode_video`, :func:`vcm.bitstream.extract_detections`,
:func:`vcm.pipeline.tasks.box_task`, :func:`vcm.pipeline.tasks.track_task`,
:func:`vcm.motion.run.motion_file`) with the session's tasks, so its files are those
``vcm decode``, ``vcm detections extract``, ``vcm pose``, ``vcm segment``, ``vcm track`` and
``vcm motion run`` write on the recorded stream, byte for byte.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from vcm.errors import VcmError

MAX_SESSION_JSON_BYTES = 1 << 20
INDEX_LINE_BYTES = 256
"""A ``frames.jsonl`` line is ``{"frame": N, "end": N}``: far below this."""


@dataclass
class RebuildResult:
    """What :func:`rebuild_session` did: ``frames`` and ``bytes`` of the stream kept,
    ``cut_bytes`` of an incomplete last access unit removed, ``written`` file names."""

    folder: Path
    frames: int
    bytes: int
    cut_bytes: int
    written: list[str] = field(default_factory=list)


def rebuild_session(folder: Path, *, progress: bool = False) -> RebuildResult:
    """Rebuild the end-of-session files of the interrupted session recorded in ``folder`` (see
    the module docstring); refuses a session that ended (its files are whole already)."""
    from vcm.bitstream import extract_detections
    from vcm.bitstream.access_units import AccessUnitExtractor, AccessUnitSplitter
    from vcm.codecs import decode_video
    from vcm.codecs.base import build_codec
    from vcm.detformats import format_for_output
    from vcm.fileio import atomic_output
    from vcm.live.coding import SYNTAX
    from vcm.live.server import Tasks, write_session_motion, write_stream_sidecar
    from vcm.pipeline.tasks import box_task, track_task
    from vcm.pose import POSE_ESTIMATORS
    from vcm.segmenters import SEGMENTERS
    from vcm.trackers import TRACKERS

    folder = Path(folder)
    settings = _read_settings(folder)
    if settings.get("state") != "running":
        raise VcmError(f"{folder / 'session.json'}: the session is {settings.get('state')!r}, "
                       "not 'running': only an interrupted session is rebuilt")
    hello, tasks_description, stream_name = _session_hello(folder, settings)
    try:
        tasks = Tasks(**tasks_description)
        codec = build_codec(hello.codec, **hello.options)
    except (TypeError, VcmError) as error:
        raise VcmError(f"{folder / 'session.json'}: {error}") from None
    stream_path = folder / stream_name
    if stream_path.name != stream_name or stream_path.suffix not in (".266", ".265"):
        raise VcmError(f"{folder / 'session.json'}: stream {stream_name!r} is no stream file name")
    frames, end = _last_complete_frame(folder / "frames.jsonl")
    if not stream_path.is_file() or stream_path.stat().st_size < end:
        raise VcmError(f"{stream_path}: shorter than the {end} bytes frames.jsonl says it holds")
    cut = stream_path.stat().st_size - end
    if frames == 0:
        raise VcmError(f"{folder / 'frames.jsonl'}: no complete frame was recorded")
    if cut:
        with open(stream_path, "r+b") as stream:
            stream.truncate(end)  # the recording is valid up to `end`; past it a cut AU

    # The sidecar says what the SEIs carried, as the server writes it at a session's end.
    syntax = SYNTAX[hello.codec]
    splitter = AccessUnitSplitter(syntax)
    extractor = AccessUnitExtractor(syntax, hello.width, hello.height)
    units = 0
    with open(stream_path, "rb") as stream:
        while chunk := stream.read(1 << 16):
            for unit in splitter.feed(chunk):
                extractor.extract(unit)
                units += 1
    if (last := splitter.flush()) is not None:
        extractor.extract(last)
        units += 1
    if units != frames:
        raise VcmError(f"{stream_path}: {units} access units, frames.jsonl says {frames}")
    write_stream_sidecar(stream_path, hello, codec, frames=frames, size=end,
                         embedded={**extractor.record(), "detections": "live"})
    result = RebuildResult(folder, frames, end, cut, written=[stream_path.name + ".json"])

    detections_path = folder / "detections.vcmd"
    format_for_output(detections_path, None).write(extract_detections(stream_path),
                                                   detections_path)
    result.written.append(detections_path.name)
    if tasks.pose or tasks.segment:
        work = Path(tempfile.mkdtemp(prefix=".rebuild-", dir=folder))
        try:
            decoded = work / "decoded.mkv"
            decode_video(stream_path, decoded)
            for task, name, options, registry, output in (
                    ("pose", tasks.pose, tasks.pose_options, POSE_ESTIMATORS, "poses.json"),
                    ("segment", tasks.segment, tasks.segment_options, SEGMENTERS, "masks.json")):
                if name:
                    backend = registry.build(name, **options)
                    box_task(task, decoded, detections_path, folder / output, backend,
                             score=tasks.score, progress=progress)
                    result.written.append(output)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if tasks.track:
        track_task(detections_path, folder / "tracks.txt",
                   TRACKERS.build(tasks.track, **tasks.track_options),
                   tracker_name=tasks.track, options=tasks.track_options, fps=hello.fps)
        result.written.append("tracks.txt")
    if tasks.motion:
        write_session_motion(folder, tasks, hello.fps)
        result.written.append("motion.jsonl")
    state = {**settings, "state": "ended", "frames": frames, "bytes": end,
             "reason": f"rebuilt: the server stopped after frame {frames}",
             "rebuilt_cut_bytes": cut}
    with atomic_output(folder / "session.json") as temporary:
        temporary.write_text(json.dumps(state, indent=2) + "\n")
    return result


def _read_settings(folder: Path) -> dict:
    path = folder / "session.json"
    if not path.is_file():
        raise VcmError(f"{path}: no such file (not a session folder of `vcm serve`)")
    if path.stat().st_size > MAX_SESSION_JSON_BYTES:
        raise VcmError(f"{path}: larger than {MAX_SESSION_JSON_BYTES} bytes")
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise VcmError(f"{path}: not JSON ({error})") from None
    if not isinstance(settings, dict):
        raise VcmError(f"{path}: not a JSON object")
    return settings


def _session_hello(folder: Path, settings: dict):
    """The session's :class:`~vcm.live.protocol.Hello` (checked as the server checks one),
    its tasks' description and its stream's file name."""
    from vcm.live.protocol import Hello, ProtocolError

    try:
        hello = Hello.parse(Hello(**{key: settings[key] for key in (
            "codec", "options", "qp", "width", "height", "fps")}).to_line())
        tasks, stream = dict(settings["tasks"]), str(settings["stream"])
    except (KeyError, TypeError, ValueError, ProtocolError) as error:
        raise VcmError(f"{folder / 'session.json'}: not the settings of a session "
                       f"({type(error).__name__}: {error})") from None
    return hello, tasks, stream


def _last_complete_frame(index: Path) -> tuple[int, int]:
    """``(frames, end)`` of the last whole line of ``frames.jsonl``: a line cut by the kill
    (no newline, or not JSON) is left out. Lines must count frames 1, 2, ... with growing
    ends."""
    if not index.is_file():
        raise VcmError(f"{index}: no such file")
    frames, end = 0, 0
    with open(index, "rb") as lines:
        while line := lines.readline(INDEX_LINE_BYTES + 1):
            if len(line) > INDEX_LINE_BYTES:
                raise VcmError(f"{index}: line {frames + 1} is longer than {INDEX_LINE_BYTES} bytes")
            if not line.endswith(b"\n"):
                break  # cut by the kill
            try:
                entry = json.loads(line)
                number, offset = int(entry["frame"]), int(entry["end"])
            except (ValueError, TypeError, KeyError):
                raise VcmError(f"{index}: line {frames + 1} is not {{\"frame\", \"end\"}}") from None
            if number != frames + 1 or offset <= end:
                raise VcmError(f"{index}: line {frames + 1} says frame {number} ends at {offset}")
            frames, end = number, offset
    return frames, end


__all__ = ["RebuildResult", "rebuild_session"]
