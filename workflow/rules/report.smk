# One record per measured point, then the report of the whole sweep: summary table,
# manifest, the paper's tables and the plots.
from pathlib import Path


def point_inputs(wildcards):
    """Everything a point's record reads, by pipeline."""
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
        runs=lambda wildcards, input: " ".join(f"--run {path}" for path in input.runs),
        codec_records=lambda wildcards, input: " ".join(
            f"--codec-record {path}" for path in input.codec_records
        ),
    log:
        "logs/point/{pipeline}/{sequence}/{codec}/qp{qp}.log",
    shell:
        "vcm point --sequence {wildcards.sequence} --pipeline {wildcards.pipeline} "
        "--codec {wildcards.codec} --qp {wildcards.qp} --bpp {input.bpp} "
        "--pose-eval {input.pose_eval} --track-eval {input.track_eval} {params.runs} "
        "{params.codec_records} -o {output} > {log} 2>&1"


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
        points=lambda wildcards, input: " ".join(f"--point {path}" for path in input),
        config=sweep_config_file(),
    log:
        "logs/summary.log",
    shell:
        "vcm report results -o {output.summary} --config {params.config} {params.points} "
        "> {log} 2>&1"
