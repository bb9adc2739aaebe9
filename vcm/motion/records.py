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
