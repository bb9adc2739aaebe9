"""The dashboard screenshot of docs/live.md: a loopback live session on real footage, watched
in headless Debian Chromium (the browser test's set-up, tests/test_live_dashboard_browser.py).

The edge runs yolo-fastest (score 0.6) and the paper's foreground, x265 at QP 32; the server
runs BlazePose, MediaPipe masks and iou tracks; the page is captured once the stream has
ended (its last frame), and the PNG is reduced to 128 colours to stay small.

    VCM_MIRROR=/path/to/mirror python experiments/dashboard_screenshot.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from vcm.detectors import DETECTORS
from vcm.live.dashboard import Dashboard
from vcm.live.edge import Edge, open_source
from vcm.live.server import AnalysisServer, Tasks
from vcm.pipeline import DetectStage, foreground_stages

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")


def main() -> None:
    mirror = Path(os.environ.get("VCM_MIRROR", "../shared/mirror"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(mirror / "datasets" / "PETS09-S3MF1"))
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--output", type=Path, default=Path("docs/dashboard.png"))
    parser.add_argument("--size", default="1000,1010", help="browser window WIDTH,HEIGHT")
    arguments = parser.parse_args()
    os.environ["SE_OFFLINE"] = "true"

    with tempfile.TemporaryDirectory() as work:
        dashboard = Dashboard().start()
        server = AnalysisServer(Path(work) / "sessions", watchers=[dashboard],
                                tasks=Tasks(pose="blazepose", segment="mediapipe", track="iou")).start()
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in (*FLAGS, f"--window-size={arguments.size}", f"--user-data-dir={work}/profile"):
            options.add_argument(flag)
        browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            browser.get(dashboard.url())
            stages = [DetectStage(DETECTORS.build("yolo-fastest"), score=0.6), *foreground_stages()]
            edge = Edge(open_source(arguments.source), server.address, stages, codec="x265", qp=32,
                        max_frames=arguments.frames)
            streaming = threading.Thread(target=edge.run, daemon=True)
            streaming.start()
            streaming.join()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                states = browser.find_elements(By.CSS_SELECTOR, "[data-stream] .state")
                if states and states[0].text.startswith("ended"):
                    break
                time.sleep(0.1)
            time.sleep(0.5)  # the last picture decoded and laid out
            shot = Path(work) / "shot.png"
            browser.save_screenshot(str(shot))
        finally:
            browser.quit()
            server.stop()
            dashboard.stop()
        picture = Image.open(shot).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        picture.save(arguments.output, optimize=True)
    print(f"{arguments.output}: {arguments.output.stat().st_size} bytes")


if __name__ == "__main__":
    main()
