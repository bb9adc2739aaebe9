"""Sweep configuration: the one JSON schema that Snakemake and the CLI both validate against,
and a check that every backend a config names is registered."""

from __future__ import annotations

from pathlib import Path

import yaml

from vcm.errors import VcmError

SCHEMA_PATH = Path(__file__).parent / "schemas" / "config.schema.yaml"


def validate_config(config: object, *, source: str = "config") -> dict:
    """Validate ``config`` against :data:`SCHEMA_PATH`; raise :class:`VcmError` naming
    ``source``, the offending key path and the problem. Returns ``config``."""
    import jsonschema

    schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda error: list(error.absolute_path))
    if errors:
        error = errors[0]
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise VcmError(f"{source}: {where}: {error.message}")
    return config


def check_backends(config: dict, *, source: str = "config") -> None:
    """Raise one :class:`VcmError` listing every problem with the backends the config names:
    a detector, pose estimator, tracker, segmenter or codec that is not registered, a backend whose
    framework is not installed (its ``requirements``), a codec whose programs are missing or
    whose options are wrong. Each line names the config key and says what to install."""
    from vcm.codecs import CODECS
    from vcm.codecs.base import build_codec
    from vcm.detectors import DETECTORS
    from vcm.frameworks import install_commands, missing_requirements
    from vcm.pose import POSE_ESTIMATORS
    from vcm.segmenters import SEGMENTERS
    from vcm.trackers import TRACKERS

    named = [
        ("detector", DETECTORS, config["detector"]["name"], "detector/name"),
        ("pose estimator", POSE_ESTIMATORS, config["pose"]["estimator"], "pose/estimator"),
        ("tracker", TRACKERS, config["track"]["tracker"], "track/tracker"),
        *[("detector", DETECTORS, entry["name"], f"single_task/{task}/name")
          for task, entry in config["single_task"].items()],
        *[("codec", CODECS, codec, f"codecs/{codec}") for codec in config["codecs"]],
    ]
    if "segment" in config:
        named.append(("segmenter", SEGMENTERS, config["segment"]["segmenter"],
                      "segment/segmenter"))
    problems = []
    needed_by: dict[str, list[str]] = {}  # missing module -> the config keys that need it
    for kind, registry, name, where in named:
        if name not in registry.names():
            problems.append(f"{where}: unknown {kind} {name!r}; registered: "
                            f"{', '.join(registry.names())}")
            continue
        for module in missing_requirements(getattr(registry.get(name), "requirements", ())):
            needed_by.setdefault(module, []).append(f"{where} {name}")
    for command, modules in install_commands(needed_by).items():
        keys = list(dict.fromkeys(key for module in modules for key in needed_by[module]))
        problems.append(f"not installed: {', '.join(modules)} (for {', '.join(keys)}); "
                        f"install: {command}")
    for codec, options in config["codecs"].items():
        if codec in CODECS.names():
            try:
                build_codec(codec, **(options or {})).check_tools()
            except VcmError as error:
                problems.append(f"codecs/{codec}: {error}")
    if problems:
        raise VcmError(f"{source}: cannot run here:\n" + "\n".join(
            f"- {problem}" for problem in problems))


def load_config(path: Path) -> dict:
    """Read, validate and check the sweep config at ``path``."""
    if not path.is_file():
        raise VcmError(f"{path}: file does not exist")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise VcmError(f"{path}: not valid YAML ({error})") from None
    validate_config(config, source=str(path))
    check_backends(config, source=str(path))
    return config
