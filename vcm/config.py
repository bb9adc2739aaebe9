"""Sweep configuration: the one JSON schema that Snakemake and the CLI both validate against,
and a check that everything a config needs is here: its backends registered and installed,
its codecs' programs, its sequences' videos and ground truth, its backends' model files."""

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


def named_backends(config: dict) -> list[tuple[str, object, str, str, dict]]:
    """Every backend ``config`` names: ``(kind, registry, name, config key, options)``."""
    from vcm.codecs import CODECS
    from vcm.detectors import DETECTORS
    from vcm.pose import POSE_ESTIMATORS
    from vcm.trackers import TRACKERS

    return [
        ("detector", DETECTORS, config["detector"]["name"], "detector/name",
         config["detector"].get("options") or {}),
        ("pose estimator", POSE_ESTIMATORS, config["pose"]["estimator"], "pose/estimator",
         config["pose"].get("options") or {}),
        ("tracker", TRACKERS, config["track"]["tracker"], "track/tracker",
         config["track"].get("options") or {}),
        *[("detector", DETECTORS, entry["name"], f"single_task/{task}/name",
           entry.get("options") or {}) for task, entry in config["single_task"].items()],
        *[("codec", CODECS, codec, f"codecs/{codec}", options or {})
          for codec, options in config["codecs"].items()],
    ]


def check_backends(config: dict, *, source: str = "config") -> None:
    """Raise one :class:`VcmError` listing everything that stops ``config`` from running here:
    a detector, pose estimator, tracker or codec that is not registered, a backend whose
    framework is not installed or fails to import (its ``requirements``), a codec whose
    programs are missing or whose options are wrong, and the files of
    :func:`missing_files`. Each line names the config key and says what to install or fetch."""
    from vcm.codecs import CODECS
    from vcm.codecs.base import build_codec
    from vcm.frameworks import install_commands, missing_requirements

    named = [entry[:4] for entry in named_backends(config)]
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
    problems += broken_frameworks(config)
    for codec, options in config["codecs"].items():
        if codec in CODECS.names():
            try:
                build_codec(codec, **(options or {})).check_tools()
            except VcmError as error:
                problems.append(f"codecs/{codec}: {error}")
    problems += missing_files(config)
    if problems:
        raise VcmError(f"{source}: cannot run here:\n" + "\n".join(
            f"- {problem}" for problem in problems))


def broken_frameworks(config: dict) -> list[str]:
    """A line for each installed framework the config's backends need that fails to import
    (:func:`vcm.frameworks.broken_requirements`), with the command that reinstalls it."""
    from vcm.frameworks import broken_requirements, install_hint, missing_requirements

    needed_by: dict[str, list[str]] = {}
    for _, registry, name, where, _ in named_backends(config):
        if name in registry.names():
            modules = getattr(registry.get(name), "requirements", ())
            present = [module for module in modules if module not in missing_requirements(modules)]
            for module in present:
                needed_by.setdefault(module, []).append(f"{where} {name}")
    return [f"{module} is installed but {problem} (for {', '.join(needed_by[module])}); "
            f"reinstall: {install_hint(module)}"
            for module, problem in broken_requirements(needed_by).items()]


def missing_files(config: dict) -> list[str]:
    """A line for each file the config needs that is not here: every sequence's video and
    ground truth (pose and tracking), and every model file its backends load from the model
    store (neither in the mirror nor in the cache), each with what makes it."""
    return missing_sequence_files(config) + missing_model_files(config)


def missing_sequence_files(config: dict) -> list[str]:
    """The videos and ground-truth files of the config's ``path`` sequences that do not exist
    (relative paths from the current folder, as the sweep reads them); synthetic sequences
    are made by the sweep."""
    problems = []
    for name, entry in config["sequences"].items():
        if "path" not in entry:
            continue
        video = Path(entry["path"])
        if not video.exists():
            problems.append(f"sequences/{name}/path: {video} does not exist (a video file or "
                            "MOTChallenge folder; README, \"Reproducing the paper\")")
        track_truth = Path(entry.get("track_gt", video / "gt" / "gt.txt"))
        if not track_truth.is_file():
            problems.append(f"sequences/{name}/track_gt: {track_truth} does not exist "
                            "(MOTChallenge gt.txt of the sequence)")
        pose_truth = Path(entry.get("pose_gt", video / "gt" / "keypoints.json"))
        if not pose_truth.is_file():
            problems.append(f"sequences/{name}/pose_gt: {pose_truth} does not exist (COCO "
                            "keypoint JSON; from HiEve's pose files: vcm data hieve-pose "
                            f"FOLDER -o {pose_truth})")
    return problems


def missing_model_files(config: dict) -> list[str]:
    """The model files the config's backends need (their ``model_files(**options)``) that
    are neither in the model store's mirror nor in its cache."""
    from vcm.store import ModelStore

    store = ModelStore.from_environment(progress=False)
    problems = []
    seen = set()
    for _, registry, name, where, options in named_backends(config):
        backend = registry.get(name) if name in registry.names() else None
        model_files = getattr(backend, "model_files", None)
        if model_files is None:
            continue
        try:
            needed = model_files(**options)
        except (TypeError, VcmError):
            continue  # a wrong option: the backend's option check reports it
        for model, filename in needed:
            if (model, filename) in seen:
                continue
            seen.add((model, filename))
            mirror = store.mirror_path(model, filename)
            if (mirror is not None and mirror.is_file()) or store.cache_path(
                    model, filename).is_file():
                continue
            places = f"the cache {store.cache_path(model, filename)}"
            if mirror is not None:
                places = f"the mirror {mirror} or {places}"
            problems.append(f"{where} {name}: model file {model}/{filename} is not in "
                            f"{places}; fetch: vcm models fetch {model}")
    return problems


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
