"""Video input and lossless video output, as streams of BGR frames.

A ``VIDEO`` argument is a video file (mp4, avi, mkv, y4m, ... anything ffmpeg reads) or a
MOTChallenge-style sequence folder (``seqinfo.ini`` + ``img1/``). Frames are ``uint8`` arrays
of shape ``(height, width, 3)`` in BGR order (OpenCV's convention), yielded one at a time so
memory does not grow with the length of the video.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from vcm.datasets.mot import SequenceInfo, is_sequence_folder, read_seqinfo
from vcm.errors import VcmError
from vcm.ffmpeg import BITEXACT_MATROSKA, CommandResult, ffmpeg_executable, run_command

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoInfo:
    """Geometry and timing of a video: ``width``/``height`` in pixels, ``fps`` in frames/s."""

    path: Path
    width: int
    height: int
    fps: float
    frames: int

    @property
    def pixels(self) -> int:
        """Pixels in the whole video: width x height x frames (the BPP denominator)."""
        return self.width * self.height * self.frames


class VideoSource:
    """A readable video: ``info`` up front, frames by iteration (each pass re-reads the input)."""

    def __init__(self, info: VideoInfo, sequence: SequenceInfo | None = None) -> None:
        self.info = info
        self._sequence = sequence

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._sequence is not None:
            return self._iter_sequence(self._sequence)
        return self._iter_file()

    def __len__(self) -> int:
        return self.info.frames

    def _iter_sequence(self, sequence: SequenceInfo) -> Iterator[np.ndarray]:
        for frame_number in range(1, sequence.length + 1):
            image_path = sequence.image_path(frame_number)
            image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
            if image is None:
                raise VcmError(f"{image_path}: missing or unreadable image")
            if image.shape[:2] != (sequence.height, sequence.width):
                raise VcmError(
                    f"{image_path}: image is {image.shape[1]}x{image.shape[0]}, "
                    f"seqinfo.ini says {sequence.width}x{sequence.height}"
                )
            yield image

    def _iter_file(self) -> Iterator[np.ndarray]:
        import imageio_ffmpeg

        path = self.info.path
        # passthrough: each frame of the file once, as count_frames counts them; ffmpeg's
        # default for a raw pipe fills a constant rate, which duplicates frames of a rate that
        # the container's 1 ms timestamps cannot hold (a foreground of every 8th frame of a
        # 7 fps video is 0.875 fps).
        reader = imageio_ffmpeg.read_frames(
            str(path), pix_fmt="bgr24", output_params=["-map", "0:v:0", "-fps_mode", "passthrough"]
        )
        shape = (self.info.height, self.info.width, 3)
        count = 0
        try:
            next(reader)  # metadata, already read by open_video
            for buffer in reader:
                count += 1
                if count > self.info.frames:
                    break
                yield np.frombuffer(buffer, dtype=np.uint8).reshape(shape)
        except (OSError, RuntimeError) as error:
            raise VcmError(f"{path}: cannot decode video frame {count + 1} ({error})") from None
        finally:
            reader.close()
        if count != self.info.frames:
            # The file changed since it was opened, or decodes differently on a second pass.
            raise VcmError(
                f"{path}: decoded {count} frames but the video was opened with {self.info.frames}"
            )


def frame_batches(
    source: VideoSource, size: int
) -> Iterator[tuple[list[int], list[np.ndarray]]]:
    """The frames of ``source`` in lists of up to ``size`` consecutive frames, each with the
    list of their 1-based frame numbers. Frames are read as the batches are consumed; a frame
    whose size is not ``source.info``'s raises :class:`VcmError` naming the video and frame."""
    info = source.info
    numbers: list[int] = []
    frames: list[np.ndarray] = []
    for frame_number, frame in enumerate(source, start=1):
        if frame.shape[:2] != (info.height, info.width):
            raise VcmError(
                f"{info.path}: frame {frame_number} is {frame.shape[1]}x{frame.shape[0]}, "
                f"expected {info.width}x{info.height}"
            )
        numbers.append(frame_number)
        frames.append(frame)
        if len(frames) == size:
            yield numbers, frames
            numbers, frames = [], []
    if frames:
        yield numbers, frames


def open_video(path: str | Path) -> VideoSource:
    """Open a video file or MOTChallenge sequence folder; raise :class:`VcmError` if unusable."""
    path = Path(path)
    if not path.exists():
        raise VcmError(f"{path}: file does not exist")
    if path.is_dir():
        if not is_sequence_folder(path):
            raise VcmError(f"{path}: a folder must be a MOTChallenge sequence (with seqinfo.ini)")
        sequence = read_seqinfo(path)
        first = sequence.image_path(1)
        if not first.is_file():
            raise VcmError(f"{first}: first frame of the sequence is missing")
        info = VideoInfo(path, sequence.width, sequence.height, sequence.fps, sequence.length)
        return VideoSource(info, sequence)
    return VideoSource(_probe_file(path))


# A container's duration x frame rate may exceed the decodable frames by rounding and start
# offsets; more than this is a truncated or damaged file.
DECLARED_FRAMES_SLACK = 1


def declared_frames(duration: float, fps: float) -> int | None:
    """Frames a container declares: ``duration`` (s) x ``fps`` rounded, or ``None`` when it
    declares no usable duration."""
    if not (math.isfinite(duration) and math.isfinite(fps)) or duration <= 0 or fps <= 0:
        return None
    return round(duration * fps)


def count_frames(path: str | Path) -> int:
    """Frames that ffmpeg decodes from the video file ``path`` (decodes the whole file)."""
    import imageio_ffmpeg

    try:
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (OSError, RuntimeError) as error:
        message = str(error).strip().splitlines()
        reason = message[-1] if message else type(error).__name__
        raise VcmError(f"{path}: not a readable video ({reason})") from None
    return int(frames)


def _probe_file(path: Path) -> VideoInfo:
    import imageio_ffmpeg

    if path.stat().st_size == 0:
        raise VcmError(f"{path}: empty file, not a video")
    try:
        reader = imageio_ffmpeg.read_frames(str(path), output_params=["-map", "0:v:0"])
        meta = next(reader)
        reader.close()
    except (OSError, RuntimeError, StopIteration) as error:
        message = str(error).strip().splitlines()
        reason = message[-1] if message else type(error).__name__
        raise VcmError(f"{path}: not a readable video ({reason})") from None
    frames = count_frames(path)
    width, height = (int(value) for value in meta["size"])
    fps = float(meta.get("fps") or 0.0)
    if frames <= 0:
        raise VcmError(f"{path}: video has no frames")
    if not (math.isfinite(fps) and fps > 0):
        raise VcmError(f"{path}: video has no frame rate")
    declared = declared_frames(float(meta.get("duration") or 0.0), fps)
    if declared is not None and frames + DECLARED_FRAMES_SLACK < declared:
        raise VcmError(
            f"{path}: only {frames} frames decode but the container declares {declared} "
            f"({meta['duration']} s at {fps:g} fps); the file is truncated or damaged"
        )
    return VideoInfo(path, width, height, fps, frames)


def write_lossless_video(
    frames: Iterable[np.ndarray],
    path: Path,
    *,
    width: int,
    height: int,
    fps: float,
    log_path: Path | None = None,
) -> CommandResult:
    """Write BGR frames to ``path`` as FFV1 (lossless, RGB ``bgr0`` storage) in Matroska.

    The caller owns atomicity (see :func:`vcm.fileio.atomic_output`). FFV1 in RGB keeps every
    pixel exact, so the only loss on the way to the codec under test is the codec itself.
    """
    argv = [
        ffmpeg_executable(), "-hide_banner", "-nostdin", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps:g}",
        "-i", "-",
        "-c:v", "ffv1", "-level", "3", "-pix_fmt", "bgr0", "-g", "1", *BITEXACT_MATROSKA,
        "-f", "matroska", str(path),
    ]
    return run_command(
        argv, log_path=log_path, frames=_checked(frames, width, height, path),
        what=f"writing {path}",
    )


def _checked(frames: Iterable[np.ndarray], width: int, height: int, path: Path):
    count = 0
    for frame in frames:
        if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
            raise VcmError(
                f"{path}: frame {count + 1} has shape {frame.shape} {frame.dtype}, "
                f"expected ({height}, {width}, 3) uint8"
            )
        count += 1
        yield frame
    if count == 0:
        raise VcmError(f"{path}: no frames to write")
