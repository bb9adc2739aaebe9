"""VTM against VVenC on the same foreground clip: bytes, PSNR-Y, seconds, BD-rate, speed ratio.

The clip is the first ``--frames`` frames of PETS09-S3MF1 from the model store's mirror
(768x576, 7 frames/s), black outside its ground-truth boxes (the foreground video of the
multitask pipeline with perfect detections). Each configuration codes it at each QP with the
vcm codec wrappers; every bitstream is decoded by ffmpeg's VVC decoder and compared with the
samples the encoders were given (the clip coded losslessly by ``ffv1``): PSNR-Y is the mean of
the per-frame PSNRs of the 8-bit luma. Seconds are the encoder's CPU seconds (user + system of
the child processes, so a machine shared with other jobs slows the wall clock, not this);
VVenC runs on one thread.

Configurations: ``vtm`` (VTM's random-access cfg) and ``vvenc:PRESET[:PARAMS]`` where PARAMS
are ``-vvenc-params`` settings joined by ``:`` (e.g. ``vvenc:medium:alf=0``). BD-rate (PCHIP,
PSNR-Y against bytes) and the speed ratio (VTM's CPU seconds over the configuration's, summed
over the QPs) are against ``vtm``. Finished points are kept in ``--workdir`` and not rerun.
Prints one JSON record in the results shape every vcm tool reads.

    nice -n 10 .venv/bin/python experiments/bench_vtm_vvenc.py --frames 30 --workdir /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

from vcm.experiment.bdrate import bd_rate
from vcm.codecs import decode_video, encode_video
from vcm.datasets.mot import read_mot_txt
from vcm.ffmpeg import ffmpeg_executable
from vcm.foreground import render_foreground
from vcm.store import ModelStore
from vcm.video import open_video, write_lossless_video

QPS = [22, 27, 32, 37, 42, 47]
PRESETS = ["faster", "fast", "medium", "slow", "slower"]
SEQUENCE = "PETS09-S3MF1"


def foreground_clip(frames: int, workdir: Path) -> Path:
    """The first ``frames`` frames of PETS09, black outside the ground-truth boxes."""
    path = workdir / f"foreground-{frames}.mkv"
    if path.is_file():
        return path
    sequence = ModelStore.from_environment(progress=False).dataset(SEQUENCE)
    truth = read_mot_txt(sequence / "gt" / "gt.txt")
    source = open_video(sequence)
    clip = []
    for index, frame in enumerate(source, start=1):
        clip.append(render_foreground(frame, truth.at_frame(index).boxes))
        if index == frames:
            break
    info = source.info
    write_lossless_video(iter(clip), path, width=info.width, height=info.height, fps=info.fps)
    return path


def luma_planes(video: Path, width: int, height: int) -> np.ndarray:
    """The 8-bit luma of every frame of ``video``, (frames, height, width)."""
    raw = subprocess.run(
        [ffmpeg_executable(), "-v", "error", "-i", str(video), "-f", "rawvideo",
         "-pix_fmt", "gray", "-"], capture_output=True, check=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width)


def psnr_y(decoded: np.ndarray, reference: np.ndarray) -> float:
    """Mean over frames of 10 log10(255^2 / MSE) of the luma; identical frames count 99 dB."""
    if decoded.shape != reference.shape:
        raise SystemExit(f"decoded {decoded.shape} != reference {reference.shape}")
    values = []
    for got, want in zip(decoded.astype(np.float64), reference.astype(np.float64)):
        mse = np.mean((got - want) ** 2)
        values.append(99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse))
    return float(np.mean(values))


def codec_of(config: str) -> tuple[str, dict]:
    """``vtm`` or ``vvenc:PRESET[:PARAMS]`` as a codec name and its options."""
    if config == "vtm":
        return "vtm", {}
    codec, _, rest = config.partition(":")
    preset, _, params = rest.partition(":")
    if codec != "vvenc" or not preset:
        raise SystemExit(f"unknown configuration {config!r}: use vtm or vvenc:PRESET[:PARAMS]")
    return "vvenc", {"preset": preset, "threads": 1, **({"params": params} if params else {})}


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(config: str, qp: int, clip: Path, reference: np.ndarray, workdir: Path) -> dict:
    """Code ``clip`` with ``config`` at ``qp`` (or read the point kept from an earlier run)."""
    key = config.replace(":", "_").replace("=", "-")
    record_path = workdir / f"{clip.stem}.{key}.qp{qp}.json"
    if record_path.is_file():
        return json.loads(record_path.read_text())
    codec, options = codec_of(config)
    bitstream = workdir / f"{clip.stem}.{key}.qp{qp}.266"
    before = child_cpu_seconds()
    encoded = encode_video(clip, bitstream, codec=codec, qp=qp, progress=False, **options)
    cpu_seconds = child_cpu_seconds() - before
    decoded_path = bitstream.with_suffix(".mkv")
    decode_video(bitstream, decoded_path, codec="vvenc")  # ffmpeg's VVC decoder for every stream
    frames, height, width = reference.shape
    record = {
        "config": config, "qp": qp, "frames": frames, "bytes": encoded.bytes,
        "psnr_y": psnr_y(luma_planes(decoded_path, width, height), reference),
        "cpu_seconds": cpu_seconds, "wall_seconds": encoded.encode_seconds,
        "tools": encoded.tools,
    }
    record_path.write_text(json.dumps(record, indent=2))
    print(f"{config} qp {qp}: {record['bytes']} bytes, {record['psnr_y']:.2f} dB, "
          f"{cpu_seconds:.1f} s CPU", file=sys.stderr, flush=True)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--qps", type=int, nargs="+", default=QPS)
    parser.add_argument("--configs", nargs="+",
                        default=["vtm", *[f"vvenc:{preset}" for preset in PRESETS]])
    parser.add_argument("--workdir", type=Path, required=True,
                        help="Folder for the clip, bitstreams and finished points.")
    arguments = parser.parse_args()
    arguments.workdir.mkdir(parents=True, exist_ok=True)
    clip = foreground_clip(arguments.frames, arguments.workdir)
    info = open_video(clip).info
    lossless = arguments.workdir / f"{clip.stem}.reference.mkv"
    if not lossless.is_file():
        encode_video(clip, lossless, codec="ffv1", qp=0, progress=False)
    reference = luma_planes(lossless, info.width, info.height)

    points = {config: [measure(config, qp, clip, reference, arguments.workdir)
                       for qp in arguments.qps] for config in arguments.configs}
    anchor = points.get("vtm")
    results = {}
    for config, rows in points.items():
        entry = {key: [row[key] for row in rows]
                 for key in ("qp", "bytes", "psnr_y", "cpu_seconds", "wall_seconds")}
        if anchor is not None and config != "vtm":
            entry["bd_rate_vs_vtm_percent"] = bd_rate(
                [row["bytes"] for row in anchor], [row["psnr_y"] for row in anchor],
                [row["bytes"] for row in rows], [row["psnr_y"] for row in rows],
            )
            entry["speed_vs_vtm"] = (sum(row["cpu_seconds"] for row in anchor)
                                     / sum(row["cpu_seconds"] for row in rows))
        results[config] = entry
    print(json.dumps({
        "name": "bench_vtm_vvenc",
        "description": f"{SEQUENCE} first {info.frames} frames, {info.width}x{info.height}, "
                       "ground-truth foreground; CPU seconds; PSNR-Y of the 8-bit luma; "
                       "BD-rate PCHIP of bytes against PSNR-Y, anchor vtm",
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
