# Single-task baselines (paper Fig. 4b): code the original video at the same codec and QP,
# decode it (rule `decode`), and let each task run its own detector on the decoded frames.


rule encode_original:
    input:
        sequence_input,
    output:
        bitstream=R("single/{sequence}/{codec}/qp{qp}/original.{extension}"),
        sidecar=R("single/{sequence}/{codec}/qp{qp}/original.{extension}.json"),
    params:
        options=codec_options,
    log:
        LOG("encode/single/{sequence}/{codec}/qp{qp}.{extension}"),
    shell:
        "vcm encode {input:q} --codec {wildcards.codec:q} --qp {wildcards.qp:q} {params.options:q} "
        "-o {output.bitstream:q} --no-progress > {log:q} 2>&1"


def task_detector(wildcards):
    return config["single_task"][wildcards.task]


# The task's own detections stay on this machine (they are not sent, not counted in BPP), so
# they keep the 2-decimal voc-zip whatever `detections: format` says: the single-task
# baselines do not change with the multitask pipeline's detection format.
rule detect_single:
    input:
        R("single/{sequence}/{codec}/qp{qp}/decoded.mkv"),
    output:
        zip=R("single/{sequence}/{codec}/qp{qp}/{task}_detections.zip"),
        run=R("single/{sequence}/{codec}/qp{qp}/{task}_detections.zip.run.json"),
    params:
        name=lambda wildcards: task_detector(wildcards)["name"],
        score=lambda wildcards: task_detector(wildcards).get("score", 0.6),
        options=lambda wildcards: option_flags(task_detector(wildcards).get("options")),
    log:
        LOG("detect/single/{sequence}/{codec}/qp{qp}/{task}"),
    shell:
        "vcm detect {input:q} --detector {params.name:q} --score {params.score:q} {params.options:q} "
        "-o {output.zip:q} --no-progress > {log:q} 2>&1"


rule pose_single:
    input:
        video=R("single/{sequence}/{codec}/qp{qp}/decoded.mkv"),
        detections=R("single/{sequence}/{codec}/qp{qp}/pose_detections.zip"),
    output:
        poses=R("single/{sequence}/{codec}/qp{qp}/pose.json"),
        run=R("single/{sequence}/{codec}/qp{qp}/pose.json.run.json"),
    params:
        estimator=config["pose"]["estimator"],
        options=option_flags(config["pose"].get("options")),
    log:
        LOG("pose/single/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm pose {input.video:q} {input.detections:q} --estimator {params.estimator:q} "
        "{params.options:q} -o {output.poses:q} --no-progress > {log:q} 2>&1"


rule segment_single:
    input:
        video=R("single/{sequence}/{codec}/qp{qp}/decoded.mkv"),
        detections=R("single/{sequence}/{codec}/qp{qp}/segment_detections.zip"),
    output:
        masks=R("single/{sequence}/{codec}/qp{qp}/masks.json"),
        run=R("single/{sequence}/{codec}/qp{qp}/masks.json.run.json"),
    params:
        segmenter=config.get("segment", {}).get("segmenter", ""),
        options=option_flags(config.get("segment", {}).get("options")),
    log:
        LOG("segment/single/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm segment {input.video:q} {input.detections:q} --segmenter {params.segmenter:q} "
        "{params.options:q} -o {output.masks:q} --no-progress > {log:q} 2>&1"


def single_track_pixels(wildcards):
    """With appearance, the decoded original whose pixels single-task tracking embeds."""
    if not TRACK_APPEARANCE:
        return []
    return [R(f"single/{wildcards.sequence}/{wildcards.codec}/qp{wildcards.qp}/decoded.mkv")]


rule track_single:
    input:
        detections=R("single/{sequence}/{codec}/qp{qp}/track_detections.zip"),
        video=sequence_input,
        pixels=single_track_pixels,
    output:
        tracks=R("single/{sequence}/{codec}/qp{qp}/tracks.txt"),
        run=R("single/{sequence}/{codec}/qp{qp}/tracks.txt.run.json"),
    params:
        tracker=config["track"]["tracker"],
        options=option_flags(config["track"].get("options")),
        pixels=lambda wildcards, input: repeated("--video", input.pixels),
    log:
        LOG("track/single/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm track {input.detections:q} --tracker {params.tracker:q} {params.options:q} "
        "--like {input.video:q} {params.pixels:q} -o {output.tracks:q} > {log:q} 2>&1"


rule bits_per_pixel_single:
    input:
        bitstream=coded_input,
        video=sequence_input,
    output:
        R("single/{sequence}/{codec}/qp{qp}/bpp.json"),
    log:
        LOG("bpp/single/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm bpp {input.bitstream:q} --like {input.video:q} -o {output:q} 2> {log:q}"
