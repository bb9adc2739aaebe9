"""Drivers: move frames through a list of stages, and time each stage in one place.

:func:`run_frames` is the batch driver the commands and the sweep use: it pulls frames from
a source lazily, hands each stage ``frames_per_batch`` frames at a time (so a batching network
sees the same batches as before the stages existed, and its outputs stay the same bytes), and
flushes every stage at the end. :class:`Pipeline` is the live driver: one frame in at a time,
each stage called with that one frame, the frames every stage has finished out.

Both time every ``process_batch`` and ``flush`` call of every stage with one clock,
:class:`StageTimes`, keyed by the stage's ``name``; stages do not time themselves.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

from tqdm import tqdm

from vcm.detections import DetectionSequence
from vcm.errors import VcmError
from vcm.pipeline.frames import Frame, FrameComponent
from vcm.video import VideoSource, frame_batches


@dataclass
class StageTimes:
    """Seconds spent in each stage's calls, and frames each stage finished, by stage name.

    Attributes:
        seconds: wall-clock seconds (``time.perf_counter``) inside the stage's
            ``process_batch`` and ``flush`` calls.
        frames: frames the stage handed on.
        calls: calls made to the stage.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def call(self, name: str, method: Callable[..., list[Frame]], *arguments) -> list[Frame]:
        """``method(*arguments)``, its seconds and the frames it returned added to ``name``."""
        start = time.perf_counter()
        finished = method(*arguments)
        self.add(name, time.perf_counter() - start, len(finished))
        return finished

    def add(self, name: str, seconds: float, frames: int = 0) -> None:
        """Count ``seconds`` and ``frames`` (one call) for the stage ``name``."""
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.frames[name] = self.frames.get(name, 0) + frames
        self.calls[name] = self.calls.get(name, 0) + 1

    def per_frame(self) -> dict[str, float]:
        """Mean seconds per finished frame of each stage (stages that finished none left out)."""
        return {name: self.seconds[name] / count for name, count in self.frames.items() if count}


def run_frames(
    frames: Iterable[Frame],
    stages: Sequence[FrameComponent],
    *,
    times: StageTimes | None = None,
) -> Iterator[Frame]:
    """The frames ``frames`` become after every stage of ``stages``, in order: the batch driver.

    Lazy: frames are read as the output is consumed, each stage holding at most its
    ``frames_per_batch`` frames (plus what it holds back itself). At the end of ``frames``
    each stage processes its last, shorter batch, then is flushed, and what it flushes goes
    on through the stages after it. Seconds go to ``times`` when given.
    """
    times = times if times is not None else StageTimes()
    stream: Iterator[Frame] = iter(frames)
    for stage in stages:
        stream = _through(stage, stream, times)
    return stream


def _through(stage: FrameComponent, upstream: Iterator[Frame],
             times: StageTimes) -> Iterator[Frame]:
    size = max(1, int(getattr(stage, "frames_per_batch", 1)))
    batch: list[Frame] = []
    for frame in upstream:
        batch.append(frame)
        if len(batch) == size:
            yield from times.call(stage.name, stage.process_batch, batch)
            batch = []
    if batch:
        yield from times.call(stage.name, stage.process_batch, batch)
    yield from times.call(stage.name, stage.flush)


class Pipeline:
    """The live driver: stages that take one frame at a time, for a stream with no end known.

    ``push(frame)`` runs the frame through every stage (each ``process``) and returns the
    frames the last stage finished (none while a stage holds frames back); ``finish()``
    flushes the stages in order. One ``Pipeline`` per stream: its stages hold the stream's
    state (tracks, held windows), so streams never share one.
    """

    def __init__(self, stages: Sequence[FrameComponent], *, times: StageTimes | None = None):
        self.stages = list(stages)
        self.times = times if times is not None else StageTimes()

    def push(self, frame: Frame) -> list[Frame]:
        """The frames finished by every stage once ``frame`` has gone in."""
        return self._onwards(0, [frame])

    def finish(self) -> list[Frame]:
        """At the end of the stream: every frame still held back, through the later stages."""
        finished: list[Frame] = []
        for index, stage in enumerate(self.stages):
            flushed = self.times.call(stage.name, stage.flush)
            finished.extend(self._onwards(index + 1, flushed))
        return finished

    def describe(self) -> list[dict]:
        return [stage.describe() for stage in self.stages]

    def close(self) -> None:
        """Close every stage (after :meth:`finish`, or when the stream is dropped)."""
        for stage in self.stages:
            stage.close()

    def _onwards(self, first: int, frames: list[Frame]) -> list[Frame]:
        for stage in self.stages[first:]:
            frames = [done for frame in frames
                      for done in self.times.call(stage.name, stage.process, frame)]
        return frames


def video_frames(
    source: VideoSource,
    detections: DetectionSequence | None = None,
    *,
    detections_label: str = "detections",
    description: str = "",
    progress: bool = True,
) -> Iterator[Frame]:
    """The frames of ``source``, read one at a time, each with its boxes of ``detections``
    (none without them); a progress bar (``description``) on stderr unless ``progress`` is
    false.

    ``detections`` must be for this video: same frame size and frame count, else
    :class:`VcmError` naming both (the detections as ``detections_label``, their file); so
    is a video that decodes more or fewer frames than it says it has, or a frame of another
    size.
    """
    info = source.info
    if detections is not None:
        detections.check_fits(info.width, info.height, info.frames,
                              label=detections_label, video=str(info.path))
    frame_number = 0
    with tqdm(total=info.frames, desc=description, unit="frame", file=sys.stderr,
              disable=not progress) as bar:
        for numbers, images in frame_batches(source, 1):
            frame_number = numbers[0]
            if detections is None:
                yield Frame(frame_number, images[0])
            elif frame_number > len(detections):
                raise VcmError(f"{info.path}: has more than the {len(detections)} frames of "
                               f"{detections_label}")
            else:
                yield Frame.of(images[0], detections.frames[frame_number - 1])
            bar.update(1)
    if detections is not None and frame_number != len(detections):
        raise VcmError(f"{info.path}: decoded {frame_number} frames but {detections_label} "
                       f"has {len(detections)}")


def detection_frames(detections: DetectionSequence) -> Iterator[Frame]:
    """The frames of ``detections`` with their boxes and no pixels (for tracking)."""
    for frame_detections in detections.frames:
        yield Frame.of(None, frame_detections)
