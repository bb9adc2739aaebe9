"""Live streaming: an edge that detects, renders, codes and sends (:mod:`vcm.live.edge`), an
analysis server that decodes, runs the tasks, answers and records (:mod:`vcm.live.server`),
the protocol between them (:mod:`vcm.live.protocol`, specified in docs/live.md) and the
low-delay coders (:mod:`vcm.live.coding`). Both ends run the per-frame components of
:mod:`vcm.pipeline`, the same code as the batch commands.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

STATUS_SECONDS = 0.5
"""Least time between two status updates."""


def live_tasks(pose: str, segment: str, track: str, *, pose_options: dict | None = None,
               segment_options: dict | None = None, track_options: dict | None = None,
               score: float = 0.0, motion: str = "none", motion_options: dict | None = None):
    """A server's :class:`~vcm.live.server.Tasks` from registry names (``none``: the task is
    off) and each backend's keyword options; an unknown name or an option the backend does not
    take is a :class:`~vcm.errors.VcmError` now, before any session starts."""
    from vcm.live.server import Tasks
    from vcm.motion import MOTION_RECOGNIZERS
    from vcm.pose import POSE_ESTIMATORS
    from vcm.segmenters import SEGMENTERS
    from vcm.trackers import TRACKERS

    chosen: dict = {}
    for kind, registry, name, options in (("pose", POSE_ESTIMATORS, pose, pose_options),
                                          ("segment", SEGMENTERS, segment, segment_options),
                                          ("track", TRACKERS, track, track_options),
                                          ("motion", MOTION_RECOGNIZERS, motion, motion_options)):
        if name == "none":
            chosen[kind], chosen[f"{kind}_options"] = None, {}
            continue
        options = dict(options or {})
        registry.get(name)
        registry.check_options(name, options)
        chosen[kind], chosen[f"{kind}_options"] = name, options
    return Tasks(**chosen, score=score)


def run_edge(source: str, *, address: tuple[str, int] | None, detector, detect_score: float,
             foreground: dict, codec: str, qp: int, preset: str | None, intra_period: int,
             realtime: bool, max_frames: int | None, token: str | None,
             results_path: Path | None, tasks=None, root: Path = Path("sessions"),
             fps: float | None = None, reconnects: int = 0, status: Callable | None = None,
             watchers=(), gallery=None):
    """Stream ``source`` to ``address``, or (``address`` ``None``) to a server started in this
    process on 127.0.0.1 that runs ``tasks`` and records in ``root``; ``fps`` overrides the
    source's frame rate (a file is paced at it with ``realtime``); ``watchers`` watch that
    server's sessions (the dashboard, :mod:`vcm.live.dashboard`) and its tracker with
    appearance keeps its identities in ``gallery`` (a :class:`~vcm.live.gallery.LiveGallery`).
    Return the :class:`~vcm.live.edge.EdgeReport`."""
    from vcm.live.edge import Edge, open_source
    from vcm.live.server import AnalysisServer
    from vcm.masking import ForegroundOptions
    from vcm.pipeline import DetectStage, foreground_stages

    frames = open_source(source, fps=fps)
    variant = ForegroundOptions.from_options(foreground)
    stages = [DetectStage(detector, score=detect_score),
              *foreground_stages(variant, min_score=detect_score)]
    server = None
    if address is None:
        server = AnalysisServer(root, tasks=tasks, watchers=watchers, gallery=gallery).start()
        address = server.address
    last = [0.0]

    def on_result(timing, report) -> None:
        now = time.monotonic()
        if status is not None and now - last[0] >= STATUS_SECONDS:
            last[0] = now
            status(report)

    try:
        edge = Edge(frames, address, stages, codec=codec, qp=qp, preset=preset,
                    intra_period=intra_period, token=token, realtime=realtime,
                    max_frames=max_frames, results_path=results_path, reconnects=reconnects,
                    on_result=on_result)
        report = edge.run()
    finally:
        if server is not None:
            server.stop()
    if status is not None:
        status(report)
    return report
