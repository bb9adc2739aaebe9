# Multitask front end (paper Fig. 1 a-d): detect once, zip the XML, render the foreground,
# code it at each QP, decode it, and measure bits per pixel.


def synth_flags(wildcards):
    settings = config["sequences"][wildcards.sequence]["synth"]
    return " ".join(f"--{key} {value}" for key, value in settings.items())


rule synthesize:
    output:
        directory("data/synthetic/{sequence}"),
    params:
        flags=synth_flags,
    log:
        "logs/synthesize/{sequence}.log",
    shell:
        "vcm data synth {output} {params.flags} --no-progress > {log} 2>&1"


rule detect:
    input:
        sequence_input,
    output:
        "results/detections/{sequence}/detections.zip",
    params:
        name=config["detector"]["name"],
        score=config["detector"].get("score", 0.6),
        options=option_flags(config["detector"].get("options")),
    log:
        "logs/detect/{sequence}.log",
    shell:
        "vcm detect {input} --detector {params.name} --score {params.score} {params.options} "
        "-o {output} --no-progress > {log} 2>&1"


rule foreground:
    input:
        video=sequence_input,
        detections="results/detections/{sequence}/detections.zip",
    output:
        "results/foreground/{sequence}/foreground.mkv",
    log:
        "logs/foreground/{sequence}.log",
    shell:
        "vcm foreground {input.video} {input.detections} -o {output} --no-progress > {log} 2>&1"


rule encode_foreground:
    input:
        "results/foreground/{sequence}/foreground.mkv",
    output:
        bitstream="results/multitask/{sequence}/{codec}/qp{qp}/foreground.{extension}",
    params:
        options=codec_options,
    log:
        "logs/encode/multitask/{sequence}/{codec}/qp{qp}.{extension}.log",
    shell:
        "vcm encode {input} --codec {wildcards.codec} --qp {wildcards.qp} {params.options} "
        "-o {output.bitstream} --no-progress > {log} 2>&1"


def foreground_bitstream(wildcards):
    extension = codec_extension(wildcards.codec).lstrip(".")
    return f"results/multitask/{wildcards.sequence}/{wildcards.codec}/qp{wildcards.qp}/foreground.{extension}"


rule decode_foreground:
    input:
        foreground_bitstream,
    output:
        "results/multitask/{sequence}/{codec}/qp{qp}/decoded.mkv",
    log:
        "logs/decode/multitask/{sequence}/{codec}/qp{qp}.log",
    shell:
        "vcm decode {input} -o {output} > {log} 2>&1"


rule bits_per_pixel:
    input:
        bitstream=foreground_bitstream,
        detections="results/detections/{sequence}/detections.zip",
        video=sequence_input,
        decoded="results/multitask/{sequence}/{codec}/qp{qp}/decoded.mkv",
    output:
        "results/multitask/{sequence}/{codec}/qp{qp}/bpp.json",
    log:
        "logs/bpp/multitask/{sequence}/{codec}/qp{qp}.log",
    shell:
        "vcm bpp {input.bitstream} {input.detections} --like {input.video} > {output} 2> {log}"


rule summary:
    input:
        sweep_points(),
    output:
        "results/summary.csv",
    params:
        points=lambda wildcards, input: " ".join(f"--point {path}" for path in input),
    log:
        "logs/summary.log",
    shell:
        "vcm report results -o {output} {params.points} > {log} 2>&1"
