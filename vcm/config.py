"""Sweep configuration: the one JSON schema that Snakemake and the CLI both validate against,
and a check that every backend a config names is registered."""

from __future__ import annotations

from pathlib import Path

import yaml

from vcm.errors import VcmError

SCHEMA_PATH = Path(__file__).parent / "schemas" / "config.schema.yaml"

MAX_CONFIG_BYTES = 1024 * 1024
"""Largest sweep config read (bytes); the shipped ones are under 4 KiB."""

MAX_YAML_NODES = 100_000
"""Most YAML nodes a config may hold once its aliases are expanded (an alias counts the
whole node it refers to, so a "billion laughs" of nested aliases is refused before it is
built)."""

MAX_OPTION_YAML_NODES = 1000
"""Most YAML nodes of one ``-p key=value`` value."""

MAX_YAML_DEPTH = 64
"""Deepest nesting of YAML lists and mappings accepted."""


def load_yaml(text: str, *, source: str, max_nodes: int = MAX_YAML_NODES) -> object:
    """Parse YAML ``text`` (safe types only) with bounded size: at most ``max_nodes`` nodes
    after alias expansion, at most :data:`MAX_YAML_DEPTH` levels, no alias to a node that
    contains it. Anything else raises :class:`VcmError` naming ``source``."""
    loader = None
    try:
        # The reader checks every character as it is built, so this is inside the try.
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _count_yaml_nodes(node, source=source, max_nodes=max_nodes, counted={}, open_nodes=set())
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        raise VcmError(f"{source}: not valid YAML ({_yaml_problem(error)})") from None
    except RecursionError:
        # PyYAML composes nested collections recursively.
        raise VcmError(f"{source}: YAML nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: the problem and where."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return f"{error.problem}{where}"
    return " ".join(str(error).split())


def _count_yaml_nodes(
    node: yaml.Node, *, source: str, max_nodes: int, counted: dict[int, int],
    open_nodes: set[int], depth: int = 0,
) -> int:
    """Nodes under ``node`` with aliases expanded; raise :class:`VcmError` past the limits.

    An alias is the very node object it names, so ``counted`` (by object id) makes this
    linear in the document's size however many times a node is referred to."""
    key = id(node)
    if key in counted:
        return counted[key]
    if key in open_nodes:
        raise VcmError(f"{source}: a YAML alias refers to a node that contains it")
    if depth > MAX_YAML_DEPTH:
        raise VcmError(f"{source}: YAML nested deeper than {MAX_YAML_DEPTH} levels")
    total = 1
    if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
        open_nodes.add(key)
        children = node.value if isinstance(node, yaml.SequenceNode) else [
            child for pair in node.value for child in pair
        ]
        for child in children:
            total += _count_yaml_nodes(child, source=source, max_nodes=max_nodes,
                                       counted=counted, open_nodes=open_nodes, depth=depth + 1)
            if total > max_nodes:
                raise VcmError(f"{source}: YAML holds more than {max_nodes} values once its "
                               "aliases are expanded")
        open_nodes.discard(key)
    counted[key] = total
    return total


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


def backend_option_problems(config: dict) -> list[str]:
    """One line per option of a backend the config names that the backend does not take or
    allow (its ``option_schema``), and per QP of ``qps`` outside a codec's range; each
    line starts with the config key. Nothing is built, so this is fast and needs no models."""
    from vcm.codecs import CODECS
    from vcm.codecs.base import qp_problem
    from vcm.detectors import DETECTORS
    from vcm.pose import POSE_ESTIMATORS
    from vcm.segmenters import SEGMENTERS
    from vcm.trackers import TRACKERS

    named = [
        (DETECTORS, config["detector"], "name", "detector"),
        (POSE_ESTIMATORS, config["pose"], "estimator", "pose"),
        (TRACKERS, config["track"], "tracker", "track"),
        *[(DETECTORS, entry, "name", f"single_task/{task}")
          for task, entry in config["single_task"].items()],
    ]
    if "segment" in config:
        named.append((SEGMENTERS, config["segment"], "segmenter", "segment"))
    problems = []
    for registry, entry, name_key, where in named:
        if entry[name_key] in registry.names():
            problems += [f"{where}/options: {problem}" for problem in
                         registry.option_problems(entry[name_key], entry.get("options"))]
    for codec, options in config["codecs"].items():
        if codec not in CODECS.names():
            continue
        problems += [f"codecs/{codec}: {problem}"
                     for problem in CODECS.option_problems(codec, options)]
        problems += [f"qps: {codec}: {problem}" for qp in config["qps"]
                     if (problem := qp_problem(CODECS.get(codec).qp_range, qp))]
    return problems


def check_backend_options(config: dict, *, source: str = "config") -> None:
    """Raise one :class:`VcmError` listing :func:`backend_option_problems`, if any."""
    problems = backend_option_problems(config)
    if problems:
        raise VcmError(f"{source}: options the sweep cannot run:\n" + "\n".join(
            f"- {problem}" for problem in problems))


def read_config_text(path: Path) -> object:
    """The YAML document of the config file at ``path``, size-bounded (see :func:`load_yaml`
    and :data:`MAX_CONFIG_BYTES`); a missing, huge, non-UTF-8 or malformed file raises
    :class:`VcmError` naming it."""
    if not path.is_file():
        raise VcmError(f"{path}: file does not exist")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise VcmError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes; not a sweep config")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise VcmError(f"{path}: not UTF-8 text ({error})") from None
    return load_yaml(text, source=str(path))


def load_config(path: Path) -> dict:
    """Read, validate and check the sweep config at ``path``."""
    config = read_config_text(path)
    validate_config(config, source=str(path))
    check_backend_options(config, source=str(path))
    check_backends(config, source=str(path))
    return config
