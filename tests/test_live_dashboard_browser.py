"""The live dashboard in a real browser (issue 21): headless Debian Chromium, driven through
Debian's chromedriver by Selenium, watches a loopback session (real x265 coding and decoding
of the 12-frame 160x96 synthetic sequence, exact boxes): the frame counter advances, the
track ids appear, the page logs no error (a Content-Security-Policy violation would be one),
and a screenshot is kept.

Nothing is downloaded: Selenium is given the browser and the driver (and ``SE_OFFLINE``), so
its driver manager never runs. The screenshot goes to ``$VCM_TEST_ARTIFACTS`` when set, else
to pytest's temporary folder; its path is printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from vcm.live.dashboard import Dashboard
from vcm.live.server import Tasks

from conftest import require, require_module
from live_runs import SECONDS, page_text, wait_for, watched_session
from test_live_server import FRAMES, edge_stages, sequence  # noqa: F401

HOW_CHROMIUM = "apt-get install chromium chromium-driver (Debian's packages; .ci/run does it)"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--window-size=1000,760")


def found_program(name: str) -> Path | None:
    path = shutil.which(name) or f"/usr/bin/{name}"
    return Path(path) if Path(path).is_file() else None


@pytest.fixture
def browser(tmp_path, monkeypatch):
    chromium = require(found_program("chromium"), "Debian's Chromium (/usr/bin/chromium)", HOW_CHROMIUM)
    chromedriver = require(found_program("chromedriver"), "Debian's chromedriver (/usr/bin/chromedriver)",
                           HOW_CHROMIUM)
    webdriver = require_module("selenium.webdriver", "pip install -e '.[dev]' (selenium)")
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(chromedriver)), options=options)
    driver.set_page_load_timeout(SECONDS)
    yield driver
    driver.quit()


def artifact_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("VCM_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def track_table(browser) -> list[list[str]]:
    """The rows of the first stream's track table, heading first, read in one step (the page
    replaces the table's rows at each update, so elements found one call earlier may be gone)."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('[data-stream] table.tracks tr'))"
        ".map(row => Array.from(row.children).map(cell => cell.textContent))")


def save_screenshot(browser, tmp_path: Path, name: str) -> Path:
    """The page's screenshot, saved as ``name`` in the artifact folder; its path is printed."""
    screenshot = artifact_folder(tmp_path) / name
    assert browser.save_screenshot(str(screenshot))
    print(f"dashboard screenshot: {screenshot}")
    return screenshot


def page_errors(browser) -> list[dict]:
    """The page's log entries of level SEVERE (a script error, a blocked request)."""
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_the_dashboard_page_shows_a_live_session_in_chromium(sequence, tmp_path, browser):
    from selenium.webdriver.common.by import By

    with watched_session(browser, sequence, edge_stages(sequence),
                         Tasks(pose=None, segment="box"), tmp_path) as (_, reports):
        assert page_text(browser, "[data-stream] b.frame") == str(FRAMES)
        assert page_text(browser, "[data-stream] .state") == "ended: complete"
        screenshot = save_screenshot(browser, tmp_path, "dashboard.png")
        heading, *rows = track_table(browser)
        picture = browser.find_element(By.CSS_SELECTOR, "[data-stream] img")
        shown = browser.execute_script("return [arguments[0].naturalWidth, arguments[0].complete]",
                                       picture)
        problems = page_errors(browser)
    assert reports and reports[0].results == FRAMES
    # The page's table shows the tracks of the last frame the edge got, in its order.
    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    last = results[-1]
    assert last["frame"] == FRAMES and last["tracks"]
    assert [row[0] for row in rows] == [f"#{track[0]}" for track in last["tracks"]]
    # Motion labels only where the server runs a motion task (message["motion"]).
    if "motion" in last:
        labels = {entry["track"]: entry["label"] for entry in last["motion"]}
        assert [row[1] for row in rows] == [labels.get(track[0], "-") for track in last["tracks"]]
    else:
        assert heading == ["track"]
    assert shown == [160, True]  # the decoded picture, 160 px wide, loaded
    assert problems == []
    assert screenshot.stat().st_size > 1000


def test_the_page_shows_motion_labels_and_counts_when_the_results_have_them(browser):
    """The motion task's results (``message["motion"]``) in the page's table, fed to the
    dashboard as a server's session would."""
    import numpy as np
    from selenium.webdriver.common.by import By

    from test_live_dashboard import fake_session

    dashboard = Dashboard().start()
    session = fake_session("20261206T000000Z-002")
    try:
        browser.get(dashboard.url())
        wait_for(lambda: browser.find_element(By.ID, "connection").text == "connected", "connected")
        dashboard.session_started(session)
        dashboard.session_frame(session, np.zeros((240, 320, 3), np.uint8), {
            "type": "frame", "frame": 1, "bytes": 100, "boxes": [],
            "tracks": [[4, 10, 10, 60, 200], [9, 100, 10, 150, 200]],
            "motion": [{"track": 4, "label": "squat", "score": 0.91, "reps": 3}]})

        table = wait_for(lambda: (rows := track_table(browser)) and len(rows) > 1 and rows, "the tracks")
    finally:
        dashboard.stop()
    assert table == [["track", "motion", "score", "reps"], ["#4", "squat", "0.91", "3"],
                     ["#9", "-", "-", "-"]]


def test_a_live_motion_session_shows_the_squat_and_its_track_in_chromium(tmp_path, browser):
    """A loopback session on a synthetic squat clip (x265, BlazePose on the decoded pictures,
    IoU tracks, the k-NN motion task with a gallery fitted on the other synthetic clips' truth
    poses): the page's frame counter advances, and its table ends on the clip's one track,
    labelled ``squat`` with the session's count. The screenshot is kept."""
    from vcm.motion.evaluate import clip_frames, fit_gallery
    from vcm.motion.gallery import write_gallery
    from vcm.motion.labels import read_labels
    from vcm.synth import synthesize_motions

    clips = tmp_path / "clips"
    synthesize_motions(clips, motions=("squat", "jumping_jack", "arm_raise"), clips_per_motion=2,
                       width=192, height=160, fps=10, reps=(2, 2))
    others = [row for row in read_labels(clips / "labels.csv") if row.clip.name != "squat-1"]
    assert len(others) == 5  # the gallery never sees the clip the session streams
    model = tmp_path / "gallery.json"
    write_gallery(fit_gallery(others, {row.clip: clip_frames(row.clip) for row in others}), model)
    clip = clips / "squat-1"

    tasks = Tasks(pose="blazepose", track="iou", motion="knn",
                  motion_options={"model": str(model)})
    with watched_session(browser, clip, edge_stages(clip), tasks, tmp_path,
                         qp=27) as (first, reports):
        last_shown = int(page_text(browser, "[data-stream] b.frame"))
        table = track_table(browser)
        screenshot = save_screenshot(browser, tmp_path, "dashboard-motion.png")
        problems = page_errors(browser)
    assert reports and reports[0].server_end["reason"] == "complete"
    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    last = results[-1]
    assert last_shown == last["frame"] == reports[0].results > first
    # The clip's one person: tracked, posed, recognised as squatting; the page shows the
    # server's last answer for it, count included.
    assert len(last["motion"]) == 1
    entry = last["motion"][0]
    assert (entry["label"], entry["reps"]) == ("squat", 2)  # the clip's 2 squats
    assert table == [["track", "motion", "score", "reps"],
                     [f"#{entry['track']}", "squat", f"{entry['score']:.2f}", str(entry["reps"])]]
    assert problems == []
    assert screenshot.stat().st_size > 1000
