"""Foreground variants on real footage: bytes of the coded foreground per variant and QP.

Takes the first ``--frames`` frames of a MOTChallenge sequence (default: the mirror's
PETS09-S3MF1), its ground-truth boxes as the shared detections (oracle), renders each
foreground variant of :mod:`vcm.masking`, codes it with ``--codec`` (default vvenc, preset
faster) at each QP, and prints one line per variant: bytes at each QP, the ratio to the
coded original, the rendering time per frame and, for ``mask`` variants, the segmenter's time
per frame (reported apart, as the run record does). Runs the same `vcm` commands a user runs.
``--variants`` picks variants by name prefix (e.g. ``--variants paper mask``).

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
    "mask pose, grow 4": ["-p", "mask=pose", "-p", "mask_grow=4"],
    "mask selfie, grow 4, grey fill": ["-p", "mask=selfie", "-p", "mask_grow=4", "-p", "fill=grey"],
    "mask selfie, grow 4, margin 0.1 + hold 32 + align 64": [
        "-p", "mask=selfie", "-p", "mask_grow=4", "-p", "margin=0.1", "-p", "hold=32",
        "-p", "align=64"],
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
    return target


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
            sizes = {}
            for qp in arguments.qps:
                run("encode", output, "--codec", arguments.codec, "--qp", qp, "-o",
                    work / f"f{qp}.266", "--no-progress")
                sizes[qp] = (work / f"f{qp}.266").stat().st_size
            print(json.dumps({
                "variant": name, "bytes": sizes,
                "of_original": {qp: round(sizes[qp] / original[qp], 3) for qp in arguments.qps},
                "render_ms_per_frame": round(render_ms, 2),
                "segment_ms_per_frame": round(segment_ms, 2),
                "wall_s": round(time.perf_counter() - start, 1),
            }))


if __name__ == "__main__":
    main()
