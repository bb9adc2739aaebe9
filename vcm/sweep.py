"""Run the Snakemake sweep quietly: one progress line on the console, Snakemake's whole output
in ``<results folder>/sweep.log``.

Snakemake prints a block of lines per job (thousands for the default sweep); each job's own
output already goes to its log under the results folder. This driver keeps Snakemake's
output complete in one file and shows only ``N of M steps`` as a progress bar, then one line
naming the summary, or, on failure, the failed rule and its log.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from vcm.errors import VcmError

DEFAULT_CONFIG = Path("configs/default.yaml")
LOG_NAME = "sweep.log"
STEPS = re.compile(r"^(\d+) of (\d+) steps \(\d+%\) done")
FAILED_RULE = re.compile(r"^Error in rule ([\w-]+):")
JOB_LOG = re.compile(r"^\s*log: (\S+)")


@dataclass
class SweepOutcome:
    """What the console needs from Snakemake's output: steps done of all, and the first
    failed rule with the log it names (``None`` where none failed)."""

    done: int = 0
    total: int = 0
    nothing_to_do: bool = False
    failed_rule: str | None = None
    failed_log: str | None = None
    last_lines: list[str] = field(default_factory=list)

    def read(self, line: str) -> bool:
        """Take one line of Snakemake's output; True where it advanced the step count."""
        self.last_lines = (self.last_lines + [line.rstrip()])[-5:]
        if "Nothing to be done" in line:
            self.nothing_to_do = True
        if (failed := FAILED_RULE.match(line)) and self.failed_rule is None:
            self.failed_rule = failed.group(1)
        elif (job_log := JOB_LOG.match(line)) and self.failed_rule and not self.failed_log:
            self.failed_log = job_log.group(1).rstrip(",;")
        if steps := STEPS.match(line):
            self.done, self.total = int(steps.group(1)), int(steps.group(2))
            return True
        return False


def results_folder(config_file: Path | None) -> Path:
    """The folder the sweep of ``config_file`` (default configs/default.yaml) writes, as
    :func:`vcm.config.results_root` names it. The config is checked as ``vcm config`` and the
    Snakefile check it (a :class:`VcmError` listing every problem), before Snakemake starts."""
    from vcm.config import load_config, results_root

    return Path(results_root(load_config(config_file or DEFAULT_CONFIG), config_file))


def snakemake_executable() -> str:
    """Snakemake of this Python's environment, else the one on PATH."""
    beside = Path(sys.executable).parent / "snakemake"
    found = str(beside) if beside.is_file() else shutil.which("snakemake")
    if found is None:
        raise VcmError("snakemake: not found beside this Python or on PATH (make install)")
    return found


def run_sweep(config_file: Path | None, *, cores: int, extra: list[str],
              directory: Path | None = None, progress: bool = True) -> tuple[Path, SweepOutcome]:
    """Run the Snakefile of the current folder (the checkout) on ``config_file`` (None: the
    Snakefile's default) with ``cores`` cores, writing results under ``directory`` (default
    the current folder); returns the log and the outcome. Snakemake's jobs call ``vcm``:
    this environment's bin/ goes first on their PATH. A failed sweep is a
    :class:`VcmError` naming the failed rule and its log."""
    snakefile = Path("Snakefile").resolve()
    if not snakefile.is_file():
        raise VcmError(f"{Path.cwd()}: no Snakefile here; run the sweep in the vcm checkout")
    directory = directory if directory is not None else Path(".")
    log = directory / results_folder(config_file) / LOG_NAME
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [snakemake_executable(), "--snakefile", str(snakefile), "--cores", str(cores),
            "--directory", str(directory)]
    if config_file is not None:
        argv += ["--configfile", str(config_file.resolve())]
    environment = {**os.environ,
                   "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                            os.environ.get("PATH", "")])}
    outcome = SweepOutcome()
    bar = None  # made at the first step count, when the number of steps is known
    with open(log, "w", encoding="utf-8") as log_file:
        process = subprocess.Popen([*argv, *extra], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, env=environment)
        try:
            for line in process.stdout:
                log_file.write(line)
                log_file.flush()
                if outcome.read(line):
                    if bar is None:
                        bar = tqdm(desc="sweep", unit="step", total=outcome.total,
                                   file=sys.stderr, disable=not progress)
                    bar.total = outcome.total
                    bar.n = outcome.done
                    bar.refresh()
            returncode = process.wait()
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM): Snakemake stops its jobs and removes their
            # incomplete outputs when it is terminated.
            process.terminate()
            process.wait()
            raise
        finally:
            if bar is not None:
                bar.close()
    if returncode != 0:
        where = (f"rule {outcome.failed_rule} failed, see {outcome.failed_log or log}"
                 if outcome.failed_rule else
                 next((line for line in reversed(outcome.last_lines) if line.strip()), ""))
        raise VcmError(f"{log}: the sweep failed (snakemake exit {returncode}): {where}")
    return log, outcome
