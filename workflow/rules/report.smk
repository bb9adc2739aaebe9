# One record per measured point, then the report of the whole sweep: summary table,
# manifest, the paper's tables and the plots.
from pathlib import Path


def point_inputs(wildcards):
    """Everything a point's record reads, by pipeline. An evaluation is left out where the
    sequence has no ground truth for it (`pose_gt: null`, `track_gt: null`); the task still
    runs, so its time is measured."""
    inputs = _point_inputs(wildcards)
    for task in ("pose", "track"):
        if not has_ground_truth(wildcards.sequence, task):
            del inputs[f"{task}_eval"]
    return inputs


def evaluation_flags(input):
    """["--pose-eval", path, "--track-eval", path] for the evaluations a point has; argv
    words, shell-quoted by `:q` in the rule."""
    return [
        word
        for task in ("pose", "track")
        if hasattr(input, f"{task}_eval")
        for word in repeated(f"--{task}-eval", [getattr(input, f"{task}_eval")])
    ]


def _point_inputs(wildcards):
    folder = point_folder(wildcards)
    extension = codec_extension(wildcards.codec)
    if wildcards.pipeline == "multitask":
        return {
            "bpp": f"{folder}/bpp.json",
            "pose_eval": f"{folder}/pose_eval.json",
            "track_eval": f"results/multitask/{wildcards.sequence}/track_eval.json",
            "runs": [
                f"results/detections/{wildcards.sequence}/detections.zip.run.json",
                f"{folder}/pose.json.run.json",
                f"results/multitask/{wildcards.sequence}/tracks.txt.run.json",
            ],
            "codec_records": [f"{folder}/foreground.{extension}.json", f"{folder}/decoded.mkv.json"],
        }
    return {
        "bpp": f"{folder}/bpp.json",
        "pose_eval": f"{folder}/pose_eval.json",
        "track_eval": f"{folder}/track_eval.json",
        "runs": [
            f"{folder}/pose_detections.zip.run.json",
            f"{folder}/pose.json.run.json",
            f"{folder}/track_detections.zip.run.json",
            f"{folder}/tracks.txt.run.json",
        ],
        "codec_records": [f"{folder}/original.{extension}.json", f"{folder}/decoded.mkv.json"],
    }


rule point:
    input:
        unpack(point_inputs),
    output:
        "results/{pipeline}/{sequence}/{codec}/qp{qp}/point.json",
    params:
        evaluations=lambda wildcards, input: evaluation_flags(input),
        runs=lambda wildcards, input: repeated("--run", input.runs),
        codec_records=lambda wildcards, input: repeated("--codec-record", input.codec_records),
    log:
        "logs/point/{pipeline}/{sequence}/{codec}/qp{qp}.log",
    shell:
        "vcm point --sequence {wildcards.sequence:q} --pipeline {wildcards.pipeline:q} "
        "--codec {wildcards.codec:q} --qp {wildcards.qp:q} --bpp {input.bpp:q} "
        "{params.evaluations:q} {params.runs:q} {params.codec_records:q} -o {output:q} "
        "> {log:q} 2>&1"


def sweep_config_file():
    """The config file this sweep runs with (the last one given, else the default)."""
    files = [str(path) for path in workflow.configfiles]
    return files[-1] if files else str(Path(workflow.basedir) / "configs" / "default.yaml")


rule summary:
    input:
        sweep_points(),
    output:
        summary="results/summary.csv",
        manifest="results/manifest.json",
        tables=directory("results/tables"),
        plots=directory("results/plots"),
    params:
        points=lambda wildcards, input: repeated("--point", input),
        config=sweep_config_file(),
    log:
        "logs/summary.log",
    shell:
        "vcm report results -o {output.summary:q} --config {params.config:q} {params.points:q} "
        "> {log:q} 2>&1"
