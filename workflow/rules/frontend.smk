# Multitask front end (paper Fig. 1 a-d): detect once, write the detection file, render the
# foreground, code it at each QP, decode it, and measure bits per pixel. Each multitask
# pipeline (the config's own and each variant) renders its own foreground.


def synth_flags(wildcards):
    settings = config["sequences"][wildcards.sequence]["synth"]
    return [word for key, value in settings.items() for word in (f"--{key}", str(value))]


rule synthesize:
    output:
        directory("data/synthetic/{sequence}"),
    params:
        flags=synth_flags,
    log:
        LOG("synthesize/{sequence}"),
    shell:
        "vcm data synth {output:q} {params.flags:q} --no-progress > {log:q} 2>&1"


rule detect:
    input:
        sequence_input,
    output:
        detections=DETECTIONS_AT_SCORE,
        run=DETECTIONS_AT_SCORE + ".run.json",
    params:
        name=config["detector"]["name"],
        options=option_flags(config["detector"].get("options")),
        format=DETECTIONS_FLAGS,
    log:
        LOG("detect/{sequence}/score{score}"),
    shell:
        "vcm detect {input:q} --detector {params.name:q} --score {wildcards.score:q} {params.options:q} "
        "{params.format:q} -o {output.detections:q} --no-progress > {log:q} 2>&1"


rule foreground:
    input:
        video=sequence_input,
        detections=shared_detections,
    output:
        video=R("{pipeline}/{sequence}/foreground.mkv"),
        run=R("{pipeline}/{sequence}/foreground.mkv.run.json"),
    wildcard_constraints:
        pipeline=MULTITASK_PIPELINE,
    params:
        # The pipeline's foreground variant (docs/variants.md); {}: the paper's.
        variant=lambda wildcards: option_flags(VARIANTS[wildcards.pipeline]["foreground"]),
        resampling=resampling_flags,
        # The receiver works out the shrunk rectangles from the boxes scoring at least the
        # pipeline's score (`vcm pose --score`): the foreground must keep the same boxes.
        score=lambda wildcards: ["--score", score_label(VARIANTS[wildcards.pipeline]["score"])]
        if VARIANTS[wildcards.pipeline]["downscale_regions"] != 1 else [],
    log:
        LOG("foreground/{pipeline}/{sequence}"),
    shell:
        "vcm foreground {input.video:q} {input.detections:q} {params.variant:q} "
        "{params.resampling:q} {params.score:q} -o {output.video:q} --no-progress > {log:q} 2>&1"


def embedded_detections(wildcards):
    """The detection file an `embed` variant carries in its bitstream (none otherwise)."""
    return [shared_detections(wildcards)] if embeds(wildcards) else []


rule encode_foreground:
    input:
        video=R("{pipeline}/{sequence}/foreground.mkv"),
        embedded=embedded_detections,
    output:
        bitstream=R("{pipeline}/{sequence}/{codec}/qp{qp}/foreground.{extension}"),
        sidecar=R("{pipeline}/{sequence}/{codec}/qp{qp}/foreground.{extension}.json"),
    wildcard_constraints:
        pipeline=MULTITASK_PIPELINE,
    params:
        options=codec_options,
        embed=embed_flags,
    log:
        LOG("encode/{pipeline}/{sequence}/{codec}/qp{qp}.{extension}"),
    shell:
        "vcm encode {input.video:q} {params.embed:q} --codec {wildcards.codec:q} --qp {wildcards.qp:q} {params.options:q} "
        "-o {output.bitstream:q} --no-progress > {log:q} 2>&1"


def coded_input(wildcards):
    """The bitstream of a point: the coded foreground (multitask) or original (single; its
    rules name no pipeline wildcard)."""
    pipeline = getattr(wildcards, "pipeline", SINGLE)
    name = "original" if pipeline == SINGLE else "foreground"
    return R(f"{pipeline}/{wildcards.sequence}/{wildcards.codec}/qp{wildcards.qp}/"
             f"{name}.{codec_extension(wildcards.codec)}")


# An `embed` variant's receiver reads the boxes back from the bitstream's SEI messages: its
# box tasks use these, so the sweep measures the round trip (tracking, which needs no video,
# keeps the full-rate file).
rule extract_embedded_detections:
    input:
        coded_input,
    output:
        R("{pipeline}/{sequence}/{codec}/qp{qp}/extracted" + DETECTIONS_EXTENSION),
    wildcard_constraints:
        pipeline=MULTITASK_PIPELINE,
    params:
        format=DETECTIONS_FORMAT,
    log:
        LOG("extract/{pipeline}/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm detections extract {input:q} --format {params.format:q} -o {output:q} > {log:q} 2>&1"


rule decode:
    input:
        coded_input,
    output:
        video=R("{pipeline}/{sequence}/{codec}/qp{qp}/decoded.mkv"),
        sidecar=R("{pipeline}/{sequence}/{codec}/qp{qp}/decoded.mkv.json"),
    params:
        # The config's codec options again: program paths (vtm's decoder) are not kept in
        # the sidecar.
        options=codec_options,
    log:
        LOG("decode/{pipeline}/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm decode {input:q} -o {output.video:q} {params.options:q} > {log:q} 2>&1"


# vcm bpp counts exactly the files it is given: here the bitstream and the detection file.
# A bitstream that carries the detections (vcm encode --embed) is counted alone.
rule bits_per_pixel_multitask:
    input:
        bitstream=coded_input,
        detections=shared_detections,
        video=sequence_input,
    output:
        R("{pipeline}/{sequence}/{codec}/qp{qp}/bpp.json"),
    wildcard_constraints:
        pipeline=MULTITASK_PIPELINE,
    params:
        # An `embed` variant's bitstream carries the detections: it is counted alone.
        counted=lambda wildcards, input: [] if embeds(wildcards) else [input.detections],
    log:
        LOG("bpp/{pipeline}/{sequence}/{codec}/qp{qp}"),
    shell:
        "vcm bpp {input.bitstream:q} {params.counted:q} --like {input.video:q} -o {output:q} 2> {log:q}"
