"""Helpers of the hostile-input tests: a tiny sequence, and the check that a command refused
its input the way every vcm command must (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
from typer.testing import CliRunner

from vcm.cli import app
from vcm.datasets.mot import SequenceInfo, write_seqinfo

from clips import moving_square_frames

runner = CliRunner()

WIDTH, HEIGHT, FRAMES = 96, 64, 6


def make_sequence(root: Path) -> Path:
    """A 6-frame 96x64 MOTChallenge folder: PNG frames, seqinfo.ini and gt/gt.txt of the
    moving square of :func:`clips.moving_square_frames` (x, y, w, h = 4 + frame, 10, 16, 16)."""
    (root / "img1").mkdir(parents=True)
    (root / "gt").mkdir()
    write_seqinfo(SequenceInfo(root, root.name, "img1", 7.0, FRAMES, WIDTH, HEIGHT, ".png"),
                  root / "seqinfo.ini")
    rows = []
    for number, frame in enumerate(moving_square_frames(WIDTH, HEIGHT, FRAMES), start=1):
        cv2.imwrite(str(root / "img1" / f"{number:06d}.png"), frame)
        rows.append(f"{number},1,{4 + number},10,16,16,1,1,1")
    (root / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    return root


def coco_ground_truth() -> dict:
    """A valid COCO keypoint ground truth: 2 images, one 17-keypoint person on image 1."""
    keypoints = []
    for index in range(17):
        keypoints += [20.0 + index, 30.0 + 2 * index, 2]
    return {
        "images": [{"id": 1, "width": 96, "height": 64}, {"id": 2, "width": 96, "height": 64}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": keypoints,
                         "num_keypoints": 17, "bbox": [18.0, 28.0, 22.0, 40.0], "area": 880.0,
                         "iscrowd": 0}],
        "categories": [{"id": 1, "name": "person", "keypoints": [str(i) for i in range(17)]}],
    }


def coco_results() -> list:
    """Valid COCO keypoint results for :func:`coco_ground_truth`: the person exactly."""
    entry = coco_ground_truth()["annotations"][0]
    return [{"image_id": 1, "category_id": 1, "keypoints": entry["keypoints"], "score": 0.9}]


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value))
    return path


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root``: relative path -> (size, modification time ns) of
    a file, (-1, 0) of a folder (whose time changes when a temporary file comes and goes)."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        if path.is_file() else (-1, 0)
        for path in sorted(root.rglob("*"))
    }


def invoke(*arguments: object, env: dict | None = None):
    return runner.invoke(app, [str(argument) for argument in arguments], env=env)


def assert_refused(root: Path, arguments: list, names: str, *, message: str = "",
                   env: dict | None = None) -> str:
    """Run ``vcm arguments`` and check it refused its input as issue 11 asks: exit 1, exactly
    one ``error:`` line, naming ``names`` (and holding ``message``), no traceback, and no
    file under ``root`` (which holds the inputs and every output name) created, changed or
    removed. Returns the error line."""
    before = snapshot(root)
    result = invoke(*arguments, env=env)
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 1, result.output
    assert len(errors) == 1, result.output
    assert names in errors[0], result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(
        result.exception, SystemExit), result.output
    assert snapshot(root) == before
    return errors[0]


def assert_accepted_or_refused(root: Path, arguments: list, names: str,
                               outputs: tuple[Path, ...] = ()) -> bool:
    """Run ``vcm arguments`` on an input that may or may not be valid: either it succeeds
    (exit 0) and adds at most ``outputs`` and their run records under ``root``, changing no
    other file, or it is refused as :func:`assert_refused` checks. Returns whether it
    succeeded."""
    before = snapshot(root)
    result = invoke(*arguments)
    assert "Traceback" not in result.output, result.output
    if result.exit_code == 0:
        after = snapshot(root)
        allowed = set()
        for output in outputs:
            relative = str(output.relative_to(root))
            allowed |= {relative, relative + ".run.json", relative + ".json"}
        assert set(after) - set(before) <= allowed, sorted(set(after) - set(before))
        assert {key: after[key] for key in before if key in after} == before
        return True
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 1, result.output
    assert len(errors) == 1 and names in errors[0], result.output
    assert isinstance(result.exception, (SystemExit, type(None))), result.output
    assert snapshot(root) == before
    return False
