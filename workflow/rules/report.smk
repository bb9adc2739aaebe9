# One record per measured point, then the report of the whole sweep: summary table,
# manifest, the paper's tables and the plots.


def base_point(wildcards):
    """The point whose bits, pose and segmentation a tracker variant's point shares (its base
    pipeline's at the same sequence, codec and QP); any other point itself."""
    if wildcards.pipeline not in TRACKER_PIPELINES:
        return wildcards
    from types import SimpleNamespace

    return SimpleNamespace(pipeline=TRACKER_PIPELINES[wildcards.pipeline]["base"],
                           sequence=wildcards.sequence, codec=wildcards.codec, qp=wildcards.qp)


def tracker_variant_tracks(wildcards, inputs):
    """A tracker variant's point: its base's inputs with the tracks' run and evaluation its own."""
    if wildcards.pipeline not in TRACKER_PIPELINES:
        return inputs
    folder = point_folder(wildcards)
    if "track_eval" in inputs:
        inputs["runs"] = [f"{folder}/tracks.txt.run.json" if path.endswith("/tracks.txt.run.json")
                          else path for path in inputs["runs"]]
        inputs["track_eval"] = f"{folder}/track_eval.json"
    return inputs


def point_inputs(wildcards):
    """Everything a point's record reads, by pipeline: the paper's two tasks, and the third
    (segmentation) when the config runs it and the sequence has its ground truth; a tracker
    variant's point reads its base's with its own tracks."""
    own = wildcards
    wildcards = base_point(wildcards)
    inputs = tracker_variant_tracks(own, two_task_point_inputs(wildcards))
    # `segm_gt: null`: segmentation neither runs nor is evaluated for the sequence.
    if SEGMENTATION and has_ground_truth(wildcards.sequence, "segm"):
        folder = point_folder(wildcards)
        inputs["segm_eval"] = f"{folder}/segm_eval.json"
        inputs["runs"].append(f"{folder}/masks.json.run.json")
        if wildcards.pipeline == "single":
            inputs["segment_detect_runs"] = [f"{folder}/segment_detections.zip.run.json"]
    # Motion reads the point's own tracks: tracker variants' points (which share their base's
    # poses) have none of their own.
    if MOTION and own.pipeline not in TRACKER_PIPELINES:
        folder = point_folder(wildcards)
        inputs["motion"] = (f"{folder}/motion_eval.json" if MOTION_LABELS
                            else f"{folder}/motion.jsonl")
    return inputs


def motion_flags(input):
    """`vcm point --motion-eval FILE` of a point whose motion was scored; none otherwise."""
    if "motion" not in input.keys() or not str(input.motion).endswith("_eval.json"):
        return []
    return ["--motion-eval", input.motion]


def segmentation_flags(input):
    """`vcm point` words for the third task: its evaluation and its own detector's run."""
    if "segm_eval" not in input.keys():
        return []  # no segmentation in this sweep, or none for this sequence (`segm_gt: null`)
    own_detector = input.segment_detect_runs if "segment_detect_runs" in input.keys() else []
    return ["--segm-eval", input.segm_eval] + repeated("--segment-detect-run", own_detector)


def two_task_point_inputs(wildcards):
    """What a point of the paper's two tasks (pose, tracking) reads, by pipeline. A task the
    sequence has no ground truth for (`pose_gt: null`, `track_gt: null`) is neither run nor
    evaluated: its metric is null and its seconds are 0 in this point."""
    folder = point_folder(wildcards)
    extension = codec_extension(wildcards.codec)
    sequence = wildcards.sequence
    pipeline = wildcards.pipeline
    # Multitask only: the detection file its BPP counts and its foreground's run record.
    sent = {}
    if pipeline != SINGLE:
        shared = shared_detections(wildcards)
        detect = [f"{shared}.run.json"]
        sent = {"foreground_run": R(f"{pipeline}/{sequence}/foreground.mkv.run.json")}
        if not embeds(wildcards):  # embedded detections are part of the video's bits
            sent["detections"] = shared
        tracked = multitask_track_folder(pipeline, sequence, wildcards.codec, wildcards.qp)
        evaluations = {"pose": f"{folder}/pose_eval.json", "track": f"{tracked}/track_eval.json"}
        task_runs = {"pose": [f"{folder}/pose.json.run.json"],
                     "track": [f"{tracked}/tracks.txt.run.json"]}
        coded = f"{folder}/foreground.{extension}.json"
    else:
        detect = []  # each task runs its own detector, counted with the task
        evaluations = {"pose": f"{folder}/pose_eval.json", "track": f"{folder}/track_eval.json"}
        task_runs = {task: [f"{folder}/{task}_detections.zip.run.json",
                            f"{folder}/{'pose.json' if task == 'pose' else 'tracks.txt'}.run.json"]
                     for task in ("pose", "track")}
        coded = f"{folder}/original.{extension}.json"
    tasks = [task for task in ("pose", "track") if has_ground_truth(sequence, task)]
    return {
        "bpp": f"{folder}/bpp.json",
        **{f"{task}_eval": evaluations[task] for task in tasks},
        "runs": detect + [path for task in tasks for path in task_runs[task]],
        "codec_records": [coded, f"{folder}/decoded.mkv.json"],
        **sent,
    }


def evaluation_flags(input):
    """["--pose-eval", path, "--track-eval", path] for the evaluations a point has; argv
    words, shell-quoted by `:q` in the rule."""
    return [
        word
        for task in ("pose", "track")
        if hasattr(input, f"{task}_eval")
        for word in repeated(f"--{task}-eval", [getattr(input, f"{task}_eval")])
    ]


def variant_flags(wildcards, input):
    """`vcm point` words naming a multitask pipeline's variant: its name, the shared
    detector's score and the foreground's run record (its options and seconds)."""
    pipeline = base_point(wildcards).pipeline
    if pipeline == SINGLE:
        return []
    variant = VARIANTS[pipeline]
    # No empty argv word for the config's own pipeline (`:q` would drop it).
    name = ["--variant", variant["variant"]] if variant["variant"] else []
    return [*name, "--score", score_label(variant["score"]), "--foreground-run", input.foreground_run]


rule point:
    input:
        unpack(point_inputs),
    output:
        R("{pipeline}/{sequence}/{codec}/qp{qp}/point.json"),
    params:
        evaluations=lambda wildcards, input: evaluation_flags(input),
        detections=lambda wildcards, input: repeated(
            "--detections", [input.detections] if "detections" in input.keys() else []
        ),
        runs=lambda wildcards, input: repeated("--run", input.runs),
        codec_records=lambda wildcards, input: repeated("--codec-record", input.codec_records),
        segmentation=lambda wildcards, input: segmentation_flags(input),
        variant=lambda wildcards, input: variant_flags(wildcards, input),
        motion=lambda wildcards, input: motion_flags(input),
    log:
        LOG("point/{pipeline}/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm point --sequence {wildcards.sequence:q} --pipeline {wildcards.pipeline:q} "
        "--codec {wildcards.codec:q} --qp {wildcards.qp:q} --bpp {input.bpp:q} "
        "{params.evaluations:q} {params.runs:q} {params.segmentation:q} {params.codec_records:q} "
        "{params.detections:q} {params.variant:q} {params.motion:q} -o {output:q} > {log:q} 2>&1"


rule summary:
    input:
        sweep_points(),
    output:
        summary=R("summary.csv"),
        manifest=R("manifest.json"),
        tables=directory(R("tables")),
        plots=directory(R("plots")),
    params:
        points=lambda wildcards, input: repeated("--point", input),
        config=sweep_config_file(),
        results=RESULTS,
    log:
        LOG("summary"),
    shell:
        "vcm report {params.results:q} -o {output.summary:q} --config {params.config:q} {params.points:q} "
        "> {log:q} 2>&1"
