"""The sweep's artifacts as SHA-256 sums: the regression guard of a refactoring.

A change that should not change any result (moving pipeline logic between modules, say)
must leave every artifact of a sweep the same bytes: bitstreams, detection files,
foregrounds and decoded videos, poses, tracks, masks, BPP and evaluation records, and the
synthesized sequence. Run records (``*.run.json``), codec sidecars (``<file>.json`` beside
``<file>``), point records, the summary, tables, plots, the manifest and logs (the report's
``report.log`` among them) hold seconds or paths, so they are left out.

    # run the CI sweep (configs/ci.yaml) in WORKDIR, then write its manifest
    python experiments/sweep_fingerprint.py WORKDIR --run --write tests/data/ci_sweep.sha256
    # after the change: run it again elsewhere and compare
    python experiments/sweep_fingerprint.py OTHER --run --check tests/data/ci_sweep.sha256

``--check`` prints each artifact that differs, is missing or is new, and exits 1 if any.
The sums are those of one environment (the project's .venv: OpenCV's HOG, MediaPipe and
vvenc builds); another build of those may give other bytes, so compare a change against a
manifest written on the same machine (``--write`` before, ``--check`` after).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]

LEFT_OUT_NAMES = {"point.json", "summary.csv", "manifest.json", "report.log",
                  ".snakemake_timestamp", ".vcm-output"}
LEFT_OUT_FOLDERS = {"logs", "tables", "plots", ".snakemake"}


def is_artifact(path: Path, root: Path) -> bool:
    """Whether ``path`` (a file under ``root``) is a result whose bytes a refactoring keeps."""
    relative = path.relative_to(root)
    if LEFT_OUT_FOLDERS & set(relative.parts[:-1]) or path.name in LEFT_OUT_NAMES:
        return False
    if path.name.endswith(".run.json"):
        return False
    # A sidecar <file>.json beside <file> records the codec's seconds and paths.
    return not (path.suffix == ".json" and path.with_suffix("").is_file())


def fingerprint(workdir: Path) -> dict[str, str]:
    """SHA-256 of every artifact under ``workdir``'s ``results`` and ``data``, by path
    relative to ``workdir``."""
    sums = {}
    for folder in ("results", "data"):
        root = workdir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and is_artifact(path, workdir):
                sums[path.relative_to(workdir).as_posix()] = hashlib.sha256(
                    path.read_bytes()).hexdigest()
    return sums


def read_manifest(path: Path) -> dict[str, str]:
    """``sha256sum``-style lines (``<hex>  <path>``) as a dict by path."""
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.partition("  ")
            sums[name] = digest
    return sums


def differences(expected: dict[str, str], found: dict[str, str]) -> list[str]:
    """One line per artifact that differs, is missing from ``found`` or new in it."""
    lines = []
    for name in sorted(expected.keys() | found.keys()):
        if name not in found:
            lines.append(f"missing: {name}")
        elif name not in expected:
            lines.append(f"new: {name}")
        elif expected[name] != found[name]:
            lines.append(f"differs: {name}")
    return lines


def run_sweep(workdir: Path, config: Path) -> None:
    """The sweep of ``config`` in ``workdir`` with the ``snakemake`` beside this Python."""
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "snakemake"), "--snakefile", str(REPOSITORY / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(config), "--cores", "2", "--quiet"],
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path, help="The sweep's working directory.")
    parser.add_argument("--run", action="store_true", help="Run the sweep there first.")
    parser.add_argument("--config", type=Path, default=REPOSITORY / "configs" / "ci.yaml",
                        help="Sweep config for --run (default configs/ci.yaml).")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", type=Path, help="Write the manifest here.")
    action.add_argument("--check", type=Path, help="Compare with this manifest.")
    arguments = parser.parse_args(argv)
    if arguments.run:
        run_sweep(arguments.workdir, arguments.config)
    sums = fingerprint(arguments.workdir)
    if not sums:
        print(f"error: {arguments.workdir}: no sweep artifacts", file=sys.stderr)
        return 1
    if arguments.write is not None:
        arguments.write.write_text("".join(f"{digest}  {name}\n" for name, digest in sums.items()),
                                   encoding="utf-8")
        print(f"wrote {arguments.write}: {len(sums)} artifacts")
        return 0
    lines = differences(read_manifest(arguments.check), sums)
    for line in lines:
        print(line)
    print(f"{len(sums)} artifacts, {len(lines)} differences from {arguments.check}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
