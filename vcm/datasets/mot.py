"""MOTChallenge sequence folders: ``seqinfo.ini``, ``img1/``, ``gt/gt.txt``, ``det/det.txt``."""

from __future__ import annotations

import configparser
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vcm.errors import VcmError

MAX_FRAMES = 1_000_000
"""Most frames a sequence may have, and the highest frame number a txt row may name (9 h at
30 frames/s; MOTChallenge, HiEve and PoseTrack sequences have a few thousand). Work and
memory grow with the frame count, so a row at frame 10^12 is refused, not obeyed."""

MAX_FRAME_SIDE = 65_536
"""Largest frame width or height in pixels (ffmpeg's own limit is about this)."""

MAX_FPS = 10_000.0
"""Highest frame rate accepted, in frames per second."""

MAX_COORDINATE = 1e6
"""Largest magnitude of a box coordinate, width or height in a txt row, in pixels: far past any
frame, small enough that box arithmetic (areas, IoU) stays exact in float64."""

MAX_ID = 2**31 - 1
"""Largest magnitude of a track id or class in a txt row (MOTChallenge tools use int32)."""


@dataclass(frozen=True)
class SequenceInfo:
    """The ``[Sequence]`` section of a MOTChallenge ``seqinfo.ini``.

    ``width``/``height`` are in pixels, ``fps`` in frames per second, ``length`` in frames.
    """

    root: Path
    name: str
    image_dir: str
    fps: float
    length: int
    width: int
    height: int
    image_ext: str

    def image_path(self, frame: int) -> Path:
        """Path of the 1-based ``frame``'s image (MOTChallenge names them 000001.jpg, ...)."""
        return self.root / self.image_dir / f"{frame:06d}{self.image_ext}"


def is_sequence_folder(path: Path) -> bool:
    return path.is_dir() and (path / "seqinfo.ini").is_file()


def read_seqinfo(root: str | Path) -> SequenceInfo:
    """Parse ``root/seqinfo.ini``; raise :class:`VcmError` naming the file on any problem."""
    root = Path(root)
    ini_path = root / "seqinfo.ini"
    if not ini_path.is_file():
        raise VcmError(f"{root}: not a MOTChallenge sequence folder (no seqinfo.ini)")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(read_text(ini_path), source=str(ini_path))
        section = parser["Sequence"]
        info = SequenceInfo(
            root=root,
            name=section.get("name", root.name),
            image_dir=section.get("imDir", "img1"),
            fps=float(section["frameRate"]),
            length=int(section["seqLength"]),
            width=int(section["imWidth"]),
            height=int(section["imHeight"]),
            image_ext=section.get("imExt", ".jpg"),
        )
    except (KeyError, ValueError, configparser.Error) as error:
        raise VcmError(f"{ini_path}: malformed seqinfo.ini ({error})") from None
    if not (math.isfinite(info.fps) and 0 < info.fps <= MAX_FPS):
        raise VcmError(f"{ini_path}: frameRate must be a number in (0, {MAX_FPS:g}], "
                       f"got {section['frameRate']!r}")
    if not 0 < info.length <= MAX_FRAMES:
        raise VcmError(f"{ini_path}: seqLength must be 1..{MAX_FRAMES}, got {info.length}")
    if not (0 < info.width <= MAX_FRAME_SIDE and 0 < info.height <= MAX_FRAME_SIDE):
        raise VcmError(f"{ini_path}: imWidth and imHeight must be 1..{MAX_FRAME_SIDE}, got "
                       f"{info.width}x{info.height}")
    for key, value in (("imDir", info.image_dir), ("imExt", info.image_ext)):
        # The image paths are built from these: they must stay inside the sequence folder.
        if "/" in value or "\\" in value or value in ("", ".", ".."):
            raise VcmError(f"{ini_path}: {key} must be a plain name, got {value!r}")
    return info


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path``; a missing file or other bytes raise :class:`VcmError`."""
    try:
        # utf-8-sig: a byte-order mark, as Windows editors write, is not part of the text.
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise VcmError(f"{path}: file does not exist") from None
    except UnicodeDecodeError as error:
        raise VcmError(f"{path}: not UTF-8 text (byte {error.start}: {error.reason})") from None


def text_lines(path: Path) -> list[str]:
    """The lines of the UTF-8 text file ``path`` (see :func:`read_text`), split where Python's
    text files split them (``\\n``, ``\\r\\n`` or ``\\r``), without line ends."""
    return re.split(r"\r\n|\r|\n", read_text(path))


def write_seqinfo(info: SequenceInfo, path: Path) -> None:
    """Write ``info`` as a ``seqinfo.ini`` file at ``path``."""
    fps = int(info.fps) if float(info.fps).is_integer() else info.fps
    path.write_text(
        "[Sequence]\n"
        f"name={info.name}\n"
        f"imDir={info.image_dir}\n"
        f"frameRate={fps}\n"
        f"seqLength={info.length}\n"
        f"imWidth={info.width}\n"
        f"imHeight={info.height}\n"
        f"imExt={info.image_ext}\n",
        encoding="utf-8",
    )


@dataclass(frozen=True)
class MotRows:
    """Rows of a MOTChallenge txt file (gt, det or tracker results), one array per column.

    ``frame`` is 1-based; ``boxes`` are ``x1, y1, x2, y2`` in pixels (converted from the file's
    ``x, y, w, h``); ``ids`` are -1 for detections; ``confidence`` is column 7 (for ground truth
    the 'consider' flag, 0 = ignore); ``classes`` is column 8 of the 9-column MOT16/17/20
    ground-truth layout (1 = pedestrian) and -1 otherwise (MOT15's column 8 is a world
    coordinate, not a class).
    """

    frame: np.ndarray
    ids: np.ndarray
    boxes: np.ndarray
    confidence: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)

    def at_frame(self, frame: int) -> "MotRows":
        keep = self.frame == frame
        return MotRows(
            self.frame[keep], self.ids[keep], self.boxes[keep], self.confidence[keep],
            self.classes[keep],
        )


def read_mot_txt(path: str | Path, *, num_frames: int | None = None) -> MotRows:
    """Read a MOTChallenge comma-separated txt file; malformed rows are errors naming the line.

    Every value must be a finite number; the frame a whole number in 1..``num_frames`` (the
    video's frame count when known, else :data:`MAX_FRAMES`); the id and (9-column layout)
    class whole numbers of magnitude at most :data:`MAX_ID`; ``x, y, w, h`` of magnitude at
    most :data:`MAX_COORDINATE` pixels. A missing or non-UTF-8 file is an error too.
    """
    path = Path(path)
    if not path.is_file():
        raise VcmError(f"{path}: file does not exist")
    last_frame = MAX_FRAMES if num_frames is None else num_frames
    frames, ids, boxes, confidence, classes = [], [], [], [], []
    for line_number, line in enumerate(text_lines(path), start=1):
        line = line.strip()
        if not line:
            continue
        fields = line.replace(" ", "").split(",")
        try:
            values = _row_values(fields, last_frame)
        except ValueError as error:
            raise VcmError(f"{path}:{line_number}: malformed row ({error})") from None
        frame = int(values[0])
        x, y, w, h = values[2:6]
        frames.append(frame)
        ids.append(int(values[1]))
        boxes.append((x, y, x + w, y + h))
        confidence.append(values[6] if len(values) > 6 else 1.0)
        classes.append(int(values[7]) if len(values) == 9 else -1)
    return MotRows(
        frame=np.asarray(frames, dtype=np.int64),
        ids=np.asarray(ids, dtype=np.int64),
        boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        confidence=np.asarray(confidence, dtype=np.float64),
        classes=np.asarray(classes, dtype=np.int64),
    )


def _row_values(fields: list[str], last_frame: int) -> list[float]:
    """The numbers of one txt row, checked (see :func:`read_mot_txt`); ``ValueError`` says why."""
    if len(fields) < 6:
        raise ValueError(f"expected at least 6 columns, got {len(fields)}")
    values = [float(field) for field in fields]
    if not all(math.isfinite(value) for value in values):
        raise ValueError("every value must be a finite number")
    frame = values[0]
    if not (frame.is_integer() and 1 <= frame <= last_frame):
        raise ValueError(f"frame must be a whole number in 1..{last_frame}, got {fields[0]}")
    whole = [(1, "id")] + ([(7, "class")] if len(values) == 9 else [])
    for column, name in whole:
        if not (values[column].is_integer() and abs(values[column]) <= MAX_ID):
            raise ValueError(f"{name} must be a whole number of magnitude at most {MAX_ID}, "
                             f"got {fields[column]}")
    if any(abs(value) > MAX_COORDINATE for value in values[2:6]):
        raise ValueError(f"x, y, w and h must be within +-{MAX_COORDINATE:g} pixels")
    return values
