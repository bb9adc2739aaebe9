"""Sweep configuration: the one JSON schema that Snakemake and the CLI both validate against,
where each sequence and its ground truth live (the workflow's rules ask here too), and a check
that everything a config needs is here: its backends registered and installed, their options,
its codecs' programs, its sequences' videos and ground truth, its backends' model files."""

from __future__ import annotations

import math
import os
from pathlib import Path

import yaml

from vcm.errors import VcmError, shown

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


GROUND_TRUTH = {
    "pose": ("pose_gt", "gt/keypoints.json"),
    "track": ("track_gt", "gt/gt.txt"),
    "segm": ("segm_gt", "gt/instances.json"),
}
"""For each evaluated task: its config key, and the default file under the sequence folder."""


def evaluated_tasks(config: dict) -> list[str]:
    """The tasks of :data:`GROUND_TRUTH` whose ground truth the sweep of ``config`` reads:
    pose and tracking always, segmentation ("segm") only with a ``segment`` section."""
    return [task for task in GROUND_TRUTH if task != "segm" or "segment" in config]


def expand_path(path: str) -> str:
    """A path from a config with ``~`` and environment variables (``$DATA``, ``${DATA}``)
    expanded, as a shell would; an unset variable stays as written."""
    return os.path.expandvars(os.path.expanduser(path))


def sequence_path(name: str, entry: dict) -> str:
    """The VIDEO argument of sequence ``name``: its ``path`` (expanded, :func:`expand_path`),
    the mirror's folder of its ``dataset`` (:class:`VcmError` if there is none), or its
    synthesized folder."""
    if "path" in entry:
        return expand_path(entry["path"])
    if "dataset" in entry:
        from vcm.store import ModelStore

        return str(ModelStore().dataset(entry["dataset"]))
    return f"data/synthetic/{name}"


def ground_truth(name: str, entry: dict, task: str) -> str | None:
    """The ground-truth file of ``task`` ("pose", "track" or "segm") for sequence ``name``, or
    None where the config says the sequence has none (``pose_gt: null``, ``track_gt: null``,
    ``segm_gt: null``)."""
    key, default = GROUND_TRUTH[task]
    if key in entry:
        return expand_path(entry[key]) if entry[key] is not None else None
    return f"{sequence_path(name, entry)}/{default}"


def sequence_problems(config: dict) -> list[str]:
    """One line per sequence whose video or ground truth is missing on disk (the ground truth
    of :func:`evaluated_tasks`: a config without segmentation needs no instance masks).
    Synthesized sequences are left out: the sweep writes them, ground truth included."""
    problems = []
    for name, entry in config["sequences"].items():
        if "synth" in entry:
            continue
        try:
            path = sequence_path(name, entry)
        except VcmError as error:
            problems.append(f"sequences/{name}: {error}")
            continue
        missing = [] if Path(path).exists() else [f"{path} (path)"]
        keys = []
        for task in evaluated_tasks(config):
            key = GROUND_TRUTH[task][0]
            truth = ground_truth(name, entry, task)
            if truth is not None and not Path(truth).is_file():
                missing.append(f"{truth} ({key})")
                keys.append(key)
        hint = (f" (ground truth elsewhere: {' / '.join(f'`{key}: FILE`' for key in keys)}; "
                f"none for this sequence: {' / '.join(f'`{key}: null`' for key in keys)})"
                if keys else "")
        if any("(pose_gt)" in item for item in missing):
            hint += "; HiEve pose files convert with: vcm data hieve-pose FOLDER -o FILE"
        if missing:
            problems.append(f"sequences/{name}: missing {', '.join(missing)}{hint}")
    return problems


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
    from vcm.detformats import DEFAULT_FORMAT, DETECTION_FORMATS
    from vcm.pose import POSE_ESTIMATORS
    from vcm.segmenters import SEGMENTERS
    from vcm.trackers import TRACKERS

    detections = config.get("detections") or {}
    backends = [
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
        ("detection format", DETECTION_FORMATS, detections.get("format", DEFAULT_FORMAT),
         "detections/format", detections.get("options") or {}),
    ]
    if "segment" in config:
        backends.append(("segmenter", SEGMENTERS, config["segment"]["segmenter"],
                         "segment/segmenter", config["segment"].get("options") or {}))
    return backends + appearance_embedders(config)


def appearance_embedders(config: dict) -> list[tuple[str, object, str, str, dict]]:
    """The appearance embedders the config's trackers name (option ``appearance`` of
    ``track`` and of each ``trackers:`` entry), as :func:`named_backends` lists backends, so
    that an embedder's framework (``osnet`` and ``jde`` need torch) and model files are
    checked before the sweep starts, not when its first tracking job builds the tracker."""
    from vcm.appearance import EMBEDDERS

    trackers = [("track", config["track"]), *[
        (f"trackers/{name}", entry) for name, entry in (config.get("trackers") or {}).items()]]
    return [("appearance embedder", EMBEDDERS, options["appearance"],
             f"{where}/options/appearance", options.get("appearance_options") or {})
            for where, entry in trackers
            if (options := entry.get("options") or {}).get("appearance") is not None]


def backend_problems(config: dict) -> list[str]:
    """One line for each thing that stops the config's backends from running here: a
    detector, pose estimator, tracker, appearance embedder or codec that is not registered, a
    backend whose framework is not installed or fails to import (its ``requirements``), a
    codec whose programs are missing or whose options are wrong, and the model files of
    :func:`missing_model_files`. Each line names the config key and says what to install or fetch."""
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
    problems += detection_format_problems(config)
    problems += missing_model_files(config)
    return problems


def detection_format_problems(config: dict) -> list[str]:
    """A line for each option of the config's detection format that the format does not take."""
    from vcm.detformats import DEFAULT_FORMAT, DETECTION_FORMATS

    detections = config.get("detections") or {}
    format_name = detections.get("format", DEFAULT_FORMAT)
    if format_name not in DETECTION_FORMATS.names():
        return []  # named by backend_problems
    detection_format = DETECTION_FORMATS.build(format_name)
    options = detections.get("options") or {}
    unknown = sorted(set(options) - set(detection_format.options))
    if unknown:
        return [f"detections/options: {detection_format.name} has no option {option!r} "
                f"(options: {', '.join(detection_format.options) or 'none'})" for option in unknown]
    return detection_option_value_problems(detection_format, options)


def detection_option_value_problems(detection_format, options: dict) -> list[str]:
    """A line for each value of ``options`` the detection format's writer would refuse: of
    another kind than its default (a number where it takes a number, never a boolean), or
    refused by the writer itself when it writes one box with them (into a temporary folder),
    so a sweep with ``step: 3`` stops before its first job, not at the detection files."""
    import tempfile

    from vcm.detections import DetectionSequence, FrameDetections

    problems = []
    for name, value in options.items():
        default = detection_format.options[name]
        number = isinstance(default, (int, float)) and not isinstance(default, bool)
        if number and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append(f"detections/options/{name}: must be a number, got {shown(value)}")
    if problems:
        return problems
    probe = DetectionSequence(64, 64, [FrameDetections(1, [[8.0, 8.0, 24.0, 40.0]], [0.5])])
    with tempfile.TemporaryDirectory(prefix="vcm-config-") as folder:
        try:
            detection_format.write(probe, Path(folder) / f"probe{detection_format.extension}",
                                   **options)
        except VcmError as error:
            problem = str(error).split(": ", 1)[-1]  # the probe's file name means nothing here
            problems.append(f"detections/options: {problem}")
    return problems


def value_problems(config: object, where: str = "") -> list[str]:
    """A line for each number of ``config`` that is not finite (``.nan``, ``.inf``): the
    schema's bounds do not refuse NaN, and no stage takes one."""
    if isinstance(config, dict):
        return [problem for key, value in config.items()
                for problem in value_problems(value, f"{where}/{key}" if where else str(key))]
    if isinstance(config, list):
        return [problem for index, value in enumerate(config)
                for problem in value_problems(value, f"{where}/{index}" if where else str(index))]
    if isinstance(config, float) and not math.isfinite(config):
        return [f"{where or '(top level)'}: must be a finite number, got {config!r}"]
    return []


def results_problems(config: dict, working_directory: Path | None = None) -> list[str]:
    """A line if the ``results`` folder, once symbolic links are followed, is not inside the
    working directory (the schema keeps its spelling relative and free of ``..``; a link on
    the way could still lead elsewhere)."""
    if not config.get("results"):
        return []
    here = (working_directory or Path.cwd()).resolve()
    target = (here / str(config["results"])).resolve()
    if target != here and here not in target.parents:
        return [f"results: {config['results']} leads outside the working directory "
                f"{here} (to {target}); a sweep writes only inside it"]
    return []


def check_runnable(config: dict, *, source: str = "config") -> None:
    """Raise one :class:`VcmError` listing everything that stops ``config`` from running
    here (:func:`backend_problems`, then :func:`sequence_problems`), so a sweep fails before
    any job runs, with every missing piece and what installs or makes it in one message."""
    problems = backend_problems(config) + sequence_problems(config) + motion_problems(config)
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
            problems.append(f"{where} {name}: model file {model}/{filename} is not in "
                            f"{store.places(model, filename)}; fetch: vcm models fetch {model}")
    return problems


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
    if (config["track"].get("options") or {}).get("appearance") is not None:
        problems += appearance_problems(config)
    for name, entry in (config.get("trackers") or {}).items():
        if entry["tracker"] not in TRACKERS.names():
            problems.append(f"trackers/{name}/tracker: unknown tracker {entry['tracker']!r}; "
                            f"known: {', '.join(TRACKERS.names())}")
            continue
        problems += [f"trackers/{name}/options: {problem}" for problem in
                     TRACKERS.option_problems(entry["tracker"], entry.get("options"))]
    for _, registry, name, where, options in appearance_embedders(config):
        if name in registry.names():
            problems += [f"{where}_options: {problem}"
                         for problem in registry.option_problems(name, options)]
    if "motion" in config:
        from vcm.motion import MOTION_RECOGNIZERS

        recognizer = config["motion"]["recognizer"]
        if recognizer not in MOTION_RECOGNIZERS.names():
            problems.append(f"motion/recognizer: unknown motion recognizer {recognizer!r}; "
                            f"known: {', '.join(MOTION_RECOGNIZERS.names())}")
        else:
            problems += [f"motion/options: {problem}" for problem in MOTION_RECOGNIZERS.option_problems(
                recognizer, config["motion"].get("options"))]
    return problems


def motion_clip(config: dict, sequence: str) -> str:
    """The labels' ``clip`` of ``sequence`` (``vcm evaluate motion --clip``): its folder
    relative to the folder of the config's ``motion: motion_gt`` labels CSV."""
    labels = Path(config["motion"]["motion_gt"])
    path = sequence_path(sequence, config["sequences"][sequence])
    return Path(os.path.relpath(Path(path).resolve(), labels.resolve().parent)).as_posix()


def motion_problems(config: dict) -> list[str]:
    """One line for each thing the ``motion`` section needs that is not here: the gallery
    (``options: model``), the labels CSV (``motion_gt``), and a row of that CSV for every
    sequence (its clip column names the sequence's folder, relative to the CSV)."""
    from vcm.motion.labels import read_labels

    motion = config.get("motion")
    if motion is None:
        return []
    problems = []
    model = (motion.get("options") or {}).get("model")
    if model is not None and not Path(model).is_file():
        problems.append(f"motion/options/model: {model}: no such file (make one: vcm motion fit "
                        "LABELS -o GALLERY.json)")
    labels = motion.get("motion_gt")
    if labels is None:
        return problems
    if not Path(labels).is_file():
        return problems + [f"motion/motion_gt: {labels}: no such file (none: `motion_gt: null`)"]
    try:
        clips = {row.clip.resolve() for row in read_labels(Path(labels))}
    except VcmError as error:
        return problems + [f"motion/motion_gt: {error}"]
    for sequence in config["sequences"]:
        if (Path(labels).parent / motion_clip(config, sequence)).resolve() not in clips:
            problems.append(f"motion/motion_gt: {labels}: no row labels sequence {sequence} "
                            f"(clip {motion_clip(config, sequence)})")
    return problems


def appearance_problems(config: dict) -> list[str]:
    """Tracking with appearance embeds each point's decoded foreground, frame for frame and
    pixel for pixel with the detections: a variant that codes every k-th frame or a
    downscaled foreground has no such frames. One line per such variant."""
    try:
        variants = multitask_variants(config)
    except VcmError:
        return []  # variant_problems reports it
    return [f"variants/{entry['variant']}: track/options appearance needs every frame at full "
            f"size; this variant codes keep_every {entry['keep_every']}, downscale "
            f"{entry['downscale']}" for entry in variants.values()
            if entry["keep_every"] != 1 or entry["downscale"] != 1]


def check_backend_options(config: dict, *, source: str = "config") -> None:
    """Raise one :class:`VcmError` listing :func:`backend_option_problems` and
    :func:`variant_problems`, if any."""
    problems = backend_option_problems(config) + variant_problems(config)
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
    """Read the sweep config at ``path`` and make the checks a sweep makes before it starts
    (:func:`check_sweep_config`)."""
    config = read_config_text(path)
    check_sweep_config(config, source=str(path))
    return config


def check_sweep_config(config: object, *, source: str = "config") -> dict:
    """Every check a sweep makes at start-up, shared by the Snakefile and ``vcm config`` so
    that "ok" means the sweep starts: the schema (:func:`validate_config`), finite numbers
    (:func:`value_problems`), a ``results`` folder inside the working directory
    (:func:`results_problems`), the backends' options (:func:`check_backend_options`) and
    everything the config needs being here (:func:`check_runnable`). Returns ``config``."""
    validate_config(config, source=source)
    problems = value_problems(config) + results_problems(config)
    if problems:
        raise VcmError(f"{source}: values the sweep cannot run:\n" + "\n".join(
            f"- {problem}" for problem in problems))
    check_backend_options(config, source=source)
    check_runnable(config, source=source)
    return config


MULTITASK = "multitask"
"""The multitask pipeline of the config's own ``detector`` score and ``foreground``; each
variant (``variants:``, ``score_study:``) is another multitask pipeline, ``multitask-<name>``."""

SINGLE = "single"
"""The single-task baselines' pipeline."""


TRACKER_SEPARATOR = "+"
"""Between a base pipeline and a tracker variant's name: ``multitask+reid``, ``single+reid``
(``+`` is no variant name's character, so these never clash with ``multitask-<name>``)."""


def tracker_pipelines(config: dict) -> dict[str, dict]:
    """The pipelines of the config's ``trackers:`` section, in order: for each ``name``,
    ``multitask+<name>`` (the tracker on the config's own multitask points: their shared
    detections, and with appearance their decoded foreground) and ``single+<name>`` (on the
    single-task baselines: their own detections, and with appearance their decoded original).
    ``{pipeline: {"base": "multitask" or "single", "name": name, "tracker": str,
    "options": {option: value}}}``; each shares its base's bits, pose and segmentation and
    differs only in tracks."""
    pipelines = {}
    for name, entry in (config.get("trackers") or {}).items():
        for base in (MULTITASK, SINGLE):
            pipelines[f"{base}{TRACKER_SEPARATOR}{name}"] = {
                "base": base, "name": name, "tracker": entry["tracker"],
                "options": dict(entry.get("options") or {})}
    return pipelines


def results_root(config: dict, config_file: str | Path | None) -> str:
    """The folder a sweep of ``config`` writes: its ``results`` key, else
    ``results/<config file name without extension>`` (``results/default`` for
    configs/default.yaml), so two configs swept one after the other keep both results."""
    if config.get("results"):
        return str(config["results"]).rstrip("/")
    stem = Path(config_file).stem if config_file else "default"
    return f"results/{stem}"


def score_label(score: float) -> str:
    """A detector score as it appears in names and paths: ``0.6``, ``0.45``, ``0``."""
    return f"{float(score):g}"


CODING_DEFAULTS = {"keep_every": 1, "carry": "interpolate", "downscale": 1,
                   "downscale_regions": 1, "embed": False}
"""A variant's coding keys and their defaults (the config's own ``multitask``): code every
``keep_every``-th foreground frame and ``carry`` poses and masks along the tracks to the
others (:mod:`vcm.temporal`); code the foreground at 1/``downscale`` of each side
(:mod:`vcm.spatial`), or only its kept rectangles, each in place, at
1/``downscale_regions`` (:func:`vcm.spatial.shrink_regions`); ``embed`` the detections in
the bitstream as annotated-regions SEI (BPP then counts the bitstream alone): ``true``, or
``vcm encode --embed-option`` s (``{confidence_bits: 6, labels: false}``)."""


def multitask_variants(config: dict) -> dict[str, dict]:
    """Every multitask pipeline of ``config``, in order: ``{pipeline: {"score": float,
    "foreground": {option: value}, "variant": name, "keep_every": int, "carry": str,
    "downscale": int, "downscale_regions": int, "embed": bool or dict}}`` (the last five as
    :data:`CODING_DEFAULTS`
    unless a variant gives them).

    ``multitask`` has the config's ``detector`` score and ``foreground``; each entry of
    ``variants`` (``{name: {score?, foreground?}}``) is ``multitask-<name>``, taking a key it
    gives in place of the config's (a variant's ``foreground`` replaces the whole section);
    each score of ``score_study`` other than the detector's is ``multitask-score<score>`` with
    the config's foreground. Raises :class:`VcmError` when two pipelines would be the same
    (same score and foreground) or a name is given twice."""
    base_score = float(config["detector"].get("score", 0.6))
    base_foreground = dict(config.get("foreground") or {})
    pipelines = {MULTITASK: {"variant": "", "score": base_score, "foreground": base_foreground,
                             **CODING_DEFAULTS}}
    named = dict(config.get("variants") or {})
    for score in config.get("score_study") or []:
        if float(score) == base_score:
            continue  # the config's own multitask pipeline is that point of the study
        name = f"score{score_label(score)}"
        if name in named:
            raise VcmError(f"variants/{name}: the name of score_study's {score_label(score)} "
                           "point; choose another")
        named[name] = {"score": float(score)}
    seen = {(base_score, _frozen(base_foreground), *map(repr, CODING_DEFAULTS.values())):
            MULTITASK}
    for name, entry in named.items():
        entry = entry or {}
        variant = {
            "variant": name,
            "score": float(entry.get("score", base_score)),
            "foreground": dict(entry["foreground"] if "foreground" in entry else base_foreground),
            **{key: entry.get(key, default) for key, default in CODING_DEFAULTS.items()},
        }
        key = (variant["score"], _frozen(variant["foreground"]),
               *(repr(variant[key]) for key in CODING_DEFAULTS))
        if key in seen:
            raise VcmError(f"variants/{name}: the same score, foreground and coding as "
                           f"{seen[key]}")
        seen[key] = f"{MULTITASK}-{name}"
        pipelines[f"{MULTITASK}-{name}"] = variant
    return pipelines


def _frozen(options: dict) -> tuple:
    return tuple(sorted((key, repr(value)) for key, value in options.items()))


def variant_problems(config: dict) -> list[str]:
    """A line for each multitask variant the sweep cannot run: two pipelines that are the
    same, or a foreground option the renderer refuses."""
    from vcm.masking import ForegroundOptions

    try:
        pipelines = multitask_variants(config)
    except VcmError as error:
        return [str(error)]
    problems = []
    for pipeline, variant in pipelines.items():
        where = f"variants/{variant['variant']}/foreground" if variant["variant"] else "foreground"
        if isinstance(variant["embed"], dict):
            from vcm.codecs.pipeline import checked_embed_options

            try:
                checked_embed_options(variant["embed"])
            except VcmError as error:
                problems.append(f"variants/{variant['variant']}/embed: {error}")
        if variant["embed"] is not False and variant["keep_every"] != 1:
            problems.append(f"variants/{variant['variant']}: embed needs keep_every 1 (the "
                            "SEI messages carry the boxes of the coded frames only)")
        try:
            options = ForegroundOptions.from_options(variant["foreground"], source=where)
        except VcmError as error:
            problems.append(str(error) if str(error).startswith(where) else f"{where}: {error}")
            continue
        try:
            from vcm.spatial import check_downscale, check_region_scaling

            check_downscale(variant["downscale"])
            check_region_scaling(variant["downscale_regions"], options, variant["downscale"])
        except VcmError as error:
            problems.append(f"variants/{variant['variant']}: {error}")
    return problems
