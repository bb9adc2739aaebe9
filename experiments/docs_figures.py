"""Regenerate the figures in docs/ from sweep results: run the report on each sweep's results
folder and copy the plots the pages show to docs/ under stable names.

    .venv/bin/python experiments/docs_figures.py [--only default] [--docs docs]
    make figures                      # the same, after `make sweep` and the PETS09 sweep

Each figure comes from one sweep (:data:`SWEEPS`): ``default`` is ``make sweep``
(configs/default.yaml, the synthetic sample, results/default/), ``pets`` is ``snakemake -c2
--configfile configs/pets.yaml`` (PETS09-S3MF1 real footage, results/pets/). The report
rewrites that folder's summary, tables and plots with the current code (the points stay as
measured); the figures' titles name the codec and preset, their panels the sequence.
A missing results folder is an error naming the command that makes it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from vcm.config import load_config
from vcm.errors import VcmError
from vcm.experiment.report import write_report_logged
from vcm.fileio import atomic_output

REPOSITORY = Path(__file__).resolve().parents[1]

SWEEPS = {
    "default": ("configs/default.yaml", "results/default", "make sweep"),
    "pets": ("configs/pets.yaml", "results/pets", "snakemake -c2 --configfile configs/pets.yaml"),
}
"""Sweep name -> (its config, its results folder, the command that runs it), relative to the
repository."""

FIGURES = {
    "fig5_pose_ap_vs_qp.png": ("default", "vvenc", "fig5_pose_ap_vs_qp"),
    "variants_pose_ap_vs_bpp.png": ("default", "vvenc", "pose_ap_vs_bpp"),
    "segm_ap_vs_qp.png": ("default", "vvenc", "segm_ap_vs_qp"),
    "pets_mota_vs_bpp.png": ("pets", "vvenc", "mota_vs_bpp"),
}
"""docs/ file name -> (sweep, codec, plot stem in plots/<codec>/). README.md shows each."""


def regenerate(sweeps: list[str], docs: Path, root: Path = REPOSITORY) -> list[Path]:
    """Run the report on each of ``sweeps`` and copy its :data:`FIGURES` into ``docs``;
    return the docs/ paths written. Raises :class:`VcmError` when a sweep's results folder or
    one of its plots is missing."""
    written = []
    for sweep in sweeps:
        config, results, command = SWEEPS[sweep]
        folder = root / results
        if not (folder / "summary.csv").is_file():
            raise VcmError(f"{folder}: no sweep results; run `{command}` first")
        _, _, log_path, notes = write_report_logged(folder, folder / "summary.csv",
                                                    config=load_config(root / config))
        print(f"{sweep}: report rewritten ({notes} notes in {log_path})", file=sys.stderr)
        for name, (source, codec, stem) in FIGURES.items():
            if source != sweep:
                continue
            plot = folder / "plots" / codec / f"{stem}.png"
            if not plot.is_file():
                raise VcmError(f"{plot}: the report drew no such plot")
            with atomic_output(docs / name) as temporary:
                shutil.copyfile(plot, temporary)
            written.append(docs / name)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(SWEEPS), action="append",
                        help="only this sweep's figures (repeatable); default: all")
    parser.add_argument("--docs", type=Path, default=REPOSITORY / "docs", help="where the figures go")
    arguments = parser.parse_args()
    try:
        for path in regenerate(arguments.only or list(SWEEPS), arguments.docs):
            print(path)
    except VcmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
