import json

import pytest

from vcm.errors import VcmError
from vcm.report import collect_points, write_summary


def _point(results, sequence, qp, bytes_):
    folder = results / "multitask" / sequence / "vvenc" / f"qp{qp}"
    folder.mkdir(parents=True)
    # 64 x 48 x 10 = 30720 pixels.
    record = {"bytes": bytes_, "bits": bytes_ * 8, "width": 64, "height": 48, "frames": 10,
              "bpp": bytes_ * 8 / 30720, "files": {}}
    (folder / "bpp.json").write_text(json.dumps(record))
    return folder / "bpp.json"


def test_summary_has_one_row_per_point_in_order(tmp_path):
    _point(tmp_path, "b", 22, 3840)
    _point(tmp_path, "a", 47, 384)
    _point(tmp_path, "a", 22, 1920)
    table = collect_points(tmp_path)
    assert table[["sequence", "qp"]].values.tolist() == [["a", 22], ["a", 47], ["b", 22]]
    assert table["bpp"].tolist() == [0.5, 0.1, 1.0]
    assert set(table["pipeline"]) == {"multitask"} and set(table["codec"]) == {"vvenc"}


def test_only_the_given_points(tmp_path):
    keep = _point(tmp_path, "a", 22, 1920)
    _point(tmp_path, "stale", 22, 1920)
    output = tmp_path / "summary.csv"
    write_summary(tmp_path, output, [keep])
    assert output.read_text().splitlines() == [
        "sequence,pipeline,codec,qp,bpp,bytes,frames,width,height",
        "a,multitask,vvenc,22,0.5,1920,10,64,48",
    ]


def test_malformed_record_is_named(tmp_path):
    path = _point(tmp_path, "a", 22, 1920)
    path.write_text("{not json")
    with pytest.raises(VcmError, match="qp22/bpp.json: malformed BPP record"):
        collect_points(tmp_path)


def test_no_results(tmp_path):
    with pytest.raises(VcmError, match="no results found"):
        collect_points(tmp_path)
    with pytest.raises(VcmError, match="results folder does not exist"):
        collect_points(tmp_path / "missing")
