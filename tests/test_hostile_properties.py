"""Property tests (Hypothesis) of every input parser, through the CLI: whatever the bytes, a
command either succeeds or exits 1 with one `error:` line naming the file, no traceback, and
nothing written (issue 11). Derandomized, so every run draws the same examples."""

from __future__ import annotations

import copy
import io
import json
import math
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcm.datasets.mot import MAX_COORDINATE, MAX_FRAMES, read_mot_txt
from vcm.detections import DetectionSequence, FrameDetections
from vcm.detformats.voc_zip import write_detections_zip
from vcm.errors import VcmError

from hostile import (
    FRAMES, HEIGHT, WIDTH, assert_accepted_or_refused, coco_ground_truth, coco_results, invoke,
    make_sequence,
)

PROPERTY = settings(
    derandomize=True, max_examples=25, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A sequence, its detections zip and an FFV1 bitstream with sidecar, shared by examples;
    each example writes its input and output in a fresh folder inside."""
    root = tmp_path_factory.mktemp("hostile")
    make_sequence(root / "seq")
    write_detections_zip(DetectionSequence(
        WIDTH, HEIGHT,
        [FrameDetections(n, [[4.0 + n, 10.0, 20.0 + n, 26.0]], [1.0]) for n in
         range(1, FRAMES + 1)], source="seq"), root / "dets.zip")
    result = invoke("encode", root / "seq", "-o", root / "coded.mkv", "--codec", "ffv1",
                    "--no-progress")
    assert result.exit_code == 0, result.output
    return root


class Example:
    """A fresh folder inside ``base`` for one example (removed afterwards)."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def __enter__(self) -> Path:
        self.folder = Path(tempfile.mkdtemp(dir=self.base, prefix="example-"))
        return self.folder

    def __exit__(self, *exc_info) -> None:
        shutil.rmtree(self.folder)


# Text a hostile file may hold in a numeric field.
NUMBER_TEXT = st.one_of(
    st.integers(-3, 12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e30", "1e12", "2000000", "1e308", "-0", "",
                     "0x10", "1_0", "abc", " 7 ", "1,5", "\u0661", "\x00"]),
)
MOT_ROWS = st.lists(st.lists(NUMBER_TEXT, min_size=1, max_size=11).map(",".join),
                    max_size=6).map("\n".join)
# Any JSON value, nested a little.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


def _file_bytes(text_strategy):
    """A file's bytes: the text as UTF-8, sometimes with a byte that is not UTF-8 in it."""
    return st.tuples(text_strategy, st.booleans(), st.integers(0, 40)).map(
        lambda drawn: drawn[0].encode() if not drawn[1]
        else drawn[0].encode()[:drawn[2]] + b"\xff\xfe" + drawn[0].encode()[drawn[2]:])


# ------------------------------------------------------------------- MOT txt


@PROPERTY
@given(content=_file_bytes(MOT_ROWS))
def test_any_ground_truth_txt_is_evaluated_or_refused(base, content):
    with Example(base) as folder:
        gt = folder / "gt.txt"
        gt.write_bytes(content)
        accepted = assert_accepted_or_refused(
            base, ["evaluate", "track", base / "seq" / "gt" / "gt.txt", "--gt", gt], str(gt))
        if accepted:
            rows = read_mot_txt(gt)
            assert ((rows.frame >= 1) & (rows.frame <= MAX_FRAMES)).all()
            assert np.isfinite(rows.boxes).all() and np.isfinite(rows.confidence).all()
            assert (np.abs(rows.boxes) <= 2 * MAX_COORDINATE).all()


@PROPERTY
@given(content=_file_bytes(MOT_ROWS))
def test_any_tracks_txt_is_evaluated_or_refused(base, content):
    with Example(base) as folder:
        tracks = folder / "tracks.txt"
        tracks.write_bytes(content)
        assert_accepted_or_refused(
            base, ["evaluate", "track", tracks, "--gt", base / "seq" / "gt" / "gt.txt"],
            str(tracks))


@PROPERTY
@given(content=_file_bytes(MOT_ROWS))
def test_any_oracle_ground_truth_gives_detections_or_is_refused(base, content):
    """The oracle detector reads gt.txt and writes a zip: nothing appears when it refuses."""
    with Example(base) as folder:
        sequence = folder / "seq"
        shutil.copytree(base / "seq", sequence)
        (sequence / "gt" / "gt.txt").write_bytes(content)
        output = folder / "dets.zip"
        assert_accepted_or_refused(
            base, ["detect", sequence, "--detector", "oracle", "-o", output, "--no-progress"],
            str(sequence / "gt" / "gt.txt"), outputs=(output,))


# ------------------------------------------------------------------- COCO JSON

GT_PLACES = [
    ("images",), ("annotations",), ("categories",), ("images", 0), ("images", 0, "id"),
    ("annotations", 0), ("annotations", 0, "keypoints"), ("annotations", 0, "image_id"),
    ("annotations", 0, "bbox"), ("annotations", 0, "area"), ("annotations", 0, "iscrowd"),
    ("annotations", 0, "id"), ("annotations", 0, "keypoints", 4),
    ("categories", 0, "keypoints"), ("categories", 0, "id"),
]
RESULT_PLACES = [
    (), (0,), (0, "image_id"), (0, "keypoints"), (0, "keypoints", 0), (0, "score"),
    (0, "bbox"), (0, "track_id"), (0, "category_id"),
]


def _replaced(document, place, value):
    document = copy.deepcopy(document)
    if not place:
        return value
    parent = document
    for key in place[:-1]:
        parent = parent[key]
    parent[place[-1]] = value
    return document


def _json_text(value) -> str:
    # allow_nan: Python's json writes NaN and Infinity, which a hostile file may hold.
    return json.dumps(value, allow_nan=True)


@PROPERTY
@given(place=st.sampled_from(GT_PLACES), value=JSON_VALUES)
def test_any_coco_ground_truth_is_evaluated_or_refused(base, place, value):
    with Example(base) as folder:
        gt = folder / "gt.json"
        gt.write_text(_json_text(_replaced(coco_ground_truth(), place, value)))
        results = folder / "results.json"
        results.write_text(json.dumps(coco_results()))
        assert_accepted_or_refused(base, ["evaluate", "pose", results, "--gt", gt], str(gt))


@PROPERTY
@given(place=st.sampled_from(RESULT_PLACES), value=JSON_VALUES)
def test_any_coco_results_are_evaluated_or_refused(base, place, value):
    with Example(base) as folder:
        gt = folder / "gt.json"
        gt.write_text(json.dumps(coco_ground_truth()))
        results = folder / "results.json"
        results.write_text(_json_text(_replaced(coco_results(), place, value)))
        assert_accepted_or_refused(base, ["evaluate", "pose", results, "--gt", gt], "results")


# ------------------------------------------------------------------- COCO instance masks


def _masks_ground_truth() -> dict:
    """Two 8x6 images: a polygon person and an RLE person (column-major runs)."""
    return {"images": [{"id": 1, "width": 8, "height": 6}, {"id": 2, "width": 8, "height": 6}],
            "annotations": [
                {"id": 1, "image_id": 1, "segmentation": [[1, 1, 5, 1, 5, 5, 1, 5]]},
                {"id": 2, "image_id": 2, "segmentation": {"size": [6, 8], "counts": [13, 4, 31]},
                 "iscrowd": 0}]}


def _mask_results() -> list:
    return [{"image_id": 2, "category_id": 1, "score": 0.9, "bbox": [2, 1, 1, 4],
             "segmentation": {"size": [6, 8], "counts": "=4o0"}}]


MASK_GT_PLACES = [
    ("images",), ("images", 0), ("images", 0, "id"), ("images", 0, "width"),
    ("annotations",), ("annotations", 0), ("annotations", 0, "segmentation"),
    ("annotations", 0, "segmentation", 0), ("annotations", 0, "segmentation", 0, 3),
    ("annotations", 1, "segmentation", "size"), ("annotations", 1, "segmentation", "counts"),
    ("annotations", 1, "segmentation", "counts", 1), ("annotations", 0, "image_id"),
    ("annotations", 0, "area"), ("annotations", 0, "bbox"), ("annotations", 1, "iscrowd"),
]
MASK_RESULT_PLACES = [
    (), (0,), (0, "image_id"), (0, "score"), (0, "bbox"), (0, "bbox", 2), (0, "segmentation"),
    (0, "segmentation", "size"), (0, "segmentation", "size", 0), (0, "segmentation", "counts"),
    (0, "category_id"), (0, "track_id"),
]


@PROPERTY
@given(place=st.sampled_from(MASK_GT_PLACES), value=JSON_VALUES)
def test_any_mask_ground_truth_is_evaluated_or_refused(base, place, value):
    with Example(base) as folder:
        gt = folder / "gt.json"
        gt.write_text(_json_text(_replaced(_masks_ground_truth(), place, value)))
        results = folder / "masks.json"
        results.write_text(json.dumps(_mask_results()))
        assert_accepted_or_refused(base, ["evaluate", "segm", results, "--gt", gt], "gt.json")


@PROPERTY
@given(place=st.sampled_from(MASK_RESULT_PLACES), value=JSON_VALUES)
def test_any_mask_results_are_evaluated_or_refused(base, place, value):
    with Example(base) as folder:
        gt = folder / "gt.json"
        gt.write_text(json.dumps(_masks_ground_truth()))
        results = folder / "masks.json"
        results.write_text(_json_text(_replaced(_mask_results(), place, value)))
        assert_accepted_or_refused(base, ["evaluate", "segm", results, "--gt", gt], "masks.json")


def test_the_mask_examples_themselves_are_valid(base):
    with Example(base) as folder:
        gt, results = folder / "gt.json", folder / "masks.json"
        gt.write_text(json.dumps(_masks_ground_truth()))
        results.write_text(json.dumps(_mask_results()))
        result = invoke("evaluate", "segm", results, "--gt", gt)
        assert result.exit_code == 0, result.output
        # The result is image 2's person exactly (rows 1-4 of column 2): AP 1 on the one
        # image with a match, and the polygon person of image 1 is missed: AR 0.5.
        assert json.loads(result.stdout)["AR"] == pytest.approx(0.5)


# ------------------------------------------------------------------- seqinfo.ini

SEQINFO_KEYS = ["name", "imDir", "frameRate", "seqLength", "imWidth", "imHeight", "imExt"]


@PROPERTY
@given(values=st.fixed_dictionaries({key: st.one_of(st.none(), NUMBER_TEXT, st.text(max_size=6))
                                     for key in SEQINFO_KEYS}),
       header=st.sampled_from(["[Sequence]", "[sequence]", "", "[Sequence"]))
def test_any_seqinfo_is_read_or_refused(base, values, header):
    with Example(base) as folder:
        sequence = folder / "seq"
        shutil.copytree(base / "seq", sequence)
        lines = [header] + [f"{key}={value}" for key, value in values.items()
                            if value is not None]
        ini = sequence / "seqinfo.ini"
        ini.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
        assert_accepted_or_refused(base, ["bpp", base / "dets.zip", "--like", sequence],
                                   str(sequence))


# ------------------------------------------------------------------- codec sidecars

SIDECAR_FIELDS = ["bitstream", "input", "codec", "qp", "options", "argv", "width", "height",
                  "padded_width", "padded_height", "fps", "frames", "bytes", "encode_seconds",
                  "ffmpeg_version", "vcm_version"]


@PROPERTY
@given(field=st.sampled_from(SIDECAR_FIELDS + [None]), value=JSON_VALUES,
       drop=st.sampled_from(SIDECAR_FIELDS + [None]))
def test_any_sidecar_is_decoded_or_refused(base, field, value, drop):
    with Example(base) as folder:
        bitstream = folder / "coded.mkv"
        shutil.copy(base / "coded.mkv", bitstream)
        record = json.loads((base / "coded.mkv.json").read_text())
        if field is not None:
            record[field] = value
        if drop is not None:
            record.pop(drop, None)
        sidecar = folder / "coded.mkv.json"
        sidecar.write_text(_json_text(record))
        output = folder / "decoded.mkv"
        assert_accepted_or_refused(base, ["decode", bitstream, "-o", output], str(folder),
                                   outputs=(output,))


# ------------------------------------------------------------------- sweep configs

CONFIG_PLACES = [
    ("qps",), ("qps", 0), ("codecs",), ("codecs", "vvenc"), ("codecs", "vvenc", "preset"),
    ("codecs", "vvenc", "intra_period"), ("pose", "options"), ("pose", "estimator"),
    ("track", "options"), ("detector", "options"), ("detector", "score"), ("sequences",),
    ("sequences", "tiny", "synth", "frames"), ("single_task", "pose", "options"),
]


@PROPERTY
@given(place=st.sampled_from(CONFIG_PLACES), value=JSON_VALUES)
def test_any_config_is_accepted_or_refused(base, place, value):
    config = yaml.safe_load((CONFIGS / "ci.yaml").read_text())
    with Example(base) as folder:
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(_replaced(config, place, value), allow_unicode=True))
        assert_accepted_or_refused(base, ["config", path], str(path))


@PROPERTY
@given(text=st.text(alphabet=st.sampled_from("ab:-[]{}&*!|>'\" \n,#%@`0123456789.\t"),
                    max_size=40))
def test_any_yaml_text_as_a_config_is_refused_cleanly(base, text):
    with Example(base) as folder:
        path = folder / "config.yaml"
        path.write_text(text)
        # No such text is a complete sweep config, so every one is refused.
        assert not assert_accepted_or_refused(base, ["config", path], str(path))


# ------------------------------------------------------------------- -p options

TRACKER_OPTIONS = ["track_buffer", "first_match_cost", "gating", "min_score", "bogus", ""]


@PROPERTY
@given(key=st.sampled_from(TRACKER_OPTIONS),
       value=st.one_of(NUMBER_TEXT, st.text(alphabet=st.sampled_from("[]{}&*!:,-ab .1\n"),
                                            max_size=12)))
def test_any_tracker_option_is_used_or_refused(base, key, value):
    with Example(base) as folder:
        output = folder / "tracks.txt"
        accepted = assert_accepted_or_refused(
            base, ["track", base / "dets.zip", "-o", output, "-p", f"{key}={value}"], "option",
            outputs=(output,))
        if accepted:
            assert output.is_file()


# ------------------------------------------------------------------- detections zip

VOC_FIELDS = ["width", "height", "xmin", "ymin", "xmax", "ymax", "score", "name"]


def _zip_with_member_text(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@PROPERTY
@given(field=st.sampled_from(VOC_FIELDS), value=st.one_of(NUMBER_TEXT, st.text(max_size=8)),
       frame=st.integers(1, FRAMES), cut=st.one_of(st.none(), st.integers(0, 400)))
def test_any_detections_zip_is_tracked_or_refused(base, field, value, frame, cut):
    """Members of the valid zip with one field's text replaced (or the zip cut short)."""
    with zipfile.ZipFile(base / "dets.zip") as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    name = sorted(members)[frame - 1]
    text = members[name].decode()
    start = text.find(f"<{field}>")
    if start >= 0:
        end = text.find(f"</{field}>", start)
        escaped = value.replace("&", "&amp;").replace("<", "&lt;")
        text = text[:start + len(field) + 2] + escaped + text[end:]
    members[name] = text.encode("utf-8", "surrogatepass")
    data = _zip_with_member_text(members)
    if cut is not None:
        data = data[:cut]
    with Example(base) as folder:
        detections = folder / "dets.zip"
        detections.write_bytes(data)
        output = folder / "tracks.txt"
        assert_accepted_or_refused(base, ["track", detections, "-o", output], str(detections),
                                   outputs=(output,))


@PROPERTY
@given(rows=MOT_ROWS)
def test_read_mot_txt_returns_bounded_rows_or_raises_vcm_error(base, rows):
    """The library reader itself: every value finite and within its bound, or VcmError."""
    with Example(base) as folder:
        path = folder / "rows.txt"
        path.write_text(rows)
        try:
            parsed = read_mot_txt(path, num_frames=FRAMES)
        except VcmError as error:
            assert str(error).startswith(str(path))
            return
        assert ((parsed.frame >= 1) & (parsed.frame <= FRAMES)).all()
        assert all(math.isfinite(value) for value in parsed.boxes.reshape(-1))
        assert (np.abs(parsed.ids) < 2**31).all()
        assert len(parsed) == sum(1 for line in rows.splitlines() if line.strip())

