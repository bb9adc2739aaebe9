# Downstream tasks of each multitask pipeline (paper Fig. 1e, plus segmentation when the config
# has it) and the evaluation of every task output, multitask or single-task. Evaluations
# depend on the sequence folder, which holds the ground truth (a synthesized folder is one
# `directory()` output).


def sent_flags(wildcards):
    """What a multitask task is told about the decoded foreground: the shared score (boxes
    below it are not in the foreground) and the variant's options, with which it records how
    much of each crop lies outside the pixels that were sent (its run record's `crops`)."""
    variant = VARIANTS[wildcards.pipeline]
    return ["--score", score_label(variant["score"]),
            *option_flags(variant["foreground"], "--foreground-option"),
            *resampling_flags(wildcards), *repeated("--tracks", carry_tracks(wildcards))]


def carry_flags(wildcards):
    """`vcm pose --carry` of a temporally resampled variant; none otherwise."""
    variant = VARIANTS[wildcards.pipeline]
    return ["--carry", variant["carry"]] if variant["keep_every"] != 1 else []


rule pose_multitask:
    input:
        video=R("{pipeline}/{sequence}/{codec}/qp{qp}/decoded.mkv"),
        detections=task_detections,
        tracks=carry_tracks,
    output:
        poses=R("{pipeline}/{sequence}/{codec}/qp{qp}/pose.json"),
        run=R("{pipeline}/{sequence}/{codec}/qp{qp}/pose.json.run.json"),
    wildcard_constraints:
        pipeline=MULTITASK_PIPELINE,
    params:
        estimator=config["pose"]["estimator"],
        options=option_flags(config["pose"].get("options")),
        sent=sent_flags,
        carry=carry_flags,
    log:
        LOG("pose/{pipeline}/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm pose {input.video:q} {input.detections:q} --estimator {params.estimator:q} "
        "{params.options:q} {params.sent:q} {params.carry:q} -o {output.poses:q} --no-progress > {log:q} 2>&1"


# The boxes come from the uncompressed original, so tracking runs once per sequence and
# pipeline, whatever the QP; with appearance it embeds each point's decoded foreground.
if TRACK_APPEARANCE:

    rule track_multitask_appearance:
        input:
            detections=shared_detections,
            video=R("{pipeline}/{sequence}/{codec}/qp{qp}/decoded.mkv"),
        output:
            tracks=R("{pipeline}/{sequence}/{codec}/qp{qp}/tracks.txt"),
            run=R("{pipeline}/{sequence}/{codec}/qp{qp}/tracks.txt.run.json"),
        wildcard_constraints:
            pipeline=MULTITASK_PIPELINE,
        params:
            tracker=config["track"]["tracker"],
            options=option_flags(config["track"].get("options")),
        log:
            LOG("track/{pipeline}/{sequence}/{codec}/qp{qp}"),
        shell:
            "vcm track {input.detections:q} --tracker {params.tracker:q} {params.options:q} "
            "--video {input.video:q} -o {output.tracks:q} > {log:q} 2>&1"

    rule evaluate_track_multitask_appearance:
        input:
            tracks=R("{pipeline}/{sequence}/{codec}/qp{qp}/tracks.txt"),
            sequence=sequence_input,
        output:
            R("{pipeline}/{sequence}/{codec}/qp{qp}/track_eval.json"),
        wildcard_constraints:
            pipeline=MULTITASK_PIPELINE,
        params:
            gt=track_ground_truth,
        log:
            LOG("evaluate_track/{pipeline}/{sequence}/{codec}/qp{qp}"),
        shell:
            "vcm evaluate track {input.tracks:q} --gt {params.gt:q} -o {output:q} 2> {log:q}"


rule track_multitask:
    input:
        detections=shared_detections,
        video=sequence_input,
    output:
        tracks=R("{pipeline}/{sequence}/tracks.txt"),
        run=R("{pipeline}/{sequence}/tracks.txt.run.json"),
    wildcard_constraints:
        pipeline=MULTITASK_PIPELINE,
    params:
        tracker=config["track"]["tracker"],
        options=option_flags(config["track"].get("options")),
    log:
        LOG("track/{pipeline}/{sequence}"),
    shell:
        "vcm track {input.detections:q} --tracker {params.tracker:q} {params.options:q} "
        "--like {input.video:q} -o {output.tracks:q} > {log:q} 2>&1"


rule segment_multitask:
    input:
        video=R("{pipeline}/{sequence}/{codec}/qp{qp}/decoded.mkv"),
        detections=task_detections,
        tracks=carry_tracks,
    output:
        masks=R("{pipeline}/{sequence}/{codec}/qp{qp}/masks.json"),
        run=R("{pipeline}/{sequence}/{codec}/qp{qp}/masks.json.run.json"),
    wildcard_constraints:
        pipeline=MULTITASK_PIPELINE,
    params:
        segmenter=config.get("segment", {}).get("segmenter", ""),
        options=option_flags(config.get("segment", {}).get("options")),
        sent=sent_flags,
    log:
        LOG("segment/{pipeline}/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm segment {input.video:q} {input.detections:q} --segmenter {params.segmenter:q} "
        "{params.options:q} {params.sent:q} -o {output.masks:q} --no-progress > {log:q} 2>&1"


rule evaluate_segm:
    input:
        masks=R("{pipeline}/{sequence}/{codec}/qp{qp}/masks.json"),
        sequence=sequence_input,
    output:
        R("{pipeline}/{sequence}/{codec}/qp{qp}/segm_eval.json"),
    params:
        gt=segm_ground_truth,
    log:
        LOG("evaluate_segm/{pipeline}/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm evaluate segm {input.masks:q} --gt {params.gt:q} -o {output:q} 2> {log:q}"


rule evaluate_pose:
    input:
        poses=R("{pipeline}/{sequence}/{codec}/qp{qp}/pose.json"),
        sequence=sequence_input,
    output:
        R("{pipeline}/{sequence}/{codec}/qp{qp}/pose_eval.json"),
    params:
        gt=pose_ground_truth,
    log:
        LOG("evaluate_pose/{pipeline}/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm evaluate pose {input.poses:q} --gt {params.gt:q} -o {output:q} 2> {log:q}"


rule evaluate_track_multitask:
    input:
        tracks=R("{pipeline}/{sequence}/tracks.txt"),
        sequence=sequence_input,
    output:
        R("{pipeline}/{sequence}/track_eval.json"),
    wildcard_constraints:
        pipeline=MULTITASK_PIPELINE,
    params:
        gt=track_ground_truth,
    log:
        LOG("evaluate_track/{pipeline}/{sequence}"),
    shell:
        "vcm evaluate track {input.tracks:q} --gt {params.gt:q} -o {output:q} 2> {log:q}"


rule evaluate_track_single:
    input:
        tracks=R("single/{sequence}/{codec}/qp{qp}/tracks.txt"),
        sequence=sequence_input,
    output:
        R("single/{sequence}/{codec}/qp{qp}/track_eval.json"),
    params:
        gt=track_ground_truth,
    log:
        LOG("evaluate_track/single/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm evaluate track {input.tracks:q} --gt {params.gt:q} -o {output:q} 2> {log:q}"


# Tracker variants (`trackers:`) track each point of their base pipeline once more: the
# boxes it tracks (multitask: the shared detections; single: its own), and with appearance
# the pixels it decoded. Per point even without appearance, so each point has its tracks.
def tracker_variant_inputs(wildcards):
    variant = TRACKER_PIPELINES[wildcards.pipeline]
    folder = R(f"{variant['base']}/{wildcards.sequence}/{wildcards.codec}/qp{wildcards.qp}")
    if variant["base"] == SINGLE:
        detections = f"{folder}/track_detections.zip"
    else:
        detections = DETECTIONS_AT_SCORE.format(
            sequence=wildcards.sequence, score=score_label(VARIANTS[MULTITASK]["score"]))
    appearance = variant["options"].get("appearance") is not None
    return {"detections": detections, "video": sequence_input(wildcards),
            "pixels": [f"{folder}/decoded.mkv"] if appearance else []}


rule track_tracker_variant:
    input:
        unpack(tracker_variant_inputs),
    output:
        tracks=R("{pipeline}/{sequence}/{codec}/qp{qp}/tracks.txt"),
        run=R("{pipeline}/{sequence}/{codec}/qp{qp}/tracks.txt.run.json"),
    wildcard_constraints:
        pipeline=TRACKER_PIPELINE,
    params:
        tracker=lambda wildcards: TRACKER_PIPELINES[wildcards.pipeline]["tracker"],
        options=lambda wildcards: option_flags(TRACKER_PIPELINES[wildcards.pipeline]["options"]),
        pixels=lambda wildcards, input: repeated("--video", input.pixels),
    log:
        LOG("track/{pipeline}/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm track {input.detections:q} --tracker {params.tracker:q} {params.options:q} "
        "--like {input.video:q} {params.pixels:q} -o {output.tracks:q} > {log:q} 2>&1"


rule evaluate_track_tracker_variant:
    input:
        tracks=R("{pipeline}/{sequence}/{codec}/qp{qp}/tracks.txt"),
        sequence=sequence_input,
    output:
        R("{pipeline}/{sequence}/{codec}/qp{qp}/track_eval.json"),
    wildcard_constraints:
        pipeline=TRACKER_PIPELINE,
    params:
        gt=track_ground_truth,
    log:
        LOG("evaluate_track/{pipeline}/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm evaluate track {input.tracks:q} --gt {params.gt:q} -o {output:q} 2> {log:q}"


# Motion (`motion:`): labels and repetition counts of every track from the point's poses and
# the tracks of its pipeline (multitask: the sequence's, or the point's with appearance;
# single-task: the point's own), then their scores on the labels CSV when there is one.
if MOTION:

    def motion_inputs(wildcards):
        folder = point_folder(wildcards)
        if wildcards.pipeline == SINGLE:
            tracks = f"{folder}/tracks.txt"
        else:
            tracks = multitask_track_folder(wildcards.pipeline, wildcards.sequence,
                                            wildcards.codec, wildcards.qp) + "/tracks.txt"
        model = (MOTION.get("options") or {}).get("model")
        return {"poses": f"{folder}/pose.json", "tracks": tracks,
                "video": sequence_input(wildcards), "model": [model] if model else []}

    rule motion:
        input:
            unpack(motion_inputs),
        output:
            R("{pipeline}/{sequence}/{codec}/qp{qp}/motion.jsonl"),
        wildcard_constraints:
            pipeline=MULTITASK_PIPELINE + "|single",
        params:
            recognizer=MOTION["recognizer"],
            options=option_flags({key: value for key, value in (MOTION.get("options") or {}).items()
                                  if key != "model"}),
            model=lambda wildcards, input: repeated("--model", input.model),
        log:
            LOG("motion/{pipeline}/{sequence}/{codec}/qp{qp}"),
        shell:
            "vcm motion run {input.poses:q} {input.tracks:q} --recognizer {params.recognizer:q} "
            "{params.options:q} {params.model:q} --like {input.video:q} -o {output:q} > {log:q} 2>&1"

    rule evaluate_motion:
        input:
            records=R("{pipeline}/{sequence}/{codec}/qp{qp}/motion.jsonl"),
            labels=MOTION_LABELS or [],
        output:
            R("{pipeline}/{sequence}/{codec}/qp{qp}/motion_eval.json"),
        wildcard_constraints:
            pipeline=MULTITASK_PIPELINE + "|single",
        params:
            clip=lambda wildcards: motion_clip(config, wildcards.sequence),
        log:
            LOG("evaluate_motion/{pipeline}/{sequence}/{codec}/qp{qp}"),
        shell:
            "vcm evaluate motion {input.records:q} --labels {input.labels:q} --clip {params.clip:q} "
            "-o {output:q} 2> {log:q}"
