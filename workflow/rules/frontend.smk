# Multitask front end (paper Fig. 1 a-d): detect once, zip the XML, render the foreground,
# code it at each QP, decode it, and measure bits per pixel.


def synth_flags(wildcards):
    settings = config["sequences"][wildcards.sequence]["synth"]
    return [word for key, value in settings.items() for word in (f"--{key}", str(value))]


rule synthesize:
    output:
        directory("data/synthetic/{sequence}"),
    params:
        flags=synth_flags,
    log:
        "logs/synthesize/{sequence}.log",
    shell:
        "vcm data synth {output:q} {params.flags:q} --no-progress > {log:q} 2>&1"


rule detect:
    input:
        sequence_input,
    output:
        detections=SHARED_DETECTIONS,
        run=SHARED_DETECTIONS + ".run.json",
    params:
        name=config["detector"]["name"],
        score=config["detector"].get("score", 0.6),
        options=option_flags(config["detector"].get("options")),
        format=DETECTIONS_FLAGS,
    log:
        "logs/detect/{sequence}.log",
    shell:
        "vcm detect {input:q} --detector {params.name:q} --score {params.score:q} {params.options:q} "
        "{params.format:q} -o {output.detections:q} --no-progress > {log:q} 2>&1"


rule foreground:
    input:
        video=sequence_input,
        detections=SHARED_DETECTIONS,
    output:
        video="results/foreground/{sequence}/foreground.mkv",
        run="results/foreground/{sequence}/foreground.mkv.run.json",
    log:
        "logs/foreground/{sequence}.log",
    shell:
        "vcm foreground {input.video:q} {input.detections:q} -o {output.video:q} --no-progress "
        "> {log:q} 2>&1"


rule encode_foreground:
    input:
        "results/foreground/{sequence}/foreground.mkv",
    output:
        bitstream="results/multitask/{sequence}/{codec}/qp{qp}/foreground.{extension}",
        sidecar="results/multitask/{sequence}/{codec}/qp{qp}/foreground.{extension}.json",
    params:
        options=codec_options,
    log:
        "logs/encode/multitask/{sequence}/{codec}/qp{qp}.{extension}.log",
    shell:
        "vcm encode {input:q} --codec {wildcards.codec:q} --qp {wildcards.qp:q} {params.options:q} "
        "-o {output.bitstream:q} --no-progress > {log:q} 2>&1"


def coded(name, pipeline):
    """Input function: ``name.<codec extension>`` in the ``pipeline``'s point folder."""
    return lambda wildcards: (
        f"results/{pipeline}/{wildcards.sequence}/{wildcards.codec}/qp{wildcards.qp}/"
        f"{name}.{codec_extension(wildcards.codec)}"
    )


CODED_INPUT = {"multitask": coded("foreground", "multitask"), "single": coded("original", "single")}


rule decode:
    input:
        lambda wildcards: CODED_INPUT[wildcards.pipeline](wildcards),
    output:
        video="results/{pipeline}/{sequence}/{codec}/qp{qp}/decoded.mkv",
        sidecar="results/{pipeline}/{sequence}/{codec}/qp{qp}/decoded.mkv.json",
    params:
        # The config's codec options again: program paths (vtm's decoder) are not kept in
        # the sidecar.
        options=codec_options,
    log:
        "logs/decode/{pipeline}/{sequence}/{codec}/qp{qp}.log",
    shell:
        "vcm decode {input:q} -o {output.video:q} {params.options:q} > {log:q} 2>&1"


# vcm bpp counts exactly the files it is given: here the bitstream and the detections file.
# A bitstream that carries the detections (vcm encode --embed) is counted alone.
rule bits_per_pixel_multitask:
    input:
        bitstream=CODED_INPUT["multitask"],
        detections=SHARED_DETECTIONS,
        video=sequence_input,
    output:
        "results/multitask/{sequence}/{codec}/qp{qp}/bpp.json",
    log:
        "logs/bpp/multitask/{sequence}/{codec}/qp{qp}.log",
    shell:
        "vcm bpp {input.bitstream:q} {input.detections:q} --like {input.video:q} -o {output:q} 2> {log:q}"
