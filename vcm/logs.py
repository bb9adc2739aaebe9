"""Logging set-up and the 'what ran' record every stage writes at its start."""

from __future__ import annotations

import json
import logging
import platform
import sys
from importlib import metadata

import vcm

LOG = logging.getLogger("vcm")


def configure(verbose: bool = False) -> None:
    """Log to stderr: stdout stays free for results (JSON) that callers parse."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("vcm")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def log_run(stage: str, **parameters) -> None:
    """Log one line naming the stage, its parameters and the versions it ran with."""
    record = {
        "stage": stage,
        "vcm": vcm.__version__,
        "python": platform.python_version(),
        **parameters,
    }
    LOG.info("run %s", json.dumps(record, default=str, sort_keys=True))
