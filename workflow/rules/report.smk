# One record per measured point, then the report of the whole sweep: summary table,
# manifest, the paper's tables and the plots.
from pathlib import Path


def point_inputs(wildcards):
    """Everything a point's record reads, by pipeline."""
    inputs = two_task_point_inputs(wildcards)
    if SEGMENTATION:
        folder = point_folder(wildcards)
        inputs["segm_eval"] = f"{folder}/segm_eval.json"
        inputs["runs"].append(f"{folder}/masks.json.run.json")
        if wildcards.pipeline == "single":
            inputs["segment_detect_runs"] = [f"{folder}/segment_detections.zip.run.json"]
    return inputs


def segmentation_flags(input):
    """`vcm point` words for the third task: its evaluation and its own detector's run."""
    if not SEGMENTATION:
        return []
    return ["--segm-eval", input.segm_eval] + repeated(
        "--segment-detect-run", input.get("segment_detect_runs", [])
    )


def two_task_point_inputs(wildcards):
    """What a point of the paper's two tasks (pose, tracking) reads, by pipeline."""
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
        runs=lambda wildcards, input: repeated("--run", input.runs),
        codec_records=lambda wildcards, input: repeated("--codec-record", input.codec_records),
        segmentation=lambda wildcards, input: segmentation_flags(input),
    log:
        "logs/point/{pipeline}/{sequence}/{codec}/qp{qp}.log",
    shell:
        "vcm point --sequence {wildcards.sequence:q} --pipeline {wildcards.pipeline:q} "
        "--codec {wildcards.codec:q} --qp {wildcards.qp:q} --bpp {input.bpp:q} "
        "--pose-eval {input.pose_eval:q} --track-eval {input.track_eval:q} {params.runs:q} "
        "{params.segmentation:q} {params.codec_records:q} -o {output:q} > {log:q} 2>&1"


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
