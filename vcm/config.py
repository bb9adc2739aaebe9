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
    """Raise :class:`VcmError` if a detector, pose estimator, tracker or codec the config names
    is not registered (e.g. a backend whose package is not installed)."""
    from vcm.codecs import CODECS
    from vcm.detectors import DETECTORS
    from vcm.pose import POSE_ESTIMATORS
    from vcm.trackers import TRACKERS

    named = [
        ("detector", DETECTORS, config["detector"]["name"], "detector/name"),
        ("pose estimator", POSE_ESTIMATORS, config["pose"]["estimator"], "pose/estimator"),
        ("tracker", TRACKERS, config["track"]["tracker"], "track/tracker"),
        *[("detector", DETECTORS, entry["name"], f"single_task/{task}/name")
          for task, entry in config["single_task"].items()],
        *[("codec", CODECS, codec, f"codecs/{codec}") for codec in config["codecs"]],
    ]
    for kind, registry, name, where in named:
        if name not in registry.names():
            raise VcmError(
                f"{source}: {where}: unknown {kind} {name!r}; registered: "
                f"{', '.join(registry.names())}"
            )


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
