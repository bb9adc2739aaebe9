# Helpers shared by the rules: where this config's results go, its multitask pipelines (the
# config's own and its variants), where each sequence and its ground truth live, codec file
# extensions, option flags, and the list of points the sweep measures.
from pathlib import Path

from vcm.codecs import CODECS
from vcm.config import (MULTITASK, SINGLE, ground_truth, motion_clip, multitask_variants,
                        results_root, score_label, sequence_path, tracker_pipelines)
from vcm.detformats import DEFAULT_FORMAT, get_format


def sweep_config_file():
    """The config file this sweep runs with (the last one given, else the default)."""
    files = [str(path) for path in workflow.configfiles]
    return files[-1] if files else str(Path(workflow.basedir) / "configs" / "default.yaml")


# Everything this config writes (logs included) is under RESULTS: results/<config name>, or
# its `results:` key. Two configs swept one after the other keep both.
RESULTS = results_root(config, sweep_config_file())


def R(path):
    """``path`` inside this sweep's results folder (wildcards left as they are)."""
    return f"{RESULTS}/{path}"


def LOG(path):
    return f"{RESULTS}/logs/{path}.log"


# The multitask pipelines: `multitask` (the config's detector score and foreground) and one
# `multitask-<name>` per variant or score_study point; then the single-task baselines.
VARIANTS = multitask_variants(config)
# Tracker variants (`trackers:`): multitask+<name> and single+<name>, which track the points
# of multitask and single once more and share everything else with them.
TRACKER_PIPELINES = tracker_pipelines(config)
PIPELINES = [*VARIANTS, SINGLE, *TRACKER_PIPELINES]
MULTITASK_PIPELINE = r"multitask(?:-[A-Za-z0-9][A-Za-z0-9_.-]*)?"
TRACKER_PIPELINE = r"(?:multitask|single)\+[A-Za-z0-9][A-Za-z0-9_.-]*"

# Segmentation is the optional third task: a config with a `segment` section runs it.
SEGMENTATION = "segment" in config

# Motion recognition (docs/motion.md) is the optional fourth task: a config with a `motion`
# section runs it on every multitask and single-task point's poses and tracks, and scores it
# when `motion_gt` names a labels CSV.
MOTION = config.get("motion")
MOTION_LABELS = (MOTION or {}).get("motion_gt")

# Tracking with appearance (`track: options: appearance: NAME`) embeds the pixels each point
# decoded, so it runs per point (multitask: on the decoded foreground; single-task: on the
# decoded original); without it, multitask tracking reads boxes alone, once per sequence.
TRACK_APPEARANCE = (config["track"].get("options") or {}).get("appearance") is not None


def multitask_track_folder(pipeline, sequence, codec, qp):
    """Where a multitask point's tracks.txt and track_eval.json are: the point's folder with
    appearance, else the sequence's."""
    if TRACK_APPEARANCE:
        return R(f"{pipeline}/{sequence}/{codec}/qp{qp}")
    return R(f"{pipeline}/{sequence}")


def sequence_input(wildcards):
    """The VIDEO argument for a sequence: its configured path, or the synthesized folder."""
    return sequence_path(wildcards.sequence, config["sequences"][wildcards.sequence])


def has_ground_truth(sequence, task):
    """Whether the config gives ``sequence`` ground truth for ``task`` (not `<task>_gt: null`)."""
    return ground_truth(sequence, config["sequences"][sequence], task) is not None


def pose_ground_truth(wildcards):
    return ground_truth(wildcards.sequence, config["sequences"][wildcards.sequence], "pose")


def track_ground_truth(wildcards):
    return ground_truth(wildcards.sequence, config["sequences"][wildcards.sequence], "track")


def segm_ground_truth(wildcards):
    return ground_truth(wildcards.sequence, config["sequences"][wildcards.sequence], "segm")


def codec_extension(codec):
    return CODECS.get(codec).extension.lstrip(".")


def option_flags(options, flag="-p"):
    """{key: value} -> ["-p", "key=value", ...]: argv words for the vcm CLI, which rules pass
    with `{params.options:q}` so each word is shell-quoted (no value reaches the shell raw)."""
    return [word for key, value in (options or {}).items() for word in (flag, f"{key}={value}")]


def repeated(flag, paths):
    """["--flag", path, "--flag", path, ...]: argv words, shell-quoted by `:q` in the rules."""
    return [word for path in paths for word in (flag, str(path))]


def codec_options(wildcards):
    return option_flags(config["codecs"][wildcards.codec])


def point_folder(wildcards):
    return R(f"{wildcards.pipeline}/{wildcards.sequence}/{wildcards.codec}/qp{wildcards.qp}")


def sweep_points():
    """Every (pipeline, sequence, codec, qp) point of the sweep, as paths of its record."""
    return [
        R(f"{pipeline}/{sequence}/{codec}/qp{qp}/point.json")
        for pipeline in PIPELINES
        for sequence in config["sequences"]
        for codec in config["codecs"]
        for qp in config["qps"]
    ]


DETECTIONS = config.get("detections", {})
DETECTIONS_FORMAT = DETECTIONS.get("format", DEFAULT_FORMAT)
# The detection file's extension follows its format: detections.vcmd, detections.zip.
DETECTIONS_EXTENSION = get_format(DETECTIONS_FORMAT).extension
DETECTIONS_FLAGS = ["--format", DETECTIONS_FORMAT,
                    *option_flags(DETECTIONS.get("options"), "--format-option")]
# The shared detector runs once per sequence and score: variants with the same score (other
# foregrounds) share its file.
DETECTIONS_AT_SCORE = R("detections/{sequence}/score{score}/detections" + DETECTIONS_EXTENSION)


def resampling_flags(wildcards):
    """`vcm foreground|pose|segment --keep-every K --downscale F --downscale-regions F` of a
    resampled variant (only the ones it sets; none for the others)."""
    variant = VARIANTS[wildcards.pipeline]
    return [word for key in ("keep_every", "downscale", "downscale_regions") if variant[key] != 1
            for word in (f"--{key.replace('_', '-')}", str(variant[key]))]


def carry_tracks(wildcards):
    """The full-rate tracks a temporally resampled variant's box tasks carry results along
    (a list: empty for a variant that codes every frame)."""
    if VARIANTS[wildcards.pipeline]["keep_every"] == 1:
        return []
    return [R(f"{wildcards.pipeline}/{wildcards.sequence}/tracks.txt")]


def embeds(wildcards):
    """Whether a multitask pipeline carries its detections in the bitstream (SEI)."""
    return VARIANTS[wildcards.pipeline]["embed"] is not False


def embed_flags(wildcards, input):
    """`vcm encode --embed FILE --embed-option key=value ...` of an `embed` variant."""
    embed = VARIANTS[wildcards.pipeline]["embed"]
    if embed is False:
        return []
    options = embed if isinstance(embed, dict) else {}
    flags = option_flags({key: str(value).lower() if isinstance(value, bool) else value
                          for key, value in options.items()}, "--embed-option")
    return [*repeated("--embed", input.embedded), *flags]


def task_detections(wildcards):
    """The boxes a multitask point's box tasks (pose, segmentation) read: those extracted from
    the bitstream for an `embed` variant, else the detection file sent beside it."""
    if embeds(wildcards):
        return f"{point_folder(wildcards)}/extracted{DETECTIONS_EXTENSION}"
    return shared_detections(wildcards)


def shared_detections(wildcards):
    """The detection file a multitask pipeline sends: its score's run of the shared detector."""
    return DETECTIONS_AT_SCORE.format(
        sequence=wildcards.sequence, score=score_label(VARIANTS[wildcards.pipeline]["score"]))


wildcard_constraints:
    # Starts with a letter or digit: a sequence named `.` or `..` would point outside results/.
    sequence=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    codec=r"[A-Za-z0-9_-]+",
    qp=r"\d+",
    extension=r"[a-z0-9]+",
    pipeline=MULTITASK_PIPELINE + "|single|" + TRACKER_PIPELINE,
    task=r"pose|track|segment",
    score=r"[0-9.e-]+",
