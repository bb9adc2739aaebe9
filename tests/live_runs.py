"""Live runs the live tests share: a `vcm` command in a child process that never outlives its
test, and a loopback session a browser watches while its edge holds a frame back."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from vcm.live.dashboard import Dashboard
from vcm.live.edge import Edge, open_source
from vcm.live.server import AnalysisServer, Tasks

SECONDS = 60
"""Longest wait of any step of a live test (a socket, a child process, a page)."""
GATE_FRAME = 6
"""The edge of :func:`watched_session` holds this frame back until the page has shown a frame
before it."""


@contextmanager
def vcm_process(*arguments: str) -> Iterator[subprocess.Popen]:
    """``python -m vcm ARGUMENTS`` as a child process whose stderr is a text pipe; when the
    block ends, however it ends, the child is killed (SIGKILL) if it still runs, and reaped."""
    process = subprocess.Popen([sys.executable, "-m", "vcm", *arguments],
                               stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=SECONDS)
        process.stderr.close()


def wait_for(condition, what: str):
    """The first true value ``condition()`` returns, polled for up to :data:`SECONDS`."""
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"the page did not show {what} in {SECONDS} s")


def page_text(browser, selector: str) -> str | None:
    """The text of the first element of the page that matches the CSS ``selector``, or
    ``None`` where none does."""
    from selenium.webdriver.common.by import By

    found = browser.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text if found else None


def gated_stream(sequence: Path, server: AnalysisServer, stages: list, gate: threading.Event,
                 results: Path, **options) -> tuple[threading.Thread, list]:
    """A thread (not started) that streams ``sequence`` through the edge ``stages`` to
    ``server`` by x265, holding frame :data:`GATE_FRAME` back until ``gate`` is set, and the
    list its edge's report goes to."""

    def gated(frames):
        for index, image in enumerate(frames, start=1):
            if index == GATE_FRAME:
                gate.wait(SECONDS)
            yield image

    source = open_source(str(sequence))
    source = dataclasses.replace(source, frames=gated(source.frames))
    edge = Edge(source, server.address, stages, codec="x265", results_path=results, **options)
    reports = []
    return threading.Thread(target=lambda: reports.append(edge.run()), daemon=True), reports


@contextmanager
def watched_session(browser, sequence: Path, stages: list, tasks: Tasks, tmp_path: Path,
                    **options) -> Iterator[tuple[int, list]]:
    """A loopback session of ``sequence`` (server in ``tmp_path / "sessions"``, results in
    ``tmp_path / "results.jsonl"``) that ``browser`` watches on a dashboard page: the page
    connects, the edge streams and holds frame :data:`GATE_FRAME` back until the page shows
    an earlier frame, then goes on to the end. Yields the first frame number the page showed
    and the list holding the edge's report once the page says the stream ended; the server
    and the dashboard stop when the block ends."""
    dashboard = Dashboard().start()
    server = AnalysisServer(tmp_path / "sessions", tasks=tasks, watchers=[dashboard]).start()
    gate = threading.Event()
    streaming, reports = gated_stream(sequence, server, stages, gate,
                                      tmp_path / "results.jsonl", **options)
    try:
        browser.get(dashboard.url())
        wait_for(lambda: page_text(browser, "#connection") == "connected", "connected")
        streaming.start()
        # While the edge holds the gate frame back, the page shows one of the frames before it.
        first = int(wait_for(lambda: (page_text(browser, "[data-stream] b.frame") or "-")
                             .strip("-"), "a frame number"))
        assert 1 <= first < GATE_FRAME
        gate.set()
        wait_for(lambda: (page_text(browser, "[data-stream] .state") or "").startswith("ended"),
                 "the end")
        streaming.join(SECONDS)
        yield first, reports
    finally:
        gate.set()
        server.stop(timeout=SECONDS)
        dashboard.stop()
