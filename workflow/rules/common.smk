# Helpers shared by the rules: where each sequence lives, codec file extensions, option flags.
from vcm.codecs import CODECS


def sequence_input(wildcards):
    """The VIDEO argument for a sequence: its configured path, or the synthesized folder."""
    entry = config["sequences"][wildcards.sequence]
    if "path" in entry:
        return entry["path"]
    return f"data/synthetic/{wildcards.sequence}"


def codec_extension(codec):
    return CODECS.get(codec).extension


def option_flags(options):
    """{key: value} -> `-p key=value ...` for the vcm CLI."""
    return " ".join(f"-p {key}={value}" for key, value in (options or {}).items())


def codec_options(wildcards):
    return option_flags(config["codecs"][wildcards.codec])


def sweep_points():
    """Every (sequence, codec, qp) point of the sweep, as paths of its BPP record."""
    return [
        f"results/multitask/{sequence}/{codec}/qp{qp}/bpp.json"
        for sequence in config["sequences"]
        for codec in config["codecs"]
        for qp in config["qps"]
    ]


wildcard_constraints:
    sequence=r"[A-Za-z0-9_.-]+",
    codec=r"[A-Za-z0-9_-]+",
    qp=r"\d+",
