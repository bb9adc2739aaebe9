"""MOTChallenge sequence folders: ``seqinfo.ini``, ``img1/``, ``gt/gt.txt``, ``det/det.txt``."""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vcm.errors import VcmError


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
    parser = configparser.ConfigParser()
    try:
        parser.read(ini_path, encoding="utf-8")
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
    if info.length <= 0 or info.width <= 0 or info.height <= 0 or info.fps <= 0:
        raise VcmError(f"{ini_path}: seqLength, imWidth, imHeight and frameRate must be positive")
    return info


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


def read_mot_txt(path: str | Path) -> MotRows:
    """Read a MOTChallenge comma-separated txt file; malformed rows are errors naming the line."""
    path = Path(path)
    if not path.is_file():
        raise VcmError(f"{path}: file does not exist")
    frames, ids, boxes, confidence, classes = [], [], [], [], []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            fields = line.replace(" ", "").split(",")
            try:
                if len(fields) < 6:
                    raise ValueError(f"expected at least 6 columns, got {len(fields)}")
                values = [float(field) for field in fields]
                if not all(np.isfinite(values[:6])):
                    raise ValueError("non-finite value")
                frame = int(values[0])
                if frame != values[0] or frame < 1:
                    raise ValueError(f"frame must be a positive integer, got {fields[0]}")
            except ValueError as error:
                raise VcmError(f"{path}:{line_number}: malformed row ({error})") from None
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
