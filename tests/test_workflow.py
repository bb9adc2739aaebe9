"""The Snakemake sweep on the CI config, run end to end in a scratch directory."""

import csv
import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def snakemake(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    bin_dir = Path(sys.executable).parent
    environment = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [str(bin_dir / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(REPOSITORY / "configs" / "ci.yaml"),
         "--cores", "2", *extra],
        capture_output=True, text=True, env=environment,
    )


def test_ci_sweep_runs_and_is_complete(tmp_path):
    completed = snakemake(tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    with open(tmp_path / "results" / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["sequence"], row["pipeline"], row["codec"], int(row["qp"])) for row in rows] == [
        ("tiny", "multitask", "vvenc", 22), ("tiny", "multitask", "vvenc", 47),
    ]
    # Coarser quantization, fewer bits; the zipped detections are the same at both QPs.
    assert float(rows[1]["bpp"]) < float(rows[0]["bpp"])
    zip_bytes = (tmp_path / "results/detections/tiny/detections.zip").stat().st_size
    for row in rows:
        bitstream = tmp_path / f"results/multitask/tiny/vvenc/qp{row['qp']}/foreground.266"
        assert int(row["bytes"]) == bitstream.stat().st_size + zip_bytes
        assert float(row["bpp"]) == float(f"{int(row['bytes']) * 8 / (320 * 240 * 12):.6g}")
    for rule in ("synthesize/tiny", "detect/tiny", "foreground/tiny", "summary"):
        assert (tmp_path / "logs" / f"{rule}.log").is_file()

    again = snakemake(tmp_path, "--dry-run")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr
