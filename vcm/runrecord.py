"""Run records: ``<output>.run.json`` beside a task's output, saying what ran and how long.

Shape: ``{"stage", "output", "seconds": {step: seconds}, "parameters": {...}, "versions":
{...}}``. Seconds are wall-clock; the sweep's time tables read them.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import vcm
from vcm.fileio import atomic_output


def run_record_path(output: Path) -> Path:
    """``pose.json`` -> ``pose.json.run.json``."""
    return output.with_name(output.name + ".run.json")


def write_run_record(output: Path, stage: str, seconds: dict[str, float], **parameters) -> Path:
    """Write the run record of ``output`` atomically and return its path."""
    record = {
        "stage": stage,
        "output": str(output),
        "seconds": {step: round(value, 6) for step, value in seconds.items()},
        "parameters": parameters,
        "versions": {"vcm": vcm.__version__, "python": platform.python_version()},
    }
    path = run_record_path(output)
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return path


def read_run_record(output: Path) -> dict:
    """The run record written for ``output``."""
    return json.loads(run_record_path(output).read_text(encoding="utf-8"))
