"""Foreground variants on real footage: bytes of the coded foreground per variant and QP.

Takes the first ``--frames`` frames of a MOTChallenge sequence (default: the mirror's
PETS09-S3MF1), its ground-truth boxes as the shared detections (oracle), renders each
foreground variant of :mod:`vcm.masking`, codes it with ``--codec`` (default vvenc, preset
faster) at each QP, and prints one line per variant: bytes at each QP, the ratio to the
coded original, the rendering time per frame and, for ``mask`` variants, the segmenter's time
per frame (reported apart, as the run record does). Runs the same `vcm` commands a user runs.
``--variants`` picks variants by name prefix (e.g. ``--variants paper mask``). With
``--pose`` (a sequence with ``gt/keypoints.json``, such as ``vcm data synth``'s sample), each
coded foreground is also decoded and BlazePose runs on it (told the variant, so its run record
says how much of its crops is fill): COCO keypoint AP per QP and the mean fill per crop.

    .venv/bin/python experiments/bench_foreground_variants.py
    .venv/bin/python experiments/bench_foreground_variants.py --frames 30 --qps 22 32 42 47

Prints numbers; it is not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from typer.testing import CliRunner

from vcm.cli import app
from vcm.datasets.mot import read_mot_txt, read_seqinfo
from vcm.store import ModelStore

VARIANTS = {
    "paper (boxes, black)": [],
    "margin 0.1": ["-p", "margin=0.1"],
    "margin 0.125": ["-p", "margin=0.125"],
    "hold 32": ["-p", "hold=32"],
    "align 64": ["-p", "align=64"],
    "hold 32 + align 64": ["-p", "hold=32", "-p", "align=64"],
    "grey fill": ["-p", "fill=grey"],
    "feather 8": ["-p", "feather=8"],
    "blur fill (sigma 16)": ["-p", "fill=blur", "-p", "fill_scale=16"],
    "margin 0.1 + hold 32 + align 64": ["-p", "margin=0.1", "-p", "hold=32", "-p", "align=64"],
    "mask selfie, grow 0": ["-p", "mask=selfie", "-p", "mask_grow=0"],
    "mask selfie, grow 2": ["-p", "mask=selfie", "-p", "mask_grow=2"],
    "mask selfie, grow 4": ["-p", "mask=selfie", "-p", "mask_grow=4"],
    "mask selfie, grow 0, grey fill": ["-p", "mask=selfie", "-p", "mask_grow=0", "-p", "fill=grey"],
    "mask selfie, grow 4, grey fill": ["-p", "mask=selfie", "-p", "mask_grow=4", "-p", "fill=grey"],
    "mask selfie, grow 4, margin 0.1 + hold 32 + align 64": [
        "-p", "mask=selfie", "-p", "mask_grow=4", "-p", "margin=0.1", "-p", "hold=32",
        "-p", "align=64"],
    "mask pose, grow 0": ["-p", "mask=pose", "-p", "mask_grow=0"],
    "mask pose, grow 4": ["-p", "mask=pose", "-p", "mask_grow=4"],
}


def cut_sequence(source: Path, frames: int, folder: Path) -> Path:
    """A MOTChallenge folder with the first ``frames`` frames of ``source`` (images linked)."""
    info = read_seqinfo(source)
    target = folder / "clip"
    (target / info.image_dir).mkdir(parents=True)
    (target / "gt").mkdir()
    for number in range(1, frames + 1):
        os.symlink(info.image_path(number), target / info.image_dir / info.image_path(number).name)
    rows = [line for line in (source / "gt" / "gt.txt").read_text().splitlines()
            if line and int(line.split(",")[0]) <= frames]
    (target / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    text = (source / "seqinfo.ini").read_text()
    text = "\n".join(f"seqLength={frames}" if line.startswith("seqLength") else line
                     for line in text.splitlines())
    (target / "seqinfo.ini").write_text(text + "\n")
    read_mot_txt(target / "gt" / "gt.txt")
    keypoints = source / "gt" / "keypoints.json"
    if keypoints.is_file():
        truth = json.loads(keypoints.read_text())
        truth["images"] = [image for image in truth["images"] if image["id"] <= frames]
        truth["annotations"] = [entry for entry in truth["annotations"]
                                if entry["image_id"] <= frames]
        (target / "gt" / "keypoints.json").write_text(json.dumps(truth))
    return target


def pose_accuracy(clip: Path, bitstream: Path, detections: Path, flags: list[str],
                  work: Path) -> tuple[float, float]:
    """Decode ``bitstream``, run BlazePose on the shared ``detections`` told the variant's
    ``flags``; return (COCO keypoint AP, mean fill fraction per crop)."""
    decoded, poses = work / "decoded.mkv", work / "poses.json"
    run("decode", bitstream, "-o", decoded)
    variant = [value for flag, value in zip(flags[::2], flags[1::2]) if flag == "-p"]
    run("pose", decoded, detections, "--estimator", "blazepose", "-o", poses, "--no-progress",
        *[part for value in variant for part in ("--foreground-option", value)])
    fill = json.loads((work / "poses.json.run.json").read_text())["parameters"]["crops"]
    result = CliRunner().invoke(app, ["evaluate", "pose", str(poses), "--gt",
                                      str(clip / "gt" / "keypoints.json")])
    if result.exit_code != 0:
        raise SystemExit(f"vcm evaluate pose failed:\n{result.output}")
    return json.loads(result.stdout)["AP"], fill["mean_fill"]


def run(*arguments) -> None:
    result = CliRunner().invoke(app, [str(argument) for argument in arguments])
    if result.exit_code != 0:
        raise SystemExit(f"vcm {' '.join(map(str, arguments))} failed:\n{result.output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", type=Path, default=None)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--codec", default="vvenc")
    parser.add_argument("--qps", type=int, nargs="+", default=[22, 32, 42, 47])
    parser.add_argument("--pose", action="store_true",
                        help="also BlazePose AP on each decoded foreground (needs pose ground truth)")
    parser.add_argument("--variants", nargs="+", default=None,
                        help="only the variants whose names start with one of these")
    arguments = parser.parse_args()
    sequence = arguments.sequence or ModelStore().dataset("PETS09-S3MF1")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        clip = cut_sequence(sequence, arguments.frames, work)
        run("detect", clip, "--detector", "oracle", "-o", work / "d.vcmd", "--no-progress")
        original = {}
        for qp in arguments.qps:
            run("encode", clip, "--codec", arguments.codec, "--qp", qp, "-o", work / f"o{qp}.266",
                "--no-progress")
            original[qp] = (work / f"o{qp}.266").stat().st_size
        print(json.dumps({"variant": "original (coded)", "bytes": original}))
        for name, flags in VARIANTS.items():
            if arguments.variants and not any(name.startswith(prefix)
                                              for prefix in arguments.variants):
                continue
            output = work / "fg.mkv"
            start = time.perf_counter()
            run("foreground", clip, work / "d.vcmd", *flags, "-o", output, "--no-progress")
            record = json.loads((work / "fg.mkv.run.json").read_text())
            render_ms = 1000 * record["seconds"]["render"] / arguments.frames
            segment_ms = 1000 * record["seconds"].get("segment", 0.0) / arguments.frames
            sizes, pose_ap, crop_fill = {}, {}, None
            for qp in arguments.qps:
                run("encode", output, "--codec", arguments.codec, "--qp", qp, "-o",
                    work / f"f{qp}.266", "--no-progress")
                sizes[qp] = (work / f"f{qp}.266").stat().st_size
                if arguments.pose:
                    pose_ap[qp], crop_fill = pose_accuracy(clip, work / f"f{qp}.266",
                                                           work / "d.vcmd", flags, work)
            print(json.dumps({
                "variant": name, "bytes": sizes,
                "of_original": {qp: round(sizes[qp] / original[qp], 3) for qp in arguments.qps},
                "render_ms_per_frame": round(render_ms, 2),
                "segment_ms_per_frame": round(segment_ms, 2),
                "wall_s": round(time.perf_counter() - start, 1),
                **({"pose_ap": {qp: round(ap, 3) for qp, ap in pose_ap.items()},
                    "crop_mean_fill": crop_fill} if arguments.pose else {}),
            }))


if __name__ == "__main__":
    main()
