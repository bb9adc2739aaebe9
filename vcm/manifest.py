"""The run manifest of a sweep: what produced its numbers (versions, models, config, machine)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path

import vcm
from vcm.ffmpeg import ffmpeg_version
from vcm.logs import package_version

PACKAGES = [
    "numpy", "opencv-contrib-python-headless", "imageio-ffmpeg", "mediapipe", "pandas",
    "scipy", "pycocotools", "motmetrics", "lxml", "snakemake", "bjontegaard",
    "torch", "torchvision", "detectron2", "mmengine", "mmcv", "mmcv-lite", "mmdet", "mmpose",
]
"""Python packages whose versions the manifest records."""

RUN_RECORD_GLOB = "**/*.run.json"


def config_sha256(config: dict) -> str:
    """SHA-256 of ``config`` as canonical JSON (sorted keys): equal configs, equal hashes."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def backends_used(results: Path) -> dict[str, dict]:
    """Every detector, pose estimator and segmenter description found in the run records under
    ``results`` (model names, files and their sha256), keyed by their name; a second model
    of the same backend (e.g. detectron2 X101 shared, R50 single-task) by ``name model``."""
    backends: dict[str, dict] = {}
    for path in sorted(results.glob(RUN_RECORD_GLOB)):
        parameters = json.loads(path.read_text(encoding="utf-8")).get("parameters", {})
        for key in ("detector", "estimator", "segmenter"):
            description = parameters.get(key)
            if isinstance(description, dict) and "name" in description:
                name = description["name"]
                first = backends.setdefault(name, description)
                if first.get("model") != description.get("model"):
                    backends.setdefault(f"{name} {description.get('model')}", description)
    return backends


def build_manifest(results: Path, config: dict | None = None) -> dict:
    """The manifest of the sweep whose results are in ``results``."""
    return {
        "vcm": vcm.__version__,
        "python": platform.python_version(),
        "packages": {name: package_version(name) for name in PACKAGES},
        "ffmpeg": ffmpeg_version(),
        "backends": backends_used(results),
        "config_sha256": config_sha256(config) if config is not None else None,
        "config": config,
        "machine": {
            "system": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
        },
    }


def manifest_header(manifest: dict) -> str:
    """A few lines for the top of every table: versions, config hash, machine."""
    packages = ", ".join(f"{name} {version}" for name, version in manifest["packages"].items()
                         if version != "not installed")
    config_hash = manifest["config_sha256"] or "not given"
    return "\n".join([
        f"vcm {manifest['vcm']}, Python {manifest['python']}; {packages}",
        f"{manifest['ffmpeg']}",
        f"backends: {', '.join(sorted(manifest['backends'])) or 'none recorded'}; "
        f"config sha256 {config_hash}",
        f"machine: {manifest['machine']['system']}, {manifest['machine']['cpus']} CPUs",
    ])
