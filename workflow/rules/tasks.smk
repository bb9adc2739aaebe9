# Downstream tasks of the multitask pipeline (paper Fig. 1e, plus segmentation when the config
# has it) and the evaluation of every task output, multitask or single-task. Evaluations depend on the sequence folder, which
# holds the ground truth (a synthesized folder is one `directory()` output).


rule pose_multitask:
    input:
        video="results/multitask/{sequence}/{codec}/qp{qp}/decoded.mkv",
        detections=SHARED_DETECTIONS,
    output:
        poses="results/multitask/{sequence}/{codec}/qp{qp}/pose.json",
        run="results/multitask/{sequence}/{codec}/qp{qp}/pose.json.run.json",
    params:
        estimator=config["pose"]["estimator"],
        options=option_flags(config["pose"].get("options")),
    log:
        "logs/pose/multitask/{sequence}/{codec}/qp{qp}.log",
    shell:
        "vcm pose {input.video:q} {input.detections:q} --estimator {params.estimator:q} "
        "{params.options:q} -o {output.poses:q} --no-progress > {log:q} 2>&1"


# The boxes come from the uncompressed original, so tracking runs once per sequence.
rule track_multitask:
    input:
        detections=SHARED_DETECTIONS,
        video=sequence_input,
    output:
        tracks="results/multitask/{sequence}/tracks.txt",
        run="results/multitask/{sequence}/tracks.txt.run.json",
    params:
        tracker=config["track"]["tracker"],
        options=option_flags(config["track"].get("options")),
    log:
        "logs/track/multitask/{sequence}.log",
    shell:
        "vcm track {input.detections:q} --tracker {params.tracker:q} {params.options:q} "
        "--like {input.video:q} -o {output.tracks:q} > {log:q} 2>&1"


rule segment_multitask:
    input:
        video="results/multitask/{sequence}/{codec}/qp{qp}/decoded.mkv",
        detections=SHARED_DETECTIONS,
    output:
        masks="results/multitask/{sequence}/{codec}/qp{qp}/masks.json",
        run="results/multitask/{sequence}/{codec}/qp{qp}/masks.json.run.json",
    params:
        segmenter=config.get("segment", {}).get("segmenter", ""),
        options=option_flags(config.get("segment", {}).get("options")),
    log:
        "logs/segment/multitask/{sequence}/{codec}/qp{qp}.log",
    shell:
        "vcm segment {input.video:q} {input.detections:q} --segmenter {params.segmenter:q} "
        "{params.options:q} -o {output.masks:q} --no-progress > {log:q} 2>&1"


rule evaluate_segm:
    input:
        masks="results/{pipeline}/{sequence}/{codec}/qp{qp}/masks.json",
        sequence=sequence_input,
    output:
        "results/{pipeline}/{sequence}/{codec}/qp{qp}/segm_eval.json",
    params:
        gt=segm_ground_truth,
    log:
        "logs/evaluate_segm/{pipeline}/{sequence}/{codec}/qp{qp}.log",
    shell:
        "vcm evaluate segm {input.masks:q} --gt {params.gt:q} -o {output:q} 2> {log:q}"


rule evaluate_pose:
    input:
        poses="results/{pipeline}/{sequence}/{codec}/qp{qp}/pose.json",
        sequence=sequence_input,
    output:
        "results/{pipeline}/{sequence}/{codec}/qp{qp}/pose_eval.json",
    params:
        gt=pose_ground_truth,
    log:
        "logs/evaluate_pose/{pipeline}/{sequence}/{codec}/qp{qp}.log",
    shell:
        "vcm evaluate pose {input.poses:q} --gt {params.gt:q} -o {output:q} 2> {log:q}"


rule evaluate_track_multitask:
    input:
        tracks="results/multitask/{sequence}/tracks.txt",
        sequence=sequence_input,
    output:
        "results/multitask/{sequence}/track_eval.json",
    params:
        gt=track_ground_truth,
    log:
        "logs/evaluate_track/multitask/{sequence}.log",
    shell:
        "vcm evaluate track {input.tracks:q} --gt {params.gt:q} -o {output:q} 2> {log:q}"


rule evaluate_track_single:
    input:
        tracks="results/single/{sequence}/{codec}/qp{qp}/tracks.txt",
        sequence=sequence_input,
    output:
        "results/single/{sequence}/{codec}/qp{qp}/track_eval.json",
    params:
        gt=track_ground_truth,
    log:
        "logs/evaluate_track/single/{sequence}/{codec}/qp{qp}.log",
    shell:
        "vcm evaluate track {input.tracks:q} --gt {params.gt:q} -o {output:q} 2> {log:q}"
