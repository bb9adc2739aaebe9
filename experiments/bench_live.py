"""Live streaming on loopback: latency by stage, throughput and bitrate against their targets.

For each footage, codec and QP it runs the real commands as separate processes, ``vcm serve``
(BlazePose + iou on every frame) and ``vcm stream --to`` (yolo-fastest, the paper's
foreground, low-delay coding), and reads the edge's JSON report:

* a *throughput* run: the file as fast as the pipeline takes it; frames per second of
  results over the whole run (and, beside it, from the first result to the last), compared
  with the bound ``min(1 / slowest stage, cores / sum of stages)``: the slowest stage by its
  wall service time per frame (detect, render, pose and track as measured in the run, encode
  and decode as the coder alone takes on the same rendered frames, timed here before the
  run), the sum by each stage's CPU time per frame (all its threads and coder processes,
  measured alone as ``--capacity`` does at the footage's own size); and the CPU the run
  itself took per frame (edge and server processes with their coders), its share of the
  cores, and that CPU by thread and coder process (``thread_cpu_seconds``, from ``/proc``:
  the live threads name themselves);
* a *latency* run: the file paced (``--realtime --fps``) at its frame rate or at 80% of the
  throughput run's rate if that is lower (else latency would be queueing); capture-to-result
  latency p50 / p95 / max and the median of each stage, and p95 compared with the sum of the
  median stages plus two frame intervals (at the paced rate);
* with ``--streams 4`` (default), four edges at once against one server (throughput runs):
  each stream's fps compared with a quarter of the single stream's.

With ``--capacity WxH`` (repeatable) it runs no server: each stage of one stream runs alone
on the footage resized to WxH and is timed by the CPU time it takes; from the edge's sum
(detect, render, encode) and the server's (decode, pose, track) it prints how many streams
one core serves at the footage's frame rate.

Prints one JSON object per configuration on stderr and the Markdown tables (the rows of
docs/live.md) on stdout. Needs VCM_MIRROR (yolo-fastest, PETS09-S3MF1). The machine's load
matters: say what else ran.

    python experiments/bench_live.py --codec vvenc --codec x265 > live-table.md   # docs/live.md's tables
    python experiments/bench_live.py --footage pets --qp 32 --codec vvenc --streams 1
    python experiments/bench_live.py --capacity 384x288 --capacity 768x576 --capacity 1280x720 --frames 20
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECONDS = 900
EDGE_STAGES = ("detect", "render", "encode", "transport", "decode", "queue", "pose", "track",
               "return")


def footage(name: str, work: Path) -> Path:
    if name == "pets":
        mirror = os.environ.get("VCM_MIRROR")
        if not mirror:
            sys.exit("error: VCM_MIRROR is not set (PETS09-S3MF1 and yolo-fastest live there)")
        return Path(mirror) / "datasets" / "PETS09-S3MF1"
    folder = work / "synth"
    if not folder.exists():
        subprocess.run([sys.executable, "-m", "vcm", "data", "synth", str(folder)], check=True,
                       timeout=SECONDS, capture_output=True)
    return folder


def start_server(root: Path) -> tuple[subprocess.Popen, int]:
    server = subprocess.Popen(
        [sys.executable, "-m", "vcm", "serve", "--root", str(root), "--port", "0",
         "--pose", "blazepose", "--track", "iou", "--segment", "none"],
        stderr=subprocess.PIPE, text=True)
    line = server.stderr.readline()
    match = re.search(r"listening on [\d.]+:(\d+)", line)
    if not match:
        server.kill()
        sys.exit(f"error: vcm serve did not start: {line}{server.stderr.read()}")
    return server, int(match.group(1))


def stream(source: Path, port: int, codec: str, qp: int, results: Path, frames: int,
           paced_fps: float | None = None) -> subprocess.Popen:
    argv = [sys.executable, "-m", "vcm", "stream", str(source), "--to", f"127.0.0.1:{port}",
            "-o", str(results), "--detector", "yolo-fastest", "--codec", codec, "--qp", str(qp),
            "--max-frames", str(frames), "--no-progress"]
    if paced_fps is not None:
        argv += ["--realtime", "--fps", f"{paced_fps:.4f}"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def report_of(edge: subprocess.Popen) -> dict:
    out, err = edge.communicate(timeout=SECONDS)
    if edge.returncode != 0:
        sys.exit(f"error: vcm stream failed: {err.strip().splitlines()[-1:]}")
    return json.loads(out)


def coder_seconds(source: Path, codec: str, qp: int, frames: int = 40) -> dict:
    """Seconds per frame of the encoder alone and the decoder alone on rendered frames."""
    from vcm.detectors import DETECTORS
    from vcm.live.coding import live_codec
    from vcm.live.edge import open_source
    from vcm.pipeline import DetectStage, Frame, Pipeline, foreground_stages

    video = open_source(str(source))
    pipeline = Pipeline([DetectStage(DETECTORS.build("yolo-fastest"), score=0.6),
                         *foreground_stages()])
    rendered = []
    for number, image in enumerate(video.frames, start=1):
        rendered += [frame.image for frame in pipeline.push(Frame(number, image))]
        if len(rendered) >= frames:
            break
    rendered += [frame.image for frame in pipeline.finish()]
    codec_object = live_codec(codec)
    start = time.perf_counter()
    units = encode_frames(codec_object, rendered, fps=video.fps, qp=qp)
    encode = (time.perf_counter() - start) / len(rendered)
    start = time.perf_counter()
    count = len(decode_units(codec_object, units, width=video.width, height=video.height))
    decode = (time.perf_counter() - start) / max(count, 1)
    return {"encode": encode, "decode": decode}


def encode_frames(codec, images: list, *, fps: float, qp: int) -> list[bytes]:
    """The access units the live encoder gives for ``images`` (its process waited for)."""
    from vcm.live.coding import LiveEncoder

    height, width = images[0].shape[:2]
    encoder = LiveEncoder(codec, width=width, height=height, fps=fps, qp=qp)
    try:
        for image in images:
            encoder.encode(image)
        encoder.finish()
        units = []
        while (unit := encoder.next_access_unit(timeout=SECONDS)) is not None:
            units.append(unit)
    finally:
        encoder.close()
    return units


def decode_units(codec, units: list[bytes], *, width: int, height: int) -> list:
    """The pictures the live decoder gives for ``units`` (its process waited for)."""
    from vcm.live.coding import LiveDecoder

    decoder = LiveDecoder(codec, width=width, height=height, max_pending=len(units) + 1)
    try:
        for unit in units:
            decoder.decode(unit)
        decoder.finish()
        pictures = []
        while (item := decoder.next_frame(timeout=SECONDS)) is not None:
            pictures.append(item[0])
    finally:
        decoder.close()
    return pictures


def child_cpu_seconds() -> float:
    """CPU seconds (user + system) of this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stage_cpu_seconds(source: Path, size: tuple[int, int], codec: str, qp: int,
                      frames: int) -> dict:
    """CPU seconds per frame of each stage of one stream, the footage resized to ``size``.

    The stages run one after another in this process, each timed by the CPU time it takes
    (``time.process_time`` for detect, render, pose and track, which run here, all threads
    counted; the ffmpeg child's user + system time for encode and decode), so the cost does
    not count time spent waiting for a core other jobs hold. Returns seconds per frame by
    stage, the edge's and the server's sums, and the boxes per frame (pose runs per box).
    """
    import cv2

    from vcm.detectors import DETECTORS
    from vcm.live.coding import live_codec
    from vcm.live.edge import open_source
    from vcm.live.server import vcmd_frame
    from vcm.pipeline import DetectStage, Frame, Pipeline, PoseStage, TrackStage, foreground_stages
    from vcm.pose import POSE_ESTIMATORS
    from vcm.trackers import TRACKERS

    width, height = size
    video = open_source(str(source))
    detect = DetectStage(DETECTORS.build("yolo-fastest"), score=0.6)
    render = Pipeline(foreground_stages())
    cpu = dict.fromkeys(("detect", "render", "encode", "decode", "pose", "track"), 0.0)
    rendered, detections = [], []
    for number, image in enumerate(video.frames, start=1):
        if number > frames:
            break
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        start = time.process_time()
        (found,) = detect.process_batch([Frame(number, image)])
        if number > 1:  # the first call loads the model
            cpu["detect"] += time.process_time() - start
        start = time.process_time()
        done = render.push(found)
        cpu["render"] += time.process_time() - start
        rendered += [frame.image for frame in done]
        detections += [vcmd_frame(frame.detections, width, height) for frame in done]
    start = time.process_time()
    done = render.finish()
    cpu["render"] += time.process_time() - start
    rendered += [frame.image for frame in done]
    detections += [vcmd_frame(frame.detections, width, height) for frame in done]
    detect.close()
    render.close()
    codec_object = live_codec(codec)
    before = child_cpu_seconds()
    units = encode_frames(codec_object, rendered, fps=video.fps, qp=qp)
    cpu["encode"] = child_cpu_seconds() - before
    before = child_cpu_seconds()
    decoded = decode_units(codec_object, units, width=width, height=height)
    cpu["decode"] = child_cpu_seconds() - before
    pose = PoseStage(POSE_ESTIMATORS.build("blazepose"))
    track = TrackStage(TRACKERS.build("iou"), fps=video.fps)
    for image, boxes in zip(decoded, detections):
        start = time.process_time()
        (posed,) = pose.process_batch([Frame.of(image, boxes)])
        middle = time.process_time()
        track.process_batch([posed])
        if boxes.frame > 1:  # the first call loads the model
            cpu["pose"] += middle - start
        cpu["track"] += time.process_time() - middle
    pose.close()
    count = len(decoded)
    if count < 2:
        sys.exit(f"error: {source}: {count} frames decoded; --frames must give at least 2")
    # detect and pose leave the first frame out (model loading), the others count all frames
    per_frame = {name: seconds / (count - 1 if name in ("detect", "pose") else count)
                 for name, seconds in cpu.items()}
    return {"footage": source.name, "width": width, "height": height, "codec": codec, "qp": qp,
            "frames": count, "fps": video.fps,
            "boxes_per_frame": sum(len(boxes.boxes) for boxes in detections) / count,
            "cpu_seconds": per_frame,
            "edge": sum(per_frame[name] for name in ("detect", "render", "encode")),
            "server": sum(per_frame[name] for name in ("decode", "pose", "track"))}


def capacity_table(results: list[dict]) -> str:
    """Streams one core serves at each footage's own frame rate, from the CPU cost."""
    stages = ("detect", "render", "encode", "decode", "pose", "track")
    lines = ["| footage | size | codec | QP | boxes / frame | " + " | ".join(stages)
             + " | edge ms | server ms | server frames / core-s | fps | server streams / core "
             "| edge streams / core |",
             "|---|---|---|---|---|" + "---|" * len(stages) + "---|---|---|---|---|---|"]
    for result in results:
        cpu = result["cpu_seconds"]
        lines.append(
            f"| {result['footage']} | {result['width']}x{result['height']} | {result['codec']} | "
            f"{result['qp']} | {result['boxes_per_frame']:.1f} | "
            + " | ".join(f"{cpu[name] * 1e3:.1f}" for name in stages)
            + f" | {result['edge'] * 1e3:.0f} | {result['server'] * 1e3:.0f} | "
            f"{1 / result['server']:.1f} | {result['fps']:g} | "
            f"{1 / (result['fps'] * result['server']):.2f} | "
            f"{1 / (result['fps'] * result['edge']):.2f} |")
    return "\n".join(lines)


def stat_cpu_seconds(stat: Path, *, children: bool) -> float:
    """CPU seconds (user + system) in a ``/proc`` ``stat`` file (a process's or a thread's),
    with its waited-for children's if ``children``."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    # fields[11:15] are utime, stime, cutime, cstime (proc(5), fields 14-17), in clock ticks
    return sum(int(value) for value in fields[11:15 if children else 13]) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and its waited-for children so far."""
    return stat_cpu_seconds(Path(f"/proc/{pid}/stat"), children=True)


class ThreadSampler:
    """CPU seconds of every thread of processes ``roots`` and of their descendants (the
    coders), read from ``/proc`` every ``interval`` s while running (a thread's last reading
    is kept, so threads that end are counted), by label: ``edge:`` or ``server:``, then the
    thread's name (the live threads name themselves, :mod:`vcm.live.threads`; a coder's
    threads are summed under its process name)."""

    def __init__(self, roots: dict[str, int], interval: float = 0.2) -> None:
        import threading

        self.roots = roots
        self.interval = interval
        self.seen: dict[tuple[int, int], tuple[str, float]] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _tasks(self, pid: int, label: str) -> None:
        try:
            process = Path(f"/proc/{pid}/comm").read_text().strip()
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            return
        for task in tasks:
            try:
                seconds = stat_cpu_seconds(task / "stat", children=False)
                name = (task / "comm").read_text().strip()
                children = (task / "children").read_text().split()
            except OSError:
                continue
            # a coder (not a Python process) is counted as one, whatever its threads
            key = f"{label}:{name if process.startswith('python') else process}"
            self.seen[(pid, int(task.name))] = (key, seconds)
            for child in children:
                self._tasks(int(child), label)

    def _sample(self) -> None:
        for label, pid in self.roots.items():
            self._tasks(pid, label)

    def _run(self) -> None:
        while not self.done.wait(self.interval):
            self._sample()

    def stop(self) -> dict[str, float]:
        """CPU seconds by label, read once more now (so a sampler stopped at once still has
        its reading)."""
        self.done.set()
        self.thread.join()
        self._sample()
        totals: dict[str, float] = {}
        for key, seconds in self.seen.values():
            totals[key] = totals.get(key, 0.0) + seconds
        return totals


def run_config(source: Path, codec: str, qp: int, streams: int, frames: int, work: Path) -> dict:
    load_before = os.getloadavg()[0]
    coders = coder_seconds(source, codec, qp)
    width, height = (int(re.search(rf"{key}=(\d+)", (source / "seqinfo.ini").read_text())
                         .group(1)) for key in ("imWidth", "imHeight"))
    alone = stage_cpu_seconds(source, (width, height), codec, qp, 40)["cpu_seconds"]
    root = work / f"sessions-{codec}-{qp}"
    source_fps = float(re.search(r"frameRate=([\d.]+)",
                                 (source / "seqinfo.ini").read_text()).group(1))
    server, port = start_server(root)
    try:
        server_before, edge_before = process_cpu_seconds(server.pid), child_cpu_seconds()
        server_threads_before = ThreadSampler({"server": server.pid}).stop()
        edge = stream(source, port, codec, qp, work / "throughput.jsonl", frames)
        sampler = ThreadSampler({"server": server.pid, "edge": edge.pid})
        single = report_of(edge)
        threads = sampler.stop()
        threads = {key: seconds - server_threads_before.get(key, 0.0)
                   for key, seconds in threads.items()}
        # the edge and its encoder are waited for; the server's decoder is, at the session's end
        edge_cpu = child_cpu_seconds() - edge_before
        server_cpu = process_cpu_seconds(server.pid) - server_before
        # Paced below what the pipeline sustains, so that latency is not queueing.
        paced_fps = min(source_fps, 0.8 * single["throughput_fps"])
        paced = report_of(stream(source, port, codec, qp, work / "latency.jsonl", frames,
                                 paced_fps))
        multi = []
        if streams > 1:
            edges = [stream(source, port, codec, qp, work / f"multi-{index}.jsonl", frames)
                     for index in range(streams)]
            multi = [report_of(edge) for edge in edges]
    finally:
        server.terminate()
        server.wait(timeout=60)
    medians = single["latency"]["stage_median"]
    # wall service time of each stage: what one frame holds that stage for
    service = {"detect": medians["detect"], "render": medians["render"],
               "encode": coders["encode"], "decode": coders["decode"],
               "pose": medians.get("pose", 0.0), "track": medians.get("track", 0.0)}
    cores = os.cpu_count() or 1
    # The slowest stage limits with its wall time; the cores limit with the CPU time each
    # stage takes per frame (all its threads and child processes), measured alone.
    bound = min(1 / max(service.values()), cores / sum(alone.values()))
    run_seconds = single["results"] / single["throughput_fps"]
    pipeline_cpu = (edge_cpu + server_cpu) / single["results"]
    latency = paced["latency"]
    stage_sum = sum(latency["stage_median"].get(name, 0.0) for name in EDGE_STAGES)
    frame_interval = 1 / paced_fps
    result = {
        "footage": source.name, "codec": codec, "qp": qp, "cores": cores,
        "frames": single["results"], "kbps": single["kbps"],
        "throughput_fps": single["throughput_fps"], "steady_fps": single["steady_fps"],
        "service_seconds": service, "cpu_seconds": alone, "bound_fps": bound,
        "throughput_ratio": single["throughput_fps"] / bound,
        # The bound is a rate once the pipeline is full; the whole run's rate counts the start
        # (model loading, the coders' lag) and so is low on a short run. The rate from the
        # first result to the last leaves the start out but is high when the frames in flight
        # (VVenC's 8-frame GOP, the coders' lag) are many beside the run's: work done before
        # the first result is not in its span. Both are printed; the first is the target's.
        "steady_ratio": single["steady_fps"] / bound,
        # what the run itself took: CPU seconds per result (edge, server, their coders) and
        # the share of the machine's cores it held while it ran
        "run_cpu_seconds": {"edge": edge_cpu / single["results"],
                            "server": server_cpu / single["results"],
                            "total": pipeline_cpu},
        "run_core_share": (edge_cpu + server_cpu) / (run_seconds * cores),
        # the same CPU by thread (and coder process), seconds per result
        "thread_cpu_seconds": {key: seconds / single["results"]
                               for key, seconds in sorted(threads.items()) if seconds > 0},
        "latency": latency, "stage_median_sum": stage_sum, "frame_interval": frame_interval,
        "p95_over_sum_in_intervals": (latency["p95"] - stage_sum) / frame_interval,
        "paced_fps": paced_fps, "paced_dropped": paced["dropped_capture"], "paced_results": paced["results"],
        "server": {"single": single["server"], "paced": paced["server"]},
        # the machine's 1-minute load average when the configuration started and ended
        "load": [load_before, os.getloadavg()[0]],
    }
    if multi:
        each = [report["throughput_fps"] for report in multi]
        result["streams"] = {"count": streams, "fps": each,
                             "ratio_to_quarter": [value / (single["throughput_fps"] / streams)
                                                  for value in each]}
    return result


def table(results: list[dict]) -> str:
    lines = ["| footage | codec | QP | kbps | fps (bound, ratio) | steady fps (ratio) | "
             "stage CPU ms / run CPU ms per frame (run's core share) | paced fps | p50 / p95 / max ms | "
             "p95 - stage sum (frame intervals) | streams: min fps / (single / n) | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for result in results:
        latency = result["latency"]
        streams = result.get("streams")
        lines.append(
            f"| {result['footage']} | {result['codec']} | {result['qp']} | {result['kbps']:.0f} | "
            f"{result['throughput_fps']:.2f} ({result['bound_fps']:.2f}, "
            f"{result['throughput_ratio']:.0%}) | {result['steady_fps']:.2f} "
            f"({result['steady_ratio']:.0%}) | "
            f"{sum(result['cpu_seconds'].values()) * 1e3:.0f} / "
            f"{result['run_cpu_seconds']['total'] * 1e3:.0f} ({result['run_core_share']:.0%}) | "
            f"{result['paced_fps']:.2f} | "
            f"{latency['p50'] * 1e3:.0f} / "
            f"{latency['p95'] * 1e3:.0f} / {latency['max'] * 1e3:.0f} | "
            f"{result['p95_over_sum_in_intervals']:+.1f} | "
            + (f"{min(streams['ratio_to_quarter']):.0%} |" if streams else "- |")
            + " {:.1f}-{:.1f} |".format(*result["load"]))
    lines += ["", "| footage | codec | QP | " + " | ".join(EDGE_STAGES) + " |",
              "|---|---|---|" + "---|" * len(EDGE_STAGES)]
    for result in results:
        medians = result["latency"]["stage_median"]
        lines.append(f"| {result['footage']} | {result['codec']} | {result['qp']} | "
                     + " | ".join(f"{medians.get(name, 0) * 1e3:.1f}" for name in EDGE_STAGES)
                     + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--footage", choices=("pets", "synth"), action="append")
    parser.add_argument("--codec", choices=("vvenc", "x265"), action="append")
    parser.add_argument("--qp", type=int, action="append")
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--frames", type=int, default=50, help="frames per run (from the start)")
    parser.add_argument("--capacity", metavar="WxH", action="append",
                        help="instead of the live runs: the CPU cost per frame of each stage "
                        "with the footage resized to WxH (repeatable), and the streams a core "
                        "serves at the footage's frame rate")
    parser.add_argument("--keep", type=Path, metavar="FOLDER",
                        help="work in FOLDER (created; must not exist) and keep it: the last "
                        "configuration's per-frame results (throughput.jsonl, latency.jsonl) "
                        "and the server's sessions")
    arguments = parser.parse_args()
    results = []
    if arguments.keep is not None:
        arguments.keep.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="bench-live-") as folder:
        work = arguments.keep or Path(folder)
        for name in arguments.footage or ["pets", "synth"]:
            source = footage(name, work)
            for codec in arguments.codec or ["vvenc"]:
                for qp in arguments.qp or ([32] if arguments.capacity else [32, 42]):
                    if arguments.capacity:
                        for size in arguments.capacity:
                            width, height = map(int, size.lower().split("x"))
                            result = stage_cpu_seconds(source, (width, height), codec, qp,
                                                       arguments.frames)
                            print(json.dumps(result), file=sys.stderr, flush=True)
                            results.append(result)
                        continue
                    result = run_config(source, codec, qp, arguments.streams, arguments.frames,
                                        work)
                    print(json.dumps(result), file=sys.stderr, flush=True)
                    results.append(result)
    print(capacity_table(results) if arguments.capacity else table(results))


if __name__ == "__main__":
    main()
