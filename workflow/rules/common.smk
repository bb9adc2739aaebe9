# Helpers shared by the rules: where each sequence and its ground truth live, codec file
# extensions, option flags, and the list of points the sweep measures.
from vcm.codecs import CODECS
from vcm.config import ground_truth, sequence_path
from vcm.detformats import DEFAULT_FORMAT, get_format

PIPELINES = ["multitask", "single"]

# Segmentation is the optional third task: a config with a `segment` section runs it.
SEGMENTATION = "segment" in config


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
    entry = config["sequences"][wildcards.sequence]
    return entry.get("segm_gt", f"{sequence_input(wildcards)}/gt/instances.json")


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
    return f"results/{wildcards.pipeline}/{wildcards.sequence}/{wildcards.codec}/qp{wildcards.qp}"


def sweep_points():
    """Every (pipeline, sequence, codec, qp) point of the sweep, as paths of its record."""
    return [
        f"results/{pipeline}/{sequence}/{codec}/qp{qp}/point.json"
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
SHARED_DETECTIONS = "results/detections/{sequence}/detections" + DETECTIONS_EXTENSION


wildcard_constraints:
    # Starts with a letter or digit: a sequence named `.` or `..` would point outside results/.
    sequence=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    codec=r"[A-Za-z0-9_-]+",
    qp=r"\d+",
    extension=r"[a-z0-9]+",
    pipeline=r"multitask|single",
    task=r"pose|track|segment",
