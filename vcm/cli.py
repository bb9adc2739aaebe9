"""The ``vcm`` command line: one command per pipeline stage, each a thin call into the library.

Results meant for other programs (JSON) go to stdout; logs and progress bars go to stderr.
Domain errors become a one-line ``error: ...`` message and exit code 1.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from vcm import logs, signals
from vcm.errors import VcmError

app = typer.Typer(
    help="MPEG-VCM multitask experiments: detect once, code a foreground video, run tasks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Sample data: synthesize and inspect sequences.", no_args_is_help=True)
models_app = typer.Typer(help="The model store: list and fetch named model files.", no_args_is_help=True)
detections_app = typer.Typer(
    help="Detection files: convert between formats, measure them, read them out of bitstreams.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")
app.add_typer(detections_app, name="detections")

EXIT_ERROR = 1


def print_version(value: bool) -> None:
    """``vcm --version``: print the version and exit."""
    if value:
        import vcm

        typer.echo(f"vcm {vcm.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=print_version, is_eager=True, help="Print vcm's version and exit.")
    ] = False,
) -> None:
    logs.configure(verbose)
    signals.stop_on_termination()


INPUT = "input"
"""A file the command reads, or a folder whose files it reads (a MOTChallenge sequence)."""
OUTPUT = "output"
"""A file (or folder) the command writes; its run record and sidecar names are outputs too."""
APPENDED = "appended output"
"""A file the command appends to (``--log``): never an input, never removed on failure."""
BITSTREAM = "bitstream"
"""An input bitstream; its sidecar ``<bitstream>.json`` is read too."""
WORK_FOLDER = "work folder"
"""A folder the command writes files into; each file is checked when it is written."""
GALLERY = "gallery"
"""A file the command reads if it exists and updates in place, in one SQLite transaction at
the end of a successful run (`vcm track --gallery`): never one of the inputs or outputs, never
removed on failure, and only a vcm gallery is ever opened for writing."""
POINT_RECORDS = "point records"
"""A sweep's results folder, of which the command reads the point records."""

PATH_PARAMETERS: dict[str, str] = {
    "video": INPUT, "detections": INPUT, "embed": INPUT, "bitstream": BITSTREAM, "like": INPUT,
    "files": INPUT, "source": INPUT, "file": INPUT, "folder": INPUT, "results": INPUT,
    "tracks": INPUT, "gt": INPUT, "config": INPUT, "point": INPUT, "bpp": INPUT,
    "pose_eval": INPUT, "track_eval": INPUT, "segm_eval": INPUT, "motion_eval": INPUT, "run": INPUT,
    "segment_detect_run": INPUT, "codec_record": INPUT, "foreground_run": INPUT,
    "output": OUTPUT, "log": APPENDED, "workdir": WORK_FOLDER, "root": WORK_FOLDER,
    "directory": WORK_FOLDER, "gallery": GALLERY, "poses": INPUT, "labels": INPUT,
    "model": INPUT,
}
"""The role of every path parameter of every command, by parameter name (a test checks that
each command's path parameters are here); :data:`PATH_PARAMETER_EXCEPTIONS` overrides it for
one command."""
PATH_PARAMETER_EXCEPTIONS: dict[tuple[str, str], str] = {("report", "results"): POINT_RECORDS}
SOURCE_PARAMETERS = {("stream", "source"), ("live", "source")}
"""Text arguments that name a video file or folder, or a live source (URL, device): where a
local file or folder of that name exists, it is an input."""


def path_roles(command: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, list[Path]]:
    """The paths among a command's arguments, by role (a list argument adds each path)."""
    roles: dict[str, list[Path]] = {}
    for name, value in kwargs.items():
        paths = value if isinstance(value, list) else [value]
        if (command.__name__, name) in SOURCE_PARAMETERS:
            # A source that may be a URL or a device: a local file or folder is an input.
            paths = [Path(path) for path in paths if isinstance(path, str) and os.path.exists(path)]
        paths = [path for path in paths if isinstance(path, Path)]
        if paths:
            role = PATH_PARAMETER_EXCEPTIONS.get((command.__name__, name), PATH_PARAMETERS.get(name))
            if role is None:  # a programming error, which tests/test_inputs_outputs.py catches
                raise TypeError(f"{command.__name__}: path parameter {name!r} has no role in "
                                "PATH_PARAMETERS")
            roles.setdefault(role, []).extend(paths)
    return roles


def command_outputs(kwargs: dict[str, Any]) -> list[Path]:
    """The files a command may write: its ``output``, the output's run record and sidecar."""
    output = kwargs.get("output")
    if not isinstance(output, Path) or output.name in ("", ".", ".."):
        return []  # nothing to watch; the output check refuses such a name
    from vcm.runrecord import run_record_path

    return [output, run_record_path(output), output.with_name(output.name + ".json")]


def command_inputs(roles: dict[str, list[Path]]):
    """:class:`vcm.fileio.Inputs` of a command: its input files and folders, a bitstream's
    sidecar, and a results folder's point records."""
    from vcm.fileio import Inputs

    paths = roles.get(INPUT, []) + roles.get(BITSTREAM, [])
    paths += [path.with_name(path.name + ".json") for path in roles.get(BITSTREAM, [])]
    for folder in roles.get(POINT_RECORDS, []):
        from vcm.experiment.report import POINT_GLOB

        paths += sorted(folder.glob(POINT_GLOB)) if folder.is_dir() else [folder]
    return Inputs(paths)


def handles_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command all-or-nothing and turn its failures into one line on stderr.

    A :class:`VcmError`, or a file-system error, becomes ``error: FILE: problem`` and exit
    code 1; SIGTERM/SIGHUP/SIGINT become ``error: interrupted by SIG...`` and exit 128 + the
    signal number. Either way the output, run record and sidecar the command had already put
    in place are removed (:func:`vcm.fileio.all_or_nothing`), as are its temporaries.
    Before anything runs, an output that is also one of its inputs (:data:`PATH_PARAMETERS`)
    is refused: ``error: OUTPUT: is also an input (INPUT)``.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from vcm.fileio import Inputs, all_or_nothing, refuse_inputs_as_outputs

        try:
            roles = path_roles(command, kwargs)
            inputs = command_inputs(roles)
            galleries = roles.get(GALLERY, [])
            refuse_inputs_as_outputs(command_outputs(kwargs) + roles.get(APPENDED, [])
                                     + galleries, inputs)
            if galleries:
                refuse_inputs_as_outputs(command_outputs(kwargs) + roles.get(APPENDED, []),
                                         Inputs(galleries))
            with all_or_nothing(command_outputs(kwargs), inputs):
                return command(*args, **kwargs)
        except VcmError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(EXIT_ERROR) from None
        except OSError as error:
            # Errors of the file system met outside the places that name their file.
            where = error.filename if error.filename is not None else "vcm"
            typer.echo(f"error: {where}: {error.strerror or error}", err=True)
            raise typer.Exit(EXIT_ERROR) from None
        except signals.Interrupted as interrupted:
            typer.echo(f"error: interrupted by {interrupted.name}", err=True)
            raise typer.Exit(128 + interrupted.number) from None

    return wrapper


def parse_options(pairs: list[str] | None, what: str) -> dict[str, Any]:
    """``["key=value", ...]`` -> dict, values parsed as YAML (numbers, booleans, text, short
    lists such as ``padding=[8,8]``); malformed or oversized YAML is a :class:`VcmError`."""
    from vcm.config import MAX_OPTION_YAML_NODES, load_yaml

    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise VcmError(f"{what} option {pair!r} is not of the form key=value")
        key = key.replace("-", "_")
        if _PLAIN_NUMBER.fullmatch(value.strip()):
            # YAML 1.1 reads 1e9 (no dot) as text; on a command line it is a number.
            options[key] = float(value) if any(c in value for c in ".eE") else int(value)
            continue
        options[key] = (
            load_yaml(value, source=f"{what} option {key}", max_nodes=MAX_OPTION_YAML_NODES)
            if value else ""
        )
    return options


_PLAIN_NUMBER = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")


def build_backend(registry, name: str, options: dict[str, Any]):
    """Build ``name`` from ``registry``; an option the backend does not take, a value out of
    its declared range (the backend's ``option_schema``), or a value it refuses when built,
    is a VcmError."""
    factory = registry.get(name)
    registry.check_options(name, options)
    try:
        return factory(**options)
    except (TypeError, ValueError) as error:
        raise VcmError(f"{registry.kind} {name!r}: {error}") from None


def print_json(record: dict, output: Path | None = None) -> None:
    """Print ``record`` as JSON, or write it to ``output`` atomically when given."""
    text = json.dumps(record, indent=2, sort_keys=True)
    if output is None:
        typer.echo(text)
        return
    from vcm.fileio import atomic_output

    with atomic_output(output) as temporary:
        temporary.write_text(text + "\n", encoding="utf-8")


Progress = Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")]
# Every command takes --progress/--no-progress, so that scripts can pass it to any of them;
# these have no long work to show.
NoProgress = Annotated[bool, typer.Option(
    "--progress/--no-progress",
    help="Accepted for uniformity; this command shows no progress bar.")]
JsonOutput = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", help="Write the JSON to this file (atomically) instead of stdout."),
]
LogFile = Annotated[
    Optional[Path], typer.Option("--log", help="Keep the external tool's output in this file.")
]


@data_app.command("synth")
@handles_errors
def data_synth(
    output: Annotated[Path, typer.Argument(help="Sequence folder to create (MOTChallenge layout).")],
    frames: Annotated[int, typer.Option(min=1, help="Number of frames.")] = 60,
    width: Annotated[int, typer.Option(min=64, help="Frame width in pixels.")] = 640,
    height: Annotated[int, typer.Option(min=64, help="Frame height in pixels.")] = 360,
    fps: Annotated[float, typer.Option(min=1, help="Frame rate in frames per second.")] = 10.0,
    people: Annotated[int, typer.Option(min=1, help="Number of walking figures.")] = 4,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 0,
    progress: Progress = True,
) -> None:
    """Write a deterministic synthetic clip with exact box and keypoint ground truth."""
    from vcm.synth import synthesize_sequence

    logs.log_run("data synth", output=output, frames=frames, width=width, height=height,
                 fps=fps, people=people, seed=seed)
    synthesize_sequence(output, frames=frames, width=width, height=height, fps=fps,
                        people=people, seed=seed, progress=progress)
    typer.echo(f"wrote {output}", err=True)


@data_app.command("motions")
@handles_errors
def data_motions(
    output: Annotated[Path, typer.Argument(help="Folder to create: one MOTChallenge clip per "
                                           "motion and number, and labels.csv.")],
    clips: Annotated[int, typer.Option(min=1, max=100, help="Clips per motion.")] = 2,
    min_reps: Annotated[int, typer.Option(min=1, max=100, help="Fewest repetitions.")] = 2,
    max_reps: Annotated[int, typer.Option(min=1, max=100, help="Most repetitions.")] = 4,
    width: Annotated[int, typer.Option(min=64, help="Frame width in pixels.")] = 320,
    height: Annotated[int, typer.Option(min=64, help="Frame height in pixels.")] = 240,
    fps: Annotated[float, typer.Option(min=1, max=240, help="Frame rate in frames per second.")] = 10.0,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 0,
    progress: Progress = True,
) -> None:
    """Write synthetic clips of people performing motions, with exact truth and labels.csv."""
    from vcm.synth import synthesize_motions

    rows = synthesize_motions(output, clips_per_motion=clips, reps=(min_reps, max_reps),
                              width=width, height=height, fps=fps, seed=seed, progress=progress)
    typer.echo(f"wrote {output}: {len(rows)} clips and {output / 'labels.csv'}", err=True)


@data_app.command("hieve-pose")
@handles_errors
def data_hieve_pose(
    folder: Annotated[Path, typer.Argument(help="HiEve pose files of one video (000000.xml or .json, ...).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="COCO keypoint ground-truth JSON to write.")],
    frames: Annotated[Optional[int], typer.Option(min=1, help="The video's frame count (default: the last file's frame).")] = None,
    progress: NoProgress = True,
) -> None:
    """Convert HiEve pose ground truth to COCO keypoint JSON (HiEve's 14 keypoints, image_id =
    frame), the form `vcm evaluate pose` and the sweep's `pose_gt` read."""
    from vcm.datasets.hieve import read_hieve_poses
    from vcm.fileio import atomic_output

    logs.log_run("data hieve-pose", folder=folder, output=output, frames=frames)
    ground_truth = read_hieve_poses(folder, frames=frames)
    with atomic_output(output) as temporary:
        temporary.write_text(json.dumps(ground_truth.coco) + "\n", encoding="utf-8")
    typer.echo(f"wrote {output}: {len(ground_truth.people)} people in "
               f"{len(ground_truth.image_ids)} frames", err=True)


DetectionFormatName = Annotated[
    Optional[str],
    typer.Option("--format", help="Detection format: vcmd or voc-zip (see `vcm detections "
                 "formats`) [default: from the output's extension, .zip voc-zip, else vcmd].")
]
FormatOptions = Annotated[
    Optional[list[str]],
    typer.Option("--format-option", help="Detection format option key=value, repeatable "
                 "(vcmd: step=1 pixels, 0.25 to 2; score_bits=8)."),
]


@app.command("detect")
@handles_errors
def detect(
    video: Annotated[Path, typer.Argument(help="Video file or MOTChallenge sequence folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Detection file to write (.vcmd or .zip).")],
    detector: Annotated[str, typer.Option(help="Detector name (see `vcm detectors`).")] = "hog",
    score: Annotated[float, typer.Option(min=0, max=1, help="Keep boxes with score >= this.")] = 0.6,
    option: Annotated[
        Optional[list[str]],
        typer.Option("--option", "-p", help="Detector option key=value, repeatable "
                     "(e.g. variant=coco, input_size=416, jitter=0.05)."),
    ] = None,
    detection_format: DetectionFormatName = None,
    format_option: FormatOptions = None,
    progress: Progress = True,
) -> None:
    """Detect persons in every frame once; write them in a detection format (vcmd, voc-zip)."""
    from vcm.detectors import DETECTORS
    from vcm.detformats import format_for_output
    from vcm.pipeline.tasks import detect_task

    options = parse_options(option, "detector")
    if detector == "oracle":
        options.setdefault("sequence", video)
    backend = build_backend(DETECTORS, detector, options)
    result = detect_task(video, output, backend, score=score,
                         detection_format=format_for_output(output, detection_format),
                         format_options=parse_options(format_option, "detection format"),
                         progress=progress)
    typer.echo(f"wrote {output}: {result.count} boxes in {result.frames} frames", err=True)


@detections_app.command("convert")
@handles_errors
def detections_convert(
    source: Annotated[Path, typer.Argument(help="Detection file in any format.")],
    output: Annotated[Path, typer.Argument(help="Detection file to write.")],
    detection_format: DetectionFormatName = None,
    option: Annotated[
        Optional[list[str]],
        typer.Option("--option", "-p", help="Format option key=value, repeatable "
                     "(vcmd: step=1 pixels, 0.25 to 2; score_bits=8)."),
    ] = None,
    progress: NoProgress = True,
) -> None:
    """Convert a detection file to another format (any to any); boxes as the target holds them."""
    from vcm.detformats import format_for_output, read_detections

    written_format = format_for_output(output, detection_format)
    options = parse_options(option, "detection format")
    logs.log_run("detections convert", source=source, output=output,
                 format=written_format.name, options=options)
    sequence = read_detections(source)
    written_format.write(sequence, output, **options)
    typer.echo(f"wrote {output}: {sequence.count} boxes in {len(sequence)} frames, "
               f"{output.stat().st_size} bytes", err=True)


@detections_app.command("stats")
@handles_errors
def detections_stats(
    file: Annotated[Path, typer.Argument(help="Detection file in any format.")],
    progress: NoProgress = True,
) -> None:
    """Print JSON: format, frames, boxes, bytes and bytes_per_box of a detection file."""
    from vcm.detformats import detection_stats

    print_json(detection_stats(file))


@detections_app.command("formats")
def detections_formats(progress: NoProgress = True) -> None:
    """List the registered detection formats and their file extensions."""
    from vcm.detformats import all_formats

    for detection_format in all_formats():
        typer.echo(f"{detection_format.name}\t{detection_format.extension}")


@app.command("detectors")
def list_detectors(progress: NoProgress = True) -> None:
    """List the registered detector names."""
    from vcm.detectors import DETECTORS

    typer.echo("\n".join(DETECTORS.names()))


Downscale = Annotated[int, typer.Option(
    min=1, max=16, help="The foreground at 1/F of each side (spatial resampling): `vcm "
    "foreground` writes it so, `vcm pose|segment` restore it to the detections' size.")]
DownscaleRegions = Annotated[int, typer.Option(
    min=1, max=16, help="Only the kept rectangles at 1/F of each side, each in its top-left "
    "corner (fill black or grey): `vcm foreground` writes it so, `vcm pose|segment` restore "
    "each rectangle, worked out from the boxes scoring at least --score and the -p options.")]


@app.command("foreground")
@handles_errors
def foreground(
    video: Annotated[Path, typer.Argument(help="The original video the detections came from.")],
    detections: Annotated[Path, typer.Argument(help="Detection file from `vcm detect` (any format).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Lossless FFV1 .mkv to write.")],
    score: Annotated[float, typer.Option(
        min=0, max=1, help="Keep only boxes scoring at least this (a zip detected at a lower "
        "score for BYTE tracking keeps its low-score boxes out of the foreground).")] = 0.0,
    option: Annotated[
        Optional[list[str]],
        typer.Option("--option", "-p", help="Foreground variant option key=value, repeatable: "
                     "margin (fraction of the box), margin_px, hold (frames), align (pixels), "
                     "feather (pixels), fill (black|grey|blur|downscale), fill_scale, "
                     "mask (none|selfie|pose: keep segmented person pixels), mask_grow (pixels), "
                     "anonymise (none|blur|pixelate|fill: faces in the boxes), anonymise_blocks, "
                     "anonymise_margin, anonymise_head (docs/anonymise.md)."),
    ] = None,
    keep_every: Annotated[int, typer.Option(
        min=1, max=1000, help="Write only frames 1, 1+K, 1+2K, ... at the frame rate divided "
        "by K (temporal resampling; `vcm pose --keep-every K --tracks` fills in the rest).")] = 1,
    downscale: Downscale = 1,
    downscale_regions: DownscaleRegions = 1,
    log: LogFile = None,
    progress: Progress = True,
) -> None:
    """Black out everything outside the detected boxes (or a variant: -p); write it losslessly."""
    from vcm.masking import ForegroundOptions
    from vcm.pipeline.tasks import foreground_task

    variant = ForegroundOptions.from_options(parse_options(option, "foreground"))
    result = foreground_task(video, detections, output, score=score, variant=variant,
                             log_path=log, progress=progress, keep_every=keep_every,
                             downscale=downscale, downscale_regions=downscale_regions)
    typer.echo(f"wrote {output}: {result.frames} frames", err=True)


@app.command("encode")
@handles_errors
def encode(
    video: Annotated[Path, typer.Argument(help="Video file or sequence folder to encode.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Bitstream to write.")],
    codec: Annotated[str, typer.Option(help="Codec name (see `vcm codecs`).")] = "vvenc",
    qp: Annotated[int, typer.Option(help="Fixed quantization parameter.")] = 32,
    option: Annotated[
        Optional[list[str]],
        typer.Option("--option", "-p", help="Codec option key=value, repeatable "
                     "(e.g. preset=medium, intra_period=64)."),
    ] = None,
    embed: Annotated[
        Optional[Path],
        typer.Option(help="Detections of VIDEO to carry inside the bitstream as annotated "
                     "regions SEI messages (H.274; VVC and HEVC codecs)."),
    ] = None,
    embed_option: Annotated[
        Optional[list[str]],
        typer.Option("--embed-option", help="With --embed, key=value, repeatable: "
                     "confidence_bits (1..16, default 8), labels (false: leave the \"person\" "
                     "labels out; readers take unlabelled boxes for persons)."),
    ] = None,
    log: LogFile = None,
    progress: Progress = True,
) -> None:
    """Encode a video at a fixed QP; a sidecar ``<output>.json`` records what ran."""
    from vcm.codecs import encode_video

    options = parse_options(option, "codec")
    detections = None
    if embed is not None:
        from vcm.detformats import read_detections

        detections = read_detections(embed)
    embed_options = parse_options(embed_option, "embed")
    if embed_options and embed is None:
        raise VcmError("--embed-option needs --embed FILE")
    logs.log_run("encode", video=video, output=output, codec=codec, qp=qp, options=options,
                 embed=embed, **({"embed_options": embed_options} if embed_options else {}))
    result = encode_video(video, output, codec=codec, qp=qp, log_path=log, progress=progress,
                          detections=detections, detections_file=str(embed or ""),
                          embed_options=embed_options, **options)
    typer.echo(f"wrote {output}: {result.bytes} bytes in {result.seconds:.2f} s", err=True)
    if result.embedded_detections is not None:
        embedded = result.embedded_detections
        typer.echo(f"embedded {embedded['boxes']} boxes in {embedded['sei_units']} SEI NAL units "
                   f"({embedded['sei_bytes']} bytes)", err=True)


@detections_app.command("extract")
@handles_errors
def detections_extract(
    bitstream: Annotated[Path, typer.Argument(help="VVC/HEVC bitstream with annotated regions SEIs.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Detection file to write (.vcmd or .zip).")],
    detection_format: DetectionFormatName = None,
    progress: NoProgress = True,
) -> None:
    """Read the person boxes carried in a bitstream's annotated regions SEI messages.

    The frame size recorded is the original one from the sidecar ``<bitstream>.json`` if
    there is one, else the stream's cropped picture size."""
    from vcm.bitstream import extract_detections
    from vcm.detformats import format_for_output

    written_format = format_for_output(output, detection_format)
    logs.log_run("detections extract", bitstream=bitstream, output=output,
                 format=written_format.name)
    detections = extract_detections(bitstream)
    written_format.write(detections, output)
    typer.echo(f"wrote {output}: {detections.count} boxes in {len(detections)} frames", err=True)


@app.command("decode")
@handles_errors
def decode(
    bitstream: Annotated[Path, typer.Argument(help="Bitstream from `vcm encode`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Lossless FFV1 .mkv to write.")],
    option: Annotated[
        Optional[list[str]],
        typer.Option("--option", "-p", help="Codec option key=value, repeatable, over the "
                     "sidecar's (e.g. decoder=PATH for vtm)."),
    ] = None,
    log: LogFile = None,
    progress: NoProgress = True,
) -> None:
    """Decode a bitstream back to frames of the original size (lossless FFV1 .mkv)."""
    from vcm.codecs import decode_video

    options = parse_options(option, "codec")
    logs.log_run("decode", bitstream=bitstream, output=output, options=options)
    result = decode_video(bitstream, output, log_path=log, codec_options=options)
    typer.echo(f"wrote {output} in {result.seconds:.2f} s", err=True)


@app.command("codecs")
def list_codecs(progress: NoProgress = True) -> None:
    """List the registered codec names."""
    from vcm.codecs import CODECS

    typer.echo("\n".join(CODECS.names()))


@app.command("bpp")
@handles_errors
def bpp(
    files: Annotated[list[Path], typer.Argument(
        help="Bitstream and any side files (the detection file); only the bitstream when it "
        "carries the detections (`vcm encode --embed`).")],
    like: Annotated[Path, typer.Option(help="The original video: its width, height and frame count.")],
    output: JsonOutput = None,
    progress: NoProgress = True,
) -> None:
    """Print bits per pixel as JSON: bytes x 8 / (width x height x frames) of the original."""
    from vcm.bpp import measure_bits_per_pixel
    from vcm.video import open_video

    info = open_video(like).info
    result = measure_bits_per_pixel(files, width=info.width, height=info.height, frames=info.frames)
    print_json(result.to_dict(), output)


@models_app.command("list")
def models_list(progress: NoProgress = True) -> None:
    """List the named models, their files, and the kind of checksum each file is checked with."""
    import vcm.appearance, vcm.detectors, vcm.pose, vcm.segmenters  # noqa: E401, F401  (backends register their models)
    from vcm.store import MODELS

    for name, model in sorted(MODELS.items()):
        typer.echo(f"{name}:")
        for filename, model_file in model.files.items():
            typer.echo(f"  {filename}  [{model_file.checksum_kind}]")


@models_app.command("fetch")
@handles_errors
def models_fetch(
    name: Annotated[str, typer.Argument(help="Model name (see `vcm models list`).")],
    progress: Progress = True,
) -> None:
    """Download (or find in the mirror) every file of a model and verify its checksum."""
    import vcm.appearance, vcm.detectors, vcm.pose, vcm.segmenters  # noqa: E401, F401  (backends register their models)
    from vcm.store import MODELS, ModelStore

    if name not in MODELS:
        raise VcmError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    store = ModelStore.from_environment(progress=progress)
    started = time.perf_counter()
    for filename in MODELS[name].files:
        typer.echo(str(store.fetch(name, filename)))
    logs.LOG.info("fetched %s in %.1f s", name, time.perf_counter() - started)


@app.command("report")
@handles_errors
def report(
    results: Annotated[Path, typer.Argument(help="Results folder of a sweep.")] = Path("results"),
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="CSV to write.")
    ] = None,
    point: Annotated[
        Optional[list[Path]],
        typer.Option(help="Only these point.json records (repeatable); default: all under RESULTS."),
    ] = None,
    config: Annotated[
        Optional[Path], typer.Option(help="The sweep's config (YAML or JSON), for the manifest.")
    ] = None,
    progress: NoProgress = True,
) -> None:
    """Summary CSV, manifest, the paper's tables (BPP, pose mAP, MOTA, time, BD-rate) and plots.

    Prints the paths written; with --verbose (`vcm -v report`) the summary table too. The
    tables' and plots' notes (undefined BD figures, partial averages) go to report.log beside
    the summary, counted in one line."""
    from vcm.config import load_config
    from vcm.experiment.report import write_report_logged

    output = output or results / "summary.csv"
    settings = load_config(config) if config is not None else None
    logs.log_run("report", results=results, output=output, points=point, config=config)
    table, written, log_path, notes = write_report_logged(results, output, point, config=settings)
    if logs.LOG.isEnabledFor(logging.DEBUG):
        typer.echo(table.to_string(index=False))
    for path in [output, *written, log_path]:
        typer.echo(str(path))
    typer.echo(f"wrote {output}, {len(written)} tables, plots and the manifest, and {log_path}",
               err=True)
    if notes:
        typer.echo(f"{notes} notes on figures that cannot exist or rest on part of the data "
                   f"(expected; each table says why): {log_path}", err=True)


single_app = typer.Typer(
    help="Single-task baselines: code the original video, decode, own detector, then the task.",
    no_args_is_help=True,
)
evaluate_app = typer.Typer(help="Score task outputs against ground truth.", no_args_is_help=True)
app.add_typer(single_app, name="single-task")
app.add_typer(evaluate_app, name="evaluate")

Options = Annotated[
    Optional[list[str]],
    typer.Option("--option", "-p", help="Backend option key=value, repeatable."),
]


def build_named(kind: str, name: str, pairs: list[str] | None, **defaults):
    """Build a detector, pose estimator, segmenter or tracker by registry name with CLI options."""
    if kind == "detector":
        from vcm.detectors import DETECTORS as registry
    elif kind == "pose estimator":
        from vcm.pose import POSE_ESTIMATORS as registry
    elif kind == "segmenter":
        from vcm.segmenters import SEGMENTERS as registry
    else:
        from vcm.trackers import TRACKERS as registry
    options = {**defaults, **parse_options(pairs, kind)}
    return build_backend(registry, name, options)


BoxScore = Annotated[float, typer.Option(
    min=0, max=1, help="Use only boxes scoring at least this (pass the foreground's --score: "
    "a detection file for BYTE tracking keeps low-score boxes).")]
ForegroundVariant = Annotated[
    Optional[list[str]],
    typer.Option("--foreground-option", help="The foreground variant the video was rendered "
                 "with (`vcm foreground -p` key=value, repeatable; default the paper's): the run "
                 "record says how much of each crop is its fill."),
]


class CarryMode(str, enum.Enum):
    """``vcm pose --carry``: :data:`vcm.temporal.CARRY_MODES`."""

    box = "box"
    interpolate = "interpolate"


KeepEvery = Annotated[int, typer.Option(
    min=1, max=1000, help="VIDEO holds frames 1, 1+K, 1+2K, ... of the detections' (`vcm "
    "foreground --keep-every K`): run on those, keep the original frame numbers.")]
CarryTracks = Annotated[Optional[Path], typer.Option(
    help="With --keep-every: the full-rate tracks (`vcm track` MOTChallenge txt) along which "
    "results are carried to the frames between the coded ones.")]


def print_carried(details: dict) -> None:
    """One stderr line: how many results a resampled box task computed and carried."""
    if "carried" in details:
        typer.echo(f"{details['coded']} on coded frames, {details['carried']} carried along "
                   "tracks", err=True)


def print_crops(crops: dict) -> None:
    """One stderr line: how many of a box task's crops read foreground fill."""
    if "crops_with_fill" in crops:
        typer.echo(f"crops: {crops['crops_with_fill']} of {crops['crops']} read foreground "
                   f"fill, {crops['mean_fill']:.1%} of their pixels on average", err=True)


@app.command("pose")
@handles_errors
def pose(
    video: Annotated[Path, typer.Argument(help="Decoded foreground (or any) video: the pixels.")],
    detections: Annotated[Path, typer.Argument(help="Detection file (any format): the person boxes.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="COCO keypoint results JSON.")],
    estimator: Annotated[str, typer.Option(help="Pose estimator name.")] = "blazepose",
    option: Options = None,
    score: BoxScore = 0.0,
    foreground_option: ForegroundVariant = None,
    keep_every: KeepEvery = 1,
    tracks: CarryTracks = None,
    carry: Annotated[CarryMode, typer.Option(
        help="How poses reach the frames between coded frames: box (the nearest coded "
        "frame's keypoints moved and scaled with the track's box) or interpolate (their "
        "places in the box interpolated between the coded frames before and after).")
    ] = CarryMode.interpolate,
    downscale: Downscale = 1,
    downscale_regions: DownscaleRegions = 1,
    progress: Progress = True,
) -> None:
    """Top-down pose estimation with boxes from the detection file (no detector of its own)."""
    from vcm.pipeline.tasks import box_task

    backend = build_named("pose estimator", estimator, option)
    result = box_task("pose", video, detections, output, backend, score=score,
                      foreground_options=parse_options(foreground_option, "foreground"),
                      progress=progress, keep_every=keep_every, tracks=tracks,
                      carry=carry.value, downscale=downscale,
                      downscale_regions=downscale_regions)
    print_crops(result.crops)
    print_carried(result.details)
    typer.echo(f"wrote {output}: {result.count} poses in {result.seconds['pose']:.2f} s", err=True)


@app.command("segment")
@handles_errors
def segment(
    video: Annotated[Path, typer.Argument(help="Decoded foreground (or any) video: the pixels.")],
    detections: Annotated[Path, typer.Argument(help="Detections file (any format): the person boxes.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="COCO instance results JSON (RLE masks).")],
    segmenter: Annotated[str, typer.Option(help="Segmenter name (see `vcm segmenters`).")] = "mediapipe",
    option: Options = None,
    score: BoxScore = 0.0,
    foreground_option: ForegroundVariant = None,
    keep_every: KeepEvery = 1,
    tracks: CarryTracks = None,
    downscale: Downscale = 1,
    downscale_regions: DownscaleRegions = 1,
    progress: Progress = True,
) -> None:
    """Person masks prompted by the boxes of the detections file (no detector of its own)."""
    from vcm.pipeline.tasks import box_task

    backend = build_named("segmenter", segmenter, option)
    result = box_task("segment", video, detections, output, backend, score=score,
                      foreground_options=parse_options(foreground_option, "foreground"),
                      progress=progress, keep_every=keep_every, tracks=tracks,
                      downscale=downscale, downscale_regions=downscale_regions)
    print_crops(result.crops)
    print_carried(result.details)
    typer.echo(f"wrote {output}: {result.count} masks in {result.seconds['segment']:.2f} s",
               err=True)


@app.command("segmenters")
def list_segmenters(progress: NoProgress = True) -> None:
    """List the registered segmenter names."""
    from vcm.segmenters import SEGMENTERS

    typer.echo("\n".join(SEGMENTERS.names()))


@app.command("track")
@handles_errors
def track(
    detections: Annotated[Path, typer.Argument(help="Detection file from `vcm detect` (any format).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="MOTChallenge tracks txt.")],
    tracker: Annotated[str, typer.Option(help="Tracker name.")] = "iou",
    fps: Annotated[
        Optional[float],
        typer.Option(min=0.001, help="Frame rate; scales the lost-track buffer [default: --like's, "
                     "else the detection file's, else 30]."),
    ] = None,
    like: Annotated[
        Optional[Path], typer.Option(help="The video the detections came from (for its frame rate).")
    ] = None,
    video: Annotated[
        Optional[Path], typer.Option(help="With appearance (-p appearance=histogram): the decoded "
                                     "video whose pixels are embedded (the foreground, or the "
                                     "coded original).")
    ] = None,
    gallery: Annotated[
        Optional[Path], typer.Option(help="With appearance: SQLite file of known identities, read "
                                     "if it exists and updated at the end (docs/reid.md).")
    ] = None,
    option: Options = None,
    progress: NoProgress = True,
) -> None:
    """Associate the boxes of the detection file across frames (no detector of its own)."""
    from vcm.pipeline.tasks import track_task
    from vcm.trackers import TRACKERS

    options = parse_options(option, "tracker")
    backend = build_backend(TRACKERS, tracker, options)
    result = track_task(detections, output, backend, tracker_name=tracker, options=options,
                        fps=fps, like=like, video=video, gallery=gallery)
    print_tracks(result)


def print_tracks(result) -> None:
    """One stderr line: the tracks written, their boxes and the tracker's seconds."""
    typer.echo(f"wrote {result.output}: {result.tracks} tracks, {result.count} boxes in "
               f"{result.seconds['track']:.3f} s", err=True)


CodecName = Annotated[str, typer.Option(help="Codec for the original video.")]
QP = Annotated[int, typer.Option(help="Fixed quantization parameter.")]
DetectorName = Annotated[str, typer.Option(help="The task's own detector.")]
Score = Annotated[float, typer.Option(min=0, max=1, help="Detector score threshold.")]
DetectorOptions = Annotated[
    Optional[list[str]], typer.Option("--detector-option", help="Detector option key=value.")
]
CodecOptions = Annotated[
    Optional[list[str]], typer.Option("--codec-option", help="Codec option key=value.")
]
Workdir = Annotated[
    Optional[Path],
    typer.Option(help="Keep the coded and decoded original here (default: a temporary folder)."),
]


@single_app.command("pose")
@handles_errors
def single_task_pose(
    video: Annotated[Path, typer.Argument(help="Original video or sequence folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="COCO keypoint results JSON.")],
    codec: CodecName = "vvenc",
    qp: QP = 32,
    detector: DetectorName = "hog",
    score: Score = 0.6,
    estimator: Annotated[str, typer.Option(help="Pose estimator name.")] = "blazepose",
    detector_option: DetectorOptions = None,
    estimator_option: Annotated[
        Optional[list[str]], typer.Option("--estimator-option", help="Estimator option key=value.")
    ] = None,
    codec_option: CodecOptions = None,
    workdir: Workdir = None,
    progress: Progress = True,
) -> None:
    """Pose baseline: code the original, decode, detect with its own detector, estimate poses."""
    from vcm.pipeline.tasks import single_task

    result = single_task(
        "pose", video, output, build_named("pose estimator", estimator, estimator_option),
        detector=build_named("detector", detector, detector_option), score=score,
        codec=codec, qp=qp, codec_options=parse_options(codec_option, "codec"),
        workdir=workdir, progress=progress,
    )
    typer.echo(f"wrote {output}: {result.count} poses in {result.seconds['pose']:.2f} s", err=True)


@single_app.command("segment")
@handles_errors
def single_task_segment(
    video: Annotated[Path, typer.Argument(help="Original video or sequence folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="COCO instance results JSON (RLE masks).")],
    codec: CodecName = "vvenc",
    qp: QP = 32,
    detector: DetectorName = "hog",
    score: Score = 0.6,
    segmenter: Annotated[str, typer.Option(help="Segmenter name.")] = "mediapipe",
    detector_option: DetectorOptions = None,
    segmenter_option: Annotated[
        Optional[list[str]], typer.Option("--segmenter-option", help="Segmenter option key=value.")
    ] = None,
    codec_option: CodecOptions = None,
    workdir: Workdir = None,
    progress: Progress = True,
) -> None:
    """Segmentation baseline: code the original, decode, detect with its own detector, segment."""
    from vcm.pipeline.tasks import single_task

    result = single_task(
        "segment", video, output, build_named("segmenter", segmenter, segmenter_option),
        detector=build_named("detector", detector, detector_option), score=score,
        codec=codec, qp=qp, codec_options=parse_options(codec_option, "codec"),
        workdir=workdir, progress=progress,
    )
    typer.echo(f"wrote {output}: {result.count} masks in {result.seconds['segment']:.2f} s",
               err=True)


@single_app.command("track")
@handles_errors
def single_task_track(
    video: Annotated[Path, typer.Argument(help="Original video or sequence folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="MOTChallenge tracks txt.")],
    codec: CodecName = "vvenc",
    qp: QP = 32,
    detector: DetectorName = "hog",
    score: Score = 0.6,
    tracker: Annotated[str, typer.Option(help="Tracker name.")] = "iou",
    detector_option: DetectorOptions = None,
    tracker_option: Annotated[
        Optional[list[str]], typer.Option("--tracker-option", help="Tracker option key=value.")
    ] = None,
    codec_option: CodecOptions = None,
    workdir: Workdir = None,
    progress: Progress = True,
) -> None:
    """Tracking baseline: code the original, decode, detect with its own detector, track."""
    from vcm.pipeline.tasks import single_task

    result = single_task(
        "track", video, output, build_named("tracker", tracker, tracker_option),
        detector=build_named("detector", detector, detector_option), score=score,
        codec=codec, qp=qp, codec_options=parse_options(codec_option, "codec"),
        workdir=workdir, progress=progress, tracker_name=tracker,
        tracker_options=parse_options(tracker_option, "tracker"),
    )
    print_tracks(result)


@evaluate_app.command("pose")
@handles_errors
def evaluate_pose(
    results: Annotated[Path, typer.Argument(help="COCO keypoint results JSON (`vcm pose`).")],
    gt: Annotated[Path, typer.Option(help="COCO keypoint ground-truth JSON (image_id = frame).")],
    output: JsonOutput = None,
    progress: NoProgress = True,
) -> None:
    """Print COCO keypoint AP, AP50, AP75, AR, ... (OKS) as JSON.

    COCO-layout ground truth uses COCO's 17 sigmas. Ground truth in HiEve's 14-keypoint layout
    (`vcm data hieve-pose`) is matched by mapping the 17 COCO keypoints of the results to
    HiEve's 14 (chest = shoulder midpoint) and uses HiEve's sigmas (README)."""
    from vcm.datasets.hieve import HIEVE_KEYPOINT_SIGMAS, coco_poses_to_hieve, is_hieve_layout
    from vcm.keypoints import load_json, read_pose_results
    from vcm.metrics.pose import evaluate_keypoints

    for path in (results, gt):
        if not path.is_file():
            raise VcmError(f"{path}: file does not exist")
    dataset = load_json(gt)
    if isinstance(dataset, dict) and is_hieve_layout(dataset):
        poses = read_pose_results(results)
        if any(len(pose.keypoints) != 17 for pose in poses):
            raise VcmError(f"{results}: HiEve ground truth needs COCO 17-keypoint results")
        print_json(evaluate_keypoints(dataset, coco_poses_to_hieve(poses),
                                      sigmas=HIEVE_KEYPOINT_SIGMAS), output)
        return
    print_json(evaluate_keypoints(gt, results), output)


@evaluate_app.command("segm")
@handles_errors
def evaluate_segm(
    results: Annotated[Path, typer.Argument(help="COCO instance results JSON (`vcm segment`).")],
    gt: Annotated[Path, typer.Option(help="COCO instances ground truth with polygon or RLE masks (image_id = frame).")],
    output: JsonOutput = None,
    progress: NoProgress = True,
) -> None:
    """Print COCO mask AP, AP50, AP75, APs/m/l, AR1, AR10, AR, ARs/m/l (mask IoU) as JSON."""
    from vcm.masks import image_sizes, read_instance_ground_truth, read_mask_results
    from vcm.metrics.segmentation import evaluate_masks

    ground_truth = read_instance_ground_truth(gt)
    masks = read_mask_results(results, image_sizes=image_sizes(ground_truth))
    print_json(evaluate_masks(ground_truth, masks), output)


@evaluate_app.command("track")
@handles_errors
def evaluate_track(
    tracks: Annotated[Path, typer.Argument(help="MOTChallenge tracks txt (`vcm track`).")],
    gt: Annotated[Path, typer.Option(help="MOTChallenge gt.txt of the sequence.")],
    iou: Annotated[float, typer.Option(min=0, max=1, help="IoU needed for a match.")] = 0.5,
    output: JsonOutput = None,
    progress: NoProgress = True,
) -> None:
    """Print MOTA, MOTP, IDF1, FP, FN, ID switches, ... (motmetrics) and HOTA, DetA, AssA, LocA
    (TrackEval) as JSON."""
    from vcm.datasets.mot import read_mot_txt
    from vcm.metrics.tracking import evaluate_tracking
    from vcm.tracks import read_tracks_txt

    ground_truth = read_mot_txt(gt)
    print_json(evaluate_tracking(ground_truth, read_tracks_txt(tracks), iou_threshold=iou), output)


@evaluate_app.command("motion")
@handles_errors
def evaluate_motion_records(
    results: Annotated[Path, typer.Argument(help="Motion records JSON lines (`vcm motion run`).")],
    labels: Annotated[Path, typer.Option(help="Labels CSV (clip,label,start_frame,end_frame,reps).")],
    clip: Annotated[str, typer.Option(help="The clip the records are of, as the labels' clip "
                                      "column names it.")],
    output: JsonOutput = None,
    progress: NoProgress = True,
) -> None:
    """Print motion accuracy, macro-F1, repetition count MAE and share within one (per clip
    row and per track; docs/motion.md) of one clip's motion records as JSON."""
    from vcm.motion.run import evaluate_records

    print_json(evaluate_records(results, labels, clip), output)


@app.command("point")
@handles_errors
def point(
    output: Annotated[Path, typer.Option("--output", "-o", help="Point record JSON to write.")],
    sequence: Annotated[str, typer.Option(help="Sequence name.")],
    pipeline: Annotated[str, typer.Option(
        help="multitask, multitask-<variant> (a sweep's variant), single, or "
        "multitask+<name> / single+<name> (a sweep's tracker variant).")],
    codec: Annotated[str, typer.Option(help="Codec name.")],
    qp: Annotated[int, typer.Option(help="Quantization parameter.")],
    bpp: Annotated[Path, typer.Option(help="`vcm bpp` record.")],
    pose_eval: Annotated[
        Optional[Path], typer.Option(help="`vcm evaluate pose` output.")
    ] = None,
    track_eval: Annotated[
        Optional[Path], typer.Option(help="`vcm evaluate track` output.")
    ] = None,
    segm_eval: Annotated[
        Optional[Path], typer.Option(help="`vcm evaluate segm` output.")
    ] = None,
    motion_eval: Annotated[
        Optional[Path], typer.Option(help="`vcm evaluate motion` output.")
    ] = None,
    run: Annotated[
        Optional[list[Path]], typer.Option(help="Run records (*.run.json), repeatable.")
    ] = None,
    segment_detect_run: Annotated[
        Optional[list[Path]],
        typer.Option(help="Run records of a detector only segmentation needed (single-task); "
                     "kept out of the two-task total. Repeatable."),
    ] = None,
    codec_record: Annotated[
        Optional[list[Path]], typer.Option(help="Encoder/decoder sidecars (*.json), repeatable.")
    ] = None,
    detections: Annotated[
        Optional[Path],
        typer.Option(help="The detection file counted in the BPP record (multitask): splits "
                     "the BPP into video and detections and compares formats."),
    ] = None,
    variant: Annotated[str, typer.Option(
        help="The multitask variant's name in the sweep config (empty: the config's own).")] = "",
    score: Annotated[Optional[float], typer.Option(
        min=0, max=1, help="The shared detector's score threshold (multitask).")] = None,
    foreground_run: Annotated[
        Optional[Path],
        typer.Option(help="Run record of `vcm foreground` (multitask): its variant options and "
                     "rendering seconds (kept apart from the task times)."),
    ] = None,
    progress: NoProgress = True,
) -> None:
    """Gather one measured point (BPP, pose AP, MOTA, mask AP, seconds) into one results record."""
    from vcm.detformats import detections_record
    from vcm.fileio import atomic_output
    from vcm.experiment.points import build_point, load_record

    if not re.fullmatch(r"single|multitask(-[A-Za-z0-9][A-Za-z0-9_.-]*)?"
                        r"|(single|multitask)\+[A-Za-z0-9][A-Za-z0-9_.-]*", pipeline):
        raise VcmError(f"pipeline must be multitask, multitask-<variant>, single or "
                       f"<multitask|single>+<tracker variant>, got {pipeline!r}")
    record = build_point(
        sequence=sequence, pipeline=pipeline, codec=codec, qp=qp,
        bpp=load_record(bpp, "BPP record"),
        pose_evaluation=load_record(pose_eval, "pose evaluation") if pose_eval else None,
        track_evaluation=load_record(track_eval, "tracking evaluation") if track_eval else None,
        segm_evaluation=load_record(segm_eval, "segmentation evaluation") if segm_eval else None,
        motion_evaluation=load_record(motion_eval, "motion evaluation") if motion_eval else None,
        run_records=[load_record(path, "run record") for path in run or []],
        segment_detect_records=[load_record(path, "run record")
                                for path in segment_detect_run or []],
        codec_records=[load_record(path, "codec sidecar") for path in codec_record or []],
        detections=detections_record(detections) if detections else None,
        variant=variant, score=score,
        foreground_record=load_record(foreground_run, "run record") if foreground_run else None,
    )
    with atomic_output(output) as temporary:
        temporary.write_text(json.dumps(record, indent=2, sort_keys=True, allow_nan=False) + "\n")


@app.command("sweep", context_settings={"allow_extra_args": True,
                                       "ignore_unknown_options": True})
@handles_errors
def sweep(
    context: typer.Context,
    config: Annotated[Optional[Path], typer.Argument(
        help="Sweep config (default configs/default.yaml); results go to "
        "results/<config name>/.")] = None,
    cores: Annotated[int, typer.Option(min=1, help="CPU cores Snakemake may use.")] = 2,
    directory: Annotated[Optional[Path], typer.Option(
        help="Folder the results/ go under (default: here).")] = None,
    progress: Progress = True,
) -> None:
    """Run the Snakemake sweep in this checkout: one progress line here, Snakemake's output in
    results/<config name>/sweep.log. Arguments after `--` go to Snakemake (e.g. -- --dry-run)."""
    from vcm.sweep import run_sweep

    log, outcome = run_sweep(config, cores=cores, extra=list(context.args), directory=directory,
                             progress=progress)
    summary = log.parent / "summary.csv"
    done = ("nothing to do" if outcome.nothing_to_do
            else f"{outcome.done} of {outcome.total} steps done")
    typer.echo(f"sweep: {done}; {summary}; Snakemake's log: {log}", err=True)


@app.command("config")
@handles_errors
def check_config(
    config: Annotated[Path, typer.Argument(help="Sweep config (YAML) to check.")],
    progress: NoProgress = True,
) -> None:
    """Validate a sweep config against the schema Snakemake uses; check its backends exist."""
    from vcm.config import load_config

    load_config(config)
    typer.echo(f"{config}: ok")


# ------------------------------------------------------------------------------ motion (issue 21)

motion_app = typer.Typer(help="Motion recognition and repetition counting from poses and tracks "
                         "(docs/motion.md).", no_args_is_help=True)
app.add_typer(motion_app, name="motion")

MotionOptions = Annotated[Optional[list[str]], typer.Option(
    "--option", "-p", help="Recognizer option key=value, repeatable (knn: k, history_seconds).")]
PoseSource = Annotated[str, typer.Option(
    "--poses", help="Where each clip's poses and tracks come from: truth (the clip's "
    "gt/keypoints.json and gt/gt.txt) or pipeline (detector, pose estimator, tracker below).")]
ClipDetector = Annotated[str, typer.Option(help="With --poses pipeline: detector.")]
ClipEstimator = Annotated[str, typer.Option(help="With --poses pipeline: pose estimator.")]
ClipTracker = Annotated[str, typer.Option(help="With --poses pipeline: tracker.")]
WindowSeconds = Annotated[float, typer.Option(min=0.1, max=60, help="Window length in seconds.")]
Distance = Annotated[str, typer.Option(help="Window distance: stats, plain or dtw.")]
Features = Annotated[str, typer.Option(help="Per-frame features: bones or positions.")]
Neighbours = Annotated[int, typer.Option("--k", min=1, max=1000, help="Neighbours that vote.")]


def _pipeline_settings(source: str, detector: str, estimator: str, tracker: str) -> dict:
    from vcm.motion.evaluate import POSE_SOURCES

    if source not in POSE_SOURCES:
        raise VcmError(f"--poses must be one of {', '.join(POSE_SOURCES)}, got {source!r}")
    if source == "truth":
        return {}
    return {"detector": detector, "estimator": estimator, "tracker": tracker}


def _window_choices(features: str, distance: str) -> None:
    from vcm.motion.features import FEATURE_SETS
    from vcm.motion.gallery import DISTANCES

    if features not in FEATURE_SETS:
        raise VcmError(f"--features must be one of {', '.join(FEATURE_SETS)}, got {features!r}")
    if distance not in DISTANCES:
        raise VcmError(f"--distance must be one of {', '.join(DISTANCES)}, got {distance!r}")


@motion_app.command("run")
@handles_errors
def motion_run(
    poses: Annotated[Path, typer.Argument(help="COCO keypoint results JSON (`vcm pose`).")],
    tracks: Annotated[Path, typer.Argument(help="MOTChallenge tracks txt (`vcm track`).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Motion records, JSON lines.")],
    model: Annotated[Optional[Path], typer.Option(
        help="Gallery from `vcm motion fit` (without one: labels unknown, repetitions counted).")
    ] = None,
    recognizer: Annotated[str, typer.Option(help="Motion recognizer name.")] = "knn",
    option: MotionOptions = None,
    fps: Annotated[Optional[float], typer.Option(
        min=0.001, help="Frame rate [default: --like's, else 30].")] = None,
    like: Annotated[Optional[Path], typer.Option(help="The video (for its frame rate).")] = None,
    progress: NoProgress = True,
) -> None:
    """Motion label, score and repetition count of every track, frame by frame."""
    from vcm.motion import MOTION_RECOGNIZERS
    from vcm.motion.run import motion_file

    options = parse_options(option, "motion recognizer")
    if model is not None:
        options["model"] = model
    backend = build_backend(MOTION_RECOGNIZERS, recognizer, options)
    result = motion_file(poses, tracks, output, backend, fps=fps, like=like)
    typer.echo(f"wrote {output}: {result.frames} frames, {result.tracks} tracks in "
               f"{result.seconds:.3f} s", err=True)


@motion_app.command("fit")
@handles_errors
def motion_fit(
    labels: Annotated[Path, typer.Argument(help="Labels CSV: clip,label,start_frame,end_frame,reps.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Gallery (model) JSON to write.")],
    poses: PoseSource = "truth",
    detector: ClipDetector = "yolo-fastest",
    estimator: ClipEstimator = "blazepose",
    tracker: ClipTracker = "iou",
    window_seconds: WindowSeconds = 2.0,
    distance: Distance = "stats",
    features: Features = "bones",
    k: Neighbours = 5,
    progress: Progress = True,
) -> None:
    """Fit a gallery of labelled motion windows from the clips a labels CSV describes."""
    from vcm.motion.run import fit_file

    _window_choices(features, distance)
    gallery = fit_file(labels, output, source=poses, progress=progress, features=features,
                       distance=distance, window_seconds=window_seconds, k=k,
                       **_pipeline_settings(poses, detector, estimator, tracker))
    typer.echo(f"wrote {output}: {len(gallery.labels)} windows of "
               f"{len(set(gallery.labels))} labels", err=True)


@motion_app.command("evaluate")
@handles_errors
def motion_evaluate(
    labels: Annotated[Path, typer.Argument(help="Labels CSV: clip,label,start_frame,end_frame,reps.")],
    model: Annotated[Optional[Path], typer.Option(help="Gallery from `vcm motion fit`.")] = None,
    leave_one_out: Annotated[bool, typer.Option(
        help="No model: classify each clip with a gallery of the other clips.")] = False,
    poses: PoseSource = "truth",
    detector: ClipDetector = "yolo-fastest",
    estimator: ClipEstimator = "blazepose",
    tracker: ClipTracker = "iou",
    window_seconds: WindowSeconds = 2.0,
    distance: Distance = "stats",
    features: Features = "bones",
    k: Neighbours = 5,
    output: JsonOutput = None,
    progress: Progress = True,
) -> None:
    """Run the chain on every clip of a labels CSV; print per-clip and per-track accuracy,
    macro-F1, repetition-count MAE and the share within one repetition."""
    from vcm.motion.evaluate import format_table
    from vcm.motion.run import evaluate_file

    _window_choices(features, distance)
    scores = evaluate_file(labels, model=model, leave_one_out=leave_one_out, source=poses,
                           progress=progress, features=features, distance=distance,
                           window_seconds=window_seconds, k=k,
                           **_pipeline_settings(poses, detector, estimator, tracker))
    typer.echo(format_table(scores))
    if output is not None:
        print_json({"summary": scores.summary(), "rows": scores.rows, "tracks": scores.tracks},
                   output)


# ------------------------------------------------------------------------------ live (issue 18)

LiveToken = Annotated[Optional[str], typer.Option(
    envvar="VCM_LIVE_TOKEN", help="Shared secret of the server (env VCM_LIVE_TOKEN); required to "
    "listen anywhere but loopback.")]


def cli_tasks(pose: str, segment: str, track: str, pose_option=None, segment_option=None,
              track_option=None, score: float = 0.0, motion: str = "none", motion_option=None):
    """The server's tasks from the CLI's names and ``key=value`` options."""
    from vcm.live import live_tasks

    return live_tasks(pose, segment, track, pose_options=parse_options(pose_option, "pose"),
                      segment_options=parse_options(segment_option, "segment"),
                      track_options=parse_options(track_option, "track"), score=score,
                      motion=motion, motion_options=parse_options(motion_option, "motion"))


LiveDashboard = Annotated[Optional[str], typer.Option(
    "--http", metavar="[HOST:]PORT", help="Also serve the live dashboard (a web page of every "
    "stream) here; loopback unless the server has a token (docs/live.md).")]


LivePose = Annotated[str, typer.Option(help="Pose estimator, or none.")]
LiveSegment = Annotated[str, typer.Option(help="Segmenter, or none.")]
LiveTrack = Annotated[str, typer.Option(help="Tracker, or none.")]
LiveTrackOptions = Annotated[Optional[list[str]], typer.Option(help="Tracker option key=value.")]
LiveMotion = Annotated[str, typer.Option(
    help="Motion recognizer (`knn`; needs pose and track), or none (docs/motion.md).")]
LiveMotionOptions = Annotated[Optional[list[str]], typer.Option(
    help="Motion recognizer option key=value (knn: model=GALLERY.json, k, history_seconds).")]
LiveStatus = Annotated[bool, typer.Option(
    "--progress/--no-progress", help="One-line status on stderr: fps, kbps, latency, dropped.")]
LiveGalleryFile = Annotated[Optional[Path], typer.Option(
    help="With appearance (--track-option appearance=histogram): SQLite file of known "
    "identities, read when each session starts and updated when it ends (docs/reid.md).")]


@app.command("serve")
@handles_errors
def serve(
    root: Annotated[Path, typer.Option(help="Folder the session recordings go in.")] = Path("sessions"),
    host: Annotated[str, typer.Option(help="Address to listen on (anything but loopback needs --token).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one, printed).")] = 7878,
    token: LiveToken = None,
    pose: LivePose = "blazepose",
    segment: LiveSegment = "none",
    track: LiveTrack = "iou",
    pose_option: Annotated[Optional[list[str]], typer.Option(help="Pose option key=value.")] = None,
    segment_option: Annotated[Optional[list[str]], typer.Option(help="Segmenter option key=value.")] = None,
    track_option: LiveTrackOptions = None,
    motion: LiveMotion = "none",
    motion_option: LiveMotionOptions = None,
    score: BoxScore = 0.0,
    max_sessions: Annotated[int, typer.Option(min=1, max=64, help="Streams at once.")] = 4,
    max_lag: Annotated[Optional[int], typer.Option(
        min=0, help="Skip pose and segmentation of a frame with more than this many decoded "
        "frames waiting (counted); default: analyse every frame.")] = None,
    progress: NoProgress = True,
    http: LiveDashboard = None,
    gallery: LiveGalleryFile = None,
) -> None:
    """Analysis server: receive live streams (`vcm stream`), answer each frame, record sessions."""
    from vcm.live.dashboard import start_dashboard
    from vcm.live.gallery import LiveGallery
    from vcm.live.server import AnalysisServer

    tasks = cli_tasks(pose, segment, track, pose_option, segment_option, track_option, score,
                      motion, motion_option)
    known = LiveGallery(gallery) if gallery is not None else None
    dashboard = start_dashboard(http, token)
    try:
        server = AnalysisServer(root, host=host, port=port, token=token, tasks=tasks,
                                max_sessions=max_sessions, max_lag=max_lag,
                                watchers=[dashboard] if dashboard else (), gallery=known).start()
        bound_host, bound_port = server.address
        typer.echo(f"listening on {bound_host}:{bound_port}; sessions in {root}", err=True)
        if dashboard:
            typer.echo(f"dashboard on {dashboard.url()}", err=True)
        server.serve_forever()
    finally:
        if dashboard:
            dashboard.stop()


EdgeForeground = Annotated[Optional[list[str]], typer.Option(
    help="Foreground variant option key=value, repeatable (as `vcm foreground -p`; e.g. "
    "anonymise=pixelate: no face leaves the edge).")]


@app.command("stream")
@handles_errors
def stream(
    source: Annotated[str, typer.Argument(help="Video file, MOTChallenge folder, /dev/videoN, "
                                          "or an rtsp:// tcp:// udp:// http:// URL.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON lines of the results.")],
    to: Annotated[Optional[str], typer.Option(help="Server HOST:PORT (`vcm serve`).")] = None,
    loopback: Annotated[bool, typer.Option(help="Run a server in this process (on 127.0.0.1) "
                                          "and stream to it: both ends on one machine.")] = False,
    detector: Annotated[str, typer.Option(help="Detector name.")] = "yolo-fastest",
    detector_option: DetectorOptions = None,
    detect_score: Annotated[float, typer.Option(min=0, max=1, help="Detector score threshold.")] = 0.6,
    foreground_option: EdgeForeground = None,
    codec: Annotated[str, typer.Option(help="vvenc (H.266) or x265 (H.265).")] = "vvenc",
    qp: QP = 32,
    preset: Annotated[Optional[str], typer.Option(help="Encoder preset [vvenc: faster, x265: ultrafast].")] = None,
    intra_period: Annotated[int, typer.Option(min=1, help="Frames between intra pictures.")] = 32,
    realtime: Annotated[bool, typer.Option(help="Pace a file at its frame rate (frames the edge "
                                          "cannot keep up with are dropped and counted).")] = False,
    max_frames: Annotated[Optional[int], typer.Option(min=1, help="Stop after this many frames.")] = None,
    fps: Annotated[Optional[float], typer.Option(
        min=0.001, max=1000, help="Frame rate of the source [its own]; with --realtime a file "
        "is paced at it.")] = None,
    reconnect: Annotated[int, typer.Option(
        min=0, max=1000, help="New connections (each a new coded sequence) after a failed one.")] = 0,
    token: LiveToken = None,
    root: Annotated[Path, typer.Option(help="With --loopback: where the session is recorded.")] = Path("sessions"),
    pose: LivePose = "blazepose",
    segment: LiveSegment = "none",
    track: LiveTrack = "iou",
    track_option: LiveTrackOptions = None,
    motion: LiveMotion = "none",
    motion_option: LiveMotionOptions = None,
    progress: LiveStatus = True,
    http: Annotated[Optional[str], typer.Option(
        "--http", metavar="[HOST:]PORT", help="With --loopback: also serve the live dashboard "
        "here while the stream runs; loopback unless --token is given (docs/live.md).")] = None,
    gallery: LiveGalleryFile = None,
) -> None:
    """Edge: detect, render the foreground, encode with the boxes in an SEI, send; write results.

    With --loopback, also the server (in this process, with the task options of `vcm live`)."""
    if (to is None) == (not loopback):
        raise VcmError("stream: give either --to HOST:PORT or --loopback")
    if http is not None and not loopback:
        raise VcmError("stream: --http needs --loopback (the dashboard of a server elsewhere "
                       "is `vcm serve --http`)")
    server_options = [name for name, value in (
        ("--track-option", track_option), ("--motion", None if motion == "none" else motion),
        ("--motion-option", motion_option), ("--gallery", gallery)) if value is not None]
    if server_options and not loopback:
        raise VcmError(f"stream: {', '.join(server_options)} "
                       f"{'needs' if len(server_options) == 1 else 'need'} --loopback (a "
                       "server elsewhere takes them itself: `vcm serve`)")
    tasks = cli_tasks(pose, segment, track, track_option=track_option, motion=motion,
                      motion_option=motion_option) if loopback else None
    _stream_and_print(
        source, output, address=_host_port(to) if to else None, tasks=tasks, root=root,
        detector=detector, detector_option=detector_option, detect_score=detect_score,
        foreground_option=foreground_option, codec=codec, qp=qp, preset=preset,
        intra_period=intra_period, realtime=realtime, max_frames=max_frames, token=token,
        fps=fps, reconnects=reconnect, progress=progress, http=http, gallery=gallery)


def _stream_and_print(source: str, output: Path, *, detector: str, detector_option,
                      foreground_option, progress: bool, http: str | None,
                      gallery: Path | None = None, **settings) -> None:
    """`vcm stream` and `vcm live`: run the edge (:func:`vcm.live.run_edge` with
    ``settings``), with the dashboard on ``http`` and the identities in ``gallery`` (both of
    the server in this process), then print its report."""
    from vcm.live import run_edge
    from vcm.live.dashboard import start_dashboard
    from vcm.live.gallery import LiveGallery

    dashboard = start_dashboard(http, settings.get("token"))
    if dashboard:
        typer.echo(f"dashboard on {dashboard.url()} while the stream runs", err=True)
    try:
        report = run_edge(
            source, results_path=output,
            detector=build_named("detector", detector, detector_option,
                                 **({"sequence": source} if detector == "oracle" else {})),
            foreground=parse_options(foreground_option, "foreground"),
            status=_status_line if progress else None, watchers=[dashboard] if dashboard else (),
            gallery=LiveGallery(gallery) if gallery is not None else None, **settings)
    finally:
        if dashboard:
            dashboard.stop()
    if progress:
        typer.echo("", err=True)
    print_json(report.to_dict())


@app.command("live")
@handles_errors
def live(
    source: Annotated[str, typer.Argument(help="Video file, MOTChallenge folder or live source.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON lines of the results.")],
    root: Annotated[Path, typer.Option(help="Where the session is recorded.")] = Path("sessions"),
    detector: Annotated[str, typer.Option(help="Detector name.")] = "yolo-fastest",
    codec: Annotated[str, typer.Option(help="vvenc (H.266) or x265 (H.265).")] = "vvenc",
    qp: QP = 32,
    realtime: Annotated[bool, typer.Option(help="Pace a file at its frame rate.")] = False,
    max_frames: Annotated[Optional[int], typer.Option(min=1, help="Stop after this many frames.")] = None,
    pose: LivePose = "blazepose",
    segment: LiveSegment = "none",
    track: LiveTrack = "iou",
    track_option: LiveTrackOptions = None,
    foreground_option: EdgeForeground = None,
    motion: LiveMotion = "none",
    motion_option: LiveMotionOptions = None,
    progress: LiveStatus = True,
    http: LiveDashboard = None,
    gallery: LiveGalleryFile = None,
) -> None:
    """Both ends on this machine, for measurement: `vcm stream --loopback` with its defaults."""
    tasks = cli_tasks(pose, segment, track, track_option=track_option, motion=motion,
                      motion_option=motion_option)
    _stream_and_print(
        source, output, address=None, tasks=tasks, root=root, detector=detector,
        detector_option=None, detect_score=0.6, foreground_option=foreground_option,
        codec=codec, qp=qp, preset=None, intra_period=32, realtime=realtime,
        max_frames=max_frames, token=None, progress=progress, http=http, gallery=gallery)


session_app = typer.Typer(help="Recorded live sessions (`vcm serve --root`).",
                          no_args_is_help=True)
app.add_typer(session_app, name="session")


@session_app.command("rebuild")
@handles_errors
def session_rebuild(
    directory: Annotated[Path, typer.Argument(help="A session folder whose server stopped "
                                              "before the end (session.json says running).")],
    progress: NoProgress = True,
) -> None:
    """Rebuild an interrupted session's task files from its recording, as the batch commands
    write them on the recorded stream (cut at its last complete frame)."""
    from vcm.live.rebuild import rebuild_session

    result = rebuild_session(directory, progress=progress)
    cut = f", cut {result.cut_bytes} bytes of an incomplete frame" if result.cut_bytes else ""
    typer.echo(f"rebuilt {directory}: {result.frames} frames{cut}; wrote "
               f"{', '.join(result.written)}", err=True)


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise VcmError(f"{text}: expected HOST:PORT")
    return host.strip("[]"), int(port)


def _status_line(report) -> None:
    summary = report.latency_summary()
    typer.echo(f"\r{report.results} frames  {report.throughput:.1f} fps  {report.kbps:.0f} kbps  "
               f"latency p50 {summary.get('p50', 0) * 1000:.0f} ms  p95 "
               f"{summary.get('p95', 0) * 1000:.0f} ms  dropped {report.dropped_capture}   ",
               err=True, nl=False)
