"""Single-task baselines (paper Fig. 4b): each task codes the *original* video at the same codec
and QP, decodes it, runs its own detector on the decoded frames, then the task itself.

The detector is a parameter, so both the paper's mismatched set-up (each task its own
detector) and a matched, fair one (the same detector everywhere) can be run.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from vcm.codecs import CODECS, decode_video, encode_video
from vcm.detections import DetectionSequence
from vcm.detectors import detect_video
from vcm.logs import log_run
from vcm.runrecord import write_run_record
from vcm.video import VideoSource, open_video


@dataclass(frozen=True)
class CodedVideo:
    """The original video after the codec: the decoded file, the bitstream's size in bytes and
    the codec's seconds (reported apart from task time, as in the paper)."""

    decoded: Path
    bitstream_bytes: int
    encode_seconds: float
    decode_seconds: float


@contextmanager
def coded_original(
    video: Path,
    *,
    codec: str,
    qp: int,
    workdir: Path | None = None,
    progress: bool = True,
    **codec_options,
) -> Iterator[CodedVideo]:
    """Encode and decode ``video``; the files live in ``workdir`` (kept) or a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="vcm-single-") as temporary:
        folder = Path(workdir) if workdir is not None else Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        bitstream = folder / f"original_{codec}_qp{qp}{CODECS.get(codec).extension}"
        decoded = folder / f"original_{codec}_qp{qp}_decoded.mkv"
        encoded = encode_video(video, bitstream, codec=codec, qp=qp, progress=progress,
                               **codec_options)
        decoding = decode_video(bitstream, decoded)
        yield CodedVideo(decoded, encoded.bytes, encoded.seconds, decoding.seconds)


def detect_decoded(
    coded: CodedVideo, detector, *, score_threshold: float, progress: bool = True
) -> tuple[DetectionSequence, float]:
    """Run the task's own detector on the decoded frames; return detections and the
    detector's seconds (reading frames excepted, as the driver measures them)."""
    from vcm.pipeline import StageTimes

    times = StageTimes()
    detections = detect_video(open_video(coded.decoded), detector,
                              score_threshold=score_threshold, progress=progress, times=times)
    return detections, times.seconds.get("detect", 0.0)


def run_single_task(
    video: Path,
    output: Path,
    *,
    stage: str,
    step: str,
    task: Callable[[VideoSource, DetectionSequence], float],
    codec: str,
    qp: int,
    codec_options: dict,
    detector,
    score: float,
    workdir: Path | None = None,
    progress: bool = True,
    **parameters,
) -> dict[str, float]:
    """Code ``video``, decode it, detect with ``detector``, then ``task(decoded, detections)``
    (which writes ``output`` and returns its seconds); write the run record of ``output``.

    Returns the seconds of each step: encode, decode, detect and ``step`` (the task's name).
    """
    described = {"video": video, "codec": codec, "qp": qp, "codec_options": codec_options,
                 "detector": detector.describe(), "score": score, **parameters}
    log_run(stage, **described)
    with coded_original(video, codec=codec, qp=qp, workdir=workdir, progress=progress,
                        **codec_options) as coded:
        detections, detect_seconds = detect_decoded(coded, detector, score_threshold=score,
                                                    progress=progress)
        task_seconds = task(open_video(coded.decoded), detections)
    seconds = {"encode": coded.encode_seconds, "decode": coded.decode_seconds,
               "detect": detect_seconds, step: task_seconds}
    write_run_record(output, stage, seconds, bitstream_bytes=coded.bitstream_bytes, **described)
    return seconds
