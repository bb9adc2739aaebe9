"""experiments/sweep_fingerprint.py: which files count as artifacts, and how manifests compare."""

import hashlib
import importlib.util
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "sweep_fingerprint", REPOSITORY / "experiments" / "sweep_fingerprint.py")
sweep_fingerprint = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sweep_fingerprint)

ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2


def write(path: Path, data: bytes = b"abc") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_artifacts_leave_out_records_sidecars_and_logs(tmp_path):
    point = tmp_path / "results" / "ci" / "multitask" / "tiny" / "vvenc" / "qp22"
    for name in ("pose.json", "foreground.266", "foreground.266.json", "pose.json.run.json",
                 "point.json", "bpp.json"):
        write(point / name)
    write(tmp_path / "results" / "ci" / "logs" / "pose" / "tiny.log")
    write(tmp_path / "results" / "ci" / "tables" / "vvenc" / "table7_time.csv")
    write(tmp_path / "results" / "ci" / "summary.csv")
    write(tmp_path / "results" / "ci" / "report.log")
    write(tmp_path / "data" / "synthetic" / "tiny" / "img1" / "000001.png")
    sums = sweep_fingerprint.fingerprint(tmp_path)
    prefix = "results/ci/multitask/tiny/vvenc/qp22/"
    assert sorted(sums) == ["data/synthetic/tiny/img1/000001.png", prefix + "bpp.json",
                            prefix + "foreground.266", prefix + "pose.json"]
    assert set(sums.values()) == {ABC_SHA256} == {hashlib.sha256(b"abc").hexdigest()}


def test_a_manifest_reads_back_and_names_each_difference(tmp_path):
    write(tmp_path / "results" / "a.vcmd")
    write(tmp_path / "results" / "b.mkv")
    manifest = tmp_path / "manifest.sha256"
    assert sweep_fingerprint.main([str(tmp_path), "--write", str(manifest)]) == 0
    assert manifest.read_text().splitlines()[0] == f"{ABC_SHA256}  results/a.vcmd"
    assert sweep_fingerprint.main([str(tmp_path), "--check", str(manifest)]) == 0
    write(tmp_path / "results" / "a.vcmd", b"abd")
    (tmp_path / "results" / "b.mkv").unlink()
    write(tmp_path / "results" / "c.txt")
    found = sweep_fingerprint.fingerprint(tmp_path)
    assert sweep_fingerprint.differences(sweep_fingerprint.read_manifest(manifest), found) == [
        "differs: results/a.vcmd", "missing: results/b.mkv", "new: results/c.txt"]
    assert sweep_fingerprint.main([str(tmp_path), "--check", str(manifest)]) == 1
