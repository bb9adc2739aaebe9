"""The run manifest of a sweep: what produced its numbers (versions, models, config, machine)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path

import vcm
from vcm.errors import VcmError
from vcm.ffmpeg import ffmpeg_version
from vcm.jsonio import load_json
from vcm.logs import package_version

PACKAGES = [
    "numpy", "opencv-contrib-python-headless", "imageio-ffmpeg", "mediapipe", "pandas",
    "scipy", "pycocotools", "motmetrics", "trackeval", "lxml", "snakemake", "bjontegaard",
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
        record = load_json(path, what="run record")
        parameters = record.get("parameters") if isinstance(record, dict) else None
        if not isinstance(parameters, dict):
            raise VcmError(f"{path}: malformed run record (no parameters object)")
        for key in ("detector", "estimator", "segmenter"):
            description = parameters.get(key)
            if isinstance(description, dict) and "name" in description:
                name = description["name"]
                first = backends.setdefault(name, description)
                if first.get("model") != description.get("model"):
                    backends.setdefault(f"{name} {description.get('model')}", description)
    return backends


SIDECAR_FIELDS = {"bitstream", "codec", "qp", "options", "argv"}
"""Keys that make a JSON file under the results an encoder's sidecar (vcm.codecs)."""


def codecs_used(results: Path) -> dict[str, dict]:
    """Every codec found in the bitstream sidecars under ``results``: its options and the
    programs and files it used beyond ffmpeg (``tools``: VTM's version, its cfg's sha256),
    keyed by codec name; a second set of options or tools of the same codec by ``name 2``..."""
    codecs: dict[str, dict] = {}
    for path in sorted(results.glob("**/*.json")):
        if path.name.endswith(".run.json"):
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or not SIDECAR_FIELDS <= record.keys():
            continue
        description = {"codec": record["codec"], "options": record["options"],
                       "tools": record.get("tools", {})}
        if description in codecs.values():
            continue
        same_codec = sum(1 for entry in codecs.values() if entry["codec"] == record["codec"])
        key = record["codec"] if same_codec == 0 else f"{record['codec']} {same_codec + 1}"
        codecs[key] = description
    return codecs


def build_manifest(results: Path, config: dict | None = None) -> dict:
    """The manifest of the sweep whose results are in ``results``: versions, backends and
    codecs used, the config (its sha256 and its multitask pipelines, the variants resolved:
    :func:`vcm.config.multitask_variants`), the results folder and the machine."""
    from vcm.config import multitask_variants

    return {
        "vcm": vcm.__version__,
        "python": platform.python_version(),
        "packages": {name: package_version(name) for name in PACKAGES},
        "ffmpeg": ffmpeg_version(),
        "backends": backends_used(results),
        "codecs": codecs_used(results),
        "config_sha256": config_sha256(config) if config is not None else None,
        "config": config,
        "multitask_pipelines": multitask_variants(config) if config is not None else None,
        "results": str(results),
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
        f"codecs: {codec_summary(manifest.get('codecs', {})) or 'none recorded'}; "
        f"config sha256 {config_hash}",
        f"machine: {manifest['machine']['system']}, {manifest['machine']['cpus']} CPUs",
    ])


def codec_summary(codecs: dict[str, dict]) -> str:
    """``vtm (EncoderApp 23.13, cfg sha256 3079...)``-style names of the codecs used."""
    parts = []
    for name, description in sorted(codecs.items()):
        tools = description.get("tools", {})
        details = [f"{program} {tool['version']}" for program, tool in tools.items()
                   if "version" in tool]
        details += [f"{program} sha256 {tool['sha256'][:12]}" for program, tool in tools.items()
                    if "sha256" in tool]
        parts.append(f"{name} ({', '.join(details)})" if details else name)
    return ", ".join(parts)
