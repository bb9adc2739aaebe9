"""The motion records file ``vcm motion`` writes: JSON lines, one per frame.

Each line is ``{"frame": N, "motion": [{"track": id, "label": "squat", "score": 0.8,
"reps": 3}, ...]}``: frames 1-based, in order, every frame of the tracks file and any other
frame with a pose; ``motion`` as :class:`vcm.motion.MotionStage` records it, one entry per
tracked person with a pose, by track id (``score``: the share of the k nearest gallery
windows that voted for the label; ``reps``: repetitions since the track began).
"""

from __future__ import annotations

import json
from pathlib import Path

from vcm.fileio import atomic_output


def write_motion_records(frames: list[tuple[int, list[dict]]], path: str | Path) -> None:
    """Write ``(frame, motion list)`` pairs as JSON lines at ``path``, atomically."""
    with atomic_output(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            for number, motion in frames:
                handle.write(json.dumps({"frame": number, "motion": motion},
                                        separators=(",", ":")) + "\n")


MAX_RECORDS_BYTES = 1 << 30
"""Largest motion records file read (a 1-hour 30 fps video of 10 people is ~80 MiB)."""


def read_motion_records(path: str | Path) -> dict[int, dict[int, dict]]:
    """The records file at ``path`` as ``{frame: {track: entry}}`` (what
    :func:`vcm.motion.evaluate.score_row` scores). A missing or oversized file, a line that is
    not a record (frames must grow, tracks be unique within a frame, ``label`` a string,
    ``score`` a number in [0, 1], ``reps`` a whole number >= 0) is a :class:`VcmError`
    naming ``path`` and the line."""
    from vcm.errors import VcmError
    from vcm.fileio import read_input_bytes

    path = Path(path)
    data = read_input_bytes(path, max_bytes=MAX_RECORDS_BYTES, what="motion records file")
    frames: dict[int, dict[int, dict]] = {}
    last = 0
    for line, text in enumerate(data.split(b"\n"), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
            number = record["frame"]
            if type(number) is not int or number <= last:
                raise ValueError(f"frame {number!r} does not follow frame {last}")
            entries = {}
            for entry in record["motion"]:
                track, label, score, reps = (entry["track"], entry["label"], entry["score"],
                                             entry["reps"])
                if type(track) is not int or track in entries:
                    raise ValueError(f"track {track!r} is not a new whole number")
                if not isinstance(label, str) or type(reps) is not int or reps < 0 \
                        or type(score) not in (int, float) or not 0 <= score <= 1:
                    raise ValueError(f"track {track}: not a label, a score in [0, 1] and reps")
                entries[track] = {"track": track, "label": label, "score": score, "reps": reps}
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            problem = f"missing {error}" if isinstance(error, KeyError) else str(error)
            raise VcmError(f"{path}:{line}: not a motion record ({problem})") from None
        frames[number] = entries
        last = number
    return frames
